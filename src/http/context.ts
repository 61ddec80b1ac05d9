// What the HTTP layer learns about a request and hands to the next step: correlation id, caller, API face.
import type { Response } from 'express';

export interface Principal {
  sub: string | null;
  issuerId: string;
  scopes: ReadonlySet<string>;
  /** Set when the token may act for this one SSUserID only. */
  ssUserId: string | undefined;
}

export type Face = 'corecredit' | 'issuer';

export interface RequestLocals {
  correlationId: string;
  principal?: Principal;
  face: Face;
  /** The ErrorCode the response carried, for the request log line. */
  errorCode?: string;
}

export function locals(res: Response): RequestLocals {
  return res.locals as RequestLocals;
}

export function principalOf(res: Response): Principal {
  const principal = locals(res).principal;
  if (principal === undefined) throw new Error('route reached without authentication');
  return principal;
}
