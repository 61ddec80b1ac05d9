// Rate-limit counters shared by a fleet: a Redis store for express-rate-limit, which fails open when Redis is away.
import type { IncrementResponse, Options, Store } from 'express-rate-limit';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { RedisStore, type RedisReply } from 'rate-limit-redis';

/** A Redis command took longer than this: the request is served without the limit rather than held. */
export const REDIS_COMMAND_TIMEOUT_MS = 500;

/** What the limiters need of a Redis client: node-redis's `sendCommand` (the process owns and connects the client). */
export interface RedisCommandSender {
  sendCommand(args: string[]): Promise<unknown>;
}

/** Counters in Redis under `prefix` (one key space per deployment or test), shared by every instance that uses it. */
export interface SharedCounters {
  redis: RedisCommandSender;
  prefix?: string;
}

export const DEFAULT_REDIS_PREFIX = 'corecredit:rl:';

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The errors of every limiter's store are counted in one metric; the first error of an outage is logged once as a
 * warning, and the next success logs that the counters are shared again.
 */
export class StoreHealth {
  private failing = false;
  private readonly errors: Counter<'limiter'>;

  constructor(
    registry: Registry,
    private readonly logger: Logger,
  ) {
    this.errors = new Counter({
      name: 'rate_limit_store_errors_total',
      help: 'Rate-limit store (Redis) errors; each such request was served without being counted (fail open).',
      labelNames: ['limiter'],
      registers: [registry],
    });
    this.errors.inc({ limiter: 'client' }, 0);
    this.errors.inc({ limiter: 'caller' }, 0);
  }

  failed(limiter: string, error: unknown): void {
    this.errors.inc({ limiter });
    if (this.failing) return;
    this.failing = true;
    this.logger.warn(
      { err: error, limiter },
      'rate-limit store (Redis) unavailable: requests are served without rate limiting until it answers again',
    );
  }

  succeeded(): void {
    if (!this.failing) return;
    this.failing = false;
    this.logger.info('rate-limit store (Redis) answers again: rate limits are enforced');
  }
}

/**
 * rate-limit-redis loads its scripts once, in `init`: when Redis was away then, every later increment would fail
 * for good. This store loads them again after any error, bounds each command, and reports to `health`.
 */
export class FailOpenRedisStore implements Store {
  private readonly inner: RedisStore;
  private scriptsLoaded = false;
  readonly prefix: string;

  constructor(
    private readonly limiter: string,
    counters: SharedCounters,
    private readonly health: StoreHealth,
  ) {
    this.prefix = `${counters.prefix ?? DEFAULT_REDIS_PREFIX}${limiter}:`;
    this.inner = new RedisStore({
      prefix: this.prefix,
      sendCommand: (...args: string[]) =>
        withTimeout(counters.redis.sendCommand(args), REDIS_COMMAND_TIMEOUT_MS) as Promise<RedisReply>,
    });
  }

  init(options: Options): void {
    this.inner.windowMs = options.windowMs;
  }

  async increment(key: string): Promise<IncrementResponse> {
    try {
      if (!this.scriptsLoaded) {
        this.inner.incrementScriptSha = this.inner.loadIncrementScript();
        this.inner.getScriptSha = this.inner.loadGetScript();
        await Promise.all([this.inner.incrementScriptSha, this.inner.getScriptSha]);
        this.scriptsLoaded = true;
      }
      const result = await this.inner.increment(key);
      this.health.succeeded();
      return result;
    } catch (error) {
      this.scriptsLoaded = false;
      this.health.failed(this.limiter, error);
      // express-rate-limit's passOnStoreError serves the request.
      throw error;
    }
  }

  async decrement(key: string): Promise<void> {
    await this.inner.decrement(key).catch((error: unknown) => this.health.failed(this.limiter, error));
  }

  async resetKey(key: string): Promise<void> {
    await this.inner.resetKey(key).catch((error: unknown) => this.health.failed(this.limiter, error));
  }
}
