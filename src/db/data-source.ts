// Builds a TypeORM DataSource for MySQL/MariaDB (mysql2) or the embedded SQLite (better-sqlite3). Never a singleton.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSource } from 'typeorm';
import type { DatabaseConfig } from '../config';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';

/** How long a single query may run, and how long connecting may take, before the request fails with 503. */
export const QUERY_TIMEOUT_MS = 5_000;
export const CONNECT_TIMEOUT_MS = 5_000;

export function createDataSource(database: DatabaseConfig): DataSource {
  const common = { entities: ENTITIES, migrations: MIGRATIONS, migrationsTableName: 'migrations', synchronize: false, logging: false };
  if (database.kind === 'mysql') {
    return new DataSource({
      ...common,
      type: database.flavor,
      url: database.url,
      poolSize: database.poolSize,
      timezone: 'Z',
      charset: 'utf8mb4_unicode_ci',
      supportBigNumbers: true,
      bigNumberStrings: true,
      connectTimeout: CONNECT_TIMEOUT_MS,
      extra: { maxIdle: database.poolSize, enableKeepAlive: true },
    });
  }
  if (database.path !== ':memory:') mkdirSync(dirname(database.path), { recursive: true });
  return new DataSource({
    ...common,
    type: 'better-sqlite3',
    database: database.path,
    enableWAL: true,
    // busy timeout: another process holding the write lock makes us wait this long, then fail.
    timeout: QUERY_TIMEOUT_MS,
  });
}

export function isSqlite(dataSource: DataSource): boolean {
  return dataSource.options.type === 'better-sqlite3';
}
