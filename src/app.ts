// Builds the Express application from its dependencies. It never listens: server.ts does, and tests use it in-process.
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { Config } from './config';
import { coreCreditRouter } from './corecredit/routes';
import { createTokenVerifier } from './http/auth';
import { assignCorrelationId, rejectInvalidCorrelationId } from './http/correlation';
import { errorHandler, routeNotFound } from './http/envelope';
import { healthRouter } from './http/health';
import { requestLogger } from './http/logging';
import { issuerRouter } from './issuer/routes';

export interface AppDependencies {
  dataSource: DataSource;
  config: Pick<Config, 'jwt'>;
  logger: Logger;
}

export async function createApp({ dataSource, config, logger }: AppDependencies): Promise<Express> {
  const verify = await createTokenVerifier(config.jwt);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(assignCorrelationId(), requestLogger(logger), rejectInvalidCorrelationId());
  app.use(healthRouter(dataSource));
  app.use(coreCreditRouter(dataSource, verify));
  app.use(issuerRouter(dataSource, verify));
  app.use(routeNotFound());
  app.use(errorHandler());
  return app;
}
