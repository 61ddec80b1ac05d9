// The first middleware of every request: its correlation id (x-correlation-id, echoed, generated when absent, empty
// or malformed), and once its response is done, its one log line and its count in the metrics, timed from one clock.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { AppError } from '../errors';
import { cutOffStatus, trackExchange } from './client-errors';
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
    trackExchange(req.socket, res);
    // 'finish': the whole response was handed to the connection. 'close' follows it for a response that was sent, and
    // comes alone when the connection closed first: the client went away, the server was stopped, or Node cut the
    // request off (with a bare status line or none). The app may still have set a status then (the body parser sees
    // an aborted stream: 400), but the client never got it: only what was sent is logged and counted.
    let finished = false;
    res.once('finish', () => (finished = true));
    res.once('close', () => {
      const durationMs = performance.now() - start;
      const route = routePattern(req);
      // A streamed response (an export) cut off after its status line went out: the client got that status, and an
      // incomplete body.
      const incomplete = !finished && locals(res).streaming === true;
      const sent = finished || incomplete ? res.statusCode : cutOffStatus(req.socket, res);
      if (sent !== undefined) metrics.observe(req, sent, route, durationMs / 1000);
      logCompletion(logger, req, res, { route, durationMs, sent, cutOff: !finished, incomplete });
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
