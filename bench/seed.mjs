// The benchmark's data: its layout (which user owns which accounts), the bench database's life, and seeding.
//
// The first users are registered through the service's own registerAccount (compiled, from dist/); the rest, for
// the large data sets, are bulk-inserted in SQL in exactly the shape registerAccount leaves behind (a user row, an
// account row, a link row and a REGISTER operation per account). compareShapes() checks that claim row by row
// against a user seeded through the function, and bench/run.mjs checks a sample of both through the API.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { createConnection } from 'mysql2/promise';

const require = createRequire(import.meta.url);

export const ISSUER_ID = 'BENCHISSUR';
/** One main account and four secondary accounts per user: a card holder with a few cards. */
export const LINKS_PER_USER = 5;
export const SEED_REQUESTOR = 'bench:seed';

const pad = (n, width = 14) => String(n).padStart(width, '0');
/** Seeded users and their accounts; SSUserIDs and account numbers look like the issuer's, 16 digits. */
export const ssUserIdOf = (user) => `88${pad(user)}`;
export const accountOf = (user, slot) => `80${pad(user * LINKS_PER_USER + slot)}`;
/** Accounts and consumers created by the register scenario, in ranges the seed never uses. */
export const newAccountOf = (seq) => `70${pad(seq)}`;
export const newConsumerOf = (seq) => `77${pad(seq)}`;

/** `mariadb://…` or `mysql://…` → the options mysql2 takes; the database part is the caller's. */
export function serverOptions(serverUrl, database) {
  const url = new URL(serverUrl.replace(/^mariadb:/, 'mysql:'));
  return {
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    ...(database !== undefined ? { database } : {}),
    connectTimeout: 5_000,
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci',
    supportBigNumbers: true,
    bigNumberStrings: true,
  };
}

/** The URL of one database on the bench's server, in the scheme the service expects. */
export function databaseUrl(serverUrl, database, scheme = 'mariadb') {
  const url = new URL(serverUrl.replace(/^mariadb:/, 'mysql:'));
  url.pathname = `/${database}`;
  return url.toString().replace(/^mysql:/, `${scheme}:`);
}

export async function createDatabase(serverUrl, suffix) {
  const name = `cc_bench_${Date.now()}_${process.pid}_${suffix}`;
  const connection = await createConnection(serverOptions(serverUrl));
  try {
    await connection.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    const [[{ version }]] = await connection.query('SELECT VERSION() AS version');
    return { name, version };
  } finally {
    await connection.end();
  }
}

export async function dropDatabase(serverUrl, name) {
  const connection = await createConnection(serverOptions(serverUrl));
  try {
    await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await connection.end();
  }
}

/** The compiled service's own database (dist/ must be built): migrations and registerAccount run through it. */
function serviceDatabase(serverUrl, database, poolSize) {
  require('reflect-metadata');
  const { createDatabase } = require('../dist/src/db/database.js');
  return createDatabase({
    kind: 'mysql',
    flavor: 'mariadb',
    url: databaseUrl(serverUrl, database, 'mysql'),
    poolSize,
  });
}

export async function migrate(serverUrl, database) {
  const db = serviceDatabase(serverUrl, database, 1);
  await db.initialize();
  try {
    await db.migrate();
  } finally {
    await db.close();
  }
}

/** Registers users [from, to) through registerAccount, main account first, a few users at a time. */
async function seedThroughFunction(serverUrl, database, from, to) {
  const { registerAccount } = require('../dist/src/links/register.js');
  const parallel = 8;
  const db = serviceDatabase(serverUrl, database, parallel);
  await db.initialize();
  try {
    const ctx = {
      issuerId: ISSUER_ID,
      requestorType: 'ISSUER',
      requestorId: SEED_REQUESTOR,
      correlationId: `bench-seed-${randomUUID()}`,
    };
    let next = from;
    const worker = async () => {
      while (next < to) {
        const user = next++;
        for (let slot = 0; slot < LINKS_PER_USER; slot += 1) {
          await registerAccount(db, ctx, {
            accountNumber: accountOf(user, slot),
            consumerId: ssUserIdOf(user),
            productId: null,
            state: 'ACTIVE',
          });
        }
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  } finally {
    await db.close();
  }
}

const nextId = async (connection, table) => {
  const [[{ id }]] = await connection.query(`SELECT COALESCE(MAX(id), 0) + 1 AS id FROM \`${table}\``);
  return Number(id);
};

/**
 * Inserts users [from, to) in bulk: for each account the rows registerAccount writes, in its order (user with the
 * main account, account, link, REGISTER operation), with the values it writes. Ids follow the tables' current ones.
 */
async function seedInBulk(serverUrl, database, from, to) {
  const connection = await createConnection(serverOptions(serverUrl, database));
  try {
    let userId = await nextId(connection, 'consumers');
    let accountId = await nextId(connection, 'accounts');
    let linkId = await nextId(connection, 'account_links');
    const batchUsers = 1_000;
    for (let first = from; first < to; first += batchUsers) {
      const last = Math.min(first + batchUsers, to);
      const now = new Date();
      const correlationId = `bench-seed-${randomUUID()}`;
      const users = [];
      const accounts = [];
      const links = [];
      const operations = [];
      for (let user = first; user < last; user += 1) {
        const ssUserId = ssUserIdOf(user);
        const thisUserId = userId++;
        users.push([thisUserId, ISSUER_ID, ssUserId, ssUserId.toLowerCase(), ssUserId.toLowerCase(), now]);
        for (let slot = 0; slot < LINKS_PER_USER; slot += 1) {
          const isMain = slot === 0;
          const thisAccountId = accountId++;
          accounts.push([
            thisAccountId,
            ISSUER_ID,
            accountOf(user, slot),
            accountOf(user, slot),
            null,
            'ACTIVE',
            now,
            now,
          ]);
          links.push([linkId++, thisAccountId, thisUserId, isMain, isMain ? thisUserId : null, now, null]);
          operations.push([
            randomUUID(),
            'REGISTER',
            'SUCCESSFUL',
            null,
            now,
            now,
            'ISSUER',
            SEED_REQUESTOR,
            ISSUER_ID,
            ssUserId,
            ssUserId.toLowerCase(),
            accountOf(user, slot),
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            correlationId,
          ]);
        }
      }
      await connection.query('START TRANSACTION');
      await connection.query(
        'INSERT INTO consumers (id, issuer_id, consumer_id, consumer_key, live_key, created_at) VALUES ?',
        [users],
      );
      await connection.query(
        'INSERT INTO accounts (id, issuer_id, account_number, live_key, product_id, state, created_at, updated_at) VALUES ?',
        [accounts],
      );
      await connection.query(
        'INSERT INTO account_links (id, account_id, consumer_id, is_main, main_of_consumer_id, linked_at, delinked_at) VALUES ?',
        [links],
      );
      await connection.query(
        'INSERT INTO operations (operation_id, operation, status, error_code, start_time, end_time, requestor_type, requestor_id, issuer_id, consumer_id,' +
          ' consumer_key, account_number, reason, reason_code, source, session_id, ip_address, external_ip, caller_id, called_id, correlation_id) VALUES ?',
        [operations],
      );
      await connection.query('COMMIT');
    }
  } finally {
    await connection.end();
  }
}

/**
 * Brings the bench database from `fromUsers` to `toUsers` seeded users: those below `functionUsers` through
 * registerAccount, the rest in bulk. Returns how many of each.
 */
export async function seedUsers(serverUrl, database, { fromUsers, toUsers, functionUsers }) {
  const throughFunctionEnd = Math.max(fromUsers, Math.min(toUsers, functionUsers));
  if (throughFunctionEnd > fromUsers) await seedThroughFunction(serverUrl, database, fromUsers, throughFunctionEnd);
  if (toUsers > throughFunctionEnd) await seedInBulk(serverUrl, database, throughFunctionEnd, toUsers);
  return { throughFunction: throughFunctionEnd - fromUsers, inBulk: toUsers - throughFunctionEnd };
}

/** Re-links every delinked account, as a repeated register does, so that each delink run starts from one state. */
export async function relinkAll(serverUrl, database) {
  const connection = await createConnection(serverOptions(serverUrl, database));
  try {
    const [result] = await connection.query(
      'UPDATE account_links SET delinked_at = NULL, linked_at = ? WHERE delinked_at IS NOT NULL',
      [new Date()],
    );
    return result.affectedRows;
  } finally {
    await connection.end();
  }
}

export async function tableSizes(serverUrl, database) {
  const connection = await createConnection(serverOptions(serverUrl, database));
  try {
    const sizes = {};
    for (const table of ['consumers', 'accounts', 'account_links', 'operations']) {
      const [[{ n }]] = await connection.query(`SELECT COUNT(*) AS n FROM \`${table}\``);
      sizes[table] = Number(n);
    }
    return sizes;
  } finally {
    await connection.end();
  }
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * One user's rows in every table, each value reduced to what must match between two users seeded the same way:
 * ids, times and random ids become their kind; the user's own SSUserID and account numbers become placeholders.
 */
async function userRows(connection, user) {
  const ssUserId = ssUserIdOf(user);
  const accounts = Array.from({ length: LINKS_PER_USER }, (_, slot) => accountOf(user, slot));
  const own = new Map([
    [ssUserId, '<ssUserId>'],
    [ssUserId.toLowerCase(), '<ssUserKey>'],
    ...accounts.map((a, slot) => [a, `<account ${slot}>`]),
  ]);
  const [[userRow]] = await connection.query('SELECT * FROM consumers WHERE issuer_id = ? AND consumer_key = ?', [
    ISSUER_ID,
    ssUserId.toLowerCase(),
  ]);
  const [accountRows] = await connection.query(
    'SELECT * FROM accounts WHERE issuer_id = ? AND account_number IN (?) ORDER BY account_number',
    [ISSUER_ID, accounts],
  );
  const [linkRows] = await connection.query(
    'SELECT l.* FROM account_links l WHERE l.consumer_id = ? ORDER BY l.account_id',
    [userRow.id],
  );
  const [operationRows] = await connection.query(
    'SELECT * FROM operations WHERE issuer_id = ? AND consumer_key = ? ORDER BY id',
    [ISSUER_ID, ssUserId.toLowerCase()],
  );
  const accountIds = new Map(accountRows.map((a, slot) => [String(a.id), `<accountId ${slot}>`]));
  const reduce = (row, table) =>
    Object.fromEntries(
      Object.entries(row).map(([column, value]) => {
        if (value instanceof Date) return [column, '<time>'];
        if (value === null) return [column, null];
        const text = String(value);
        if (column === 'id') return [column, `<${table} id>`];
        // By column: a user's id and an account's id may well be the same number.
        if (table === 'account_links' && (column === 'consumer_id' || column === 'main_of_consumer_id'))
          return [column, text === String(userRow.id) ? '<userId>' : text];
        if (column === 'account_id') return [column, accountIds.get(text) ?? text];
        if (own.has(text)) return [column, own.get(text)];
        if (UUID_V4.test(text)) return [column, '<uuid v4>'];
        if (column === 'correlation_id' && text.startsWith('bench-seed-')) return [column, '<seed correlation id>'];
        return [column, text];
      }),
    );
  return {
    consumers: [reduce(userRow, 'consumers')],
    accounts: accountRows.map((r) => reduce(r, 'accounts')),
    account_links: linkRows.map((r) => reduce(r, 'account_links')),
    operations: operationRows.map((r) => reduce(r, 'operations')),
  };
}

/** Throws, naming the first difference, unless users `a` and `b` have rows of the same shape in every table. */
export async function compareShapes(serverUrl, database, a, b) {
  const connection = await createConnection(serverOptions(serverUrl, database));
  try {
    const [rowsA, rowsB] = [await userRows(connection, a), await userRows(connection, b)];
    for (const table of Object.keys(rowsA)) {
      const [left, right] = [JSON.stringify(rowsA[table]), JSON.stringify(rowsB[table])];
      if (left !== right)
        throw new Error(`seeded rows differ in ${table}:\n  user ${a}: ${left}\n  user ${b}: ${right}`);
    }
    return Object.fromEntries(Object.entries(rowsA).map(([table, rows]) => [table, rows.length]));
  } finally {
    await connection.end();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The audit trail of the export scenario: many operations of one issuer, of every kind, as the service records them.

/** Days the seeded operations spread over, back from now: well inside the default retention of 400 days. */
export const OPERATION_SPAN_DAYS = 300;
/** Consumers of the seeded audit trail (each with LINKS_PER_USER accounts): a few operations each. */
const operationConsumers = (n) => Math.max(10, Math.ceil(n / 20));
const SOURCES = ['Web', 'Mobile', 'IVR', 'Branch'];
const CALLER_IDS = ['7204450001', '7204450002', '7204450003', '7204450004', '7204450005', '7204450006'];
/** What a refusal of each kind answers, from the error catalogue. */
const REFUSALS = {
  DELINK: ['ERR01131', 'ERR01132', 'ERR01140'],
  LINK: ['ERR01175', 'ERR01176', 'ERR01177'],
  REGISTER: ['ERR01141', 'ERR01181'],
  DELETE: ['ERR01133'],
  DELETE_CONSUMER: ['ERR01180', 'ERR01182'],
};

/** The seeded operation `i` of `n` (0 is the oldest): the same values every run, for the filters the bench reads. */
export function seededOperation(i, n, now) {
  const spanMs = OPERATION_SPAN_DAYS * 86_400_000;
  const start = new Date(now - spanMs + Math.floor((i / n) * spanMs));
  const end = new Date(start.getTime() + 5 + (i % 40));
  const user = (i * 7919) % operationConsumers(n);
  const consumer = ssUserIdOf(user);
  const account = accountOf(user, i % LINKS_PER_USER);
  const correlationId = `bench-op-${pad(i, 9)}`;
  const k = i % 100;
  if (k === 99) {
    // The retention purge, recorded by the system, about no consumer or account.
    return [
      randomUUID(),
      'PURGE',
      'SUCCESSFUL',
      null,
      start,
      end,
      'SYSTEM',
      'operation-retention',
      ISSUER_ID,
      null,
      null,
      null,
      'removed 0 operations',
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      correlationId,
    ];
  }
  // Most traffic is cardholders delinking and linking from a channel; the rest the issuer's back office.
  const operation = k < 45 ? 'DELINK' : k < 60 ? 'LINK' : k < 85 ? 'REGISTER' : k < 95 ? 'DELETE' : 'DELETE_CONSUMER';
  const byUser = operation === 'DELINK' || operation === 'LINK';
  const failed = i % 7 === 3;
  const refusals = REFUSALS[operation];
  const errorCode = failed ? refusals[i % refusals.length] : null;
  const deleting = operation === 'DELETE' || operation === 'DELETE_CONSUMER';
  return [
    randomUUID(),
    operation,
    failed ? 'FAILED' : 'SUCCESSFUL',
    errorCode,
    start,
    end,
    byUser ? 'USER' : 'ISSUER',
    byUser ? 'bench-portal' : 'bench-core-banking',
    ISSUER_ID,
    operation === 'DELETE' ? null : consumer,
    operation === 'DELETE' ? null : consumer.toLowerCase(),
    operation === 'DELETE_CONSUMER' ? null : account,
    deleting ? "closed at the cardholder's request" : null,
    deleting ? (i % 2 === 0 ? 'USER_DECISION' : 'ISSUER_DECISION') : null,
    byUser ? SOURCES[i % SOURCES.length] : null,
    byUser ? `session-${pad(i % 50_000, 8)}` : null,
    byUser ? `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` : null,
    byUser ? '10.120.0.0' : null,
    byUser ? CALLER_IDS[i % CALLER_IDS.length] : null,
    byUser && i % 3 === 0 ? '7204459999' : null,
    correlationId,
  ];
}

/**
 * Values of the seeded trail that each single filter of the search is read with: those of a cardholder's delink
 * in the middle of the trail (see seededOperation), so that every one matches rows.
 */
export function operationFilterValues(n) {
  const i = Math.floor(n / 2) - (Math.floor(n / 2) % 100) + 10;
  const [, , , , , , , , , consumerId, , accountId, , , source, , , , callerId, , correlationId] = seededOperation(
    i,
    n,
    Date.now(),
  );
  return {
    consumerId,
    accountId,
    operation: 'DELETE',
    status: 'FAILED',
    errorCode: 'ERR01141',
    correlationId,
    callerId,
    source,
  };
}

/**
 * Inserts `n` operations of ISSUER_ID in multi-row INSERTs, oldest first (ids follow start_time, as the service
 * records them), start times spread over the last OPERATION_SPAN_DAYS days. Returns how many rows went in.
 */
export async function seedOperations(serverUrl, database, n, { batchRows = 5_000, now = Date.now() } = {}) {
  const connection = await createConnection(serverOptions(serverUrl, database));
  try {
    for (let first = 0; first < n; first += batchRows) {
      const rows = [];
      for (let i = first; i < Math.min(first + batchRows, n); i += 1) rows.push(seededOperation(i, n, now));
      await connection.query(
        'INSERT INTO operations (operation_id, operation, status, error_code, start_time, end_time, requestor_type, requestor_id, issuer_id, consumer_id,' +
          ' consumer_key, account_number, reason, reason_code, source, session_id, ip_address, external_ip, caller_id, called_id, correlation_id) VALUES ?',
        [rows],
      );
    }
    // Fresh statistics, as a table that grew over months has: the plans the bench reads are the ones production gets.
    await connection.query('ANALYZE TABLE operations');
    const [[{ count }]] = await connection.query('SELECT COUNT(*) AS count FROM operations WHERE issuer_id = ?', [
      ISSUER_ID,
    ]);
    return Number(count);
  } finally {
    await connection.end();
  }
}

/**
 * The plan of each search statement exactly as the service builds it (searchStatement from dist/), on this database:
 * EXPLAIN's type, key, rows and Extra, and on MariaDB the rows ANALYZE actually read. `cases` are
 * [name, filter, beforeRowId, limit]; a plan reading the whole table (type ALL) or sorting the matches (filesort) is
 * a miss.
 */
export async function explainSearches(serverUrl, database, cases) {
  const { searchStatement } = require('../dist/src/operations/operation-repository.js');
  const db = serviceDatabase(serverUrl, database, 1);
  await db.initialize();
  try {
    const plans = [];
    for (const { name, statement, filter, before, limit } of cases) {
      const plan = await db.read(async (manager) => {
        const { sql, parameters } = searchStatement(manager, ISSUER_ID, filter, before, limit);
        const [row, ...more] = await manager.query(`EXPLAIN ${sql}`, parameters);
        let readRows = null;
        try {
          const [analyzed] = await manager.query(`ANALYZE ${sql}`, parameters);
          readRows = analyzed.r_rows === undefined ? null : Number(analyzed.r_rows);
        } catch {
          // MySQL has no ANALYZE <statement>; EXPLAIN's estimate stands alone.
        }
        return { sql, row, tables: 1 + more.length, readRows };
      });
      const { row } = plan;
      const extra = row.Extra ?? '';
      plans.push({
        name,
        statement,
        filter: Object.fromEntries(
          Object.entries(filter).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]),
        ),
        type: row.type,
        key: row.key,
        rows: row.rows === null ? null : Number(row.rows),
        readRows: plan.readRows,
        extra,
        fullScan: row.type === 'ALL' || row.key === null,
        filesort: /filesort/i.test(extra),
        sql: plan.sql,
      });
    }
    return plans;
  } finally {
    await db.close();
  }
}

/** Rows per read of the service's export (dist/ must be built). */
export const exportBatchSize = () => require('../dist/src/operations/search.js').EXPORT_BATCH_SIZE;
