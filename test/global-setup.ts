// For the MariaDB suite: creates a database of this run's own and applies the migrations once.
import 'reflect-metadata';
import { createDatabase } from '../src/db/database';
import { connectAdmin, databaseUrl, serverUrl } from './helpers/mariadb';

export const RUN_DATABASE_ENV = 'TEST_MARIADB_DATABASE_URL';

export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_DATABASE !== 'mariadb') return;
  const name = `cc_test_${Date.now()}_${process.pid}`;
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
