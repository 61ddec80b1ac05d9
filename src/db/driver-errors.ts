// What a driver error means for the caller: one classification for MySQL/MariaDB (mysql2) and SQLite (better-sqlite3).

/** The driver's error, whether TypeORM wrapped it (QueryFailedError.driverError) or not. */
function driverProperty(error: unknown, name: 'errno' | 'code' | 'fatal'): unknown {
  const e = error as (Record<string, unknown> & { driverError?: Record<string, unknown> }) | null | undefined;
  return e?.driverError?.[name] ?? e?.[name];
}

const DUPLICATE_KEY_ERRNO = 1062;

/**
 * The transaction was rolled back because it collided with another one: the whole unit may run again. MySQL
 * deadlock (1213) and lock wait timeout (1205); on a Galera cluster, a certification conflict with a write of
 * another node, reported at COMMIT as 1213 or as 1180 (error during COMMIT); MySQL Group Replication's certification
 * conflict, 3101 (rolled back during COMMIT); SQLite's busy and locked.
 */
const CONFLICT_ERRNOS = new Set([1213, 1205, 1180, 3101]);

/**
 * The server answered but cannot take writes now, and said so: nothing of the unit committed, and another node (or
 * this one, a little later) may take it. Galera's node that is not ready or not in the primary component (1047,
 * ER_UNKNOWN_COM_ERROR "WSREP has not yet prepared node for application use"); a read-only server or a Group
 * Replication secondary (1290 ER_OPTION_PREVENTS_STATEMENT for read_only/super_read_only, 1792 read-only
 * transaction, 1836 read-only mode); a server shutting down (1053) or that killed the connection (1927).
 */
const UNAVAILABLE_ERRNOS = new Set([1047, 1290, 1792, 1836, 1053, 1927]);
const CONFLICT_CODES = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED']);

/** The database is away or refused the connection: the caller may retry later (503). */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
]);

export function isDuplicateKey(error: unknown): boolean {
  return (
    driverProperty(error, 'errno') === DUPLICATE_KEY_ERRNO ||
    driverProperty(error, 'code') === 'SQLITE_CONSTRAINT_UNIQUE'
  );
}

export function isConflict(error: unknown): boolean {
  const errno = driverProperty(error, 'errno');
  const code = driverProperty(error, 'code');
  return (
    (typeof errno === 'number' && CONFLICT_ERRNOS.has(errno)) || (typeof code === 'string' && CONFLICT_CODES.has(code))
  );
}

/**
 * The connection itself is gone (refused, reset, timed out, closed): a statement sent on it may or may not have run.
 */
export function isConnectionLost(error: unknown): boolean {
  const code = driverProperty(error, 'code');
  return (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) || driverProperty(error, 'fatal') === true;
}

/**
 * The database is away, not ready, read-only, or kept colliding: the caller may try again later. A conflict that
 * outlived its retries is unavailability too.
 */
export function isUnavailable(error: unknown): boolean {
  const errno = driverProperty(error, 'errno');
  return isConnectionLost(error) || (typeof errno === 'number' && UNAVAILABLE_ERRNOS.has(errno)) || isConflict(error);
}
