// What the database layer needs to know to connect: the configuration module builds it, the database layer reads it.

/** How long a request may wait for a connection, and how long one unit of database work may take, before a 503. */
export interface DatabaseTimeouts {
  acquireTimeoutMs: number;
  queryTimeoutMs: number;
}

/**
 * On a Galera cluster, whether each connection sets `wsrep_sync_wait=1`, so that its reads see every write the
 * cluster committed before them (read-your-writes across nodes), at the cost of a wait per read. `auto`: on when the
 * server is a Galera node.
 */
export type ReadYourWrites = boolean | 'auto';

export type DatabaseOptions = (
  | { kind: 'mysql'; flavor: 'mysql' | 'mariadb'; url: string; poolSize: number; readYourWrites?: ReadYourWrites }
  | { kind: 'sqlite'; path: string }
) &
  Partial<DatabaseTimeouts>;

export const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = { acquireTimeoutMs: 2_000, queryTimeoutMs: 5_000 };
