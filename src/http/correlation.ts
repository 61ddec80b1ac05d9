// x-correlation-id: validated, echoed on the response, generated when absent.
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError } from '../errors';
import { locals } from './context';

export const CORRELATION_HEADER = 'x-correlation-id';
const CORRELATION_PATTERN = /^[a-zA-Z0-9_\-. ]{1,64}$/;

function isValid(given: unknown): given is string {
  return typeof given === 'string' && CORRELATION_PATTERN.test(given);
}

/** Assigns the request's correlation id (the caller's when valid) before anything logs; never fails. */
export function assignCorrelationId(): RequestHandler {
  return (req, res, next) => {
    const given = req.headers[CORRELATION_HEADER];
    const id = isValid(given) ? given : randomUUID();
    locals(res).correlationId = id;
    // Express routes paths case-insensitively (/ISSUERS/… reaches the issuer API), so the face is chosen the same way.
    locals(res).face = req.path.toLowerCase().startsWith('/issuers/') ? 'issuer' : 'corecredit';
    res.setHeader(CORRELATION_HEADER, id);
    next();
  };
}

/** Refuses a malformed x-correlation-id, once the request log is set up to record the refusal. */
export function rejectInvalidCorrelationId(): RequestHandler {
  return (req, _res, next) => {
    const given = req.headers[CORRELATION_HEADER];
    if (given !== undefined && !isValid(given)) {
      next(
        new AppError('VALIDATION_FAILED', {
          details: [{ field: CORRELATION_HEADER, message: `${CORRELATION_HEADER} must be 1 to 64 letters, digits, spaces or _ - .` }],
        }),
      );
      return;
    }
    next();
  };
}
