// Idempotency-Key on the state-changing endpoints (Stripe's semantics, the IETF draft's statuses): the same caller
// repeating a key with the same request gets the first response replayed and nothing runs again; the same key with
// another request is 422; a key whose first request is still running is 409.
import { createHash } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { configure } from 'safe-stable-stringify';
import { IdempotencyKey } from '../db/entities';
import type { Database } from '../db/database';
import { isDuplicateKey } from '../db/driver-errors';
import { AppError } from '../errors';
import { principalOf } from './context';
import { requestLog } from './logging';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
const KEY_PATTERN = /^[\x20-\x7E]{1,255}$/;
/** Keys are kept at least this long, then purged. */
export const IDEMPOTENCY_RETENTION_MS = 24 * 60 * 60 * 1000;
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
    requestHash: sha256([request.method, request.path, stringify(request.body ?? null)].join('\u0000')),
  };
}

type Claim =
  | { kind: 'claimed' }
  | { kind: 'replay'; status: number; body: string | null }
  | { kind: 'mismatch' }
  | { kind: 'in-progress' };

async function claim(database: Database, keyHash: string, requestHash: string): Promise<Claim> {
  const now = new Date();
  try {
    await database.transaction((manager) =>
      manager.insert(IdempotencyKey, {
        keyHash,
        requestHash,
        state: 'IN_PROGRESS',
        responseStatus: null,
        responseBody: null,
        createdAt: now,
      }),
    );
    return { kind: 'claimed' };
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
  const row = await database.read((manager) => manager.findOne(IdempotencyKey, { where: { keyHash } }));
  if (row === null) return claim(database, keyHash, requestHash); // purged or released since: claim it afresh
  if (row.requestHash !== requestHash) return { kind: 'mismatch' };
  if (row.state === 'DONE') return { kind: 'replay', status: row.responseStatus ?? 200, body: row.responseBody };
  if (now.getTime() - row.createdAt.getTime() < IDEMPOTENCY_LEASE_MS) return { kind: 'in-progress' };
  // Abandoned: take it over only if nobody else did in the meantime.
  const taken = await database.transaction((manager) =>
    manager
      .createQueryBuilder()
      .update(IdempotencyKey)
      .set({ createdAt: now })
      .where('id = :id AND state = :state AND created_at = :createdAt', {
        id: row.id,
        state: 'IN_PROGRESS',
        createdAt: row.createdAt,
      })
      .execute(),
  );
  return taken.affected === 1 ? { kind: 'claimed' } : { kind: 'in-progress' };
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
    const store = database.transaction((manager) =>
      status >= 500
        ? manager.delete(IdempotencyKey, { keyHash })
        : manager.update(IdempotencyKey, { keyHash }, { state: 'DONE', responseStatus: status, responseBody: body }),
    );
    store
      .catch((error: unknown) => requestLog(res).error({ err: error }, 'storing the idempotent response failed'))
      .finally(() => end(...args));
    return res;
  }) as Response['end'];
}

export function idempotency(database: Database): RequestHandler {
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
    const outcome = await claim(database, keyHash, requestHash);
    switch (outcome.kind) {
      case 'mismatch':
        throw new AppError('IDEMPOTENCY_KEY_REUSED');
      case 'in-progress':
        res.setHeader('Retry-After', '1');
        throw new AppError('IDEMPOTENCY_IN_PROGRESS');
      case 'replay':
        res.setHeader('Idempotent-Replayed', 'true');
        res.status(outcome.status);
        if (outcome.body === null || outcome.body === '') {
          res.end();
        } else {
          res.type('application/json').send(outcome.body);
        }
        return;
      case 'claimed':
        storeResponseOnSend(res, database, keyHash);
        next();
    }
  };
}

/** Deletes keys past their retention; returns how many. */
export async function purgeIdempotencyKeys(database: Database, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - IDEMPOTENCY_RETENTION_MS);
  const result = await database.transaction((manager) =>
    manager.createQueryBuilder().delete().from(IdempotencyKey).where('created_at < :cutoff', { cutoff }).execute(),
  );
  return result.affected ?? 0;
}
