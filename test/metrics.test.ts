// GET /metrics: request counts and latencies by route pattern, DeLinkAccount outcomes, pool gauges, process metrics.
import type { QueryRunner } from 'typeorm';
import { api } from './helpers/api';
import { DELINK_PATH, GET_LINKS_PATH } from '../src/corecredit/routes';
import { UNMATCHED_ROUTE } from '../src/http/metrics';
import { ACCOUNT_PATH } from '../src/issuer/routes';
import {
  buildEnvelope,
  createTestContext,
  issuerToken,
  mintToken,
  onMariaDb,
  openDatabase,
  seedUser,
  testDatabase,
  type TestContext,
} from './helpers/context';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of Prometheus' text format (comment lines skipped). */
function parseMetrics(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (match === null) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
      );
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

/** The sum of the samples of `name` whose labels include `labels` (0 when there is none). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value))
    .reduce((sum, s) => sum + s.value, 0);
}

async function scrape(ctx: TestContext): Promise<{ text: string; samples: Sample[] }> {
  const res = await api(ctx.app).get('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return { text: res.text, samples: parseMetrics(res.text) };
}

describe('GET /metrics', () => {
  let ctx: TestContext;

  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('when called without a token, then it answers the process metrics and the pool gauges', async () => {
    const { samples } = await scrape(ctx);
    const names = new Set(samples.map((s) => s.name));
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(names).toContain(name);
    }
    for (const name of ['db_pool_connections_open', 'db_pool_connections_in_use', 'db_pool_requests_waiting'])
      expect(names).toContain(name);
  });

  it('when requests are served, then their counts, latencies and delink outcomes move, labelled by route pattern and status', async () => {
    const user = await seedUser(ctx.database);
    const token = await mintToken(user.issuerId);
    const before = (await scrape(ctx)).samples;
    const delink = (account: string) =>
      api(ctx.app)
        .post(DELINK_PATH)
        .set('Authorization', `Bearer ${token}`)
        .send(buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: account }));
    expect((await delink(user.otherAccounts[0]!)).status).toBe(200);
    expect((await delink(user.mainAccount)).status).toBe(409);
    expect((await delink(user.mainAccount)).status).toBe(409);
    expect((await delink('not-digits')).status).toBe(400);
    const registered = await api(ctx.app)
      .put(ACCOUNT_PATH.replace(':issuerId', user.issuerId).replace(':accountId', '4000000000009999'))
      .set('Authorization', `Bearer ${await issuerToken(user.issuerId)}`)
      .send({ consumerId: user.ssUserId, state: 'ACTIVE' });
    expect(registered.status).toBe(204);
    expect((await api(ctx.app).get(`/issuers/${user.issuerId}/accounts/${user.mainAccount}/history`)).status).toBe(404);
    expect((await api(ctx.app).get(GET_LINKS_PATH)).status).toBe(405);

    const { samples, text } = await scrape(ctx);
    const moved = (name: string, labels: Record<string, string>): number =>
      valueOf(samples, name, labels) - valueOf(before, name, labels);
    const delinkRoute = { method: 'POST', route: DELINK_PATH };
    expect(moved('http_requests_total', { ...delinkRoute, status: '200' })).toBe(1);
    expect(moved('http_requests_total', { ...delinkRoute, status: '409' })).toBe(2);
    expect(moved('http_requests_total', { ...delinkRoute, status: '400' })).toBe(1);
    expect(moved('http_requests_total', { method: 'PUT', route: ACCOUNT_PATH, status: '204' })).toBe(1);
    expect(moved('http_requests_total', { method: 'GET', route: UNMATCHED_ROUTE, status: '404' })).toBe(1);
    expect(moved('http_requests_total', { method: 'GET', route: GET_LINKS_PATH, status: '405' })).toBe(1);
    expect(moved('http_request_duration_seconds_count', { ...delinkRoute, status: '409' })).toBe(2);
    expect(moved('http_request_duration_seconds_bucket', { ...delinkRoute, status: '409', le: '+Inf' })).toBe(2);
    expect(moved('http_request_duration_seconds_sum', { ...delinkRoute, status: '409' })).toBeGreaterThan(0);
    expect(moved('corecredit_delink_outcomes_total', { errorCode: 'ERR01093' })).toBe(1);
    expect(moved('corecredit_delink_outcomes_total', { errorCode: 'ERR01140' })).toBe(2);
    expect(moved('corecredit_delink_outcomes_total', { errorCode: 'ERR01100' })).toBe(1);

    // Route labels are patterns, never URLs: no issuer id, account or user number becomes a label.
    const routes = new Set(samples.filter((s) => s.labels.route !== undefined).map((s) => s.labels.route!));
    expect([...routes].filter((route) => route !== UNMATCHED_ROUTE && !/^\/[a-zA-Z0-9/:_\\.-]*$/.test(route))).toEqual(
      [],
    );
    for (const route of routes) expect(route).not.toMatch(/\d{4,}/);
    for (const value of [user.issuerId, user.mainAccount, ...user.otherAccounts, user.ssUserId, '4000000000009999'])
      expect(text).not.toContain(value);
  });

  it('when connections are lent out and the pool is exhausted, then the pool gauges show them in use and waiting', async () => {
    const gauges = async (): Promise<Record<string, number>> => {
      const { samples } = await scrape(ctx);
      return Object.fromEntries(
        ['db_pool_connections_open', 'db_pool_connections_in_use', 'db_pool_requests_waiting'].map((n) => [
          n,
          valueOf(samples, n),
        ]),
      );
    };
    if (!onMariaDb) {
      // TypeORM holds SQLite's one connection for the data source's life; idle between requests, nothing waits.
      expect(await gauges()).toEqual({
        db_pool_connections_open: 1,
        db_pool_connections_in_use: 0,
        db_pool_requests_waiting: 0,
      });
      return;
    }
    const poolSize = 10; // the suite's MariaDB pool (test/helpers/context.ts)
    const held: QueryRunner[] = [];
    for (let i = 0; i < poolSize; i += 1) {
      const runner = ctx.dataSource.createQueryRunner();
      await runner.connect();
      held.push(runner);
    }
    const queued = ctx.dataSource.createQueryRunner();
    const connected = queued.connect();
    expect(await gauges()).toEqual({
      db_pool_connections_open: poolSize,
      db_pool_connections_in_use: poolSize,
      db_pool_requests_waiting: 1,
    });

    await Promise.all(held.map((runner) => runner.release()));
    await connected;
    await queued.release();
    expect(await gauges()).toEqual({
      db_pool_connections_open: poolSize,
      db_pool_connections_in_use: 0,
      db_pool_requests_waiting: 0,
    });
  });
});

describe('the gate in front of the database', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('when units of work hold every place and one more comes, then the gauges count them in use and waiting, and the last starts only once a place is free', async () => {
    // The gate is sized to the pool: SQLite's one shared connection, or the suite's MariaDB pool of 10.
    const places = onMariaDb ? 10 : 1;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered = 0;
    const holders = Array.from({ length: places }, () =>
      ctx.database.transaction(async () => {
        entered += 1;
        await held;
      }),
    );
    while (entered < places) await new Promise((resolve) => setImmediate(resolve));
    let lastStarted = false;
    const last = ctx.database.transaction(() => {
      lastStarted = true;
      return Promise.resolve();
    });

    const { samples } = await scrape(ctx);
    expect([valueOf(samples, 'db_pool_connections_in_use'), valueOf(samples, 'db_pool_requests_waiting')]).toEqual([
      places,
      1,
    ]);
    expect(ctx.database.load()).toEqual({ active: places, waiting: 1 });
    expect(lastStarted).toBe(false);

    release();
    await Promise.all([...holders, last]);
    expect(lastStarted).toBe(true);
    const after = (await scrape(ctx)).samples;
    expect([valueOf(after, 'db_pool_connections_in_use'), valueOf(after, 'db_pool_requests_waiting')]).toEqual([0, 0]);
    expect(ctx.database.load()).toEqual({ active: 0, waiting: 0 });
  });

  it('when a unit of work waits for a place longer than the acquire timeout, then it gets a 503 and never runs', async () => {
    const config = testDatabase();
    const database = await openDatabase({
      ...config,
      ...(config.kind === 'mysql' ? { poolSize: 1 } : {}),
      acquireTimeoutMs: 50,
    });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered = false;
    const holder = database.transaction(async () => {
      entered = true;
      await held;
    });
    try {
      while (!entered) await new Promise((resolve) => setImmediate(resolve));
      let ran = false;
      const refused = database.transaction(() => Promise.resolve((ran = true)));
      await expect(refused).rejects.toMatchObject({
        errorName: 'SERVICE_UNAVAILABLE',
        status: 503,
        retryAfter: 2,
        message: 'No database connection became free within 50 ms.',
      });
      expect(ran).toBe(false);
      expect(database.load()).toEqual({ active: 1, waiting: 0 });
    } finally {
      release();
      await holder;
      await database.close();
    }
  });
});

describe('two apps in one process', () => {
  let first: TestContext;
  let second: TestContext;

  beforeAll(async () => {
    first = await createTestContext();
    second = await createTestContext({ database: first.database });
  });
  afterAll(async () => {
    await second.close();
    await first.close();
  });

  it('when both serve requests, then each reports only its own', async () => {
    for (let i = 0; i < 3; i += 1) expect((await api(first.app).get('/health/live')).status).toBe(200);
    expect((await api(second.app).get('/health/live')).status).toBe(200);
    const live = { method: 'GET', route: '/health/live', status: '200' };
    expect(valueOf((await scrape(first)).samples, 'http_requests_total', live)).toBe(3);
    expect(valueOf((await scrape(second)).samples, 'http_requests_total', live)).toBe(1);
  });
});
