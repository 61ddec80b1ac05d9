// The first middleware of every request: its correlation id (x-correlation-id, echoed, generated when absent, empty
// or malformed), and once its response is done, its one log line and its count in the metrics, timed from one clock.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { AppError } from '../errors';
import { locals } from './context';
import { logCompletion, routePattern } from './logging';
import type { HttpMetrics } from './metrics';

export const CORRELATION_HEADER = 'x-correlation-id';
export const CORRELATION_PATTERN = /^[a-zA-Z0-9_\-. ]{1,64}$/;

function isValid(given: unknown): given is string {
  return typeof given === 'string' && CORRELATION_PATTERN.test(given);
}

/**
 * Assigns the correlation id (the caller's when valid, a new one otherwise) before anything can answer, so that every
 * answer, refusals included, carries one.
 */
export function observeRequests(logger: Logger, metrics: HttpMetrics): RequestHandler {
  return (req, res, next) => {
    const start = performance.now();
    const given = req.headers[CORRELATION_HEADER];
    const id = isValid(given) ? given : randomUUID();
    const l = locals(res);
    l.correlationId = id;
    l.logger = logger;
    res.setHeader(CORRELATION_HEADER, id);
    // 'close' follows 'finish' for a response that was sent, and comes alone for one the client abandoned.
    res.once('close', () => {
      const durationMs = performance.now() - start;
      const route = routePattern(req);
      if (res.writableFinished) metrics.observe(req, res, route, durationMs / 1000);
      logCompletion(logger, req, res, route, durationMs);
    });
    next();
  };
}

/** The API faces refuse a malformed correlation id (in their own error shape); probes and docs never do. */
export function checkCorrelationId(): RequestHandler {
  return (req, _res, next) => {
    const given = req.headers[CORRELATION_HEADER];
    // Gateways and test tools send empty headers: an empty correlation id is an absent one, and one is generated.
    if (given === undefined || given === '' || isValid(given)) return next();
    next(
      new AppError('VALIDATION_FAILED', {
        details: [
          {
            field: CORRELATION_HEADER,
            message: `${CORRELATION_HEADER} must be 1 to 64 letters, digits, spaces or _ - .`,
          },
        ],
      }),
    );
  };
}
