// Builds the app in-process on the suite's database (SQLite file of its own, or this run's MariaDB database),
// with real tokens, plus the factories and row readers the tests assert with.
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Express } from 'express';
import { type JWTPayload, SignJWT } from 'jose';
import { createLogger } from '../../src/logger';
import type { DataSource } from 'typeorm';
import { type AppDependencies, createApp } from '../../src/app';
import type { Config, DatabaseConfig } from '../../src/config';
import { SAMPLE_ENVELOPE } from '../../src/corecredit/openapi';
import { createDatabase, type Database } from '../../src/db/database';
import { Account, AccountLink, Consumer, Operation } from '../../src/db/entities';
import type { RegisterState } from '../../src/links/lifecycle';
import { registerAccount } from '../../src/links/register';
import type { RequestContext } from '../../src/operations/context';
import { mysqlUrl } from './mariadb';

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';
export const onMariaDb = process.env.TEST_DATABASE === 'mariadb';

export interface TestContext {
  database: Database;
  /** The database's DataSource, for the tests' own reads of rows. */
  dataSource: DataSource;
  app: Express;
  config: AppDependencies['config'];
  close(): Promise<void>;
}

/** The database this test file uses: on MariaDB the run's database, on SQLite a new file. */
export function testDatabase(): DatabaseConfig {
  if (onMariaDb) {
    const url = process.env.TEST_MARIADB_DATABASE_URL;
    if (url === undefined) throw new Error('the MariaDB suite database was not created (global setup did not run)');
    return { kind: 'mysql', flavor: 'mariadb', url: mysqlUrl(url), poolSize: 10 };
  }
  return { kind: 'sqlite', path: join(tmpdir(), `cc-test-${process.pid}-${randomUUID()}.sqlite`) };
}

/** A database of the suite's, migrated (on MariaDB the run's database was migrated once by the global setup). */
export async function openDatabase(options: DatabaseConfig = testDatabase()): Promise<Database> {
  const database = createDatabase(options);
  await database.initialize();
  if (options.kind === 'sqlite') await database.migrate();
  return database;
}

export const defaultJwtConfig: Config['jwt'] = {
  kind: 'secret',
  secret: TEST_SECRET,
  source: 'JWT_SECRET',
  issuer: undefined,
  audience: undefined,
  maxLifetimeSeconds: 86_400,
};

export async function createTestContext(
  options: {
    databaseOptions?: DatabaseConfig;
    jwt?: Config['jwt'];
    logStream?: Writable;
    /** A database another context opened: two app instances over one database. */
    database?: Database;
    /** Off unless given, so that suites sending many requests are not throttled. */
    rateLimit?: Config['rateLimit'];
    trustProxy?: Config['trustProxy'];
    /** Rate-limit counters in Redis, shared by the contexts given the same ones. */
    rateLimitCounters?: AppDependencies['rateLimitCounters'];
  } = {},
): Promise<TestContext> {
  const databaseOptions = options.databaseOptions ?? testDatabase();
  const database = options.database ?? (await openDatabase(databaseOptions));
  const config: AppDependencies['config'] = {
    jwt: options.jwt ?? defaultJwtConfig,
    rateLimit: options.rateLimit,
    trustProxy: options.trustProxy,
  };
  const logger = options.logStream !== undefined ? createLogger('info', options.logStream) : createLogger('silent');
  const app = await createApp({ database, config, logger, rateLimitCounters: options.rateLimitCounters });
  return {
    database,
    dataSource: database.dataSource,
    app,
    config,
    async close() {
      if (options.database === undefined) await database.close();
      if (databaseOptions.kind === 'sqlite') {
        for (const suffix of ['', '-wal', '-shm']) rmSync(`${databaseOptions.path}${suffix}`, { force: true });
      }
    },
  };
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A new issuer id per test: all data is issuer-scoped, so tests sharing a database never see each other's rows. */
export function randomIssuerId(): string {
  return `T${Array.from(randomBytes(9), (b) => ALNUM[b % ALNUM.length]).join('')}`;
}

export function randomDigits(length: number): string {
  return `${randomInt(1, 10)}${Array.from({ length: length - 1 }, () => randomInt(0, 10)).join('')}`;
}

export interface TokenOptions {
  scope?: string;
  /** The caller's name; `null` leaves the claim out. */
  sub?: string | null;
  ssUserId?: string;
  expiresIn?: string | number;
  secret?: string;
}

/** A real HS256 token signed with the test secret. */
export function mintToken(issuerId: string, options: TokenOptions = {}, extraClaims: JWTPayload = {}): Promise<string> {
  const claims: JWTPayload = {
    issuerId,
    scope: options.scope ?? 'selfservice:delink selfservice:link selfservice:read',
    ...extraClaims,
  };
  if (options.ssUserId !== undefined) claims.ssUserId = options.ssUserId;
  const sub = options.sub === undefined ? 'portal-backend' : options.sub;
  if (sub !== null) claims.sub = sub;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign(new TextEncoder().encode(options.secret ?? TEST_SECRET));
}

export const issuerToken = (issuerId: string, options: TokenOptions = {}): Promise<string> =>
  mintToken(issuerId, { scope: 'issuer:write issuer:read', sub: 'issuer-backend', ...options });

/** The envelope of the documented sample, with overrides (a value of `undefined` removes the field). */
export function buildEnvelope(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const envelope: Record<string, unknown> = { ...SAMPLE_ENVELOPE };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete envelope[key];
    else envelope[key] = value;
  }
  return envelope;
}

export interface SeededUser {
  issuerId: string;
  ssUserId: string;
  mainAccount: string;
  otherAccounts: string[];
}

/** Registers a user's accounts through the issuer service functions, main account first. */
export async function seedUser(
  database: Database,
  options: { issuerId?: string; ssUserId?: string; accounts?: number; state?: RegisterState } = {},
): Promise<SeededUser> {
  const issuerId = options.issuerId ?? randomIssuerId();
  const ssUserId = options.ssUserId ?? `U${randomDigits(12)}`;
  const accounts = Array.from({ length: options.accounts ?? 3 }, () => randomDigits(16));
  const ctx: RequestContext = {
    issuerId,
    requestorType: 'ISSUER',
    requestorId: 'test-seed',
    correlationId: `seed-${randomUUID()}`,
  };
  for (const accountNumber of accounts) {
    await registerAccount(database, ctx, {
      accountNumber,
      consumerId: ssUserId,
      productId: null,
      state: options.state ?? 'ACTIVE',
    });
  }
  const [mainAccount, ...otherAccounts] = accounts as [string, ...string[]];
  return { issuerId, ssUserId, mainAccount, otherAccounts };
}

export interface LinkState {
  accountNumber: string;
  state: string;
  isMain: boolean;
  delinked: boolean;
  ownerKey: string;
}

/** The link row of an account, as the database holds it: of the newest account with the number (the live one). */
export async function linkOf(
  dataSource: DataSource,
  issuerId: string,
  accountNumber: string,
): Promise<LinkState | undefined> {
  const row = await dataSource
    .createQueryBuilder(AccountLink, 'l')
    .innerJoin(Account, 'a', 'a.id = l.account_id')
    .innerJoin(Consumer, 'u', 'u.id = l.consumer_id')
    .select([
      'a.account_number AS accountNumber',
      'a.state AS state',
      'l.is_main AS isMain',
      'l.delinked_at AS delinkedAt',
      'u.consumer_key AS ownerKey',
    ])
    .where('a.issuer_id = :issuerId AND a.account_number = :accountNumber', { issuerId, accountNumber })
    .orderBy('a.id', 'DESC')
    .limit(1)
    .getRawOne<{ accountNumber: string; state: string; isMain: unknown; delinkedAt: unknown; ownerKey: string }>();
  if (row === undefined) return undefined;
  return {
    accountNumber: row.accountNumber,
    state: row.state,
    isMain: Number(row.isMain) === 1,
    delinked: row.delinkedAt !== null,
    ownerKey: row.ownerKey,
  };
}

/** Every operation recorded for an issuer, in recording order. */
export function operationsOf(dataSource: DataSource, issuerId: string): Promise<Operation[]> {
  return dataSource.getRepository(Operation).find({ where: { issuerId }, order: { id: 'ASC' } });
}

/** Row counts of an issuer's data: proof that a refused request changed nothing. */
export async function snapshot(dataSource: DataSource, issuerId: string): Promise<Record<string, unknown>> {
  const users = await dataSource.getRepository(Consumer).count({ where: { issuerId } });
  const accounts = await dataSource.getRepository(Account).find({ where: { issuerId }, order: { id: 'ASC' } });
  const links = await dataSource
    .createQueryBuilder(AccountLink, 'l')
    .innerJoin(Account, 'a', 'a.id = l.account_id')
    .select(['l.id AS id', 'l.delinked_at AS delinkedAt', 'l.is_main AS isMain'])
    .where('a.issuer_id = :issuerId', { issuerId })
    .orderBy('l.id')
    .getRawMany();
  const operations = await dataSource.getRepository(Operation).count({ where: { issuerId } });
  return { users, accounts: accounts.map((a) => [a.accountNumber, a.state, a.productId]), links, operations };
}
