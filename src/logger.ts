// Structured JSON logs with pino. Account numbers appear as their last four digits only; tokens never appear.
import pino, { type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'corecredit-account-links' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', '*.authorization', '*.token', '*.secret', '*.password'], censor: '[redacted]' },
  });
}

/** `8000000000000227` → `************0227`. */
export function maskAccountNumber(value: string): string {
  return value.length <= 4 ? value : `${'*'.repeat(value.length - 4)}${value.slice(-4)}`;
}

/** Masks every run of five or more digits in free text such as a URL path (account and user numbers). */
export function maskDigits(text: string): string {
  return text.replace(/\d{5,}/g, maskAccountNumber);
}
