// One JSON log line per request with correlation id, route, status, duration, caller, ErrorCode and what it did.
import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { loggableUrl } from '../logger';
import { locals } from './context';

/**
 * The Express route pattern that answered (`/issuers/:issuerId/accounts/:accountId`), never the URL itself, or
 * null when no route matched. The routers are mounted at the root, so the pattern is the whole path. A route
 * declared for several literal paths reports the one that was requested.
 */
export function routePattern(req: IncomingMessage): string | null {
  const request = req as { route?: { path?: unknown }; path?: unknown };
  const path = request.route?.path;
  if (typeof path === 'string') return path;
  if (Array.isArray(path)) return path.find((p): p is string => typeof p === 'string' && p === request.path) ?? null;
  return null;
}

/**
 * Names what the request did (`account delinked`) with its details (masked account numbers only), written on the
 * request's one completion line: a line per request, and the event never without its status and ErrorCode.
 */
export function logEvent(res: Response, event: string, details: Record<string, unknown>): void {
  locals(res).event = { ...details, event };
}

/** A logger whose lines carry the request's correlation id, for the rare line besides the completion line. */
export function requestLog(res: Response): Logger {
  const l = locals(res);
  l.log ??= l.logger.child({ correlationId: l.correlationId });
  return l.log;
}

export interface Completion {
  route: string | null;
  durationMs: number;
  /** The status the client got; undefined when it got no response at all. */
  sent: number | undefined;
  /** The connection closed before the app's response was finished (a bare status line may have been sent). */
  cutOff: boolean;
  /** The status line and part of the body were sent, then the connection closed: a streamed response cut short. */
  incomplete?: boolean;
}

/**
 * The request's completion line, written when its response is done, or when its connection closed first: then it
 * has no ErrorCode (the client got none), and either the bare status that was sent for it (Node's 408) or, when
 * nothing was, no status and `aborted: true`. Written here rather than by pino-http, which serializes the whole request into child
 * loggers on every request.
 */
export function logCompletion(logger: Logger, req: Request, res: Response, completion: Completion): void {
  const l = locals(res);
  const { route, durationMs, sent, cutOff, incomplete } = completion;
  const { path: url, query } = loggableUrl(req.originalUrl);
  const line = {
    correlationId: l.correlationId,
    req: { method: req.method, url, ...(query !== undefined ? { query } : {}) },
    ...(sent !== undefined ? { res: { statusCode: sent } } : {}),
    durationMs: Math.round(durationMs * 10) / 10,
    route,
    sub: l.principal?.sub ?? null,
    issuerId: l.principal?.issuerId ?? null,
    ...l.event,
    errorCode: cutOff ? null : (l.errorCode ?? null),
    ...(sent === undefined ? { aborted: true } : {}),
    ...(incomplete === true ? { incomplete: true } : {}),
  };
  const message = `${req.method} ${url} ${sent ?? 'aborted'}${incomplete === true ? ' (cut off)' : ''}`;
  if (sent !== undefined && sent >= 500) logger.error(line, message);
  else logger.info(line, message);
}
