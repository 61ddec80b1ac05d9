// Every statement about operations. Each takes the unit of work's manager first.
import type { EntityManager } from 'typeorm';
import { Operation, type OperationKind, type OperationStatus, type RequestorType } from '../db/entities';
import { parseDbDate, rowInserter, select } from '../db/statements';
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
