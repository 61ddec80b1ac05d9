import { api } from './helpers/api';
import { DELINK_PATH } from '../src/corecredit/routes';
import { createApp } from '../src/app';
import { DEFAULT_WEBHOOKS } from '../src/config';
import { OutboxEvent } from '../src/db/entities';
import { startDeliveryWorker, type DeliveryWorker } from '../src/events/delivery';
import { buildEvent } from '../src/events/events';
import { addressRefusal } from '../src/events/url-policy';
import { delinkSecondary } from '../src/links/link-repository';
import { createLogger } from '../src/logger';
import { done, recordOperation } from '../src/operations/record';
import {
  buildEnvelope,
  createTestContext,
  issuerToken,
  linkOf,
  mintToken,
  randomIssuerId,
  seedUser,
  type TestContext,
} from './helpers/context';
import { type Receiver, startReceiver } from './helpers/receiver';

const WEBHOOK_SCOPE = 'issuer:webhooks issuer:read issuer:write';

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

  async function subscribe(issuerId: string, url: string, eventTypes = ['account.delinked', 'account.delink_refused']) {
    const token = await issuerToken(issuerId, { scope: WEBHOOK_SCOPE });
    return api(ctx.app)
      .post(`/issuers/${issuerId}/webhooks`)
      .set('Authorization', `Bearer ${token}`)
      .send({ url, eventTypes });
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

  it('when the main account is delinked, then the refusal is an account.delink_refused event', async () => {
    const user = await seedUser(ctx.database);
    const hook = await receiver();
    const created = await subscribe(user.issuerId, hook.url);
    expect((await delink(user.issuerId, user.ssUserId, user.mainAccount)).status).toBe(409);
    const [got] = await hook.waitFor(1);
    hook.verifyAll(created.body.secret as string);
    expect(got!.json).toMatchObject({
      type: 'account.delink_refused',
      data: { accountId: user.mainAccount, isMainAccount: true, errorCode: 'ERR01140' },
    });
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
    const detail = await issuerGet(user.issuerId, `/issuers/${user.issuerId}/events/${eventId}`);
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
    const detail = await issuerGet(user.issuerId, `/issuers/${user.issuerId}/events/${got!.json.id}`);
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
    await new Promise((resolve) => setTimeout(resolve, 300));
    const list = await issuerGet(user.issuerId, `/issuers/${user.issuerId}/webhooks`);
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

  it('when register, relink and delete happen, then each writes its own event type', async () => {
    const user = await seedUser(ctx.database);
    const account = user.otherAccounts[0]!;
    await delink(user.issuerId, user.ssUserId, account);
    const token = await issuerToken(user.issuerId);
    await api(ctx.app)
      .put(`/issuers/${user.issuerId}/accounts/${account}`)
      .set('Authorization', `Bearer ${token}`)
      .send({ consumerId: user.ssUserId, state: 'ACTIVE' })
      .expect(204);
    await api(ctx.app)
      .post(`/issuers/${user.issuerId}/accounts/${user.mainAccount}/operations:delete`)
      .set('Authorization', `Bearer ${token}`)
      .send({ reasonCode: 'USER_DECISION' })
      .expect(200);
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

  it('when the feed pages through 10,000 events, then it returns each once, oldest first, with no gaps', async () => {
    const issuerId = randomIssuerId();
    const rows = Array.from({ length: 10_000 }, (_, i) => {
      const event = buildEvent(
        'account.delinked',
        '00000000-0000-4000-8000-000000000000',
        { issuerId, requestorType: 'USER', requestorId: null, correlationId: `bulk-${i}` },
        { operation: 'DELINK', consumerId: 'BULK1', accountNumber: '8000000000000227', isMainAccount: false },
        null,
        new Date(),
      );
      return { eventId: event.id, issuerId, type: event.type, body: JSON.stringify(event), createdAt: new Date() };
    });
    for (let i = 0; i < rows.length; i += 500)
      await ctx.dataSource.getRepository(OutboxEvent).insert(rows.slice(i, i + 500));

    const seen: string[] = [];
    let after: string | null = null;
    do {
      const query: string = after === null ? '?limit=500' : `?limit=500&after=${after}`;
      const res = await issuerGet(issuerId, `/issuers/${issuerId}/events${query}`);
      expect(res.status).toBe(200);
      seen.push(...(res.body.events as { id: string }[]).map((e) => e.id));
      after = res.body.next as string | null;
    } while (after !== null);
    expect(seen).toEqual(rows.map((r) => r.eventId));
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
    it.each([
      'http://169.254.169.254/latest/meta-data/',
      'http://[fe80::1]/hook',
      'http://[::ffff:169.254.169.254]/hook',
      'http://0.0.0.0:8080/hook',
      'ftp://example.com/hook',
      'http://user:pass@127.0.0.1/hook',
      'not a url',
    ])('when the URL is %s, then the subscription is refused always', async (url) => {
      const issuerId = randomIssuerId();
      const res = await subscribe(issuerId, url);
      expect(res.status).toBe(400);
      expect(res.body.errorCode).toBe('ERR01103');
    });

    it.each(['http://127.0.0.1:8080/hook', 'https://127.0.0.1/hook', 'https://localhost/hook', 'https://10.1.2.3/x'])(
      'when insecure targets are not allowed (production) and the URL is %s, then it is refused',
      async (url) => {
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
        expect(res.status).toBe(400);
        expect(res.body.errorCode).toBe('ERR01103');
      },
    );

    it('when an address is checked, then link-local and metadata are refused even when insecure targets are allowed', () => {
      expect(addressRefusal('169.254.169.254', true)).toBeDefined();
      expect(addressRefusal('fe80::abcd', true)).toBeDefined();
      expect(addressRefusal('fd00:ec2::254', true)).toBeDefined();
      expect(addressRefusal('127.0.0.1', true)).toBeUndefined();
      expect(addressRefusal('127.0.0.1', false)).toBeDefined();
      expect(addressRefusal('93.184.215.14', false)).toBeUndefined();
    });
  });
});
