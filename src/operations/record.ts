// The audit trail: every state-changing request records one operation, committed with the change it describes.
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { Database, TransactionOptions } from '../db/database';
import type { Operation } from '../db/entities';
import { AppError, errorNameOf } from '../errors';
import { buildEvent, eventTypeOf } from '../events/events';
import { insertEvent } from '../events/outbox-repository';
import { consumerKey } from '../links/identifiers';
import type { OperationSubject, RequestContext } from './context';
import { insertOperation, recordedOutcome } from './operation-repository';

/**
 * What the work inside an operation's transaction decided: done, or refused (the refusal is recorded, then thrown).
 * `also` are the further changes a successful request made, each recorded as an operation of its own with its event,
 * in the same transaction, before the request's own operation: a consumer delete records one per account it deleted.
 */
export type Outcome<T> =
  | { ok: true; value: T; subject?: Partial<OperationSubject>; also?: OperationSubject[] }
  | { ok: false; error: AppError; subject?: Partial<OperationSubject> };

export const done = <T>(value: T, subject?: Partial<OperationSubject>, also?: OperationSubject[]): Outcome<T> => ({
  ok: true,
  value,
  subject,
  also,
});
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

/** The event of the state change (or the refused delink) an operation records, written in its transaction. */
async function recordEvent(
  manager: EntityManager,
  operationId: string,
  ctx: RequestContext,
  subject: OperationSubject,
  failure: AppError | null,
): Promise<void> {
  const type = eventTypeOf(subject, failure?.code ?? null);
  if (type === undefined) return;
  const now = new Date();
  await insertEvent(manager, buildEvent(type, operationId, ctx, subject, failure?.code ?? null, now), now);
}

/**
 * What an operation that committed recorded, as its transaction would have returned it; undefined when none
 * committed. The use cases return nothing but their operation id, so the record alone answers as they would have.
 */
async function committedOutcome(manager: EntityManager, operationId: string): Promise<Outcome<void> | undefined> {
  const recorded = await recordedOutcome(manager, operationId);
  if (recorded === undefined) return undefined;
  if (recorded.status === 'SUCCESSFUL') return done(undefined);
  return refused(new AppError(errorNameOf(recorded.errorCode) ?? 'INTERNAL'));
}

/**
 * Runs `work` in one transaction and records its operation, and its event, in that same transaction, so a change
 * never exists without its record and its event. A refusal commits its FAILED record and is then thrown. When the
 * transaction itself fails,
 * a FAILED record is written in a transaction of its own; if even that cannot be written, the original error stands.
 * The operation id is chosen before the transaction: when its COMMIT goes unanswered, the record under that id says
 * whether it committed, and the caller gets that answer rather than a 503 for a change that was made.
 */
export async function recordOperation(
  db: Database,
  ctx: RequestContext,
  subject: OperationSubject,
  work: (manager: EntityManager) => Promise<Outcome<void>>,
  options?: Omit<TransactionOptions, 'verify'>,
): Promise<{ operationId: string }> {
  const operationId = randomUUID();
  const startTime = new Date();
  let outcome: Outcome<void>;
  try {
    outcome = await db.transaction(
      async (manager) => {
        const result = await work(manager);
        for (const change of result.ok ? (result.also ?? []) : []) {
          const changeId = randomUUID();
          await insertOperation(manager, operationRow(changeId, ctx, change, startTime, null));
          await recordEvent(manager, changeId, ctx, change, null);
        }
        const failure = result.ok ? null : result.error;
        const recorded = { ...subject, ...result.subject };
        await insertOperation(manager, operationRow(operationId, ctx, recorded, startTime, failure));
        await recordEvent(manager, operationId, ctx, recorded, failure);
        return result;
      },
      { ...options, verify: (manager) => committedOutcome(manager, operationId) },
    );
  } catch (error) {
    // Only its code is recorded; the error itself is thrown on, to be answered and logged.
    const failure = error instanceof AppError ? error : new AppError('INTERNAL');
    await db
      .transaction((manager) => insertOperation(manager, operationRow(operationId, ctx, subject, startTime, failure)))
      .catch(() => undefined);
    throw error;
  }
  if (!outcome.ok) throw outcome.error;
  return { operationId };
}
