// The MariaDB server the suite runs against: TEST_MARIADB_URL (mariadb:// or mysql://) read in one place, for the global
// setup and teardown and for the tests that need a database of their own. mysql2 and URL parsing want mysql://.
import { type Connection, createConnection } from 'mysql2/promise';

/** The same URL with the mysql: scheme that mysql2 and TypeORM expect; the service itself also takes mariadb:. */
export function mysqlUrl(url: string): string {
  return url.replace(/^mariadb:/, 'mysql:');
}

/** The server of TEST_MARIADB_URL, without a database: where the suite creates and drops its own. */
export function serverUrl(): URL {
  const raw = process.env.TEST_MARIADB_URL;
  if (raw === undefined || raw === '')
    throw new Error('TEST_DATABASE=mariadb needs TEST_MARIADB_URL, e.g. mariadb://root@127.0.0.1:3306');
  return new URL(mysqlUrl(raw));
}

/** The URL of one database on that server (mysql:). */
export function databaseUrl(name: string): URL {
  const url = serverUrl();
  url.pathname = `/${name}`;
  return url;
}

/** A connection to the server as its administrator, for CREATE and DROP DATABASE. */
export function connectAdmin(): Promise<Connection> {
  const server = serverUrl();
  return createConnection({
    host: server.hostname,
    port: Number(server.port || 3306),
    user: decodeURIComponent(server.username),
    password: decodeURIComponent(server.password),
    connectTimeout: 5000,
  });
}
