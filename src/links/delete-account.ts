// Deleting an account: the issuer closes it for good.
import type { Database } from '../db/database';
import { StaleRead } from '../db/database';
import { AppError } from '../errors';
import type { RequestContext } from '../operations/context';
import { done, recordOperation, refused } from '../operations/record';
import { findLastDeleted, findRegistration, lockLiveAccount, markDeleted } from './account-repository';
import { unlinkSecondary } from './link-repository';

export interface DeleteRequest {
  accountNumber: string;
  reason: string | null;
  reasonCode: 'USER_DECISION' | 'ISSUER_DECISION';
}

/**
 * The live account with this number becomes DELETED, and its number free to be registered again; a secondary account
 * is unlinked, the main account stays linked. A number whose account is DELETED already is deleted again: it answers
 * as the first delete did, changes nothing, and tells no one (its operation is recorded; the first delete's event
 * said it).
 */
export async function deleteAccount(
  db: Database,
  ctx: RequestContext,
  request: DeleteRequest,
): Promise<{ operationId: string }> {
  const { accountNumber, reason, reasonCode } = request;
  const subject = { operation: 'DELETE' as const, consumerId: null, accountNumber, reason, reasonCode };
  const { operationId } = await recordOperation(db, ctx, subject, async (manager) => {
    const found = await findRegistration(manager, ctx.issuerId, accountNumber);
    if (found === undefined) {
      const deleted = await findLastDeleted(manager, ctx.issuerId, accountNumber);
      if (deleted === undefined) return refused(new AppError('ACCOUNT_NOT_FOUND'));
      return done(undefined, { consumerId: deleted.consumerId, isMainAccount: deleted.isMain, repeated: true });
    }
    // Stryker disable next-line StringLiteral: a StaleRead is retried; its message reaches neither answer nor log.
    if (!(await lockLiveAccount(manager, found.accountId))) throw new StaleRead('the account was deleted');
    const now = new Date();
    await markDeleted(manager, [found.accountId], now);
    await unlinkSecondary(manager, found.linkId, now);
    return done(undefined, { consumerId: found.consumerId, isMainAccount: found.isMain });
  });
  return { operationId };
}
