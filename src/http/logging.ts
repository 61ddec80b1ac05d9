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

/**
 * The request's completion line, written when its response is done (or abandoned by the client, `aborted`). Written
 * here rather than by pino-http, which serializes the whole request into child loggers on every request.
 */
export function logCompletion(
  logger: Logger,
  req: Request,
  res: Response,
  route: string | null,
  durationMs: number,
): void {
  const l = locals(res);
  const { path: url, query } = loggableUrl(req.originalUrl);
  const status = res.statusCode;
  const line = {
    correlationId: l.correlationId,
    req: { method: req.method, url, ...(query !== undefined ? { query } : {}) },
    res: { statusCode: status },
    durationMs: Math.round(durationMs * 10) / 10,
    route,
    sub: l.principal?.sub ?? null,
    issuerId: l.principal?.issuerId ?? null,
    errorCode: l.errorCode ?? null,
    ...l.event,
    ...(res.writableFinished ? {} : { aborted: true }),
  };
  const message = `${req.method} ${url} ${status}`;
  if (status >= 500) logger.error(line, message);
  else logger.info(line, message);
}
