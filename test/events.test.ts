import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Registry } from 'prom-client';
import { api } from './helpers/api';
import { DELINK_PATH, LINK_PATH } from '../src/corecredit/routes';
import { createApp } from '../src/app';
import { DEFAULT_WEBHOOKS } from '../src/config';
import { createDatabase, type Database } from '../src/db/database';
import { Delivery, DeliveryAttempt, OutboxEvent, Webhook } from '../src/db/entities';
import { startDeliveryWorker, type DeliveryWorker } from '../src/events/delivery';
import { buildEvent, EVENT_TYPES } from '../src/events/events';
import { purgeEvents, scheduleEventPurge } from '../src/events/retention';
import { addressesRefusal, addressRefusal, guardedLookup } from '../src/events/url-policy';
import { PURGE_BATCH_SIZE } from '../src/jobs/purge';
import { delinkSecondary } from '../src/links/link-repository';
import { createLogger } from '../src/logger';
import { done, recordOperation } from '../src/operations/record';
import {
  buildEnvelope,
  createTestContext,
  issuerToken,
  linkOf,
  mintToken,
  operationsOf,
  randomIssuerId,
  seedUser,
  type TestContext,
} from './helpers/context';
import { type Receiver, startReceiver } from './helpers/receiver';
import { type ScratchDatabase, scratchDatabase } from './helpers/scratch-database';
import { logCollector } from './helpers/log-collector';
import { expectIssuerError } from './helpers/expectations';
import { until } from './helpers/until';

const WEBHOOK_SCOPE = 'issuer:webhooks issuer:read issuer:write';
/** An instant as the issuer API writes it: ISO 8601 in UTC, to the millisecond. */
const ISO_INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** An event row written straight into the table, as a delink of `issuerId` recorded it at `createdAt`. */
function storedEvent(issuerId: string, createdAt: Date, correlationId: string) {
  const event = buildEvent(
    'account.delinked',
    '00000000-0000-4000-8000-000000000000',
    { issuerId, requestorType: 'USER', requestorId: null, correlationId },
    { operation: 'DELINK', consumerId: 'OLD1', accountNumber: '8000000000000227', isMainAccount: false },
    null,
    createdAt,
  );
  return { eventId: event.id, issuerId, type: event.type, body: JSON.stringify(event), createdAt };
}

describe('events: the outbox, signed webhooks and the feed', () => {
  let ctx: TestContext;
  let worker: DeliveryWorker;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    ctx = await createTestContext();
    worker = startDeliveryWorker(
      ctx.database,
      { retryScheduleS: [1, 1, 2], leaseMs: 30_000, pollIntervalMs: 50, allowInsecure: true },
      createLogger('silent'),
    );
  });
  afterAll(async () => {
    await worker.stop();
    await Promise.all(receivers.map((r) => r.close()));
    await ctx.close();
  });

  async function receiver(options?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
    const started = await startReceiver(options);
    receivers.push(started);
    return started;
  }

  /** POST /issuers/{id}/webhooks with the body as given, an object or raw JSON text. */
  async function postWebhook(issuerId: string, body: object | string) {
    const token = await issuerToken(issuerId, { scope: WEBHOOK_SCOPE });
    return api(ctx.app)
      .post(`/issuers/${issuerId}/webhooks`)
      .set('Authorization', `Bearer ${token}`)
      .set('Content-Type', 'application/json')
      .send(body);
  }

  function subscribe(issuerId: string, url: string, eventTypes = ['account.delinked', 'account.delink_refused']) {
    return postWebhook(issuerId, { url, eventTypes });
  }

  /** A refused subscription leaves no webhook row behind. */
  async function expectNoWebhookStored(issuerId: string) {
    const rows = await ctx.database.read((m) => m.query('SELECT 1 FROM webhooks WHERE issuer_id = ?', [issuerId]));
    expect(rows).toEqual([]);
  }

  async function delink(issuerId: string, ssUserId: string, accountNumber: string) {
    const token = await mintToken(issuerId);
    return api(ctx.app)
      .post(DELINK_PATH)
      .set('Authorization', `Bearer ${token}`)
      .send(
        buildEnvelope({ SSUserID: ssUserId, AccountNumber: accountNumber, Source: 'IVR', CallerID: '+17204454214' }),
      );
  }

  async function issuerGet(issuerId: string, path: string) {
    const token = await issuerToken(issuerId, { scope: WEBHOOK_SCOPE });
    return api(ctx.app).get(path).set('Authorization', `Bearer ${token}`);
  }

  it('when a receiver subscribes and a secondary account is delinked, then the signed event arrives within a second, once', async () => {
    const user = await seedUser(ctx.database);
    const hook = await receiver();
    const created = await subscribe(user.issuerId, hook.url);
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);

    const started = Date.now();
    expect((await delink(user.issuerId, user.ssUserId, user.otherAccounts[0]!)).status).toBe(200);
    const [got] = await hook.waitFor(1, 1_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    hook.verifyAll(created.body.secret as string);
    expect(got!.headers['webhook-id']).toBe(got!.json.id);
    expect(got!.json).toMatchObject({
      type: 'account.delinked',
      issuerId: user.issuerId,
      data: {
        consumerId: user.ssUserId,
        accountId: user.otherAccounts[0],
        isMainAccount: false,
        errorCode: null,
        channel: { source: 'IVR', callerId: '+17204454214', calledId: null, sessionId: null },
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hook.received).toHaveLength(1);

    const list = await issuerGet(user.issuerId, `/issuers/${user.issuerId}/webhooks`);
    expect(list.status).toBe(200);
    expect(list.body.webhooks).toEqual([
      expect.objectContaining({ webhookId: created.body.webhookId, state: 'ACTIVE' }),
    ]);
    expect(JSON.stringify(list.body)).not.toContain('whsec_');
  });

  it('when delinks are refused, then each is an account.delink_refused event that says whether the account is the main one', async () => {
    const user = await seedUser(ctx.database);
    const [secondary] = user.otherAccounts as [string];
    const hook = await receiver();
    const created = await subscribe(user.issuerId, hook.url, ['account.delink_refused']);
    expect((await delink(user.issuerId, user.ssUserId, user.mainAccount)).status).toBe(409);
    await hook.waitFor(1);
    expect((await delink(user.issuerId, user.ssUserId, secondary)).status).toBe(200);
    expect((await delink(user.issuerId, user.ssUserId, secondary)).status).toBe(404);
    await hook.waitFor(2);
    // An account the user has no link to: no link, so nothing to say of it.
    expect((await delink(user.issuerId, user.ssUserId, '4000000000000002')).status).toBe(404);
    const got = await hook.waitFor(3);
    hook.verifyAll(created.body.secret as string);
    expect(got.map((r) => r.json)).toMatchObject([
      {
        type: 'account.delink_refused',
        data: { accountId: user.mainAccount, isMainAccount: true, errorCode: 'ERR01140' },
      },
      { type: 'account.delink_refused', data: { accountId: secondary, isMainAccount: false, errorCode: 'ERR01132' } },
      {
        type: 'account.delink_refused',
        data: { accountId: '4000000000000002', isMainAccount: null, errorCode: 'ERR01131' },
      },
    ]);
  });

  async function link(issuerId: string, ssUserId: string, accountNumber: string) {
    const token = await mintToken(issuerId);
    return api(ctx.app)
      .post(LINK_PATH)
      .set('Authorization', `Bearer ${token}`)
      .send(buildEnvelope({ SSUserID: ssUserId, AccountNumber: accountNumber }));
  }

  it('when links are refused, then each is an account.link_refused event that says whether the account is the main one', async () => {
    const user = await seedUser(ctx.database, { accounts: 3 });
    const [linked, deleted] = user.otherAccounts as [string, string];
    const issuer = await issuerToken(user.issuerId);
    const removed = await api(ctx.app)
      .post(`/issuers/${user.issuerId}/accounts/${deleted}/operations:delete`)
      .set('Authorization', `Bearer ${issuer}`)
      .send({ reason: 'Card closed', reasonCode: 'ISSUER_DECISION' });
    expect(removed.status).toBe(200);
    const hook = await receiver();
    const created = await subscribe(user.issuerId, hook.url, ['account.link_refused']);

    // One at a time, so that the events arrive in this order.
    const tries: [string, number][] = [
      [user.mainAccount, 409],
      [linked, 409],
      [deleted, 409],
    ];
    for (const [i, [account, status]] of tries.entries()) {
      expect((await link(user.issuerId, user.ssUserId, account)).status).toBe(status);
      await hook.waitFor(i + 1);
    }
    hook.verifyAll(created.body.secret as string);
    expect(hook.received.map((r) => r.json.data)).toMatchObject([
      { accountId: user.mainAccount, isMainAccount: true, errorCode: 'ERR01175' },
      { accountId: linked, isMainAccount: false, errorCode: 'ERR01175' },
      { accountId: deleted, isMainAccount: false, errorCode: 'ERR01177' },
    ]);
  });

  it("when a delinked account is linked and another user's account is tried, then account.linked and account.link_refused arrive, each naming its operation", async () => {
    const user = await seedUser(ctx.database);
    const other = await seedUser(ctx.database, { issuerId: user.issuerId });
    const hook = await receiver();
    const created = await subscribe(user.issuerId, hook.url, ['account.linked', 'account.link_refused']);
    expect((await delink(user.issuerId, user.ssUserId, user.otherAccounts[0]!)).status).toBe(200);

    expect((await link(user.issuerId, user.ssUserId, user.otherAccounts[0]!)).status).toBe(200);
    await hook.waitFor(1);
    expect((await link(user.issuerId, user.ssUserId, other.otherAccounts[0]!)).status).toBe(404);
    const got = await hook.waitFor(2);
    hook.verifyAll(created.body.secret as string);

    const links = (await operationsOf(ctx.dataSource, user.issuerId)).filter((o) => o.operation === 'LINK');
    expect(got.map((r) => r.json)).toMatchObject([
      {
        type: 'account.linked',
        data: {
          operationId: links[0]!.operationId,
          consumerId: user.ssUserId,
          accountId: user.otherAccounts[0],
          isMainAccount: false,
          errorCode: null,
          channel: { source: 'Web' },
        },
      },
      {
        type: 'account.link_refused',
        data: {
          operationId: links[1]!.operationId,
          consumerId: user.ssUserId,
          accountId: other.otherAccounts[0],
          isMainAccount: null,
          errorCode: 'ERR01176',
        },
      },
    ]);
    // The delink was not subscribed to: only the two link events came.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hook.received).toHaveLength(2);
  });

  it('when the receiver answers 500 twice then 200, then it gets three attempts of one event, all recorded', async () => {
    const user = await seedUser(ctx.database);
    const hook = await receiver();
    hook.answers.push(500, 500);
    const created = await subscribe(user.issuerId, hook.url);
    await delink(user.issuerId, user.ssUserId, user.otherAccounts[0]!);
    const got = await hook.waitFor(3, 8_000);
    hook.verifyAll(created.body.secret as string);
    expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(1);

    const eventId = got[0]!.json.id;
    const detailOf = () => issuerGet(user.issuerId, `/issuers/${user.issuerId}/events/${eventId}`);
    await until(async () => (await detailOf()).body.deliveries[0].state !== 'PENDING');
    const detail = await detailOf();
    expect(detail.status).toBe(200);
    expect(detail.body.deliveries).toHaveLength(1);
    expect(detail.body.deliveries[0]).toMatchObject({ state: 'DELIVERED', nextAttemptAt: null });
    expect((detail.body.deliveries[0].attempts as { statusCode: number }[]).map((a) => a.statusCode)).toEqual([
      500, 500, 200,
    ]);
  });

  it('when the receiver is down for a while and then up, then the event is delivered', async () => {
    const user = await seedUser(ctx.database);
    const probe = await startReceiver();
    const { port, url } = probe;
    await probe.close();
    const created = await subscribe(user.issuerId, url);
    await delink(user.issuerId, user.ssUserId, user.otherAccounts[0]!);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const hook = await receiver({ port });
    const [got] = await hook.waitFor(1, 8_000);
    hook.verifyAll(created.body.secret as string);
    const detailOf = () => issuerGet(user.issuerId, `/issuers/${user.issuerId}/events/${got!.json.id}`);
    await until(async () => (await detailOf()).body.deliveries[0].state !== 'PENDING');
    const detail = await detailOf();
    const attempts = detail.body.deliveries[0].attempts as { statusCode: number | null; error: string | null }[];
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(attempts[0]).toMatchObject({ statusCode: null, error: expect.stringMatching(/ECONNREFUSED/) });
    expect(attempts.at(-1)).toMatchObject({ statusCode: 200, error: null });
  });

  it('when the receiver answers 410 Gone, then the subscription is disabled and gets nothing more', async () => {
    const user = await seedUser(ctx.database, { accounts: 4 });
    const hook = await receiver();
    hook.answers.push(410);
    const created = await subscribe(user.issuerId, hook.url);
    await delink(user.issuerId, user.ssUserId, user.otherAccounts[0]!);
    await hook.waitFor(1);
    const listOf = () => issuerGet(user.issuerId, `/issuers/${user.issuerId}/webhooks`);
    await until(async () => (await listOf()).body.webhooks[0].state !== 'ACTIVE');
    const list = await listOf();
    expect(list.body.webhooks[0]).toMatchObject({ webhookId: created.body.webhookId, state: 'DISABLED' });
    await delink(user.issuerId, user.ssUserId, user.otherAccounts[1]!);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(hook.received).toHaveLength(1);
  });

  it('when an event is redelivered, then it arrives again with the same webhook-id', async () => {
    const user = await seedUser(ctx.database);
    const hook = await receiver();
    const created = await subscribe(user.issuerId, hook.url);
    await delink(user.issuerId, user.ssUserId, user.otherAccounts[0]!);
    const [first] = await hook.waitFor(1);
    const token = await issuerToken(user.issuerId, { scope: WEBHOOK_SCOPE });
    const res = await api(ctx.app)
      .post(`/issuers/${user.issuerId}/events/${first!.json.id}/operations:redeliver`)
      .set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ eventId: first!.json.id, deliveries: 1 });
    const got = await hook.waitFor(2);
    hook.verifyAll(created.body.secret as string);
    expect(got[1]!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(got[1]!.body).toBe(first!.body);
  });

  it('when an event is redelivered after subscriptions to its type were made, then each new one gets it too, once', async () => {
    const user = await seedUser(ctx.database);
    const early = await receiver();
    const subscribed = await subscribe(user.issuerId, early.url);
    await delink(user.issuerId, user.ssUserId, user.otherAccounts[0]!);
    const [first] = await early.waitFor(1);
    const late = [await receiver(), await receiver()];
    const created = [await subscribe(user.issuerId, late[0]!.url), await subscribe(user.issuerId, late[1]!.url)];
    const other = await receiver();
    await subscribe(user.issuerId, other.url, ['account.linked']);
    const token = await issuerToken(user.issuerId, { scope: WEBHOOK_SCOPE });
    const redeliver = () =>
      api(ctx.app)
        .post(`/issuers/${user.issuerId}/events/${first!.json.id}/operations:redeliver`)
        .set('Authorization', `Bearer ${token}`);
    expect((await redeliver()).body).toEqual({ eventId: first!.json.id, deliveries: 3 });
    for (const [i, hook] of late.entries()) {
      const [got] = await hook.waitFor(1);
      hook.verifyAll(created[i]!.body.secret as string);
      expect(got!.body).toBe(first!.body);
    }
    await early.waitFor(2);
    // Asked again, each subscription has the event queued once more: none gets a second delivery row.
    expect((await redeliver()).body).toEqual({ eventId: first!.json.id, deliveries: 3 });
    for (const hook of [early, ...late]) await hook.waitFor(hook === early ? 3 : 2);
    // Each delivery lists its own attempts: the first subscription's three, the two later ones' two each.
    type Detail = { webhookId: string; attempts: { statusCode: number }[] };
    const detailOf = () => issuerGet(user.issuerId, `/issuers/${user.issuerId}/events/${first!.json.id}`);
    const attemptsOf = (deliveries: Detail[]) => deliveries.map((d) => d.attempts.map((a) => a.statusCode));
    await until(async () => attemptsOf((await detailOf()).body.deliveries).flat().length === 7);
    const deliveries = (await detailOf()).body.deliveries as Detail[];
    const webhookIds = [subscribed, ...created].map((c) => c.body.webhookId as string);
    expect(deliveries.map((d) => d.webhookId)).toEqual(webhookIds);
    expect(attemptsOf(deliveries)).toEqual([
      [200, 200, 200],
      [200, 200],
      [200, 200],
    ]);
    expect(other.received).toHaveLength(0);
  });

  it('when a subscription lists an event type beside 8,000 nested lists, then 400 says why, not a 500', async () => {
    const issuerId = randomIssuerId();
    const deep = '['.repeat(8000) + ']'.repeat(8000);
    const res = await postWebhook(
      issuerId,
      `{"url":"http://127.0.0.1:9/hook","eventTypes":["account.delinked",${deep}]}`,
    );
    expectIssuerError(res, 400, 'ERR01100', ['eventTypes']);
    expect(res.body.errors[0].message).toBe(`eventTypes may hold only ${EVENT_TYPES.join(', ')}`);
  });

  it('when a subscription lists 16 event types, the longest list, repeating some, then it is stored with each once', async () => {
    const issuerId = randomIssuerId();
    const eventTypes = Array.from({ length: 16 }, (_, i) => EVENT_TYPES[i % 2]!);
    const res = await subscribe(issuerId, 'http://127.0.0.1:9/hook', eventTypes);
    expect(res.status).toBe(201);
    expect(res.body.eventTypes).toEqual(EVENT_TYPES.slice(0, 2));
    const list = await issuerGet(issuerId, `/issuers/${issuerId}/webhooks`);
    expect(list.body.webhooks).toMatchObject([{ webhookId: res.body.webhookId, eventTypes: EVENT_TYPES.slice(0, 2) }]);
  });

  const ONLY_EVENT_TYPES = `eventTypes may hold only ${EVENT_TYPES.join(', ')}`;
  it.each([
    ['no eventTypes', undefined, 'eventTypes is required and may not be null'],
    ['eventTypes of one string', 'account.delinked', 'eventTypes must be an array of event types'],
    ['no event type', [], 'eventTypes must list at least one event type'],
    ['an unknown event type', ['account.delinked', 'account.opened'], ONLY_EVENT_TYPES],
    ['a null among the types', ['account.delinked', null], ONLY_EVENT_TYPES],
    ['a list of types inside the list', [['account.delinked']], ONLY_EVENT_TYPES],
    ['an object among the types', [{ type: 'account.delinked' }], ONLY_EVENT_TYPES],
    [
      '17 types, one more than the longest list',
      Array.from({ length: 17 }, () => 'account.delinked'),
      ONLY_EVENT_TYPES,
    ],
  ])('when a subscription has %s, then 400 ERR01100 says why and none is stored', async (_case, eventTypes, why) => {
    const issuerId = randomIssuerId();
    const res = await postWebhook(issuerId, { url: 'http://127.0.0.1:9/hook', eventTypes });
    expectIssuerError(res, 400, 'ERR01100', ['eventTypes']);
    expect(res.body.errors[0].message).toBe(why);
    await expectNoWebhookStored(issuerId);
  });

  it('when a subscription is deleted, then it is no longer listed and a second delete is a 404', async () => {
    const issuerId = randomIssuerId();
    const hook = await receiver();
    const created = await subscribe(issuerId, hook.url);
    const token = await issuerToken(issuerId, { scope: WEBHOOK_SCOPE });
    const path = `/issuers/${issuerId}/webhooks/${created.body.webhookId}`;
    expect((await api(ctx.app).delete(path).set('Authorization', `Bearer ${token}`)).status).toBe(204);
    const again = await api(ctx.app).delete(path).set('Authorization', `Bearer ${token}`);
    expect(again.status).toBe(404);
    expect(again.body.errorCode).toBe('ERR01136');
    expect((await issuerGet(issuerId, `/issuers/${issuerId}/webhooks`)).body.webhooks).toEqual([]);
  });

  it('when a change is rolled back, then no event is written', async () => {
    const user = await seedUser(ctx.database);
    const account = user.otherAccounts[0]!;
    const before = await ctx.dataSource.getRepository(OutboxEvent).count({ where: { issuerId: user.issuerId } });
    const ctxOf = { issuerId: user.issuerId, requestorType: 'USER' as const, requestorId: 't', correlationId: 'rb' };
    await expect(
      recordOperation(
        ctx.database,
        ctxOf,
        { operation: 'DELINK', consumerId: user.ssUserId, accountNumber: account },
        async (m) => {
          await delinkSecondary(
            m,
            { issuerId: user.issuerId, consumerId: user.ssUserId, accountNumber: account },
            new Date(),
          );
          throw new Error('the change fails after its write');
          return done(undefined);
        },
      ),
    ).rejects.toThrow('the change fails');
    expect(await linkOf(ctx.dataSource, user.issuerId, account)).toMatchObject({ delinked: false });
    expect(await ctx.dataSource.getRepository(OutboxEvent).count({ where: { issuerId: user.issuerId } })).toBe(before);
  });

  it('when register, relink and delete happen, then each writes its own event type, and a refused registration or a repeated or refused delete none', async () => {
    const user = await seedUser(ctx.database);
    const account = user.otherAccounts[0]!;
    await delink(user.issuerId, user.ssUserId, account);
    const token = await issuerToken(user.issuerId);
    const register = (accountId: string, consumerId: string) =>
      api(ctx.app)
        .put(`/issuers/${user.issuerId}/accounts/${accountId}`)
        .set('Authorization', `Bearer ${token}`)
        .send({ consumerId, state: 'ACTIVE' });
    const remove = (path: string) =>
      api(ctx.app)
        .post(`/issuers/${user.issuerId}/${path}/operations:delete`)
        .set('Authorization', `Bearer ${token}`)
        .send({ reasonCode: 'USER_DECISION' });
    await register(account, user.ssUserId).expect(204);
    await remove(`accounts/${user.mainAccount}`).expect(200);
    // A refused registration tells no one: the account is this consumer's, not another's.
    await register(account, 'ANOTHERCONSUMER1').expect(409);
    // A delete again (a retry after a lost answer) changes nothing and tells no one, nor do refused deletes: of an
    // unknown account, of an unknown consumer.
    await remove(`accounts/${user.mainAccount}`).expect(200);
    await remove('accounts/8000000000009998').expect(404);
    await remove('consumers/NOSUCHCONSUMER1').expect(404);
    const feed = await issuerGet(user.issuerId, `/issuers/${user.issuerId}/events`);
    expect(feed.status).toBe(200);
    expect((feed.body.events as { type: string }[]).map((e) => e.type)).toEqual([
      'account.registered',
      'account.registered',
      'account.registered',
      'account.delinked',
      'account.relinked',
      'account.deleted',
    ]);
    expect(feed.body.events[0].data.isMainAccount).toBe(true);
    expect(feed.body.events[5].data).toMatchObject({ isMainAccount: true, reasonCode: 'USER_DECISION' });
    expect(feed.body.next).toBeNull();
  });

  it('when the feed pages through 10,000 events, then it returns each once, oldest first, with no gaps, a limit a page', async () => {
    const issuerId = randomIssuerId();
    const rows = Array.from({ length: 10_000 }, (_, i) => storedEvent(issuerId, new Date(), `bulk-${i}`));
    for (let i = 0; i < rows.length; i += 500)
      await ctx.dataSource.getRepository(OutboxEvent).insert(rows.slice(i, i + 500));

    const seen: string[] = [];
    const pageSizes: number[] = [];
    let after: string | null = null;
    do {
      const query: string = after === null ? '?limit=500' : `?limit=500&after=${after}`;
      const res = await issuerGet(issuerId, `/issuers/${issuerId}/events${query}`);
      expect(res.status).toBe(200);
      seen.push(...(res.body.events as { id: string }[]).map((e) => e.id));
      pageSizes.push((res.body.events as unknown[]).length);
      after = res.body.next as string | null;
    } while (after !== null);
    expect(seen).toEqual(rows.map((r) => r.eventId));
    // Pages of the limit, the last one with the next cursor null.
    expect(pageSizes).toEqual(Array.from({ length: 20 }, () => 500));
  });

  it('when the feed gets an unknown query parameter or a bad limit, then it is a 400 naming each', async () => {
    const issuerId = randomIssuerId();
    const unknown = await issuerGet(issuerId, `/issuers/${issuerId}/events?afterr=evt_x&page=2`);
    expect(unknown.status).toBe(400);
    expect((unknown.body.errors as { field: string }[]).map((e) => e.field)).toEqual(['afterr', 'page']);
    const limit = await issuerGet(issuerId, `/issuers/${issuerId}/events?limit=501`);
    expect(limit.status).toBe(400);
    expect((limit.body.errors as { field: string }[]).map((e) => e.field)).toEqual(['limit']);
  });

  it("when the feed is asked for events after an unknown event or another issuer's, then 400 names after, listing nothing", async () => {
    const user = await seedUser(ctx.database);
    const theirs = (await issuerGet(user.issuerId, `/issuers/${user.issuerId}/events`)).body.events as { id: string }[];
    expect(theirs.length).toBeGreaterThan(0);
    const issuerId = randomIssuerId();
    for (const after of ['evt_00000000000000000000000000000000', theirs[0]!.id]) {
      const res = await issuerGet(issuerId, `/issuers/${issuerId}/events?after=${after}`);
      expectIssuerError(res, 400, 'ERR01100', ['after']);
      expect(res.body.errors).toEqual([{ field: 'after', message: 'after must be the id of an event of this issuer' }]);
    }
  });

  it("when another issuer's token reads the feed, or a token lacks issuer:webhooks, then it is refused", async () => {
    const issuerId = randomIssuerId();
    const other = await issuerToken(randomIssuerId(), { scope: WEBHOOK_SCOPE });
    const feed = await api(ctx.app).get(`/issuers/${issuerId}/events`).set('Authorization', `Bearer ${other}`);
    expect(feed.status).toBe(403);
    const readOnly = await issuerToken(issuerId, { scope: 'issuer:read issuer:write' });
    const create = await api(ctx.app)
      .post(`/issuers/${issuerId}/webhooks`)
      .set('Authorization', `Bearer ${readOnly}`)
      .send({ url: 'http://127.0.0.1:9/x', eventTypes: ['account.delinked'] });
    expect(create.status).toBe(403);
  });

  describe('SSRF: where a webhook may point', () => {
    const reserved = (address: string) => `${address} is a link-local, metadata or reserved address`;
    it.each([
      ['http://169.254.169.254/latest/meta-data/', reserved('169.254.169.254')],
      ['http://[fe80::1]/hook', reserved('fe80::1')],
      // The URL parser writes the mapped address in hex; it is 169.254.169.254 all the same.
      ['http://[::ffff:169.254.169.254]/hook', reserved('::ffff:a9fe:a9fe')],
      ['http://0.0.0.0:8080/hook', reserved('0.0.0.0')],
      ['ftp://example.com/hook', 'url must be http or https'],
      ['http://user:pass@127.0.0.1/hook', 'url may not carry a user name or password'],
      ['http://user@127.0.0.1/hook', 'url may not carry a user name or password'],
      ['http://:pass@127.0.0.1/hook', 'url may not carry a user name or password'],
      ['not a url', 'url must be an absolute http(s) URL'],
      ['http://nohost.invalid/hook', 'the host nohost.invalid does not resolve'],
    ])(
      'when the URL is %s, then the subscription is refused always, saying why, and none is stored',
      async (url, why) => {
        const issuerId = randomIssuerId();
        const res = await subscribe(issuerId, url);
        expectIssuerError(res, 400, 'ERR01103');
        expect(res.body.message).toBe(`The webhook URL is refused: ${why}.`);
        await expectNoWebhookStored(issuerId);
      },
    );

    /** The refusal's message, its reason given as a pattern. */
    const refusedFor = (reason: string) => new RegExp(`^The webhook URL is refused: ${reason}\\.$`);
    it.each([
      ['http://127.0.0.1:8080/hook', 'url must be https'],
      ['https://127.0.0.1/hook', '127\\.0\\.0\\.1 is a loopback or private address'],
      // Refused by the address it resolves to, whichever of the loopback addresses the resolver gives first.
      ['https://localhost/hook', '(127\\.0\\.0\\.1|::1) is a loopback or private address'],
      ['https://10.1.2.3/x', '10\\.1\\.2\\.3 is a loopback or private address'],
    ])(
      'when insecure targets are not allowed (production) and the URL is %s, then it is refused, saying why',
      async (url, reason) => {
        const strict = await createApp({
          database: ctx.database,
          config: { ...ctx.config, webhooks: { ...DEFAULT_WEBHOOKS, allowInsecure: false } },
          logger: createLogger('silent'),
        });
        const issuerId = randomIssuerId();
        const token = await issuerToken(issuerId, { scope: WEBHOOK_SCOPE });
        const res = await api(strict)
          .post(`/issuers/${issuerId}/webhooks`)
          .set('Authorization', `Bearer ${token}`)
          .send({ url, eventTypes: ['account.delinked'] });
        expectIssuerError(res, 400, 'ERR01103');
        expect(res.body.message).toMatch(refusedFor(reason));
      },
    );

    it('when a delivery connects through a name, then the lookup hands on its addresses only when none is refused', async () => {
      type Looked = { error: NodeJS.ErrnoException | null; address: unknown; family: number | undefined };
      const lookup = (hostname: string, options: object, allowInsecure: boolean) =>
        new Promise<Looked>((resolve) =>
          guardedLookup(allowInsecure)(hostname, options, (error, address, family) =>
            resolve({ error, address, family }),
          ),
        );
      const all = await dnsLookup('localhost', { all: true });
      const [first] = all;
      // With all (as Node asks when it tries address families in turn) every address; without, the first.
      expect(await lookup('localhost', { all: true }, true)).toEqual({ error: null, address: all, family: undefined });
      expect(await lookup('localhost', {}, true)).toEqual({
        error: null,
        address: first!.address,
        family: first!.family,
      });
      const refused = await lookup('localhost', { all: true }, false);
      expect(refused.error).toMatchObject({ code: 'EREFUSED' });
      expect(refused.error?.message).toMatch(/^(127\.0\.0\.1|::1) is a loopback or private address$/);
      expect(refused.address).toEqual([]);
      const unknown = await lookup('nohost.invalid', {}, true);
      expect(unknown.error?.message).toMatch(/nohost\.invalid/);
      expect(unknown.address).toEqual([]);
    });

    it('when an address is checked, then link-local and metadata are refused even when insecure targets are allowed', () => {
      expect(addressRefusal('169.254.169.254', true)).toBeDefined();
      expect(addressRefusal('fe80::abcd', true)).toBeDefined();
      expect(addressRefusal('fd00:ec2::254', true)).toBeDefined();
      expect(addressRefusal('127.0.0.1', true)).toBeUndefined();
      expect(addressRefusal('127.0.0.1', false)).toBeDefined();
      expect(addressRefusal('93.184.215.14', false)).toBeUndefined();
      // An IPv4 address written as IPv6 is that IPv4 address; an IPv6 address that merely ends like one is not.
      expect(addressRefusal('::ffff:169.254.169.254', true)).toBe(
        '::ffff:169.254.169.254 is a link-local, metadata or reserved address',
      );
      expect(addressRefusal('::FFFF:10.0.0.1', false)).toBe('::FFFF:10.0.0.1 is a loopback or private address');
      expect(addressRefusal('::ffff:10.0.0.1', true)).toBeUndefined();
      expect(addressRefusal('2001:db8::ffff:10.0.0.1', false)).toBeUndefined();
      // A name is checked by the addresses it resolves to, not as an address.
      expect(addressRefusal('example.com', false)).toBeUndefined();
    });

    it('when a name resolves to several addresses, then one refused address refuses it, wherever it is in the list', () => {
      const resolved = (...addresses: string[]) => addresses.map((address) => ({ address, family: isIP(address) }));
      expect(addressesRefusal(resolved('93.184.215.14', '2001:db8::1'), false)).toBeUndefined();
      expect(addressesRefusal(resolved('93.184.215.14', '169.254.169.254'), true)).toBe(
        '169.254.169.254 is a link-local, metadata or reserved address',
      );
      expect(addressesRefusal(resolved('93.184.215.14', '10.0.0.1', 'fe80::1'), false)).toBe(
        '10.0.0.1 is a loopback or private address',
      );
    });
  });
});

describe('events: metrics, logs, retention and shutdown of the delivery worker', () => {
  // A database of these tests' own: the backlog gauges count every issuer's deliveries and the purge every issuer's
  // events, and no other suite's worker may take a delivery these tests count.
  let scratch: ScratchDatabase;
  let database: Database;
  let ctx: TestContext;
  const workers: DeliveryWorker[] = [];
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    scratch = await scratchDatabase('events_ops');
    database = createDatabase(scratch.config);
    await database.initialize();
    await database.migrate();
    ctx = await createTestContext({ database });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await ctx.close();
    await database.close();
    await scratch.drop();
  });

  async function receiver(options?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
    const started = await startReceiver(options);
    receivers.push(started);
    return started;
  }

  /** A worker that polls rarely, so that each test says when it claims (`poke`), with its own registry and log. */
  function worker(options: Partial<Parameters<typeof startDeliveryWorker>[1]> = {}) {
    const registry = new Registry();
    const logs = logCollector();
    const started = startDeliveryWorker(
      database,
      { retryScheduleS: [0], leaseMs: 30_000, pollIntervalMs: 60_000, allowInsecure: true, ...options },
      createLogger('info', logs.stream),
      registry,
    );
    workers.push(started);
    return { worker: started, registry, logs };
  }

  async function subscribe(issuerId: string, url: string): Promise<string> {
    const token = await issuerToken(issuerId, { scope: WEBHOOK_SCOPE });
    const res = await api(ctx.app)
      .post(`/issuers/${issuerId}/webhooks`)
      .set('Authorization', `Bearer ${token}`)
      .send({ url, eventTypes: ['account.delinked'] });
    expect(res.status).toBe(201);
    return res.body.secret as string;
  }

  async function delink(issuerId: string, ssUserId: string, accountNumber: string): Promise<void> {
    const token = await mintToken(issuerId);
    const res = await api(ctx.app)
      .post(DELINK_PATH)
      .set('Authorization', `Bearer ${token}`)
      .send(buildEnvelope({ SSUserID: ssUserId, AccountNumber: accountNumber }));
    expect(res.status).toBe(200);
  }

  const deliveryRows = () => ctx.dataSource.getRepository(Delivery).find();

  /** A GET of the issuer API under `/issuers/{issuerId}`, as the issuer's backend makes it. */
  async function issuerGet(issuerId: string, path: string) {
    const token = await issuerToken(issuerId, { scope: WEBHOOK_SCOPE });
    return api(ctx.app).get(`/issuers/${issuerId}${path}`).set('Authorization', `Bearer ${token}`);
  }

  it('when deliveries wait, are retried, fail and succeed, then the three metrics say so', async () => {
    const { worker: w, registry } = worker();
    const user = await seedUser(database, { accounts: 3 });
    const hook = await receiver();
    hook.answers.push(500, 500);
    await subscribe(user.issuerId, hook.url);

    expect(await metric(registry, 'webhook_deliveries_waiting')).toBe(0);
    expect(await metric(registry, 'webhook_oldest_undelivered_event_age_seconds')).toBe(0);
    await delink(user.issuerId, user.ssUserId, user.otherAccounts[0]!);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await metric(registry, 'webhook_deliveries_waiting')).toBe(1);
    const age = await metric(registry, 'webhook_oldest_undelivered_event_age_seconds');
    expect(age).toBeGreaterThanOrEqual(0.15);
    expect(age).toBeLessThan(30);

    // 500, retried at once (the schedule is [0]), 500 again: the schedule is spent, the delivery failed.
    w.poke();
    await hook.waitFor(2);
    await until(async () => (await metric(registry, 'webhook_deliveries_total', { result: 'failed' })) === 1);
    expect(await metric(registry, 'webhook_deliveries_total', { result: 'retry' })).toBe(1);
    expect(await metric(registry, 'webhook_deliveries_waiting')).toBe(0);
    expect(await metric(registry, 'webhook_oldest_undelivered_event_age_seconds')).toBe(0);

    await delink(user.issuerId, user.ssUserId, user.otherAccounts[1]!);
    expect(await metric(registry, 'webhook_deliveries_waiting')).toBe(1);
    w.poke();
    await until(async () => (await metric(registry, 'webhook_deliveries_total', { result: 'delivered' })) === 1);
    expect(hook.received).toHaveLength(3);
    expect(await metric(registry, 'webhook_deliveries_waiting')).toBe(0);
    expect(await metric(registry, 'webhook_deliveries_total', { result: 'retry' })).toBe(1);
    expect(await metric(registry, 'webhook_deliveries_total', { result: 'failed' })).toBe(1);
  });

  it('when a delivery takes three attempts, then it logs one line per attempt, with neither secret nor account number', async () => {
    const { worker: w, logs } = worker({ retryScheduleS: [0, 0] });
    const user = await seedUser(database);
    const account = user.otherAccounts[0]!;
    const hook = await receiver();
    hook.answers.push(503, 500);
    const secret = await subscribe(user.issuerId, `${hook.url}?token=receiver-credential`);
    await delink(user.issuerId, user.ssUserId, account);
    w.poke();
    const got = await hook.waitFor(3);
    hook.verifyAll(secret);
    await until(() => logs.lines().filter((l) => l.msg === 'webhook delivery attempt').length >= 3);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const lines = logs.lines().filter((l) => l.msg === 'webhook delivery attempt');
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => [l.attempt, l.statusCode, l.result])).toEqual([
      [1, 503, 'retry'],
      [2, 500, 'retry'],
      [3, 200, 'delivered'],
    ]);
    for (const line of lines)
      expect(line).toMatchObject({
        eventId: got[0]!.json.id,
        eventType: 'account.delinked',
        target: `http://127.0.0.1:${hook.port}`,
      });
    const text = logs.text();
    expect(text).not.toContain(secret);
    expect(text).not.toContain(secret.slice('whsec_'.length));
    expect(text).not.toContain(account);
    expect(text).not.toContain('receiver-credential');
  });

  it('when events are older than the retention, then they are purged in batches with their deliveries, and younger ones kept', async () => {
    const issuerId = randomIssuerId();
    const retentionMs = 30 * 86_400_000;
    const now = Date.now();
    const row = (createdAt: Date, i: number) => storedEvent(issuerId, createdAt, `old-${i}`);
    const old = Array.from({ length: 2 * PURGE_BATCH_SIZE + 1 }, (_, i) =>
      row(new Date(now - retentionMs - 60_000), i),
    );
    const young = Array.from({ length: 3 }, (_, i) => row(new Date(now - retentionMs + 3_600_000), old.length + i));
    const events = ctx.dataSource.getRepository(OutboxEvent);
    for (let i = 0; i < old.length; i += 500) await events.insert(old.slice(i, i + 500));
    await events.insert(young);

    // An old event with a delivery and its attempt, as a subscription and a delivery made them.
    const user = await seedUser(database);
    const hook = await receiver();
    await subscribe(user.issuerId, hook.url);
    await delink(user.issuerId, user.ssUserId, user.otherAccounts[0]!);
    const { worker: w } = worker();
    w.poke();
    await hook.waitFor(1);
    await until(async () => (await deliveryRows()).every((d) => d.state !== 'PENDING'));
    await events.update({ issuerId: user.issuerId }, { createdAt: new Date(now - retentionMs - 1_000) });
    // Its registrations too: seedUser registered its accounts, each with its event.
    const backdated = await events.count({ where: { issuerId: user.issuerId } });
    const [delivered] = await ctx.dataSource.getRepository(Delivery).find({
      where: { eventRowId: (await events.findOneByOrFail({ issuerId: user.issuerId, type: 'account.delinked' })).id },
    });
    expect(await ctx.dataSource.getRepository(DeliveryAttempt).countBy({ deliveryId: delivered!.id })).toBe(1);
    const before = await events.count();
    const deliveriesBefore = await ctx.dataSource.getRepository(Delivery).count();

    const transaction = jest.spyOn(database, 'transaction');
    try {
      expect(await purgeEvents(database, retentionMs, new Date(now))).toBe(old.length + backdated);
      // 500, 500 and the rest: each batch in a transaction of its own.
      expect(transaction).toHaveBeenCalledTimes(3);
    } finally {
      transaction.mockRestore();
    }
    expect(await events.count()).toBe(before - old.length - backdated);
    expect((await events.find({ where: { issuerId } })).map((e) => e.eventId)).toEqual(young.map((e) => e.eventId));
    expect(await events.count({ where: { issuerId: user.issuerId } })).toBe(0);
    expect(await ctx.dataSource.getRepository(Delivery).count()).toBe(deliveriesBefore - 1);
    expect(await ctx.dataSource.getRepository(DeliveryAttempt).countBy({ deliveryId: delivered!.id })).toBe(0);
    expect(await purgeEvents(database, retentionMs, new Date(now))).toBe(0);
  });

  it('when a subscribed name resolves to a loopback address where insecure targets are not allowed, then the attempt is refused before it connects, and the event says so', async () => {
    const user = await seedUser(database);
    const hook = await receiver();
    // Subscribed where insecure targets were allowed; delivered by an instance where they are not.
    const url = hook.url.replace('http://127.0.0.1', 'https://localhost');
    const subscribedAt = Date.now();
    await subscribe(user.issuerId, url);
    const listed = (await issuerGet(user.issuerId, '/webhooks')).body.webhooks as {
      webhookId: string;
      createdAt: string;
    }[];
    expect(listed).toEqual([
      {
        webhookId: expect.stringMatching(/^wh_[0-9a-f]{32}$/),
        url,
        eventTypes: ['account.delinked'],
        state: 'ACTIVE',
        createdAt: expect.stringMatching(ISO_INSTANT),
      },
    ]);
    expect(Date.parse(listed[0]!.createdAt)).toBeGreaterThanOrEqual(Math.floor(subscribedAt / 1000) * 1000);
    expect(Date.parse(listed[0]!.createdAt)).toBeLessThanOrEqual(Date.now());

    const delinkedAt = Date.now();
    await delink(user.issuerId, user.ssUserId, user.otherAccounts[0]!);
    const event = await ctx.dataSource
      .getRepository(OutboxEvent)
      .findOneByOrFail({ issuerId: user.issuerId, type: 'account.delinked' });
    // Waiting: due at once, not attempted yet.
    const waiting = (await issuerGet(user.issuerId, `/events/${event.eventId}`)).body.deliveries as {
      nextAttemptAt: string;
    }[];
    expect(waiting).toEqual([
      {
        webhookId: listed[0]!.webhookId,
        state: 'PENDING',
        nextAttemptAt: expect.stringMatching(ISO_INSTANT),
        attempts: [],
      },
    ]);
    expect(Date.parse(waiting[0]!.nextAttemptAt)).toBeGreaterThanOrEqual(Math.floor(delinkedAt / 1000) * 1000);
    expect(Date.parse(waiting[0]!.nextAttemptAt)).toBeLessThanOrEqual(Date.now());

    const { worker: w } = worker({ allowInsecure: false, retryScheduleS: [] });
    const attemptedFrom = Date.now();
    w.poke();
    await until(async () => (await deliveryRows()).every((d) => d.state !== 'PENDING'));
    const detail = await issuerGet(user.issuerId, `/events/${event.eventId}`);
    expect(detail.status).toBe(200);
    expect(detail.body.event.id).toBe(event.eventId);
    expect(detail.body.deliveries).toEqual([
      {
        webhookId: listed[0]!.webhookId,
        state: 'FAILED',
        nextAttemptAt: null,
        attempts: [
          {
            attemptedAt: expect.stringMatching(ISO_INSTANT),
            statusCode: null,
            error: expect.stringMatching(/^(127\.0\.0\.1|::1) is a loopback or private address$/),
            durationMs: expect.any(Number),
          },
        ],
      },
    ]);
    const [attempt] = detail.body.deliveries[0].attempts as { attemptedAt: string; durationMs: number }[];
    expect(Date.parse(attempt!.attemptedAt)).toBeGreaterThanOrEqual(Math.floor(attemptedFrom / 1000) * 1000);
    expect(attempt!.durationMs).toBeGreaterThanOrEqual(0);
    expect(attempt!.durationMs).toBeLessThan(10_000);
    expect(hook.received).toHaveLength(0);
  });

  it('when a subscription ends while deliveries wait, then they are never sent: cancelled when it is deleted, failed when its receiver answers 410', async () => {
    const user = await seedUser(database, { accounts: 5 });
    const token = await issuerToken(user.issuerId, { scope: WEBHOOK_SCOPE });
    const statesOf = async (webhookId: string) => {
      const webhook = await ctx.dataSource.getRepository(Webhook).findOneByOrFail({ webhookId });
      const rows = await ctx.dataSource.getRepository(Delivery).findBy({ webhookRowId: webhook.id });
      return { webhook: webhook.state, deliveries: rows.map((row) => row.state) };
    };
    const webhookIdOf = async () =>
      ((await issuerGet(user.issuerId, '/webhooks')).body.webhooks as { webhookId: string }[]).at(-1)!.webhookId;

    const deletedHook = await receiver();
    await subscribe(user.issuerId, deletedHook.url);
    const deleted = await webhookIdOf();
    await delink(user.issuerId, user.ssUserId, user.otherAccounts[0]!);
    await delink(user.issuerId, user.ssUserId, user.otherAccounts[1]!);
    expect(await statesOf(deleted)).toEqual({ webhook: 'ACTIVE', deliveries: ['PENDING', 'PENDING'] });
    await api(ctx.app)
      .delete(`/issuers/${user.issuerId}/webhooks/${deleted}`)
      .set('Authorization', `Bearer ${token}`)
      .expect(204);
    expect(await statesOf(deleted)).toEqual({ webhook: 'DELETED', deliveries: ['CANCELLED', 'CANCELLED'] });

    const goneHook = await receiver();
    goneHook.answers.push(410);
    await subscribe(user.issuerId, goneHook.url);
    const gone = await webhookIdOf();
    await delink(user.issuerId, user.ssUserId, user.otherAccounts[2]!);
    await delink(user.issuerId, user.ssUserId, user.otherAccounts[3]!);
    // One attempt at a time: the 410 of the first ends the subscription before the second is claimed.
    const { worker: w } = worker({ concurrency: 1 });
    w.poke();
    await until(async () => (await statesOf(gone)).deliveries.every((state) => state !== 'PENDING'));
    expect(await statesOf(gone)).toEqual({ webhook: 'DISABLED', deliveries: ['FAILED', 'FAILED'] });
    expect(goneHook.received).toHaveLength(1);
    expect(deletedHook.received).toHaveLength(0);
  });

  it('when the service purges events on its own, then the expired ones go and the log says how many', async () => {
    const issuerId = randomIssuerId();
    const retentionMs = 30 * 86_400_000;
    const events = ctx.dataSource.getRepository(OutboxEvent);
    const rows = Array.from({ length: 3 }, (_, i) =>
      storedEvent(issuerId, new Date(Date.now() - retentionMs - 60_000), `expired-${i}`),
    );
    await events.insert(rows);
    const logs = logCollector();
    const stop = scheduleEventPurge(database, { retentionMs, intervalMs: 50 }, createLogger('info', logs.stream));
    try {
      await until(async () => (await events.countBy({ issuerId })) === 0);
      await until(() => logs.lines().some((line) => line.msg === 'expired events purged'));
    } finally {
      await stop();
    }
    const purged = logs.lines().filter((line) => line.msg === 'expired events purged');
    expect(purged.reduce((sum, line) => sum + Number(line.purged), 0)).toBeGreaterThanOrEqual(rows.length);
  });

  it('when the worker stops while a receiver holds the request, then the attempt ends first and no lease is left held', async () => {
    const first = worker({ pollIntervalMs: 50 });
    const user = await seedUser(database);
    const hook = await receiver({ delayMs: 1_000 });
    const secret = await subscribe(user.issuerId, hook.url);
    await delink(user.issuerId, user.ssUserId, user.otherAccounts[0]!);
    const [got] = await hook.waitFor(1);
    const held = await ctx.dataSource.getRepository(Delivery).findOneByOrFail({ state: 'PENDING' });
    expect(held.claimToken).not.toBeNull();

    const stopping = Date.now();
    await first.worker.stop();
    expect(Date.now() - stopping).toBeGreaterThanOrEqual(500);
    expect(got!.closed()).toBe(false);
    const after = await ctx.dataSource.getRepository(Delivery).findOneByOrFail({ id: held.id });
    expect(after).toMatchObject({ state: 'DELIVERED', claimToken: null, claimedUntil: null, attempts: 1 });

    // Another instance finds nothing of it to deliver again.
    const second = worker({ pollIntervalMs: 50 });
    second.worker.poke();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hook.received).toHaveLength(1);
    hook.verifyAll(secret);
  });

  it('when recording an attempt fails and the worker stops, then it gives the lease back and another worker delivers it at once', async () => {
    const first = worker();
    const user = await seedUser(database);
    const hook = await receiver();
    const secret = await subscribe(user.issuerId, hook.url);
    await delink(user.issuerId, user.ssUserId, user.otherAccounts[0]!);

    // The claim commits; the transaction recording the attempt fails (the database went away for a moment).
    const transaction = database.transaction.bind(database);
    let calls = 0;
    const spy = jest.spyOn(database, 'transaction').mockImplementation((work) => {
      calls += 1;
      return calls === 2 ? Promise.reject(new Error('the connection was lost')) : transaction(work);
    });
    try {
      first.worker.poke();
      const [got] = await hook.waitFor(1);
      await until(() => calls >= 2);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const held = await ctx.dataSource.getRepository(Delivery).findOneByOrFail({ state: 'PENDING' });
      expect(held.claimToken).not.toBeNull();
      spy.mockRestore();

      await first.worker.stop();
      const released = await ctx.dataSource.getRepository(Delivery).findOneByOrFail({ id: held.id });
      expect(released).toMatchObject({ state: 'PENDING', claimToken: null, claimedUntil: null, attempts: 0 });

      const second = worker();
      const started = Date.now();
      second.worker.poke();
      const again = await hook.waitFor(2, 1_000);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(again[1]!.headers['webhook-id']).toBe(got!.headers['webhook-id']);
      hook.verifyAll(secret);
      await until(async () => (await deliveryRows()).every((d) => d.state !== 'PENDING'));
    } finally {
      spy.mockRestore();
    }
  });
});

/** A metric's value as a scrape reads it (gauges collected), 0 when the series has not been written. */
async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const found = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  if (found === undefined) throw new Error(`no metric ${name}`);
  const value = found.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}
