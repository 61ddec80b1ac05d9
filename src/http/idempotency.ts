// Idempotency-Key on the state-changing endpoints (Stripe's semantics, the IETF draft's statuses): the same caller
// repeating a key with the same request gets the first response replayed and nothing runs again; the same key with
// another request is 422; a key whose first request is still running is 409. A key is honoured for its retention,
// then it is a new key, and each instance purges the expired ones.
import { createHash } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { configure } from 'safe-stable-stringify';
import type { Logger } from 'pino';
import type { Database } from '../db/database';
import { isDuplicateKey } from '../db/driver-errors';
import { AppError } from '../errors';
import { PURGE_BATCH_SIZE, purgeInBatches, schedulePurgeJob } from '../jobs/purge';
import { locals, principalOf } from './context';
import { findKey, insertClaim, purgeBatch, releaseKey, storeResponse, takeOver } from './idempotency-store';
import { requestLog } from './logging';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
const KEY_PATTERN = /^[\x20-\x7E]{1,255}$/;
/** A claim not completed within this long belongs to a request that died: the next retry may take it over. */
export const IDEMPOTENCY_LEASE_MS = 60_000;

/**
 * Key order does not matter. Depth is bounded: the recursion overflowed the stack on a 16 kB body of nested arrays.
 * The service reads only top-level string fields, so bodies that differ only deeper down are handled alike anyway.
 */
const stringify = configure({ maximumDepth: 32 });

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Identifies the key within its caller (issuer and token subject), and the request it came with. */
export function idempotencyHashes(
  caller: { issuerId: string; sub: string | null },
  key: string,
  request: { method: string; path: string; body: unknown },
): { keyHash: string; requestHash: string } {
  return {
    keyHash: sha256([caller.issuerId, caller.sub ?? '', key].join('\u0000')),
    // The method is letters, the path starts with /, and no proper suffix of an object's or an array's JSON text is
    // JSON text itself: no two requests run together into one string, separator or not.
    // Stryker disable next-line StringLiteral: see above.
    requestHash: sha256([request.method, request.path, stringify(request.body ?? null)].join('\u0000')),
  };
}

type Claim =
  | { kind: 'claimed' }
  | { kind: 'replay'; status: number; body: string | null; errorCode: string | null }
  | { kind: 'mismatch' }
  | { kind: 'in-progress' };

async function claim(database: Database, retentionMs: number, keyHash: string, requestHash: string): Promise<Claim> {
  const now = new Date();
  try {
    await database.transaction((manager) => insertClaim(manager, keyHash, requestHash, now));
    return { kind: 'claimed' };
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
  const row = await database.read((manager) => findKey(manager, keyHash));
  if (row === undefined) return claim(database, retentionMs, keyHash, requestHash); // purged or released since
  const age = now.getTime() - row.createdAt.getTime();
  // Past its retention a key is a new key, whether or not the purge has reached it yet.
  const expired = age >= retentionMs;
  if (!expired) {
    if (row.requestHash !== requestHash) return { kind: 'mismatch' };
    if (row.state === 'DONE') {
      return { kind: 'replay', status: row.responseStatus ?? 200, body: row.responseBody, errorCode: row.errorCode };
    }
    if (age < IDEMPOTENCY_LEASE_MS) return { kind: 'in-progress' };
  }
  // Expired, or abandoned by a request that died: take it over, unless another retry just did.
  const taken = await database.transaction((manager) => takeOver(manager, row, requestHash, now));
  return taken ? { kind: 'claimed' } : { kind: 'in-progress' };
}

/**
 * Stores the response before it is sent, so a retry that arrives after the client has read it always finds it.
 * A 5xx is not stored: the claim is released and a retry runs the request again.
 */
function storeResponseOnSend(res: Response, database: Database, keyHash: string): void {
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  res.end = ((...args: unknown[]) => {
    const [chunk] = args;
    const body = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : null;
    const status = res.statusCode;
    const errorCode = locals(res).errorCode ?? null;
    const store = database.transaction((manager) =>
      status >= 500 ? releaseKey(manager, keyHash) : storeResponse(manager, keyHash, { status, body, errorCode }),
    );
    store
      .catch((error: unknown) => requestLog(res).error({ err: error }, 'storing the idempotent response failed'))
      .finally(() => end(...args));
    return res;
  }) as Response['end'];
}

/**
 * Mounted after authentication and validation, so that a refused request stores nothing and its corrected retry with
 * the same key runs: a response is kept only once the request began to execute.
 */
export function idempotency(database: Database, retentionMs: number): RequestHandler {
  return async (req, res, next) => {
    const key = req.headers[IDEMPOTENCY_HEADER];
    if (key === undefined) return next();
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
      throw new AppError('VALIDATION_FAILED', {
        details: [{ field: 'Idempotency-Key', message: 'Idempotency-Key must be 1 to 255 printable ASCII characters' }],
      });
    }
    const { keyHash, requestHash } = idempotencyHashes(principalOf(res), key, {
      method: req.method,
      path: req.path,
      body: req.body,
    });
    const outcome = await claim(database, retentionMs, keyHash, requestHash);
    switch (outcome.kind) {
      case 'mismatch':
        throw new AppError('IDEMPOTENCY_KEY_REUSED');
      case 'in-progress':
        res.setHeader('Retry-After', '1');
        throw new AppError('IDEMPOTENCY_IN_PROGRESS');
      case 'replay':
        res.setHeader('Idempotent-Replayed', 'true');
        if (outcome.errorCode !== null) locals(res).errorCode = outcome.errorCode;
        // A 204, the one answer stored without a body, goes out as Express sends every 204: with neither a body nor
        // a Content-Type.
        res.status(outcome.status).type('application/json').send(outcome.body);
        return;
      case 'claimed':
        storeResponseOnSend(res, database, keyHash);
        next();
    }
  };
}

export { PURGE_BATCH_SIZE };

/** Deletes the keys past their retention, in bounded batches; returns how many. */
export function purgeIdempotencyKeys(database: Database, retentionMs: number, now = new Date()): Promise<number> {
  return purgeInBatches(database, new Date(now.getTime() - retentionMs), purgeBatch);
}

/** Runs the purge every `intervalMs` in this instance. Returns the function that stops it. */
export function schedulePurge(
  database: Database,
  options: { retentionMs: number; intervalMs: number },
  logger: Logger,
): () => Promise<void> {
  return schedulePurgeJob(
    () => purgeIdempotencyKeys(database, options.retentionMs),
    { intervalMs: options.intervalMs, what: 'expired idempotency keys' },
    logger,
  );
}
