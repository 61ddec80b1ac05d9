// One instance migrates at a time: a lease on the single row of the migration_lock table, claimed by a conditional
// UPDATE. A row, not GET_LOCK(): a row replicates to every node of a Galera cluster, a named lock stays on one node.
// SQLite takes the same row (WAL, and the busy timeout for the moments another process writes): one code path on
// both databases, and no transaction held open around TypeORM's runMigrations, which opens its own per migration.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { DataSource } from 'typeorm';
import { withDeadline } from './deadline';
import { isConflict } from './driver-errors';

export const MIGRATION_LOCK_TABLE = 'migration_lock';

export interface MigrationLockTimings {
  /** How long a claim holds without being renewed: how long a crashed holder keeps the others waiting. */
  leaseMs: number;
  /** How often the holder renews its lease while it migrates. */
  renewMs: number;
  /** How often a waiting instance tries to claim the lock. */
  pollMs: number;
  /** How long an instance waits for the lock before it gives up (and fails to start). */
  waitMs: number;
}

export const DEFAULT_MIGRATION_LOCK: MigrationLockTimings = {
  leaseMs: 30_000,
  renewMs: 10_000,
  pollMs: 500,
  waitMs: 300_000,
};

export class MigrationLockTimeout extends Error {
  constructor(
    readonly waitedMs: number,
    readonly holder: string | null,
  ) {
    super(
      `Gave up waiting for the migration lock after ${waitedMs} ms: another instance (${holder ?? 'unknown'}) is ` +
        `still migrating. Its lease ends unless it renews it; a crashed instance's lease simply runs out.`,
    );
    this.name = 'MigrationLockTimeout';
  }
}

interface LockRow {
  holder: string | null;
}

type Dialect = 'mysql' | 'sqlite';

/** The database's own clock in epoch milliseconds, so that instances never compare their clocks with each other. */
const NOW: Record<Dialect, string> = {
  mysql: 'CAST(UNIX_TIMESTAMP(CURRENT_TIMESTAMP(3)) * 1000 AS SIGNED)',
  sqlite: "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
};

/**
 * Outside TypeORM's migrations, like its own `migrations` table: the lock must exist before the first migration runs,
 * and no migration may revert it. One row, id 1; `holder` is null when the lock is free.
 */
const CREATE: Record<Dialect, string> = {
  mysql: `CREATE TABLE IF NOT EXISTS ${MIGRATION_LOCK_TABLE} (id TINYINT UNSIGNED NOT NULL PRIMARY KEY, holder VARCHAR(255) NULL, expires_at BIGINT NULL) ENGINE=InnoDB`,
  sqlite: `CREATE TABLE IF NOT EXISTS ${MIGRATION_LOCK_TABLE} (id INTEGER NOT NULL PRIMARY KEY, holder VARCHAR(255) NULL, expires_at BIGINT NULL)`,
};

const SEED: Record<Dialect, string> = {
  mysql: `INSERT IGNORE INTO ${MIGRATION_LOCK_TABLE} (id, holder, expires_at) VALUES (1, NULL, NULL)`,
  sqlite: `INSERT OR IGNORE INTO ${MIGRATION_LOCK_TABLE} (id, holder, expires_at) VALUES (1, NULL, NULL)`,
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Each statement stands alone (autocommit) and none wraps the migrations: MySQL commits DDL implicitly, so a lock
 * held by an open transaction would be gone after the first CREATE TABLE.
 */
class MigrationLock {
  private readonly dialect: Dialect;
  private readonly now: string;
  readonly holder = `${hostname()} pid ${process.pid} ${randomUUID()}`;

  constructor(
    private readonly dataSource: DataSource,
    private readonly queryTimeoutMs: number,
    private readonly timings: MigrationLockTimings,
  ) {
    this.dialect = dataSource.options.type === 'better-sqlite3' ? 'sqlite' : 'mysql';
    this.now = NOW[this.dialect];
  }

  /** Waits until this instance holds the lock; `onWait` hears once that another instance holds it. */
  async acquire(onWait: (holder: string | null) => void): Promise<void> {
    const started = Date.now();
    let prepared = false;
    let told = false;
    let holder: string | null = null;
    for (;;) {
      try {
        if (!prepared) {
          await this.run(CREATE[this.dialect]);
          await this.run(SEED[this.dialect]);
          prepared = true;
        }
        holder = await this.tryClaim();
        if (holder === this.holder) return;
      } catch (error) {
        // Another instance's claim, or its migration holding SQLite's write lock: not yet, try again.
        if (!isConflict(error)) throw error;
      }
      if (!told && holder !== null) {
        told = true;
        onWait(holder);
      }
      if (Date.now() - started + this.timings.pollMs > this.timings.waitMs)
        throw new MigrationLockTimeout(this.timings.waitMs, holder);
      await sleep(this.timings.pollMs);
    }
  }

  /** Extends the lease; matches nothing once the lease ran out and another instance took the lock. */
  async renew(): Promise<void> {
    await this.run(`UPDATE ${MIGRATION_LOCK_TABLE} SET expires_at = ${this.now} + ? WHERE id = 1 AND holder = ?`, [
      this.timings.leaseMs,
      this.holder,
    ]);
  }

  async release(): Promise<void> {
    await this.run(`UPDATE ${MIGRATION_LOCK_TABLE} SET holder = NULL, expires_at = NULL WHERE id = 1 AND holder = ?`, [
      this.holder,
    ]);
  }

  /**
   * The conditional write, then a read of who holds the row: the read decides, not the write's row count. On Galera
   * a claim that lost to another node's fails at commit (or is retried and matches nothing), and a claim whose
   * answer was lost may still have committed; the row says which.
   */
  private async tryClaim(): Promise<string | null> {
    try {
      await this.run(
        `UPDATE ${MIGRATION_LOCK_TABLE} SET holder = ?, expires_at = ${this.now} + ? ` +
          `WHERE id = 1 AND (holder IS NULL OR expires_at < ${this.now} OR holder = ?)`,
        [this.holder, this.timings.leaseMs, this.holder],
      );
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
    const rows = (await this.run(`SELECT holder FROM ${MIGRATION_LOCK_TABLE} WHERE id = 1`)) as LockRow[];
    return rows[0]?.holder ?? null;
  }

  /** SQLite's busy timeout bounds its statements; on MySQL each one gets the unit-of-work deadline. */
  private run(sql: string, parameters: unknown[] = []): Promise<unknown> {
    if (this.dialect === 'sqlite') return this.dataSource.query(sql, parameters);
    return withDeadline(this.dataSource, this.queryTimeoutMs, (runner) => runner.query(sql, parameters));
  }
}

export interface MigrationLockOptions {
  timings?: Partial<MigrationLockTimings>;
  /** Hears once, with the holder's name, that another instance holds the lock and this one waits. */
  onWait?: (holder: string | null) => void;
}

/**
 * Runs `work` while holding the migration lock, renewing the lease until `work` settles, then releases it. A lease
 * that cannot be renewed (the database away for a moment) is retried at the next tick; the work goes on.
 */
export async function withMigrationLock<T>(
  dataSource: DataSource,
  queryTimeoutMs: number,
  options: MigrationLockOptions,
  work: () => Promise<T>,
): Promise<T> {
  const timings = { ...DEFAULT_MIGRATION_LOCK, ...options.timings };
  const lock = new MigrationLock(dataSource, queryTimeoutMs, timings);
  await lock.acquire(options.onWait ?? (() => undefined));
  let renewing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    renewing = renewing.then(() => lock.renew()).catch(() => undefined);
  }, timings.renewMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    await renewing;
    // A release that fails leaves a lease that runs out by itself.
    await lock.release().catch(() => undefined);
  }
}
