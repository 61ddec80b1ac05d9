// The start of the real process: instances starting together on an empty database, the migration lock they share,
// what a failed start writes (one JSON line, exit 1), and the address it listens on.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabase, type Database } from '../src/db/database';
import {
  MIGRATION_LOCK_TABLE,
  type MigrationLockOptions,
  MigrationLockTimeout,
  withMigrationLock,
} from '../src/db/migration-lock';
import { MIGRATIONS } from '../src/db/migrations';
import { onMariaDb, TEST_SECRET } from './helpers/context';
import { type LaunchedProcess, type LogEntry, launchServer, serverEnv, startServer } from './helpers/process';
import { startGate } from './helpers/start-gate';
import { type ScratchDatabase, scratchDatabase } from './helpers/scratch-database';

const MIGRATION_NAMES = MIGRATIONS.map((migration) => migration.name);
const SERVICE = 'corecredit-account-links';
const suite = onMariaDb ? 'MariaDB' : 'SQLite';

/** The names in TypeORM's `migrations` table, one row per applied migration. */
async function appliedMigrations(database: Database): Promise<string[]> {
  const rows = await database.dataSource.query<{ name: string }[]>('SELECT name FROM migrations ORDER BY id');
  return rows.map((row) => row.name);
}

async function hasMigrationsTable(database: Database): Promise<boolean> {
  const runner = database.dataSource.createQueryRunner();
  try {
    return await runner.hasTable('migrations');
  } finally {
    await runner.release();
  }
}

/** Lines at error level or above (pino: 50 error, 60 fatal). */
const errorLines = (server: LaunchedProcess): LogEntry[] =>
  server.entries.filter((entry) => typeof entry.level === 'number' && entry.level >= 50);

async function stopAll(servers: LaunchedProcess[]): Promise<void> {
  await Promise.all(servers.map((server) => server.stop()));
}

/** Another instance, as far as the lock can tell: it holds the lock until `release` is called. */
async function holdLock(
  database: Database,
  timings: MigrationLockOptions['timings'] = {},
): Promise<{ release: () => void; released: Promise<void> }> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let acquired!: () => void;
  const holding = new Promise<void>((resolve) => (acquired = resolve));
  const released = withMigrationLock(database.dataSource, 5_000, { timings }, () => {
    acquired();
    return held;
  });
  await holding;
  return { release, released };
}

describe(`instances starting together on an empty database (${suite})`, () => {
  let scratch: ScratchDatabase;
  let direct: Database;
  const dataDirs: string[] = [];

  beforeEach(async () => {
    scratch = await scratchDatabase(`startup${Date.now() % 100_000}`);
    direct = createDatabase(scratch.config);
    await direct.initialize();
  });
  afterEach(async () => {
    await direct.close();
    await scratch.drop();
    for (const dir of dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cc-startup-'));
    dataDirs.push(dataDir);
    return serverEnv(dataDir, { DATABASE_URL: scratch.url, JWT_SECRET: TEST_SECRET, ...extra });
  };

  it('when two servers start at once, then both listen and are ready, each migration ran exactly once, and neither wrote an error', async () => {
    // Both held at their first database work, then let through together: their migrations start at the same instant.
    const gate = await startGate(scratch);
    // No JWT setting: the development-secret warning is their last line before they open the database.
    const held = { DATABASE_URL: gate.url, JWT_SECRET: undefined, DB_QUERY_TIMEOUT_MS: '30000' };
    const servers = [launchServer(env(held)), launchServer(env(held))];
    try {
      await Promise.all(servers.map((server) => server.logged((entry) => entry.level === 40)));
      await gate.held(servers.length);
      await gate.open();
      const listening = await Promise.all(servers.map((server) => server.logged((entry) => entry.msg === 'listening')));
      for (const { port } of listening) {
        const res = await fetch(`http://127.0.0.1:${String(port)}/health/ready`);
        expect(res.status).toBe(200);
      }
      expect(await appliedMigrations(direct)).toEqual(MIGRATION_NAMES);
      // One of them applied every migration; the other found nothing left to do.
      const applied = servers.map((server) => server.entries.find((entry) => entry.msg === 'migrations applied'));
      expect(applied.filter((entry) => entry !== undefined).map((entry) => entry.migrations)).toEqual([
        MIGRATION_NAMES,
      ]);
      for (const server of servers) {
        expect(server.notJson()).toEqual([]);
        expect(errorLines(server)).toEqual([]);
      }
    } finally {
      await stopAll(servers);
      await gate.close();
    }
  });

  it('when another instance holds the migration lock, then the server says it waits, migrates nothing until the lock is released, then migrates and listens', async () => {
    const other = await holdLock(direct);
    const server = launchServer(env());
    try {
      const waiting = await server.logged((entry) => entry.msg === 'waiting for the migration lock');
      expect(waiting).toMatchObject({ level: 30, holder: expect.stringContaining(`pid ${process.pid}`) });
      // Still waiting a while later: not listening, and not one migration applied behind the holder's back.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(server.entries.map((entry) => entry.msg)).not.toContain('listening');
      expect(await hasMigrationsTable(direct)).toBe(false);

      other.release();
      await other.released;
      await server.logged((entry) => entry.msg === 'listening');
      expect(await appliedMigrations(direct)).toEqual(MIGRATION_NAMES);
      expect(server.notJson()).toEqual([]);
      expect(errorLines(server)).toEqual([]);
    } finally {
      other.release();
      await server.stop();
    }
  });

  it('when the lock is held past the wait, then migrate() gives up with a clear error and has applied nothing', async () => {
    const other = await holdLock(direct);
    const waiter = createDatabase(scratch.config);
    await waiter.initialize();
    try {
      const heard: (string | null)[] = [];
      const error: unknown = await waiter
        .migrate({ timings: { waitMs: 800, pollMs: 100 }, onWait: (holder) => heard.push(holder) })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(MigrationLockTimeout);
      expect((error as Error).message).toMatch(/^Gave up waiting for the migration lock after 800 ms/);
      expect(heard).toHaveLength(1);
      expect(await hasMigrationsTable(direct)).toBe(false);
    } finally {
      other.release();
      await other.released;
      await waiter.close();
    }
  });

  it('when the holder migrates for longer than its lease, then it renews the lease and nobody takes the lock meanwhile', async () => {
    const other = await holdLock(direct, { leaseMs: 400, renewMs: 100 });
    const waiter = createDatabase(scratch.config);
    await waiter.initialize();
    try {
      // Four leases long: without the renewals the waiter would have the lock after the first.
      const error: unknown = await waiter
        .migrate({ timings: { waitMs: 1_600, pollMs: 100 } })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(MigrationLockTimeout);
    } finally {
      other.release();
      await other.released;
      await waiter.close();
    }
  });

  it('when the holder crashed (its lease ran out), then the next instance takes the lock over and migrates', async () => {
    const other = await holdLock(direct);
    // The holder is gone without releasing: its row names it still, with a lease that ended long ago.
    await direct.dataSource.query(
      `UPDATE ${MIGRATION_LOCK_TABLE} SET holder = 'a crashed instance', expires_at = 0 WHERE id = 1`,
    );
    other.release();
    await other.released;

    expect(await direct.migrate({ timings: { waitMs: 2_000, pollMs: 100 } })).toEqual(MIGRATION_NAMES);
    // Released after use: the next one claims it at once.
    const rows = await direct.dataSource.query<unknown[]>(`SELECT holder FROM ${MIGRATION_LOCK_TABLE}`);
    expect(rows).toEqual([{ holder: null }]);
    expect(await direct.migrate({ timings: { waitMs: 100 } })).toEqual([]);
  });
});

describe(`a start that fails writes one JSON line and exits 1 (${suite})`, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cc-startup-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  /**
   * Runs the server to its end and returns its one error line, its last, which must be JSON with the service's base
   * fields like every other line.
   */
  async function failedStart(extra: NodeJS.ProcessEnv): Promise<LogEntry> {
    const server = launchServer(serverEnv(dataDir, { JWT_SECRET: TEST_SECRET, ...extra }));
    const code = await server.exited;
    expect({ code, notJson: server.notJson() }).toEqual({ code: 1, notJson: [] });
    for (const entry of server.entries) expect(entry).toMatchObject({ service: SERVICE, time: expect.any(String) });
    const errors = errorLines(server);
    expect(errors).toHaveLength(1);
    expect(server.entries.at(-1)).toBe(errors[0]);
    return errors[0]!;
  }

  it('when the configuration is wrong, then the line says so and lists every problem', async () => {
    const entry = await failedStart({ PORT: 'eighty', JWT_SECRET: 'short' });
    expect(entry).toMatchObject({
      level: 50,
      msg: 'invalid configuration',
      problems: [
        'PORT must be a whole number from 0 to 65535 (got "eighty")',
        'JWT_SECRET must be at least 32 characters',
      ],
    });
  });

  it('when the database is unreachable, then the line is fatal, with the error safely serialized and no password', async () => {
    const entry = await failedStart({ DATABASE_URL: 'mysql://app:do-not-print-me@127.0.0.1:1/corecredit' });
    expect(entry).toMatchObject({ level: 60, msg: 'failed to start', err: { code: 'ECONNREFUSED' } });
    expect(Object.keys(entry.err as object).sort()).toEqual(
      expect.arrayContaining(['message', 'stack', 'type', 'code']),
    );
    expect(JSON.stringify(entry)).not.toContain('do-not-print-me');
  });

  it('when the port is in use, then the line is fatal and names EADDRINUSE', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as { port: number };
      const entry = await failedStart({ PORT: String(port), HOST: '127.0.0.1' });
      expect(entry).toMatchObject({ level: 60, msg: 'failed to start', err: { code: 'EADDRINUSE' } });
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});

describe(`the bind address (${suite})`, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cc-startup-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const connects = (host: string, port: number): Promise<string> =>
    new Promise((resolve) => {
      const socket = connect(port, host);
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });

  it('when HOST=127.0.0.1, then it listens on loopback only and says so', async () => {
    const server = await startServer(serverEnv(dataDir, { JWT_SECRET: TEST_SECRET, HOST: '127.0.0.1' }));
    try {
      const listening = await server.logged((entry) => entry.msg === 'listening');
      expect(listening).toMatchObject({ host: '127.0.0.1', address: '127.0.0.1', port: server.port });
      expect((await fetch(`http://127.0.0.1:${server.port}/health/live`)).status).toBe(200);
      // Where this machine has another address, nothing answers there.
      const external = Object.values(networkInterfaces())
        .flat()
        .find((info) => info !== undefined && !info.internal && info.family === 'IPv4');
      if (external !== undefined) expect(await connects(external.address, server.port)).toBe('ECONNREFUSED');
      expect(await connects('::1', server.port)).not.toBe('connected');
    } finally {
      await server.stop();
    }
  });

  it('when HOST is unset, then it listens on every interface', async () => {
    const server = await startServer(serverEnv(dataDir, { JWT_SECRET: TEST_SECRET }));
    try {
      const listening = await server.logged((entry) => entry.msg === 'listening');
      expect(['::', '0.0.0.0']).toContain(listening.address);
      expect(listening.host).toBeUndefined();
    } finally {
      await server.stop();
    }
  });
});
