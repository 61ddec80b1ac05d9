import { randomUUID } from 'node:crypto';
import { api } from './helpers/api';
import { DELINK_PATH, GET_LINKS_PATH } from '../src/corecredit/routes';
import { Account, AccountLink, Consumer, OutboxEvent } from '../src/db/entities';
import { MAX_ACCOUNTS_PER_CONSUMER_DELETE } from '../src/links/delete-consumer';
import {
  buildEnvelope,
  createTestContext,
  issuerToken,
  mintToken,
  operationsOf,
  randomDigits,
  randomIssuerId,
  seedUser,
  snapshot,
  type TestContext,
} from './helpers/context';
import { expectIssuerError } from './helpers/expectations';

const consumerDeletePath = (issuerId: string, consumerId: string): string =>
  `/issuers/${issuerId}/consumers/${consumerId}/operations:delete`;

describe('POST /issuers/{issuerId}/consumers/{consumerId}/operations:delete', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  async function removeConsumer(
    issuerId: string,
    consumerId: string,
    body?: unknown,
    headers: Record<string, string> = {},
    token?: string,
  ) {
    const req = api(ctx.app)
      .post(consumerDeletePath(issuerId, consumerId))
      .set('Authorization', `Bearer ${token ?? (await issuerToken(issuerId))}`)
      .set(headers);
    return body === undefined ? req : req.send(body as object);
  }

  async function put(issuerId: string, accountId: string, body: Record<string, unknown>) {
    return api(ctx.app)
      .put(`/issuers/${issuerId}/accounts/${accountId}`)
      .set('Authorization', `Bearer ${await issuerToken(issuerId)}`)
      .send(body);
  }

  async function corecredit(path: string, issuerId: string, envelope: Record<string, unknown>) {
    return api(ctx.app)
      .post(path)
      .set('Authorization', `Bearer ${await mintToken(issuerId)}`)
      .send(buildEnvelope(envelope));
  }

  /** The issuer's consumers, accounts and links as rows: [consumer key, live?], [number, state, live key], [delinked?]. */
  async function rows(issuerId: string) {
    const consumers = await ctx.dataSource.getRepository(Consumer).find({ where: { issuerId }, order: { id: 'ASC' } });
    const accounts = await ctx.dataSource.getRepository(Account).find({ where: { issuerId }, order: { id: 'ASC' } });
    const links = await ctx.dataSource
      .getRepository(AccountLink)
      .find({ where: consumers.map((c) => ({ consumerId: c.id })), order: { id: 'ASC' } });
    return {
      consumers: consumers.map((c) => [c.consumerKey, c.liveKey, c.deletedAt !== null]),
      accounts: accounts.map((a) => [a.accountNumber, a.state, a.liveKey]),
      links: links.map((l) => [l.isMain, l.delinkedAt !== null]),
    };
  }

  it('when a consumer is deleted, then 200 with its operation id, every account is DELETED, every link ends (main included) and the consumer is ended', async () => {
    const user = await seedUser(ctx.database, { accounts: 3 });
    const [second, third] = user.otherAccounts as [string, string];
    expect(
      (await corecredit(DELINK_PATH, user.issuerId, { SSUserID: user.ssUserId, AccountNumber: third })).status,
    ).toBe(200);

    const res = await removeConsumer(user.issuerId, user.ssUserId, {
      reason: 'customer left',
      reasonCode: 'USER_DECISION',
    });

    expect(res.status).toBe(200);
    expect(res.body).toStrictEqual({ operationId: expect.any(String), status: 'SUCCESSFUL' });
    const key = user.ssUserId.toLowerCase();
    expect(await rows(user.issuerId)).toEqual({
      consumers: [[key, null, true]],
      accounts: [
        [user.mainAccount, 'DELETED', null],
        [second, 'DELETED', null],
        [third, 'DELETED', null],
      ],
      links: [
        [true, true],
        [false, true],
        [false, true],
      ],
    });
  });

  it('when a consumer is deleted, then one DELETE operation per account it deleted, then the DELETE_CONSUMER one, all SUCCESSFUL, with one event each', async () => {
    const user = await seedUser(ctx.database, { accounts: 3 });
    const [second, third] = user.otherAccounts as [string, string];
    // An account deleted before is not deleted again.
    await api(ctx.app)
      .post(`/issuers/${user.issuerId}/accounts/${third}/operations:delete`)
      .set('Authorization', `Bearer ${await issuerToken(user.issuerId)}`)
      .send({})
      .expect(200);
    const before = (await operationsOf(ctx.dataSource, user.issuerId)).length;

    const res = await removeConsumer(user.issuerId, user.ssUserId, undefined, { 'x-correlation-id': 'consumer-del-1' });

    expect(res.status).toBe(200);
    const recorded = (await operationsOf(ctx.dataSource, user.issuerId)).slice(before);
    expect(recorded.map((op) => [op.operation, op.status, op.accountNumber, op.consumerId, op.reasonCode])).toEqual([
      ['DELETE', 'SUCCESSFUL', user.mainAccount, user.ssUserId, 'ISSUER_DECISION'],
      ['DELETE', 'SUCCESSFUL', second, user.ssUserId, 'ISSUER_DECISION'],
      ['DELETE_CONSUMER', 'SUCCESSFUL', null, user.ssUserId, 'ISSUER_DECISION'],
    ]);
    expect(recorded.at(-1)!.operationId).toBe(res.body.operationId);
    expect(recorded.every((op) => op.correlationId === 'consumer-del-1' && op.requestorType === 'ISSUER')).toBe(true);

    const events = await ctx.dataSource
      .getRepository(OutboxEvent)
      .find({ where: { issuerId: user.issuerId }, order: { id: 'ASC' } });
    const bodies = events
      .slice(-3)
      .map((event) => JSON.parse(event.body) as { type: string; data: Record<string, unknown> });
    expect(
      bodies.map((body) => [body.type, body.data.operationId, body.data.accountId, body.data.isMainAccount]),
    ).toEqual([
      ['account.deleted', recorded[0]!.operationId, user.mainAccount, true],
      ['account.deleted', recorded[1]!.operationId, second, false],
      ['consumer.deleted', res.body.operationId, null, null],
    ]);
    expect(bodies[2]!.data).toMatchObject({
      consumerId: user.ssUserId,
      reasonCode: 'ISSUER_DECISION',
      errorCode: null,
    });
  });

  it('when the consumer is gone, then GetLinkAccounts and DeLinkAccount answer 404 ERR01130 and its operations are still listed', async () => {
    const user = await seedUser(ctx.database, { accounts: 2 });
    expect((await removeConsumer(user.issuerId, user.ssUserId, {})).status).toBe(200);

    const list = await corecredit(GET_LINKS_PATH, user.issuerId, { SSUserID: user.ssUserId, AccountNumber: undefined });
    expect(list.status).toBe(404);
    expect(list.body).toMatchObject({ Status: false, ErrorCode: 'ERR01130' });
    const delink = await corecredit(DELINK_PATH, user.issuerId, {
      SSUserID: user.ssUserId,
      AccountNumber: user.otherAccounts[0],
    });
    expect(delink.status).toBe(404);
    expect(delink.body).toMatchObject({ Status: false, ErrorCode: 'ERR01130' });

    const operations = await api(ctx.app)
      .get(`/issuers/${user.issuerId}/consumers/${user.ssUserId}/operations?count=100`)
      .set('Authorization', `Bearer ${await issuerToken(user.issuerId)}`);
    expect(operations.status).toBe(200);
    expect((operations.body.operations as { operation: string }[]).map((op) => op.operation)).toEqual([
      'DELINK',
      'DELETE_CONSUMER',
      'DELETE',
      'DELETE',
      'REGISTER',
      'REGISTER',
    ]);
  });

  it('when the same consumerId is registered again, then it is a new consumer whose first account is its main account', async () => {
    const user = await seedUser(ctx.database, { accounts: 2 });
    expect((await removeConsumer(user.issuerId, user.ssUserId, {})).status).toBe(200);
    const fresh = randomDigits(16);

    expect((await put(user.issuerId, fresh, { consumerId: user.ssUserId.toLowerCase(), state: 'ACTIVE' })).status).toBe(
      204,
    );
    // The old account numbers are free too.
    expect((await put(user.issuerId, user.mainAccount, { consumerId: user.ssUserId, state: 'SUSPENDED' })).status).toBe(
      204,
    );

    const list = await corecredit(GET_LINKS_PATH, user.issuerId, { SSUserID: user.ssUserId, AccountNumber: undefined });
    expect(list.status).toBe(200);
    expect(list.body.ResponseData).toMatchObject({
      SSUserID: user.ssUserId.toLowerCase(),
      Accounts: [
        { AccountNumber: fresh, IsMainAccount: true, AccountStatus: 'ACTIVE' },
        { AccountNumber: user.mainAccount, IsMainAccount: false, AccountStatus: 'SUSPENDED' },
      ],
    });
    const consumers = await ctx.dataSource
      .getRepository(Consumer)
      .find({ where: { issuerId: user.issuerId }, order: { id: 'ASC' } });
    expect(consumers.map((c) => [c.consumerId, c.liveKey, c.deletedAt !== null])).toEqual([
      [user.ssUserId, null, true],
      [user.ssUserId.toLowerCase(), user.ssUserId.toLowerCase(), false],
    ]);
  });

  it('when the consumer is unknown or deleted already, then 404 ERR01180 and a FAILED DELETE_CONSUMER is recorded, changing nothing else', async () => {
    const user = await seedUser(ctx.database, { accounts: 1 });
    expect((await removeConsumer(user.issuerId, user.ssUserId, {})).status).toBe(200);
    const before = await snapshot(ctx.dataSource, user.issuerId);

    const again = await removeConsumer(user.issuerId, user.ssUserId, {});
    const unknown = await removeConsumer(user.issuerId, 'Nobody1', { reason: 'no such user' });

    expectIssuerError(again, 404, 'ERR01180');
    expectIssuerError(unknown, 404, 'ERR01180');
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual({
      ...before,
      operations: (before.operations as number) + 2,
    });
    expect(
      (await operationsOf(ctx.dataSource, user.issuerId))
        .slice(-2)
        .map((op) => [op.operation, op.status, op.errorCode]),
    ).toEqual([
      ['DELETE_CONSUMER', 'FAILED', 'ERR01180'],
      ['DELETE_CONSUMER', 'FAILED', 'ERR01180'],
    ]);
  });

  it("when another issuer's consumer is named, then it is unknown here and untouched there", async () => {
    const user = await seedUser(ctx.database, { accounts: 1 });
    const other = randomIssuerId();
    const before = await snapshot(ctx.dataSource, user.issuerId);

    expectIssuerError(await removeConsumer(other, user.ssUserId, {}), 404, 'ERR01180');
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
  });

  it(`when the consumer has more than ${MAX_ACCOUNTS_PER_CONSUMER_DELETE} live accounts, then 409 ERR01182, nothing changes and a FAILED operation is recorded`, async () => {
    const user = await seedUser(ctx.database, { accounts: MAX_ACCOUNTS_PER_CONSUMER_DELETE + 1 });
    const before = await snapshot(ctx.dataSource, user.issuerId);

    const res = await removeConsumer(user.issuerId, user.ssUserId, {});

    expectIssuerError(res, 409, 'ERR01182');
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual({
      ...before,
      operations: (before.operations as number) + 1,
    });
    expect((await operationsOf(ctx.dataSource, user.issuerId)).at(-1)).toMatchObject({
      operation: 'DELETE_CONSUMER',
      status: 'FAILED',
      errorCode: 'ERR01182',
    });

    // Deleting one account first brings it within the bound.
    await api(ctx.app)
      .post(`/issuers/${user.issuerId}/accounts/${user.otherAccounts[0]!}/operations:delete`)
      .set('Authorization', `Bearer ${await issuerToken(user.issuerId)}`)
      .send({})
      .expect(200);
    expect((await removeConsumer(user.issuerId, user.ssUserId, {})).status).toBe(200);
  });

  it('when the same Idempotency-Key is sent twice, then the first answer is replayed and the consumer is deleted once', async () => {
    const user = await seedUser(ctx.database, { accounts: 2 });
    const key = `consumer-delete-${randomUUID()}`;

    const first = await removeConsumer(user.issuerId, user.ssUserId, { reason: 'once' }, { 'Idempotency-Key': key });
    const replay = await removeConsumer(user.issuerId, user.ssUserId, { reason: 'once' }, { 'Idempotency-Key': key });
    const reused = await removeConsumer(user.issuerId, user.ssUserId, { reason: 'twice' }, { 'Idempotency-Key': key });

    expect(first.status).toBe(200);
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(first.body);
    expectIssuerError(reused, 422, 'ERR01143');
    const consumerDeletes = (await operationsOf(ctx.dataSource, user.issuerId)).filter(
      (op) => op.operation === 'DELETE_CONSUMER',
    );
    expect(consumerDeletes).toHaveLength(1);
  });

  it.each([
    { name: 'reason has a dash', consumerId: 'Valid1', body: { reason: 'a-b' }, fields: ['reason'] },
    { name: 'reasonCode is unknown', consumerId: 'Valid1', body: { reasonCode: 'FRAUD' }, fields: ['reasonCode'] },
    { name: 'consumerId has a dash', consumerId: 'a-b', body: {}, fields: ['consumerId'] },
    {
      name: 'consumerId has 31 characters',
      consumerId: 'a'.repeat(31),
      body: { reason: 7 },
      fields: ['consumerId', 'reason'],
    },
  ])(
    'when $name, then 400 ERR01100 names exactly the failing fields and nothing is recorded',
    async ({ consumerId, body, fields }) => {
      const user = await seedUser(ctx.database, { accounts: 1, ssUserId: 'Valid1' });
      const before = await snapshot(ctx.dataSource, user.issuerId);

      expectIssuerError(await removeConsumer(user.issuerId, consumerId, body), 400, 'ERR01100', fields);
      expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
    },
  );

  it('when the body is not a JSON object, then 400 ERR01101 and nothing changes', async () => {
    const user = await seedUser(ctx.database, { accounts: 1 });
    const before = await snapshot(ctx.dataSource, user.issuerId);
    const res = await api(ctx.app)
      .post(consumerDeletePath(user.issuerId, user.ssUserId))
      .set('Authorization', `Bearer ${await issuerToken(user.issuerId)}`)
      .set('Content-Type', 'application/json')
      .send('[1]');
    expectIssuerError(res, 400, 'ERR01101');
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
  });

  it('when the token lacks issuer:write, is bound to a user or acts for another issuer, then 403 and nothing changes', async () => {
    const user = await seedUser(ctx.database, { accounts: 1 });
    const before = await snapshot(ctx.dataSource, user.issuerId);
    const readOnly = await issuerToken(user.issuerId, { scope: 'issuer:read' });
    const bound = await issuerToken(user.issuerId, { scope: 'issuer:write', ssUserId: user.ssUserId });
    const otherIssuer = await issuerToken(randomIssuerId());

    expectIssuerError(await removeConsumer(user.issuerId, user.ssUserId, {}, {}, readOnly), 403, 'ERR01120');
    expectIssuerError(await removeConsumer(user.issuerId, user.ssUserId, {}, {}, bound), 403, 'ERR01120');
    expectIssuerError(await removeConsumer(user.issuerId, user.ssUserId, {}, {}, otherIssuer), 403, 'ERR01122');
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
  });

  it('when another method is used, then 405 with Allow: POST', async () => {
    const issuerId = randomIssuerId();
    const res = await api(ctx.app)
      .get(consumerDeletePath(issuerId, 'Valid1'))
      .set('Authorization', `Bearer ${await issuerToken(issuerId)}`);
    expectIssuerError(res, 405, 'ERR01135');
    expect(res.headers.allow).toBe('POST');
  });
});
