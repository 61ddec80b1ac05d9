// Runs database work: a bounded wait for a connection, a bounded time per unit of work, whole transactions retried
// on deadlocks, and on SQLite one unit of work at a time.
import { setTimeout as sleep } from 'node:timers/promises';
import { E_TIMEOUT, Semaphore, type SemaphoreInterface, withTimeout } from 'async-mutex';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { DEFAULT_DATABASE_TIMEOUTS, type DatabaseTimeouts } from './options';
import { AppError } from '../errors';

const MAX_ATTEMPTS = 4;
/** Seconds a client is told to wait after a 503 from the database. */
export const RETRY_AFTER_SECONDS = 2;

/** MySQL deadlock (1213) and lock wait timeout (1205) roll back the transaction: the whole unit may run again. */
const RETRYABLE_MYSQL_ERRNOS = new Set([1213, 1205]);
const DUPLICATE_KEY_ERRNO = 1062;

function driverProperty(error: unknown, name: 'errno' | 'code'): unknown {
  const e = error as Record<string, unknown> & { driverError?: Record<string, unknown> };
  return e?.driverError?.[name] ?? e?.[name];
}

export function isDuplicateKey(error: unknown): boolean {
  return (
    driverProperty(error, 'errno') === DUPLICATE_KEY_ERRNO ||
    driverProperty(error, 'code') === 'SQLITE_CONSTRAINT_UNIQUE'
  );
}

function isRetryable(error: unknown, retryOnDuplicateKey: boolean): boolean {
  const code = driverProperty(error, 'code');
  return (
    RETRYABLE_MYSQL_ERRNOS.has(driverProperty(error, 'errno') as number) ||
    code === 'SQLITE_BUSY' ||
    code === 'SQLITE_LOCKED' ||
    (retryOnDuplicateKey && isDuplicateKey(error))
  );
}

const unavailable = (message: string, cause?: unknown): AppError =>
  new AppError('SERVICE_UNAVAILABLE', { message, retryAfter: RETRY_AFTER_SECONDS, cause });

interface Limits extends DatabaseTimeouts {
  gate: SemaphoreInterface;
  sqlite: boolean;
  /** Units holding a place at the gate, and units waiting for one (for the metrics). */
  active: number;
  waiting: number;
}

const limitsBySource = new WeakMap<DataSource, Limits>();

/**
 * Sets the data source's limits. On MySQL at most `concurrency` units run at once (the pool's size, so that no unit
 * ever queues inside mysql2, which would wait forever); on SQLite, TypeORM shares one connection, so one at a time.
 */
export function limitDataSource(
  dataSource: DataSource,
  concurrency: number,
  timeouts: Partial<DatabaseTimeouts> = {},
): void {
  const { acquireTimeoutMs, queryTimeoutMs } = { ...DEFAULT_DATABASE_TIMEOUTS, ...timeouts };
  const sqlite = dataSource.options.type === 'better-sqlite3';
  const gate = withTimeout(new Semaphore(sqlite ? 1 : concurrency), acquireTimeoutMs);
  limitsBySource.set(dataSource, { gate, sqlite, acquireTimeoutMs, queryTimeoutMs, active: 0, waiting: 0 });
}

function limitsOf(dataSource: DataSource): Limits {
  const limits = limitsBySource.get(dataSource);
  if (limits === undefined) throw new Error('data source created without limits: use createDataSource()');
  return limits;
}

/** Holds one place at the gate while `work` runs; a wait longer than the acquire timeout is a 503. */
async function gated<T>(limits: Limits, work: () => Promise<T>): Promise<T> {
  let release: () => void;
  limits.waiting += 1;
  try {
    [, release] = await limits.gate.acquire();
  } catch (error) {
    if (error === E_TIMEOUT)
      throw unavailable(`No database connection became free within ${limits.acquireTimeoutMs} ms.`);
    throw error;
  } finally {
    limits.waiting -= 1;
  }
  limits.active += 1;
  try {
    return await work();
  } finally {
    limits.active -= 1;
    release();
  }
}

/** How many units of database work hold a place now, and how many wait for one. */
export function databaseLoad(dataSource: DataSource): { active: number; waiting: number } {
  const limits = limitsBySource.get(dataSource);
  return { active: limits?.active ?? 0, waiting: limits?.waiting ?? 0 };
}

/**
 * Runs `work` on a connection of its own, for at most the query timeout. Past it the request gets its 503 at once,
 * whatever the driver is waiting for, and the connection's socket is closed: the server then rolls back whatever
 * was open, so a unit that answered 503 can never commit later. `expired` tells `work` that its connection is
 * gone, so that it sends nothing more.
 */
async function onOwnConnection<T>(
  dataSource: DataSource,
  limits: Limits,
  work: (runner: QueryRunner, expired: () => boolean) => Promise<T>,
): Promise<T> {
  const runner = dataSource.createQueryRunner();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      closeConnection(runner);
      reject(unavailable(`The database did not answer within ${limits.queryTimeoutMs} ms.`));
    }, limits.queryTimeoutMs);
  });
  const unit = (async () => {
    await runner.connect();
    if (timedOut) closeConnection(runner);
    return work(runner, () => timedOut);
  })();
  try {
    return await Promise.race([unit, deadline]);
  } catch (error) {
    if (timedOut) throw unavailable(`The database did not answer within ${limits.queryTimeoutMs} ms.`, error);
    throw error;
  } finally {
    clearTimeout(timer);
    // An abandoned unit settles later against a closed connection; its outcome no longer matters.
    unit.catch(() => undefined);
    if (!timedOut) await runner.release();
  }
}

/** Closes the socket outright (mysql2's destroy() only half-closes it, which a dead network path never answers). */
function closeConnection(runner: QueryRunner): void {
  const connection = (
    runner as QueryRunner & { databaseConnection?: { destroy?: () => void; stream?: { destroy?: () => void } } }
  ).databaseConnection;
  connection?.destroy?.();
  connection?.stream?.destroy?.();
}

async function transactionOnce<T>(
  dataSource: DataSource,
  limits: Limits,
  work: (manager: EntityManager) => Promise<T>,
): Promise<T> {
  // better-sqlite3 is synchronous: a unit cannot hang mid-way, and TypeORM's own transaction is enough.
  if (limits.sqlite) return dataSource.transaction(work);
  return onOwnConnection(dataSource, limits, async (runner, expired) => {
    await runner.startTransaction();
    try {
      const result = await work(runner.manager);
      await runner.commitTransaction();
      return result;
    } catch (error) {
      if (runner.isTransactionActive && !expired()) await runner.rollbackTransaction();
      throw error;
    }
  });
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
  const limits = limitsOf(dataSource);
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await gated(limits, () => transactionOnce(dataSource, limits, work));
    } catch (error) {
      if (!isRetryable(error, options.retryOnDuplicateKey === true) || attempt >= MAX_ATTEMPTS) throw error;
      // Jittered backoff so that the transactions that collided do not collide again.
      await sleep(5 * attempt + Math.floor(Math.random() * 10 * attempt));
    }
  }
}

/** Runs read-only work on one connection, bounded like a transaction; on SQLite it waits its turn. */
export function read<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  const limits = limitsOf(dataSource);
  if (limits.sqlite) return gated(limits, () => work(dataSource.manager));
  return gated(limits, () => onOwnConnection(dataSource, limits, (runner) => work(runner.manager)));
}
