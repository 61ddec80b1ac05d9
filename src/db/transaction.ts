// Runs database work: whole transactions retried on deadlocks, and on SQLite one unit of work at a time.
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource, EntityManager } from 'typeorm';
import { isSqlite } from './data-source';

const MAX_ATTEMPTS = 4;

/** MySQL deadlock (1213) and lock wait timeout (1205) roll back the transaction: the whole unit may run again. */
const RETRYABLE_MYSQL_ERRNOS = new Set([1213, 1205]);
const DUPLICATE_KEY_ERRNO = 1062;

function errno(error: unknown): number | undefined {
  const e = error as { errno?: unknown; driverError?: { errno?: unknown } };
  const value = e?.driverError?.errno ?? e?.errno;
  return typeof value === 'number' ? value : undefined;
}

export function isDuplicateKey(error: unknown): boolean {
  const e = error as { code?: unknown; driverError?: { code?: unknown } };
  const code = e?.driverError?.code ?? e?.code;
  return errno(error) === DUPLICATE_KEY_ERRNO || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function isSqliteBusy(error: unknown): boolean {
  const e = error as { code?: unknown; driverError?: { code?: unknown } };
  const code = e?.driverError?.code ?? e?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

// TypeORM's SQLite drivers share one connection: two interleaved transactions would corrupt each other,
// so every unit of work on a SQLite data source waits for the one before it.
const sqliteQueues = new WeakMap<DataSource, Promise<unknown>>();

function exclusive<T>(dataSource: DataSource, work: () => Promise<T>): Promise<T> {
  const previous = sqliteQueues.get(dataSource) ?? Promise.resolve();
  const run = previous.then(work, work);
  sqliteQueues.set(
    dataSource,
    run.catch(() => undefined),
  );
  return run;
}

export interface TransactionOptions {
  /** Also retry when a unique key was taken by a concurrent transaction (insert-if-absent races). */
  retryOnDuplicateKey?: boolean;
}

/** Runs `work` in one transaction; `work` must use only the manager it is handed. */
export async function inTransaction<T>(
  dataSource: DataSource,
  work: (manager: EntityManager) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      if (isSqlite(dataSource)) return await exclusive(dataSource, () => dataSource.transaction(work));
      return await dataSource.transaction(work);
    } catch (error) {
      const retryable =
        RETRYABLE_MYSQL_ERRNOS.has(errno(error) ?? 0) || isSqliteBusy(error) || (options.retryOnDuplicateKey === true && isDuplicateKey(error));
      if (!retryable || attempt >= MAX_ATTEMPTS) throw error;
      // Jittered backoff so that the transactions that collided do not collide again.
      await sleep(5 * attempt + Math.floor(Math.random() * 10 * attempt));
    }
  }
}

/** Runs read-only work; on SQLite it waits its turn so that it never sees another unit's uncommitted rows. */
export function read<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  if (isSqlite(dataSource)) return exclusive(dataSource, () => work(dataSource.manager));
  return work(dataSource.manager);
}
