// The load benchmark: `npm run bench` (the full run, report in bench/results/) and `npm run bench:smoke` (a few
// seconds on tiny data, so that the harness cannot rot; writes nothing into bench/results/).
//
// It builds the service, creates a database of its own per data size on the MariaDB server, seeds them
// (bench/seed.mjs), starts the service as production does (compiled JavaScript, NODE_ENV=production, LOG_LEVEL=info,
// a generated JWT_SECRET) and the two baselines (bench/baselines.mjs) as processes of their own, drives one at a time
// with autocannon, in rounds taken in turn, and writes the report (bench/report.mjs). Every process it starts is
// stopped and the databases dropped at the end, on failure and on Ctrl-C too. Load goes to 127.0.0.1 only and every
// run is bounded in time.
//
// The export scenario (--scenarios export) seeds an issuer's audit trail of --operations rows into a database of its
// own, EXPLAINs each single-filter search there, and streams the whole trail from a service of its own as NDJSON and
// CSV, measuring rows/s and the service's RSS growth over idle. Run alone, it merges into the report already in --out.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpServer, get as httpGet } from 'node:http';
import { createServer, connect } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { SignJWT } from 'jose';
import { summarizeProfile, writeReport } from './report.mjs';
import {
  accountOf,
  compareShapes,
  createDatabase,
  databaseUrl,
  dropDatabase,
  explainSearches,
  exportBatchSize,
  ISSUER_ID,
  LINKS_PER_USER,
  migrate,
  newAccountOf,
  newConsumerOf,
  OPERATION_SPAN_DAYS,
  operationFilterValues,
  relinkAll,
  seedOperations,
  seedUsers,
  ssUserIdOf,
  tableSizes,
} from './seed.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_SERVER = 'mariadb://root@127.0.0.1:3306';
/** Scenarios driven by autocannon, against the service and its baselines. */
const LOAD_SCENARIOS = ['delink', 'invalid', 'getlinks', 'register'];
/** The audit export: every operation of an issuer streamed as NDJSON and as CSV, on a database of its own. */
const EXPORT_SCENARIO = 'export';
const SCENARIOS = [...LOAD_SCENARIOS, EXPORT_SCENARIO];
/** Operations seeded for the export scenario (--operations). */
const OPERATIONS = 1_000_000;
const TARGETS = ['service', 'raw', 'express'];
const RUNTIMES = ['24', 'current', 'both'];
/** Users seeded through registerAccount itself before the bulk insert takes over (5 links each). */
const FUNCTION_USERS = 1_000;
/** No single load may outlive its duration by more than this, whatever the server does. */
const LOAD_GRACE_S = 30;
/** How long the services are left idle at the end before their memory is read. */
const IDLE_S = 30;
/** The whole run, seeding and all, is cut off past this. */
const RUN_DEADLINE_MS = 90 * 60_000;

// ---------------------------------------------------------------------------------------------------------------
// Options

function options() {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      links: { type: 'string' },
      connections: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      scenarios: { type: 'string' },
      targets: { type: 'string' },
      'function-users': { type: 'string' },
      operations: { type: 'string' },
      'no-profile': { type: 'boolean', default: false },
      'skip-build': { type: 'boolean', default: false },
      out: { type: 'string' },
      render: { type: 'string' },
      webhook: { type: 'boolean', default: false },
      runtime: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(`usage: node bench/run.mjs [--smoke] [--links 100000,1000000] [--connections 16,64] [--duration 10] [--warmup 3] [--rounds 5]
                         [--scenarios ${LOAD_SCENARIOS.join(',')}] [--targets ${TARGETS.join(',')}]
                         [--function-users ${FUNCTION_USERS}] [--no-profile] [--skip-build] [--out bench/results]
                         [--scenarios ${EXPORT_SCENARIO} --operations ${OPERATIONS}]    (the audit export, merged into --out's results.json)
                         [--webhook]    (also: DeLinkAccount without and with a webhook subscription, and the delivery backlog)
                         [--runtime 24|current|both]    (the Node the service and baselines run on: Node 24 LTS from
                                        scripts/node24.sh, the Node running this script, or both side by side;
                                        default 24, current for --smoke)
       node bench/run.mjs --render bench/results/results.json    (the report and chart again, from a run's numbers)
environment: BENCH_DATABASE_URL (a MariaDB/MySQL server, default ${DEFAULT_SERVER}), BENCH_LINKS`);
    process.exit(0);
  }
  const list = (raw, fallback) =>
    (raw ?? fallback)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  const numbers = (raw, fallback, name) =>
    list(raw, fallback).map((s) => {
      const n = Number(s);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: "${s}" is not a positive number`);
      return n;
    });
  const smoke = values.smoke;
  const o = {
    smoke,
    links: numbers(values.links ?? process.env.BENCH_LINKS, smoke ? '200' : '100000,1000000', 'links').sort(
      (a, b) => a - b,
    ),
    connections: numbers(values.connections, smoke ? '4' : '16,64', 'connections'),
    duration: numbers(values.duration, smoke ? '0.5' : '10', 'duration')[0],
    warmup: numbers(values.warmup, smoke ? '0.25' : '3', 'warmup')[0],
    rounds: numbers(values.rounds, smoke ? '1' : '5', 'rounds')[0],
    // The export seeds its million operations in minutes: a full run leaves it out unless named; the smoke run has it.
    scenarios: list(values.scenarios, (smoke ? SCENARIOS : LOAD_SCENARIOS).join(',')),
    targets: list(values.targets, TARGETS.join(',')),
    functionUsers: numbers(values['function-users'], String(FUNCTION_USERS), 'function-users')[0],
    operations: numbers(values.operations, smoke ? '2000' : String(OPERATIONS), 'operations')[0],
    profile: !smoke && !values['no-profile'],
    build: !values['skip-build'],
    // The smoke run exercises the report too, into a temporary folder: only a full run writes bench/results/.
    out: smoke ? undefined : resolve(values.out ?? join(ROOT, 'bench', 'results')),
    outGiven: values.out !== undefined,
    // Short runs need finer samples than autocannon's one per second, which also sets when a run can end.
    sampleInt: smoke ? 250 : 1000,
    render: values.render === undefined ? undefined : resolve(values.render),
    webhook: values.webhook,
    runtime: values.runtime ?? (smoke ? 'current' : '24'),
  };
  if (!RUNTIMES.includes(o.runtime)) throw new Error(`--runtime: "${o.runtime}" is not one of ${RUNTIMES.join(', ')}`);
  if (!Number.isInteger(o.rounds)) throw new Error('--rounds must be a whole number');
  if (!Number.isInteger(o.operations) || o.operations < 100)
    throw new Error('--operations must be a whole number, at least 100');
  for (const s of o.scenarios)
    if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario "${s}" (${SCENARIOS.join(', ')})`);
  for (const t of o.targets) if (!TARGETS.includes(t)) throw new Error(`unknown target "${t}" (${TARGETS.join(', ')})`);
  if (!o.targets.includes('service')) throw new Error('--targets must include service');
  o.loadScenarios = o.scenarios.filter((s) => s !== EXPORT_SCENARIO);
  o.exportScenario = o.scenarios.includes(EXPORT_SCENARIO);
  for (const links of o.links)
    if (links % LINKS_PER_USER !== 0 || links < 10 * LINKS_PER_USER)
      throw new Error(`--links ${links}: a multiple of ${LINKS_PER_USER}, at least ${10 * LINKS_PER_USER}`);
  return o;
}

/** The MariaDB server, or why the run cannot use one. The benchmark talks to this machine only. */
function databaseServer(smoke) {
  const raw =
    process.env.BENCH_DATABASE_URL ||
    (smoke ? process.env.TEST_MARIADB_URL : undefined) ||
    (smoke ? undefined : DEFAULT_SERVER);
  if (raw === undefined) return undefined;
  const url = new URL(raw.replace(/^mariadb:/, 'mysql:'));
  if (!/^mysql:$/.test(url.protocol)) throw new Error('BENCH_DATABASE_URL must be mariadb://… or mysql://…');
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
    throw new Error(`BENCH_DATABASE_URL must be on this machine (127.0.0.1), not ${url.hostname}`);
  if (url.pathname.length > 1)
    throw new Error(
      'BENCH_DATABASE_URL names the server only: the bench creates a database of its own there and drops it',
    );
  return raw;
}

/**
 * The Node binaries the service and the baselines run on: Node 24 LTS as scripts/node24.sh provides it (fetched from
 * the npm registry once, then cached), the Node running this script, or both. The load generator runs in this script.
 */
function runtimes(choice) {
  const node24 = () => execFileSync('bash', [join(ROOT, 'scripts', 'node24.sh')], { encoding: 'utf8' }).trim();
  const chosen = [];
  if (choice === '24' || choice === 'both') chosen.push({ name: 'node24', execPath: node24() });
  if (choice === 'current' || choice === 'both') chosen.push({ name: 'current', execPath: process.execPath });
  for (const rt of chosen)
    rt.version = execFileSync(rt.execPath, ['-p', 'process.version'], { encoding: 'utf8' }).trim();
  return chosen;
}

// ---------------------------------------------------------------------------------------------------------------
// Processes: everything started is tracked here and stopped at the end, whatever happens.

const children = new Set();
/** Every process started, running or not, for the logs shown when the run fails. */
const everStarted = [];

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function startProcess(name, args, env, runDir, execPath = process.execPath) {
  const logFile = join(runDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  // Logs go to a file, not a pipe: pino writes synchronously, and a pipe the harness reads late would slow the service.
  const child = spawn(execPath, args, {
    cwd: runDir,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const proc = { name, child, logFile, exited: false, exitCode: null };
  proc.done = new Promise((resolveExit) =>
    child.once('exit', (code, signal) => {
      proc.exited = true;
      proc.exitCode = code ?? signal;
      children.delete(proc);
      resolveExit();
    }),
  );
  children.add(proc);
  everStarted.push(proc);
  return proc;
}

async function stopProcess(proc, graceMs = 20_000) {
  if (proc.exited) return;
  proc.child.kill('SIGTERM');
  const stopped = await Promise.race([proc.done.then(() => true), sleep(graceMs).then(() => false)]);
  if (!stopped) {
    proc.child.kill('SIGKILL');
    await proc.done;
  }
}

async function stopAll() {
  await Promise.all([...children].map((proc) => stopProcess(proc, 10_000)));
}

function logTail(proc, lines = 15) {
  try {
    return readFileSync(proc.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitForPort(proc, port, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exited) throw new Error(`${proc.name} exited (${proc.exitCode}) before listening:\n${logTail(proc)}`);
    const open = await new Promise((resolveOpen) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolveOpen(true);
      });
      socket.once('error', () => resolveOpen(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error(`${proc.name} did not listen on ${port} within ${timeoutMs} ms:\n${logTail(proc)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Measuring the processes: peak RSS by polling, CPU from /proc, to tell our load from other people's.

function readStatus(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return { rssKb: NaN, hwmKb: NaN };
  }
}

function processTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks
  } catch {
    return NaN;
  }
}

function machineTicks() {
  try {
    const [, ...numbers] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const t = numbers.map(Number);
    const idle = t[3] + t[4];
    return { busy: t.reduce((a, b) => a + b, 0) - idle, total: t.reduce((a, b) => a + b, 0) };
  } catch {
    return undefined;
  }
}

/** The database server's process, when it runs on this machine and /proc shows it. */
function databasePid() {
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
        if (comm === 'mariadbd' || comm === 'mysqld') return Number(entry);
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

/** CPU use while `work` runs, in % of one core: the whole machine, the target, the database, this harness. */
async function withCpu(targetPid, dbPid, work) {
  const cores = cpus().length;
  const before = {
    machine: machineTicks(),
    target: processTicks(targetPid),
    db: dbPid === undefined ? NaN : processTicks(dbPid),
    self: process.cpuUsage(),
    at: Date.now(),
  };
  const peak = { rssKb: 0 };
  const poll = setInterval(() => {
    const { rssKb } = readStatus(targetPid);
    if (rssKb > peak.rssKb) peak.rssKb = rssKb;
  }, 100);
  try {
    const result = await work();
    const seconds = (Date.now() - before.at) / 1000;
    const machine = machineTicks();
    const pct = (ticks) => Math.round((ticks / seconds) * 10) / 10; // 100 ticks per second is 100 % of one core
    const self = process.cpuUsage(before.self);
    const cpu = {
      cores,
      machinePct:
        machine && before.machine
          ? Math.round(((machine.busy - before.machine.busy) / (machine.total - before.machine.total)) * cores * 1000) /
            10
          : null,
      targetPct: pct(processTicks(targetPid) - before.target),
      databasePct: dbPid === undefined ? null : pct(processTicks(dbPid) - before.db),
      harnessPct: Math.round(((self.user + self.system) / 1e6 / seconds) * 1000) / 10,
    };
    cpu.othersPct =
      cpu.machinePct === null
        ? null
        : Math.round((cpu.machinePct - cpu.targetPct - (cpu.databasePct ?? 0) - cpu.harnessPct) * 10) / 10;
    const { rssKb, hwmKb } = readStatus(targetPid);
    return {
      result,
      cpu,
      peakRssMb: Math.round(Math.max(peak.rssKb, rssKb) / 102.4) / 10,
      hwmMb: Math.round(hwmKb / 102.4) / 10,
    };
  } finally {
    clearInterval(poll);
  }
}

/** The service's V8 heap, in use and reserved, from its own /metrics (read after a run, never during one). */
async function serviceHeap(port) {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const text = await response.text();
    const value = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
    const heap = {
      usedMb: Math.round(value('nodejs_heap_size_used_bytes')),
      totalMb: Math.round(value('nodejs_heap_size_total_bytes')),
    };
    return Number.isFinite(heap.usedMb) && Number.isFinite(heap.totalMb) ? heap : null;
  } catch {
    return null;
  }
}

/** How busy the machine is while none of our load runs: other people's work (and our database's leftovers). */
async function quietCpu(ms = 300) {
  const before = machineTicks();
  await sleep(ms);
  const after = machineTicks();
  if (!before || !after) return null;
  return Math.round(((after.busy - before.busy) / (after.total - before.total)) * cpus().length * 1000) / 10;
}

// ---------------------------------------------------------------------------------------------------------------
// Scenarios: what each request carries and which answers are expected of each target.

const DELINK_PATH = '/api/CoreCredit/UserManagement/DeLinkAccount';
const GET_LINKS_PATH = '/api/CoreCredit/UserManagement/GetLinkAccounts';
const envelope = (fields) =>
  JSON.stringify({
    Source: 'Web',
    IPAddress: '10.120.0.1',
    DateFormat: null,
    CurrencyCode: null,
    CurrencySymbolType: null,
    Language: null,
    ExternalIP: '10.120.0.0',
    SessionID: null,
    APIVersion: '2.0',
    CallerID: null,
    CalledID: null,
    RequestTime: null,
    ...fields,
  });

/** Invalid in fields the raw baseline checks too, and in more that only the service's full validation sees. */
const INVALID_BODIES = [
  envelope({ SSUserID: ssUserIdOf(1), AccountNumber: 8000000000000227 }),
  envelope({ Source: undefined, ExternalIP: undefined, SSUserID: ssUserIdOf(2), AccountNumber: ' 123' }),
  envelope({
    IPAddress: '999.1.1.1',
    Language: 'fr',
    RequestTime: '02/30/2026 10:00:00',
    SSUserID: ssUserIdOf(3),
    AccountNumber: '12a',
  }),
  envelope({ SSUserID: 'not valid!', CallerID: 'abc', CurrencyCode: '999', AccountNumber: accountOf(4, 1) }),
];

const SUCCESS_CODE = '"ErrorCode":"ERR01093"';
const expect = (status, code) => ({ status, code });

/** A walk through 0..n-1 that visits every index once per n steps, in an order unlike the rows' own. */
function permutation(n) {
  const step = 1_000_003; // prime, larger than any n here, hence coprime with it
  return (k) => ((((k % n) * (step % n)) % n) + n) % n;
}

/** Shared across runs: which accounts and numbers the next requests use. */
function scenarioState(users) {
  return {
    users,
    delinkCursor: 0,
    otherCursor: 0,
    registerSeq: 0,
    consumerSeq: 0,
    userWalk: permutation(users),
    secondaryWalk: permutation(users * (LINKS_PER_USER - 1)),
  };
}

/**
 * The requests of one scenario against one target: autocannon's `requests` entry (setupRequest picks each
 * request's body and what it expects; onResponse counts what came back) and the counters.
 */
function scenarioLoad(scenario, target, state, tokens) {
  const counts = { outcomes: {}, unexpected: 0, unexpectedSamples: [], poolExhausted: 0 };
  const runStart = state.delinkCursor;
  const bare = target === 'express';
  const next = {
    method: 'POST',
    path: DELINK_PATH,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.channel}` },
  };
  let pick;
  switch (scenario) {
    case 'delink':
      // Most succeed (each on an account no other request of the run touches), 1 in 10 names the main account,
      // 1 in 10 an account linked to another user.
      pick = (k) => {
        const kind = k % 10;
        if (kind === 0) {
          const user = state.userWalk(state.otherCursor++);
          return {
            body: envelope({ SSUserID: ssUserIdOf(user), AccountNumber: accountOf(user, 0) }),
            expect: expect(409, 'ERR01140'),
          };
        }
        if (kind === 5) {
          const user = state.userWalk(state.otherCursor++);
          return {
            body: envelope({ SSUserID: ssUserIdOf(user), AccountNumber: accountOf((user + 1) % state.users, 1) }),
            expect: expect(404, 'ERR01131'),
          };
        }
        // Every run starts with all links linked; past one account each, the walk comes back to delinked ones
        // (tiny data sets only), which are then rightly refused, and counted apart.
        const exhausted = state.delinkCursor - runStart >= state.users * (LINKS_PER_USER - 1);
        if (exhausted) counts.poolExhausted += 1;
        const secondary = state.secondaryWalk(state.delinkCursor++);
        const user = Math.floor(secondary / (LINKS_PER_USER - 1));
        const slot = 1 + (secondary % (LINKS_PER_USER - 1));
        return {
          body: envelope({ SSUserID: ssUserIdOf(user), AccountNumber: accountOf(user, slot) }),
          expect: exhausted ? expect(404, 'ERR01132') : expect(200, 'ERR01093'),
        };
      };
      break;
    case 'invalid':
      pick = (k) => ({ body: INVALID_BODIES[k % INVALID_BODIES.length], expect: expect(400, 'ERR01100') });
      break;
    case 'getlinks':
      next.path = GET_LINKS_PATH;
      pick = () => ({
        body: envelope({ SSUserID: ssUserIdOf(state.userWalk(state.otherCursor++)), DateFormat: '1' }),
        expect: expect(200, 'ERR01093'),
      });
      break;
    case 'register':
      next.method = 'PUT';
      next.headers = { ...next.headers, authorization: `Bearer ${tokens.issuer}` };
      // 7 in 10 add an account to a seeded user, 2 in 10 register a new consumer, 1 in 10 repeats a registration.
      pick = (k) => {
        const kind = k % 10;
        let account;
        let consumer;
        if (kind < 7) {
          consumer = ssUserIdOf(state.userWalk(state.otherCursor++));
          account = newAccountOf(state.registerSeq++);
        } else if (kind < 9) {
          consumer = newConsumerOf(state.consumerSeq++);
          account = newAccountOf(state.registerSeq++);
        } else {
          const user = state.userWalk(state.otherCursor++);
          consumer = ssUserIdOf(user);
          account = accountOf(user, 1 + (k % (LINKS_PER_USER - 1)));
        }
        return {
          path: `/issuers/${ISSUER_ID}/accounts/${account}`,
          body: JSON.stringify({ consumerId: consumer, accountProductId: 'GOLD', state: 'ACTIVE' }),
          expect: expect(204, null),
        };
      };
      break;
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
  let k = 0;
  const request = {
    setupRequest: (req, context) => {
      const chosen = pick(k++);
      context.expect = bare ? expect(200, 'ERR01093') : chosen.expect;
      // autocannon takes the path from the URL unless each request names its own.
      return { ...req, method: next.method, path: chosen.path ?? next.path, body: chosen.body };
    },
    onResponse: (status, body, context) => {
      const code = /"(?:ErrorCode|errorCode)":"(ERR\d+)"/.exec(body)?.[1] ?? '';
      const key = `${status}${code === '' ? '' : ` ${code}`}`;
      counts.outcomes[key] = (counts.outcomes[key] ?? 0) + 1;
      const wanted = context.expect;
      const ok =
        wanted !== undefined &&
        status === wanted.status &&
        (wanted.code === null || (wanted.code === 'ERR01093' ? body.includes(SUCCESS_CODE) : code === wanted.code));
      if (!ok) {
        counts.unexpected += 1;
        if (counts.unexpectedSamples.length < 5)
          counts.unexpectedSamples.push({ status, expected: wanted, body: body.slice(0, 300) });
      }
    },
  };
  return { ...next, requests: [request], counts };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[index] * 100) / 100;
}

/** One bounded autocannon run: `duration` seconds, then it stops by itself (and is stopped if it does not). */
async function load({ port, scenario, target, connections, duration, sampleInt, state, tokens }) {
  const spec = scenarioLoad(scenario, target, state, tokens);
  const latencies = [];
  const instance = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration,
    sampleInt,
    timeout: 10,
    pipelining: 1,
    method: spec.method,
    path: spec.path,
    headers: spec.headers,
    requests: spec.requests,
  });
  // autocannon's own latency histogram counts whole milliseconds; the percentiles here keep the fractions.
  instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  const watchdog = setTimeout(() => instance.stop(), (duration + LOAD_GRACE_S) * 1000);
  let result;
  try {
    result = await instance;
  } finally {
    clearTimeout(watchdog);
  }
  if (scenario === 'delink' || scenario === 'register') {
    // autocannon stops by closing its connections, but the requests the server had already taken still commit.
    // The next step may re-link everything (see relinkAll), so those stragglers are let finish first.
    const slowest = latencies.length === 0 ? 0 : Math.max(...latencies.slice(-1000));
    await sleep(Math.min(3_000, Math.max(200, 2 * slowest)));
  }
  return { latencies, seconds: result.duration, counts: spec.counts, result };
}

const round1 = (n) => Math.round(n * 10) / 10;
const weighted = (parts, pick) => {
  const values = parts.filter((p) => pick(p) !== null && pick(p) !== undefined);
  const seconds = values.reduce((a, p) => a + p.load.seconds, 0);
  return seconds === 0 ? null : round1(values.reduce((a, p) => a + pick(p) * p.load.seconds, 0) / seconds);
};

/** One target's numbers for one scenario and concurrency, from its rounds (see --rounds). */
function summarize(parts) {
  const latencies = parts.flatMap((p) => p.load.latencies).sort((a, b) => a - b);
  const seconds = parts.reduce((a, p) => a + p.load.seconds, 0);
  const sum = (pick) => parts.reduce((a, p) => a + pick(p), 0);
  const outcomes = {};
  for (const p of parts)
    for (const [k, v] of Object.entries(p.load.counts.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
  const rps = round1(latencies.length / seconds);
  const targetPct = weighted(parts, (p) => p.cpu.targetPct);
  const quiet = parts
    .map((p) => p.quietPct)
    .filter((v) => v !== null)
    .sort((a, b) => a - b);
  return {
    requests: latencies.length,
    seconds: Math.round(seconds * 100) / 100,
    rounds: parts.length,
    rps,
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: percentile(latencies, 100),
      mean:
        latencies.length === 0
          ? null
          : Math.round((latencies.reduce((a, b) => a + b, 0) / latencies.length) * 100) / 100,
    },
    errors: sum((p) => p.load.counts.unexpected + p.load.result.errors),
    unexpected: sum((p) => p.load.counts.unexpected),
    socketErrors: sum((p) => p.load.result.errors),
    timeouts: sum((p) => p.load.result.timeouts),
    outcomes,
    poolExhausted: sum((p) => p.load.counts.poolExhausted),
    unexpectedSamples: parts.flatMap((p) => p.load.counts.unexpectedSamples).slice(0, 5),
    peakRssMb: Math.max(...parts.map((p) => p.peakRssMb)),
    heap: parts.some((p) => p.heap)
      ? {
          usedMb: Math.max(...parts.filter((p) => p.heap).map((p) => p.heap.usedMb)),
          totalMb: Math.max(...parts.filter((p) => p.heap).map((p) => p.heap.totalMb)),
        }
      : null,
    hwmMb: Math.max(...parts.map((p) => p.hwmMb)),
    cpu: {
      cores: cpus().length,
      machinePct: weighted(parts, (p) => p.cpu.machinePct),
      targetPct,
      databasePct: weighted(parts, (p) => p.cpu.databasePct),
      harnessPct: weighted(parts, (p) => p.cpu.harnessPct),
      othersPct: weighted(parts, (p) => p.cpu.othersPct),
      quietMachinePct: quiet.length === 0 ? null : quiet[Math.floor(quiet.length / 2)],
      // CPU time per answer of the process under test: unlike req/s, barely moved by what else the machine runs.
      targetUsPerRequest: rps > 0 && targetPct !== null ? Math.round((targetPct * 10_000) / rps) : null,
    },
    autocannon: parts.map((p) => ({
      requestsAverage: p.load.result.requests.average,
      latencyP50: p.load.result.latency.p50,
      latencyP99: p.load.result.latency.p99,
      non2xx: p.load.result.non2xx,
    })),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The stack under test

async function tokens(secret) {
  const key = new TextEncoder().encode(secret);
  const sign = (scope, sub) =>
    new SignJWT({ issuerId: ISSUER_ID, scope })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setIssuedAt()
      .setExpirationTime('3h')
      .sign(key);
  return {
    channel: await sign('selfservice:delink selfservice:read', 'bench-portal'),
    issuer: await sign('issuer:write issuer:read', 'bench-core-banking'),
    webhooks: await sign('issuer:webhooks issuer:read', 'bench-core-banking'),
    // The audit export asks for nothing more than reading.
    auditor: await sign('issuer:read', 'bench-auditor'),
  };
}

/**
 * The service's settings besides the database, the secret and the port. All the load comes from one address and one
 * token, so the rate limits are raised to the highest value the service accepts: the limiters still count every
 * request, as in production, but never refuse one.
 */
const SERVICE_ENV = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'info',
  RATE_LIMIT_PER_CLIENT: '1000000',
  RATE_LIMIT_PER_CALLER: '1000000',
  // The --webhook phase subscribes a receiver on 127.0.0.1, which production refuses; without a subscription this
  // changes nothing. The first retry comes soon, so that a slow attempt does not hide the backlog for minutes.
  WEBHOOK_ALLOW_INSECURE: 'true',
  WEBHOOK_RETRY_SCHEDULE_S: '1,5,30',
};

/** A target that stopped in the middle of the runs makes every number after it meaningless: the run fails. */
function assertRunning(participants) {
  const gone = participants.find((p) => p.proc.exited);
  if (gone !== undefined)
    throw new Error(
      `${gone.key} exited (${gone.proc.exitCode}) while the benchmark ran; its log ends:\n${logTail(gone.proc, 5)}`,
    );
}

/** Starts one target: the service or a baseline, on a free port, against `database` (none for bare Express). */
async function startTarget({ target, server, database, secret, runDir, profileDir, name, runtime }) {
  const port = await freePort();
  let proc;
  if (target === 'service') {
    const args = [
      ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
      join(ROOT, 'dist', 'src', 'server.js'),
    ];
    // A clean environment: nothing from the caller's shell or a .env (the working directory is the run's own) applies.
    proc = startProcess(
      name,
      args,
      { ...SERVICE_ENV, JWT_SECRET: secret, DATABASE_URL: databaseUrl(server, database), PORT: String(port) },
      runDir,
      runtime.execPath,
    );
  } else {
    proc = startProcess(
      name,
      [join(ROOT, 'bench', 'baselines.mjs'), target],
      {
        BASELINE_PORT: String(port),
        ...(database !== undefined ? { BASELINE_DATABASE_URL: databaseUrl(server, database, 'mysql') } : {}),
        BASELINE_POOL_SIZE: '10',
        BASELINE_ISSUER_ID: ISSUER_ID,
      },
      runDir,
      runtime.execPath,
    );
  }
  await waitForPort(proc, port);
  return { proc, port, pid: proc.child.pid };
}

async function post(port, path, token, body, method = 'POST') {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: await response.json() };
}

/**
 * The seeded data seen through the API: sampled users list their five accounts, main account first, all ACTIVE,
 * and users new in this phase have their five REGISTER operations. On the first phase, a bulk-inserted user must
 * answer exactly like a user registered through registerAccount.
 */
async function verifyThroughApi(port, tok, { fromUsers, toUsers, functionUsers, firstPhase }) {
  const sample = new Set([
    fromUsers,
    toUsers - 1,
    Math.floor((fromUsers + toUsers) / 2),
    fromUsers + ((toUsers - fromUsers) >> 2),
  ]);
  if (firstPhase)
    for (const u of [0, functionUsers - 1, functionUsers, toUsers - 1]) if (u >= 0 && u < toUsers) sample.add(u);
  const shapes = new Map();
  for (const user of sample) {
    const { status, body } = await post(port, GET_LINKS_PATH, tok.channel, {
      Source: 'Web',
      ExternalIP: '10.120.0.0',
      APIVersion: '2.0',
      SSUserID: ssUserIdOf(user),
    });
    const accounts = body.ResponseData?.Accounts ?? [];
    const expected = Array.from({ length: LINKS_PER_USER }, (_, slot) => accountOf(user, slot));
    if (
      status !== 200 ||
      accounts.length !== LINKS_PER_USER ||
      accounts.some((a, i) => a.AccountNumber !== expected[i] || a.AccountStatus !== 'ACTIVE') ||
      !accounts[0].IsMainAccount
    ) {
      throw new Error(`seeded user ${user} answers GetLinkAccounts with ${status} ${JSON.stringify(body)}`);
    }
    shapes.set(
      user,
      JSON.stringify({
        ...body,
        ResponseData: {
          ...body.ResponseData,
          SSUserID: '<user>',
          Accounts: accounts.map((a) => ({ ...a, AccountNumber: '<n>', LinkedOn: '<t>' })),
        },
      }),
    );
  }
  if (new Set(shapes.values()).size !== 1)
    throw new Error(`seeded users answer in different shapes: ${[...shapes.values()].join(' / ')}`);
  const newUser = toUsers - 1;
  const { status, body } = await post(
    port,
    `/issuers/${ISSUER_ID}/consumers/${ssUserIdOf(newUser)}/operations?count=10`,
    tok.issuer,
    undefined,
    'GET',
  );
  if (
    status !== 200 ||
    body.total !== LINKS_PER_USER ||
    body.operations.some(
      (op) => op.operation !== 'REGISTER' || op.status !== 'SUCCESSFUL' || op.requestorType !== 'ISSUER',
    )
  ) {
    throw new Error(`seeded user ${newUser} lists operations ${status} ${JSON.stringify(body)}`);
  }
  return { usersChecked: sample.size, operationsChecked: body.total };
}

// ---------------------------------------------------------------------------------------------------------------
// The webhook phase (--webhook): what the outbox and delivery cost DeLinkAccount, and how far delivery falls behind

/** A receiver on 127.0.0.1 that answers 200 at once and counts what it got, by webhook-id. */
async function startWebhookReceiver() {
  const ids = new Set();
  let requests = 0;
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests += 1;
      ids.add(req.headers['webhook-id']);
      res.writeHead(200).end();
    });
  });
  await new Promise((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  return {
    url: `http://127.0.0.1:${server.address().port}/hooks`,
    counts: () => ({ requests, events: ids.size }),
    close: () =>
      new Promise((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}

/** The service's delivery backlog, from its own /metrics. */
async function deliveryBacklog(port) {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const text = await response.text();
  const value = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    waiting: value('webhook_deliveries_waiting'),
    oldestAgeS: round1(value('webhook_oldest_undelivered_event_age_seconds')),
  };
}

/**
 * DeLinkAccount on the smallest data set at the first concurrency, in turn without and with a subscription to its
 * events (rounds alternate, as the main runs do), then the backlog the loaded runs left and how long it took to drain.
 */
async function webhookPhase(service, { server, o, tok, say }) {
  const connections = o.connections[0];
  const receiver = await startWebhookReceiver();
  const path = `/issuers/${ISSUER_ID}/webhooks`;
  const parts = { without: [], with: [] };
  const backlogs = [];
  let webhookId;
  try {
    for (let round = 0; round < o.rounds; round += 1) {
      for (const mode of round % 2 === 0 ? ['without', 'with'] : ['with', 'without']) {
        assertRunning([service]);
        await relinkAll(server, service.db.name);
        if (mode === 'with') {
          const created = await post(service.port, path, tok.webhooks, {
            url: receiver.url,
            eventTypes: ['account.delinked', 'account.delink_refused'],
          });
          if (created.status !== 201)
            throw new Error(`subscribing the receiver: ${created.status} ${JSON.stringify(created.body)}`);
          webhookId = created.body.webhookId;
        }
        const measured = await withCpu(service.pid, undefined, () =>
          load({
            port: service.port,
            scenario: 'delink',
            target: 'service',
            connections,
            duration: o.duration / o.rounds,
            sampleInt: o.sampleInt,
            state: service.db.state,
            tokens: tok,
          }),
        );
        parts[mode].push({
          load: measured.result,
          cpu: measured.cpu,
          peakRssMb: measured.peakRssMb,
          hwmMb: measured.hwmMb,
          quietPct: null,
          heap: null,
        });
        if (mode === 'with') {
          // Read as the load ends (load() lets the stragglers commit first), then until every delivery is made.
          const atEnd = await deliveryBacklog(service.port);
          const drainStart = Date.now();
          let left = atEnd;
          while (left.waiting > 0 && Date.now() - drainStart < 120_000) {
            await sleep(100);
            left = await deliveryBacklog(service.port);
          }
          backlogs.push({ ...atEnd, drainedInS: left.waiting === 0 ? round1((Date.now() - drainStart) / 1000) : null });
          const removed = await fetch(`http://127.0.0.1:${service.port}${path}/${webhookId}`, {
            method: 'DELETE',
            headers: { authorization: `Bearer ${tok.webhooks}` },
            signal: AbortSignal.timeout(10_000),
          });
          if (removed.status !== 204) throw new Error(`removing the subscription: ${removed.status}`);
        }
      }
    }
  } finally {
    await receiver.close();
  }
  const without = summarize(parts.without);
  const withWebhook = summarize(parts.with);
  const received = receiver.counts();
  const result = {
    links: service.db.links,
    connections,
    without: {
      rps: without.rps,
      latencyMs: without.latencyMs,
      errors: without.errors,
      usPerRequest: without.cpu.targetUsPerRequest,
    },
    with: {
      rps: withWebhook.rps,
      latencyMs: withWebhook.latencyMs,
      errors: withWebhook.errors,
      usPerRequest: withWebhook.cpu.targetUsPerRequest,
    },
    backlogAtEnd: backlogs,
    received,
  };
  say(
    `webhook  delink c${connections}: ${without.rps} req/s without a subscription, ${withWebhook.rps} with one` +
      ` (p99 ${without.latencyMs.p99} → ${withWebhook.latencyMs.p99} ms, ${without.cpu.targetUsPerRequest} → ${withWebhook.cpu.targetUsPerRequest} µs/req);` +
      ` backlog at the end ${backlogs.map((b) => `${b.waiting} waiting, oldest ${b.oldestAgeS} s, drained in ${b.drainedInS} s`).join('; ')};` +
      ` receiver got ${received.requests} requests of ${received.events} events`,
  );
  if (without.errors > 0 || withWebhook.errors > 0)
    throw new Error(
      `webhook phase: unexpected answers ${JSON.stringify([without.unexpectedSamples, withWebhook.unexpectedSamples])}`,
    );
  if (backlogs.some((b) => b.drainedInS === null))
    throw new Error('webhook phase: deliveries still waiting after 120 s');
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// The export scenario: the audit trail of one issuer streamed whole, its speed and what it costs the service's memory

const SEARCH_PATH = `/issuers/${ISSUER_ID}/operations`;
const EXPORT_FORMATS = [
  { format: 'ndjson', accept: 'application/x-ndjson', headerLines: 0 },
  { format: 'csv', accept: 'text/csv', headerLines: 1 },
];
/** RSS sampling during an export, in ms. */
const EXPORT_POLL_MS = 50;
/** Reads of the service's heap spaces during an export (a /metrics request each), in ms. */
const EXPORT_HEAP_POLL_MS = 500;
/** An export that has not ended by then has failed, whatever the server does. */
const EXPORT_TIMEOUT_MS = 15 * 60_000;
/** How long the export's service is left alone after start-up before its idle RSS is read. */
const EXPORT_IDLE_S = 10;

/**
 * Lets VmHWM start again from the current RSS (writing 5 to clear_refs, Linux 4.0+), so that the high-water mark
 * read after an export is that export's own, spikes between two polls included. False when /proc refuses.
 */
function resetHighWaterMark(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Streams one export from the service: counts the lines as they come and keeps no byte of them. */
function streamOnce(port, token, accept) {
  return new Promise((resolveExport, reject) => {
    const start = process.hrtime.bigint();
    let firstByteMs = null;
    const req = httpGet(
      {
        host: '127.0.0.1',
        port,
        path: SEARCH_PATH,
        headers: { accept, authorization: `Bearer ${token}` },
        timeout: EXPORT_TIMEOUT_MS,
      },
      (res) => {
        if (res.statusCode !== 200) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => (body += chunk));
          res.on('end', () => reject(new Error(`export ${accept}: ${res.statusCode} ${body.slice(0, 300)}`)));
          return;
        }
        let lines = 0;
        let bytes = 0;
        res.on('data', (chunk) => {
          if (firstByteMs === null) firstByteMs = Number(process.hrtime.bigint() - start) / 1e6;
          bytes += chunk.length;
          for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines += 1;
        });
        // A response cut off mid-stream (the service destroys the connection on a failure) is an error, not an end.
        res.on('aborted', () => reject(new Error(`export ${accept}: the response was cut off after ${lines} lines`)));
        res.on('error', reject);
        res.on('end', () =>
          resolveExport({
            contentType: res.headers['content-type'],
            lines,
            bytes,
            firstByteMs: Math.round(firstByteMs ?? 0),
            seconds: Number(process.hrtime.bigint() - start) / 1e9,
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`export ${accept}: no end within ${EXPORT_TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
  });
}

/** The service's V8 heap spaces and external memory (Buffers), reserved, in MB, from its own /metrics. */
async function heapSpaces(port) {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const text = await response.text();
    const spaces = {};
    for (const [, space, bytes] of text.matchAll(/^nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)$/gm))
      if (Number(bytes) > 0) spaces[space] = Math.round(Number(bytes) / 2 ** 20);
    const external = /^nodejs_external_memory_bytes (\S+)$/m.exec(text)?.[1];
    if (external !== undefined) spaces.external = Math.round(Number(external) / 2 ** 20);
    return spaces;
  } catch {
    return null;
  }
}

/** EXPORT_HEAP_POLL_MS apart while `work` runs, the largest each heap space reached: where an RSS growth lies. */
async function withHeapSpaces(port, work) {
  const peak = {};
  let stopped = false;
  const sampler = (async () => {
    while (!stopped) {
      for (const [space, mb] of Object.entries((await heapSpaces(port)) ?? {}))
        peak[space] = Math.max(peak[space] ?? 0, mb);
      await sleep(EXPORT_HEAP_POLL_MS);
    }
  })();
  try {
    return { result: await work(), peak };
  } finally {
    stopped = true;
    await sampler;
  }
}

/** One export measured: rows/s, and the service's RSS polled every EXPORT_POLL_MS and its VmHWM, against idle. */
async function measureExport(service, token, { format, accept, headerLines }, { operations, idleRssKb, dbPid }) {
  const hwmReset = resetHighWaterMark(service.pid);
  const before = { rss: readStatus(service.pid).rssKb, ticks: processTicks(service.pid), db: processTicks(dbPid) };
  const samples = [];
  let peakKb = before.rss;
  const poll = setInterval(() => {
    const { rssKb } = readStatus(service.pid);
    if (Number.isFinite(rssKb)) {
      samples.push(rssKb);
      if (rssKb > peakKb) peakKb = rssKb;
    }
  }, EXPORT_POLL_MS);
  const heapBefore = await heapSpaces(service.port);
  let streamed;
  let heapPeak;
  try {
    ({ result: streamed, peak: heapPeak } = await withHeapSpaces(service.port, () =>
      streamOnce(service.port, token, accept),
    ));
  } finally {
    clearInterval(poll);
  }
  const after = readStatus(service.pid);
  const mb = (kb) => Math.round(kb / 102.4) / 10;
  const expectedLines = operations + headerLines;
  const peak = Math.max(peakKb, after.rssKb, hwmReset ? after.hwmKb : 0);
  const cpuPct = (ticks) => Math.round((ticks / streamed.seconds) * 10) / 10;
  return {
    format,
    contentType: streamed.contentType,
    rows: streamed.lines - headerLines,
    lines: streamed.lines,
    expectedLines,
    complete: streamed.lines === expectedLines,
    bytes: streamed.bytes,
    seconds: Math.round(streamed.seconds * 100) / 100,
    firstByteMs: streamed.firstByteMs,
    rowsPerSecond: Math.round((streamed.lines - headerLines) / streamed.seconds),
    mbPerSecond: Math.round((streamed.bytes / 2 ** 20 / streamed.seconds) * 10) / 10,
    rssAtStartMb: mb(before.rss),
    peakRssMb: mb(peak),
    polledPeakRssMb: mb(peakKb),
    hwmMb: hwmReset ? mb(after.hwmKb) : null,
    rssAtEndMb: mb(after.rssKb),
    peakGrowthMb: mb(peak - idleRssKb),
    samples: samples.length,
    heapSpacesMb: { before: heapBefore, peak: heapPeak },
    servicePct: cpuPct(processTicks(service.pid) - before.ticks),
    databasePct: dbPid === undefined ? null : cpuPct(processTicks(dbPid) - before.db),
  };
}

/** Every single filter of the search, with values the seeded trail holds, and the time range's two ends. */
function filterCases(operations, now) {
  const values = operationFilterValues(operations);
  const day = 86_400_000;
  return [
    ['no filter', {}],
    ...Object.entries(values).map(([name, value]) => [name, { [name]: value }]),
    ['from', { from: new Date(now - 30 * day) }],
    ['to', { to: new Date(now - (OPERATION_SPAN_DAYS - 30) * day) }],
  ];
}

/**
 * The export scenario on a database of its own: `operations` operations of one issuer seeded in bulk, EXPLAIN of
 * each single-filter search as the service issues it (a JSON page, and an export batch past the newest rows), then
 * a service of its own per format, left idle, exports them all, as NDJSON, then (another service) as CSV.
 */
async function exportPhase({ o, server, runDir, say, secret, tok, dbPid, runtime }) {
  const loadAverageAtStart = loadavg().map((l) => Math.round(l * 100) / 100);
  const batchSize = exportBatchSize();
  const db = await createDatabase(server, 'ops');
  cleanup.databases.push({ server, name: db.name });
  say(`database ${db.name} (${db.version}): seeding ${o.operations} operations of ${ISSUER_ID}`);
  await migrate(server, db.name);
  const now = Date.now();
  const seedStart = Date.now();
  const seeded = await seedOperations(server, db.name, o.operations, { now });
  const seedSeconds = Math.round((Date.now() - seedStart) / 100) / 10;
  if (seeded !== o.operations) throw new Error(`seeded ${seeded} operations, not ${o.operations}`);
  say(`seeded ${seeded} operations in ${seedSeconds} s (${Math.round(seeded / seedSeconds)} rows/s)`);

  // The export's second batch reads past the newest EXPORT_BATCH_SIZE rows: the statement it repeats to the end.
  const cursorRowId = Math.max(1, o.operations - batchSize);
  const cases = filterCases(o.operations, now).flatMap(([name, filter]) => [
    { name, statement: 'page', filter, before: undefined, limit: 51 },
    { name, statement: 'export batch', filter, before: cursorRowId, limit: batchSize },
  ]);
  const plans = await explainSearches(server, db.name, cases);
  for (const p of plans)
    say(
      `explain ${`${p.name} (${p.statement})`.padEnd(30)} type ${String(p.type).padEnd(6)} key ${String(p.key).padEnd(26)} rows ${String(p.rows).padStart(8)}` +
        `  read ${String(p.readRows).padStart(8)}  ${p.extra}${p.fullScan || p.filesort ? '  <- MISS' : ''}`,
    );

  // Each format on a service of its own, started and left alone (connections opened, start-up garbage collected):
  // its idle RSS is the baseline that export adds to, with nothing left over from the other format.
  const idleS = o.smoke ? 0.5 : EXPORT_IDLE_S;
  const exports = [];
  for (const format of EXPORT_FORMATS) {
    const service = await startTarget({
      target: 'service',
      server,
      database: db.name,
      secret,
      runDir,
      name: `service@export-${format.format}`,
      runtime,
    });
    try {
      await sleep(idleS * 1000);
      const idle = readStatus(service.pid);
      const measured = await measureExport(service, tok.auditor, format, {
        operations: o.operations,
        idleRssKb: idle.rssKb,
        dbPid,
      });
      if (service.proc.exited)
        throw new Error(`the export service exited (${service.proc.exitCode}):\n${logTail(service.proc)}`);
      exports.push({ idleRssMb: Math.round(idle.rssKb / 102.4) / 10, ...measured });
      say(
        `export ${format.format.padEnd(6)} ${measured.rows} rows in ${measured.seconds} s: ${measured.rowsPerSecond} rows/s, ${measured.mbPerSecond} MB/s;` +
          ` RSS idle ${exports.at(-1).idleRssMb} → peak ${measured.peakRssMb} MB (VmHWM ${measured.hwmMb}), +${measured.peakGrowthMb} MB;` +
          ` service ${measured.servicePct}% / database ${measured.databasePct}% of a core`,
      );
      if (!measured.complete)
        throw new Error(`export ${format.format}: ${measured.lines} lines, expected ${measured.expectedLines}`);
    } finally {
      await stopProcess(service.proc);
    }
  }
  return {
    operations: o.operations,
    seeding: { seconds: seedSeconds, rowsPerSecond: Math.round(seeded / seedSeconds), spanDays: OPERATION_SPAN_DAYS },
    batchSize,
    pollMs: EXPORT_POLL_MS,
    heapPollMs: EXPORT_HEAP_POLL_MS,
    idleSeconds: idleS,
    exports,
    plans,
    date: new Date(now).toISOString(),
    // The service's runtime: the first one chosen (Node 24 unless --runtime current).
    runtime: { name: runtime.name, version: runtime.version },
    node: process.version,
    database: db.version,
    loadAverageAtStart,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The run

/** What a run says about itself: when, where, with what, and with which options. */
function runMeta(o, version, rts) {
  return {
    date: new Date().toISOString(),
    mode: o.smoke ? 'smoke' : 'full',
    node: process.version,
    // What the service and the baselines ran on (the load generator runs on `node`, above).
    runtimes: rts.map(({ name, version }) => ({ name, version })),
    database: version,
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
      memoryGb: Math.round(totalmem() / 2 ** 30),
      loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
    },
    versions: Object.fromEntries(
      ['express', 'typeorm', 'mysql2', 'autocannon'].map((p) => [
        p,
        JSON.parse(readFileSync(join(ROOT, 'node_modules', p, 'package.json'), 'utf8')).version,
      ]),
    ),
    options: {
      links: o.links,
      connections: o.connections,
      duration: o.duration,
      warmup: o.warmup,
      rounds: o.rounds,
      scenarios: o.loadScenarios,
      targets: o.targets,
      linksPerUser: LINKS_PER_USER,
    },
    seeding: [],
    verification: [],
    processes: {},
  };
}

/** The load scenarios: every data set seeded, the targets started, warmed up, loaded in rounds, then profiled. */
async function loadPhase({ o, server, runDir, say, secret, tok, dbPid, meta, rts }) {
  // With two runtimes, each process is known by its runtime too; with one, the keys stay as they always were.
  const keyOf = (base, rt) => (rts.length > 1 ? `${base}:${rt.name}` : base);
  // One database per data size, all seeded first and loaded in turn: a slowdown at 1 million links is then
  // measured against 100 thousand in the same minutes, not against a quieter or busier machine of earlier.
  const dbs = [];
  let version;
  for (const links of o.links) {
    const db = await createDatabase(server, links);
    cleanup.databases.push({ server, name: db.name });
    version = db.version;
    const users = links / LINKS_PER_USER;
    say(
      `database ${db.name} on ${new URL(server.replace(/^mariadb:/, 'mysql:')).host} (${db.version}): seeding ${links} links (${users} users)`,
    );
    await migrate(server, db.name);
    const seedStart = Date.now();
    const seeded = await seedUsers(server, db.name, { fromUsers: 0, toUsers: users, functionUsers: o.functionUsers });
    const seconds = Math.round((Date.now() - seedStart) / 100) / 10;
    // A user seeded in bulk has exactly the rows of one registered through registerAccount.
    const shapes = seeded.inBulk > 0 ? await compareShapes(server, db.name, 0, users - 1) : null;
    dbs.push({
      links,
      name: db.name,
      users,
      state: scenarioState(users),
      seeding: {
        links,
        users,
        ...seeded,
        seconds,
        bulkRowsCompared: shapes,
        tables: await tableSizes(server, db.name),
      },
    });
    say(`seeded in ${seconds} s: ${seeded.throughFunction} users through registerAccount, ${seeded.inBulk} in bulk`);
  }
  const small = dbs[0];

  meta.database = version;
  meta.seeding = dbs.map((d) => d.seeding);
  const runs = [];
  const warmups = [];
  const profiles = [];

  // The processes: the service and the raw baseline once per database, bare Express once (it reads none).
  // With two runtimes, each has its own processes and its own databases' walk, loaded in the same rounds.
  const participants = [];
  const expressStates = new Map();
  for (const rt of rts) {
    for (const db of dbs) {
      for (const target of o.targets.filter((t) => t !== 'express')) {
        const key = keyOf(`${target}@${db.links}`, rt);
        participants.push({
          key,
          target,
          db,
          runtime: rt,
          ...(await startTarget({ target, server, database: db.name, secret, runDir, name: key, runtime: rt })),
        });
      }
    }
    if (o.targets.includes('express')) {
      const key = keyOf('express', rt);
      participants.push({
        key,
        target: 'express',
        db: undefined,
        runtime: rt,
        ...(await startTarget({ target: 'express', server, secret, runDir, name: key, runtime: rt })),
      });
    }
    // Bare Express reads nothing, but walks the same kind of requests: a state of its own keeps it off the others' accounts.
    expressStates.set(rt.name, scenarioState(small.users));
  }
  const stateOf = (p) => (p.db === undefined ? expressStates.get(p.runtime.name) : p.db.state);
  // Every scenario runs on the smallest data set; DeLinkAccount on every data set.
  const scenariosOf = (p) =>
    p.db === undefined || p.db === small ? o.loadScenarios : o.loadScenarios.filter((s) => s === 'delink');
  const linksOf = (p) => (p.db === undefined ? small.links : p.db.links);

  for (const p of participants.filter((x) => x.target === 'service')) {
    meta.verification.push({
      runtime: p.runtime.name,
      links: p.db.links,
      ...(await verifyThroughApi(p.port, tok, {
        fromUsers: 0,
        toUsers: p.db.users,
        functionUsers: o.functionUsers,
        firstPhase: true,
      })),
    });
  }

  say(
    `warm-up: ${o.warmup * o.loadScenarios.length} s per target at ${o.connections[0]} connections, split over its scenarios`,
  );
  for (const p of participants) {
    // Every process gets the same warm-up time, so that the JIT (and the database's cache) is as warm for the
    // data set that runs DeLinkAccount only as for the one that runs every scenario.
    const seconds = (o.warmup * o.loadScenarios.length) / scenariosOf(p).length;
    for (const scenario of scenariosOf(p)) {
      assertRunning(participants);
      if (scenario === 'delink' && p.db !== undefined) await relinkAll(server, p.db.name);
      const r = summarize([
        {
          load: await load({
            port: p.port,
            scenario,
            target: p.target,
            connections: o.connections[0],
            duration: seconds,
            sampleInt: o.sampleInt,
            state: stateOf(p),
            tokens: tok,
          }),
          cpu: {},
          peakRssMb: 0,
          hwmMb: 0,
          quietPct: null,
        },
      ]);
      warmups.push({
        links: linksOf(p),
        scenario,
        target: p.target,
        requests: r.requests,
        errors: r.errors,
        outcomes: r.outcomes,
      });
    }
  }

  // Each target's time is split in rounds, run in turn (each round starting with the next target), so that load
  // other people put on the machine meanwhile falls on all of them alike.
  for (const scenario of o.loadScenarios) {
    const group = participants.filter((p) => scenariosOf(p).includes(scenario));
    for (const connections of o.connections) {
      const parts = new Map(group.map((p) => [p.key, []]));
      for (let round = 0; round < o.rounds; round += 1) {
        for (const p of group.map((_, i) => group[(i + round) % group.length])) {
          assertRunning(participants);
          if (scenario === 'delink' && p.db !== undefined) await relinkAll(server, p.db.name);
          const quietPct = await quietCpu(o.smoke ? 50 : 300);
          const measured = await withCpu(p.pid, dbPid, () =>
            load({
              port: p.port,
              scenario,
              target: p.target,
              connections,
              duration: o.duration / o.rounds,
              sampleInt: o.sampleInt,
              state: stateOf(p),
              tokens: tok,
            }),
          );
          const heap = p.target === 'service' ? await serviceHeap(p.port) : null;
          parts.get(p.key).push({
            load: measured.result,
            cpu: measured.cpu,
            peakRssMb: measured.peakRssMb,
            hwmMb: measured.hwmMb,
            quietPct,
            heap,
          });
        }
      }
      assertRunning(participants);
      for (const p of group) {
        const run = {
          links: linksOf(p),
          scenario,
          target: p.target,
          runtime: p.runtime.name,
          connections,
          ...summarize(parts.get(p.key)),
        };
        if (p.db === undefined) run.dataIndependent = true;
        runs.push(run);
        say(
          `${scenario.padEnd(8)} ${p.key.padEnd(16)} c${String(connections).padEnd(3)} ${String(run.rps).padStart(8)} req/s` +
            `  p50 ${run.latencyMs.p50} ms  p99 ${run.latencyMs.p99} ms  errors ${run.errors}  rss ${run.peakRssMb} MB  cpu ${run.cpu.targetUsPerRequest} µs/req  others ${run.cpu.othersPct}%`,
        );
        if (run.unexpectedSamples.length > 0) say(`  unexpected: ${JSON.stringify(run.unexpectedSamples[0])}`);
      }
    }
  }

  if (o.webhook) {
    const service = participants.find((p) => p.target === 'service' && p.db === small && p.runtime === rts[0]);
    meta.webhook = await webhookPhase(service, { server, o, tok, say });
  }

  for (const p of participants)
    meta.processes[p.key] = {
      target: p.target,
      runtime: p.runtime.name,
      vmHwmMb: Math.round(readStatus(p.pid).hwmKb / 102.4) / 10,
    };
  if (!o.smoke) {
    // Left idle, V8 collects and gives memory back after some seconds: what remains is what the service keeps.
    say(`idle for ${IDLE_S} s, then the services' memory`);
    await sleep(IDLE_S * 1000);
    for (const p of participants.filter((x) => x.target === 'service')) {
      meta.processes[p.key].afterIdle = {
        seconds: IDLE_S,
        rssMb: Math.round(readStatus(p.pid).rssKb / 102.4) / 10,
        heap: await serviceHeap(p.port),
      };
    }
  }
  for (const p of participants) await stopProcess(p.proc);
  for (const p of participants) meta.processes[p.key].exitCode = p.proc.exitCode;

  if (o.profile) {
    // Profiled apart from the measured runs, so that the profiler's cost is in no number of the report; on the first
    // runtime only (Node 24 unless --runtime current).
    const runtime = rts[0];
    for (const db of dbs) {
      for (const scenario of db === small ? o.loadScenarios : o.loadScenarios.filter((s) => s === 'delink')) {
        const profileDir = join(runDir, `profile-${db.links}-${scenario}`);
        mkdirSync(profileDir, { recursive: true });
        const profiled = await startTarget({
          target: 'service',
          server,
          database: db.name,
          secret,
          runDir,
          profileDir,
          name: `service@${db.links}-profile-${scenario}`,
          runtime,
        });
        if (scenario === 'delink') await relinkAll(server, db.name);
        const r = summarize([
          {
            load: await load({
              port: profiled.port,
              scenario,
              target: 'service',
              connections: o.connections[0],
              duration: o.duration,
              sampleInt: o.sampleInt,
              state: db.state,
              tokens: tok,
            }),
            cpu: {},
            peakRssMb: 0,
            hwmMb: 0,
            quietPct: null,
          },
        ]);
        const loadEnd = Date.now();
        await stopProcess(profiled.proc);
        // The profile covers the whole process; only the load's window, which ended this long before it did, counts.
        const window = { lengthMs: r.seconds * 1000, tailMs: Date.now() - loadEnd };
        const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
        if (file === undefined) throw new Error(`no CPU profile was written for ${scenario}`);
        const keep = join(o.out, 'profiles');
        mkdirSync(keep, { recursive: true });
        const kept = join(keep, `service-${scenario}-${db.links}.cpuprofile`);
        rmSync(kept, { force: true });
        copyFileSync(join(profileDir, file), kept);
        profiles.push({
          runtime: runtime.name,
          links: db.links,
          scenario,
          connections: o.connections[0],
          rps: r.rps,
          file: `profiles/service-${scenario}-${db.links}.cpuprofile`,
          ...summarizeProfile(join(profileDir, file), ROOT, window),
        });
        say(`profiled ${scenario} at ${db.links} links: ${r.rps} req/s under the profiler`);
      }
    }
  }

  return { runs, warmups, profiles };
}

async function main() {
  const o = options();
  if (o.render !== undefined) {
    const { meta, runs, warmups, profiles, export: exported } = JSON.parse(readFileSync(o.render, 'utf8'));
    const report = writeReport(
      { meta, runs, warmups, profiles, ...(exported === undefined ? {} : { export: exported }) },
      o.outGiven ? o.out : dirname(o.render),
    );
    console.log(report.markdown);
    return;
  }
  const server = databaseServer(o.smoke);
  if (server === undefined) {
    if (process.env.CI === 'true') {
      console.error(
        'Benchmark smoke run: neither BENCH_DATABASE_URL nor TEST_MARIADB_URL is set, and in CI it must run. Failing.',
      );
      process.exit(1);
    }
    console.log('\n========================================================================');
    console.log(' Benchmark smoke run SKIPPED: no MariaDB configured.');
    console.log(' Run it with: TEST_MARIADB_URL=mariadb://root@127.0.0.1:3306 npm run bench:smoke');
    console.log('========================================================================\n');
    return;
  }
  const deadline = setTimeout(() => {
    console.error(`benchmark: still running after ${RUN_DEADLINE_MS / 60_000} minutes; stopping`);
    void cleanupAndExit(1);
  }, RUN_DEADLINE_MS);
  deadline.unref();

  const runDir = mkdtempSync(join(tmpdir(), 'cc-bench-'));
  cleanup.runDir = runDir;
  const say = (text) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}`);
  const rts = runtimes(o.runtime);
  say(`runtime: ${rts.map((rt) => `${rt.name} (Node ${rt.version}, ${rt.execPath})`).join(' and ')}`);

  if (o.build) {
    say('building the service (tsc -p tsconfig.build.json)');
    const build = spawn(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')],
      { cwd: ROOT, stdio: 'inherit' },
    );
    const code = await new Promise((resolveBuild) => build.once('exit', resolveBuild));
    if (code !== 0) throw new Error(`the build failed (${code})`);
  }

  const secret = randomBytes(48).toString('base64url');
  const tok = await tokens(secret);
  const dbPid = databasePid();
  const meta = runMeta(o, undefined, rts);
  let runs = [];
  let warmups = [];
  let profiles = [];
  if (o.loadScenarios.length > 0)
    ({ runs, warmups, profiles } = await loadPhase({ o, server, runDir, say, secret, tok, dbPid, meta, rts }));
  let exported;
  if (o.exportScenario) {
    exported = await exportPhase({ o, server, runDir, say, secret, tok, dbPid, runtime: rts[0] });
    meta.database ??= exported.database;
  }

  const outDir = o.out ?? mkdtempSync(join(tmpdir(), 'cc-bench-smoke-report-'));
  let data = { meta, runs, warmups, profiles, ...(exported === undefined ? {} : { export: exported }) };
  const previous = join(outDir, 'results.json');
  if (o.loadScenarios.length === 0 && !o.smoke && existsSync(previous)) {
    // A run of the export scenario alone adds its section to the numbers already there: the load scenarios of the
    // last run stay as they were measured, and the report is rendered again from both.
    const last = JSON.parse(readFileSync(previous, 'utf8'));
    data = { meta: last.meta, runs: last.runs, warmups: last.warmups, profiles: last.profiles, export: exported };
    say(`the export's numbers join those of the run of ${last.meta.date} in ${previous}`);
  }
  const report = writeReport(data, outDir);
  console.log(`\n${report.markdown}`);
  if (o.smoke) {
    rmSync(outDir, { recursive: true, force: true });
    const broken = runs.filter((r) => r.requests === 0 || r.errors > 0);
    if (broken.length > 0)
      throw new Error(
        `smoke run: ${broken.length} runs had no answers or unexpected ones: ${JSON.stringify(broken.map((r) => [r.scenario, r.target, r.requests, r.outcomes]))}`,
      );
    say('smoke run passed');
  } else {
    say(`report written to ${report.files.join(', ')}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Cleanup: every exit path stops the processes and drops the databases.

const cleanup = { runDir: undefined, databases: [], running: undefined };

/**
 * Stops everything and drops the databases, once. A second caller waits for the first one's cleanup: a Ctrl-C stops
 * the service mid-request, the run then fails, and its exit must not cut the drops short.
 */
function cleanupAll() {
  cleanup.running ??= (async () => {
    await stopAll().catch(() => undefined);
    for (const db of cleanup.databases)
      await dropDatabase(db.server, db.name).catch((e) => console.error(`could not drop ${db.name}: ${e.message}`));
    if (cleanup.runDir && existsSync(cleanup.runDir)) rmSync(cleanup.runDir, { recursive: true, force: true });
  })();
  return cleanup.running;
}

async function cleanupAndExit(code) {
  await cleanupAll();
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void cleanupAndExit(130));

main().then(
  () => cleanupAndExit(0),
  async (error) => {
    console.error(`benchmark failed: ${error?.stack ?? error}`);
    for (const proc of everStarted) console.error(`--- ${proc.name} log (last lines) ---\n${logTail(proc)}`);
    await cleanupAndExit(1);
  },
);
