// Every statement about events and their deliveries: writing an event with its change, claiming due deliveries,
// recording attempts, the feed, redelivery, the purge and the backlog. Each takes the unit of work's manager first.
import type { EntityManager } from 'typeorm';
import { Delivery, type DeliveryState, OutboxEvent } from '../db/entities';
import { execute, marks, parseDbDate, persistentValue, rowInserter, select } from '../db/statements';
import type { EventBody } from './events';

/** A date as the driver writes it. */
const at = (manager: EntityManager, date: Date): unknown => persistentValue(manager, Delivery, 'nextAttemptAt', date);

const insertEventRow = rowInserter(OutboxEvent);

const SUBSCRIBERS_SQL =
  "SELECT w.id AS id FROM webhooks w WHERE w.issuer_id = ? AND w.state = 'ACTIVE' AND w.event_types LIKE ?" +
  ' AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_row_id = ? AND d.webhook_row_id = w.id)';

/**
 * Queues the event for every active subscription of its issuer to its type that does not have it yet. Read, then
 * inserted by value: an INSERT … SELECT reading its own table fails under concurrency on MariaDB (errno 1467).
 */
async function fanOut(manager: EntityManager, rowId: number, event: Pick<EventBody, 'issuerId' | 'type'>, now: Date) {
  const webhooks = await select<{ id: number }>(manager, SUBSCRIBERS_SQL, [event.issuerId, `%,${event.type},%`, rowId]);
  if (webhooks.length === 0) return 0;
  const due = at(manager, now);
  const rows = webhooks.map(() => "(?, ?, 'PENDING', 0, ?)").join(', ');
  return execute(
    manager,
    `INSERT INTO deliveries (event_row_id, webhook_row_id, state, attempts, next_attempt_at) VALUES ${rows}`,
    webhooks.flatMap((webhook) => [rowId, Number(webhook.id), due]),
  );
}

/**
 * A new event's deliveries, one per active subscription of its issuer to its type, in one statement: the read of the
 * subscriptions travels with the INSERT (one round trip per event instead of two, on every delink and registration
 * whether a subscription exists or not). It reads webhooks only, never deliveries, so MariaDB's errno 1467 does not
 * apply; a new event has no delivery yet, so it needs no NOT EXISTS.
 */
const FAN_OUT_NEW_SQL =
  'INSERT INTO deliveries (event_row_id, webhook_row_id, state, attempts, next_attempt_at)' +
  " SELECT ?, w.id, 'PENDING', 0, ? FROM webhooks w WHERE w.issuer_id = ? AND w.state = 'ACTIVE' AND w.event_types LIKE ?";

/** Writes the event and a delivery of it to each subscription, in the unit of work of the change it describes. */
export async function insertEvent(manager: EntityManager, event: EventBody, now: Date): Promise<void> {
  const body = JSON.stringify(event);
  const rowId = await insertEventRow(manager, {
    eventId: event.id,
    issuerId: event.issuerId,
    type: event.type,
    body,
    createdAt: now,
  });
  await execute(manager, FAN_OUT_NEW_SQL, [rowId, at(manager, now), event.issuerId, `%,${event.type},%`]);
}

/** A delivery a worker holds the lease of, with what it needs to make the attempt. */
export interface ClaimedDelivery {
  deliveryId: number;
  attempts: number;
  claimToken: string;
  eventId: string;
  eventType: string;
  body: string;
  webhookRowId: number;
  webhookId: string;
  issuerId: string;
  url: string;
  secret: string;
}

const DUE_SQL =
  "SELECT id FROM deliveries WHERE state = 'PENDING' AND next_attempt_at <= ?" +
  ' AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY next_attempt_at, id LIMIT ?';

const CLAIMED_SQL =
  'SELECT d.id AS deliveryId, d.attempts AS attempts, d.claim_token AS claimToken, e.event_id AS eventId,' +
  ' e.type AS eventType, e.body AS body, w.id AS webhookRowId, w.webhook_id AS webhookId, w.url AS url,' +
  ' w.secret AS secret, w.issuer_id AS issuerId FROM deliveries d JOIN events e ON e.id = d.event_row_id' +
  ' JOIN webhooks w ON w.id = d.webhook_row_id WHERE d.claim_token = ?';

/**
 * Takes the lease of up to `limit` due deliveries. With `skipLocked` (MariaDB ≥ 10.6, MySQL 8) concurrent claimers
 * each take other rows; SQLite has a single writer, so a plain read inside its transaction is already exclusive.
 */
export async function claimDue(
  manager: EntityManager,
  claim: { now: Date; until: Date; token: string; limit: number; skipLocked: boolean },
): Promise<ClaimedDelivery[]> {
  const now = at(manager, claim.now);
  const lock = claim.skipLocked ? ' FOR UPDATE SKIP LOCKED' : '';
  const due = await select<{ id: number }>(manager, DUE_SQL + lock, [now, now, claim.limit]);
  if (due.length === 0) return [];
  const ids = due.map((row) => Number(row.id));
  await execute(
    manager,
    `UPDATE deliveries SET claimed_until = ?, claim_token = ? WHERE id IN (${marks(ids.length)})`,
    [at(manager, claim.until), claim.token, ...ids],
  );
  const rows = await select<ClaimedDelivery>(manager, CLAIMED_SQL, [claim.token]);
  return rows.map((row) => ({
    ...row,
    deliveryId: Number(row.deliveryId),
    attempts: Number(row.attempts),
    webhookRowId: Number(row.webhookRowId),
  }));
}

const ATTEMPT_SQL =
  'INSERT INTO delivery_attempts (delivery_id, attempted_at, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?)';

const SETTLE_SQL =
  'UPDATE deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = ?, claimed_until = NULL,' +
  " claim_token = NULL WHERE id = ? AND claim_token = ? AND state = 'PENDING'";

export interface Attempt {
  attemptedAt: Date;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * Records an attempt and what follows from it, if this worker still holds the lease: a redelivery or a cancelled
 * subscription since the claim leaves the delivery as they set it.
 */
export async function settleDelivery(
  manager: EntityManager,
  delivery: { deliveryId: number; claimToken: string },
  attempt: Attempt,
  next: { state: DeliveryState; at: Date },
): Promise<void> {
  await execute(manager, ATTEMPT_SQL, [
    delivery.deliveryId,
    at(manager, attempt.attemptedAt),
    attempt.statusCode,
    attempt.error,
    attempt.durationMs,
  ]);
  await execute(manager, SETTLE_SQL, [next.state, at(manager, next.at), delivery.deliveryId, delivery.claimToken]);
}

/** Gives leases back at shutdown: their deliveries are due again at once, for any instance. */
export function releaseClaims(manager: EntityManager, token: string): Promise<number> {
  return execute(manager, 'UPDATE deliveries SET claimed_until = NULL, claim_token = NULL WHERE claim_token = ?', [
    token,
  ]);
}

// ---------------------------------------------------------------------------------------------------------------
// The feed.

export interface StoredEvent {
  rowId: number;
  body: EventBody;
}

type EventRow = { rowId: number; body: string };
const toStored = (row: EventRow): StoredEvent => ({
  rowId: Number(row.rowId),
  body: JSON.parse(row.body) as EventBody,
});

const PAGE_SQL = 'SELECT id AS rowId, body FROM events WHERE issuer_id = ? AND id > ? ORDER BY id LIMIT ?';
const FIND_EVENT_SQL = 'SELECT id AS rowId, body FROM events WHERE issuer_id = ? AND event_id = ?';

/** The issuer's events after the given row, oldest first: a keyset page, stable while events are added. */
export async function eventPage(
  manager: EntityManager,
  issuerId: string,
  afterRowId: number,
  limit: number,
): Promise<StoredEvent[]> {
  return (await select<EventRow>(manager, PAGE_SQL, [issuerId, afterRowId, limit])).map(toStored);
}

export async function findEvent(
  manager: EntityManager,
  issuerId: string,
  eventId: string,
): Promise<StoredEvent | undefined> {
  const [row] = await select<EventRow>(manager, FIND_EVENT_SQL, [issuerId, eventId]);
  return row === undefined ? undefined : toStored(row);
}

export interface DeliveryView {
  webhookId: string;
  state: DeliveryState;
  /** When the next attempt is due; null once the delivery is settled. */
  nextAttemptAt: string | null;
  attempts: { attemptedAt: string; statusCode: number | null; error: string | null; durationMs: number }[];
}

const DELIVERIES_SQL =
  'SELECT d.id AS id, w.webhook_id AS webhookId, d.state AS state, d.next_attempt_at AS nextAttemptAt' +
  ' FROM deliveries d JOIN webhooks w ON w.id = d.webhook_row_id WHERE d.event_row_id = ? ORDER BY d.id';
const ATTEMPTS_SQL =
  'SELECT a.delivery_id AS deliveryId, a.attempted_at AS attemptedAt, a.status_code AS statusCode, a.error AS error,' +
  ' a.duration_ms AS durationMs FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id' +
  ' WHERE d.event_row_id = ? ORDER BY a.id';

/** Each delivery of an event with its attempts, in the order they were made. */
export async function deliveriesOf(manager: EntityManager, eventRowId: number): Promise<DeliveryView[]> {
  const deliveries = await select<{
    id: number;
    webhookId: string;
    state: DeliveryState;
    nextAttemptAt: Date | string;
  }>(manager, DELIVERIES_SQL, [eventRowId]);
  const attempts = await select<{
    deliveryId: number;
    attemptedAt: Date | string;
    statusCode: number | null;
    error: string | null;
    durationMs: number;
  }>(manager, ATTEMPTS_SQL, [eventRowId]);
  return deliveries.map((delivery) => ({
    webhookId: delivery.webhookId,
    state: delivery.state,
    nextAttemptAt: delivery.state === 'PENDING' ? parseDbDate(delivery.nextAttemptAt).toISOString() : null,
    attempts: attempts
      .filter((attempt) => Number(attempt.deliveryId) === Number(delivery.id))
      .map((attempt) => ({
        attemptedAt: parseDbDate(attempt.attemptedAt).toISOString(),
        statusCode: attempt.statusCode === null ? null : Number(attempt.statusCode),
        error: attempt.error,
        durationMs: Number(attempt.durationMs),
      })),
  }));
}

const REQUEUE_SQL =
  "UPDATE deliveries SET state = 'PENDING', attempts = 0, next_attempt_at = ?, claimed_until = NULL," +
  ' claim_token = NULL WHERE event_row_id = ? AND webhook_row_id IN' +
  " (SELECT w.id FROM webhooks w WHERE w.state = 'ACTIVE' AND w.event_types LIKE ?)";

/** Queues the event again for every active subscription to its type; returns how many deliveries that makes. */
export async function requeueEvent(manager: EntityManager, event: StoredEvent, now: Date): Promise<number> {
  const requeued = await execute(manager, REQUEUE_SQL, [at(manager, now), event.rowId, `%,${event.body.type},%`]);
  return requeued + (await fanOut(manager, event.rowId, event.body, now));
}

// ---------------------------------------------------------------------------------------------------------------
// Retention and the backlog.

/** Deletes up to `limit` events created before `cutoff`, with their deliveries and attempts; returns how many. */
export async function purgeEventBatch(manager: EntityManager, cutoff: Date, limit: number): Promise<number> {
  const rows = await select<{ id: number }>(manager, 'SELECT id FROM events WHERE created_at < ? ORDER BY id LIMIT ?', [
    at(manager, cutoff),
    limit,
  ]);
  if (rows.length === 0) return 0;
  const ids = rows.map((row) => Number(row.id));
  const list = marks(ids.length);
  await execute(
    manager,
    `DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_row_id IN (${list}))`,
    ids,
  );
  await execute(manager, `DELETE FROM deliveries WHERE event_row_id IN (${list})`, ids);
  return execute(manager, `DELETE FROM events WHERE id IN (${list})`, ids);
}

const BACKLOG_SQL =
  'SELECT COUNT(*) AS waiting, MIN(e.created_at) AS oldest FROM deliveries d JOIN events e ON e.id = d.event_row_id' +
  " WHERE d.state = 'PENDING'";

/** Deliveries not yet settled, and when the oldest of their events was written. */
export async function backlog(manager: EntityManager): Promise<{ waiting: number; oldest: Date | null }> {
  const [row] = await select<{ waiting: number | string; oldest: Date | string | null }>(manager, BACKLOG_SQL, []);
  return {
    waiting: Number(row?.waiting ?? 0),
    oldest: row?.oldest === null || row?.oldest === undefined ? null : parseDbDate(row.oldest),
  };
}
