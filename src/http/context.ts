// What the HTTP layer learns about a request and hands to the next step: correlation id, caller, outcome.
import type { Response } from 'express';
import type { Logger } from 'pino';

export interface Principal {
  sub: string | null;
  issuerId: string;
  scopes: ReadonlySet<string>;
  /** Set when the token may act for this one SSUserID only. */
  ssUserId: string | undefined;
}

export interface RequestLocals {
  correlationId: string;
  /** The service's logger; `requestLog(res)` derives the request's own from it when a handler has a line to write. */
  logger: Logger;
  log?: Logger;
  principal?: Principal;
  /** The request's validated input, parsed before anything runs for it (`parseInput`). */
  input?: unknown;
  /** The ErrorCode the response carried, for the request log line. */
  errorCode?: string;
  /** What the request did (`account delinked`, …) and its details, for the request log line. */
  event?: { event: string } & Record<string, unknown>;
  /** Set once a streamed response (an export) flushed its status line: a cut-off after it is an incomplete body. */
  streaming?: boolean;
}

export function locals(res: Response): RequestLocals {
  return res.locals as RequestLocals;
}

export function principalOf(res: Response): Principal {
  const principal = locals(res).principal;
  if (principal === undefined) throw new Error('route reached without authentication');
  return principal;
}
