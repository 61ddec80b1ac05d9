// Request budgets with express-rate-limit: per client address before authentication, so that a flood never reaches
// the token verifier, and per caller (issuer and token sub) once the token is verified, so that one integration
// cannot starve the others behind a shared address. Counters live in this instance's memory, or in Redis for a fleet
// (rate-limit-store.ts), which fails open: a request that cannot be counted is served.
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, type Options, rateLimit, type RateLimitInfo } from 'express-rate-limit';
import { LRUCache } from 'lru-cache';
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

/** Counters' keys whose partition key is remembered: more than the clients and callers of one window, and bounded. */
const PARTITION_KEYS_KEPT = 10_000;
const partitionKeys = new LRUCache<string, string>({ max: PARTITION_KEYS_KEPT });

/**
 * The `pk` of a counter in RateLimit-Policy (IETF draft 8): a SHA-256 prefix of its key, which does not give the key
 * away, exactly as express-rate-limit computes it, but once per key rather than once per request and limiter.
 */
function partitionKey(key: string): string {
  let pk = partitionKeys.get(key);
  if (pk === undefined) {
    pk = Buffer.from(createHash('sha256').update(key).digest('hex').slice(0, 12)).toString('base64');
    partitionKeys.set(key, pk);
  }
  return pk;
}

const secondsUntil = (windowMs: number, resetTime: Date | undefined): number =>
  resetTime === undefined
    ? Math.ceil(windowMs / 1000)
    : Math.max(0, Math.ceil((resetTime.getTime() - Date.now()) / 1000));

/** The draft-8 `RateLimit` and `RateLimit-Policy` fields of one policy, as express-rate-limit writes them. */
function setPolicyHeaders(response: Response, name: string, windowMs: number, info: RateLimitInfo): void {
  if (response.headersSent) return;
  response.append('RateLimit', `"${name}"; r=${info.remaining}; t=${secondsUntil(windowMs, info.resetTime)}`);
  response.append(
    'RateLimit-Policy',
    `"${name}"; q=${info.limit}; w=${Math.ceil(windowMs / 1000)}; pk=:${partitionKey(info.key)}:`,
  );
}

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
  // One `RateLimit` field per policy (IETF draft 8), so that a client sees which budget it is spending. They are
  // written here, from what the limiter counted, rather than by the library, which hashes the key on every request.
  const property = `rateLimit_${name}`;
  const infoOf = (request: Request) => (request as unknown as Record<string, RateLimitInfo | undefined>)[property];
  const counted = rateLimit({
    windowMs,
    limit,
    standardHeaders: false,
    legacyHeaders: false,
    requestPropertyName: property,
    // The policy fields and Retry-After, then the error middleware answers in the route's face.
    handler: (request, response, next) => {
      const info = infoOf(request);
      if (info !== undefined && !response.headersSent) {
        setPolicyHeaders(response, name, windowMs, info);
        response.setHeader('Retry-After', String(secondsUntil(windowMs, info.resetTime)));
      }
      next(new AppError('RATE_LIMITED'));
    },
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
  // A request the store could not count (passOnStoreError) has no info, and gets no fields, as with the library's.
  return (request, response, next) =>
    counted(request, response, (error?: unknown) => {
      const info = infoOf(request);
      if (error === undefined && info !== undefined) setPolicyHeaders(response, name, windowMs, info);
      next(error);
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
