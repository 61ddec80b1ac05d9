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
