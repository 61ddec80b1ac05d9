// The process: configuration → data source → migrations → listen → graceful shutdown.
import 'reflect-metadata';
import { createServer, type ServerResponse } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { Registry } from 'prom-client';
import { createApp } from './app';
import { type Config, loadConfigOrExit } from './config';
import { createDatabase, type Database } from './db/database';
import { resolveJwtKey } from './dev-secret';
import type { Logger } from 'pino';
import { answerClientErrors } from './http/client-errors';
import { schedulePurge } from './http/idempotency';
import { startDeliveryWorker } from './events/delivery';
import { scheduleEventPurge } from './events/retention';
import { scheduleOperationPurge } from './operations/retention';
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

/**
 * The logger for what goes wrong at start-up: the configured one once there is a configuration, before that one at
 * `info`. Every line the process writes is a JSON log line, a failed start included.
 */
let startupLogger: Logger | undefined;

async function main(): Promise<void> {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  const config = resolveJwtKey(loadConfigOrExit('json'));
  const logger = createLogger(config.logLevel);
  startupLogger = logger;
  for (const warning of config.warnings) logger.warn(warning);

  const database = createDatabase(config.database);
  try {
    await serve(config, logger, database);
  } catch (error) {
    // A pool left open would keep the process alive after the failure is logged.
    await database.close().catch(() => undefined);
    throw error;
  }
}

async function serve(config: Config, logger: Logger, database: Database): Promise<void> {
  await database.initialize();
  if (config.migrationsRun) {
    const applied = await database.migrate({
      onWait: (holder) => logger.info({ holder }, 'waiting for the migration lock'),
    });
    if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');
  }

  const redis = config.redisUrl !== undefined ? connectRateLimitRedis(config.redisUrl, logger) : undefined;
  const registry = new Registry();
  const app = await createApp({ database, config, logger, registry, rateLimitCounters: redis?.counters });
  const deliveries = startDeliveryWorker(database, config.webhooks, logger, registry);
  const stopEventPurge = scheduleEventPurge(
    database,
    { retentionMs: config.events.retentionMs, intervalMs: config.events.purgeIntervalMs },
    logger,
  );
  const stopOperationPurge = scheduleOperationPurge(
    database,
    { retentionMs: config.operations.retentionMs, intervalMs: config.operations.purgeIntervalMs },
    logger,
  );
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

  // Unset, config.host lets Node listen on every interface (IPv6 and IPv4).
  server.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  logger.info(
    {
      host: config.host,
      address: typeof address === 'object' && address !== null ? address.address : undefined,
      port: typeof address === 'object' && address !== null ? address.port : config.port,
      database: config.database.kind,
    },
    'listening',
  );

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
      // Deliveries in flight finish (each within its 10 s timeout) or give their lease back before the pool closes.
      Promise.all([stopPurge(), stopEventPurge(), stopOperationPurge(), deliveries.stop()])
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

/**
 * Not process.exit(): pino writes to stdout asynchronously, and exiting at once could drop or reorder the last lines
 * (a write still in flight lands after the ones flushed at exit). An empty event loop lets them land.
 */
function end(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), EXIT_FALLBACK_MS).unref();
}

main().catch((error: unknown) => {
  // The error through the logger's serializer: its type, message, stack and driver codes, never SQL or parameters.
  (startupLogger ?? createLogger('info')).fatal({ err: error }, 'failed to start');
  end(1);
});
