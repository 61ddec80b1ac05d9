// Operations are kept OPERATION_RETENTION_DAYS, then purged by the service itself in bounded batches; each purge of an
// issuer's operations is an operation of its own in that issuer's audit trail.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Database } from '../db/database';
import { PURGE_BATCH_SIZE, schedulePurgeJob } from '../jobs/purge';
import type { RequestContext } from './context';
import { deleteOperationsBefore, issuersWithOperationsBefore, updatePurgeRecord } from './operation-repository';
import { done, recordOperation } from './record';

/** Who a purge's operation names as its requestor. */
export const PURGE_REQUESTOR = 'corecredit-account-links';

/** What a PURGE operation records in its reason (at most 64 characters: the column's width). */
export const purgeReason = (removed: number, cutoff: Date): string =>
  `removed ${removed} operations before ${cutoff.toISOString()}`;

/**
 * Deletes the issuer's operations that started before `cutoff`, at most `batchSize` per transaction. The first
 * batch commits with the PURGE operation that records it; each further batch updates that record's count in its own
 * transaction. A deleted operation is thus never unaccounted for, even when the purge stops half-way.
 */
async function purgeIssuer(
  database: Database,
  issuerId: string,
  cutoff: Date,
  batchSize: number,
  correlationId: string,
): Promise<number> {
  const ctx: RequestContext = { issuerId, requestorType: 'SYSTEM', requestorId: PURGE_REQUESTOR, correlationId };
  let removed = 0;
  const { operationId } = await recordOperation(
    database,
    ctx,
    { operation: 'PURGE', consumerId: null, accountNumber: null },
    async (manager) => {
      removed = await deleteOperationsBefore(manager, issuerId, cutoff, batchSize);
      return done(undefined, { reason: purgeReason(removed, cutoff) });
    },
  );
  let deleted = removed;
  while (deleted === batchSize) {
    deleted = await database.transaction(async (manager) => {
      const count = await deleteOperationsBefore(manager, issuerId, cutoff, batchSize);
      // Also when it found nothing more: the record's end time is then the end of the purge.
      await updatePurgeRecord(manager, operationId, purgeReason(removed + count, cutoff), new Date());
      return count;
    });
    removed += deleted;
  }
  return removed;
}

/**
 * Deletes every operation that started more than `retentionMs` before `now`, issuer by issuer; returns how many.
 * One PURGE operation per issuer that had some to remove: never one for a run that found nothing.
 */
export async function purgeOperations(
  database: Database,
  retentionMs: number,
  options: { now?: Date; batchSize?: number } = {},
): Promise<number> {
  const cutoff = new Date((options.now ?? new Date()).getTime() - retentionMs);
  const issuers = await database.read((manager) => issuersWithOperationsBefore(manager, cutoff));
  // One correlation id per run, on each of its operations: the run is traced as one request would be.
  const correlationId = `purge-${randomUUID()}`;
  let purged = 0;
  for (const issuerId of issuers)
    purged += await purgeIssuer(database, issuerId, cutoff, options.batchSize ?? PURGE_BATCH_SIZE, correlationId);
  return purged;
}

export function scheduleOperationPurge(
  database: Database,
  options: { retentionMs: number; intervalMs: number },
  logger: Logger,
): () => Promise<void> {
  return schedulePurgeJob(
    () => purgeOperations(database, options.retentionMs),
    { intervalMs: options.intervalMs, what: 'expired operations' },
    logger,
  );
}
