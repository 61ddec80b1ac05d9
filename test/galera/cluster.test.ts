// The service's rules and answers on a three-node Galera cluster (scripts/galera-local.sh), three app instances, one
// per node: racing writes across nodes, a node cut off (gmcast.isolate), a node killed with kill -9 and back by IST.
// Every 5xx must be a 503 with Retry-After that committed nothing; no 500 at all. The figures are printed.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { DELINK_PATH, GET_LINKS_PATH } from '../../src/corecredit/routes';
import { createDatabase, type Database } from '../../src/db/database';
import { api } from '../helpers/api';
import {
  buildEnvelope,
  createTestContext,
  issuerToken,
  mintToken,
  operationsOf,
  randomDigits,
  randomIssuerId,
  type TestContext,
} from '../helpers/context';

const SCRIPT = `${__dirname}/../../scripts/galera-local.sh`;
const PORTS = [3307, 3308, 3309];
const DB = `cc_galera_${process.pid}`;
const QUERY_TIMEOUT_MS = 5_000;

const cluster = (...args: string[]) => execFileSync('bash', [SCRIPT, ...args], { stdio: 'pipe', timeout: 180_000 });
const url = (port: number) => `mysql://root@127.0.0.1:${port}/${DB}`;

interface Answer {
  status: number;
  ms: number;
  correlationId: string;
  retryAfter: string | undefined;
  node: number;
}

const figures: Record<string, unknown> = {};
let dbs: Database[] = [];
let apps: TestContext[] = [];

beforeAll(async () => {
  const admin = await createConnection({ host: '127.0.0.1', port: PORTS[0], user: 'root' });
  await admin.query(`CREATE DATABASE IF NOT EXISTS ${DB}`);
  await admin.end();
  const options = (port: number) =>
    ({ kind: 'mysql', flavor: 'mariadb', url: url(port), poolSize: 8, queryTimeoutMs: QUERY_TIMEOUT_MS }) as const;
  const first = createDatabase(options(PORTS[0]!));
  await first.initialize();
  await first.migrate();
  dbs = [first];
  for (const port of PORTS.slice(1)) {
    const db = createDatabase(options(port));
    await db.initialize();
    dbs.push(db);
  }
  apps = await Promise.all(dbs.map((database) => createTestContext({ database })));
}, 120_000);

afterAll(async () => {
  for (const db of dbs) await db.close();
  const admin = await createConnection({ host: '127.0.0.1', port: PORTS[0], user: 'root' }).catch(() => undefined);
  await admin?.query(`DROP DATABASE IF EXISTS ${DB}`);
  await admin?.end();
  console.log(`\nGalera figures:\n${JSON.stringify(figures, null, 2)}\n`);
});

async function register(node: number, issuerId: string, consumerId: string, account: string, correlationId?: string) {
  const started = Date.now();
  const id = correlationId ?? `reg-${randomUUID()}`;
  const res = await api(apps[node]!.app)
    .put(`/issuers/${issuerId}/accounts/${account}`)
    .timeout(30_000)
    .set('Authorization', `Bearer ${await issuerToken(issuerId)}`)
    .set('x-correlation-id', id)
    .send({ consumerId, state: 'ACTIVE' });
  return {
    status: res.status,
    ms: Date.now() - started,
    correlationId: id,
    retryAfter: res.headers['retry-after'],
    node,
  };
}

async function delink(node: number, issuerId: string, ssUserId: string, account: string) {
  const res = await api(apps[node]!.app)
    .post(DELINK_PATH)
    .timeout(30_000)
    .set('Authorization', `Bearer ${await mintToken(issuerId)}`)
    .send(buildEnvelope({ SSUserID: ssUserId, AccountNumber: account }));
  return res.status;
}

const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.ceil(values.length * 0.99) - 1] ?? 0;

/** The rules every answer must keep: no 500; each 503 has Retry-After and committed nothing. */
async function checkAnswers(name: string, issuerId: string, answers: Answer[]) {
  const committed = new Set(
    (await operationsOf(dbs[0]!.dataSource, issuerId))
      .filter((op) => op.status === 'SUCCESSFUL')
      .map((op) => op.correlationId),
  );
  const unavailable = answers.filter((a) => a.status === 503);
  const result = {
    requests: answers.length,
    '2xx': answers.filter((a) => a.status < 300).length,
    '500': answers.filter((a) => a.status === 500).length,
    '503': unavailable.length,
    '503 that committed': unavailable.filter((a) => committed.has(a.correlationId)).length,
    '503 without Retry-After': unavailable.filter((a) => a.retryAfter === undefined).length,
    'slowest ms': Math.max(...answers.map((a) => a.ms)),
    'p99 ms': p99(answers.map((a) => a.ms)),
  };
  figures[name] = result;
  expect(answers.filter((a) => a.status >= 500 && a.status !== 503)).toEqual([]);
  expect(result['503 that committed']).toBe(0);
  expect(result['503 without Retry-After']).toBe(0);
  for (const answer of answers.filter((a) => a.status < 300)) expect(committed.has(answer.correlationId)).toBe(true);
}

/** Registrations of new accounts, round-robin over the nodes, for `ms`. */
async function load(issuerId: string, ms: number, nodes = [0, 1, 2]): Promise<Answer[]> {
  const answers: Answer[] = [];
  const until = Date.now() + ms;
  await Promise.all(
    nodes.map(async (node) => {
      while (Date.now() < until) answers.push(await register(node, issuerId, `C${randomDigits(10)}`, randomDigits(16)));
    }),
  );
  return answers;
}

async function checksums(): Promise<string[]> {
  return Promise.all(
    PORTS.map(async (port) => {
      const c = await createConnection({ host: '127.0.0.1', port, user: 'root', database: DB });
      const [rows] = await c.query('CHECKSUM TABLE accounts, account_links, consumers, operations');
      await c.end();
      return JSON.stringify((rows as { Checksum: unknown }[]).map((row) => row.Checksum));
    }),
  );
}

describe('on a three-node Galera cluster', () => {
  it('when ten registrations of one account race on three nodes, then all succeed and one account exists', async () => {
    const issuerId = randomIssuerId();
    const consumerId = `C${randomDigits(10)}`;
    const account = randomDigits(16);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => register(i % 3, issuerId, consumerId, account)),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(204));
    await checkAnswers('ten registrations of one account', issuerId, answers);
  });

  it('when delinks of the same accounts race on three nodes, then each secondary is delinked once and the main never', async () => {
    const issuerId = randomIssuerId();
    const consumerId = `C${randomDigits(10)}`;
    const accounts = Array.from({ length: 6 }, () => randomDigits(16));
    for (const account of accounts) expect((await register(0, issuerId, consumerId, account)).status).toBe(204);
    const statuses = await Promise.all(
      accounts.flatMap((account) => [0, 1, 2].map((node) => delink(node, issuerId, consumerId, account))),
    );
    const perAccount = accounts.map((_, i) => statuses.slice(i * 3, i * 3 + 3).sort());
    expect(perAccount[0]).toEqual([409, 409, 409]);
    for (const answers of perAccount.slice(1))
      expect([
        [200, 404, 404],
        [200, 404, 503],
        [200, 503, 503],
      ]).toContainEqual(answers);
    figures['racing delinks: statuses'] = statuses.join(' ');
  });

  it('when reads wait for the cluster (wsrep_sync_wait=1), then they cost this much more', async () => {
    const plain = createDatabase({
      kind: 'mysql',
      flavor: 'mariadb',
      url: url(PORTS[1]!),
      poolSize: 2,
      readYourWrites: false,
    });
    await plain.initialize();
    // Each read and each transaction, on every connection of the pool, the first one and those it reuses.
    const syncWait = (db: Database) =>
      Promise.all([
        ...Array.from({ length: 3 }, () => db.read((m) => m.query('SELECT @@SESSION.wsrep_sync_wait AS value'))),
        db.transaction((m) => m.query('SELECT @@SESSION.wsrep_sync_wait AS value')),
      ]).then((answers) => answers.map(([row]: { value: number | string }[]) => Number(row!.value)));
    for (let round = 0; round < 2; round++) {
      expect(await syncWait(dbs[1]!)).toEqual([1, 1, 1, 1]);
      expect(await syncWait(plain)).toEqual([0, 0, 0, 0]);
    }
    const time = async (db: Database) => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < 200; i++) await db.read((m) => m.query('SELECT COUNT(*) FROM accounts'));
      return Number(process.hrtime.bigint() - started) / 1e6 / 200;
    };
    await time(plain);
    const without = await time(plain);
    const withSyncWait = await time(dbs[1]!);
    await plain.close();
    figures['read ms without / with wsrep_sync_wait'] = [without.toFixed(3), withSyncWait.toFixed(3)];
  });

  it('when a node is desynced (a donor), then its readiness says 503 until it is Synced again', async () => {
    const node3 = await createConnection({ host: '127.0.0.1', port: PORTS[2], user: 'root' });
    try {
      expect(await dbs[2]!.nodeState()).toEqual({ galera: true, ready: true, localState: 4 });
      await node3.query('SET GLOBAL wsrep_desync = ON');
      expect(await dbs[2]!.nodeState()).toEqual({ galera: true, ready: true, localState: 2 });
      expect((await api(apps[2]!.app).get('/health/ready')).status).toBe(503);
      expect((await api(apps[0]!.app).get('/health/ready')).status).toBe(200);
    } finally {
      await node3.query('SET GLOBAL wsrep_desync = OFF');
      await node3.end();
    }
    cluster('wait-synced', '3');
    expect((await api(apps[2]!.app).get('/health/ready')).status).toBe(200);
  });

  it('when a node is cut off (gmcast.isolate=1), then its readiness says 503, its answers are 503 or true, and it comes back', async () => {
    const issuerId = randomIssuerId();
    cluster('isolate', '3');
    const during = load(issuerId, 12_000);
    let notReadyAfterMs: number | undefined;
    const started = Date.now();
    while (Date.now() - started < 12_000) {
      const ready = await api(apps[2]!.app).get('/health/ready');
      if (ready.status === 503) {
        notReadyAfterMs = Date.now() - started;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const answers = await during;
    cluster('rejoin', '3');
    cluster('wait-synced', '3');
    expect(notReadyAfterMs).toBeDefined();
    expect((await api(apps[2]!.app).get('/health/ready')).status).toBe(200);
    figures['isolation: not ready after ms'] = notReadyAfterMs;
    await checkAnswers('node 3 isolated', issuerId, answers);
  });

  it('when a node is killed with kill -9, then writes stall for the eviction and no answer lies; it rejoins by IST', async () => {
    const issuerId = randomIssuerId();
    const during = load(issuerId, 15_000, [0, 1]);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    cluster('kill', '2');
    const answers = await during;
    const started = Date.now();
    cluster('start-node', '2');
    cluster('wait-synced', '2');
    figures['kill -9: rejoin ms'] = Date.now() - started;
    figures['kill -9: stall (slowest write) ms'] = Math.max(...answers.map((a) => a.ms));
    await checkAnswers('node 2 killed', issuerId, answers);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const sums = await checksums();
    expect(new Set(sums).size).toBe(1);
    const list = await api(apps[1]!.app)
      .post(GET_LINKS_PATH)
      .set('Authorization', `Bearer ${await mintToken(issuerId)}`)
      .send(buildEnvelope({ SSUserID: 'nobody' }));
    expect([404, 503]).toContain(list.status);
  });
});
