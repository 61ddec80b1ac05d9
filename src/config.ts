// Turns the environment into one typed, validated configuration; refuses to start with one readable line per problem.
import { createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { customCleanEnv, EnvError, makeValidator, str } from 'envalid';
import { DEFAULT_DATABASE_TIMEOUTS, type DatabaseOptions } from './db/options';
import { createLogger } from './logger';

export type DatabaseConfig = DatabaseOptions;

/** How tokens are verified: the resolved key that the authenticator is handed. */
export type JwtKeyConfig =
  | { kind: 'secret'; secret: string; source: 'JWT_SECRET' | 'development secret file' }
  | { kind: 'publicKey'; pem: string; algorithm: 'RS256' | 'ES256' }
  | { kind: 'jwks'; url: string };

/**
 * No JWT setting outside production: the key is a secret kept in this file, which loading the configuration only
 * names; `resolveJwtKey` (dev-secret.ts) reads or creates it.
 */
export interface DevelopmentSecret {
  kind: 'development';
  file: string;
}

export interface JwtClaimsConfig {
  issuer: string | undefined;
  audience: string | undefined;
  /** The latest `exp` accepted, in seconds from now: a token may not outlive this. */
  maxLifetimeSeconds: number;
}

export const DEFAULT_MAX_TOKEN_LIFETIME_S = 86_400;

/** Requests allowed per window; 0 turns that limit off. Counted per instance, or in Redis when REDIS_URL is set. */
export interface RateLimitConfig {
  windowMs: number;
  /** Per client address, before the token is verified. */
  perClient: number;
  /** Per caller: token issuerId and sub, once the token is verified. */
  perCaller: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitConfig = { windowMs: 60_000, perClient: 600, perCaller: 300 };

/**
 * Express's `trust proxy`: false (the socket's address is the client), a number of proxy hops, or the proxies'
 * addresses. Never `true`, which would let any client pick its own address with X-Forwarded-For.
 */
export type TrustProxy = false | number | string[];

/** Node's bounds on how long a client may take to send the headers, and the whole request. */
export interface HttpTimeouts {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = { headersTimeoutMs: 10_000, requestTimeoutMs: 15_000 };

/** How long an Idempotency-Key is honoured, and how often each instance purges the expired ones. */
export interface IdempotencyConfig {
  retentionMs: number;
  purgeIntervalMs: number;
}

export const DEFAULT_IDEMPOTENCY: IdempotencyConfig = { retentionMs: 24 * 3_600_000, purgeIntervalMs: 300_000 };

/** Webhook delivery: where subscriptions may point, the retry schedule, the claim lease and the polling. */
export interface WebhookConfig {
  /** http, loopback and private addresses allowed (never link-local or metadata ones). */
  allowInsecure: boolean;
  /** Seconds before each retry; the Standard Webhooks schedule by default. */
  retryScheduleS: number[];
  leaseMs: number;
  pollIntervalMs: number;
}

export const DEFAULT_RETRY_SCHEDULE_S = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];
export const DEFAULT_WEBHOOKS: WebhookConfig = {
  allowInsecure: true,
  retryScheduleS: DEFAULT_RETRY_SCHEDULE_S,
  leaseMs: 30_000,
  pollIntervalMs: 250,
};

/** How long events are kept for the feed, and how often each instance purges the older ones. */
export interface EventsConfig {
  retentionMs: number;
  purgeIntervalMs: number;
}

export const DEFAULT_EVENTS: EventsConfig = { retentionMs: 30 * 86_400_000, purgeIntervalMs: 300_000 };

/**
 * How long operations (the audit trail) are kept, and how often each instance purges the older ones. PCI DSS 10.5.1
 * asks for at least a year of audit history: a shorter retention is refused, not merely warned about.
 */
export interface OperationsConfig {
  retentionMs: number;
  purgeIntervalMs: number;
}

export const MIN_OPERATION_RETENTION_DAYS = 365;
export const DEFAULT_OPERATIONS: OperationsConfig = { retentionMs: 400 * 86_400_000, purgeIntervalMs: 3_600_000 };

/** The process's configuration, its JWT key resolved: what the app is built with. */
export interface Config<Jwt = JwtKeyConfig> {
  nodeEnv: string;
  /** The address to listen on; unset, every interface (IPv4 and IPv6). */
  host: string | undefined;
  port: number;
  dataDir: string;
  database: DatabaseConfig;
  jwt: Jwt & JwtClaimsConfig;
  logLevel: string;
  migrationsRun: boolean;
  rateLimit: RateLimitConfig;
  /** Redis for rate-limit counters shared by every instance; unset, each instance counts in its memory. */
  redisUrl: string | undefined;
  trustProxy: TrustProxy;
  http: HttpTimeouts;
  idempotency: IdempotencyConfig;
  webhooks: WebhookConfig;
  events: EventsConfig;
  operations: OperationsConfig;
  /** Set when a development secret is in use, so that the process can warn about it. */
  warnings: string[];
}

/** What `loadConfig` returns: the environment alone, so the development secret is still only a file name. */
export type LoadedConfig = Config<JwtKeyConfig | DevelopmentSecret>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export const DEFAULT_DATABASE_URL = 'sqlite:./data/corecredit.sqlite';
export const DEV_SECRET_FILE = 'jwt-dev-secret';
export const MIN_SECRET_LENGTH = 32;

// The validators below throw the rest of a sentence that starts with the variable's name, which the reporter adds:
// `PORT` + `must be a whole number from 0 to 65535 (got "eighty")`.

/** envalid's `num` takes "1e3" and "8.5", its `port` refuses 0 (any free port): neither is what these variables mean. */
const wholeNumber = (min: number, max: number) =>
  makeValidator<number>((raw) => {
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max)
      throw new EnvError(`must be a whole number from ${min} to ${max} (got "${raw}")`);
    return Number(raw);
  });

/** envalid's `bool` also takes yes, on, 1...: only the two spellings the documentation gives are accepted. */
const trueOrFalse = makeValidator<boolean>((raw) => {
  if (raw !== 'true' && raw !== 'false') throw new EnvError('must be true or false');
  return raw === 'true';
});

const oneOf = (choices: readonly string[]) =>
  makeValidator<string>((raw) => {
    if (!choices.includes(raw)) throw new EnvError(`must be one of ${choices.join(', ')} (got "${raw}")`);
    return raw;
  });

type DatabaseLocation = { kind: 'mysql'; flavor: 'mysql' | 'mariadb'; url: string } | { kind: 'sqlite'; path: string };

function parseDatabaseUrl(raw: string): DatabaseLocation {
  if (raw.startsWith('sqlite:')) {
    const path = raw.slice('sqlite:'.length);
    if (path === '') throw new EnvError('"sqlite:" needs a file path, e.g. sqlite:./data/corecredit.sqlite');
    return { kind: 'sqlite', path };
  }
  if (/^(mysql|mariadb):\/\//.test(raw)) {
    // mysql2 reads only mysql:// URLs; the scheme still tells TypeORM which server's catalogue to expect.
    const flavor = raw.startsWith('mariadb:') ? 'mariadb' : 'mysql';
    const url = raw.replace(/^mariadb:/, 'mysql:');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new EnvError('is not a valid URL');
    }
    if (parsed.pathname.length <= 1)
      throw new EnvError('must name a database, e.g. mysql://user:pass@host:3306/corecredit');
    return { kind: 'mysql', flavor, url };
  }
  throw new EnvError('must start with mysql://, mariadb:// or sqlite:');
}

const databaseUrl = makeValidator<DatabaseLocation>(parseDatabaseUrl);

/** An IP address of this host to listen on (0.0.0.0, ::, 127.0.0.1, ...) or a host name such as localhost. */
const listenAddress = makeValidator<string>((raw) => {
  if (isIP(raw) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(raw))
    throw new EnvError(`must be an IP address or a host name to listen on, e.g. 0.0.0.0 or 127.0.0.1 (got "${raw}")`);
  return raw;
});

const PROXY_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

function isProxyAddress(entry: string): boolean {
  if (PROXY_RANGES.includes(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

const trustProxy = makeValidator<TrustProxy>((raw) => {
  if (raw === 'false') return false;
  if (/^\d+$/.test(raw) && Number(raw) <= 10) return Number(raw) === 0 ? false : Number(raw);
  const entries = raw.split(',').map((entry) => entry.trim());
  if (raw === 'true' || !entries.every(isProxyAddress)) {
    throw new EnvError(
      `must be false, the number of proxies in front of the service (1 to 10), or a comma-separated list of their addresses or CIDR ranges (loopback, linklocal, uniquelocal allowed) (got "${raw}")`,
    );
  }
  return entries;
});

const jwtSecret = makeValidator<string>((raw) => {
  if (raw.length < MIN_SECRET_LENGTH) throw new EnvError(`must be at least ${MIN_SECRET_LENGTH} characters`);
  return raw;
});

type PublicKey = Extract<JwtKeyConfig, { kind: 'publicKey' }>;

const jwtPublicKey = makeValidator<PublicKey>((raw) => {
  // Environment files often carry a PEM on one line with literal \n separators.
  const pem = raw.replace(/\\n/g, '\n');
  let key;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new EnvError('is not a PEM public key');
  }
  if (key.asymmetricKeyType === 'rsa') return { kind: 'publicKey', pem, algorithm: 'RS256' };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')
    return { kind: 'publicKey', pem, algorithm: 'ES256' };
  throw new EnvError('must be an RSA or an EC P-256 public key');
});

const httpUrl = makeValidator<string>((raw) => {
  if (!/^https?:\/\/[^\s]+$/.test(raw)) throw new EnvError('must be an http(s) URL');
  return raw;
});

/** `5,300,1800`: whole seconds, at least one, each at most a day. */
const retrySchedule = makeValidator<number[]>((raw) => {
  const parts = raw.split(',').map((part) => part.trim());
  if (parts.length > 20 || !parts.every((part) => /^\d{1,5}$/.test(part) && Number(part) <= 86_400))
    throw new EnvError(`must be 1 to 20 comma-separated whole numbers of seconds, each at most 86400 (got "${raw}")`);
  return parts.map(Number);
});

const redisUrl = makeValidator<string>((raw) => {
  if (!/^rediss?:\/\/[^\s]+$/.test(raw)) throw new EnvError('must be a redis:// or rediss:// URL');
  return raw;
});

const optional = { default: undefined };

/** Every variable the service reads, in the order their problems are listed. */
const schema = {
  NODE_ENV: str({ default: 'development' }),
  DATA_DIR: str({ default: './data' }),
  HOST: listenAddress(optional),
  PORT: wholeNumber(0, 65535)({ default: 3000 }),
  DB_POOL_SIZE: wholeNumber(1, 500)({ default: 10 }),
  DB_ACQUIRE_TIMEOUT_MS: wholeNumber(1, 600_000)({ default: DEFAULT_DATABASE_TIMEOUTS.acquireTimeoutMs }),
  DB_QUERY_TIMEOUT_MS: wholeNumber(1, 600_000)({ default: DEFAULT_DATABASE_TIMEOUTS.queryTimeoutMs }),
  DB_READ_YOUR_WRITES: oneOf(['auto', 'true', 'false'])({ default: 'auto' }),
  DATABASE_URL: databaseUrl({ default: parseDatabaseUrl(DEFAULT_DATABASE_URL) }),
  LOG_LEVEL: oneOf(LOG_LEVELS)({ default: 'info' }),
  MIGRATIONS_RUN: trueOrFalse({ default: true }),
  RATE_LIMIT_WINDOW_MS: wholeNumber(1_000, 86_400_000)({ default: DEFAULT_RATE_LIMIT.windowMs }),
  RATE_LIMIT_PER_CLIENT: wholeNumber(0, 1_000_000)({ default: DEFAULT_RATE_LIMIT.perClient }),
  RATE_LIMIT_PER_CALLER: wholeNumber(0, 1_000_000)({ default: DEFAULT_RATE_LIMIT.perCaller }),
  REDIS_URL: redisUrl(optional),
  TRUST_PROXY: trustProxy({ default: false }),
  HTTP_HEADERS_TIMEOUT_MS: wholeNumber(100, 600_000)({ default: DEFAULT_HTTP_TIMEOUTS.headersTimeoutMs }),
  HTTP_REQUEST_TIMEOUT_MS: wholeNumber(100, 600_000)({ default: DEFAULT_HTTP_TIMEOUTS.requestTimeoutMs }),
  IDEMPOTENCY_RETENTION_HOURS: wholeNumber(1, 8_760)({ default: DEFAULT_IDEMPOTENCY.retentionMs / 3_600_000 }),
  IDEMPOTENCY_PURGE_INTERVAL_MS: wholeNumber(1_000, 86_400_000)({ default: DEFAULT_IDEMPOTENCY.purgeIntervalMs }),
  WEBHOOK_ALLOW_INSECURE: trueOrFalse(optional),
  WEBHOOK_RETRY_SCHEDULE_S: retrySchedule({ default: DEFAULT_RETRY_SCHEDULE_S }),
  WEBHOOK_LEASE_S: wholeNumber(11, 3_600)({ default: DEFAULT_WEBHOOKS.leaseMs / 1000 }),
  WEBHOOK_POLL_INTERVAL_MS: wholeNumber(50, 60_000)({ default: DEFAULT_WEBHOOKS.pollIntervalMs }),
  EVENT_RETENTION_DAYS: wholeNumber(1, 3_650)({ default: DEFAULT_EVENTS.retentionMs / 86_400_000 }),
  EVENT_PURGE_INTERVAL_MS: wholeNumber(1_000, 86_400_000)({ default: DEFAULT_EVENTS.purgeIntervalMs }),
  OPERATION_RETENTION_DAYS: wholeNumber(
    MIN_OPERATION_RETENTION_DAYS,
    36_500,
  )({ default: DEFAULT_OPERATIONS.retentionMs / 86_400_000 }),
  OPERATION_PURGE_INTERVAL_MS: wholeNumber(1_000, 86_400_000)({ default: DEFAULT_OPERATIONS.purgeIntervalMs }),
  JWT_SECRET: jwtSecret(optional),
  JWT_PUBLIC_KEY: jwtPublicKey(optional),
  JWT_JWKS_URL: httpUrl(optional),
  JWT_ISSUER: str(optional),
  JWT_AUDIENCE: str(optional),
  JWT_MAX_TOKEN_LIFETIME_S: wholeNumber(60, 31_536_000)({ default: DEFAULT_MAX_TOKEN_LIFETIME_S }),
};

type Variable = keyof typeof schema;
const JWT_KEY_VARIABLES = ['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL'] as const;

/** The schema's variables as given; an empty or blank value means unset, as in most deployment tools' env files. */
function givenVariables(env: NodeJS.ProcessEnv): Partial<Record<Variable, string>> {
  const given: Partial<Record<Variable, string>> = {};
  for (const name of Object.keys(schema) as Variable[]) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') given[name] = value;
  }
  return given;
}

/**
 * Pure: reads only `env`, touches no file. Throws a ConfigError that lists every problem, each variable's own in the
 * schema's order, then those between variables.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const raw = givenVariables(env);
  const problems: string[] = [];
  const values = customCleanEnv(raw, schema, (cleaned) => ({ ...cleaned }), {
    reporter: ({ errors }) => {
      for (const [name, error] of Object.entries(errors))
        if (error instanceof Error) problems.push(`${name} ${error.message}`);
    },
  });
  // A variable that failed its own check is absent here (undefined), whatever its type says.
  const valid = values as { [K in Variable]: (typeof values)[K] | undefined };

  const headersTimeoutMs = valid.HTTP_HEADERS_TIMEOUT_MS;
  const requestTimeoutMs = valid.HTTP_REQUEST_TIMEOUT_MS;
  // Node refuses to create a server whose headers may take longer than the whole request.
  if (headersTimeoutMs !== undefined && requestTimeoutMs !== undefined && headersTimeoutMs > requestTimeoutMs)
    problems.push('HTTP_HEADERS_TIMEOUT_MS must not be greater than HTTP_REQUEST_TIMEOUT_MS');

  const jwtGiven = JWT_KEY_VARIABLES.filter((name) => raw[name] !== undefined);
  if (jwtGiven.length > 1)
    problems.push(`set only one of ${JWT_KEY_VARIABLES.join(', ')} (got ${jwtGiven.join(', ')})`);
  if (jwtGiven.length === 0 && values.NODE_ENV === 'production')
    problems.push('NODE_ENV=production needs one of JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL');

  if (problems.length > 0) throw new ConfigError(problems);

  const warnings: string[] = [];
  let jwtKey: JwtKeyConfig | DevelopmentSecret;
  if (values.JWT_SECRET !== undefined) jwtKey = { kind: 'secret', secret: values.JWT_SECRET, source: 'JWT_SECRET' };
  else if (values.JWT_PUBLIC_KEY !== undefined) jwtKey = values.JWT_PUBLIC_KEY;
  else if (values.JWT_JWKS_URL !== undefined) jwtKey = { kind: 'jwks', url: values.JWT_JWKS_URL };
  else {
    const file = join(values.DATA_DIR, DEV_SECRET_FILE);
    warnings.push(
      `no JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL is set: using the development secret in ${file}; never do this in production`,
    );
    jwtKey = { kind: 'development', file };
  }

  const timeouts = { acquireTimeoutMs: values.DB_ACQUIRE_TIMEOUT_MS, queryTimeoutMs: values.DB_QUERY_TIMEOUT_MS };
  const location = values.DATABASE_URL;
  return {
    nodeEnv: values.NODE_ENV,
    host: values.HOST,
    port: values.PORT,
    dataDir: values.DATA_DIR,
    database:
      location.kind === 'mysql'
        ? {
            ...location,
            poolSize: values.DB_POOL_SIZE,
            readYourWrites: values.DB_READ_YOUR_WRITES === 'auto' ? 'auto' : values.DB_READ_YOUR_WRITES === 'true',
            ...timeouts,
          }
        : { ...location, ...timeouts },
    jwt: {
      ...jwtKey,
      issuer: values.JWT_ISSUER,
      audience: values.JWT_AUDIENCE,
      maxLifetimeSeconds: values.JWT_MAX_TOKEN_LIFETIME_S,
    },
    logLevel: values.LOG_LEVEL,
    migrationsRun: values.MIGRATIONS_RUN,
    rateLimit: {
      windowMs: values.RATE_LIMIT_WINDOW_MS,
      perClient: values.RATE_LIMIT_PER_CLIENT,
      perCaller: values.RATE_LIMIT_PER_CALLER,
    },
    redisUrl: values.REDIS_URL,
    trustProxy: values.TRUST_PROXY,
    http: { headersTimeoutMs: values.HTTP_HEADERS_TIMEOUT_MS, requestTimeoutMs: values.HTTP_REQUEST_TIMEOUT_MS },
    idempotency: {
      retentionMs: values.IDEMPOTENCY_RETENTION_HOURS * 3_600_000,
      purgeIntervalMs: values.IDEMPOTENCY_PURGE_INTERVAL_MS,
    },
    webhooks: {
      // Outside production a developer's receiver on localhost must work; in production only https to public hosts.
      allowInsecure: values.WEBHOOK_ALLOW_INSECURE ?? values.NODE_ENV !== 'production',
      retryScheduleS: values.WEBHOOK_RETRY_SCHEDULE_S,
      leaseMs: values.WEBHOOK_LEASE_S * 1000,
      pollIntervalMs: values.WEBHOOK_POLL_INTERVAL_MS,
    },
    events: {
      retentionMs: values.EVENT_RETENTION_DAYS * 86_400_000,
      purgeIntervalMs: values.EVENT_PURGE_INTERVAL_MS,
    },
    operations: {
      retentionMs: values.OPERATION_RETENTION_DAYS * 86_400_000,
      purgeIntervalMs: values.OPERATION_PURGE_INTERVAL_MS,
    },
    warnings,
  };
}

/** Loads `.env` from the working directory when there is one (command-line entry points only, never tests). */
export function loadDotEnv(): void {
  if (existsSync('.env')) process.loadEnvFile('.env');
}

/**
 * How an entry point reports a wrong configuration: `text` for people at a terminal (the command-line tools),
 * `json` for the server, every line of which is a log line.
 */
export type ConfigErrorFormat = 'text' | 'json';

/**
 * The start of every entry point (server, command-line tools, TypeORM CLI): `.env`, then the environment, validated.
 * On a problem it reports them all and ends the process; how start-up errors are written is decided here alone.
 */
export function loadConfigOrExit(format: ConfigErrorFormat = 'text'): LoadedConfig {
  loadDotEnv();
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      // LOG_LEVEL may be among the problems: the line is written at `info`, whatever was asked for.
      if (format === 'json') createLogger('info').error({ problems: error.problems }, 'invalid configuration');
      else console.error(error.message);
      // pino flushes its pending lines on exit.
      process.exit(1);
    }
    throw error;
  }
}
