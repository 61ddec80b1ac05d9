// Builds the Express application from its dependencies. It never listens: server.ts does, and tests use it in-process.
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { Config } from './config';
import { coreCreditRouter } from './corecredit/routes';
import { createAuthenticator } from './http/auth';
import { observeRequests } from './http/correlation';
import { errorHandler, routeNotFound } from './http/envelope';
import { healthRouter } from './http/health';
import { createMetrics } from './http/metrics';
import { callerRateLimit, clientRateLimit } from './http/rate-limit';
import { securityHeaders } from './http/security-headers';
import { issuerRouter } from './issuer/routes';
import { docsRouter } from './openapi/routes';

export interface AppDependencies {
  dataSource: DataSource;
  /** Without `rateLimit` nothing is rate limited (tests that are not about it); server.ts always passes it. */
  config: Pick<Config, 'jwt'> & Partial<Pick<Config, 'rateLimit' | 'trustProxy'>>;
  logger: Logger;
}

export async function createApp({ dataSource, config, logger }: AppDependencies): Promise<Express> {
  const limitClient = config.rateLimit !== undefined ? clientRateLimit(config.rateLimit, logger) : undefined;
  const limitCaller = config.rateLimit !== undefined ? callerRateLimit(config.rateLimit, logger) : undefined;
  const auth = await createAuthenticator(config.jwt, limitCaller);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  if (config.trustProxy !== undefined && config.trustProxy !== false) app.set('trust proxy', config.trustProxy);

  app.use(securityHeaders());
  const metrics = createMetrics(dataSource);
  // First, so that every answer, refusals included, has its correlation id, its log line and its count.
  app.use(observeRequests(logger, metrics));
  app.use(metrics.router);
  app.use(healthRouter(dataSource));
  app.use(docsRouter());
  // Health, metrics and docs are above: probes and scrapes are never limited.
  if (limitClient !== undefined) app.use(limitClient);
  app.use(coreCreditRouter(dataSource, auth));
  app.use(issuerRouter(dataSource, auth));
  app.use(routeNotFound());
  app.use(errorHandler());
  return app;
}
