// The audit trail: every state-changing request records one operation, committed with the change it describes.
import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { Operation, type OperationKind, type RequestorType } from '../db/entities';
import { rowInserter } from '../db/statements';
import { inTransaction, read, RETRY_AFTER_SECONDS, type TransactionOptions } from '../db/transaction';
import { AppError } from '../errors';
import { consumerKey } from '../links/identifiers';

/** Who asked, through which channel: everything an operation records that is not the outcome. */
export interface RequestContext {
  issuerId: string;
  requestorType: RequestorType;
  requestorId: string | null;
  correlationId: string;
  channel?: {
    source: string;
    sessionId: string | null;
    ipAddress: string | null;
    externalIp: string;
    callerId: string | null;
    calledId: string | null;
  };
}

export interface OperationSubject {
  operation: OperationKind;
  consumerId: string | null;
  accountNumber: string | null;
  reason?: string | null;
  reasonCode?: string | null;
}

/** What the work inside an operation's transaction decided: done, or refused (the refusal is recorded and then thrown). */
export type Outcome<T> =
  | { ok: true; value: T; subject?: Partial<OperationSubject> }
  | { ok: false; error: AppError; subject?: Partial<OperationSubject> };

export const done = <T>(value: T, subject?: Partial<OperationSubject>): Outcome<T> => ({ ok: true, value, subject });
export const refused = (error: AppError, subject?: Partial<OperationSubject>): Outcome<never> => ({
  ok: false,
  error,
  subject,
});

function operationRow(
  operationId: string,
  ctx: RequestContext,
  subject: OperationSubject,
  startTime: Date,
  failure: AppError | null,
): Partial<Operation> {
  return {
    operationId,
    operation: subject.operation,
    status: failure === null ? 'SUCCESSFUL' : 'FAILED',
    errorCode: failure?.code ?? null,
    startTime,
    endTime: new Date(),
    requestorType: ctx.requestorType,
    requestorId: ctx.requestorId,
    issuerId: ctx.issuerId,
    consumerId: subject.consumerId,
    consumerKey: subject.consumerId === null ? null : consumerKey(subject.consumerId),
    accountNumber: subject.accountNumber,
    reason: subject.reason ?? null,
    reasonCode: subject.reasonCode ?? null,
    source: ctx.channel?.source ?? null,
    sessionId: ctx.channel?.sessionId ?? null,
    ipAddress: ctx.channel?.ipAddress ?? null,
    externalIp: ctx.channel?.externalIp ?? null,
    callerId: ctx.channel?.callerId ?? null,
    calledId: ctx.channel?.calledId ?? null,
    correlationId: ctx.correlationId,
  };
}

const insertOperation = rowInserter(Operation);

/**
 * Runs `work` in one transaction and records its operation in that same transaction, so a change never exists
 * without its record. A refusal commits its FAILED record and is then thrown. When the transaction itself fails,
 * a FAILED record is written in a transaction of its own; if even that cannot be written, the original error stands.
 */
export async function recordedOperation<T>(
  dataSource: DataSource,
  ctx: RequestContext,
  subject: OperationSubject,
  work: (manager: EntityManager) => Promise<Outcome<T>>,
  options?: TransactionOptions,
): Promise<{ value: T; operationId: string }> {
  const operationId = randomUUID();
  const startTime = new Date();
  let outcome: Outcome<T>;
  try {
    outcome = await inTransaction(
      dataSource,
      async (manager) => {
        const result = await work(manager);
        const failure = result.ok ? null : result.error;
        await insertOperation(
          manager,
          operationRow(operationId, ctx, { ...subject, ...result.subject }, startTime, failure),
        );
        return result;
      },
      options,
    );
  } catch (error) {
    const failure = error instanceof AppError ? error : toAppError(error);
    await inTransaction(dataSource, (manager) =>
      insertOperation(manager, operationRow(operationId, ctx, subject, startTime, failure)),
    ).catch(() => undefined);
    throw error;
  }
  if (!outcome.ok) throw outcome.error;
  return { value: outcome.value, operationId };
}

/** Connection-level failures: the database is away or too slow, which the caller may retry. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_LOCK_DEADLOCK',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
]);

export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: unknown; driverError?: { code?: unknown }; fatal?: unknown };
  const code = e?.driverError?.code ?? e?.code;
  return (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) || e?.fatal === true;
}

/** Maps anything thrown below the HTTP layer to the catalogue: database away → 503, the rest → 500. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (isDatabaseUnavailable(error))
    return new AppError('SERVICE_UNAVAILABLE', { retryAfter: RETRY_AFTER_SECONDS, cause: error });
  return new AppError('INTERNAL', { cause: error });
}

export interface OperationView {
  operationId: string;
  operation: OperationKind;
  status: string;
  errorCode: string | null;
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

function toView(row: Operation): OperationView {
  return {
    operationId: row.operationId,
    operation: row.operation,
    status: row.status,
    errorCode: row.errorCode,
    startTime: row.startTime.toISOString(),
    endTime: row.endTime.toISOString(),
    requestorType: row.requestorType,
    requestorId: row.requestorId,
    issuerId: row.issuerId,
    consumerId: row.consumerId,
    accountId: row.accountNumber,
    reason: row.reason,
    reasonCode: row.reasonCode,
    source: row.source,
    sessionId: row.sessionId,
    ipAddress: row.ipAddress,
    externalIp: row.externalIp,
    callerId: row.callerId,
    calledId: row.calledId,
    correlationId: row.correlationId,
  };
}

/** A consumer's operations, most recent first; ties broken by the order they were recorded. */
export function listOperations(
  dataSource: DataSource,
  issuerId: string,
  consumerId: string,
  page: { offset: number; count: number },
): Promise<{ operations: OperationView[]; total: number }> {
  return read(dataSource, async (manager) => {
    const [rows, total] = await manager.findAndCount(Operation, {
      where: { issuerId, consumerKey: consumerKey(consumerId) },
      order: { id: 'DESC' },
      skip: page.offset,
      take: page.count,
    });
    return { operations: rows.map(toView), total };
  });
}
