// Builds a TypeORM DataSource for MySQL/MariaDB (mysql2) or the embedded SQLite (better-sqlite3). Never a singleton.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSource } from 'typeorm';
import { type DatabaseOptions as DatabaseConfig, DEFAULT_DATABASE_TIMEOUTS } from './options';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';
import { limitDataSource } from './transaction';

export function createDataSource(database: DatabaseConfig): DataSource {
  const dataSource = buildDataSource(database);
  limitDataSource(dataSource, database.kind === 'mysql' ? database.poolSize : 1, database);
  return dataSource;
}

function buildDataSource(database: DatabaseConfig): DataSource {
  const { queryTimeoutMs } = { ...DEFAULT_DATABASE_TIMEOUTS, ...database };
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
      // QueryFailedError of its own stack; the capture cost ~4 % of the service's time on a delink (npm run bench).
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
  });
}
