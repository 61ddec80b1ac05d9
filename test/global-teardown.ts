// Drops the MariaDB database this run created, so runs never pile up or disturb each other.
import { createConnection } from 'mysql2/promise';

export default async function globalTeardown(): Promise<void> {
  const name = process.env.TEST_MARIADB_DATABASE_NAME;
  if (process.env.TEST_DATABASE !== 'mariadb' || name === undefined || process.env.KEEP_TEST_DATABASE === 'true')
    return;
  const server = new URL((process.env.TEST_MARIADB_URL ?? '').replace(/^mariadb:/, 'mysql:'));
  const connection = await createConnection({
    host: server.hostname,
    port: Number(server.port || 3306),
    user: decodeURIComponent(server.username),
    password: decodeURIComponent(server.password),
  });
  await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
  await connection.end();
}
