// Two real service processes over one MariaDB database deliver each event once per subscription, and an instance
// killed mid-delivery leaves its delivery to the other, with the same webhook-id, once its lease runs out. Two claims
// made at the same moment (two instances' workers) never take the same delivery.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabase, type Database } from '../../src/db/database';
import { DELINK_PATH } from '../../src/corecredit/routes';
import { claimDue } from '../../src/events/outbox-repository';
import { createWebhook } from '../../src/events/webhooks';
import { api } from '../helpers/api';
import {
  buildEnvelope,
  createTestContext,
  mintToken,
  openDatabase,
  randomIssuerId,
  seedUser,
  TEST_SECRET,
} from '../helpers/context';
import { type ServerProcess, serverEnv, startServer } from '../helpers/process';
import { type Receiver, startReceiver } from '../helpers/receiver';
import { type ScratchDatabase, scratchDatabase } from '../helpers/scratch-database';

const LEASE_S = 11;
const env = (dataDir: string) =>
  serverEnv(dataDir, {
    JWT_SECRET: TEST_SECRET,
    WEBHOOK_LEASE_S: String(LEASE_S),
    WEBHOOK_POLL_INTERVAL_MS: '50',
    WEBHOOK_RETRY_SCHEDULE_S: '1,1,2',
  });

/** SIGKILL of the service itself: tsx runs it in a child process of its own. */
function kill(server: ServerProcess): void {
  const children = spawnSync('pgrep', ['-P', String(server.child.pid)], { encoding: 'utf8' }).stdout.trim();
  for (const pid of children.split('\n').filter((p) => p !== '')) process.kill(Number(pid), 'SIGKILL');
  server.child.kill('SIGKILL');
}

describe('webhook deliveries across instances', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cc-events-'));
  let servers: ServerProcess[] = [];
  const receivers: Receiver[] = [];
  let direct: Database;

  beforeAll(async () => {
    servers = await Promise.all([startServer(env(dataDir)), startServer(env(dataDir))]);
    direct = await openDatabase();
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    await Promise.all(receivers.map((r) => r.close()));
    await direct.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function delinkThrough(server: ServerProcess, issuerId: string, ssUserId: string, account: string) {
    const token = await mintToken(issuerId);
    const res = await fetch(`http://127.0.0.1:${server.port}${DELINK_PATH}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(buildEnvelope({ SSUserID: ssUserId, AccountNumber: account })),
    });
    if (res.status !== 200)
      console.log(
        server.output
          .filter((l) => l.includes('"err'))
          .slice(-3)
          .join('\n'),
      );
    expect(res.status).toBe(200);
  }

  it('when delinks arrive at both instances under load, then each subscription gets each event exactly once', async () => {
    const issuerId = randomIssuerId();
    const users = await Promise.all(Array.from({ length: 10 }, () => seedUser(direct, { issuerId, accounts: 11 })));
    const hooks = [await startReceiver(), await startReceiver()];
    receivers.push(...hooks);
    const secrets: string[] = [];
    for (const hook of hooks) {
      const created = await createWebhook(
        direct,
        issuerId,
        { url: hook.url, eventTypes: ['account.delinked'] },
        {
          allowInsecure: true,
        },
      );
      secrets.push(created.secret);
    }
    const calls = users.flatMap((user) => user.otherAccounts.map((account) => ({ user, account })));
    await Promise.all(
      calls.map(({ user, account }, i) => delinkThrough(servers[i % 2]!, issuerId, user.ssUserId, account)),
    );
    for (const [i, hook] of hooks.entries()) {
      await hook.waitFor(calls.length, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      hook.verifyAll(secrets[i]!);
      const ids = hook.received.map((r) => r.headers['webhook-id']);
      expect(ids).toHaveLength(calls.length);
      expect(new Set(ids).size).toBe(calls.length);
    }
  });

  it('when the instance making a delivery is killed mid-way, then the other delivers it after the lease, with the same webhook-id', async () => {
    const issuerId = randomIssuerId();
    const user = await seedUser(direct, { issuerId });
    const hook = await startReceiver({ delayMs: 60_000 });
    receivers.push(hook);
    const created = await createWebhook(
      direct,
      issuerId,
      { url: hook.url, eventTypes: ['account.delinked'] },
      {
        allowInsecure: true,
      },
    );
    await delinkThrough(servers[0]!, issuerId, user.ssUserId, user.otherAccounts[0]!);
    const [held] = await hook.waitFor(1, 5_000);
    // Whichever instance holds the request: kill the first; if the request is still open, the second had it.
    const [first, second] = servers as [ServerProcess, ServerProcess];
    kill(first);
    await first.exited;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const survivors = [second];
    if (held!.closed() === false) {
      kill(second);
      await second.exited;
      survivors[0] = await startServer(env(dataDir));
    }
    servers = survivors;
    hook.delayMs = 0;
    const got = await hook.waitFor(2, (LEASE_S + 10) * 1000);
    hook.verifyAll(created.secret);
    expect(got[1]!.headers['webhook-id']).toBe(held!.headers['webhook-id']);
    expect(got[1]!.body).toBe(held!.body);
  });
});

describe('claims of due deliveries made at the same moment', () => {
  // A database of its own: no other suite's worker may claim these deliveries.
  let scratch: ScratchDatabase;
  let database: Database;

  beforeAll(async () => {
    scratch = await scratchDatabase('claims');
    database = createDatabase(scratch.config);
    await database.initialize();
    await database.migrate();
  });
  afterAll(async () => {
    await database.close();
    await scratch.drop();
  });

  it('when a second instance claims while the first still holds its claim open, then it takes only the others', async () => {
    const user = await seedUser(database, { accounts: 5 });
    await createWebhook(
      database,
      user.issuerId,
      { url: 'http://127.0.0.1:9/hook', eventTypes: ['account.delinked'] },
      { allowInsecure: true },
    );
    const ctx = await createTestContext({ database });
    try {
      for (const account of user.otherAccounts) {
        const res = await api(ctx.app)
          .post(DELINK_PATH)
          .set('Authorization', `Bearer ${await mintToken(user.issuerId)}`)
          .send(buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: account }));
        expect(res.status).toBe(200);
      }
    } finally {
      await ctx.close();
    }
    const now = new Date(Date.now() + 1_000);
    const claim = (token: string, limit: number) => ({
      now,
      until: new Date(now.getTime() + 30_000),
      token,
      limit,
      skipLocked: true,
    });
    const [first, second] = await database.transaction(async (manager) => {
      const held = await claimDue(manager, claim('first', 2));
      // The first claim's transaction is still open: its rows are locked and marked as claimed, uncommitted, so the
      // second claim, unable to see the mark, must skip them by their locks.
      return [held, await database.transaction((other) => claimDue(other, claim('second', 10)))];
    });
    expect(first).toHaveLength(2);
    expect(second).toHaveLength(user.otherAccounts.length - 2);
    const ids = [...first, ...second].map((d) => d.deliveryId);
    expect(new Set(ids).size).toBe(user.otherAccounts.length);
    // Everything due is claimed now: a third claim finds nothing, and claims nothing.
    expect(await database.transaction((manager) => claimDue(manager, claim('third', 10)))).toEqual([]);
    const rows = await database.dataSource.query<{ token: string; n: number | string }[]>(
      'SELECT claim_token AS token, COUNT(*) AS n FROM deliveries GROUP BY claim_token ORDER BY claim_token',
    );
    expect(rows.map((row) => [row.token, Number(row.n)])).toEqual([
      ['first', 2],
      ['second', user.otherAccounts.length - 2],
    ]);
  });
});
