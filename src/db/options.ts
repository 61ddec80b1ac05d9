// What the database layer needs to know to connect: the configuration module builds it, the database layer reads it.

/** How long a request may wait for a connection, and how long one unit of database work may take, before a 503. */
export interface DatabaseTimeouts {
  acquireTimeoutMs: number;
  queryTimeoutMs: number;
}

export type DatabaseOptions = (
  { kind: 'mysql'; flavor: 'mysql' | 'mariadb'; url: string; poolSize: number } | { kind: 'sqlite'; path: string }
) &
  Partial<DatabaseTimeouts>;

export const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = { acquireTimeoutMs: 2_000, queryTimeoutMs: 5_000 };
