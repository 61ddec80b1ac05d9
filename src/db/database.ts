// The database as the service uses it: one object that owns the DataSource, the gate, the deadlines and the retries.
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { AppError } from '../errors';
import { buildDataSource } from './data-source';
import { withDeadline } from './deadline';
import { isConflict, isConnectionLost, isDuplicateKey, isUnavailable } from './driver-errors';
import { Gate } from './gate';
import { type MigrationLockOptions, withMigrationLock } from './migration-lock';
import { DEFAULT_DATABASE_TIMEOUTS, type DatabaseOptions, type ReadYourWrites } from './options';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, withRetries } from './retry';
import { unavailable } from './unavailable';

export interface TransactionOptions<T = unknown> {
  /** Also retry when a unique key was taken by a concurrent transaction (insert-if-absent races). */
  retryOnDuplicateKey?: boolean;
  /**
   * Tells whether the unit committed when COMMIT was sent but its answer never came (the deadline fired, or the
   * connection was lost): run on a fresh connection, in a transaction of its own, it returns what the unit would
   * have returned when the unit committed, and undefined when it did not. It must wait for a COMMIT still in flight
   * (a locking read of a row the unit wrote does). Without it, such a unit answers 503 as any other timeout.
   */
  verify?: (manager: EntityManager) => Promise<T | undefined>;
}

export interface DatabaseLoad {
  /** Units of work holding a place at the gate, and units waiting for one. */
  active: number;
  waiting: number;
}

/** What a readiness probe needs to know of a cluster node; `galera: false` on a plain server (and SQLite). */
export type NodeState = { galera: false } | { galera: true; ready: boolean; localState: number };

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
  transaction<T>(work: (manager: EntityManager) => Promise<T>, options?: TransactionOptions<T>): Promise<T>;
  /** Runs read-only work on one connection, bounded like a transaction. */
  read<T>(work: (manager: EntityManager) => Promise<T>): Promise<T>;
  /** Whether the server is a Galera node, and whether it is ready and Synced; bounded like a read. */
  nodeState(): Promise<NodeState>;
  load(): DatabaseLoad;
  close(): Promise<void>;
}

/**
 * Thrown by a unit that read a row by a plain read and found, once it locked the row, that a concurrent transaction
 * had changed it since (a delete, say): the unit runs again, in a new transaction that sees the change. Like a
 * conflict, it is retried a few times, and a unit that keeps meeting it is unavailable.
 */
export class StaleRead extends Error {
  constructor(message: string) {
    super(message);
    // Stryker disable next-line StringLiteral: as its messages, never seen: retried, then a 503 that carries no cause.
    this.name = 'StaleRead';
  }
}

/**
 * What leaves the database layer is an AppError (503 when the database is away, too slow, or kept colliding) or a
 * fault of the code: no caller has to classify driver errors.
 */
function asUnavailable(error: unknown): unknown {
  const unavailableNow = error instanceof StaleRead || (!(error instanceof AppError) && isUnavailable(error));
  return unavailableNow ? unavailable(undefined, error) : error;
}

/**
 * COMMIT was sent and no answer came back: the unit may have committed or not. It never leaves transaction(), which
 * answers with what the lookup finds or with a 503 caused by `failure`.
 */
class CommitOutcomeUnknown extends Error {
  constructor(readonly failure: unknown) {
    super();
  }
}

/** ON on a Galera node; OFF on a MariaDB server that is not one; no row on MySQL. */
const WSREP_ON_SQL = "SHOW GLOBAL VARIABLES LIKE 'wsrep_on'";
const NODE_STATE_SQL =
  "SELECT VARIABLE_NAME AS name, VARIABLE_VALUE AS value FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('WSREP_READY', 'WSREP_LOCAL_STATE')";
/** Reads (SELECT, SHOW) wait until this node has applied what the cluster committed before them. */
const SYNC_WAIT_SQL = 'SET SESSION wsrep_sync_wait = 1';

/** Lookups of an unknown COMMIT's outcome, each bounded by the query timeout, before the service gives up knowing. */
const VERIFY_ATTEMPTS = 3;

class SqlDatabase implements Database {
  readonly kind: DatabaseOptions['kind'];
  readonly dataSource: DataSource;
  private readonly gate: Gate;
  private readonly queryTimeoutMs: number;
  /** DB_READ_YOUR_WRITES on MySQL and MariaDB (undefined: auto). */
  private readonly readYourWrites: ReadYourWrites | undefined;
  /** What initialize() found on MySQL or MariaDB: a Galera node, and whether its reads wait for the cluster. */
  private node: { galera: boolean; syncWait: boolean } | undefined;
  /** Connections that already have wsrep_sync_wait set (the pool keeps them). */
  private readonly prepared = new WeakSet<object>();

  constructor(
    options: DatabaseOptions,
    private readonly retry: RetryPolicy = DEFAULT_RETRY_POLICY,
  ) {
    const { acquireTimeoutMs, queryTimeoutMs } = { ...DEFAULT_DATABASE_TIMEOUTS, ...options };
    this.kind = options.kind;
    this.dataSource = buildDataSource(options, queryTimeoutMs);
    this.queryTimeoutMs = queryTimeoutMs;
    this.readYourWrites = options.kind === 'mysql' ? options.readYourWrites : undefined;
    this.gate = new Gate(options.kind === 'mysql' ? options.poolSize : 1, acquireTimeoutMs);
  }

  async initialize(): Promise<void> {
    await this.dataSource.initialize();
    if (this.kind === 'sqlite') return;
    // MariaDB built with wsrep (Debian's, for one) has the wsrep_* status variables even when it is a plain server:
    // wsrep_on is what tells a Galera node. MySQL has neither.
    const [row] = await this.dataSource.query<{ Value: string }[]>(WSREP_ON_SQL);
    const galera = row?.Value === 'ON';
    this.node = { galera, syncWait: galera && this.readYourWrites !== false };
  }

  async nodeState(): Promise<NodeState> {
    if (this.node?.galera !== true) return { galera: false };
    const rows = await this.read((manager) => manager.query<{ name: string; value: string }[]>(NODE_STATE_SQL));
    const value = (name: string) => rows.find((row) => row.name.toLowerCase() === name)?.value;
    // Stryker disable next-line ConditionalExpression: `ready` as true is unseen. No state a node can be put in is
    // Synced with wsrep_ready OFF, and one cut off from the cluster (OFF) is not Synced and refuses this read.
    return { galera: true, ready: value('wsrep_ready') === 'ON', localState: Number(value('wsrep_local_state')) };
  }

  /** Sets wsrep_sync_wait once on each connection when reads must see the cluster's earlier writes. */
  private async prepare(runner: QueryRunner): Promise<void> {
    if (this.node?.syncWait !== true) return;
    const connection = (runner as QueryRunner & { databaseConnection?: object }).databaseConnection;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: speed only: setting it again changes nothing.
    if (connection !== undefined && this.prepared.has(connection)) return;
    await runner.query(SYNC_WAIT_SQL);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: speed only, as above.
    if (connection !== undefined) this.prepared.add(connection);
  }

  async migrate(options: MigrationLockOptions = {}): Promise<string[]> {
    const applied = await withMigrationLock(this.dataSource, this.queryTimeoutMs, options, () =>
      // A failed migration keeps those before it (the SQLite suite checks it; on MySQL each DDL commits by itself).
      // Stryker disable next-line ObjectLiteral,StringLiteral: on MySQL one transaction for all applies as one each does.
      this.dataSource.runMigrations({ transaction: 'each' }),
    );
    return applied.map((migration) => migration.name);
  }

  async transaction<T>(work: (manager: EntityManager) => Promise<T>, options: TransactionOptions<T> = {}): Promise<T> {
    const retryable = (error: unknown) =>
      error instanceof StaleRead ||
      isConflict(error) ||
      (options.retryOnDuplicateKey === true && isDuplicateKey(error));
    try {
      return await withRetries(this.retry, retryable, () => this.gate.run(() => this.transactionOnce(work)));
    } catch (error) {
      if (!(error instanceof CommitOutcomeUnknown)) throw asUnavailable(error);
      if (options.verify === undefined) throw asUnavailable(error.failure);
      return this.committedOrUnavailable(options.verify, error.failure);
    }
  }

  /**
   * Asks the database on a fresh connection whether a unit whose COMMIT went unanswered committed: its value if it
   * did; a 503 once it is known that it did not, or when even the lookup cannot get an answer.
   */
  private async committedOrUnavailable<T>(
    verify: (manager: EntityManager) => Promise<T | undefined>,
    failure: unknown,
  ): Promise<T> {
    let lookupFailure: unknown;
    for (let attempt = 1; attempt <= VERIFY_ATTEMPTS; attempt += 1) {
      try {
        const found = await this.gate.run(() =>
          withDeadline(this.dataSource, this.queryTimeoutMs, async (runner) => {
            await runner.startTransaction();
            const value = await verify(runner.manager);
            await runner.commitTransaction();
            return value;
          }),
        );
        if (found !== undefined) return found;
        throw unavailable(undefined, failure);
      } catch (error) {
        if (error instanceof AppError && error.cause === failure) throw error;
        lookupFailure = error;
      }
    }
    throw unavailable('The database did not answer; whether the change was made is not known.', lookupFailure);
  }

  async read<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    try {
      // better-sqlite3 is synchronous: a unit cannot hang mid-way, and its one connection needs no deadline.
      if (this.kind === 'sqlite') return await this.gate.run(() => work(this.dataSource.manager));
      return await this.gate.run(() =>
        withDeadline(this.dataSource, this.queryTimeoutMs, async (runner) => {
          await this.prepare(runner);
          return work(runner.manager);
        }),
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

  private async transactionOnce<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    // SQLite takes the short way: better-sqlite3 is synchronous, so a deadline could never end its unit early.
    // Stryker disable next-line ConditionalExpression,EqualityOperator: on SQLite the long way does the same.
    if (this.kind === 'sqlite') return this.dataSource.transaction(work);
    // Once COMMIT is sent, a deadline or a lost connection no longer means that nothing committed.
    let commitSent = false;
    try {
      return await withDeadline(this.dataSource, this.queryTimeoutMs, async (runner, expired) => {
        await this.prepare(runner);
        await runner.startTransaction();
        try {
          const result = await work(runner.manager);
          commitSent = true;
          await runner.commitTransaction();
          return result;
        } catch (error) {
          // The transaction is open until COMMIT succeeds; past the deadline its connection is gone.
          if (!expired()) await runner.rollbackTransaction();
          throw error;
        }
      });
    } catch (error) {
      // The deadline answers with its own 503 (an AppError); a server's error reply to COMMIT is a known rollback.
      if (commitSent && (error instanceof AppError || isConnectionLost(error))) throw new CommitOutcomeUnknown(error);
      throw error;
    }
  }
}

export function createDatabase(options: DatabaseOptions, retry?: RetryPolicy): Database {
  return new SqlDatabase(options, retry);
}
