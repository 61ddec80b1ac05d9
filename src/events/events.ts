// The events the service tells issuers about: their types, and the body built from an operation as it is recorded.
import { randomUUID } from 'node:crypto';
import type { OperationSubject, RequestContext } from '../operations/context';

export const EVENT_TYPES = [
  'account.registered',
  'account.relinked',
  'account.delinked',
  'account.deleted',
  'account.delink_refused',
  'account.linked',
  'account.link_refused',
  'consumer.deleted',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** An event as the feed shows it and a webhook receives it, byte for byte the same on every delivery. */
export interface EventBody {
  id: string;
  type: EventType;
  /** ISO 8601, UTC. */
  createdAt: string;
  issuerId: string;
  data: {
    operationId: string;
    consumerId: string | null;
    accountId: string | null;
    isMainAccount: boolean | null;
    /** The refusal's ErrorCode; null on success. */
    errorCode: string | null;
    reason: string | null;
    reasonCode: string | null;
    channel: { source: string | null; callerId: string | null; calledId: string | null; sessionId: string | null };
    correlationId: string;
  };
}

/**
 * The state change an operation made, as an event type: none for an operation that changed nothing (a refusal, a
 * delete of an account deleted already), except a refused DeLinkAccount or LinkMultipleAccounts, which issuers'
 * fraud teams watch (a cardholder trying account numbers that are not theirs shows as link refusals).
 */
export function eventTypeOf(subject: OperationSubject, refusal: string | null): EventType | undefined {
  switch (subject.operation) {
    case 'DELINK':
      return refusal === null ? 'account.delinked' : 'account.delink_refused';
    case 'LINK':
      return refusal === null ? 'account.linked' : 'account.link_refused';
    case 'DELETE':
      return refusal === null && subject.repeated !== true ? 'account.deleted' : undefined;
    case 'DELETE_CONSUMER':
      return refusal === null ? 'consumer.deleted' : undefined;
    case 'REGISTER':
      if (refusal !== null) return undefined;
      return subject.relinked === true ? 'account.relinked' : 'account.registered';
    // The retention purge changes no account: issuers follow account changes, and read the purge in the audit trail.
    case 'PURGE':
      return undefined;
  }
}

export const newEventId = (): string => `evt_${randomUUID().replaceAll('-', '')}`;

export function buildEvent(
  type: EventType,
  operationId: string,
  ctx: RequestContext,
  subject: OperationSubject,
  refusal: string | null,
  at: Date,
): EventBody {
  return {
    id: newEventId(),
    type,
    createdAt: at.toISOString(),
    issuerId: ctx.issuerId,
    data: {
      operationId,
      consumerId: subject.consumerId,
      accountId: subject.accountNumber,
      isMainAccount: subject.isMainAccount ?? null,
      errorCode: refusal,
      reason: subject.reason ?? null,
      reasonCode: subject.reasonCode ?? null,
      channel: {
        source: ctx.channel?.source ?? null,
        callerId: ctx.channel?.callerId ?? null,
        calledId: ctx.channel?.calledId ?? null,
        sessionId: ctx.channel?.sessionId ?? null,
      },
      correlationId: ctx.correlationId,
    },
  };
}
