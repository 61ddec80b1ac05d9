// Who asked, through which channel, and about what: everything an operation records besides its outcome.
import type { OperationKind, RequestorType } from '../db/entities';

export interface RequestContext {
  issuerId: string;
  requestorType: RequestorType;
  requestorId: string | null;
  correlationId: string;
  /** From the CoreCredit envelope; the issuer API has none. */
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
  /** For the event: whether the account is (or would have been) the consumer's main account; null when unknown. */
  isMainAccount?: boolean | null;
  /** Register: the account was delinked and is linked again. */
  relinked?: boolean;
  /** Delete: the account was DELETED already; the operation changed nothing, so it has no event. */
  repeated?: boolean;
}
