// Registering an account for a consumer, through which the issuer's backend creates the links.
import type { Database } from '../db/database';
import { StaleRead } from '../db/database';
import { AppError } from '../errors';
import type { RequestContext } from '../operations/context';
import { done, recordOperation, refused } from '../operations/record';
import { findRegistration, insertAccount, lockLiveAccount, updateAccount } from './account-repository';
import { findConsumer, insertConsumer, lockLiveConsumer } from './consumer-repository';
import { consumerKey } from './identifiers';
import { type RegisterState, transitionRefusal } from './lifecycle';
import { insertLink, relink } from './link-repository';

export interface RegisterRequest {
  accountNumber: string;
  consumerId: string;
  productId: string | null;
  state: RegisterState;
}

/**
 * The consumer's first account creates the consumer and is its main account. Repeating it for the same consumer
 * updates state and product and re-links a delinked account; an account of another consumer is refused, and so is
 * re-opening a CLOSED account. A DELETED account's number is registered as a new account, for any consumer. Racing
 * first registrations are settled by the unique keys: the loser runs again and finds what the winner wrote. A row
 * found by a plain read is locked before it is built upon; when a delete ended it meanwhile, the whole unit runs again
 * and sees the delete.
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
        // Stryker disable next-line StringLiteral: a StaleRead is retried; its message reaches neither answer nor log.
        if (!(await lockLiveAccount(manager, existing.accountId))) throw new StaleRead('the account was deleted');
        const refusal = transitionRefusal(existing.state, request.state);
        if (refusal !== undefined) return refused(new AppError(refusal));
        await updateAccount(manager, existing.accountId, account, now);
        const relinked = await relink(manager, existing.linkId, now);
        return done(undefined, { isMainAccount: existing.isMain, relinked });
      }
      const consumer = await findConsumer(manager, ctx.issuerId, consumerId);
      if (consumer !== undefined && !(await lockLiveConsumer(manager, consumer.id))) {
        // Stryker disable next-line StringLiteral: a StaleRead is retried; its message reaches neither answer nor log.
        throw new StaleRead('the consumer was deleted');
      }
      const consumerRowId = consumer?.id ?? (await insertConsumer(manager, ctx.issuerId, consumerId, now));
      const accountId = await insertAccount(manager, account, now);
      const isMain = consumer === undefined;
      await insertLink(manager, { accountId, consumerId: consumerRowId, isMain }, now);
      return done(undefined, { isMainAccount: isMain });
    },
    { retryOnDuplicateKey: true },
  );
}
