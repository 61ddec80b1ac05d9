// DeLinkAccount: a consumer removes an account from their links. The main account is never delinked.
import type { Database } from '../db/database';
import { AppError, type ErrorName } from '../errors';
import type { RequestContext } from '../operations/context';
import { done, recordOperation, refused } from '../operations/record';
import { boundElsewhere } from './identifiers';
import { delinkSecondary, linkState, type LinkState } from './link-repository';

export interface DelinkRequest {
  consumerId: string;
  accountNumber: string;
  /** Set when the token may act for this one consumer only. */
  boundConsumerId?: string;
}

const REFUSAL: Record<LinkState, ErrorName> = {
  'no-consumer': 'USER_NOT_FOUND',
  'not-linked': 'ACCOUNT_NOT_LINKED',
  main: 'MAIN_ACCOUNT',
  delinked: 'ACCOUNT_ALREADY_DELINKED',
};

/** What the event says of the account: the link's own flag where there is a link. */
const IS_MAIN: Record<LinkState, boolean | null> = {
  'no-consumer': null,
  'not-linked': null,
  main: true,
  delinked: false,
};

/**
 * The conditional delink decides alone, atomically under any concurrency: it changes only a linked secondary link.
 * When it changed nothing, the link's state says why.
 */
export async function delinkAccount(db: Database, ctx: RequestContext, request: DelinkRequest): Promise<void> {
  const link = { issuerId: ctx.issuerId, consumerId: request.consumerId, accountNumber: request.accountNumber };
  const subject = { operation: 'DELINK' as const, consumerId: link.consumerId, accountNumber: link.accountNumber };
  await recordOperation(db, ctx, subject, async (manager) => {
    if (boundElsewhere(request.boundConsumerId, link.consumerId)) return refused(new AppError('USER_NOT_ALLOWED'));
    if (await delinkSecondary(manager, link, new Date())) return done(undefined, { isMainAccount: false });
    const state = await linkState(manager, link);
    return refused(new AppError(REFUSAL[state]), { isMainAccount: IS_MAIN[state] });
  });
}
