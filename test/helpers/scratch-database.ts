// A database of one test's own, empty: on MariaDB a new database on the suite's server, on SQLite a new file.
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseConfig } from '../../src/config';
import { onMariaDb } from './context';
import { connectAdmin, databaseUrl } from './mariadb';

export interface ScratchDatabase {
  /** DATABASE_URL for a server process, in the scheme the service reads. */
  url: string;
  /** The same database, for createDatabase(). */
  config: DatabaseConfig;
  /** Drops the database (or deletes the file): only this one, never the suite's. */
  drop(): Promise<void>;
}

/** `suffix` names the database after the test that owns it, beside the run's own database. */
export async function scratchDatabase(suffix: string): Promise<ScratchDatabase> {
  if (!onMariaDb) {
    const path = join(tmpdir(), `cc-scratch-${suffix}-${process.pid}-${randomUUID()}.sqlite`);
    return {
      url: `sqlite:${path}`,
      config: { kind: 'sqlite', path },
      drop: () => {
        for (const end of ['', '-wal', '-shm']) rmSync(`${path}${end}`, { force: true });
        return Promise.resolve();
      },
    };
  }
  const name = `${process.env.TEST_MARIADB_DATABASE_NAME}_${suffix}`;
  const admin = await connectAdmin();
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  const url = databaseUrl(name);
  return {
    url: url.toString().replace(/^mysql:/, 'mariadb:'),
    config: { kind: 'mysql', flavor: 'mariadb', url: url.toString(), poolSize: 2 },
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.end();
    },
  };
}
