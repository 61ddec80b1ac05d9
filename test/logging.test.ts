// The logs: one JSON completion line per request with its fields, business events, and never an account number,
// an SSUserID that reads like one, or a token.
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, type Response, type Test } from './helpers/api';
import { DELINK_PATH, GET_LINKS_PATH } from '../src/corecredit/routes';
import { ACCOUNT_PATH, DELETE_PATH, OPERATIONS_PATH } from '../src/issuer/routes';
import { createLogger, loggableUrl, maskAccountNumber } from '../src/logger';
import {
  buildEnvelope,
  createTestContext,
  issuerToken,
  mintToken,
  randomDigits,
  randomIssuerId,
  seedUser,
  TEST_SECRET,
  type TestContext,
} from './helpers/context';
import { logCollector } from './helpers/log-collector';

interface Expected {
  correlationId: string;
  method: string;
  route: string | null;
  status: number;
  sub: string | null;
  errorCode: string | null;
}

describe('request logs and business events', () => {
  const logs = logCollector();
  let ctx: TestContext;
  // Letters only: the log masks every run of five or more digits of a path, an issuer id's too, and these tests
  // expect the paths with the issuer id as it is and the account numbers masked.
  const issuerId = randomIssuerId().replace(/\d/g, 'D');
  // An SSUserID of digits only, as the documented sample's: it must be treated like an account number.
  const ssUserId = randomDigits(16);
  const [mainAccount, delinkedAccount, deletedAccount, otherAccount, encodedAccount] = Array.from({ length: 5 }, () =>
    randomDigits(16),
  ) as [string, string, string, string, string];
  /** Every digit percent-encoded (`7` → `%37`): the path as sent holds no digit run, the decoded one does. */
  const percentEncoded = (digits: string): string =>
    [...digits].map((d) => `%${d.charCodeAt(0).toString(16).toUpperCase()}`).join('');
  const tokens: Record<string, string> = {};
  const expected: Expected[] = [];
  const responses: Record<string, Response> = {};

  /** Sends one request with a correlation id of its own and records what its completion line must say. */
  async function send(
    name: string,
    build: (correlationId: string) => Test,
    expectation: Omit<Expected, 'correlationId' | 'status' | 'errorCode'> & {
      status: number;
      errorCode: string | null;
    },
  ): Promise<Response> {
    const correlationId = `log-${name}-${randomUUID()}`;
    const res = await build(correlationId).set('x-correlation-id', correlationId);
    expect(res.status).toBe(expectation.status);
    expected.push({ correlationId, ...expectation });
    responses[name] = res;
    return res;
  }

  beforeAll(async () => {
    ctx = await createTestContext({ logStream: logs.stream });
    tokens.channel = await mintToken(issuerId);
    tokens.issuer = await issuerToken(issuerId);
    tokens.forged = await mintToken(issuerId, { secret: `${TEST_SECRET}-not-ours` });
    tokens.inQuery = await mintToken(issuerId, { sub: 'careless-client' });
    const { app } = ctx;
    const issuerPath = (account: string): string =>
      ACCOUNT_PATH.replace(':issuerId', issuerId).replace(':accountId', account);
    const delink = (account: string) => (id: string) =>
      api(app)
        .post(DELINK_PATH)
        .set('Authorization', `Bearer ${tokens.channel}`)
        .set('x-correlation-id', id)
        .send(buildEnvelope({ SSUserID: ssUserId, AccountNumber: account }));

    for (const [i, account] of [mainAccount, delinkedAccount, deletedAccount, otherAccount].entries()) {
      await send(
        `register-${i}`,
        () =>
          api(app)
            .put(issuerPath(account))
            .set('Authorization', `Bearer ${tokens.issuer}`)
            .send({ consumerId: ssUserId, state: 'ACTIVE' }),
        { method: 'PUT', route: ACCOUNT_PATH, status: 204, sub: 'issuer-backend', errorCode: null },
      );
    }
    // Registered through a path whose every digit is percent-encoded: the log must decode it before masking.
    await send(
      'register-encoded',
      () =>
        api(app)
          .put(issuerPath(percentEncoded(encodedAccount)))
          .set('Authorization', `Bearer ${tokens.issuer}`)
          .send({ consumerId: ssUserId, state: 'ACTIVE' }),
      { method: 'PUT', route: ACCOUNT_PATH, status: 204, sub: 'issuer-backend', errorCode: null },
    );
    // A token in the query string is not how the service authenticates, but a careless client sends it anyway.
    await send(
      'token-in-query',
      () =>
        api(app)
          .post(`${DELINK_PATH}?access_token=${tokens.inQuery}&${tokens.inQuery}`)
          .send(buildEnvelope({ SSUserID: ssUserId, AccountNumber: otherAccount })),
      { method: 'POST', route: DELINK_PATH, status: 401, sub: null, errorCode: 'ERR01110' },
    );
    await send('delink', delink(delinkedAccount), {
      method: 'POST',
      route: DELINK_PATH,
      status: 200,
      sub: 'portal-backend',
      errorCode: 'ERR01093',
    });
    await send('main', delink(mainAccount), {
      method: 'POST',
      route: DELINK_PATH,
      status: 409,
      sub: 'portal-backend',
      errorCode: 'ERR01140',
    });
    // Invalid by a leading space: the refused value itself must not reach the log either.
    await send('invalid', delink(` ${otherAccount}`), {
      method: 'POST',
      route: DELINK_PATH,
      status: 400,
      sub: 'portal-backend',
      errorCode: 'ERR01100',
    });
    await send(
      'forged',
      () =>
        api(app)
          .post(DELINK_PATH)
          .set('Authorization', `Bearer ${tokens.forged}`)
          .send(buildEnvelope({ SSUserID: ssUserId, AccountNumber: otherAccount })),
      { method: 'POST', route: DELINK_PATH, status: 401, sub: null, errorCode: 'ERR01111' },
    );
    await send(
      'list',
      () =>
        api(app)
          .post(GET_LINKS_PATH)
          .set('Authorization', `Bearer ${tokens.channel}`)
          .send(buildEnvelope({ SSUserID: ssUserId, AccountNumber: undefined })),
      { method: 'POST', route: GET_LINKS_PATH, status: 200, sub: 'portal-backend', errorCode: 'ERR01093' },
    );
    await send(
      'delete',
      () =>
        api(app)
          .post(`${issuerPath(deletedAccount)}/operations:delete`)
          .set('Authorization', `Bearer ${tokens.issuer}`)
          .send({ reason: 'closed by the cardholder', reasonCode: 'USER_DECISION' }),
      { method: 'POST', route: DELETE_PATH, status: 200, sub: 'issuer-backend', errorCode: null },
    );
    await send(
      'operations',
      () =>
        api(app)
          .get(`/issuers/${issuerId}/consumers/${ssUserId}/operations?offset=0&count=50`)
          .set('Authorization', `Bearer ${tokens.issuer}`),
      { method: 'GET', route: OPERATIONS_PATH, status: 200, sub: 'issuer-backend', errorCode: null },
    );
    await send('unknown', () => api(app).get(`/issuers/${issuerId}/accounts/${otherAccount}/history`), {
      method: 'GET',
      route: null,
      status: 404,
      sub: null,
      errorCode: 'ERR01134',
    });
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('when requests were served, then every line written is one JSON object', () => {
    const raw = logs
      .text()
      .split('\n')
      .filter((line) => line !== '');
    expect(raw.length).toBeGreaterThanOrEqual(expected.length);
    for (const line of raw) expect(JSON.parse(line)).toEqual(expect.any(Object));
  });

  it('when a request is answered, then it has exactly one completion line with correlation id, method, route, status, duration, caller and ErrorCode', () => {
    const completions = logs.lines().filter((line) => line.durationMs !== undefined);
    expect(completions).toHaveLength(expected.length);
    for (const e of expected) {
      const mine = completions.filter((line) => line.correlationId === e.correlationId);
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({
        correlationId: e.correlationId,
        req: { method: e.method },
        route: e.route,
        res: { statusCode: e.status },
        durationMs: expect.any(Number),
        sub: e.sub,
        errorCode: e.errorCode,
      });
    }
  });

  it('when the ErrorCode of a CoreCredit response is logged, then it is the one the caller received', () => {
    const completions = logs.lines().filter((line) => line.durationMs !== undefined);
    for (const name of ['delink', 'main', 'invalid', 'forged', 'list']) {
      const res = responses[name]!;
      const line = completions.find((l) => l.correlationId === res.headers['x-correlation-id']);
      expect(line?.errorCode).toBe((res.body as { ErrorCode: string }).ErrorCode);
    }
  });

  it('when accounts are registered, delinked, refused and deleted, then the completion line names the event with the masked account', () => {
    const events = logs.lines().filter((line) => line.durationMs !== undefined && line.event !== undefined);
    const correlationOf = (name: string): unknown => responses[name]!.headers['x-correlation-id'];
    const registered = events.filter((e) => e.event === 'account registered');
    expect(registered).toHaveLength(5);
    expect(registered).toContainEqual(
      expect.objectContaining({
        correlationId: correlationOf('register-encoded'),
        account: maskAccountNumber(encodedAccount),
      }),
    );
    for (const [i, account] of [mainAccount, delinkedAccount, deletedAccount, otherAccount].entries()) {
      expect(registered).toContainEqual(
        expect.objectContaining({
          level: 30,
          correlationId: correlationOf(`register-${i}`),
          account: maskAccountNumber(account),
          state: 'ACTIVE',
        }),
      );
    }
    expect(events.filter((e) => e.event === 'account delinked')).toEqual([
      expect.objectContaining({
        level: 30,
        correlationId: correlationOf('delink'),
        account: maskAccountNumber(delinkedAccount),
      }),
    ]);
    expect(events.filter((e) => e.event === 'delink refused')).toEqual([
      expect.objectContaining({
        level: 30,
        correlationId: correlationOf('main'),
        account: maskAccountNumber(mainAccount),
        errorCode: 'ERR01140',
      }),
    ]);
    expect(events.filter((e) => e.event === 'account deleted')).toEqual([
      expect.objectContaining({
        level: 30,
        correlationId: correlationOf('delete'),
        account: maskAccountNumber(deletedAccount),
        operationId: (responses.delete!.body as { operationId: string }).operationId,
      }),
    ]);
    expect(maskAccountNumber(mainAccount)).toBe(`************${mainAccount.slice(-4)}`);
  });

  it('when a path is percent-encoded, then its completion line shows it decoded with the account masked', () => {
    const line = logs
      .lines()
      .find((l) => l.correlationId === responses['register-encoded']!.headers['x-correlation-id']);
    const masked = ACCOUNT_PATH.replace(':issuerId', issuerId).replace(':accountId', maskAccountNumber(encodedAccount));
    expect(line).toMatchObject({ req: { method: 'PUT', url: masked }, msg: `PUT ${masked} 204` });
  });

  it('when a request has a query string, then its completion line has the path and the parameter names only', () => {
    const line = logs.lines().find((l) => l.correlationId === responses['token-in-query']!.headers['x-correlation-id']);
    expect(line).toMatchObject({
      req: { method: 'POST', url: DELINK_PATH, query: ['access_token', '[redacted]'] },
      msg: `POST ${DELINK_PATH} 401`,
    });
    const listing = logs.lines().find((l) => l.correlationId === responses.operations!.headers['x-correlation-id']);
    expect(listing).toMatchObject({ req: { query: ['offset', 'count'] } });
    expect(JSON.stringify(listing)).not.toContain('count=');
  });

  it('when everything was logged, then no account number, no SSUserID, no token and no secret appears whole anywhere', () => {
    const text = logs.text();
    // Whole and as sent: the run's every line, the percent-encoded path of a registered account included.
    for (const secret of [
      mainAccount,
      delinkedAccount,
      deletedAccount,
      otherAccount,
      encodedAccount,
      percentEncoded(encodedAccount),
      ssUserId,
      TEST_SECRET,
      ...Object.values(tokens),
    ]) {
      expect(text).not.toContain(secret);
    }
    // The responses did carry them, so the log had every chance to copy them.
    expect(JSON.stringify(responses.list!.body)).toContain(mainAccount);
  });
});

describe('the log of a request that failed in the database', () => {
  const logs = logCollector();
  let ctx: TestContext;

  beforeAll(async () => {
    // A broken schema, on a database of this test's own (never the suite's shared MariaDB database).
    ctx = await createTestContext({
      logStream: logs.stream,
      databaseOptions: { kind: 'sqlite', path: join(tmpdir(), `cc-test-logs-${randomUUID()}.sqlite`) },
    });
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('when a query fails, then the error is logged with its type and correlation id but without the SQL parameters that hold the account', async () => {
    const user = await seedUser(ctx.database);
    const account = user.otherAccounts[0]!;
    await ctx.dataSource.query('DROP TABLE operations');
    const token = await mintToken(user.issuerId);
    const correlationId = `log-failed-${randomUUID()}`;

    const res = await api(ctx.app)
      .post(DELINK_PATH)
      .set('Authorization', `Bearer ${token}`)
      .set('x-correlation-id', correlationId)
      .send(buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: account }));

    expect(res.status).toBe(500);
    const failures = logs
      .lines()
      .filter((line) => line.correlationId === correlationId && line.level === 50 && line.durationMs === undefined);
    expect(failures).toEqual([
      expect.objectContaining({ msg: 'request failed', err: expect.objectContaining({ type: 'QueryFailedError' }) }),
    ]);
    expect(failures[0]!.err).not.toHaveProperty('parameters');
    expect(failures[0]!.err).not.toHaveProperty('query');
    const text = logs.text();
    expect(text).not.toContain(account);
    expect(text).not.toContain(user.ssUserId);
    expect(text).not.toContain(token);
  });
});

describe('the logger', () => {
  it('when a URL has malformed escapes, then it is still decoded where it can be, masked, and nothing throws', () => {
    expect(loggableUrl('/issuers/DEMOISSUER/accounts/%E0%37%30%30%30%30%30%30%32%zz%')).toEqual({
      path: '/issuers/DEMOISSUER/accounts/\uFFFD****0002%zz%',
      query: undefined,
    });
    expect(loggableUrl('/a/7000000000000002?%E0=1&=2&x&n%61me=%ZZ&&')).toEqual({
      path: '/a/************0002',
      query: ['[redacted]', '[redacted]', 'x', 'name'],
    });
  });

  it('when a line is handed a token, a secret, a password or an Authorization header, then they are redacted', async () => {
    const logs = logCollector();
    const logger = createLogger('info', logs.stream);
    logger.info(
      {
        token: 'tok-123',
        secret: 'sec-456',
        password: 'pw-789',
        authorization: 'Bearer abc',
        req: { headers: { authorization: 'Bearer def' } },
      },
      'careless',
    );
    logger.flush();
    await new Promise((resolve) => setImmediate(resolve));

    expect(logs.lines()).toEqual([
      expect.objectContaining({
        msg: 'careless',
        token: '[redacted]',
        secret: '[redacted]',
        password: '[redacted]',
        authorization: '[redacted]',
        req: { headers: { authorization: '[redacted]' } },
      }),
    ]);
  });
});
