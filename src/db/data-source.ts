// Builds a TypeORM DataSource for MySQL/MariaDB (mysql2) or the embedded SQLite (better-sqlite3). Never a singleton.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSource } from 'typeorm';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';
import type { DatabaseOptions } from './options';
import { sqliteNativeBinding } from './sqlite-binding';

export function buildDataSource(database: DatabaseOptions, queryTimeoutMs: number): DataSource {
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    logging: false,
  };
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
      connectTimeout: queryTimeoutMs,
      // trace: mysql2 would capture a stack trace on every query for its own errors, which TypeORM replaces with a
      // QueryFailedError of its own stack: a measurable share of a delink's CPU.
      extra: { maxIdle: database.poolSize, enableKeepAlive: true, trace: false },
    });
  }
  if (database.path !== ':memory:') mkdirSync(dirname(database.path), { recursive: true });
  return new DataSource({
    ...common,
    type: 'better-sqlite3',
    database: database.path,
    enableWAL: true,
    // busy timeout: another process holding the write lock makes us wait this long, then fail.
    timeout: queryTimeoutMs,
    // undefined: better-sqlite3's own binary in node_modules.
    nativeBinding: sqliteNativeBinding(),
  });
}
