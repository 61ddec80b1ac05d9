// The process: configuration → data source → migrations → listen → graceful shutdown.
import 'reflect-metadata';
import { createServer, type ServerResponse } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { createApp } from './app';
import { loadConfigOrExit } from './config';
import { createDatabase } from './db/database';
import { resolveJwtKey } from './dev-secret';
import { answerClientErrors } from './http/client-errors';
import { schedulePurge } from './http/idempotency';
import { connectRateLimitRedis } from './http/redis-client';
import { createLogger } from './logger';

/** In-flight requests get this long to finish after SIGTERM/SIGINT before their connections are closed anyway. */
const SHUTDOWN_GRACE_MS = 10_000;
/** After the pool is closed the process should end by itself at once; this ends it if something still holds it. */
const EXIT_FALLBACK_MS = 2_000;

/**
 * Slow or idle clients must not hold sockets: bound the time to send the headers, the whole request (both from the
 * configuration: HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS), and the idle time between keep-alive requests.
 * Node checks the first two only every `connectionsCheckingInterval` (30 s by default, and settable only at
 * creation), so it is shortened for the bounds to hold.
 */
const SERVER_TIMEOUTS = {
  keepAliveTimeout: 5_000,
  connectionsCheckingInterval: 1_000,
};

/**
 * V8 sizes the old generation from the machine's memory, not the service's needs. Growing it at most twice its live
 * size between major collections bounds RSS under load with no hard limit that a burst could run into. V8 reads the
 * flag at every collection, so setting it at start-up applies however the process is started.
 */
const HEAP_GROWING_PERCENT = 100;

async function main(): Promise<void> {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  const config = resolveJwtKey(loadConfigOrExit());
  const logger = createLogger(config.logLevel);
  for (const warning of config.warnings) logger.warn(warning);

  const database = createDatabase(config.database);
  await database.initialize();
  if (config.migrationsRun) {
    const applied = await database.migrate();
    if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');
  }

  const redis = config.redisUrl !== undefined ? connectRateLimitRedis(config.redisUrl, logger) : undefined;
  const app = await createApp({ database, config, logger, rateLimitCounters: redis?.counters });
  const stopPurge = schedulePurge(
    database,
    { retentionMs: config.idempotency.retentionMs, intervalMs: config.idempotency.purgeIntervalMs },
    logger,
  );
  const server = createServer({
    ...SERVER_TIMEOUTS,
    headersTimeout: config.http.headersTimeoutMs,
    requestTimeout: config.http.requestTimeoutMs,
  });
  // A request cut off by those bounds is answered in its face's shape when it can still be, and logged as sent.
  answerClientErrors(server);

  let stopping = false;
  const inFlight = new Set<ServerResponse>();
  // While stopping, every response asks its client to reconnect (to another instance) instead of reusing the
  // connection; otherwise a kept-alive socket would hold the shutdown open for the whole keep-alive timeout.
  server.on('request', (_req, res: ServerResponse) => {
    if (stopping) res.setHeader('Connection', 'close');
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  // Registered after the listener above, which must see each request before the app can answer it.
  server.on('request', app);

  server.listen(config.port);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  logger.info(
    {
      port: typeof address === 'object' && address !== null ? address.port : config.port,
      database: config.database.kind,
    },
    'listening',
  );

  // Not process.exit(): pino writes to stdout asynchronously, and exiting at once could drop or reorder the last
  // lines (a write still in flight lands after the ones flushed at exit). An empty event loop lets them land.
  const end = (code: number): void => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), EXIT_FALLBACK_MS).unref();
  };

  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => {
      logger.warn({ connections: inFlight.size }, 'in-flight requests did not finish in time; closing anyway');
      server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      stopPurge()
        .then(() => redis?.close())
        .then(() => database.close())
        .then(() => {
          logger.info('stopped');
          end(0);
        })
        .catch((error: unknown) => {
          logger.error({ err: error }, 'closing the database failed');
          end(1);
        });
    });
    for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    server.closeIdleConnections();
    // Logged once the listener is closed, so that anyone who reads it knows new connections are refused.
    logger.info({ signal, inFlight: inFlight.size }, 'shutting down: no new connections, finishing in-flight requests');
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error('failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
