// Turns the environment into one typed, validated configuration; refuses to start with one readable line per problem.
import { createPublicKey, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_DATABASE_TIMEOUTS, type DatabaseOptions, type DatabaseTimeouts } from './db/options';

export type DatabaseConfig = DatabaseOptions;

export type JwtKeyConfig =
  | { kind: 'secret'; secret: string; source: 'JWT_SECRET' | 'development secret file' }
  | { kind: 'publicKey'; pem: string; algorithm: 'RS256' | 'ES256' }
  | { kind: 'jwks'; url: string };

/** Requests allowed per window; 0 turns that limit off. Counted in memory, per instance. */
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

export interface Config {
  nodeEnv: string;
  port: number;
  dataDir: string;
  database: DatabaseConfig;
  jwt: JwtKeyConfig & { issuer: string | undefined; audience: string | undefined };
  logLevel: string;
  migrationsRun: boolean;
  rateLimit: RateLimitConfig;
  trustProxy: TrustProxy;
  http: HttpTimeouts;
  /** Set when a development secret is in use, so that the process can warn about it. */
  warnings: string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export const DEFAULT_DATABASE_URL = 'sqlite:./data/corecredit.sqlite';
const DEV_SECRET_FILE = 'jwt-dev-secret';
const MIN_SECRET_LENGTH = 32;

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function parseInteger(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
    return fallback;
  }
  return Number(raw);
}

export function parseDatabaseUrl(raw: string, poolSize: number, problems: string[]): DatabaseConfig {
  if (raw.startsWith('sqlite:')) {
    const path = raw.slice('sqlite:'.length);
    if (path === '') problems.push('DATABASE_URL "sqlite:" needs a file path, e.g. sqlite:./data/corecredit.sqlite');
    return { kind: 'sqlite', path };
  }
  if (/^(mysql|mariadb):\/\//.test(raw)) {
    // mysql2 reads only mysql:// URLs; the scheme still tells TypeORM which server's catalogue to expect.
    const flavor = raw.startsWith('mariadb:') ? 'mariadb' : 'mysql';
    const url = raw.replace(/^mariadb:/, 'mysql:');
    try {
      const parsed = new URL(url);
      if (parsed.pathname.length <= 1)
        problems.push('DATABASE_URL must name a database, e.g. mysql://user:pass@host:3306/corecredit');
    } catch {
      problems.push('DATABASE_URL is not a valid URL');
    }
    return { kind: 'mysql', flavor, url, poolSize };
  }
  problems.push('DATABASE_URL must start with mysql://, mariadb:// or sqlite:');
  return { kind: 'sqlite', path: '' };
}

const PROXY_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

function isProxyAddress(entry: string): boolean {
  if (PROXY_RANGES.includes(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

function parseTrustProxy(raw: string | undefined, problems: string[]): TrustProxy {
  if (raw === undefined || raw === 'false') return false;
  if (/^\d+$/.test(raw) && Number(raw) <= 10) return Number(raw) === 0 ? false : Number(raw);
  const entries = raw.split(',').map((entry) => entry.trim());
  if (raw === 'true' || !entries.every(isProxyAddress)) {
    problems.push(
      `TRUST_PROXY must be false, the number of proxies in front of the service (1 to 10), or a comma-separated list of their addresses or CIDR ranges (loopback, linklocal, uniquelocal allowed) (got "${raw}")`,
    );
    return false;
  }
  return entries;
}

function publicKeyAlgorithm(pem: string, problems: string[]): 'RS256' | 'ES256' {
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType === 'rsa') return 'RS256';
    if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
    problems.push('JWT_PUBLIC_KEY must be an RSA or an EC P-256 public key');
  } catch {
    problems.push('JWT_PUBLIC_KEY is not a PEM public key');
  }
  return 'RS256';
}

/** Reads the development secret from the data folder, creating it on first use. */
function developmentSecret(dataDir: string): string {
  const file = join(dataDir, DEV_SECRET_FILE);
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length >= MIN_SECRET_LENGTH) return secret;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}

function parseJwt(
  env: NodeJS.ProcessEnv,
  nodeEnv: string,
  dataDir: string,
  problems: string[],
  warnings: string[],
): JwtKeyConfig {
  const secret = nonEmpty(env.JWT_SECRET);
  const publicKey = nonEmpty(env.JWT_PUBLIC_KEY);
  const jwksUrl = nonEmpty(env.JWT_JWKS_URL);
  const given = [secret && 'JWT_SECRET', publicKey && 'JWT_PUBLIC_KEY', jwksUrl && 'JWT_JWKS_URL'].filter(Boolean);
  if (given.length > 1)
    problems.push(`set only one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL (got ${given.join(', ')})`);

  if (secret !== undefined) {
    if (secret.length < MIN_SECRET_LENGTH) problems.push(`JWT_SECRET must be at least ${MIN_SECRET_LENGTH} characters`);
    return { kind: 'secret', secret, source: 'JWT_SECRET' };
  }
  if (publicKey !== undefined) {
    // Environment files often carry a PEM on one line with literal \n separators.
    const pem = publicKey.replace(/\\n/g, '\n');
    return { kind: 'publicKey', pem, algorithm: publicKeyAlgorithm(pem, problems) };
  }
  if (jwksUrl !== undefined) {
    if (!/^https?:\/\/[^\s]+$/.test(jwksUrl)) problems.push('JWT_JWKS_URL must be an http(s) URL');
    return { kind: 'jwks', url: jwksUrl };
  }
  if (nodeEnv === 'production') {
    problems.push('NODE_ENV=production needs one of JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL');
    return { kind: 'secret', secret: '', source: 'JWT_SECRET' };
  }
  warnings.push(
    `no JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL is set: using the development secret in ${join(dataDir, DEV_SECRET_FILE)}; never do this in production`,
  );
  return { kind: 'secret', secret: developmentSecret(dataDir), source: 'development secret file' };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const warnings: string[] = [];
  const nodeEnv = nonEmpty(env.NODE_ENV) ?? 'development';
  const dataDir = nonEmpty(env.DATA_DIR) ?? './data';

  const port = parseInteger('PORT', nonEmpty(env.PORT), 3000, 0, 65535, problems);
  const poolSize = parseInteger('DB_POOL_SIZE', nonEmpty(env.DB_POOL_SIZE), 10, 1, 500, problems);
  const timeouts: DatabaseTimeouts = {
    acquireTimeoutMs: parseInteger(
      'DB_ACQUIRE_TIMEOUT_MS',
      nonEmpty(env.DB_ACQUIRE_TIMEOUT_MS),
      DEFAULT_DATABASE_TIMEOUTS.acquireTimeoutMs,
      1,
      600_000,
      problems,
    ),
    queryTimeoutMs: parseInteger(
      'DB_QUERY_TIMEOUT_MS',
      nonEmpty(env.DB_QUERY_TIMEOUT_MS),
      DEFAULT_DATABASE_TIMEOUTS.queryTimeoutMs,
      1,
      600_000,
      problems,
    ),
  };
  const database = {
    ...parseDatabaseUrl(nonEmpty(env.DATABASE_URL) ?? DEFAULT_DATABASE_URL, poolSize, problems),
    ...timeouts,
  };

  const logLevel = nonEmpty(env.LOG_LEVEL) ?? 'info';
  if (!LOG_LEVELS.includes(logLevel))
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);

  const migrationsRaw = nonEmpty(env.MIGRATIONS_RUN) ?? 'true';
  if (!['true', 'false'].includes(migrationsRaw)) problems.push('MIGRATIONS_RUN must be true or false');

  const rateLimit: RateLimitConfig = {
    windowMs: parseInteger(
      'RATE_LIMIT_WINDOW_MS',
      nonEmpty(env.RATE_LIMIT_WINDOW_MS),
      DEFAULT_RATE_LIMIT.windowMs,
      1_000,
      86_400_000,
      problems,
    ),
    perClient: parseInteger(
      'RATE_LIMIT_PER_CLIENT',
      nonEmpty(env.RATE_LIMIT_PER_CLIENT),
      DEFAULT_RATE_LIMIT.perClient,
      0,
      1_000_000,
      problems,
    ),
    perCaller: parseInteger(
      'RATE_LIMIT_PER_CALLER',
      nonEmpty(env.RATE_LIMIT_PER_CALLER),
      DEFAULT_RATE_LIMIT.perCaller,
      0,
      1_000_000,
      problems,
    ),
  };
  const trustProxy = parseTrustProxy(nonEmpty(env.TRUST_PROXY), problems);
  const http: HttpTimeouts = {
    headersTimeoutMs: parseInteger(
      'HTTP_HEADERS_TIMEOUT_MS',
      nonEmpty(env.HTTP_HEADERS_TIMEOUT_MS),
      DEFAULT_HTTP_TIMEOUTS.headersTimeoutMs,
      100,
      600_000,
      problems,
    ),
    requestTimeoutMs: parseInteger(
      'HTTP_REQUEST_TIMEOUT_MS',
      nonEmpty(env.HTTP_REQUEST_TIMEOUT_MS),
      DEFAULT_HTTP_TIMEOUTS.requestTimeoutMs,
      100,
      600_000,
      problems,
    ),
  };
  // Node refuses to create a server whose headers may take longer than the whole request.
  if (http.headersTimeoutMs > http.requestTimeoutMs)
    problems.push('HTTP_HEADERS_TIMEOUT_MS must not be greater than HTTP_REQUEST_TIMEOUT_MS');

  const jwtKey = parseJwt(env, nodeEnv, dataDir, problems, warnings);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    nodeEnv,
    port,
    dataDir,
    database,
    jwt: { ...jwtKey, issuer: nonEmpty(env.JWT_ISSUER), audience: nonEmpty(env.JWT_AUDIENCE) },
    logLevel,
    migrationsRun: migrationsRaw === 'true',
    rateLimit,
    trustProxy,
    http,
    warnings,
  };
}

/** Loads `.env` from the working directory when there is one (command-line entry points only, never tests). */
export function loadDotEnv(): void {
  if (existsSync('.env')) process.loadEnvFile('.env');
}
