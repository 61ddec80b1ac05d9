// The security matrix over every endpoint: tokens, SQL metacharacters in every string field, oversize and
// mistyped bodies, slow clients against the real server process, and rate limits. Every refusal is checked for its
// status, its ErrorCode, the body shape of the endpoint's face, and a database left as it was.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CryptoKey, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { api, type Response } from './helpers/api';
import type { DataSource } from 'typeorm';
import type { Database } from '../src/db/database';
import { DELINK_PATH, GET_LINKS_PATH } from '../src/corecredit/routes';
import { Account } from '../src/db/entities';
/** The two response shapes: CoreCredit's envelope, the issuer API's error object. */
type Face = 'corecredit' | 'issuer';
import { OPENAPI_PATH } from '../src/openapi/document';
import {
  createTestContext,
  defaultJwtConfig,
  linkOf,
  mintToken,
  openDatabase,
  operationsOf,
  randomDigits,
  type SeededUser,
  seedUser,
  snapshot,
  TEST_SECRET,
  type TestContext,
} from './helpers/context';
import { type ServerProcess, serverDatabase, serverEnv, startServer } from './helpers/process';
import { SUCCESS } from './helpers/expectations';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const secretKey = (text: string): Uint8Array => new TextEncoder().encode(text);

function signToken(claims: JWTPayload, alg: string, key: CryptoKey | Uint8Array): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).sign(key);
}

// ---------------------------------------------------------------------------------------------------------------
// The endpoints, each with a request that is served (its baseline) and the string fields an attacker controls.

type Where = 'body' | 'path' | 'query';

interface Parts {
  path: Record<string, string>;
  body?: Record<string, unknown>;
  query?: Record<string, string>;
}

interface Field {
  name: string;
  in: Where;
  /** The contract's rule for the field; a value it accepts gets the business answer, any other a 400. */
  accepts: RegExp | null;
}

interface Endpoint {
  name: string;
  face: Face;
  method: 'get' | 'post' | 'put';
  scope: string;
  url(parts: Parts): string;
  baseline(user: SeededUser): Parts;
  fields: Field[];
  /** Proof in the response and the database that the request was served as `parts` asked, values kept verbatim. */
  expectServed(ctx: TestContext, user: SeededUser, res: Response, parts: Parts): Promise<void>;
}

const enc = encodeURIComponent;
const newAccount = (): string => randomDigits(16);

/** A full envelope with every optional field set, so that each can be injected into by appending to a valid value. */
const fullEnvelope = (user: SeededUser, withAccount: boolean): Record<string, unknown> => ({
  Source: 'IVR',
  IPAddress: '10.120.0.1',
  DateFormat: '1',
  CurrencyCode: '840',
  CurrencySymbolType: '1',
  Language: 'en',
  ExternalIP: '10.120.0.9',
  SessionID: '000028;026;1349906692',
  APIVersion: '2.0',
  CallerID: '+7204454214',
  CalledID: '7314145404',
  RequestTime: '11/21/2026 09:30:00',
  SSUserID: user.ssUserId,
  ...(withAccount ? { AccountNumber: user.otherAccounts[0] } : {}),
});

const ENVELOPE_FIELDS: Field[] = [
  // Printable text (any script, no control or format characters) of the seed's length.
  { name: 'Source', in: 'body', accepts: /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]{1,50}$/u },
  { name: 'IPAddress', in: 'body', accepts: null },
  { name: 'DateFormat', in: 'body', accepts: /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]{0,25}$/u },
  { name: 'CurrencyCode', in: 'body', accepts: /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]{0,10}$/u },
  { name: 'CurrencySymbolType', in: 'body', accepts: /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]{0,10}$/u },
  { name: 'Language', in: 'body', accepts: /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]{0,10}$/u },
  { name: 'ExternalIP', in: 'body', accepts: null },
  { name: 'SessionID', in: 'body', accepts: /^[\x20-\x7E]{0,100}$/ },
  { name: 'APIVersion', in: 'body', accepts: /^2\.0$/ },
  { name: 'CallerID', in: 'body', accepts: /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]{0,20}$/u },
  { name: 'CalledID', in: 'body', accepts: /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]{0,20}$/u },
  { name: 'RequestTime', in: 'body', accepts: null },
  { name: 'SSUserID', in: 'body', accepts: /^[A-Za-z0-9]{1,30}$/ },
];

const ISSUER_ID_FIELD: Field = { name: 'issuerId', in: 'path', accepts: /^[A-Za-z0-9_-]{10}$/ };
const ACCOUNT_ID_FIELD: Field = { name: 'accountId', in: 'path', accepts: /^\d{1,19}$/ };

function expectSuccessEnvelope(res: Response): void {
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject(SUCCESS);
}

const DELINK: Endpoint = {
  name: 'DeLinkAccount',
  face: 'corecredit',
  method: 'post',
  scope: 'selfservice:delink',
  url: () => DELINK_PATH,
  baseline: (user) => ({ path: {}, body: fullEnvelope(user, true) }),
  fields: [...ENVELOPE_FIELDS, { name: 'AccountNumber', in: 'body', accepts: /^\d{1,19}$/ }],
  async expectServed(ctx, user, res, parts) {
    expectSuccessEnvelope(res);
    expect(res.body.ResponseData).toEqual({});
    const body = parts.body!;
    expect(await linkOf(ctx.dataSource, user.issuerId, body.AccountNumber as string)).toMatchObject({
      delinked: true,
      isMain: false,
    });
    expect((await operationsOf(ctx.dataSource, user.issuerId)).at(-1)).toMatchObject({
      operation: 'DELINK',
      status: 'SUCCESSFUL',
      source: body.Source,
      sessionId: body.SessionID,
      callerId: body.CallerID,
      calledId: body.CalledID,
    });
  },
};

const GET_LINKS: Endpoint = {
  name: 'GetLinkAccounts',
  face: 'corecredit',
  method: 'post',
  scope: 'selfservice:read',
  url: () => GET_LINKS_PATH,
  baseline: (user) => ({ path: {}, body: fullEnvelope(user, false) }),
  fields: ENVELOPE_FIELDS,
  expectServed(_ctx, user, res) {
    expectSuccessEnvelope(res);
    expect(res.body.ResponseData.SSUserID).toBe(user.ssUserId);
    expect((res.body.ResponseData.Accounts as { AccountNumber: string }[]).map((a) => a.AccountNumber)).toEqual([
      user.mainAccount,
      ...user.otherAccounts,
    ]);
    return Promise.resolve();
  },
};

const REGISTER: Endpoint = {
  name: 'PUT register',
  face: 'issuer',
  method: 'put',
  scope: 'issuer:write',
  url: (p) => `/issuers/${enc(p.path.issuerId!)}/accounts/${enc(p.path.accountId!)}`,
  baseline: (user) => ({
    path: { issuerId: user.issuerId, accountId: newAccount() },
    body: { consumerId: user.ssUserId, accountProductId: 'GOLD', state: 'ACTIVE' },
  }),
  fields: [
    ISSUER_ID_FIELD,
    ACCOUNT_ID_FIELD,
    { name: 'consumerId', in: 'body', accepts: /^[A-Za-z0-9]{1,30}$/ },
    { name: 'accountProductId', in: 'body', accepts: /^[A-Za-z0-9_-]{1,64}$/ },
    { name: 'state', in: 'body', accepts: /^(ACTIVE|INACTIVE)$/ },
  ],
  async expectServed(ctx, user, res, parts) {
    expect(res.status).toBe(204);
    const account = await ctx.dataSource
      .getRepository(Account)
      .findOneBy({ issuerId: user.issuerId, accountNumber: parts.path.accountId! });
    expect(account).toMatchObject({ productId: parts.body!.accountProductId, state: parts.body!.state });
    expect(await linkOf(ctx.dataSource, user.issuerId, parts.path.accountId!)).toMatchObject({
      delinked: false,
      isMain: false,
      ownerKey: user.ssUserId.toLowerCase(),
    });
  },
};

const DELETE: Endpoint = {
  name: 'POST operations:delete',
  face: 'issuer',
  method: 'post',
  scope: 'issuer:write',
  url: (p) => `/issuers/${enc(p.path.issuerId!)}/accounts/${enc(p.path.accountId!)}/operations:delete`,
  baseline: (user) => ({
    path: { issuerId: user.issuerId, accountId: user.otherAccounts[0]! },
    body: { reason: 'closed by the customer', reasonCode: 'USER_DECISION' },
  }),
  fields: [
    ISSUER_ID_FIELD,
    ACCOUNT_ID_FIELD,
    { name: 'reason', in: 'body', accepts: /^[a-zA-Z0-9 ]{1,64}$/ },
    { name: 'reasonCode', in: 'body', accepts: /^(USER_DECISION|ISSUER_DECISION)$/ },
  ],
  async expectServed(ctx, user, res, parts) {
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ operationId: expect.any(String), status: 'SUCCESSFUL' });
    expect(await linkOf(ctx.dataSource, user.issuerId, parts.path.accountId!)).toMatchObject({
      state: 'DELETED',
      delinked: true,
    });
    expect((await operationsOf(ctx.dataSource, user.issuerId)).at(-1)).toMatchObject({
      operation: 'DELETE',
      status: 'SUCCESSFUL',
      reason: parts.body!.reason,
    });
  },
};

const OPERATIONS: Endpoint = {
  name: 'GET operations',
  face: 'issuer',
  method: 'get',
  scope: 'issuer:read',
  url: (p) => `/issuers/${enc(p.path.issuerId!)}/consumers/${enc(p.path.consumerId!)}/operations`,
  baseline: (user) => ({
    path: { issuerId: user.issuerId, consumerId: user.ssUserId },
    query: { offset: '0', count: '10' },
  }),
  fields: [
    ISSUER_ID_FIELD,
    { name: 'consumerId', in: 'path', accepts: /^[A-Za-z0-9]{1,30}$/ },
    { name: 'offset', in: 'query', accepts: /^(0|[1-9]\d{0,8})$/ },
    { name: 'count', in: 'query', accepts: /^([1-9]\d?|100)$/ },
  ],
  expectServed(_ctx, user, res) {
    expect(res.status).toBe(200);
    // seedUser registers each account once: one REGISTER operation per account.
    expect(res.body.total).toBe(1 + user.otherAccounts.length);
    return Promise.resolve();
  },
};

const ENDPOINTS: Endpoint[] = [DELINK, GET_LINKS, REGISTER, DELETE, OPERATIONS];

function send(app: TestContext['app'], endpoint: Endpoint, parts: Parts, headers: Record<string, string | undefined>) {
  const query =
    parts.query === undefined
      ? ''
      : `?${Object.entries(parts.query)
          .map(([k, v]) => `${k}=${enc(v)}`)
          .join('&')}`;
  let req = api(app)[endpoint.method](`${endpoint.url(parts)}${query}`);
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) req = req.set(name, value);
  return parts.body === undefined ? req : req.send(parts.body);
}

const bearer = async (
  user: SeededUser,
  endpoint: Endpoint,
  claims: JWTPayload = {},
  sub = 'security-suite',
): Promise<string> => `Bearer ${await mintToken(user.issuerId, { scope: endpoint.scope, sub }, claims)}`;

/** The error body of the endpoint's face, exactly; `fields`, when given, are the only fields its errors name. */
function expectError(face: Face, res: Response, status: number, code: string, fields?: string[]): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['www-authenticate']).toBe(status === 401 ? 'Bearer' : undefined);
  if (face === 'issuer') {
    expect(res.body).toStrictEqual({
      errorCode: code,
      message: expect.any(String),
      correlationId: res.headers['x-correlation-id'],
      ...(fields !== undefined ? { errors: expect.any(Array) } : {}),
    });
    if (fields !== undefined) {
      expect(res.body.errors.length).toBeGreaterThan(0);
      expect(new Set((res.body.errors as { field: string }[]).map((e) => e.field))).toEqual(new Set(fields));
    }
    return;
  }
  expect(res.body).toStrictEqual({
    Message: expect.any(String),
    Status: false,
    ErrorCode: code,
    ResponseData: fields !== undefined ? { Errors: expect.any(Array) } : {},
  });
  if (fields !== undefined) {
    expect(res.body.ResponseData.Errors.length).toBeGreaterThan(0);
    expect(new Set((res.body.ResponseData.Errors as { Field: string }[]).map((e) => e.Field))).toEqual(new Set(fields));
  }
}

const TABLES = ['consumers', 'accounts', 'account_links', 'operations', 'idempotency_keys'] as const;

/** Row counts of every table. Nothing in the service deletes rows but the idempotency purge. */
async function tableCounts(dataSource: DataSource): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of TABLES) {
    const [row] = await dataSource.query<{ n: number | string }[]>(`SELECT COUNT(*) AS n FROM ${table}`);
    counts[table] = Number(row!.n);
  }
  return counts;
}

/** Every table still there, and none lost rows (other suites may add rows to the same database meanwhile). */
async function expectTablesIntact(dataSource: DataSource, before: Record<string, number>): Promise<void> {
  const after = await tableCounts(dataSource);
  for (const table of TABLES)
    if (table !== 'idempotency_keys')
      expect({ table, rows: after[table]! >= before[table]! }).toEqual({ table, rows: true });
}

// ---------------------------------------------------------------------------------------------------------------

describe('security', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  describe.each(ENDPOINTS)('$name: the baseline request of this suite', (endpoint) => {
    it('when sent with a token holding the endpoint scope, then it is served (so that each refusal below has one cause)', async () => {
      const user = await seedUser(ctx.database);
      const parts = endpoint.baseline(user);
      const res = await send(ctx.app, endpoint, parts, { Authorization: await bearer(user, endpoint) });
      await endpoint.expectServed(ctx, user, res, parts);
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('tokens', () => {
    /**
     * The full matrix, attack × endpoint. A cell either runs here or names the test that already runs it (by a phrase
     * of its title), so that nothing is run twice and nothing is left out; the last test checks those names.
     */
    type Cell = { here: true } | { file: string; title: string };
    const AUTH = (title: string): Cell => ({ file: 'auth.test.ts', title });
    const ISSUER_API = (title: string): Cell => ({ file: 'issuer-api.test.ts', title });
    const HERE: Cell = { here: true };

    interface Attack {
      attack: string;
      status: 401 | 403;
      code: string;
      /** Which app: the default one (HS256 secret), one with an RS256 public key, or one with iss and aud configured. */
      app: 'default' | 'publicKey' | 'issuerAudience';
      /** Absent when every cell of the attack runs elsewhere. */
      authorization?(user: SeededUser, endpoint: Endpoint, keys: { pem: string }): Promise<string | undefined>;
      cells: Record<string, Cell>;
    }

    const claimsFor = (user: SeededUser, endpoint: Endpoint): JWTPayload => ({
      issuerId: user.issuerId,
      scope: endpoint.scope,
      sub: 'security-suite',
      iat: nowSeconds(),
      exp: nowSeconds() + 300,
    });
    const ISSUER = 'https://idp.example';
    const AUDIENCE = 'corecredit';
    const forCoreCredit = (delink: Cell, getLinks: Cell = delink) => ({
      [DELINK.name]: delink,
      [GET_LINKS.name]: getLinks,
    });
    const forIssuerApi = (cell: Cell) => ({ [REGISTER.name]: cell, [DELETE.name]: cell, [OPERATIONS.name]: cell });

    const ATTACKS: Attack[] = [
      {
        attack: 'no token',
        status: 401,
        code: 'ERR01110',
        app: 'default',
        authorization: () => Promise.resolve(undefined),
        cells: {
          ...forCoreCredit(AUTH('there is no Authorization header')),
          ...forIssuerApi(ISSUER_API('without a token')),
        },
      },
      {
        attack: 'an unsigned token (alg none)',
        status: 401,
        code: 'ERR01111',
        app: 'default',
        authorization: (user, endpoint) =>
          Promise.resolve(`Bearer ${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(claimsFor(user, endpoint))}.`),
        cells: { ...forCoreCredit(AUTH('the token is unsigned (alg none)')), ...forIssuerApi(HERE) },
      },
      {
        attack: 'an HS256 token whose HMAC key is the configured RS256 public key PEM',
        status: 401,
        code: 'ERR01111',
        app: 'publicKey',
        authorization: async (user, endpoint, { pem }) =>
          `Bearer ${await signToken(claimsFor(user, endpoint), 'HS256', secretKey(pem))}`,
        cells: {
          ...forCoreCredit(AUTH('an HS256 token uses the public key PEM as its HMAC secret'), HERE),
          ...forIssuerApi(HERE),
        },
      },
      {
        attack: 'an expired token',
        status: 401,
        code: 'ERR01112',
        app: 'default',
        authorization: (user, endpoint) => bearer(user, endpoint, { exp: nowSeconds() - 60 }),
        cells: {
          ...forCoreCredit(AUTH('the token has expired')),
          ...forIssuerApi(ISSUER_API('with an expired token')),
        },
      },
      {
        attack: 'a token not valid before a future nbf',
        status: 401,
        code: 'ERR01113',
        app: 'default',
        authorization: (user, endpoint) => bearer(user, endpoint, { nbf: nowSeconds() + 3600 }),
        cells: { ...forCoreCredit(AUTH('the token is not valid before a future nbf')), ...forIssuerApi(HERE) },
      },
      {
        attack: 'a token of another iss than the configured one',
        status: 401,
        code: 'ERR01114',
        app: 'issuerAudience',
        authorization: (user, endpoint) => bearer(user, endpoint, { iss: 'https://evil.example', aud: AUDIENCE }),
        cells: { ...forCoreCredit(AUTH('iss is another issuer')), ...forIssuerApi(HERE) },
      },
      {
        attack: 'a token for another aud than the configured one',
        status: 401,
        code: 'ERR01114',
        app: 'issuerAudience',
        authorization: (user, endpoint) => bearer(user, endpoint, { iss: ISSUER, aud: 'billing' }),
        cells: { ...forCoreCredit(AUTH('aud is another audience')), ...forIssuerApi(HERE) },
      },
      {
        attack: 'a token without issuerId',
        status: 401,
        code: 'ERR01114',
        app: 'default',
        authorization: async (user, endpoint) =>
          `Bearer ${await signToken({ ...claimsFor(user, endpoint), issuerId: undefined }, 'HS256', secretKey(TEST_SECRET))}`,
        cells: { ...forCoreCredit(AUTH('the token has no issuerId claim')), ...forIssuerApi(HERE) },
      },
      {
        attack: 'a token of another issuer',
        status: 403,
        code: 'ERR01122',
        app: 'default',
        cells: {
          ...forCoreCredit(AUTH('when the token belongs to another issuer')),
          ...forIssuerApi(ISSUER_API('with a token of another issuer')),
        },
      },
      {
        attack: 'a token bound to another SSUserID',
        status: 403,
        code: 'ERR01121',
        app: 'default',
        cells: {
          ...forCoreCredit(AUTH('with a token bound to another SSUserID')),
          ...forIssuerApi(ISSUER_API('with an issuer token bound to an ssUserId')),
        },
      },
      {
        attack: 'a token without the endpoint scope',
        status: 403,
        code: 'ERR01120',
        app: 'default',
        cells: {
          ...forCoreCredit(AUTH('the token has only the other self-service scope')),
          ...forIssuerApi(ISSUER_API('without the required scope')),
        },
      },
    ];

    let apps: Record<Attack['app'], TestContext>;
    let privateKey: CryptoKey;
    let pem: string;
    beforeAll(async () => {
      const pair = await generateKeyPair('RS256');
      privateKey = pair.privateKey;
      pem = await exportSPKI(pair.publicKey);
      apps = {
        default: ctx,
        publicKey: await createTestContext({
          database: ctx.database,
          jwt: {
            kind: 'publicKey',
            pem,
            algorithm: 'RS256',
            issuer: undefined,
            audience: undefined,
            maxLifetimeSeconds: 86_400,
          },
        }),
        issuerAudience: await createTestContext({
          database: ctx.database,
          jwt: { ...defaultJwtConfig, issuer: ISSUER, audience: AUDIENCE },
        }),
      };
    });
    afterAll(async () => {
      await apps.publicKey.close();
      await apps.issuerAudience.close();
    });

    const runHere = ATTACKS.flatMap((attack) =>
      ENDPOINTS.filter((endpoint) => 'here' in attack.cells[endpoint.name]!).map((endpoint) => ({
        ...attack,
        endpoint,
        name: endpoint.name,
      })),
    );

    it.each(runHere)(
      'when $name is called with $attack, then $status $code in its face and the database is unchanged',
      async (cell) => {
        const user = await seedUser(ctx.database);
        const before = await snapshot(ctx.dataSource, user.issuerId);
        if (cell.authorization === undefined) throw new Error(`${cell.attack} runs here but builds no token`);
        const authorization = await cell.authorization(user, cell.endpoint, { pem });

        const res = await send(apps[cell.app].app, cell.endpoint, cell.endpoint.baseline(user), {
          Authorization: authorization,
        });

        expectError(cell.endpoint.face, res, cell.status, cell.code);
        expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
      },
    );

    // Controls for the two configured apps: a token that satisfies them is served, so the refusals above are theirs.
    it.each(ENDPOINTS.filter((e) => e !== DELINK))(
      'when $name is called with an RS256 token of the configured key pair, then it is served',
      async (endpoint) => {
        const user = await seedUser(ctx.database);
        const parts = endpoint.baseline(user);
        const token = await signToken(claimsFor(user, endpoint), 'RS256', privateKey);
        await endpoint.expectServed(
          ctx,
          user,
          await send(apps.publicKey.app, endpoint, parts, { Authorization: `Bearer ${token}` }),
          parts,
        );
      },
    );

    it.each([REGISTER, DELETE, OPERATIONS])(
      'when $name is called with the configured iss and aud, then it is served',
      async (endpoint) => {
        const user = await seedUser(ctx.database);
        const parts = endpoint.baseline(user);
        const res = await send(apps.issuerAudience.app, endpoint, parts, {
          Authorization: await bearer(user, endpoint, { iss: ISSUER, aud: AUDIENCE }),
        });
        await endpoint.expectServed(ctx, user, res, parts);
      },
    );

    it('when a cell of the matrix is not run here, then the test named for it exists in its file', () => {
      const elsewhere = ATTACKS.flatMap((attack) => Object.values(attack.cells)).filter(
        (cell): cell is { file: string; title: string } => 'file' in cell,
      );
      expect(elsewhere.length).toBeGreaterThan(0);
      for (const { file, title } of elsewhere)
        expect({ file, found: readFileSync(join(__dirname, file), 'utf8').includes(title) }).toEqual({
          file,
          found: true,
        });
      for (const attack of ATTACKS)
        expect(Object.keys(attack.cells).sort()).toEqual(ENDPOINTS.map((e) => e.name).sort());
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('SQL metacharacters in every string field of every body, path and query', () => {
    const METACHARACTERS = [
      { label: "' OR '1'='1", value: "' OR '1'='1" },
      { label: '"; DROP TABLE accounts; --', value: '"; DROP TABLE accounts; --' },
      { label: 'a backslash', value: '\\' },
      { label: '%', value: '%' },
      { label: '_', value: '_' },
      { label: 'NUL', value: '\u0000' },
    ];
    // Alone, and appended to a valid value: a rule that checks a prefix only lets the second through.
    const VARIANTS = [
      { variant: 'alone', build: (_valid: string, value: string) => value },
      { variant: 'after a valid value', build: (valid: string, value: string) => `${valid}${value}` },
    ];

    let bystander: SeededUser;
    let bystanderBefore: Record<string, unknown>;
    let tablesBefore: Record<string, number>;
    /** One user per endpoint for the refused cases, which change nothing; an accepted value gets a user of its own. */
    const refusedTargets = new Map<Endpoint, SeededUser>();
    beforeAll(async () => {
      bystander = await seedUser(ctx.database);
      bystanderBefore = await snapshot(ctx.dataSource, bystander.issuerId);
      for (const endpoint of ENDPOINTS) refusedTargets.set(endpoint, await seedUser(ctx.database));
      tablesBefore = await tableCounts(ctx.dataSource);
    });

    const cases = ENDPOINTS.flatMap((endpoint) =>
      endpoint.fields.flatMap((field) =>
        METACHARACTERS.flatMap((meta) =>
          VARIANTS.map((variant) => ({
            endpoint,
            field,
            meta,
            variant,
            name: `${endpoint.name} ${field.in} ${field.name}`,
          })),
        ),
      ),
    );

    it.each(cases)(
      'when $name is $meta.label $variant.variant, then 400 naming the field or the business answer, never 5xx, nothing else changes',
      async ({ endpoint, field, meta, variant }) => {
        const inject = (target: SeededUser): Parts => {
          const injected = endpoint.baseline(target);
          const section = injected[field.in] as Record<string, unknown>;
          section[field.name] = variant.build(String(section[field.name]), meta.value);
          return injected;
        };
        const refusedTarget = refusedTargets.get(endpoint)!;
        const probe = inject(refusedTarget);
        const accepted = field.accepts?.test(String((probe[field.in] as Record<string, unknown>)[field.name])) === true;
        const user = accepted ? await seedUser(ctx.database) : refusedTarget;
        const parts = accepted ? inject(user) : probe;
        const before = await snapshot(ctx.dataSource, user.issuerId);

        const res = await send(ctx.app, endpoint, parts, { Authorization: await bearer(user, endpoint) });

        expect(res.status).toBeLessThan(500);
        if (accepted) {
          await endpoint.expectServed(ctx, user, res, parts);
        } else {
          if (field.name === 'APIVersion') expectError(endpoint.face, res, 400, 'ERR01102');
          else expectError(endpoint.face, res, 400, 'ERR01100', [field.name]);
          expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
        }
        expect(await snapshot(ctx.dataSource, bystander.issuerId)).toEqual(bystanderBefore);
        await expectTablesIntact(ctx.dataSource, tablesBefore);
      },
    );
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('bodies: size (413) and content type (415)', () => {
    const WITH_BODY = ENDPOINTS.filter((e) => e.method !== 'get');
    const OVERSIZE = 'x'.repeat(17 * 1024);

    let server: Server;
    let port: number;
    beforeAll(async () => {
      server = ctx.app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    /** A request whose body is streamed in chunks without a Content-Length, so that only the bytes read can bound it. */
    function sendChunked(
      endpoint: Endpoint,
      parts: Parts,
      authorization: string,
      chunks: string[],
    ): Promise<{ status: number; body: unknown; correlationId: string }> {
      return new Promise((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            method: endpoint.method.toUpperCase(),
            path: endpoint.url(parts),
            headers: { Authorization: authorization, 'Content-Type': 'application/json' },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () =>
              resolve({
                status: res.statusCode!,
                body: JSON.parse(text) as unknown,
                correlationId: String(res.headers['x-correlation-id']),
              }),
            );
          },
        );
        // The server may answer and close before every chunk is written.
        req.on('error', reject);
        for (const chunk of chunks) req.write(chunk);
        req.end();
      });
    }

    it.each(WITH_BODY)(
      'when $name gets a JSON body over 16 kB, then 413 ERR01150 in its face and the database is unchanged',
      async (endpoint) => {
        const user = await seedUser(ctx.database);
        const before = await snapshot(ctx.dataSource, user.issuerId);
        const parts = endpoint.baseline(user);
        const res = await send(
          ctx.app,
          endpoint,
          { ...parts, body: { ...parts.body, padding: OVERSIZE } },
          { Authorization: await bearer(user, endpoint) },
        );
        expectError(endpoint.face, res, 413, 'ERR01150');
        expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
      },
    );

    it.each(WITH_BODY)(
      'when $name gets a chunked body over 16 kB (no Content-Length), then 413 ERR01150 and the database is unchanged',
      async (endpoint) => {
        const user = await seedUser(ctx.database);
        const before = await snapshot(ctx.dataSource, user.issuerId);
        const parts = endpoint.baseline(user);
        const json = JSON.stringify({ ...parts.body, padding: OVERSIZE });
        const chunks = Array.from({ length: Math.ceil(json.length / 1024) }, (_, i) =>
          json.slice(i * 1024, (i + 1) * 1024),
        );

        const res = await sendChunked(endpoint, parts, await bearer(user, endpoint), chunks);

        expect(res.status).toBe(413);
        expect(res.body).toEqual(
          endpoint.face === 'issuer'
            ? { errorCode: 'ERR01150', message: expect.any(String), correlationId: res.correlationId }
            : { Message: expect.any(String), Status: false, ErrorCode: 'ERR01150', ResponseData: {} },
        );
        expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
      },
    );

    const CONTENT_TYPES = [
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin1',
    ];
    const typeCases = WITH_BODY.flatMap((endpoint) =>
      CONTENT_TYPES.map((contentType) => ({ endpoint, contentType, name: endpoint.name })),
    );

    it.each(typeCases)(
      'when $name gets a JSON text sent as $contentType, then 415 ERR01151 in its face and the database is unchanged',
      async ({ endpoint, contentType }) => {
        const user = await seedUser(ctx.database);
        const before = await snapshot(ctx.dataSource, user.issuerId);
        const parts = endpoint.baseline(user);
        const res = await send(
          ctx.app,
          endpoint,
          { ...parts, body: undefined },
          { Authorization: await bearer(user, endpoint) },
        )
          .set('Content-Type', contentType)
          .send(JSON.stringify(parts.body));
        expectError(endpoint.face, res, 415, 'ERR01151');
        expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
      },
    );

    /** The bytes as given: superagent would otherwise serialize a Buffer sent as JSON into `{"type":"Buffer",…}`. */
    const asSent = (bytes: unknown): string => bytes as string;
    // body-parser would decode these itself: the JSON arrives intact and would be processed.
    const UTF16: { charset: string; encode: (text: string) => Buffer }[] = [
      { charset: 'utf-16le', encode: (text) => Buffer.from(text, 'utf16le') },
      { charset: 'UTF-16LE', encode: (text) => Buffer.from(text, 'utf16le') },
      { charset: '"utf-16le"', encode: (text) => Buffer.from(text, 'utf16le') },
      { charset: 'utf-16', encode: (text) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]) },
      { charset: 'utf-16be', encode: (text) => Buffer.from(text, 'utf16le').swap16() },
    ];
    const utf16Cases = WITH_BODY.flatMap((endpoint) => UTF16.map((encoding) => ({ endpoint, ...encoding })));

    it.each(utf16Cases)(
      'when $endpoint.name gets its JSON body in charset=$charset, then 415 ERR01151 before parsing and the database is unchanged',
      async ({ endpoint, charset, encode }) => {
        const user = await seedUser(ctx.database);
        const before = await snapshot(ctx.dataSource, user.issuerId);
        const parts = endpoint.baseline(user);
        const res = await send(
          ctx.app,
          endpoint,
          { ...parts, body: undefined },
          { Authorization: await bearer(user, endpoint) },
        )
          .set('Content-Type', `application/json; charset=${charset}`)
          .serialize(asSent)
          .send(encode(JSON.stringify(parts.body)));
        expectError(endpoint.face, res, 415, 'ERR01151');
        expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
      },
    );

    it.each(['application/json; charset=utf-8', 'application/json; Charset="UTF-8"', 'application/json;charset=UTF-8'])(
      'when a body is sent as %s, then it is UTF-8 and served',
      async (contentType) => {
        const user = await seedUser(ctx.database);
        const parts = DELINK.baseline(user);
        const res = await send(
          ctx.app,
          DELINK,
          { ...parts, body: undefined },
          { Authorization: await bearer(user, DELINK) },
        )
          .set('Content-Type', contentType)
          .serialize(asSent)
          .send(Buffer.from(JSON.stringify(parts.body), 'utf8'));
        await DELINK.expectServed(ctx, user, res, parts);
      },
    );
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('rate limits', () => {
    const HOUR = 3_600_000;

    async function limitedApp(
      rateLimit: { perClient: number; perCaller: number },
      trustProxy: false | number = false,
    ): Promise<TestContext> {
      return createTestContext({ database: ctx.database, rateLimit: { windowMs: HOUR, ...rateLimit }, trustProxy });
    }

    /** A 429 in the face's shape with the seconds to wait and the policy that refused. */
    function expectLimited(face: Face, res: Response, policy: 'client' | 'caller'): void {
      expectError(face, res, 429, 'ERR01160');
      const retryAfter = Number(res.headers['retry-after']);
      expect(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= HOUR / 1000).toBe(true);
      expect(res.headers.ratelimit).toContain(`"${policy}"; r=0;`);
    }

    const getLinks = async (app: TestContext, user: SeededUser, headers: Record<string, string> = {}, sub?: string) =>
      send(app.app, GET_LINKS, GET_LINKS.baseline(user), {
        Authorization: await bearer(user, GET_LINKS, {}, sub),
        ...headers,
      });

    it('when requests are counted by both limits, then each RateLimit-Policy names its quota, window and a partition key that hashes its counter key, the same on every request and different per caller', async () => {
      const app = await limitedApp({ perClient: 50, perCaller: 40 });
      const user = await seedUser(ctx.database);
      // IETF draft 8 partition key as express-rate-limit derives it: base64 of the first 12 hex digits of SHA-256.
      const pk = (key: string) =>
        Buffer.from(createHash('sha256').update(key).digest('hex').slice(0, 12)).toString('base64');
      const policies = (res: Response) => String(res.headers['ratelimit-policy']);
      const first = await getLinks(app, user, {}, 'portal-a');
      const second = await getLinks(app, user, {}, 'portal-a');
      const other = await getLinks(app, user, {}, 'portal-b');
      expect([first.status, second.status, other.status]).toEqual([200, 200, 200]);
      const callerPk = (res: Response) => /"caller"; q=40; w=3600; pk=:([^:]+):/.exec(policies(res))?.[1];
      expect(policies(first)).toBe(
        `"client"; q=50; w=3600; pk=:${pk('127.0.0.1')}:, "caller"; q=40; w=3600; pk=:${callerPk(first)}:`,
      );
      expect(callerPk(second)).toBe(callerPk(first));
      expect(callerPk(other)).not.toBe(callerPk(first));
      expect(first.headers.ratelimit).toBe('"client"; r=49; t=3600, "caller"; r=39; t=3600');
      expect(other.headers.ratelimit).toBe('"client"; r=47; t=3600, "caller"; r=39; t=3600');
    });

    it('when a client bursts over the per-client limit, then 429 ERR01160 with Retry-After before the token is even read, and the refused delink changes nothing', async () => {
      const app = await limitedApp({ perClient: 3, perCaller: 0 });
      const user = await seedUser(ctx.database);
      for (let i = 0; i < 3; i++) {
        const res = await getLinks(app, user);
        expect(res.status).toBe(200);
        expect(res.headers.ratelimit).toContain(`"client"; r=${2 - i};`);
      }
      const before = await snapshot(ctx.dataSource, user.issuerId);

      const delink = await send(app.app, DELINK, DELINK.baseline(user), { Authorization: await bearer(user, DELINK) });
      expectLimited('corecredit', delink, 'client');
      expectLimited('corecredit', await send(app.app, DELINK, DELINK.baseline(user), {}), 'client');
      expectLimited(
        'issuer',
        await send(app.app, REGISTER, REGISTER.baseline(user), { Authorization: await bearer(user, REGISTER) }),
        'client',
      );

      expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
      expect(await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({ delinked: false });
    });

    it('when a client is over the limit, then health, metrics and the API document still answer, without rate-limit headers', async () => {
      const app = await limitedApp({ perClient: 1, perCaller: 0 });
      const user = await seedUser(ctx.database);
      expect((await getLinks(app, user)).status).toBe(200);
      expectLimited('corecredit', await getLinks(app, user), 'client');

      for (const path of ['/health/live', '/health/ready', '/metrics', OPENAPI_PATH]) {
        const res = await api(app.app).get(path);
        expect({ path, status: res.status, ratelimit: res.headers.ratelimit }).toEqual({
          path,
          status: 200,
          ratelimit: undefined,
        });
      }
    });

    it('when TRUST_PROXY names one proxy hop, then the X-Forwarded-For address is the client: one address is limited, another is not', async () => {
      const app = await limitedApp({ perClient: 2, perCaller: 0 }, 1);
      const user = await seedUser(ctx.database);
      const from = (address: string) => ({ 'X-Forwarded-For': address });
      expect((await getLinks(app, user, from('203.0.113.7'))).status).toBe(200);
      expect((await getLinks(app, user, from('203.0.113.7'))).status).toBe(200);
      expectLimited('corecredit', await getLinks(app, user, from('203.0.113.7')), 'client');
      expect((await getLinks(app, user, from('203.0.113.8'))).status).toBe(200);
    });

    it('when clients come over IPv6, then one /56 network is one client, another network is not, and an IPv4-mapped address is its IPv4 client', async () => {
      const app = await limitedApp({ perClient: 2, perCaller: 0 }, 1);
      const user = await seedUser(ctx.database);
      const from = (address: string) => ({ 'X-Forwarded-For': address });
      expect((await getLinks(app, user, from('2001:db8:0:1::1'))).status).toBe(200);
      expect((await getLinks(app, user, from('2001:db8:0:2::9'))).status).toBe(200);
      expectLimited('corecredit', await getLinks(app, user, from('2001:db8:0:3::5')), 'client');
      expect((await getLinks(app, user, from('2001:db8:0:100::1'))).status).toBe(200);

      expect((await getLinks(app, user, from('198.51.100.20'))).status).toBe(200);
      expect((await getLinks(app, user, from('::ffff:198.51.100.20'))).status).toBe(200);
      expectLimited('corecredit', await getLinks(app, user, from('198.51.100.20')), 'client');
    });

    it('when TRUST_PROXY is off, then a forged X-Forwarded-For does not make a new client', async () => {
      const app = await limitedApp({ perClient: 2, perCaller: 0 });
      const user = await seedUser(ctx.database);
      expect((await getLinks(app, user, { 'X-Forwarded-For': '198.51.100.1' })).status).toBe(200);
      expect((await getLinks(app, user, { 'X-Forwarded-For': '198.51.100.2' })).status).toBe(200);
      expectLimited('corecredit', await getLinks(app, user, { 'X-Forwarded-For': '198.51.100.3' }), 'client');
    });

    it('when one caller (issuer + sub) bursts over the per-caller limit, then it gets 429 and changes nothing, while other subs and other issuers are served', async () => {
      const app = await limitedApp({ perClient: 0, perCaller: 2 });
      const user = await seedUser(ctx.database);
      const otherIssuerUser = await seedUser(ctx.database);
      expect((await getLinks(app, user, {}, 'portal-a')).status).toBe(200);
      expect((await getLinks(app, user, {}, 'portal-a')).status).toBe(200);
      const before = await snapshot(ctx.dataSource, user.issuerId);

      const limited = await send(app.app, DELINK, DELINK.baseline(user), {
        Authorization: await bearer(user, DELINK, {}, 'portal-a'),
      });

      expectLimited('corecredit', limited, 'caller');
      expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
      expect(await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({ delinked: false });

      const otherSub = DELINK.baseline(user);
      await DELINK.expectServed(
        ctx,
        user,
        await send(app.app, DELINK, otherSub, { Authorization: await bearer(user, DELINK, {}, 'portal-b') }),
        otherSub,
      );
      const otherIssuer = DELINK.baseline(otherIssuerUser);
      await DELINK.expectServed(
        ctx,
        otherIssuerUser,
        await send(app.app, DELINK, otherIssuer, {
          Authorization: await bearer(otherIssuerUser, DELINK, {}, 'portal-a'),
        }),
        otherIssuer,
      );
    });

    it('when an issuer backend bursts over the per-caller limit, then 429 ERR01160 in the issuer error shape and the register is not applied', async () => {
      const app = await limitedApp({ perClient: 0, perCaller: 1 });
      const user = await seedUser(ctx.database);
      const first = REGISTER.baseline(user);
      await REGISTER.expectServed(
        ctx,
        user,
        await send(app.app, REGISTER, first, { Authorization: await bearer(user, REGISTER) }),
        first,
      );
      const before = await snapshot(ctx.dataSource, user.issuerId);

      expectLimited(
        'issuer',
        await send(app.app, REGISTER, REGISTER.baseline(user), { Authorization: await bearer(user, REGISTER) }),
        'caller',
      );
      expectLimited(
        'issuer',
        await send(app.app, DELETE, DELETE.baseline(user), { Authorization: await bearer(user, DELETE) }),
        'caller',
      );

      expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
    });

    it('when both limits are 0, then nothing is limited and no rate-limit header is sent', async () => {
      const app = await limitedApp({ perClient: 0, perCaller: 0 });
      const user = await seedUser(ctx.database);
      for (let i = 0; i < 5; i++) {
        const res = await getLinks(app, user);
        expect({ status: res.status, ratelimit: res.headers.ratelimit }).toEqual({ status: 200, ratelimit: undefined });
      }
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('slow clients against the real server process', () => {
    /**
     * Generous next to the bounds the server is given below (1 s for the headers, 2 s for the whole request, checked
     * every second), yet under the default bounds (10 s, 15 s): a server that ignored its configuration would fail.
     */
    const GIVE_UP_MS = 8_000;
    let dataDir: string;
    let server: ServerProcess;
    let database: Database;

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'cc-security-'));
      server = await startServer(
        serverEnv(dataDir, {
          JWT_SECRET: TEST_SECRET,
          HTTP_HEADERS_TIMEOUT_MS: '1000',
          HTTP_REQUEST_TIMEOUT_MS: '2000',
          RATE_LIMIT_PER_CLIENT: '1000',
          RATE_LIMIT_PER_CALLER: '500',
        }),
      );
      database = await openDatabase(serverDatabase(dataDir).config);
    });
    afterAll(async () => {
      await server?.stop();
      await database?.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    /**
     * Opens a raw connection, writes `head` at once, then one byte of `drip` every 100 ms for as long as the connection
     * is open. Resolves with what the server sent once it closes the connection, or with `open` if it never does.
     */
    function dribble(head: string, drip: string): Promise<{ closed: boolean; received: string }> {
      return new Promise((resolve) => {
        const socket = connect(server.port, '127.0.0.1');
        let received = '';
        let sent = 0;
        socket.setEncoding('latin1');
        socket.on('data', (chunk: string) => (received += chunk));
        // Writing into a connection the server has just closed fails; the close that follows is what is awaited.
        socket.on('error', () => undefined);
        socket.write(head);
        const timer = setInterval(() => {
          if (!socket.destroyed) socket.write(drip[sent++ % drip.length]!);
        }, 100);
        const giveUp = setTimeout(() => {
          clearInterval(timer);
          socket.destroy();
          resolve({ closed: false, received });
        }, GIVE_UP_MS);
        socket.once('close', () => {
          clearInterval(timer);
          clearTimeout(giveUp);
          resolve({ closed: true, received });
        });
      });
    }

    const expectCutOff = (outcome: { closed: boolean; received: string }): void => {
      expect(outcome.closed).toBe(true);
      // Node answers 408 when it still can, or just closes; no other answer may come.
      if (outcome.received !== '') expect(outcome.received).toMatch(/^HTTP\/1\.1 408 /);
    };

    it('when a client is prompt, then the server with these short bounds serves it (so the cut-offs below are for slowness)', async () => {
      const user = await seedUser(database);
      const res = await fetch(`http://127.0.0.1:${server.port}${DELINK_PATH}`, {
        method: 'POST',
        headers: { Authorization: await bearer(user, DELINK), 'Content-Type': 'application/json' },
        body: JSON.stringify(DELINK.baseline(user).body),
      });
      expect(res.status).toBe(200);
      expect(await linkOf(database.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({
        delinked: true,
      });
      // The process takes its limits from the environment: both budgets are announced with the configured sizes.
      expect(res.headers.get('ratelimit-policy')).toMatch(/"client"; q=1000; w=60;.*"caller"; q=500; w=60;/);
    });

    it('when a client sends its headers byte by byte and never ends them, then the server closes the connection', async () => {
      const outcome = await dribble(
        `POST ${DELINK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n`,
        'X-Slow-Header: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n',
      );
      expectCutOff(outcome);
      expect((await fetch(`http://127.0.0.1:${server.port}/health/live`)).status).toBe(200);
    });

    it('when a client announces a body and never finishes it, then the server closes the connection and nothing changes', async () => {
      const user = await seedUser(database);
      const before = await snapshot(database.dataSource, user.issuerId);
      const body = JSON.stringify(DELINK.baseline(user).body);
      const head =
        `POST ${DELINK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${await bearer(user, DELINK)}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length + 1000}\r\n\r\n${body}`;

      expectCutOff(await dribble(head, ' '));

      expect(await snapshot(database.dataSource, user.issuerId)).toEqual(before);
      expect(await linkOf(database.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({
        delinked: false,
      });
      expect((await fetch(`http://127.0.0.1:${server.port}/health/live`)).status).toBe(200);
    });

    /** `http_requests_total` for one method, route and status as /metrics reports it (0 when absent). */
    async function requestsCounted(method: string, route: string, status: number): Promise<number> {
      const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      const series = `http_requests_total{method="${method}",route="${route}",status="${status}"} `;
      const line = text.split('\n').find((l) => l.startsWith(series));
      return line === undefined ? 0 : Number(line.slice(series.length));
    }

    /** The head of `endpoint`'s baseline request with a body announced 1000 bytes longer than what follows it. */
    async function truncatedRequest(endpoint: Endpoint, user: SeededUser, correlationId: string): Promise<string> {
      const parts = endpoint.baseline(user);
      const body = JSON.stringify(parts.body);
      return (
        `${endpoint.method.toUpperCase()} ${endpoint.url(parts)} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        `Authorization: ${await bearer(user, endpoint)}\r\nx-correlation-id: ${correlationId}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length + 1000}\r\n\r\n${body}`
      );
    }

    const ROUTES = { [DELINK.name]: DELINK_PATH, [REGISTER.name]: '/issuers/:issuerId/accounts/:accountId' };

    it.each([DELINK, REGISTER])(
      'when $name gets a body that does not arrive within the request timeout, then 408 ERR01152 in its face, and the log and /metrics say 408, not 400',
      async (endpoint) => {
        const user = await seedUser(database);
        const before = await snapshot(database.dataSource, user.issuerId);
        const route = ROUTES[endpoint.name]!;
        const method = endpoint.method.toUpperCase();
        const countedBefore = {
          400: await requestsCounted(method, route, 400),
          408: await requestsCounted(method, route, 408),
        };
        const correlationId = `slow-body-${endpoint.face}-${Date.now()}`;

        const outcome = await dribble(await truncatedRequest(endpoint, user, correlationId), ' ');

        expect(outcome.closed).toBe(true);
        const [head, ...rest] = outcome.received.split('\r\n\r\n');
        expect(head).toMatch(/^HTTP\/1\.1 408 /);
        expect(head).toMatch(/\r\nconnection: close\r\n/i);
        expect(head).toContain(`x-correlation-id: ${correlationId}`);
        const body: unknown = JSON.parse(rest.join('\r\n\r\n'));
        expect(body).toEqual(
          endpoint.face === 'issuer'
            ? { errorCode: 'ERR01152', message: 'The request was not received in time.', correlationId }
            : {
                Message: 'The request was not received in time.',
                Status: false,
                ErrorCode: 'ERR01152',
                ResponseData: {},
              },
        );
        const line = await server.logged(
          (entry) => entry.correlationId === correlationId && entry.durationMs !== undefined,
        );
        expect(line).toMatchObject({ res: { statusCode: 408 }, errorCode: 'ERR01152', route });
        expect(line).not.toHaveProperty('aborted');
        expect(await requestsCounted(method, route, 408)).toBe(countedBefore[408] + 1);
        expect(await requestsCounted(method, route, 400)).toBe(countedBefore[400]);
        expect(await snapshot(database.dataSource, user.issuerId)).toEqual(before);
      },
    );

    it('when a client goes away before its body has arrived, then the log line says aborted with no status and no ErrorCode, and nothing is counted', async () => {
      const user = await seedUser(database);
      const counted = await requestsCounted('POST', DELINK_PATH, 400);
      const correlationId = `gone-${Date.now()}`;
      const socket = connect(server.port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(await truncatedRequest(DELINK, user, correlationId));
      // Long enough for the headers to be handed to the app and its body parser to be waiting.
      await new Promise((resolve) => setTimeout(resolve, 300));
      socket.destroy();

      const line = await server.logged(
        (entry) => entry.correlationId === correlationId && entry.durationMs !== undefined,
      );
      expect(line).toMatchObject({
        aborted: true,
        errorCode: null,
        route: DELINK_PATH,
        msg: `POST ${DELINK_PATH} aborted`,
      });
      expect(line).not.toHaveProperty('res');
      expect(await requestsCounted('POST', DELINK_PATH, 400)).toBe(counted);
      expect(await linkOf(database.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({
        delinked: false,
      });
    });
  });
});
