// Deleting a consumer: the issuer ends the self-service user, and with it every one of its accounts.
import type { Database } from '../db/database';
import { AppError } from '../errors';
import type { OperationSubject, RequestContext } from '../operations/context';
import { done, recordOperation, refused } from '../operations/record';
import { liveAccountsOf, markDeleted } from './account-repository';
import { findConsumer, markConsumerDeleted } from './consumer-repository';
import { endLinks } from './link-repository';

/**
 * The most accounts one consumer delete deletes, all in its one transaction (each writes an operation and an event):
 * a consumer with more is refused, and its accounts can be deleted one by one first.
 */
export const MAX_ACCOUNTS_PER_CONSUMER_DELETE = 100;

export interface DeleteConsumerRequest {
  consumerId: string;
  reason: string | null;
  reasonCode: 'USER_DECISION' | 'ISSUER_DECISION';
}

/**
 * In one transaction: the consumer is ended, every live account of it (linked or delinked, the main one included)
 * becomes DELETED, and every link of it ends. One DELETE operation (and `account.deleted` event) per account it
 * deleted, then the request's own DELETE_CONSUMER operation (and `consumer.deleted` event). Afterwards the consumer is
 * unknown, and registering its id again creates a new consumer, whose first account is its main account.
 */
export async function deleteConsumer(
  db: Database,
  ctx: RequestContext,
  request: DeleteConsumerRequest,
): Promise<{ operationId: string }> {
  const { consumerId, reason, reasonCode } = request;
  const subject = { operation: 'DELETE_CONSUMER' as const, consumerId, accountNumber: null, reason, reasonCode };
  const { operationId } = await recordOperation(db, ctx, subject, async (manager) => {
    const consumer = await findConsumer(manager, ctx.issuerId, consumerId);
    if (consumer === undefined) return refused(new AppError('CONSUMER_NOT_FOUND'));
    const now = new Date();
    // The conditional UPDATE decides between concurrent deletes, and locks the consumer before its accounts are read.
    if (!(await markConsumerDeleted(manager, consumer.id, now))) return refused(new AppError('CONSUMER_NOT_FOUND'));
    const accounts = await liveAccountsOf(manager, consumer.id);
    // Thrown, not refused: the consumer was ended above, and the whole transaction must roll back.
    if (accounts.length > MAX_ACCOUNTS_PER_CONSUMER_DELETE) throw new AppError('CONSUMER_TOO_MANY_ACCOUNTS');
    await markDeleted(
      manager,
      accounts.map((account) => account.accountId),
      now,
    );
    await endLinks(manager, consumer.id, now);
    const deleted = accounts.map((account): OperationSubject => ({
      operation: 'DELETE',
      consumerId: consumer.consumerId,
      accountNumber: account.accountNumber,
      reason,
      reasonCode,
      isMainAccount: account.isMain,
    }));
    return done(undefined, {}, deleted);
  });
  return { operationId };
}
