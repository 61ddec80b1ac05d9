// Retention purges (expired Idempotency-Keys, old events): deleted in bounded batches, so that a purge never holds
// long locks, and run periodically by every instance, where concurrent purges are harmless.
import type { Logger } from 'pino';
import type { EntityManager } from 'typeorm';
import type { Database } from '../db/database';

/** At most this many rows are deleted per transaction. */
export const PURGE_BATCH_SIZE = 500;

/** Runs `deleteBatch` (rows older than `cutoff`, at most `limit`) in transactions until one deletes fewer. */
export async function purgeInBatches(
  database: Database,
  cutoff: Date,
  deleteBatch: (manager: EntityManager, cutoff: Date, limit: number) => Promise<number>,
): Promise<number> {
  let purged = 0;
  for (;;) {
    const deleted = await database.transaction((manager) => deleteBatch(manager, cutoff, PURGE_BATCH_SIZE));
    purged += deleted;
    if (deleted < PURGE_BATCH_SIZE) return purged;
  }
}

/**
 * Runs `purge` every `intervalMs`, one run at a time; a failed run is logged and the next one tries again. `what`
 * names the rows in the log. Returns the function that stops it, once the run under way has ended.
 */
export function schedulePurgeJob(
  purge: () => Promise<number>,
  options: { intervalMs: number; what: string },
  logger: Logger,
): () => Promise<void> {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running !== undefined) return;
    running = purge()
      .then((purged) => {
        if (purged > 0) logger.info({ purged }, `${options.what} purged`);
      })
      .catch((error: unknown) => logger.warn({ err: error }, `purging ${options.what} failed`))
      .finally(() => {
        running = undefined;
      });
  }, options.intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
