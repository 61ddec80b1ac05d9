// Webhook subscriptions: an issuer subscribes a URL to event types, gets the signing secret once, lists and deletes.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Database } from '../db/database';
import { AppError } from '../errors';
import type { EventType } from './events';
import { resolvedUrlRefusal } from './url-policy';
import { endWebhook, insertWebhook, listWebhooks as selectWebhooks, type WebhookView } from './webhook-repository';

export type { WebhookView };

export interface CreatedWebhook {
  webhookId: string;
  url: string;
  eventTypes: EventType[];
  /** `whsec_` + base64 of 24 random bytes: shown this once, never again. */
  secret: string;
}

export async function createWebhook(
  database: Database,
  issuerId: string,
  request: { url: string; eventTypes: EventType[] },
  policy: { allowInsecure: boolean },
): Promise<CreatedWebhook> {
  const refusal = await resolvedUrlRefusal(request.url, policy.allowInsecure);
  if (refusal !== undefined)
    throw new AppError('WEBHOOK_URL_REFUSED', { message: `The webhook URL is refused: ${refusal}.` });
  const eventTypes = [...new Set(request.eventTypes)];
  const created: CreatedWebhook = {
    webhookId: `wh_${randomUUID().replaceAll('-', '')}`,
    url: request.url,
    eventTypes,
    secret: `whsec_${randomBytes(24).toString('base64')}`,
  };
  await database.transaction((manager) => insertWebhook(manager, { ...created, issuerId }, new Date()));
  return created;
}

export function listWebhooks(database: Database, issuerId: string): Promise<WebhookView[]> {
  return database.read((manager) => selectWebhooks(manager, issuerId));
}

/** Deletes the subscription; what it was still owed is cancelled. */
export async function deleteWebhook(database: Database, issuerId: string, webhookId: string): Promise<void> {
  const ended = await database.transaction((manager) => endWebhook(manager, { issuerId, webhookId }, 'DELETED'));
  if (!ended) throw new AppError('WEBHOOK_NOT_FOUND');
}
