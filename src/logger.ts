// Structured JSON logs with pino. Account numbers appear as their last four digits only; tokens never appear.
import pino, { type DestinationStream, type Logger } from 'pino';

/** The service's logger; lines go to standard output unless another destination is given. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'corecredit-account-links' },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: safeError },
    // A safety net: no line is built from headers, tokens or secrets. Named paths only; wildcard paths made pino walk
    // every object of every line, which more than doubled the cost of the request log line.
    redact: {
      paths: ['authorization', 'token', 'secret', 'password', 'req.headers.authorization', 'req.headers.cookie'],
      censor: '[redacted]',
    },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** `8000000000000227` → `************0227`. */
export function maskAccountNumber(value: string): string {
  return value.length <= 4 ? value : `${'*'.repeat(value.length - 4)}${value.slice(-4)}`;
}

/** Masks every run of five or more digits in free text such as a URL path (account and user numbers). */
export function maskDigits(text: string): string {
  return text.replace(/\d{5,}/g, maskAccountNumber);
}

const utf8 = new TextDecoder('utf-8');

/**
 * Percent-decodes text as UTF-8 and never throws: an escape that is malformed (`%E0` alone, `%zz`) stays as it was
 * sent or becomes U+FFFD, so `7%30%30…` reads `700…` and its digits can be masked. For logging only.
 */
export function percentDecode(text: string): string {
  if (!text.includes('%')) return text;
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
    return utf8.decode(bytes);
  });
}

/** What a query parameter's name may be to be logged; anything else (a token sent as a bare `?eyJ…`) is not. */
const LOGGABLE_NAME = /^[A-Za-z0-9_.[\]-]{1,32}$/;

/**
 * A request URL fit for the log: the path percent-decoded, then its digit runs masked; the query string never as
 * sent, only its parameter names (values dropped, names that do not read as names redacted).
 */
export function loggableUrl(url: string): { path: string; query: string[] | undefined } {
  const mark = url.indexOf('?');
  const path = maskDigits(percentDecode(mark < 0 ? url : url.slice(0, mark)));
  if (mark < 0) return { path, query: undefined };
  const query = url
    .slice(mark + 1)
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const name = percentDecode(pair.split('=', 1)[0]!.replace(/\+/g, ' '));
      return LOGGABLE_NAME.test(name) ? maskDigits(name) : '[redacted]';
    });
  return { path, query };
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
