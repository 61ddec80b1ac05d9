// What a driver error means for the caller: one classification for MySQL/MariaDB (mysql2) and SQLite (better-sqlite3).

/** The driver's error, whether TypeORM wrapped it (QueryFailedError.driverError) or not. */
function driverProperty(error: unknown, name: 'errno' | 'code' | 'fatal'): unknown {
  const e = error as (Record<string, unknown> & { driverError?: Record<string, unknown> }) | null | undefined;
  return e?.driverError?.[name] ?? e?.[name];
}

const DUPLICATE_KEY_ERRNO = 1062;

/**
 * The transaction was rolled back because it collided with another one: the whole unit may run again. MySQL
 * deadlock (1213) and lock wait timeout (1205); SQLite's busy and locked.
 */
const CONFLICT_ERRNOS = new Set([1213, 1205]);
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

/** A conflict that outlived its retries is unavailability too: the caller may try again later. */
export function isUnavailable(error: unknown): boolean {
  const code = driverProperty(error, 'code');
  return (
    (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) ||
    driverProperty(error, 'fatal') === true ||
    isConflict(error)
  );
}
