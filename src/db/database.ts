// The database as the service uses it: one object that owns the DataSource, the gate, the deadlines and the retries.
import type { DataSource, EntityManager } from 'typeorm';
import { AppError } from '../errors';
import { buildDataSource } from './data-source';
import { withDeadline } from './deadline';
import { isConflict, isDuplicateKey, isUnavailable } from './driver-errors';
import { Gate } from './gate';
import { type MigrationLockOptions, withMigrationLock } from './migration-lock';
import { DEFAULT_DATABASE_TIMEOUTS, type DatabaseOptions } from './options';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, withRetries } from './retry';
import { unavailable } from './unavailable';

export interface TransactionOptions {
  /** Also retry when a unique key was taken by a concurrent transaction (insert-if-absent races). */
  retryOnDuplicateKey?: boolean;
}

export interface DatabaseLoad {
  /** Units of work holding a place at the gate, and units waiting for one. */
  active: number;
  waiting: number;
}

export interface Database {
  readonly kind: DatabaseOptions['kind'];
  /** For what TypeORM itself does (migrations, schema checks) and for tests that read rows. */
  readonly dataSource: DataSource;
  initialize(): Promise<void>;
  /**
   * Applies pending migrations under the migration lock, so that instances starting together migrate one at a time
   * (the others wait, then find nothing to do); returns the names of those this instance applied.
   */
  migrate(options?: MigrationLockOptions): Promise<string[]>;
  /** Runs `work` in one transaction; `work` must use only the manager it is handed. */
  transaction<T>(work: (manager: EntityManager) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Runs read-only work on one connection, bounded like a transaction. */
  read<T>(work: (manager: EntityManager) => Promise<T>): Promise<T>;
  load(): DatabaseLoad;
  close(): Promise<void>;
}

/**
 * What leaves the database layer is an AppError (503 when the database is away, too slow, or kept colliding) or a
 * fault of the code: no caller has to classify driver errors.
 */
function asUnavailable(error: unknown): unknown {
  return !(error instanceof AppError) && isUnavailable(error) ? unavailable(undefined, error) : error;
}

class SqlDatabase implements Database {
  readonly kind: DatabaseOptions['kind'];
  readonly dataSource: DataSource;
  private readonly gate: Gate;
  private readonly queryTimeoutMs: number;

  constructor(
    options: DatabaseOptions,
    private readonly retry: RetryPolicy = DEFAULT_RETRY_POLICY,
  ) {
    const { acquireTimeoutMs, queryTimeoutMs } = { ...DEFAULT_DATABASE_TIMEOUTS, ...options };
    this.kind = options.kind;
    this.dataSource = buildDataSource(options, queryTimeoutMs);
    this.queryTimeoutMs = queryTimeoutMs;
    this.gate = new Gate(options.kind === 'mysql' ? options.poolSize : 1, acquireTimeoutMs);
  }

  async initialize(): Promise<void> {
    await this.dataSource.initialize();
  }

  async migrate(options: MigrationLockOptions = {}): Promise<string[]> {
    const applied = await withMigrationLock(this.dataSource, this.queryTimeoutMs, options, () =>
      this.dataSource.runMigrations({ transaction: 'each' }),
    );
    return applied.map((migration) => migration.name);
  }

  async transaction<T>(work: (manager: EntityManager) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const retryable = (error: unknown) =>
      isConflict(error) || (options.retryOnDuplicateKey === true && isDuplicateKey(error));
    try {
      return await withRetries(this.retry, retryable, () => this.gate.run(() => this.transactionOnce(work)));
    } catch (error) {
      throw asUnavailable(error);
    }
  }

  async read<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    try {
      // better-sqlite3 is synchronous: a unit cannot hang mid-way, and its one connection needs no deadline.
      if (this.kind === 'sqlite') return await this.gate.run(() => work(this.dataSource.manager));
      return await this.gate.run(() =>
        withDeadline(this.dataSource, this.queryTimeoutMs, (runner) => work(runner.manager)),
      );
    } catch (error) {
      throw asUnavailable(error);
    }
  }

  load(): DatabaseLoad {
    return { active: this.gate.active, waiting: this.gate.waiting };
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }

  private transactionOnce<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (this.kind === 'sqlite') return this.dataSource.transaction(work);
    return withDeadline(this.dataSource, this.queryTimeoutMs, async (runner, expired) => {
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
}

export function createDatabase(options: DatabaseOptions, retry?: RetryPolicy): Database {
  return new SqlDatabase(options, retry);
}
