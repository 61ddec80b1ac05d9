// The issuer API's error object.
import { locals } from '../http/context';
import type { ErrorBody } from '../http/errors';

export const issuerError: ErrorBody = (error, res) => ({
  errorCode: error.code,
  message: error.message,
  correlationId: locals(res).correlationId,
  ...(error.details !== undefined ? { errors: error.details } : {}),
});
