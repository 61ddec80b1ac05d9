// Every statement about Idempotency-Keys: claiming one, taking over an abandoned or expired one, storing the answer,
// and purging the expired ones. Each takes the unit of work's manager first.
import type { EntityManager } from 'typeorm';
import { IdempotencyKey } from '../db/entities';
import { execute, marks, parseDbDate, persistentValue, rowInserter, select } from '../db/statements';

const at = (manager: EntityManager, date: Date): unknown => persistentValue(manager, IdempotencyKey, 'createdAt', date);

const insert = rowInserter(IdempotencyKey);

/** Throws a duplicate-key error when the key is held already. */
export async function insertClaim(
  manager: EntityManager,
  keyHash: string,
  requestHash: string,
  now: Date,
): Promise<void> {
  await insert(manager, {
    keyHash,
    requestHash,
    state: 'IN_PROGRESS',
    responseStatus: null,
    responseBody: null,
    errorCode: null,
    createdAt: now,
  });
}

export interface StoredKey {
  id: number;
  requestHash: string;
  state: 'IN_PROGRESS' | 'DONE';
  responseStatus: number | null;
  responseBody: string | null;
  errorCode: string | null;
  createdAt: Date;
}

const FIND_SQL =
  'SELECT id, request_hash AS requestHash, state, response_status AS responseStatus, response_body AS responseBody,' +
  ' error_code AS errorCode, created_at AS createdAt FROM idempotency_keys WHERE key_hash = ?';

export async function findKey(manager: EntityManager, keyHash: string): Promise<StoredKey | undefined> {
  const [row] = await select<Omit<StoredKey, 'createdAt'> & { createdAt: Date | string }>(manager, FIND_SQL, [keyHash]);
  if (row === undefined) return undefined;
  return {
    ...row,
    id: Number(row.id),
    // Only a DONE key's status is read, and a DONE key always has one:
    // Stryker disable next-line ConditionalExpression: see above.
    responseStatus: row.responseStatus === null ? null : Number(row.responseStatus),
    createdAt: parseDbDate(row.createdAt),
  };
}

const TAKE_OVER_SQL =
  "UPDATE idempotency_keys SET request_hash = ?, state = 'IN_PROGRESS', response_status = NULL, response_body = NULL," +
  ' error_code = NULL, created_at = ? WHERE id = ? AND created_at = ?';

/**
 * Claims a key again for a new request, only if nobody else did since `seen` was read: of two retries taking over
 * the same key, one wins. Returns whether this one did.
 */
export async function takeOver(
  manager: EntityManager,
  seen: StoredKey,
  requestHash: string,
  now: Date,
): Promise<boolean> {
  const parameters = [requestHash, at(manager, now), seen.id, at(manager, seen.createdAt)];
  return (await execute(manager, TAKE_OVER_SQL, parameters)) === 1;
}

const DONE_SQL =
  "UPDATE idempotency_keys SET state = 'DONE', response_status = ?, response_body = ?, error_code = ? WHERE key_hash = ?";

export async function storeResponse(
  manager: EntityManager,
  keyHash: string,
  response: { status: number; body: string | null; errorCode: string | null },
): Promise<void> {
  await execute(manager, DONE_SQL, [response.status, response.body, response.errorCode, keyHash]);
}

export async function releaseKey(manager: EntityManager, keyHash: string): Promise<void> {
  await execute(manager, 'DELETE FROM idempotency_keys WHERE key_hash = ?', [keyHash]);
}

const EXPIRED_SQL = 'SELECT id FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?';

/** Deletes up to `limit` keys claimed before `cutoff`; returns how many it deleted. */
export async function purgeBatch(manager: EntityManager, cutoff: Date, limit: number): Promise<number> {
  const rows = await select<{ id: number }>(manager, EXPIRED_SQL, [at(manager, cutoff), limit]);
  if (rows.length === 0) return 0;
  const ids = rows.map((row) => Number(row.id));
  // Another instance purging the same batch at once deletes the same rows: harmless, the count is only reported.
  return execute(manager, `DELETE FROM idempotency_keys WHERE id IN (${marks(ids.length)}) AND created_at < ?`, [
    ...ids,
    at(manager, cutoff),
  ]);
}
