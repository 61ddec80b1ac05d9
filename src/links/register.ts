// Registering an account for a consumer, through which the issuer's backend creates the links.
import type { Database } from '../db/database';
import { AppError } from '../errors';
import type { RequestContext } from '../operations/context';
import { done, recordOperation, refused } from '../operations/record';
import { findRegistration, insertAccount, updateAccount } from './account-repository';
import { findConsumer, insertConsumer } from './consumer-repository';
import { consumerKey } from './identifiers';
import { insertLink, relink } from './link-repository';

export interface RegisterRequest {
  accountNumber: string;
  consumerId: string;
  productId: string | null;
  state: 'ACTIVE' | 'INACTIVE';
}

/**
 * The consumer's first account creates the consumer and is its main account. Repeating it for the same consumer
 * updates state and product and re-links a delinked account; an account of another consumer is refused. Racing first
 * registrations are settled by the unique keys: the loser runs again and finds what the winner wrote.
 */
export async function registerAccount(db: Database, ctx: RequestContext, request: RegisterRequest): Promise<void> {
  const { accountNumber, consumerId } = request;
  const subject = { operation: 'REGISTER' as const, consumerId, accountNumber };
  const account = { issuerId: ctx.issuerId, accountNumber, productId: request.productId, state: request.state };
  await recordOperation(
    db,
    ctx,
    subject,
    async (manager) => {
      const now = new Date();
      const existing = await findRegistration(manager, ctx.issuerId, accountNumber);
      if (existing !== undefined) {
        if (existing.consumerKey !== consumerKey(consumerId)) return refused(new AppError('ACCOUNT_OF_OTHER_CONSUMER'));
        await updateAccount(manager, existing.accountId, account, now);
        const relinked = await relink(manager, existing.linkId, now);
        return done(undefined, { isMainAccount: existing.isMain, relinked });
      }
      const consumer = await findConsumer(manager, ctx.issuerId, consumerId);
      const consumerRowId = consumer?.id ?? (await insertConsumer(manager, ctx.issuerId, consumerId, now));
      const accountId = await insertAccount(manager, account, now);
      const isMain = consumer === undefined;
      await insertLink(manager, { accountId, consumerId: consumerRowId, isMain }, now);
      return done(undefined, { isMainAccount: isMain });
    },
    { retryOnDuplicateKey: true },
  );
}
