// For the MariaDB suite: creates a database of this run's own and applies the migrations once.
import 'reflect-metadata';
import { createConnection } from 'mysql2/promise';
import { createDatabase } from '../src/db/database';

export const RUN_DATABASE_ENV = 'TEST_MARIADB_DATABASE_URL';

function serverUrl(): URL {
  const raw = process.env.TEST_MARIADB_URL;
  if (raw === undefined || raw === '')
    throw new Error('TEST_DATABASE=mariadb needs TEST_MARIADB_URL, e.g. mariadb://root@127.0.0.1:3306');
  return new URL(raw.replace(/^mariadb:/, 'mysql:'));
}

export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_DATABASE !== 'mariadb') return;
  const server = serverUrl();
  const name = `cc_test_${Date.now()}_${process.pid}`;
  const connection = await createConnection({
    host: server.hostname,
    port: Number(server.port || 3306),
    user: decodeURIComponent(server.username),
    password: decodeURIComponent(server.password),
    connectTimeout: 5000,
  });
  await connection.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await connection.end();

  const url = new URL(server);
  url.pathname = `/${name}`;
  process.env[RUN_DATABASE_ENV] = url.toString().replace(/^mysql:/, 'mariadb:');
  process.env.TEST_MARIADB_DATABASE_NAME = name;
  const database = createDatabase({ kind: 'mysql', flavor: 'mariadb', url: url.toString(), poolSize: 2 });
  await database.initialize();
  await database.migrate();
  await database.close();
  console.log(`\nMariaDB suite: database ${name} on ${server.host}`);
}
