// The two response shapes: CoreCredit's envelope for the channels, and the issuer API's error object.
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { AppError, ERRORS } from '../errors';
import { toAppError } from '../operations/operations';
import { bodyParserError } from './body';
import { locals } from './context';
import { requestLog } from './logging';

export interface CoreCreditEnvelope {
  Message: string;
  Status: boolean;
  ErrorCode: string;
  ResponseData: Record<string, unknown>;
}

export function sendCoreCreditSuccess(res: Response, responseData: Record<string, unknown> = {}): void {
  const body: CoreCreditEnvelope = {
    Message: ERRORS.SUCCESS.message,
    Status: true,
    ErrorCode: ERRORS.SUCCESS.code,
    ResponseData: responseData,
  };
  locals(res).errorCode = ERRORS.SUCCESS.code;
  res.status(200).json(body);
}

function errorBody(res: Response, error: AppError): unknown {
  const { face, correlationId } = locals(res);
  if (face === 'issuer') {
    return {
      errorCode: error.code,
      message: error.message,
      correlationId,
      ...(error.details !== undefined ? { errors: error.details } : {}),
    };
  }
  const envelope: CoreCreditEnvelope = {
    Message: error.message,
    Status: false,
    ErrorCode: error.code,
    ResponseData:
      error.details !== undefined ? { Errors: error.details.map((d) => ({ Field: d.field, Message: d.message })) } : {},
  };
  return envelope;
}

/** Express's router could not percent-decode a path parameter (`/issuers/%E0/...`): a malformed request, not a fault. */
function pathDecodeError(error: unknown): AppError | undefined {
  if (!(error instanceof URIError) || (error as URIError & { status?: unknown }).status !== 400) return undefined;
  return new AppError('VALIDATION_FAILED', {
    details: [{ field: 'path', message: 'The request path must be valid percent-encoded UTF-8.' }],
  });
}

/** The one error middleware: AppErrors and anything unknown become the face's error body; 5xx bodies carry no internals. */
export function errorHandler(): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    const error = err instanceof AppError ? err : (bodyParserError(err) ?? pathDecodeError(err) ?? toAppError(err));
    if (error.status >= 500) requestLog(res).error({ err }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    locals(res).errorCode = error.code;
    if (error.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    if (error.retryAfter !== undefined) res.setHeader('Retry-After', String(error.retryAfter));
    res.status(error.status).json(errorBody(res, error));
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
