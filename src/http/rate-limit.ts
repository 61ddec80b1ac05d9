// Request budgets with express-rate-limit: per client address before authentication, so that a flood never reaches
// the token verifier, and per caller (issuer and token sub) once the token is verified, so that one integration
// cannot starve the others behind a shared address. Counters live in this instance's memory, or in Redis for a fleet
// (rate-limit-store.ts), which fails open: a request that cannot be counted is served.
import { isIPv4 } from 'node:net';
import type { RequestHandler } from 'express';
import { ipKeyGenerator, type Options, rateLimit } from 'express-rate-limit';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RateLimitConfig } from '../config';
import { AppError } from '../errors';
import { principalOf } from './context';
import { FailOpenRedisStore, type SharedCounters, StoreHealth } from './rate-limit-store';

/** Where the limiters keep their counters: this instance's memory unless `shared` is given. */
export interface LimiterSetup {
  logger: Logger;
  shared?: { counters: SharedCounters; health: StoreHealth };
}

/** The counters' setup for one app: Redis when `counters` is given, with its error metric on the app's registry. */
export function limiterSetup(logger: Logger, registry: Registry, counters: SharedCounters | undefined): LimiterSetup {
  return counters === undefined
    ? { logger }
    : { logger, shared: { counters, health: new StoreHealth(registry, logger) } };
}

/** express-rate-limit's own line for a store error the store has already counted and logged once per outage. */
const STORE_ERROR_MESSAGE = /error from store/;

function limiter(
  name: string,
  windowMs: number,
  limit: number,
  { logger, shared }: LimiterSetup,
  extra: Partial<Options>,
): RequestHandler | undefined {
  // express-rate-limit reads 0 as "refuse everything"; here it means the limit is off.
  if (limit === 0) return undefined;
  const store = shared !== undefined ? { store: new FailOpenRedisStore(name, shared.counters, shared.health) } : {};
  return rateLimit({
    windowMs,
    limit,
    // One `RateLimit` field per policy (IETF draft 8), so that a client sees which budget it is spending.
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    identifier: name,
    // Retry-After is set by the library before the handler runs; the error middleware answers in the route's face.
    handler: (_req, _res, next) => next(new AppError('RATE_LIMITED')),
    // Its configuration checks (e.g. X-Forwarded-For seen without TRUST_PROXY) go to the service log, not stderr.
    logger: {
      warn: (error: unknown, message?: string) => logger.warn({ err: error }, message ?? `rate limiter ${name}`),
      error: (error: unknown, message?: string) => {
        if (message !== undefined && STORE_ERROR_MESSAGE.test(message)) return;
        logger.error({ err: error }, message ?? `rate limiter ${name}`);
      },
    },
    // Redis away: the request is served uncounted (fail open), and the store counts and logs it.
    passOnStoreError: true,
    ...store,
    ...extra,
  });
}

/**
 * An IPv4 client of a dual-stack socket (`::ffff:203.0.113.7`) counts as its IPv4 address, as ipKeyGenerator would
 * count it, without being parsed as an IPv6 address on every request (a measurable share of a request's CPU).
 */
function mappedIPv4(ip: string | undefined): string | undefined {
  const candidate = ip?.startsWith('::ffff:') === true ? ip.slice(7) : undefined;
  return candidate !== undefined && isIPv4(candidate) ? candidate : undefined;
}

/**
 * Per client address (`req.ip`: the socket's, or X-Forwarded-For's when `trust proxy` is set); IPv6 clients by their
 * /56 network, so that one host cannot escape its limit by rotating addresses.
 */
export function clientRateLimit(config: RateLimitConfig, setup: LimiterSetup): RequestHandler | undefined {
  return limiter('client', config.windowMs, config.perClient, setup, {
    keyGenerator: (request) => mappedIPv4(request.ip) ?? ipKeyGenerator(request.ip ?? ''),
  });
}

/** Per caller; mount it where the principal is known. A token without `sub` shares its issuer's sub-less budget. */
export function callerRateLimit(config: RateLimitConfig, setup: LimiterSetup): RequestHandler | undefined {
  return limiter('caller', config.windowMs, config.perCaller, setup, {
    keyGenerator: (_req, res) => {
      const { issuerId, sub } = principalOf(res);
      return JSON.stringify([issuerId, sub]);
    },
  });
}
