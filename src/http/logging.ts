// One JSON log line per request with correlation id, route, status, duration, caller and ErrorCode.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { maskDigits } from '../logger';
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

function outcome(req: IncomingMessage, res: ServerResponse): Record<string, unknown> {
  const l = locals(res as never);
  return {
    route: routePattern(req),
    sub: l.principal?.sub ?? null,
    issuerId: l.principal?.issuerId ?? null,
    errorCode: l.errorCode ?? null,
  };
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? maskDigits(value) : undefined);

/**
 * Errors keep their type, message, stack and driver codes only. A TypeORM QueryFailedError also carries the SQL,
 * its parameters and the driver's error with the SQL inlined: account numbers, which must never be logged.
 * Messages can quote values too ("Duplicate entry '…'"), so digits are masked there as well.
 */
export function safeError(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const err = value as Record<string, unknown> & { driverError?: Record<string, unknown> };
  const driver = err.driverError ?? err;
  return {
    type: typeof err.type === 'string' ? err.type : (err.constructor?.name ?? err.name),
    message: text(err.message),
    stack: text(err.stack),
    code: typeof driver.code === 'string' || typeof driver.code === 'number' ? driver.code : undefined,
    errno: typeof driver.errno === 'number' ? driver.errno : undefined,
  };
}

export function requestLogger(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId: (_req, res) => res.getHeader('x-correlation-id') as string,
    // Binds the correlation id to req.log (every line a handler writes) and to the completion line; req.log
    // itself carries no request details, which the completion line of the same correlation id has.
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'correlationId', responseTime: 'durationMs' },
    serializers: {
      req: (req: { method: string; url: string }) => ({ method: req.method, url: maskDigits(req.url) }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      err: safeError,
    },
    // Known only once the request has been handled: added to the one completion line.
    customSuccessObject: (req, res, value: Record<string, unknown>) => ({ ...value, ...outcome(req, res) }),
    customErrorObject: (req, res, _error, value: Record<string, unknown>) => ({ ...value, ...outcome(req, res) }),
    customLogLevel: (_req, res, err) => (err !== undefined || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessMessage: (req, res) => `${req.method} ${maskDigits(req.url ?? '')} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${maskDigits(req.url ?? '')} ${res.statusCode}`,
  });
}
