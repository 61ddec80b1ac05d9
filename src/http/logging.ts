// One JSON log line per request with correlation id, route, status, duration, caller and ErrorCode.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { maskDigits } from '../logger';
import { locals } from './context';

function outcome(req: IncomingMessage, res: ServerResponse): Record<string, unknown> {
  const l = locals(res as never);
  const route = (req as { route?: { path?: unknown } }).route?.path;
  return {
    route: typeof route === 'string' ? route : null,
    sub: l.principal?.sub ?? null,
    issuerId: l.principal?.issuerId ?? null,
    errorCode: l.errorCode ?? null,
  };
}

export function requestLogger(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId: (_req, res) => res.getHeader('x-correlation-id') as string,
    customAttributeKeys: { reqId: 'correlationId', responseTime: 'durationMs' },
    serializers: {
      req: (req: { method: string; url: string }) => ({ method: req.method, url: maskDigits(req.url) }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    // Known only once the request has been handled: added to the one completion line.
    customSuccessObject: (req, res, value: Record<string, unknown>) => ({ ...value, ...outcome(req, res) }),
    customErrorObject: (req, res, _error, value: Record<string, unknown>) => ({ ...value, ...outcome(req, res) }),
    customLogLevel: (_req, res, err) => (err !== undefined || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessMessage: (req, res) => `${req.method} ${maskDigits(req.url ?? '')} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${maskDigits(req.url ?? '')} ${res.statusCode}`,
  });
}
