// Every statement about webhook subscriptions. Each takes the unit of work's manager first.
import type { EntityManager } from 'typeorm';
import { Webhook } from '../db/entities';
import { execute, parseDbDate, rowInserter, select } from '../db/statements';
import type { EventType } from './events';

const insert = rowInserter(Webhook);

/** A subscription as the issuer API lists it: never its secret. */
export interface WebhookView {
  webhookId: string;
  url: string;
  eventTypes: EventType[];
  state: 'ACTIVE' | 'DISABLED';
  /** ISO 8601, UTC. */
  createdAt: string;
}

/** `,a,b,`: a LIKE '%,a,%' matches one type, never a prefix of another. */
const storedTypes = (types: readonly EventType[]): string => `,${types.join(',')},`;
const parsedTypes = (stored: string): EventType[] => stored.split(',').filter((t) => t !== '') as EventType[];

export async function insertWebhook(
  manager: EntityManager,
  webhook: { webhookId: string; issuerId: string; url: string; eventTypes: readonly EventType[]; secret: string },
  now: Date,
): Promise<void> {
  await insert(manager, { ...webhook, eventTypes: storedTypes(webhook.eventTypes), state: 'ACTIVE', createdAt: now });
}

const LIST_SQL =
  'SELECT webhook_id AS webhookId, url, event_types AS eventTypes, state, created_at AS createdAt FROM webhooks' +
  " WHERE issuer_id = ? AND state <> 'DELETED' ORDER BY id";

export async function listWebhooks(manager: EntityManager, issuerId: string): Promise<WebhookView[]> {
  const rows = await select<
    Omit<WebhookView, 'createdAt' | 'eventTypes'> & { eventTypes: string; createdAt: Date | string }
  >(manager, LIST_SQL, [issuerId]);
  return rows.map((row) => ({
    ...row,
    eventTypes: parsedTypes(row.eventTypes),
    createdAt: parseDbDate(row.createdAt).toISOString(),
  }));
}

const CANCEL_PENDING_SQL =
  "UPDATE deliveries SET state = ?, claimed_until = NULL, claim_token = NULL WHERE webhook_row_id = ? AND state = 'PENDING'";

/**
 * Ends a subscription (DELETED by the issuer, DISABLED by a 410 from its receiver) and settles what it still owed:
 * cancelled when deleted, failed when the receiver is gone. Returns whether a subscription of this issuer changed.
 */
export async function endWebhook(
  manager: EntityManager,
  where: { issuerId: string; webhookId: string },
  state: 'DELETED' | 'DISABLED',
): Promise<boolean> {
  const [row] = await select<{ id: number }>(
    manager,
    "SELECT id FROM webhooks WHERE issuer_id = ? AND webhook_id = ? AND state <> 'DELETED'",
    [where.issuerId, where.webhookId],
  );
  if (row === undefined) return false;
  await execute(manager, 'UPDATE webhooks SET state = ? WHERE id = ?', [state, row.id]);
  await execute(manager, CANCEL_PENDING_SQL, [state === 'DELETED' ? 'CANCELLED' : 'FAILED', row.id]);
  return true;
}
