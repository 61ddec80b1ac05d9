// Every statement about operations. Each takes the unit of work's manager first.
import type { EntityManager } from 'typeorm';
import { Operation, type OperationKind, type OperationStatus, type RequestorType } from '../db/entities';
import { execute, onMySql, parseDbDate, persistentValue, rowInserter, select } from '../db/statements';
import { consumerKey } from '../links/identifiers';

export const insertOperation: (manager: EntityManager, row: Partial<Operation>) => Promise<number> =
  rowInserter(Operation);

const RECORDED_SQL = 'SELECT status, error_code AS errorCode FROM operations WHERE operation_id = ? LOCK IN SHARE MODE';

/**
 * The outcome an operation recorded, or undefined when no such operation committed. A locking read (MySQL/MariaDB,
 * in a transaction): while the transaction that inserts it is still committing, it waits for that COMMIT's outcome.
 */
export async function recordedOutcome(
  manager: EntityManager,
  operationId: string,
): Promise<{ status: OperationStatus; errorCode: string | null } | undefined> {
  const [row] = await select<{ status: OperationStatus; errorCode: string | null }>(manager, RECORDED_SQL, [
    operationId,
  ]);
  return row;
}

/** An operation as the issuer API shows it: each field and the column it comes from. */
export const OPERATION_VIEW_COLUMNS = {
  operationId: 'operation_id',
  operation: 'operation',
  status: 'status',
  errorCode: 'error_code',
  startTime: 'start_time',
  endTime: 'end_time',
  requestorType: 'requestor_type',
  requestorId: 'requestor_id',
  issuerId: 'issuer_id',
  consumerId: 'consumer_id',
  accountId: 'account_number',
  reason: 'reason',
  reasonCode: 'reason_code',
  source: 'source',
  sessionId: 'session_id',
  ipAddress: 'ip_address',
  externalIp: 'external_ip',
  callerId: 'caller_id',
  calledId: 'called_id',
  correlationId: 'correlation_id',
} as const;

export interface OperationView {
  operationId: string;
  operation: OperationKind;
  status: OperationStatus;
  errorCode: string | null;
  /** ISO 8601, UTC. */
  startTime: string;
  endTime: string;
  requestorType: RequestorType;
  requestorId: string | null;
  issuerId: string;
  consumerId: string | null;
  accountId: string | null;
  reason: string | null;
  reasonCode: string | null;
  source: string | null;
  sessionId: string | null;
  ipAddress: string | null;
  externalIp: string | null;
  callerId: string | null;
  calledId: string | null;
  correlationId: string;
}

const VIEW_SELECT = Object.entries(OPERATION_VIEW_COLUMNS)
  .map(([field, column]) => `${column} AS ${field}`)
  .join(', ');

const CONSUMER_PAGE_SQL = `SELECT ${VIEW_SELECT} FROM operations WHERE issuer_id = ? AND consumer_key = ? ORDER BY id DESC LIMIT ? OFFSET ?`;
const CONSUMER_TOTAL_SQL = 'SELECT COUNT(*) AS total FROM operations WHERE issuer_id = ? AND consumer_key = ?';

type ViewRow = Omit<OperationView, 'startTime' | 'endTime'> & { startTime: Date | string; endTime: Date | string };

const toView = (row: ViewRow): OperationView => ({
  ...row,
  startTime: parseDbDate(row.startTime).toISOString(),
  endTime: parseDbDate(row.endTime).toISOString(),
});

/** A consumer's operations, most recent first; ties broken by the order they were recorded. */
export async function consumerOperations(
  manager: EntityManager,
  issuerId: string,
  consumerId: string,
  page: { offset: number; count: number },
): Promise<{ operations: OperationView[]; total: number }> {
  const key = consumerKey(consumerId);
  const rows = await select<ViewRow>(manager, CONSUMER_PAGE_SQL, [issuerId, key, page.count, page.offset]);
  const [count] = await select<{ total: number | string }>(manager, CONSUMER_TOTAL_SQL, [issuerId, key]);
  return { operations: rows.map(toView), total: Number(count?.total ?? 0) };
}

// ---------------------------------------------------------------------------------------------------------------
// The audit search: an issuer's operations by any combination of filters, newest first, in keyset pages.

/** What the audit search matches; every given filter must hold (AND). */
export interface OperationFilter {
  consumerId?: string;
  accountId?: string;
  operation?: OperationKind;
  status?: OperationStatus;
  errorCode?: string;
  correlationId?: string;
  callerId?: string;
  source?: string;
  /** Operations that started at or after this instant. */
  from?: Date;
  /** Operations that started before this instant. */
  to?: Date;
}

/** Filters compared as recorded: the column, and whether MariaDB's case-insensitive collation must be overruled. */
const EXACT_FILTERS = [
  ['accountId', 'account_number', false],
  ['operation', 'operation', false],
  ['status', 'status', false],
  ['errorCode', 'error_code', false],
  ['correlationId', 'correlation_id', true],
  ['callerId', 'caller_id', true],
  ['source', 'source', true],
] as const satisfies readonly (readonly [keyof OperationFilter, string, boolean])[];

/**
 * The index a search reads (see the OperationSearch migration): that of its most selective filter, ids before codes
 * and enums; the issuer's own when it filters by time only, or not at all.
 */
const SEARCH_INDEXES = [
  ['correlationId', 'ix_operations_correlation'],
  ['accountId', 'ix_operations_account'],
  ['consumerId', 'ix_operations_consumer'],
  ['callerId', 'ix_operations_caller'],
  ['errorCode', 'ix_operations_error_code'],
  ['source', 'ix_operations_source'],
  ['operation', 'ix_operations_operation'],
  ['status', 'ix_operations_status'],
] as const satisfies readonly (readonly [keyof OperationFilter, string])[];

/**
 * The table of a search, with its index named on MySQL/MariaDB. Left to choose, MariaDB reads a page of a large
 * issuer `issuer_id = ? AND id < ?` by ref on the issuer alone and filters the ids, so that every page (every batch
 * of an export) reads again all the rows newer than it, or it intersects two indexes and sorts the matches. Named,
 * the index is read as one range of (issuer, column, id) below the cursor, already newest first.
 */
function searchTable(manager: EntityManager, filter: OperationFilter): string {
  if (!onMySql(manager)) return 'operations';
  const index = SEARCH_INDEXES.find(([field]) => filter[field] !== undefined)?.[1] ?? 'ix_operations_issuer';
  return `operations FORCE INDEX (${index})`;
}

/**
 * The WHERE clause of a search and its parameters. Each filter is an equality on a column that an index leads with
 * (issuer, column, id), so the database reads the matches in newest-first order from that index. Text filters are
 * case-sensitive on every database: on MySQL/MariaDB a binary comparison is added to the indexed one, whose
 * collation ignores case, so that a search answers the same on SQLite and MariaDB.
 */
function searchCondition(
  manager: EntityManager,
  issuerId: string,
  filter: OperationFilter,
  beforeRowId: number | undefined,
): { where: string; parameters: unknown[] } {
  const clauses = ['issuer_id = ?'];
  const parameters: unknown[] = [issuerId];
  if (filter.consumerId !== undefined) {
    clauses.push('consumer_key = ?');
    parameters.push(consumerKey(filter.consumerId));
  }
  for (const [field, column, caseSensitive] of EXACT_FILTERS) {
    const value = filter[field];
    if (value === undefined) continue;
    clauses.push(`${column} = ?`);
    parameters.push(value);
    // The columns not marked case-sensitive hold, and are searched with, values of one case only (digits, the
    // enumerations, ERR and digits), and on SQLite the binary comparison would repeat the equality: adding it to
    // more searches matches the same rows.
    // Stryker disable next-line ConditionalExpression,LogicalOperator: see above (leaving it out is killed).
    if (caseSensitive && onMySql(manager)) {
      clauses.push(`CAST(${column} AS BINARY) = CAST(? AS BINARY)`);
      parameters.push(value);
    }
  }
  if (filter.from !== undefined) {
    clauses.push('start_time >= ?');
    parameters.push(persistentValue(manager, Operation, 'startTime', filter.from));
  }
  if (filter.to !== undefined) {
    clauses.push('start_time < ?');
    parameters.push(persistentValue(manager, Operation, 'startTime', filter.to));
  }
  if (beforeRowId !== undefined) {
    clauses.push('id < ?');
    parameters.push(beforeRowId);
  }
  return { where: clauses.join(' AND '), parameters };
}

/** The SELECT of a search page, as run (the tests and the benchmark EXPLAIN it). */
export function searchStatement(
  manager: EntityManager,
  issuerId: string,
  filter: OperationFilter,
  beforeRowId: number | undefined,
  limit: number,
): { sql: string; parameters: unknown[] } {
  const { where, parameters } = searchCondition(manager, issuerId, filter, beforeRowId);
  return {
    sql: `SELECT id AS rowId, ${VIEW_SELECT} FROM ${searchTable(manager, filter)} WHERE ${where} ORDER BY id DESC LIMIT ?`,
    parameters: [...parameters, limit],
  };
}

/** An operation with its row id, the position a search page continues from. */
export interface PositionedOperation {
  rowId: number;
  operation: OperationView;
}

/** Up to `limit` operations matching `filter` recorded before the row `beforeRowId` (all when undefined), newest first. */
export async function searchPage(
  manager: EntityManager,
  issuerId: string,
  filter: OperationFilter,
  beforeRowId: number | undefined,
  limit: number,
): Promise<PositionedOperation[]> {
  const { sql, parameters } = searchStatement(manager, issuerId, filter, beforeRowId, limit);
  const rows = await select<ViewRow & { rowId: number | string }>(manager, sql, parameters);
  return rows.map(({ rowId, ...row }) => ({ rowId: Number(rowId), operation: toView(row) }));
}

const BY_ID_SQL = `SELECT ${VIEW_SELECT} FROM operations WHERE issuer_id = ? AND operation_id = ?`;

/** One operation of the issuer, or undefined (unknown, or another issuer's). */
export async function findOperation(
  manager: EntityManager,
  issuerId: string,
  operationId: string,
): Promise<OperationView | undefined> {
  const [row] = await select<ViewRow>(manager, BY_ID_SQL, [issuerId, operationId]);
  return row === undefined ? undefined : toView(row);
}

// ---------------------------------------------------------------------------------------------------------------
// Retention.

const RETAINED_ISSUERS_SQL =
  'SELECT issuer_id AS issuerId, MIN(start_time) AS oldest FROM operations GROUP BY issuer_id';

/**
 * The issuers with an operation that started before `cutoff`. Grouped on the (issuer, start_time) index, the
 * database reads one entry per issuer (a loose index scan), not every row.
 */
export async function issuersWithOperationsBefore(manager: EntityManager, cutoff: Date): Promise<string[]> {
  const rows = await select<{ issuerId: string; oldest: Date | string }>(manager, RETAINED_ISSUERS_SQL, []);
  return rows.filter((row) => parseDbDate(row.oldest) < cutoff).map((row) => row.issuerId);
}

/** Deletes up to `limit` of the issuer's operations that started before `cutoff`, oldest first; returns how many. */
export async function deleteOperationsBefore(
  manager: EntityManager,
  issuerId: string,
  cutoff: Date,
  limit: number,
): Promise<number> {
  const rows = await select<{ id: number | string }>(
    manager,
    'SELECT id FROM operations WHERE issuer_id = ? AND start_time < ? ORDER BY start_time LIMIT ?',
    [issuerId, persistentValue(manager, Operation, 'startTime', cutoff), limit],
  );
  if (rows.length === 0) return 0;
  const ids = rows.map((row) => Number(row.id));
  return execute(manager, `DELETE FROM operations WHERE id IN (${ids.map(() => '?').join(', ')})`, ids);
}

/** Rewrites what a PURGE operation says it removed, in the transaction of the batch that removed more. */
export function updatePurgeRecord(
  manager: EntityManager,
  operationId: string,
  reason: string,
  endTime: Date,
): Promise<number> {
  return execute(manager, 'UPDATE operations SET reason = ?, end_time = ? WHERE operation_id = ?', [
    reason,
    persistentValue(manager, Operation, 'endTime', endTime),
    operationId,
  ]);
}
