// For the MariaDB suite: creates a database of this run's own and applies the migrations once.
// TEST_MARIADB_KEEP_PREFIX (the mutation run's, which starts Jest hundreds of times in one process) names the database
// with that prefix and keeps it for every later Jest run of the process: the teardown leaves it, and the caller drops
// the databases of that prefix when it is done. The suite's files already share one database, so the runs can too.
import 'reflect-metadata';
import { createDatabase } from '../src/db/database';
import { connectAdmin, databaseUrl, serverUrl } from './helpers/mariadb';

export const RUN_DATABASE_ENV = 'TEST_MARIADB_DATABASE_URL';

export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_DATABASE !== 'mariadb') return;
  const keptPrefix = process.env.TEST_MARIADB_KEEP_PREFIX;
  if (keptPrefix !== undefined && process.env.TEST_MARIADB_DATABASE_NAME?.startsWith(keptPrefix)) return;
  const name = `${keptPrefix ?? 'cc_test'}_${Date.now()}_${process.pid}`;
  const connection = await connectAdmin();
  await connection.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await connection.end();

  const url = databaseUrl(name).toString();
  // Kept as mariadb: for the server processes the tests start, which read it as their DATABASE_URL.
  process.env[RUN_DATABASE_ENV] = url.replace(/^mysql:/, 'mariadb:');
  process.env.TEST_MARIADB_DATABASE_NAME = name;
  const database = createDatabase({ kind: 'mysql', flavor: 'mariadb', url, poolSize: 2 });
  await database.initialize();
  await database.migrate();
  await database.close();
  console.log(`\nMariaDB suite: database ${name} on ${serverUrl().host}`);
}
