// The delivery worker: claims due deliveries under a lease, POSTs each signed (Standard Webhooks), and settles it:
// delivered, retried on the schedule, or failed. At-least-once: a lease that runs out (its instance died) makes the
// delivery due again, with the same webhook-id.
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import type { Database } from '../db/database';
import { type ClaimedDelivery, backlog, claimDue, releaseClaims, settleDelivery } from './outbox-repository';
import { guardedLookup, urlRefusal } from './url-policy';
import { endWebhook } from './webhook-repository';

/** A receiver must answer 2xx within this long. */
export const DELIVERY_TIMEOUT_MS = 10_000;

export interface DeliveryOptions {
  /** Seconds to wait before each retry; once spent, the delivery is failed. */
  retryScheduleS: number[];
  /** How long a claim holds; longer than DELIVERY_TIMEOUT_MS, so that no attempt is made twice at once. */
  leaseMs: number;
  pollIntervalMs: number;
  allowInsecure: boolean;
  /** Attempts in flight at once per instance. */
  concurrency?: number;
}

type Result = { statusCode: number } | { error: string };

/** POSTs the body; no redirect is followed (a 3xx is a failed attempt). */
function post(url: string, body: string, headers: Record<string, string>, allowInsecure: boolean): Promise<Result> {
  const refusal = urlRefusal(url, allowInsecure);
  if (refusal !== undefined) return Promise.resolve({ error: refusal });
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers },
      lookup: guardedLookup(allowInsecure),
      agent: false,
    });
    const timer = setTimeout(
      () => req.destroy(new Error(`no answer within ${DELIVERY_TIMEOUT_MS} ms`)),
      DELIVERY_TIMEOUT_MS,
    );
    req.once('response', (res) => {
      clearTimeout(timer);
      res.resume();
      res.once('error', () => undefined);
      resolve({ statusCode: res.statusCode ?? 0 });
    });
    req.once('error', (error: Error) => {
      clearTimeout(timer);
      resolve({ error: error.message.slice(0, 255) });
    });
    req.end(body);
  });
}

export interface DeliveryWorker {
  /** Claims and attempts what is due now, without waiting for the next poll. */
  poke(): void;
  /** Stops claiming, lets the attempts in flight finish, and gives back any lease still held. */
  stop(): Promise<void>;
}

function deliveryMetrics(registry: Registry | undefined, database: Database) {
  const registers = registry === undefined ? [] : [registry];
  new Gauge({
    name: 'webhook_deliveries_waiting',
    help: 'Deliveries of events to webhooks not yet settled (pending or being retried), all instances.',
    registers,
    async collect() {
      this.set((await database.read(backlog)).waiting);
    },
  });
  new Gauge({
    name: 'webhook_oldest_undelivered_event_age_seconds',
    help: 'Age of the oldest event with a delivery not yet settled; 0 when none waits.',
    registers,
    async collect() {
      const { oldest } = await database.read(backlog);
      this.set(oldest === null ? 0 : Math.max(0, (Date.now() - oldest.getTime()) / 1000));
    },
  });
  return new Counter({
    name: 'webhook_deliveries_total',
    help: 'Delivery attempts by this instance, by result: delivered, retry, failed, disabled (410 Gone).',
    labelNames: ['result'] as const,
    registers,
  });
}

export function startDeliveryWorker(
  database: Database,
  options: DeliveryOptions,
  logger: Logger,
  registry?: Registry,
): DeliveryWorker {
  const concurrency = options.concurrency ?? 10;
  const skipLocked = database.kind === 'mysql';
  const attempts = deliveryMetrics(registry, database);
  const inFlight = new Set<Promise<void>>();
  /** The leases this instance holds, by claim, with how many of their attempts are still running. */
  const held = new Map<string, number>();
  let stopping = false;
  let claiming: Promise<void> | undefined;

  async function attempt(delivery: ClaimedDelivery): Promise<void> {
    const attemptedAt = new Date();
    const headers = {
      'webhook-id': delivery.eventId,
      'webhook-timestamp': String(Math.floor(attemptedAt.getTime() / 1000)),
      'webhook-signature': new Webhook(delivery.secret).sign(delivery.eventId, attemptedAt, delivery.body),
    };
    const result = await post(delivery.url, delivery.body, headers, options.allowInsecure);
    const durationMs = Date.now() - attemptedAt.getTime();
    const statusCode = 'statusCode' in result ? result.statusCode : null;
    const number = delivery.attempts + 1;
    const retryIn = options.retryScheduleS[delivery.attempts];
    const outcome =
      statusCode !== null && statusCode >= 200 && statusCode < 300
        ? 'delivered'
        : statusCode === 410
          ? 'disabled'
          : retryIn !== undefined
            ? 'retry'
            : 'failed';
    const next =
      outcome === 'retry'
        ? { state: 'PENDING' as const, at: new Date(Date.now() + (retryIn ?? 0) * 1000) }
        : { state: outcome === 'delivered' ? ('DELIVERED' as const) : ('FAILED' as const), at: attemptedAt };
    const error = 'error' in result ? result.error : null;
    await database.transaction(async (manager) => {
      await settleDelivery(manager, delivery, { attemptedAt, statusCode, error, durationMs }, next);
      if (outcome === 'disabled')
        await endWebhook(manager, { issuerId: delivery.issuerId, webhookId: delivery.webhookId }, 'DISABLED');
    });
    attempts.inc({ result: outcome });
    // The URL's origin only: its path or query may carry the receiver's own credentials.
    logger.info(
      {
        eventId: delivery.eventId,
        eventType: delivery.eventType,
        webhookId: delivery.webhookId,
        target: new URL(delivery.url).origin,
        attempt: number,
        statusCode,
        error,
        durationMs,
        result: outcome,
        ...(outcome === 'retry' ? { nextAttemptAt: next.at.toISOString() } : {}),
      },
      'webhook delivery attempt',
    );
  }

  function start(delivery: ClaimedDelivery, token: string): void {
    const running: Promise<void> = attempt(delivery)
      .then(() => {
        // Settled, its lease given back with it. One whose settle failed stays counted, so that stop() releases it.
        const left = (held.get(token) ?? 1) - 1;
        if (left > 0) held.set(token, left);
        else held.delete(token);
      })
      .catch((err: unknown) => logger.warn({ err, eventId: delivery.eventId }, 'recording a webhook attempt failed'))
      .finally(() => {
        inFlight.delete(running);
        poke();
      });
    inFlight.add(running);
  }

  async function claimOnce(): Promise<void> {
    const room = concurrency - inFlight.size;
    if (stopping || room <= 0) return;
    const token = randomUUID();
    const now = new Date();
    const claimed = await database.transaction((manager) =>
      claimDue(manager, { now, until: new Date(now.getTime() + options.leaseMs), token, limit: room, skipLocked }),
    );
    if (claimed.length > 0) held.set(token, claimed.length);
    for (const delivery of claimed) start(delivery, token);
  }

  function poke(): void {
    if (claiming !== undefined || stopping) return;
    claiming = claimOnce()
      .catch((err: unknown) => logger.warn({ err }, 'claiming webhook deliveries failed'))
      .finally(() => {
        claiming = undefined;
      });
  }

  const timer = setInterval(poke, options.pollIntervalMs);
  timer.unref();

  return {
    poke,
    async stop() {
      stopping = true;
      clearInterval(timer);
      await claiming;
      await Promise.all([...inFlight]);
      // Settled attempts gave their leases back; any still held (a settle that failed) is released for others now.
      for (const token of held.keys()) await database.transaction((manager) => releaseClaims(manager, token));
      held.clear();
    },
  };
}
