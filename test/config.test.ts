import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, loadConfigOrExit } from '../src/config';
import { resolveJwtKey } from '../src/dev-secret';

const secret = 'x'.repeat(32);

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration from the environment', () => {
  it('when nothing is set outside production, then it runs on the embedded SQLite and names the development secret file', () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'cc-config-')), 'data');
    const config = loadConfig({ DATA_DIR: dataDir });
    expect(config).toMatchObject({
      host: undefined,
      port: 3000,
      logLevel: 'info',
      migrationsRun: true,
      database: { kind: 'sqlite', path: './data/corecredit.sqlite' },
      idempotency: { retentionMs: 24 * 3_600_000, purgeIntervalMs: 300_000 },
    });
    expect(config.jwt).toEqual({
      kind: 'development',
      file: join(dataDir, 'jwt-dev-secret'),
      issuer: undefined,
      audience: undefined,
      maxLifetimeSeconds: 86_400,
    });
    expect(config.warnings.join(' ')).toMatch(/development secret/);
  });

  it('when the configuration is loaded, then nothing is written: not the data folder, not the secret file', () => {
    const parent = mkdtempSync(join(tmpdir(), 'cc-config-'));
    loadConfig({ DATA_DIR: join(parent, 'data') });
    expect(readdirSync(parent)).toEqual([]);
  });

  it('when the development secret is resolved, then it is created once (owner-only) and reused on the next start', () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'cc-config-')), 'data');
    const file = join(dataDir, 'jwt-dev-secret');
    const first = resolveJwtKey(loadConfig({ DATA_DIR: dataDir, JWT_ISSUER: 'https://idp' }));
    expect(first.jwt).toMatchObject({ kind: 'secret', source: 'development secret file', issuer: 'https://idp' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.jwt.kind === 'secret' ? first.jwt.secret : '');
    expect(first.jwt.kind === 'secret' && first.jwt.secret.length).toBeGreaterThanOrEqual(32);
    // Generated once: the next start uses the same secret, so tokens minted earlier stay valid.
    expect(resolveJwtKey(loadConfig({ DATA_DIR: dataDir, JWT_ISSUER: 'https://idp' })).jwt).toEqual(first.jwt);
  });

  it('when the development secret file holds too short a secret, then a new one replaces it', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cc-config-'));
    const file = join(dataDir, 'jwt-dev-secret');
    writeFileSync(file, 'short\n', { mode: 0o644 });
    const { jwt } = resolveJwtKey(loadConfig({ DATA_DIR: dataDir }));
    expect(jwt.kind === 'secret' && jwt.secret).toBe(readFileSync(file, 'utf8').trim());
    expect(readFileSync(file, 'utf8').trim()).not.toBe('short');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('when a JWT setting is given, then resolving it changes nothing and writes no file', () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'cc-config-')), 'data');
    const config = loadConfig({ DATA_DIR: dataDir, JWT_SECRET: secret });
    expect(resolveJwtKey(config)).toEqual(config);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('when NODE_ENV=production has no JWT setting, then it refuses to start and says which variables to set', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual([
      'NODE_ENV=production needs one of JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL',
    ]);
  });

  it('when several variables are wrong, then every problem is reported on its own line', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      DATABASE_URL: 'postgres://x/y',
      LOG_LEVEL: 'loud',
      JWT_SECRET: 'short',
      MIGRATIONS_RUN: 'yes',
      DB_POOL_SIZE: '0',
    });
    expect(problems).toEqual([
      'PORT must be a whole number from 0 to 65535 (got "eighty")',
      'DB_POOL_SIZE must be a whole number from 1 to 500 (got "0")',
      'DATABASE_URL must start with mysql://, mariadb:// or sqlite:',
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
      'MIGRATIONS_RUN must be true or false',
      'JWT_SECRET must be at least 32 characters',
    ]);
    expect(() => loadConfig({ PORT: 'eighty', JWT_SECRET: secret })).toThrow(/Invalid configuration:\n {2}- PORT/);
  });

  it('when many variables are wrong at once, then the message lists each problem on its own line', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: '70000',
        DB_QUERY_TIMEOUT_MS: '1.5',
        LOG_LEVEL: 'LOUD',
        RATE_LIMIT_WINDOW_MS: '1e3',
        TRUST_PROXY: 'everyone',
        JWT_PUBLIC_KEY: 'not a key',
        JWT_JWKS_URL: 'ftp://idp/jwks',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message.split('\n')).toEqual([
      'Invalid configuration:',
      '  - PORT must be a whole number from 0 to 65535 (got "70000")',
      '  - DB_QUERY_TIMEOUT_MS must be a whole number from 1 to 600000 (got "1.5")',
      '  - LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "LOUD")',
      '  - RATE_LIMIT_WINDOW_MS must be a whole number from 1000 to 86400000 (got "1e3")',
      expect.stringMatching(/^ {2}- TRUST_PROXY must be false, .* \(got "everyone"\)$/),
      '  - JWT_PUBLIC_KEY is not a PEM public key',
      '  - JWT_JWKS_URL must be an http(s) URL',
      '  - set only one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL (got JWT_PUBLIC_KEY, JWT_JWKS_URL)',
    ]);
  });

  it('when a variable is empty or blank, then it is unset and takes its default', () => {
    expect(loadConfig({ JWT_SECRET: secret, PORT: '', LOG_LEVEL: '  ', DATABASE_URL: '' })).toMatchObject({
      port: 3000,
      logLevel: 'info',
      database: { kind: 'sqlite', path: './data/corecredit.sqlite' },
    });
  });

  it('when an HTTP bound is itself wrong, then only that is reported, not a comparison with a value never taken', () => {
    expect(
      problemsOf({ JWT_SECRET: secret, HTTP_HEADERS_TIMEOUT_MS: 'soon', HTTP_REQUEST_TIMEOUT_MS: '5000' }),
    ).toEqual(['HTTP_HEADERS_TIMEOUT_MS must be a whole number from 100 to 600000 (got "soon")']);
  });

  it('when a command-line tool loads a wrong configuration, then it prints every problem as text and exits with 1 (the server writes JSON: startup.test.ts)', () => {
    jest.replaceProperty(process, 'env', { PORT: 'eighty', JWT_SECRET: 'short' });
    const printed = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    jest.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Error(`exit ${String(code)}`);
    });
    try {
      expect(() => loadConfigOrExit()).toThrow('exit 1');
      expect(printed).toHaveBeenCalledWith(
        'Invalid configuration:\n  - PORT must be a whole number from 0 to 65535 (got "eighty")\n  - JWT_SECRET must be at least 32 characters',
      );
    } finally {
      jest.restoreAllMocks();
    }
  });

  it.each([
    ['mysql://app:pw@db:3306/corecredit', { kind: 'mysql', flavor: 'mysql', url: 'mysql://app:pw@db:3306/corecredit' }],
    [
      'mariadb://app:pw@db:3306/corecredit',
      { kind: 'mysql', flavor: 'mariadb', url: 'mysql://app:pw@db:3306/corecredit' },
    ],
    ['sqlite:/var/lib/cc.sqlite', { kind: 'sqlite', path: '/var/lib/cc.sqlite' }],
  ])('when DATABASE_URL is %s, then the database is %j', (url, expected) => {
    expect(loadConfig({ DATABASE_URL: url, JWT_SECRET: secret }).database).toMatchObject(expected);
  });

  it.each([
    ['mysql://db:3306', 'DATABASE_URL must name a database, e.g. mysql://user:pass@host:3306/corecredit'],
    ['sqlite:', 'DATABASE_URL "sqlite:" needs a file path, e.g. sqlite:./data/corecredit.sqlite'],
  ])('when DATABASE_URL is %s, then it says what is missing', (url, problem) => {
    expect(problemsOf({ DATABASE_URL: url, JWT_SECRET: secret })).toEqual([problem]);
  });

  it('when more than one JWT setting is given, then it refuses', () => {
    expect(problemsOf({ JWT_SECRET: secret, JWT_JWKS_URL: 'https://idp.example/jwks' })).toEqual([
      'set only one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL (got JWT_SECRET, JWT_JWKS_URL)',
    ]);
  });

  it('when JWT_PUBLIC_KEY is an RSA or a P-256 key (newlines written as \\n), then RS256 or ES256 is pinned', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    expect(loadConfig({ JWT_PUBLIC_KEY: rsa.replace(/\n/g, '\\n') }).jwt).toMatchObject({
      kind: 'publicKey',
      algorithm: 'RS256',
      pem: rsa,
    });
    expect(loadConfig({ JWT_PUBLIC_KEY: ec }).jwt).toMatchObject({ kind: 'publicKey', algorithm: 'ES256' });
    expect(problemsOf({ JWT_PUBLIC_KEY: 'not a key' })).toEqual(['JWT_PUBLIC_KEY is not a PEM public key']);
  });

  it('when JWT_ISSUER and JWT_AUDIENCE are set, then tokens must carry them', () => {
    expect(loadConfig({ JWT_SECRET: secret, JWT_ISSUER: 'https://idp', JWT_AUDIENCE: 'corecredit' }).jwt).toMatchObject(
      {
        issuer: 'https://idp',
        audience: 'corecredit',
      },
    );
  });

  it('when nothing is set, then the rate limits, the proxy trust and the HTTP bounds have their documented defaults', () => {
    expect(loadConfig({ JWT_SECRET: secret })).toMatchObject({
      rateLimit: { windowMs: 60_000, perClient: 600, perCaller: 300 },
      trustProxy: false,
      http: { headersTimeoutMs: 10_000, requestTimeoutMs: 15_000 },
    });
  });

  it('when the rate limits, TRUST_PROXY and the HTTP bounds are set, then they are taken (0 turns a limit off)', () => {
    const config = loadConfig({
      JWT_SECRET: secret,
      RATE_LIMIT_WINDOW_MS: '1000',
      RATE_LIMIT_PER_CLIENT: '0',
      RATE_LIMIT_PER_CALLER: '25',
      TRUST_PROXY: '10.0.0.0/8, loopback,2001:db8::/32',
      HTTP_HEADERS_TIMEOUT_MS: '2000',
      HTTP_REQUEST_TIMEOUT_MS: '2000',
    });
    expect(config).toMatchObject({
      rateLimit: { windowMs: 1000, perClient: 0, perCaller: 25 },
      trustProxy: ['10.0.0.0/8', 'loopback', '2001:db8::/32'],
      http: { headersTimeoutMs: 2000, requestTimeoutMs: 2000 },
    });
    expect(loadConfig({ JWT_SECRET: secret, TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ JWT_SECRET: secret, TRUST_PROXY: '0' }).trustProxy).toBe(false);
  });

  it('when REDIS_URL is set, then the rate-limit counters go there; unset, they stay in memory; not a Redis URL, refused', () => {
    expect(loadConfig({ JWT_SECRET: secret }).redisUrl).toBeUndefined();
    expect(loadConfig({ JWT_SECRET: secret, REDIS_URL: 'redis://cache:6379/0' }).redisUrl).toBe('redis://cache:6379/0');
    expect(problemsOf({ JWT_SECRET: secret, REDIS_URL: 'http://cache:6379' })).toEqual([
      'REDIS_URL must be a redis:// or rediss:// URL',
    ]);
  });

  it('when the rate limits, TRUST_PROXY or the HTTP bounds are wrong, then each is reported', () => {
    expect(
      problemsOf({
        JWT_SECRET: secret,
        RATE_LIMIT_WINDOW_MS: '0',
        RATE_LIMIT_PER_CLIENT: '-1',
        RATE_LIMIT_PER_CALLER: 'many',
        TRUST_PROXY: 'true',
        HTTP_HEADERS_TIMEOUT_MS: '20000',
        HTTP_REQUEST_TIMEOUT_MS: '5000',
      }),
    ).toEqual([
      'RATE_LIMIT_WINDOW_MS must be a whole number from 1000 to 86400000 (got "0")',
      'RATE_LIMIT_PER_CLIENT must be a whole number from 0 to 1000000 (got "-1")',
      'RATE_LIMIT_PER_CALLER must be a whole number from 0 to 1000000 (got "many")',
      expect.stringMatching(/^TRUST_PROXY must be false, .* \(got "true"\)$/),
      'HTTP_HEADERS_TIMEOUT_MS must not be greater than HTTP_REQUEST_TIMEOUT_MS',
    ]);
    expect(problemsOf({ JWT_SECRET: secret, TRUST_PROXY: '10.0.0.0/33' })).toEqual([
      expect.stringMatching(/^TRUST_PROXY /),
    ]);
    expect(problemsOf({ JWT_SECRET: secret, TRUST_PROXY: 'proxy.internal' })).toEqual([
      expect.stringMatching(/^TRUST_PROXY /),
    ]);
  });
});
