// The one error middleware, and the refusals every router shares (unknown route, wrong method). The body's shape is
// the face's: each face mounts the handler with its own.
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { AppError } from '../errors';
import { bodyParserError } from './body';
import { locals } from './context';
import { requestLog } from './logging';

/** Turns an error into the body the face answers with. */
export type ErrorBody = (error: AppError, res: Response) => unknown;

/** Express's router could not percent-decode a path parameter (`/issuers/%E0/...`): a malformed request, not a fault. */
function pathDecodeError(error: unknown): AppError | undefined {
  if (!(error instanceof URIError) || (error as URIError & { status?: unknown }).status !== 400) return undefined;
  return new AppError('VALIDATION_FAILED', {
    details: [{ field: 'path', message: 'The request path must be valid percent-encoded UTF-8.' }],
  });
}

/**
 * AppErrors and anything unknown become the face's error body; 5xx bodies carry no internals. The database layer has
 * already turned its outages into 503s: whatever else is not an AppError is a fault of the code.
 */
export function errorHandler(body: ErrorBody): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    const error =
      err instanceof AppError
        ? err
        : (bodyParserError(err) ?? pathDecodeError(err) ?? new AppError('INTERNAL', { cause: err }));
    if (error.status >= 500) requestLog(res).error({ err }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    locals(res).errorCode = error.code;
    if (error.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    if (error.retryAfter !== undefined) res.setHeader('Retry-After', String(error.retryAfter));
    res.status(error.status).json(body(error, res));
  };
}

export function routeNotFound(): RequestHandler {
  return (_req, _res, next) => next(new AppError('ROUTE_NOT_FOUND'));
}

export function methodNotAllowed(allowed: string[]): RequestHandler {
  return (_req, res, next) => {
    res.setHeader('Allow', allowed.join(', '));
    next(new AppError('METHOD_NOT_ALLOWED'));
  };
}
