import { DEFAULT_IDEMPOTENCY } from '../src/config';
import { api } from './helpers/api';
import { DELINK_PATH, LINK_PATH } from '../src/corecredit/routes';
import { IdempotencyKey } from '../src/db/entities';
import {
  IDEMPOTENCY_LEASE_MS,
  idempotencyHashes,
  PURGE_BATCH_SIZE,
  purgeIdempotencyKeys,
  schedulePurge,
} from '../src/http/idempotency';
import { createLogger } from '../src/logger';
import { logCollector } from './helpers/log-collector';
import { until } from './helpers/until';
import {
  buildEnvelope,
  createTestContext,
  issuerToken,
  linkOf,
  mintToken,
  operationsOf,
  seedUser,
  snapshot,
  type TestContext,
} from './helpers/context';

const RETENTION_MS = DEFAULT_IDEMPOTENCY.retentionMs;
/** Every fake of Jest's clock but Date's. */
const NOT_DATE: FakeTimersConfig['doNotFake'] = [
  'hrtime',
  'nextTick',
  'performance',
  'queueMicrotask',
  'requestAnimationFrame',
  'cancelAnimationFrame',
  'requestIdleCallback',
  'cancelIdleCallback',
  'setImmediate',
  'clearImmediate',
  'setInterval',
  'clearInterval',
  'setTimeout',
  'clearTimeout',
];

describe('Idempotency-Key', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  /** A delink during which the `nth` unit of work fails with `error`, as it would against a database that went away. */
  async function delinkWhileUnitFails(
    nth: number,
    error: Error,
    issuerId: string,
    body: Record<string, unknown>,
    key: string,
  ) {
    const transaction = ctx.database.transaction.bind(ctx.database);
    let calls = 0;
    const spy = jest.spyOn(ctx.database, 'transaction').mockImplementation((work, options) => {
      calls += 1;
      return transaction(calls === nth ? () => Promise.reject(error) : work, options);
    });
    try {
      return await delink(issuerId, body, key);
    } finally {
      spy.mockRestore();
    }
  }

  async function delink(
    issuerId: string,
    body: Record<string, unknown>,
    key?: string,
    sub: string | null = 'portal-backend',
  ) {
    const req = api(ctx.app)
      .post(DELINK_PATH)
      .set('Authorization', `Bearer ${await mintToken(issuerId, { sub })}`);
    if (key !== undefined) req.set('Idempotency-Key', key);
    return req.send(body);
  }

  it('when a delink is repeated with the same key and body, then the first response is replayed and nothing runs again', async () => {
    const user = await seedUser(ctx.database);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] });
    const first = await delink(user.issuerId, body, 'portal-retry-1');
    expect(first.status).toBe(200);
    const after = await snapshot(ctx.dataSource, user.issuerId);

    const replay = await delink(user.issuerId, body, 'portal-retry-1');
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(after);

    // Without the key, the same request runs and meets the already-delinked account.
    expect((await delink(user.issuerId, body)).body.ErrorCode).toBe('ERR01132');
  });

  it('when a refused delink is repeated with its key, then the refusal is replayed and no second operation is recorded', async () => {
    const user = await seedUser(ctx.database);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.mainAccount });
    const first = await delink(user.issuerId, body, 'main-1');
    expect(first.status).toBe(409);
    const operations = (await operationsOf(ctx.dataSource, user.issuerId)).length;
    const replay = await delink(user.issuerId, body, 'main-1');
    expect([replay.status, replay.body]).toEqual([409, first.body]);
    expect(await operationsOf(ctx.dataSource, user.issuerId)).toHaveLength(operations);
  });

  async function link(issuerId: string, body: Record<string, unknown>, key?: string) {
    const req = api(ctx.app)
      .post(LINK_PATH)
      .set('Authorization', `Bearer ${await mintToken(issuerId)}`);
    if (key !== undefined) req.set('Idempotency-Key', key);
    return req.send(body);
  }

  it('when a link is repeated with the same key and body, then the first success is replayed, not an ERR01175', async () => {
    const user = await seedUser(ctx.database);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] });
    expect((await delink(user.issuerId, body)).status).toBe(200);
    const first = await link(user.issuerId, body, 'relink-1');
    expect([first.status, first.body.ErrorCode]).toEqual([200, 'ERR01093']);
    const after = await snapshot(ctx.dataSource, user.issuerId);

    const replay = await link(user.issuerId, body, 'relink-1');
    expect([replay.status, replay.headers['idempotent-replayed']]).toEqual([200, 'true']);
    expect(replay.body).toEqual(first.body);
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(after);

    // Without the key, the same request runs and meets the linked account.
    expect((await link(user.issuerId, body)).body.ErrorCode).toBe('ERR01175');
  });

  it('when a delink key is sent again with the same body to LinkMultipleAccounts, then 422 ERR01143 and nothing runs', async () => {
    const user = await seedUser(ctx.database);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] });
    expect((await delink(user.issuerId, body, 'one-key')).status).toBe(200);
    const before = await snapshot(ctx.dataSource, user.issuerId);

    const res = await link(user.issuerId, body, 'one-key');
    expect([res.status, res.body.ErrorCode]).toEqual([422, 'ERR01143']);
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
    expect(await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({ delinked: true });
  });

  it('when the same key comes with another body, then 422 ERR01143 and nothing runs', async () => {
    const user = await seedUser(ctx.database);
    await delink(
      user.issuerId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] }),
      'k-1',
    );
    const before = await snapshot(ctx.dataSource, user.issuerId);
    const res = await delink(
      user.issuerId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[1] }),
      'k-1',
    );
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ Status: false, ErrorCode: 'ERR01143' });
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
    expect(await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[1]!)).toMatchObject({ delinked: false });
  });

  it('when the same key is used by another caller, then it is a different key', async () => {
    const user = await seedUser(ctx.database);
    const [a, b] = user.otherAccounts as [string, string];
    expect(
      (await delink(user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: a }), 'shared', 'portal-a'))
        .status,
    ).toBe(200);
    expect(
      (await delink(user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: b }), 'shared', 'ivr-b'))
        .status,
    ).toBe(200);
  });

  it("when one caller's sub and key run together as another's (portal + a-1, portala + -1), then they are different keys", async () => {
    const user = await seedUser(ctx.database);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] });
    expect((await delink(user.issuerId, body, 'a-1', 'portal')).status).toBe(200);

    const other = await delink(user.issuerId, body, '-1', 'portala');
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    expect([other.status, other.body.ErrorCode]).toEqual([404, 'ERR01132']);
    const delinks = (await operationsOf(ctx.dataSource, user.issuerId)).filter((op) => op.operation === 'DELINK');
    expect(delinks.map((op) => op.errorCode).sort()).toEqual(['ERR01132', null]);
  });

  it('when tokens name no caller (no sub, or an empty one), then they are one unnamed caller of the issuer: the retry replays', async () => {
    const user = await seedUser(ctx.database);
    const [a, b] = user.otherAccounts as [string, string];
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: a });
    expect((await delink(user.issuerId, body, 'unnamed-1', null)).status).toBe(200);
    const retry = await delink(user.issuerId, body, 'unnamed-1', '');
    expect([retry.status, retry.headers['idempotent-replayed']]).toEqual([200, 'true']);
    // A named caller's same key is another key: its request runs.
    const named = await delink(
      user.issuerId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: b }),
      'unnamed-1',
    );
    expect([named.status, named.headers['idempotent-replayed']]).toEqual([200, undefined]);
    expect(await linkOf(ctx.dataSource, user.issuerId, b)).toMatchObject({ delinked: true });
  });

  it('when the first request with the key is still running, then 409 ERR01142 with Retry-After, and nothing runs', async () => {
    const user = await seedUser(ctx.database);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] });
    const hashes = idempotencyHashes({ issuerId: user.issuerId, sub: 'portal-backend' }, 'busy-1', {
      method: 'POST',
      path: DELINK_PATH,
      body,
    });
    await ctx.dataSource
      .getRepository(IdempotencyKey)
      .insert({ ...hashes, state: 'IN_PROGRESS', responseStatus: null, responseBody: null, createdAt: new Date() });
    const before = await snapshot(ctx.dataSource, user.issuerId);

    const res = await delink(user.issuerId, body, 'busy-1');
    expect(res.status).toBe(409);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body).toMatchObject({ Status: false, ErrorCode: 'ERR01142' });
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
  });

  it('when the first request with the key died and its lease ran out, then a retry runs it', async () => {
    const user = await seedUser(ctx.database);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] });
    const hashes = idempotencyHashes({ issuerId: user.issuerId, sub: 'portal-backend' }, 'dead-1', {
      method: 'POST',
      path: DELINK_PATH,
      body,
    });
    const abandonedAt = new Date(Date.now() - IDEMPOTENCY_LEASE_MS - 1000);
    await ctx.dataSource
      .getRepository(IdempotencyKey)
      .insert({ ...hashes, state: 'IN_PROGRESS', responseStatus: null, responseBody: null, createdAt: abandonedAt });

    const res = await delink(user.issuerId, body, 'dead-1');
    expect(res.status).toBe(200);
    expect(await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({ delinked: true });
    expect(
      await ctx.dataSource.getRepository(IdempotencyKey).findOneByOrFail({ keyHash: hashes.keyHash }),
    ).toMatchObject({ state: 'DONE', responseStatus: 200 });
  });

  it('when two retries take over one abandoned key at once, then one runs it and the other gets 409 ERR01142 and runs nothing', async () => {
    const user = await seedUser(ctx.database);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] });
    const hashes = idempotencyHashes({ issuerId: user.issuerId, sub: 'portal-backend' }, 'dead-2', {
      method: 'POST',
      path: DELINK_PATH,
      body,
    });
    const keys = ctx.dataSource.getRepository(IdempotencyKey);
    const abandonedAt = new Date(Date.now() - IDEMPOTENCY_LEASE_MS - 1000);
    await keys.insert({
      ...hashes,
      state: 'IN_PROGRESS',
      responseStatus: null,
      responseBody: null,
      createdAt: abandonedAt,
    });
    const before = await snapshot(ctx.dataSource, user.issuerId);

    // This retry read the abandoned claim; the other retry takes it over just before this one's takeover runs.
    const rivalClaimedAt = new Date(Date.now() - 1000);
    const transaction = ctx.database.transaction.bind(ctx.database);
    let calls = 0;
    const spy = jest.spyOn(ctx.database, 'transaction').mockImplementation((work, options) => {
      calls += 1;
      if (calls !== 2) return transaction(work, options);
      return transaction(async (manager) => {
        await manager.getRepository(IdempotencyKey).update({ keyHash: hashes.keyHash }, { createdAt: rivalClaimedAt });
        return work(manager);
      }, options);
    });
    let res;
    try {
      res = await delink(user.issuerId, body, 'dead-2');
    } finally {
      spy.mockRestore();
    }
    expect(res.status).toBe(409);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body).toMatchObject({ Status: false, ErrorCode: 'ERR01142' });
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
    const row = await keys.findOneByOrFail({ keyHash: hashes.keyHash });
    // The rival's claim stands: this retry's takeover did not overwrite it.
    expect([row.state, row.createdAt.getTime()]).toEqual(['IN_PROGRESS', rivalClaimedAt.getTime()]);
  });

  it('when the key cannot be claimed because the database is away, then 503 with Retry-After and nothing runs', async () => {
    const user = await seedUser(ctx.database);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] });
    const before = await snapshot(ctx.dataSource, user.issuerId);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), {
      code: 'ECONNREFUSED',
      fatal: true,
    });
    const res = await delinkWhileUnitFails(1, refused, user.issuerId, body, 'away-1');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.body).toMatchObject({ Status: false, ErrorCode: 'ERR01190' });
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
    expect(
      await ctx.dataSource.getRepository(IdempotencyKey).countBy({ keyHash: keyHashOf(user.issuerId, 'away-1') }),
    ).toBe(0);
  });

  it('when the request with the key fails with a 503 after the key was claimed, then the key is released and its retry runs the request', async () => {
    const user = await seedUser(ctx.database);
    const account = user.otherAccounts[0]!;
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: account });
    // The first unit of work claims the key; the second, the delink's own, meets a database that went away.
    const lost = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', fatal: true });
    const failed = await delinkWhileUnitFails(2, lost, user.issuerId, body, 'fails-1');
    expect([failed.status, failed.body.ErrorCode]).toEqual([503, 'ERR01190']);
    expect(await linkOf(ctx.dataSource, user.issuerId, account)).toMatchObject({ delinked: false });
    const keyHash = keyHashOf(user.issuerId, 'fails-1');
    expect(await ctx.dataSource.getRepository(IdempotencyKey).countBy({ keyHash })).toBe(0);

    const retry = await delink(user.issuerId, body, 'fails-1');
    expect([retry.status, retry.body.Status, retry.headers['idempotent-replayed']]).toEqual([200, true, undefined]);
    expect(await linkOf(ctx.dataSource, user.issuerId, account)).toMatchObject({ delinked: true });
  });

  it('when a body with an Idempotency-Key has an unknown field of 8,000 nested arrays, then it is handled (409 main account), not a 500', async () => {
    const user = await seedUser(ctx.database, { accounts: 2 });
    const envelope = JSON.stringify(buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.mainAccount }));
    const deep = '['.repeat(8000) + ']'.repeat(8000);
    const res = await api(ctx.app)
      .post(DELINK_PATH)
      .set('Authorization', `Bearer ${await mintToken(user.issuerId)}`)
      .set('Content-Type', 'application/json')
      .set('Idempotency-Key', 'deep-body')
      .send(`${envelope.slice(0, -1)},"X":${deep}}`);
    expect([res.status, res.body.ErrorCode]).toEqual([409, 'ERR01140']);
  });

  it.each([
    { key: '', why: 'empty' },
    { key: 'x'.repeat(256), why: '256 characters long' },
    { key: 'ключ', why: 'not ASCII' },
  ])('when the key is $why, then 400 names the header and nothing runs', async ({ key }) => {
    const user = await seedUser(ctx.database);
    const before = await snapshot(ctx.dataSource, user.issuerId);
    const res = await api(ctx.app)
      .post(DELINK_PATH)
      .set('Authorization', `Bearer ${await mintToken(user.issuerId)}`)
      .set('Idempotency-Key', Buffer.from(key, 'utf8').toString('latin1'))
      .send(buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] }));
    expect(res.status).toBe(400);
    expect(res.body.ResponseData.Errors).toEqual([
      { Field: 'Idempotency-Key', Message: 'Idempotency-Key must be 1 to 255 printable ASCII characters' },
    ]);
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
  });

  it('when register and delete are repeated with their keys, then they replay too', async () => {
    const user = await seedUser(ctx.database);
    const token = await issuerToken(user.issuerId);
    const put = () =>
      api(ctx.app)
        .put(`/issuers/${user.issuerId}/accounts/4000000000000001`)
        .set('Authorization', `Bearer ${token}`)
        .set('Idempotency-Key', 'reg-1')
        .send({ consumerId: user.ssUserId, state: 'ACTIVE' });
    expect((await put()).status).toBe(204);
    const replayedPut = await put();
    expect([replayedPut.status, replayedPut.headers['idempotent-replayed']]).toEqual([204, 'true']);
    // A replayed 204 is a 204 still: no body, and no content type announcing one.
    expect(replayedPut.text).toBe('');
    expect(replayedPut.headers['content-type']).toBeUndefined();

    const del = () =>
      api(ctx.app)
        .post(`/issuers/${user.issuerId}/accounts/4000000000000001/operations:delete`)
        .set('Authorization', `Bearer ${token}`)
        .set('Idempotency-Key', 'del-1')
        .send({ reason: 'closed' });
    const first = await del();
    expect(first.status).toBe(200);
    const operations = (await operationsOf(ctx.dataSource, user.issuerId)).length;
    const replay = await del();
    expect(replay.body).toEqual(first.body);
    expect(await operationsOf(ctx.dataSource, user.issuerId)).toHaveLength(operations);
  });

  it('when keys are older than 24 hours, then the purge removes them and keeps the rest', async () => {
    const repo = ctx.dataSource.getRepository(IdempotencyKey);
    const now = new Date();
    const old = {
      keyHash: `old-${Date.now()}`,
      requestHash: 'r',
      state: 'DONE' as const,
      responseStatus: 200,
      responseBody: '{}',
      createdAt: new Date(now.getTime() - RETENTION_MS - 1000),
    };
    const fresh = {
      ...old,
      keyHash: `fresh-${Date.now()}`,
      createdAt: new Date(now.getTime() - RETENTION_MS + 60_000),
    };
    await repo.insert([old, fresh]);
    expect(await purgeIdempotencyKeys(ctx.database, RETENTION_MS, now)).toBeGreaterThanOrEqual(1);
    expect(await repo.findOneBy({ keyHash: old.keyHash })).toBeNull();
    expect(await repo.findOneBy({ keyHash: fresh.keyHash })).not.toBeNull();
    // Nothing is that old: the purge deletes nothing and says so.
    expect(await purgeIdempotencyKeys(ctx.database, RETENTION_MS, new Date(0))).toBe(0);
  });

  /** Ages every key of this test's requests by `ms`, as if they had been claimed that long ago. */
  async function ageKeys(keyHashes: string[], ms: number): Promise<void> {
    for (const keyHash of keyHashes) {
      const row = await ctx.dataSource.getRepository(IdempotencyKey).findOneByOrFail({ keyHash });
      await ctx.dataSource
        .getRepository(IdempotencyKey)
        .update({ keyHash }, { createdAt: new Date(row.createdAt.getTime() - ms) });
    }
  }

  const keyHashOf = (issuerId: string, key: string, sub = 'portal-backend'): string =>
    idempotencyHashes({ issuerId, sub }, key, { method: 'POST', path: DELINK_PATH, body: null }).keyHash;

  it('when a finished key is older than its retention, then it is a new key even before the purge: the request runs again', async () => {
    const user = await seedUser(ctx.database);
    const first = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] });
    expect((await delink(user.issuerId, first, 'ivr-session-42')).status).toBe(200);
    await ageKeys([keyHashOf(user.issuerId, 'ivr-session-42')], RETENTION_MS + 1000);

    // A day later the IVR reuses its session id as the key for another account: no stale replay, no 422.
    const second = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[1] });
    const res = await delink(user.issuerId, second, 'ivr-session-42');
    expect([res.status, res.body.ErrorCode, res.headers['idempotent-replayed']]).toEqual([200, 'ERR01093', undefined]);
    expect(await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[1]!)).toMatchObject({ delinked: true });
    // The key now holds the new request: repeating it replays the new answer.
    const replay = await delink(user.issuerId, second, 'ivr-session-42');
    expect([replay.status, replay.headers['idempotent-replayed']]).toEqual([200, 'true']);
  });

  it('when the same expired key comes with its original request, then it runs again instead of replaying the old answer', async () => {
    const user = await seedUser(ctx.database);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] });
    expect((await delink(user.issuerId, body, 'daily-1')).status).toBe(200);
    await ageKeys([keyHashOf(user.issuerId, 'daily-1')], RETENTION_MS + 1000);
    const operations = (await operationsOf(ctx.dataSource, user.issuerId)).length;
    const res = await delink(user.issuerId, body, 'daily-1');
    expect([res.status, res.body.ErrorCode, res.headers['idempotent-replayed']]).toEqual([404, 'ERR01132', undefined]);
    expect(await operationsOf(ctx.dataSource, user.issuerId)).toHaveLength(operations + 1);
  });

  /** Runs `work` with the clock stopped at a whole second (only Date is faked: every timer still runs). */
  async function atStoppedClock<T>(work: () => Promise<T>): Promise<T> {
    jest.useFakeTimers({ now: Math.floor(Date.now() / 1000) * 1000, doNotFake: NOT_DATE });
    try {
      return await work();
    } finally {
      jest.useRealTimers();
    }
  }

  it('when a finished key is exactly as old as its retention, then it is already expired: the request runs again', async () => {
    const user = await seedUser(ctx.database);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] });
    const res = await atStoppedClock(async () => {
      expect((await delink(user.issuerId, body, 'edge-1')).status).toBe(200);
      await ageKeys([keyHashOf(user.issuerId, 'edge-1')], RETENTION_MS);
      return delink(user.issuerId, body, 'edge-1');
    });
    expect([res.status, res.body.ErrorCode, res.headers['idempotent-replayed']]).toEqual([404, 'ERR01132', undefined]);
  });

  it('when an unfinished key is exactly as old as its lease, then the lease has run out: a retry takes it over and runs', async () => {
    const user = await seedUser(ctx.database);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] });
    const res = await atStoppedClock(async () => {
      const hashes = idempotencyHashes({ issuerId: user.issuerId, sub: 'portal-backend' }, 'edge-2', {
        method: 'POST',
        path: DELINK_PATH,
        body,
      });
      await ctx.dataSource.getRepository(IdempotencyKey).insert({
        ...hashes,
        state: 'IN_PROGRESS',
        responseStatus: null,
        responseBody: null,
        createdAt: new Date(Date.now() - IDEMPOTENCY_LEASE_MS),
      });
      return delink(user.issuerId, body, 'edge-2');
    });
    expect([res.status, res.body.ErrorCode]).toEqual([200, 'ERR01093']);
    expect(await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({ delinked: true });
  });

  it('when a request is refused by validation, then nothing is stored under its key and the corrected retry runs', async () => {
    const user = await seedUser(ctx.database);
    const invalid = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: ` ${user.otherAccounts[0]}` });
    const refused = await delink(user.issuerId, invalid, 'fix-and-retry');
    expect([refused.status, refused.body.ErrorCode]).toEqual([400, 'ERR01100']);
    expect(
      await ctx.dataSource
        .getRepository(IdempotencyKey)
        .countBy({ keyHash: keyHashOf(user.issuerId, 'fix-and-retry') }),
    ).toBe(0);

    const corrected = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] });
    const res = await delink(user.issuerId, corrected, 'fix-and-retry');
    expect([res.status, res.body.ErrorCode, res.headers['idempotent-replayed']]).toEqual([200, 'ERR01093', undefined]);
    expect(await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({ delinked: true });
  });

  it('when a registration is refused by validation or for another issuer, then its corrected retry with the same key runs', async () => {
    const user = await seedUser(ctx.database);
    const token = await issuerToken(user.issuerId);
    const put = (issuerId: string, body: Record<string, unknown>) =>
      api(ctx.app)
        .put(`/issuers/${issuerId}/accounts/4000000000000077`)
        .set('Authorization', `Bearer ${token}`)
        .set('Idempotency-Key', 'register-77')
        .send(body);
    expect((await put(user.issuerId, { consumerId: user.ssUserId, state: 'OPEN' })).status).toBe(400);
    expect((await put('OTHERISSUR', { consumerId: user.ssUserId, state: 'ACTIVE' })).status).toBe(403);
    const res = await put(user.issuerId, { consumerId: user.ssUserId, state: 'ACTIVE' });
    expect([res.status, res.headers['idempotent-replayed']]).toEqual([204, undefined]);
    expect(await linkOf(ctx.dataSource, user.issuerId, '4000000000000077')).toMatchObject({ delinked: false });
  });

  it('when the service purges on its own, then every expired key goes, in bounded batches, and the fresh ones stay', async () => {
    const repo = ctx.dataSource.getRepository(IdempotencyKey);
    const tag = `purge-${Date.now()}-`;
    const row = (i: number, ageMs: number) => ({
      keyHash: `${tag}${i}`,
      requestHash: 'r',
      state: 'DONE' as const,
      responseStatus: 200,
      responseBody: '{}',
      errorCode: 'ERR01093',
      createdAt: new Date(Date.now() - ageMs),
    });
    const expired = Array.from({ length: PURGE_BATCH_SIZE * 2 + 7 }, (_, i) => row(i, RETENTION_MS + 60_000));
    for (let i = 0; i < expired.length; i += 200) await repo.insert(expired.slice(i, i + 200));
    await repo.insert(row(-1, RETENTION_MS - 60_000));

    const logs = logCollector();
    const stop = schedulePurge(
      ctx.database,
      { retentionMs: RETENTION_MS, intervalMs: 50 },
      createLogger('info', logs.stream),
    );
    try {
      await until(
        async () => (await repo.countBy({ requestHash: 'r', responseBody: '{}', errorCode: 'ERR01093' })) <= 1,
        10_000,
      );
    } finally {
      await stop();
    }
    expect(await repo.findOneBy({ keyHash: `${tag}-1` })).not.toBeNull();
    expect(await repo.findOneBy({ keyHash: `${tag}0` })).toBeNull();
    const purged = logs.lines().filter((line) => line.msg === 'expired idempotency keys purged');
    expect(purged.reduce((sum, line) => sum + Number(line.purged), 0)).toBeGreaterThanOrEqual(expired.length);
  });

  it('when a delink is replayed, then its outcome is counted again under the ErrorCode it first carried', async () => {
    const user = await seedUser(ctx.database);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.mainAccount });
    const count = async (): Promise<number> => {
      const text = (await api(ctx.app).get('/metrics')).text;
      const line = text.split('\n').find((l) => l.startsWith('corecredit_delink_outcomes_total{errorCode="ERR01140"}'));
      return line === undefined ? 0 : Number(line.split(' ')[1]);
    };
    const before = await count();
    expect((await delink(user.issuerId, body, 'counted-twice')).status).toBe(409);
    const replay = await delink(user.issuerId, body, 'counted-twice');
    expect([replay.status, replay.headers['idempotent-replayed']]).toEqual([409, 'true']);
    expect((await count()) - before).toBe(2);
  });
});
