// The fleet's rate limit: counters in Redis (127.0.0.1:6379, or TEST_REDIS_URL) shared by every instance, and
// served without a limit (fail open, logged once, counted) when Redis is away.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { createClient } from 'redis';
import { GET_LINKS_PATH } from '../src/corecredit/routes';
import { connectRateLimitRedis, type RateLimitRedis } from '../src/http/redis-client';
import { createLogger } from '../src/logger';
import { api } from './helpers/api';
import { buildEnvelope, createTestContext, mintToken, seedUser, type TestContext } from './helpers/context';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const HOUR = 3_600_000;

async function redisAnswers(): Promise<boolean> {
  const client = createClient({ url: REDIS_URL, socket: { connectTimeout: 1_000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    await client.close();
    return true;
  } catch {
    client.destroy();
    return false;
  }
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

class Lines extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString().split('\n')) if (line !== '') this.lines.push(JSON.parse(line));
    done();
  }
}

let available = false;
beforeAll(async () => {
  available = await redisAnswers();
  if (available) return;
  if (process.env.CI === 'true')
    throw new Error(`Redis does not answer at ${REDIS_URL}, and in CI this suite must run`);
  console.log(`\nRedis rate-limit tests SKIPPED: no Redis answers at ${REDIS_URL} (set TEST_REDIS_URL).\n`);
});

describe('rate limits shared through Redis', () => {
  const opened: (TestContext | RateLimitRedis)[] = [];
  afterEach(async () => {
    for (const item of opened.splice(0)) await item.close();
  });

  async function instances(
    count: number,
    redisUrl: string,
    logStream?: Writable,
  ): Promise<{ apps: TestContext[]; redis: RateLimitRedis }> {
    // One key space per test, so runs and tests never share a counter.
    const redis = connectRateLimitRedis(redisUrl, createLogger('silent'), `test:${randomUUID()}:`);
    opened.push(redis);
    const first = await createTestContext({
      rateLimit: { windowMs: HOUR, perClient: 0, perCaller: 10 },
      rateLimitCounters: redis.counters,
      logStream,
    });
    opened.push(first);
    const rest: TestContext[] = [];
    for (let i = 1; i < count; i++) {
      const next = await createTestContext({
        database: first.database,
        rateLimit: { windowMs: HOUR, perClient: 0, perCaller: 10 },
        rateLimitCounters: redis.counters,
        logStream,
      });
      opened.push(next);
      rest.push(next);
    }
    return { apps: [first, ...rest], redis };
  }

  it('when one caller sends 60 requests spread over three instances with a caller limit of 10, then exactly 10 are served', async () => {
    if (!available) return;
    const { apps, redis } = await instances(3, REDIS_URL);
    await redis.connected;
    const user = await seedUser(apps[0]!.database);
    const token = await mintToken(user.issuerId, { sub: 'portal' });
    const body = buildEnvelope({ SSUserID: user.ssUserId });
    const statuses = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const res = await api(apps[i % 3]!.app)
          .post(GET_LINKS_PATH)
          .set('Authorization', `Bearer ${token}`)
          .send(body);
        return res.status;
      }),
    );
    expect(statuses.filter((status) => status === 200)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(50);
  });

  it('when Redis is unreachable, then requests are still served, one warning is logged and the store-error metric counts them', async () => {
    if (!available) return;
    const log = new Lines();
    const [app] = (await instances(1, `redis://127.0.0.1:${await closedPort()}`, log)).apps;
    const user = await seedUser(app!.database);
    const token = await mintToken(user.issuerId, { sub: 'portal' });
    for (let i = 0; i < 12; i++) {
      const res = await api(app!.app)
        .post(GET_LINKS_PATH)
        .set('Authorization', `Bearer ${token}`)
        .send(buildEnvelope({ SSUserID: user.ssUserId }));
      expect(res.status).toBe(200);
    }
    const warnings = log.lines.filter((line) => String(line.msg).includes('rate-limit store (Redis) unavailable'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, limiter: 'caller' });
    expect(log.lines.filter((line) => line.level === 50)).toEqual([]);
    const metrics = await api(app!.app).get('/metrics');
    expect(metrics.text).toMatch(/^rate_limit_store_errors_total\{limiter="caller"\} 12$/m);
  });
});
