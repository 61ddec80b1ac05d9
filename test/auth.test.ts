import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { api, type Response } from './helpers/api';
import { DELINK_PATH, GET_LINKS_PATH, LINK_PATH } from '../src/corecredit/routes';
import {
  buildEnvelope,
  createTestContext,
  defaultJwtConfig,
  linkOf,
  mintToken,
  operationsOf,
  type SeededUser,
  seedUser,
  snapshot,
  TEST_SECRET,
  type TestContext,
} from './helpers/context';
import { DELINK_SUCCESS } from './helpers/expectations';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const secretKey = (text: string): Uint8Array => new TextEncoder().encode(text);
const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token with exactly these claims, signed with any algorithm and key (no defaults added). */
function signToken(claims: JWTPayload, alg: string, key: CryptoKey | Uint8Array): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).sign(key);
}

/** The claims of a token that would pass, for tokens built by hand. */
const validClaims = (issuerId: string): JWTPayload => ({
  issuerId,
  scope: 'selfservice:delink selfservice:link selfservice:read',
  sub: 'portal-backend',
  iat: nowSeconds(),
  exp: nowSeconds() + 300,
});

interface Endpoint {
  name: string;
  path: string;
  scope: string;
  /** The other self-service scope: a token with only this one may not call the endpoint. */
  otherScope: string;
  body(user: SeededUser): Record<string, unknown>;
  /** What the user's data must hold before the endpoint can serve `body(user)`. */
  prepare?(ctx: TestContext, user: SeededUser): Promise<void>;
  /** Proof in the response and the database that the endpoint did its work for `user`. */
  expectServed(ctx: TestContext, user: SeededUser, res: Response): Promise<void>;
}

const ENDPOINTS: Endpoint[] = [
  {
    name: 'DeLinkAccount',
    path: DELINK_PATH,
    scope: 'selfservice:delink',
    otherScope: 'selfservice:read',
    body: (user) => buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] }),
    async expectServed(ctx, user, res) {
      expect(res.status).toBe(200);
      expect(res.body).toEqual(DELINK_SUCCESS);
      expect(await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({ delinked: true });
    },
  },
  {
    name: 'GetLinkAccounts',
    path: GET_LINKS_PATH,
    scope: 'selfservice:read',
    otherScope: 'selfservice:delink',
    body: (user) => buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: undefined }),
    expectServed(_ctx, user, res) {
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        Status: true,
        ErrorCode: 'ERR01093',
        ResponseData: { SSUserID: user.ssUserId },
      });
      const accounts: { AccountNumber: string }[] = res.body.ResponseData.Accounts;
      expect(accounts.map((a) => a.AccountNumber)).toEqual([user.mainAccount, ...user.otherAccounts]);
      return Promise.resolve();
    },
  },
  {
    name: 'LinkMultipleAccounts',
    path: LINK_PATH,
    scope: 'selfservice:link',
    otherScope: 'selfservice:delink',
    body: (user) => buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] }),
    async prepare(ctx, user) {
      const token = await mintToken(user.issuerId, { scope: 'selfservice:delink' });
      const res = await post(ctx, DELINK_PATH, `Bearer ${token}`, ENDPOINTS[0]!.body(user));
      expect(res.status).toBe(200);
    },
    async expectServed(ctx, user, res) {
      expect(res.status).toBe(200);
      expect(res.body).toEqual(DELINK_SUCCESS);
      expect(await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({
        delinked: false,
        isMain: false,
      });
    },
  },
];

/** A user seeded so that the endpoint can serve them. */
async function seedFor(ctx: TestContext, endpoint: Endpoint, options: Parameters<typeof seedUser>[1] = {}) {
  const user = await seedUser(ctx.database, options);
  await endpoint.prepare?.(ctx, user);
  return user;
}

function post(ctx: TestContext, path: string, authorization: string | undefined, body: Record<string, unknown>) {
  const req = api(ctx.app).post(path);
  return (authorization === undefined ? req : req.set('Authorization', authorization)).send(body);
}

/** A refusal in the CoreCredit envelope; 401s (and only they) carry the Bearer challenge. */
function expectRefused(res: Response, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.body).toEqual({ Message: expect.any(String), Status: false, ErrorCode: code, ResponseData: {} });
  expect(res.headers['www-authenticate']).toBe(status === 401 ? 'Bearer' : undefined);
}

interface Refusal {
  when: string;
  status: 401 | 403;
  code: string;
  /** The refusal's own message, where it says which claim is wrong. */
  message?: string;
  authorization(issuerId: string, endpoint: Endpoint): Promise<string | undefined>;
}

const REFUSALS: Refusal[] = [
  {
    when: 'there is no Authorization header',
    status: 401,
    code: 'ERR01110',
    authorization: () => Promise.resolve(undefined),
  },
  {
    when: 'the scheme is Basic',
    status: 401,
    code: 'ERR01111',
    authorization: () => Promise.resolve(`Basic ${Buffer.from('portal:password').toString('base64')}`),
  },
  { when: 'Bearer carries no token', status: 401, code: 'ERR01111', authorization: () => Promise.resolve('Bearer') },
  {
    when: 'Bearer carries garbage',
    status: 401,
    code: 'ERR01111',
    authorization: () => Promise.resolve('Bearer not-a-jwt'),
  },
  {
    when: 'Bearer carries three garbage segments',
    status: 401,
    code: 'ERR01111',
    authorization: () => Promise.resolve('Bearer abc.def.ghi'),
  },
  {
    when: 'the token is unsigned (alg none)',
    status: 401,
    code: 'ERR01111',
    authorization: (issuerId) =>
      Promise.resolve(`Bearer ${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(validClaims(issuerId))}.`),
  },
  {
    when: 'the token has expired',
    status: 401,
    code: 'ERR01112',
    authorization: async (issuerId) => `Bearer ${await mintToken(issuerId, { expiresIn: nowSeconds() - 60 })}`,
  },
  {
    when: 'the token is not valid before a future nbf',
    status: 401,
    code: 'ERR01113',
    authorization: async (issuerId) => `Bearer ${await mintToken(issuerId, {}, { nbf: nowSeconds() + 3600 })}`,
  },
  {
    when: 'the token has no exp claim',
    status: 401,
    code: 'ERR01114',
    message: 'The token exp claim is missing or not accepted.',
    authorization: async (issuerId) =>
      `Bearer ${await signToken({ ...validClaims(issuerId), exp: undefined }, 'HS256', secretKey(TEST_SECRET))}`,
  },
  {
    when: 'the token expires in 1e300 seconds',
    status: 401,
    code: 'ERR01114',
    authorization: async (issuerId) =>
      `Bearer ${await signToken({ ...validClaims(issuerId), exp: 1e300 }, 'HS256', secretKey(TEST_SECRET))}`,
  },
  {
    when: 'the token exp is 1e400 (read as Infinity)',
    status: 401,
    code: 'ERR01114',
    authorization: (issuerId) => {
      // JSON.stringify cannot write Infinity: the payload is written as text and signed by hand.
      const header = base64url({ alg: 'HS256', typ: 'JWT' });
      const claims = JSON.stringify({ ...validClaims(issuerId), exp: 0 }).replace('"exp":0', '"exp":1e400');
      const signingInput = `${header}.${Buffer.from(claims).toString('base64url')}`;
      const signature = createHmac('sha256', TEST_SECRET).update(signingInput).digest('base64url');
      return Promise.resolve(`Bearer ${signingInput}.${signature}`);
    },
  },
  {
    when: 'the token expires further ahead than the longest lifetime (24 h)',
    status: 401,
    code: 'ERR01114',
    message: 'The token exp claim must be at most 86400 seconds ahead.',
    authorization: async (issuerId) =>
      `Bearer ${await mintToken(issuerId, { expiresIn: nowSeconds() + 86_400 + 120 })}`,
  },
  {
    when: 'the token is signed with another secret',
    status: 401,
    code: 'ERR01111',
    authorization: async (issuerId) =>
      `Bearer ${await mintToken(issuerId, { secret: 'another-secret-that-is-long-enough-for-hs256-99' })}`,
  },
  {
    when: 'the token is HS512 with the right secret (algorithm not allowed)',
    status: 401,
    code: 'ERR01111',
    authorization: async (issuerId) =>
      `Bearer ${await signToken(validClaims(issuerId), 'HS512', secretKey(TEST_SECRET))}`,
  },
  {
    when: 'the token has no issuerId claim',
    status: 401,
    code: 'ERR01114',
    authorization: async (issuerId) =>
      `Bearer ${await signToken({ ...validClaims(issuerId), issuerId: undefined }, 'HS256', secretKey(TEST_SECRET))}`,
  },
  {
    when: 'the issuerId is too short',
    status: 401,
    code: 'ERR01114',
    authorization: async () => `Bearer ${await mintToken('SHORT')}`,
  },
  {
    when: 'the issuerId is too long',
    status: 401,
    code: 'ERR01114',
    authorization: async (issuerId) => `Bearer ${await mintToken(`${issuerId}X`)}`,
  },
  {
    when: 'the issuerId has a forbidden character',
    status: 401,
    code: 'ERR01114',
    authorization: async () => `Bearer ${await mintToken('ISSUER.001')}`,
  },
  {
    when: 'the issuerId is not a string',
    status: 401,
    code: 'ERR01114',
    message: 'The token must carry an issuerId claim of 10 letters, digits, _ or -.',
    authorization: async () =>
      `Bearer ${await signToken({ ...validClaims('x'), issuerId: 1234567890 }, 'HS256', secretKey(TEST_SECRET))}`,
  },
  {
    when: 'the scope is an array instead of a string',
    status: 401,
    code: 'ERR01114',
    message: 'The token scope claim must be a space-separated string.',
    authorization: async (issuerId, endpoint) => `Bearer ${await mintToken(issuerId, {}, { scope: [endpoint.scope] })}`,
  },
  {
    when: 'the ssUserId claim is malformed',
    status: 401,
    code: 'ERR01114',
    message: 'The token ssUserId claim must be 1 to 30 letters or digits.',
    authorization: async (issuerId) => `Bearer ${await mintToken(issuerId, {}, { ssUserId: 'not a user!' })}`,
  },
  {
    when: 'the token has only the other self-service scope',
    status: 403,
    code: 'ERR01120',
    authorization: async (issuerId, endpoint) => `Bearer ${await mintToken(issuerId, { scope: endpoint.otherScope })}`,
  },
  {
    when: 'the token has only issuer scopes',
    status: 403,
    code: 'ERR01120',
    authorization: async (issuerId) => `Bearer ${await mintToken(issuerId, { scope: 'issuer:write issuer:read' })}`,
  },
  {
    when: 'the token has no scope claim',
    status: 403,
    code: 'ERR01120',
    authorization: async (issuerId) =>
      `Bearer ${await signToken({ ...validClaims(issuerId), scope: undefined }, 'HS256', secretKey(TEST_SECRET))}`,
  },
  {
    when: 'the scope only resembles the endpoint scope',
    status: 403,
    code: 'ERR01120',
    authorization: async (issuerId, endpoint) =>
      `Bearer ${await mintToken(issuerId, { scope: `${endpoint.scope}s ${endpoint.scope.toUpperCase()}` })}`,
  },
];

describe('Bearer tokens on the CoreCredit endpoints', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  /** A delink sent to `app` with the token `sign` makes: refused as invalid (401 ERR01111), the database unchanged. */
  async function expectInvalidToken(app: TestContext, sign: (claims: JWTPayload) => Promise<string>): Promise<void> {
    const user = await seedUser(ctx.database);
    const before = await snapshot(ctx.dataSource, user.issuerId);
    const res = await post(
      app,
      DELINK_PATH,
      `Bearer ${await sign(validClaims(user.issuerId))}`,
      ENDPOINTS[0]!.body(user),
    );
    expectRefused(res, 401, 'ERR01111');
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
  }

  describe.each(ENDPOINTS)('POST $path', (endpoint) => {
    it.each(REFUSALS)('when $when, then $status $code and the database is unchanged', async (refusal) => {
      const user = await seedFor(ctx, endpoint);
      const before = await snapshot(ctx.dataSource, user.issuerId);

      const res = await post(
        ctx,
        endpoint.path,
        await refusal.authorization(user.issuerId, endpoint),
        endpoint.body(user),
      );

      expectRefused(res, refusal.status, refusal.code);
      expect(res.body.Message).toEqual(refusal.message ?? expect.any(String));
      expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
    });

    it.each([
      { when: 'the token carries exactly the endpoint scope', scope: endpoint.scope, scheme: 'Bearer' },
      {
        when: 'the endpoint scope is one of several',
        scope: `issuer:read ${endpoint.otherScope} ${endpoint.scope}`,
        scheme: 'Bearer',
      },
      { when: 'the scheme is written in lower case', scope: endpoint.scope, scheme: 'bearer' },
      { when: 'the token lives just under the longest lifetime', scope: endpoint.scope, scheme: 'Bearer', ttl: 86_000 },
    ])('when $when, then the request is served', async ({ scope, scheme, ttl }) => {
      const user = await seedFor(ctx, endpoint);
      const expiresIn = ttl === undefined ? undefined : nowSeconds() + ttl;
      const res = await post(
        ctx,
        endpoint.path,
        `${scheme} ${await mintToken(user.issuerId, { scope, ...(expiresIn !== undefined ? { expiresIn } : {}) })}`,
        endpoint.body(user),
      );
      await endpoint.expectServed(ctx, user, res);
    });

    it('when the token is bound to the envelope SSUserID, then it may act for that user', async () => {
      const user = await seedFor(ctx, endpoint);
      const token = await mintToken(user.issuerId, { ssUserId: user.ssUserId });
      await endpoint.expectServed(ctx, user, await post(ctx, endpoint.path, `Bearer ${token}`, endpoint.body(user)));
    });

    it('when the bound SSUserID and the envelope SSUserID differ only in letter case, then it may act for that user', async () => {
      const user = await seedFor(ctx, endpoint, { ssUserId: `PortalUser${Date.now()}` });
      const token = await mintToken(user.issuerId, { ssUserId: user.ssUserId.toLowerCase() });
      const res = await post(ctx, endpoint.path, `Bearer ${token}`, {
        ...endpoint.body(user),
        SSUserID: user.ssUserId.toUpperCase(),
      });
      await endpoint.expectServed(ctx, user, res);
    });

    it('when the token belongs to another issuer, then it sees no user of this one (404 ERR01130) and changes nothing here', async () => {
      const user = await seedFor(ctx, endpoint);
      const stranger = await seedUser(ctx.database);
      const before = await snapshot(ctx.dataSource, user.issuerId);
      const linkBefore = await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[0]!);

      const res = await post(ctx, endpoint.path, `Bearer ${await mintToken(stranger.issuerId)}`, endpoint.body(user));

      expectRefused(res, 404, 'ERR01130');
      expect(res.body.Message).toBe('The SSUserID is not known.');
      expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
      expect(await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[0]!)).toEqual(linkBefore);
    });
  });

  describe(`POST ${DELINK_PATH} with a token bound to another SSUserID`, () => {
    it('when the bound user is another user of the issuer, then 403 ERR01121, the link stays, and one FAILED operation is recorded', async () => {
      const owner = await seedUser(ctx.database);
      const bound = await seedUser(ctx.database, { issuerId: owner.issuerId });
      const account = owner.otherAccounts[0]!;
      const before = await snapshot(ctx.dataSource, owner.issuerId);
      const operationsBefore = (await operationsOf(ctx.dataSource, owner.issuerId)).length;
      const token = await mintToken(owner.issuerId, { ssUserId: bound.ssUserId, sub: 'portal-session-7' });

      const res = await post(
        ctx,
        DELINK_PATH,
        `Bearer ${token}`,
        buildEnvelope({ SSUserID: owner.ssUserId, AccountNumber: account }),
      );

      expectRefused(res, 403, 'ERR01121');
      expect(res.body.Message).toBe('The token may not act for this SSUserID.');
      expect(await linkOf(ctx.dataSource, owner.issuerId, account)).toMatchObject({
        delinked: false,
        isMain: false,
        state: 'ACTIVE',
      });
      expect(await snapshot(ctx.dataSource, owner.issuerId)).toEqual({
        ...before,
        operations: (before.operations as number) + 1,
      });
      const operations = (await operationsOf(ctx.dataSource, owner.issuerId)).slice(operationsBefore);
      expect(operations).toHaveLength(1);
      expect(operations[0]).toMatchObject({
        operation: 'DELINK',
        status: 'FAILED',
        errorCode: 'ERR01121',
        requestorType: 'USER',
        requestorId: 'portal-session-7',
        consumerId: owner.ssUserId,
        accountNumber: account,
      });
    });
  });

  describe(`POST ${LINK_PATH} with a token bound to another SSUserID`, () => {
    it('when the bound user is another user of the issuer, then 403 ERR01121, the account stays delinked, and one FAILED operation is recorded', async () => {
      const endpoint = ENDPOINTS[2]!;
      const owner = await seedFor(ctx, endpoint);
      const bound = await seedUser(ctx.database, { issuerId: owner.issuerId });
      const account = owner.otherAccounts[0]!;
      const before = await snapshot(ctx.dataSource, owner.issuerId);
      const operationsBefore = (await operationsOf(ctx.dataSource, owner.issuerId)).length;
      const token = await mintToken(owner.issuerId, { ssUserId: bound.ssUserId, sub: 'portal-session-8' });

      const res = await post(ctx, LINK_PATH, `Bearer ${token}`, endpoint.body(owner));

      expectRefused(res, 403, 'ERR01121');
      expect(await linkOf(ctx.dataSource, owner.issuerId, account)).toMatchObject({ delinked: true, isMain: false });
      expect(await snapshot(ctx.dataSource, owner.issuerId)).toEqual({
        ...before,
        operations: (before.operations as number) + 1,
      });
      const operations = (await operationsOf(ctx.dataSource, owner.issuerId)).slice(operationsBefore);
      expect(operations).toHaveLength(1);
      expect(operations[0]).toMatchObject({
        operation: 'LINK',
        status: 'FAILED',
        errorCode: 'ERR01121',
        requestorType: 'USER',
        requestorId: 'portal-session-8',
        consumerId: owner.ssUserId,
        accountNumber: account,
      });
    });
  });

  describe(`POST ${GET_LINKS_PATH} with a token bound to another SSUserID`, () => {
    it('when the bound user is another user of the issuer, then a plain 403 ERR01121 and no operation', async () => {
      const owner = await seedUser(ctx.database);
      const bound = await seedUser(ctx.database, { issuerId: owner.issuerId });
      const before = await snapshot(ctx.dataSource, owner.issuerId);
      const token = await mintToken(owner.issuerId, { ssUserId: bound.ssUserId });

      const res = await post(
        ctx,
        GET_LINKS_PATH,
        `Bearer ${token}`,
        buildEnvelope({ SSUserID: owner.ssUserId, AccountNumber: undefined }),
      );

      expectRefused(res, 403, 'ERR01121');
      expect(await snapshot(ctx.dataSource, owner.issuerId)).toEqual(before);
    });
  });

  describe('the sub claim', () => {
    it('when a delink succeeds, then the operation names the token sub as its requestor', async () => {
      const user = await seedUser(ctx.database);
      const token = await mintToken(user.issuerId, { sub: 'ivr-platform-eu-2' });
      const res = await post(
        ctx,
        DELINK_PATH,
        `Bearer ${token}`,
        buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] }),
      );

      expect(res.status).toBe(200);
      expect((await operationsOf(ctx.dataSource, user.issuerId)).at(-1)).toMatchObject({
        operation: 'DELINK',
        status: 'SUCCESSFUL',
        requestorType: 'USER',
        requestorId: 'ivr-platform-eu-2',
      });
    });

    it('when the sub claim is longer than the 255 characters an operation records, then 401 ERR01114 and nothing changes; 255 are accepted', async () => {
      const user = await seedUser(ctx.database);
      const before = await snapshot(ctx.dataSource, user.issuerId);
      const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] });
      const tooLong = await post(
        ctx,
        DELINK_PATH,
        `Bearer ${await mintToken(user.issuerId, { sub: 'a'.repeat(256) })}`,
        body,
      );
      expectRefused(tooLong, 401, 'ERR01114');
      expect(tooLong.body.Message).toBe('The token sub claim must be at most 255 characters.');
      expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);

      const longest = 'b'.repeat(255);
      const res = await post(ctx, DELINK_PATH, `Bearer ${await mintToken(user.issuerId, { sub: longest })}`, body);
      expect(res.status).toBe(200);
      expect((await operationsOf(ctx.dataSource, user.issuerId)).at(-1)).toMatchObject({ requestorId: longest });
    });
  });

  describe('a token that was already accepted (remembered after its first verification)', () => {
    it('when its exp passes, then the same token is refused 401 ERR01112 and changes nothing', async () => {
      const user = await seedUser(ctx.database);
      const token = await mintToken(user.issuerId, { expiresIn: nowSeconds() + 2 });
      const first = await post(ctx, GET_LINKS_PATH, `Bearer ${token}`, ENDPOINTS[1]!.body(user));
      expect(first.status).toBe(200);

      await new Promise((resolve) => setTimeout(resolve, 2_000 - (Date.now() % 1000) + 1_100));
      const before = await snapshot(ctx.dataSource, user.issuerId);
      const res = await post(ctx, DELINK_PATH, `Bearer ${token}`, ENDPOINTS[0]!.body(user));

      expectRefused(res, 401, 'ERR01112');
      expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
    });

    it('when its claims come back with another signature, then 401 ERR01111 and the database is unchanged', async () => {
      const user = await seedUser(ctx.database);
      const token = await mintToken(user.issuerId);
      expect((await post(ctx, GET_LINKS_PATH, `Bearer ${token}`, ENDPOINTS[1]!.body(user))).status).toBe(200);
      const [header, payload] = token.split('.');
      const forged = `${header}.${payload}.${Buffer.alloc(32, 7).toString('base64url')}`;
      const before = await snapshot(ctx.dataSource, user.issuerId);

      const res = await post(ctx, DELINK_PATH, `Bearer ${forged}`, ENDPOINTS[0]!.body(user));

      expectRefused(res, 401, 'ERR01111');
      expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
    });

    it('when it is bound to one SSUserID, then on its next request it still may act for no other user', async () => {
      const user = await seedUser(ctx.database);
      const other = await seedUser(ctx.database, { issuerId: user.issuerId });
      const token = await mintToken(user.issuerId, { ssUserId: user.ssUserId });
      expect((await post(ctx, GET_LINKS_PATH, `Bearer ${token}`, ENDPOINTS[1]!.body(user))).status).toBe(200);

      const res = await post(ctx, DELINK_PATH, `Bearer ${token}`, ENDPOINTS[0]!.body(other));

      expectRefused(res, 403, 'ERR01121');
      expect(await linkOf(ctx.dataSource, other.issuerId, other.otherAccounts[0]!)).toMatchObject({ delinked: false });
    });
  });

  describe('with JWT_ISSUER and JWT_AUDIENCE configured', () => {
    const ISSUER = 'https://idp.example';
    const AUDIENCE = 'corecredit';
    let idp: TestContext;
    beforeAll(async () => {
      idp = await createTestContext({
        database: ctx.database,
        jwt: { ...defaultJwtConfig, issuer: ISSUER, audience: AUDIENCE },
      });
    });
    afterAll(async () => {
      await idp.close();
    });

    describe.each(ENDPOINTS)('POST $path', (endpoint) => {
      it.each([
        { when: 'iss and aud are the configured ones', claims: { iss: ISSUER, aud: AUDIENCE } },
        { when: 'aud is a list holding the configured audience', claims: { iss: ISSUER, aud: ['billing', AUDIENCE] } },
      ])('when $when, then the request is served', async ({ claims }) => {
        const user = await seedFor(ctx, endpoint);
        const res = await post(
          idp,
          endpoint.path,
          `Bearer ${await mintToken(user.issuerId, {}, claims)}`,
          endpoint.body(user),
        );
        await endpoint.expectServed(idp, user, res);
      });

      it.each([
        { when: 'iss is another issuer', claims: { iss: 'https://evil.example', aud: AUDIENCE } },
        { when: 'iss is missing', claims: { aud: AUDIENCE } },
        { when: 'aud is another audience', claims: { iss: ISSUER, aud: 'billing' } },
        { when: 'aud is missing', claims: { iss: ISSUER } },
      ])('when $when, then 401 ERR01114 and the database is unchanged', async ({ claims }) => {
        const user = await seedFor(ctx, endpoint);
        const before = await snapshot(ctx.dataSource, user.issuerId);
        const res = await post(
          idp,
          endpoint.path,
          `Bearer ${await mintToken(user.issuerId, {}, claims)}`,
          endpoint.body(user),
        );
        expectRefused(res, 401, 'ERR01114');
        expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
      });
    });
  });

  describe('with a JWKS URL (JWT_JWKS_URL) serving an RS256 and an ES256 key', () => {
    const ALGORITHMS = ['RS256', 'ES256'] as const;
    let keyed: TestContext;
    let jwks: Server;
    const privateKeys = new Map<string, CryptoKey>();
    beforeAll(async () => {
      const keys: JWK[] = [];
      for (const alg of ALGORITHMS) {
        const pair = await generateKeyPair(alg);
        privateKeys.set(alg, pair.privateKey);
        keys.push({ ...(await exportJWK(pair.publicKey)), alg, kid: `key-${alg}`, use: 'sig' });
      }
      jwks = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
      });
      await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
      const { port } = jwks.address() as AddressInfo;
      keyed = await createTestContext({
        database: ctx.database,
        jwt: {
          kind: 'jwks',
          url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
          issuer: undefined,
          audience: undefined,
          maxLifetimeSeconds: 86_400,
        },
      });
    });
    afterAll(async () => {
      await keyed.close();
      await new Promise((resolve) => jwks.close(resolve));
    });

    it.each(ALGORITHMS)('when an %s token is signed by a key of the set, then DeLinkAccount serves it', async (alg) => {
      const endpoint = ENDPOINTS[0]!;
      const user = await seedFor(ctx, endpoint);
      const token = await new SignJWT(validClaims(user.issuerId))
        .setProtectedHeader({ alg, kid: `key-${alg}`, typ: 'JWT' })
        .sign(privateKeys.get(alg)!);
      await endpoint.expectServed(
        keyed,
        user,
        await post(keyed, endpoint.path, `Bearer ${token}`, endpoint.body(user)),
      );
    });

    it.each([
      {
        when: 'an RS256 token is signed by a key not in the set',
        sign: async (claims: JWTPayload) => signToken(claims, 'RS256', (await generateKeyPair('RS256')).privateKey),
      },
      {
        when: 'an HS256 token uses the shared test secret',
        sign: (claims: JWTPayload) => signToken(claims, 'HS256', secretKey(TEST_SECRET)),
      },
    ])('when $when, then 401 ERR01111 and the database is unchanged', ({ sign }) => expectInvalidToken(keyed, sign));
  });

  describe.each([{ algorithm: 'RS256' as const }, { algorithm: 'ES256' as const }])(
    'with a $algorithm public key (JWT_PUBLIC_KEY)',
    ({ algorithm }) => {
      let keyed: TestContext;
      let privateKey: CryptoKey;
      let foreignPrivateKey: CryptoKey;
      let pem: string;
      beforeAll(async () => {
        const pair = await generateKeyPair(algorithm);
        privateKey = pair.privateKey;
        foreignPrivateKey = (await generateKeyPair(algorithm)).privateKey;
        pem = await exportSPKI(pair.publicKey);
        keyed = await createTestContext({
          database: ctx.database,
          jwt: {
            kind: 'publicKey',
            pem,
            algorithm,
            issuer: undefined,
            audience: undefined,
            maxLifetimeSeconds: 86_400,
          },
        });
      });
      afterAll(async () => {
        await keyed.close();
      });

      it.each(ENDPOINTS)(
        `when a ${algorithm} token is signed by the matching private key, then $name serves it`,
        async (endpoint) => {
          const user = await seedFor(ctx, endpoint);
          const token = await signToken(validClaims(user.issuerId), algorithm, privateKey);
          await endpoint.expectServed(
            keyed,
            user,
            await post(keyed, endpoint.path, `Bearer ${token}`, endpoint.body(user)),
          );
        },
      );

      it.each([
        {
          when: `a ${algorithm} token is signed by another key pair`,
          sign: (claims: JWTPayload) => signToken(claims, algorithm, foreignPrivateKey),
        },
        {
          when: 'an HS256 token uses the public key PEM as its HMAC secret',
          sign: (claims: JWTPayload) => signToken(claims, 'HS256', secretKey(pem)),
        },
        {
          when: 'an HS256 token uses the shared test secret',
          sign: (claims: JWTPayload) => signToken(claims, 'HS256', secretKey(TEST_SECRET)),
        },
      ])('when $when, then 401 ERR01111 and the database is unchanged', ({ sign }) => expectInvalidToken(keyed, sign));
    },
  );
});
