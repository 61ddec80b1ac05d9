// What a database's refusal means for the caller: the cluster's "not ready", "read-only" and certification errors
// are a 503 or a retry, never a 500.
import { AppError } from '../src/errors';
import { isConflict, isUnavailable } from '../src/db/driver-errors';
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
