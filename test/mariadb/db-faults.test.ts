// Database faults injected on the wire: a TCP proxy between the service and MariaDB cuts, drops and delays traffic.
import { api } from '../helpers/api';
import type { Database } from '../../src/db/database';
import { DELINK_PATH, GET_LINKS_PATH } from '../../src/corecredit/routes';
import type { DatabaseConfig } from '../../src/config';
import { AppError } from '../../src/errors';
import {
  buildEnvelope,
  createTestContext,
  issuerToken,
  linkOf,
  mintToken,
  openDatabase,
  operationsOf,
  seedUser,
  testDatabase,
  type TestContext,
} from '../helpers/context';
import { TcpProxy } from '../helpers/tcp-proxy';
import { until } from '../helpers/until';

/** Every request must answer within this bound; a hung request fails the test. */
const ANSWER_WITHIN_MS = 10_000;
const QUERY_TIMEOUT_MS = 1_500;

describe('database faults (MariaDB behind a TCP proxy)', () => {
  let proxy: TcpProxy;
  let ctx: TestContext;
  let direct: Database;

  beforeAll(async () => {
    const database = testDatabase() as Extract<DatabaseConfig, { kind: 'mysql' }>;
    const url = new URL(database.url);
    proxy = await new TcpProxy(url.hostname, Number(url.port || 3306)).start();
    url.port = String(proxy.port);
    ctx = await createTestContext({
      databaseOptions: {
        ...database,
        url: url.toString(),
        poolSize: 4,
        acquireTimeoutMs: 500,
        queryTimeoutMs: QUERY_TIMEOUT_MS,
      },
    });
    direct = await openDatabase(database);
  });
  afterAll(async () => {
    proxy.set('pass');
    await ctx.close();
    await direct.close();
    await proxy.stop();
  });
  afterEach(() => proxy.set('pass'));

  async function delink(issuerId: string, body: Record<string, unknown>, correlationId?: string) {
    const req = api(ctx.app)
      .post(DELINK_PATH)
      .timeout(ANSWER_WITHIN_MS)
      .set('Authorization', `Bearer ${await mintToken(issuerId)}`);
    if (correlationId !== undefined) req.set('x-correlation-id', correlationId);
    return req.send(body);
  }

  it('when the database is cut, then every endpoint answers 503 with Retry-After, readiness is 503, and it recovers by itself once the database is back', async () => {
    const user = await seedUser(direct);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] });
    proxy.set('refuse');

    const res = await delink(user.issuerId, body);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.body).toEqual({ Message: expect.any(String), Status: false, ErrorCode: 'ERR01190', ResponseData: {} });
    expect(JSON.stringify(res.body)).not.toMatch(/ECONN|mysql|SELECT|UPDATE|at /);

    const list = await api(ctx.app)
      .post(GET_LINKS_PATH)
      .timeout(ANSWER_WITHIN_MS)
      .set('Authorization', `Bearer ${await mintToken(user.issuerId)}`)
      .send(body);
    expect([list.status, list.body.ErrorCode]).toEqual([503, 'ERR01190']);
    const register = await api(ctx.app)
      .put(`/issuers/${user.issuerId}/accounts/5000000000000001`)
      .timeout(ANSWER_WITHIN_MS)
      .set('Authorization', `Bearer ${await issuerToken(user.issuerId)}`)
      .send({ consumerId: user.ssUserId, state: 'ACTIVE' });
    expect([register.status, register.body.errorCode, register.headers['retry-after']]).toEqual([503, 'ERR01190', '2']);
    expect((await api(ctx.app).get('/health/ready').timeout(ANSWER_WITHIN_MS)).status).toBe(503);
    expect(await linkOf(direct.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({ delinked: false });

    proxy.set('pass');
    expect((await api(ctx.app).get('/health/ready').timeout(ANSWER_WITHIN_MS)).status).toBe(200);
    expect((await delink(user.issuerId, body)).status).toBe(200);
    expect(await linkOf(direct.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({ delinked: true });
  });

  it('when the database stops answering mid-transaction, then each request answers 200 or 503 in bounded time, and nothing is half-written', async () => {
    const user = await seedUser(direct, { accounts: 9 });
    proxy.set({ delayMs: 150 });
    const pending = user.otherAccounts.map((account, i) =>
      delink(user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: account }), `fault-${i}`),
    );
    await new Promise((resolve) => setTimeout(resolve, 400));
    proxy.set('blackhole');
    const responses = await Promise.all(pending);
    // Cut the silent connections so the server rolls back whatever they held open, then let traffic through again.
    proxy.set('refuse');
    proxy.set('pass');

    for (const res of responses) expect([200, 503]).toContain(res.status);
    expect(responses.some((res) => res.status === 503)).toBe(true);

    const operations = await operationsOf(direct.dataSource, user.issuerId);
    for (const [i, account] of user.otherAccounts.entries()) {
      const link = await linkOf(direct.dataSource, user.issuerId, account);
      const successes = operations.filter(
        (op) => op.operation === 'DELINK' && op.accountNumber === account && op.status === 'SUCCESSFUL',
      );
      // A change and its operation commit together or not at all.
      expect(successes).toHaveLength(link!.delinked ? 1 : 0);
      if (responses[i]!.status === 200) {
        expect(link!.delinked).toBe(true);
        expect(successes[0]!.correlationId).toBe(`fault-${i}`);
      }
    }
    expect(await linkOf(direct.dataSource, user.issuerId, user.mainAccount)).toMatchObject({ delinked: false });

    // Recovered without a restart.
    const again = await delink(
      user.issuerId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.mainAccount }),
    );
    expect(again.status).toBe(409);
  });

  it('when the database stops answering, then a read (GetLinkAccounts) answers 503 within its query timeout', async () => {
    const user = await seedUser(direct);
    proxy.set('blackhole');
    const list = await api(ctx.app)
      .post(GET_LINKS_PATH)
      .timeout(ANSWER_WITHIN_MS)
      .set('Authorization', `Bearer ${await mintToken(user.issuerId)}`)
      .send(buildEnvelope({ SSUserID: user.ssUserId }));
    // Cut the silent connections, then let traffic through again.
    proxy.set('refuse');
    proxy.set('pass');
    expect([list.status, list.body.ErrorCode, list.headers['retry-after']]).toEqual([503, 'ERR01190', '2']);
  });

  it('when the database is slow but within the timeout, then requests succeed', async () => {
    const user = await seedUser(direct);
    proxy.set({ delayMs: 50 });
    expect(
      (await delink(user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] })))
        .status,
    ).toBe(200);
  });

  it('when the database is slower than the query timeout, then 503, and the abandoned transaction never commits later', async () => {
    const user = await seedUser(direct);
    const account = user.otherAccounts[0]!;
    proxy.set({ delayMs: QUERY_TIMEOUT_MS + 500 });
    const res = await delink(
      user.issuerId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: account }),
      'too-slow',
    );
    expect([res.status, res.body.ErrorCode, res.body.Message]).toEqual([
      503,
      'ERR01190',
      `The database did not answer within ${QUERY_TIMEOUT_MS} ms.`,
    ]);
    proxy.set('pass');
    // Longer than every delayed packet could still be in flight.
    await new Promise((resolve) => setTimeout(resolve, QUERY_TIMEOUT_MS + 1_000));
    expect(await linkOf(direct.dataSource, user.issuerId, account)).toMatchObject({ delinked: false });
    expect(
      (await operationsOf(direct.dataSource, user.issuerId)).filter(
        (op) => op.correlationId === 'too-slow' && op.status === 'SUCCESSFUL',
      ),
    ).toEqual([]);
  });

  it('when a connection comes free only after the deadline of the unit waiting for it, then the unit has answered 503 and never runs on it', async () => {
    const mysql = testDatabase() as Extract<DatabaseConfig, { kind: 'mysql' }>;
    const database = await openDatabase({ ...mysql, poolSize: 1, queryTimeoutMs: 300 });
    // Holds the pool's one connection past the gate, as only a unit of work could; the next unit waits inside
    // mysql2's pool, whose wait has no end of its own.
    const holder = database.dataSource.createQueryRunner();
    await holder.connect();
    let ran = false;
    try {
      await expect(database.transaction(() => Promise.resolve((ran = true)))).rejects.toMatchObject({
        errorName: 'SERVICE_UNAVAILABLE',
        message: 'The database did not answer within 300 ms.',
      });
      await holder.release();
      // The connection now goes to the abandoned unit, which must not use it.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(ran).toBe(false);
      expect(await database.transaction(() => Promise.resolve('served'))).toBe('served');
    } finally {
      await database.close();
    }
  });

  describe('when the answer to COMMIT is lost', () => {
    it('after the server committed, then the service looks the operation up and answers 200, not a false 503', async () => {
      const user = await seedUser(direct);
      const account = user.otherAccounts[0]!;
      proxy.cutAfter('COMMIT', true);
      const started = Date.now();
      const res = await delink(
        user.issuerId,
        buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: account }),
        'commit-answer-lost',
      );
      expect([res.status, res.body.ErrorCode]).toEqual([200, 'ERR01093']);
      // It was the deadline, not a quick answer, that ended the first attempt.
      expect(Date.now() - started).toBeGreaterThanOrEqual(QUERY_TIMEOUT_MS);
      expect(await linkOf(direct.dataSource, user.issuerId, account)).toMatchObject({ delinked: true });
      const recorded = (await operationsOf(direct.dataSource, user.issuerId)).filter(
        (op) => op.correlationId === 'commit-answer-lost',
      );
      expect(recorded.map((op) => op.status)).toEqual(['SUCCESSFUL']);
    });

    it('after the server committed a refusal, then the recorded refusal is the answer', async () => {
      const user = await seedUser(direct);
      proxy.cutAfter('COMMIT', true);
      const res = await delink(
        user.issuerId,
        buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.mainAccount }),
      );
      expect([res.status, res.body.ErrorCode]).toEqual([409, 'ERR01140']);
    });

    it('after the server committed, and the lookups of the outcome cannot reach it either, then 503 saying that it is not known', async () => {
      const user = await seedUser(direct);
      const account = user.otherAccounts[0]!;
      proxy.cutAfter('COMMIT', true);
      const answer = delink(
        user.issuerId,
        buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: account }),
        'commit-outcome-unknown',
      );
      // The COMMIT has reached the server: from now on the database cannot be reached at all.
      await until(() => !proxy.armed);
      proxy.set('refuse');
      const res = await answer;
      expect([res.status, res.body.ErrorCode, res.body.Message, res.headers['retry-after']]).toEqual([
        503,
        'ERR01190',
        'The database did not answer; whether the change was made is not known.',
        '2',
      ]);
      proxy.set('pass');
      // It had committed: the delink and its operation, the only record of the request.
      expect(await linkOf(direct.dataSource, user.issuerId, account)).toMatchObject({ delinked: true });
      const recorded = (await operationsOf(direct.dataSource, user.issuerId)).filter(
        (op) => op.correlationId === 'commit-outcome-unknown',
      );
      expect(recorded.map((op) => op.status)).toEqual(['SUCCESSFUL']);
    });

    it('after the server committed, when every lookup of the outcome fails, then there are three and the 503 carries the last failure', async () => {
      proxy.cutAfter('COMMIT', true);
      let lookups = 0;
      const failure: unknown = await ctx.database
        .transaction((manager) => manager.query('SELECT 1'), {
          verify: () => {
            lookups += 1;
            return Promise.reject(new Error(`lookup ${lookups} failed`));
          },
        })
        .catch((error: unknown) => error);
      expect(lookups).toBe(3);
      expect(failure).toBeInstanceOf(AppError);
      expect(failure).toMatchObject({
        errorName: 'SERVICE_UNAVAILABLE',
        code: 'ERR01190',
        message: 'The database did not answer; whether the change was made is not known.',
        cause: new Error('lookup 3 failed'),
      });
    });

    it('after the server committed, when the first lookup of the outcome outlasts the query timeout, then the next one gives the answer', async () => {
      proxy.cutAfter('COMMIT', true);
      let lookups = 0;
      const answer = await ctx.database.transaction((manager) => manager.query('SELECT 1'), {
        verify: async (manager) => {
          lookups += 1;
          // The server holds the first lookup past the deadline; the one after it answers at once.
          if (lookups === 1) await manager.query(`SELECT SLEEP(${(2 * QUERY_TIMEOUT_MS) / 1000})`);
          return 'committed';
        },
      });
      expect([answer, lookups]).toEqual(['committed', 2]);
    });

    it('before the server got the COMMIT, then 503 with Retry-After, and nothing committed', async () => {
      const user = await seedUser(direct);
      const account = user.otherAccounts[0]!;
      proxy.cutAfter('COMMIT', false);
      const res = await delink(
        user.issuerId,
        buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: account }),
        'commit-lost',
      );
      // The lookup found that it did not commit: a plain 503, not the one saying that it is not known.
      expect([res.status, res.body.ErrorCode, res.body.Message, res.headers['retry-after']]).toEqual([
        503,
        'ERR01190',
        'The service is temporarily unavailable; retry later.',
        '2',
      ]);
      expect(await linkOf(direct.dataSource, user.issuerId, account)).toMatchObject({ delinked: false });
      const recorded = (await operationsOf(direct.dataSource, user.issuerId)).filter(
        (op) => op.correlationId === 'commit-lost',
      );
      expect(recorded.map((op) => [op.status, op.errorCode])).toEqual([['FAILED', 'ERR01190']]);
    });
  });

  it('when the server answers COMMIT with a deadlock, as a Galera node whose certification failed does, then the delink runs again and answers 200, recorded once', async () => {
    const user = await seedUser(direct);
    const account = user.otherAccounts[0]!;
    proxy.answerWithError(
      'COMMIT',
      1213,
      '40001',
      'Deadlock found when trying to get lock; try restarting transaction',
    );
    const res = await delink(
      user.issuerId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: account }),
      'commit-refused',
    );
    // An answer to COMMIT, even an error, is known: it did not commit, and the unit is simply run again.
    expect([res.status, res.body.ErrorCode]).toEqual([200, 'ERR01093']);
    expect(await linkOf(direct.dataSource, user.issuerId, account)).toMatchObject({ delinked: true });
    const recorded = (await operationsOf(direct.dataSource, user.issuerId)).filter(
      (op) => op.correlationId === 'commit-refused',
    );
    expect(recorded.map((op) => op.status)).toEqual(['SUCCESSFUL']);
  });
});
