// Builds the Express application from its dependencies. It never listens: server.ts does, and tests use it in-process.
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type Config, DEFAULT_IDEMPOTENCY, DEFAULT_WEBHOOKS } from './config';
import { envelopeError } from './corecredit/envelope';
import { coreCreditRouter } from './corecredit/routes';
import type { Database } from './db/database';
import { createAuthenticator } from './http/auth';
import { checkCorrelationId, observeRequests } from './http/correlation';
import { errorHandler, routeNotFound } from './http/errors';
import { healthRouter } from './http/health';
import { idempotency } from './http/idempotency';
import { createMetrics } from './http/metrics';
import { callerRateLimit, clientRateLimit, limiterSetup } from './http/rate-limit';
import type { SharedCounters } from './http/rate-limit-store';
import { securityHeaders } from './http/security-headers';
import { issuerRouter } from './issuer/routes';
import { docsRouter } from './openapi/routes';

export interface AppDependencies {
  database: Database;
  /** Without `rateLimit` nothing is rate limited (tests that are not about it); server.ts always passes it. */
  config: Pick<Config, 'jwt'> & Partial<Pick<Config, 'rateLimit' | 'trustProxy' | 'idempotency' | 'webhooks'>>;
  logger: Logger;
  /** Where the metrics go; server.ts shares it with the webhook delivery worker. A registry of its own otherwise. */
  registry?: Registry;
  /** Rate-limit counters shared by the fleet (a Redis client the process owns); without it, in this instance. */
  rateLimitCounters?: SharedCounters;
}

export async function createApp({
  database,
  config,
  logger,
  registry,
  rateLimitCounters,
}: AppDependencies): Promise<Express> {
  const metrics = createMetrics(database, registry);
  const limits = limiterSetup(logger, metrics.registry, rateLimitCounters);
  const limitClient = config.rateLimit !== undefined ? clientRateLimit(config.rateLimit, limits) : undefined;
  const limitCaller = config.rateLimit !== undefined ? callerRateLimit(config.rateLimit, limits) : undefined;
  const auth = await createAuthenticator(config.jwt, limitCaller);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  if (config.trustProxy !== undefined && config.trustProxy !== false) app.set('trust proxy', config.trustProxy);

  app.use(securityHeaders());
  // First, so that every answer, refusals included, has its correlation id, its log line and its count.
  app.use(observeRequests(logger, metrics));
  // Probes, scrapes and docs: never limited, never refused for a correlation id.
  app.use(metrics.router);
  app.use(healthRouter(database));
  app.use(docsRouter());

  // Each face answers in its own shape, from its first check to its last error; the rest of the URL space answers in
  // CoreCredit's envelope. Every request passes the entry checks once.
  const entry = [checkCorrelationId(), ...(limitClient !== undefined ? [limitClient] : [])];
  const retentionMs = (config.idempotency ?? DEFAULT_IDEMPOTENCY).retentionMs;
  const idempotent = idempotency(database, retentionMs);
  const face = { database, auth, entry, idempotent, registry: metrics.registry };
  app.use(coreCreditRouter(face));
  app.use(issuerRouter(face, { allowInsecureWebhooks: (config.webhooks ?? DEFAULT_WEBHOOKS).allowInsecure }));
  app.use(...entry, routeNotFound(), errorHandler(envelopeError));
  return app;
}
