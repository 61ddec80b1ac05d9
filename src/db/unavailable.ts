// The one answer the database layer gives when it cannot do the work now: a 503 that tells the client when to retry.
import { AppError } from '../errors';

/** Seconds a client is told to wait after a 503 from the database. */
export const RETRY_AFTER_SECONDS = 2;

export const unavailable = (message?: string, cause?: unknown): AppError =>
  new AppError('SERVICE_UNAVAILABLE', {
    retryAfter: RETRY_AFTER_SECONDS,
    cause,
    ...(message !== undefined ? { message } : {}),
  });
