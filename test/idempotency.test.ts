import { api } from './helpers/api';
import { DELINK_PATH } from '../src/corecredit/routes';
import { IdempotencyKey } from '../src/db/entities';
import {
  IDEMPOTENCY_LEASE_MS,
  IDEMPOTENCY_RETENTION_MS,
  idempotencyHashes,
  purgeIdempotencyKeys,
} from '../src/http/idempotency';
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

describe('Idempotency-Key', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  async function delink(issuerId: string, body: Record<string, unknown>, key?: string, sub = 'portal-backend') {
    const req = api(ctx.app)
      .post(DELINK_PATH)
      .set('Authorization', `Bearer ${await mintToken(issuerId, { sub })}`);
    if (key !== undefined) req.set('Idempotency-Key', key);
    return req.send(body);
  }

  it('when a delink is repeated with the same key and body, then the first response is replayed and nothing runs again', async () => {
    const user = await seedUser(ctx.dataSource);
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
    const user = await seedUser(ctx.dataSource);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.mainAccount });
    const first = await delink(user.issuerId, body, 'main-1');
    expect(first.status).toBe(409);
    const operations = (await operationsOf(ctx.dataSource, user.issuerId)).length;
    const replay = await delink(user.issuerId, body, 'main-1');
    expect([replay.status, replay.body]).toEqual([409, first.body]);
    expect(await operationsOf(ctx.dataSource, user.issuerId)).toHaveLength(operations);
  });

  it('when the same key comes with another body, then 422 ERR01143 and nothing runs', async () => {
    const user = await seedUser(ctx.dataSource);
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
    const user = await seedUser(ctx.dataSource);
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

  it('when the first request with the key is still running, then 409 ERR01142 with Retry-After, and nothing runs', async () => {
    const user = await seedUser(ctx.dataSource);
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
    const user = await seedUser(ctx.dataSource);
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

  it.each([
    { key: '', why: 'empty' },
    { key: 'x'.repeat(256), why: '256 characters long' },
    { key: 'ключ', why: 'not ASCII' },
  ])('when the key is $why, then 400 names the header and nothing runs', async ({ key }) => {
    const user = await seedUser(ctx.dataSource);
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
    const user = await seedUser(ctx.dataSource);
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
      createdAt: new Date(now.getTime() - IDEMPOTENCY_RETENTION_MS - 1000),
    };
    const fresh = {
      ...old,
      keyHash: `fresh-${Date.now()}`,
      createdAt: new Date(now.getTime() - IDEMPOTENCY_RETENTION_MS + 60_000),
    };
    await repo.insert([old, fresh]);
    expect(await purgeIdempotencyKeys(ctx.dataSource, now)).toBeGreaterThanOrEqual(1);
    expect(await repo.findOneBy({ keyHash: old.keyHash })).toBeNull();
    expect(await repo.findOneBy({ keyHash: fresh.keyHash })).not.toBeNull();
  });
});
