// Events are kept EVENT_RETENTION_DAYS, then purged with their deliveries and attempts, like Idempotency-Keys.
import type { Logger } from 'pino';
import type { Database } from '../db/database';
import { purgeInBatches, schedulePurgeJob } from '../jobs/purge';
import { purgeEventBatch } from './outbox-repository';

/** Deletes the events older than `retentionMs`, in bounded batches; returns how many. */
export function purgeEvents(database: Database, retentionMs: number, now = new Date()): Promise<number> {
  return purgeInBatches(database, new Date(now.getTime() - retentionMs), purgeEventBatch);
}

export function scheduleEventPurge(
  database: Database,
  options: { retentionMs: number; intervalMs: number },
  logger: Logger,
): () => Promise<void> {
  return schedulePurgeJob(
    () => purgeEvents(database, options.retentionMs),
    { intervalMs: options.intervalMs, what: 'expired events' },
    logger,
  );
}
