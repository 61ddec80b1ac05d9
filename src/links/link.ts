// LinkMultipleAccounts: a consumer links again an account the issuer registered for them. It never creates an
// account or a link, and never changes which account is main.
import type { Database } from '../db/database';
import { AppError, type ErrorName } from '../errors';
import type { RequestContext } from '../operations/context';
import { done, recordOperation, refused } from '../operations/record';
import { boundElsewhere } from './identifiers';
import { type Linkability, linkability, linkDelinked } from './link-repository';

export interface LinkRequest {
  consumerId: string;
  accountNumber: string;
  /** Set when the token may act for this one consumer only. */
  boundConsumerId?: string;
}

const REFUSAL: Record<Linkability, ErrorName> = {
  'no-consumer': 'USER_NOT_FOUND',
  'not-theirs': 'ACCOUNT_NOT_LINKABLE',
  linked: 'ACCOUNT_ALREADY_LINKED',
  'linked-main': 'ACCOUNT_ALREADY_LINKED',
  closed: 'ACCOUNT_DELETED',
};

/** What the event says of the account: the link's own flag where the account is this consumer's. */
const IS_MAIN: Record<Linkability, boolean | null> = {
  'no-consumer': null,
  'not-theirs': null,
  linked: false,
  'linked-main': true,
  closed: false,
};

/**
 * The conditional link decides alone, atomically under any concurrency: it changes only a delinked link of an open
 * account registered for this consumer. When it changed nothing, a read says why. The account linked again is never
 * the main one: the main account is never delinked.
 */
export async function linkAccount(db: Database, ctx: RequestContext, request: LinkRequest): Promise<void> {
  const link = { issuerId: ctx.issuerId, consumerId: request.consumerId, accountNumber: request.accountNumber };
  const subject = { operation: 'LINK' as const, consumerId: link.consumerId, accountNumber: link.accountNumber };
  await recordOperation(db, ctx, subject, async (manager) => {
    if (boundElsewhere(request.boundConsumerId, link.consumerId)) return refused(new AppError('USER_NOT_ALLOWED'));
    if (await linkDelinked(manager, link, new Date())) return done(undefined, { isMainAccount: false });
    const state = await linkability(manager, link);
    return refused(new AppError(REFUSAL[state]), { isMainAccount: IS_MAIN[state] });
  });
}
