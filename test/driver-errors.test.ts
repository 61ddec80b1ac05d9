// What a database's refusal means for the caller: the cluster's "not ready", "read-only" and certification errors
// are a 503 or a retry, never a 500.
import { AppError } from '../src/errors';
import { isConflict, isDuplicateKey, isUnavailable } from '../src/db/driver-errors';
import { openDatabase } from './helpers/context';

/** As mysql2 reports a server's error reply, wrapped or not by TypeORM. */
const serverError = (errno: number, code: string) =>
  Object.assign(new Error(code), { errno, code, sqlState: 'HY000', fatal: false });
const wrapped = (errno: number, code: string) =>
  Object.assign(new Error('Query failed'), { driverError: serverError(errno, code) });

const NOT_READY = [
  [1047, 'ER_UNKNOWN_COM_ERROR'], // Galera: WSREP has not yet prepared node for application use
  [1290, 'ER_OPTION_PREVENTS_STATEMENT'], // --read-only / super_read_only (a Group Replication secondary)
  [1792, 'ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION'],
  [1836, 'ER_READ_ONLY_MODE'],
  [1053, 'ER_SERVER_SHUTDOWN'],
  [1927, 'ER_CONNECTION_KILLED'],
] as const;

const CERTIFICATION = [
  [1213, 'ER_LOCK_DEADLOCK'], // Galera's certification failure at COMMIT
  [1180, 'ER_ERROR_DURING_COMMIT'],
  [3101, 'ER_TRANSACTION_ROLLBACK_DURING_COMMIT'], // Group Replication's conflict
] as const;

/** As mysql2 reports a connection that failed or was lost (a socket error, or a fatal protocol error). */
const CONNECTION_LOST = [
  { code: 'ECONNREFUSED', fatal: false },
  { code: 'ECONNRESET', fatal: false },
  { code: 'ETIMEDOUT', fatal: false },
  { code: 'EHOSTUNREACH', fatal: false },
  { code: 'EPIPE', fatal: false },
  { code: 'PROTOCOL_CONNECTION_LOST', fatal: false },
  { code: 'PROTOCOL_SEQUENCE_TIMEOUT', fatal: false },
  { code: 'ER_CON_COUNT_ERROR', fatal: false },
  { code: 'ER_NET_READ_ERROR', fatal: true },
] as const;

describe('driver errors of a cluster', () => {
  it.each(NOT_READY)(
    'when the server answers %i %s, then the database is unavailable, not a conflict',
    (errno, code) => {
      expect(isUnavailable(serverError(errno, code))).toBe(true);
      expect(isUnavailable(wrapped(errno, code))).toBe(true);
      expect(isConflict(serverError(errno, code))).toBe(false);
    },
  );

  it.each(CERTIFICATION)('when COMMIT answers %i %s, then the unit is retried as a conflict', (errno, code) => {
    expect(isConflict(serverError(errno, code))).toBe(true);
    expect(isConflict(wrapped(errno, code))).toBe(true);
  });

  it.each(CONNECTION_LOST)(
    'when the connection fails with $code (fatal: $fatal), then the caller gets a 503 with Retry-After',
    async (fields) => {
      const lost = Object.assign(new Error(fields.code), fields);
      expect(isUnavailable(lost)).toBe(true);
      expect(isUnavailable({ driverError: lost })).toBe(true);
      expect(isConflict(lost)).toBe(false);
      const database = await openDatabase();
      try {
        const failure = database.transaction(() => Promise.reject(lost));
        await expect(failure).rejects.toMatchObject({ errorName: 'SERVICE_UNAVAILABLE', status: 503, retryAfter: 2 });
      } finally {
        await database.close();
      }
    },
  );

  it('when an error is neither a lost connection nor the server refusing, then it is no unavailability', () => {
    for (const error of [new Error('bug'), { code: 'ER_PARSE_ERROR', errno: 1064, fatal: false }, null, undefined])
      expect(isUnavailable(error)).toBe(false);
  });

  it.each([
    { what: 'MySQL 1062', error: serverError(1062, 'ER_DUP_ENTRY') },
    { what: 'MySQL 1062, wrapped', error: wrapped(1062, 'ER_DUP_ENTRY') },
    { what: 'SQLite unique constraint', error: { code: 'SQLITE_CONSTRAINT_UNIQUE' } },
  ])('when an insert meets a taken unique key ($what), then it is a duplicate key, not unavailability', ({ error }) => {
    expect(isDuplicateKey(error)).toBe(true);
    expect(isUnavailable(error)).toBe(false);
  });

  it('when a unit fails with a node-not-ready error, then the caller gets a 503 with Retry-After, never the raw error', async () => {
    const database = await openDatabase();
    try {
      const failure = database.transaction(() => Promise.reject(wrapped(1047, 'ER_UNKNOWN_COM_ERROR')));
      await expect(failure).rejects.toBeInstanceOf(AppError);
      await expect(failure).rejects.toMatchObject({ errorName: 'SERVICE_UNAVAILABLE', status: 503, retryAfter: 2 });
    } finally {
      await database.close();
    }
  });
});
