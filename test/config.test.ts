import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config';

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
  it('when nothing is set outside production, then it runs on the embedded SQLite with a generated development secret', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cc-config-'));
    const config = loadConfig({ DATA_DIR: dataDir });
    expect(config).toMatchObject({ port: 3000, logLevel: 'info', migrationsRun: true, database: { kind: 'sqlite', path: './data/corecredit.sqlite' } });
    expect(config.jwt).toMatchObject({ kind: 'secret', source: 'development secret file' });
    expect(config.warnings.join(' ')).toMatch(/development secret/);

    const file = join(dataDir, 'jwt-dev-secret');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(config.jwt.kind === 'secret' ? config.jwt.secret : '');
    // Generated once: the next start uses the same secret, so tokens minted earlier stay valid.
    expect(loadConfig({ DATA_DIR: dataDir }).jwt).toEqual(config.jwt);
  });

  it('when NODE_ENV=production has no JWT setting, then it refuses to start and says which variables to set', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual(['NODE_ENV=production needs one of JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL']);
  });

  it('when several variables are wrong, then every problem is reported on its own line', () => {
    const problems = problemsOf({ PORT: 'eighty', DATABASE_URL: 'postgres://x/y', LOG_LEVEL: 'loud', JWT_SECRET: 'short', MIGRATIONS_RUN: 'yes', DB_POOL_SIZE: '0' });
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

  it.each([
    ['mysql://app:pw@db:3306/corecredit', { kind: 'mysql', flavor: 'mysql', url: 'mysql://app:pw@db:3306/corecredit' }],
    ['mariadb://app:pw@db:3306/corecredit', { kind: 'mysql', flavor: 'mariadb', url: 'mysql://app:pw@db:3306/corecredit' }],
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
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(loadConfig({ JWT_PUBLIC_KEY: rsa.replace(/\n/g, '\\n') }).jwt).toMatchObject({ kind: 'publicKey', algorithm: 'RS256', pem: rsa });
    expect(loadConfig({ JWT_PUBLIC_KEY: ec }).jwt).toMatchObject({ kind: 'publicKey', algorithm: 'ES256' });
    expect(problemsOf({ JWT_PUBLIC_KEY: 'not a key' })).toEqual(['JWT_PUBLIC_KEY is not a PEM public key']);
  });

  it('when JWT_ISSUER and JWT_AUDIENCE are set, then tokens must carry them', () => {
    expect(loadConfig({ JWT_SECRET: secret, JWT_ISSUER: 'https://idp', JWT_AUDIENCE: 'corecredit' }).jwt).toMatchObject({
      issuer: 'https://idp',
      audience: 'corecredit',
    });
  });
});
