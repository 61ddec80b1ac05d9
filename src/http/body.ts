// JSON bodies: content type and charset checked (415), size bounded (413), anything but a JSON object refused (400).
import express, { type RequestHandler } from 'express';
import { AppError } from '../errors';
import { onRequestTimeout } from './client-errors';

export const BODY_LIMIT = '16kb';

const parseJson = express.json({ limit: BODY_LIMIT, strict: false, type: () => true });

/**
 * Whether a JSON content type declares no charset or UTF-8 (RFC 8259: JSON exchanged between systems is UTF-8).
 * body-parser alone would decode any `utf-*` charset, UTF-16 included.
 */
function declaresUtf8(contentType: string | undefined): boolean {
  for (const parameter of (contentType ?? '').split(';').slice(1)) {
    const eq = parameter.indexOf('=');
    if (eq < 0 || parameter.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const value = parameter
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    if (value.toLowerCase() !== 'utf-8') return false;
  }
  return true;
}

function hasBody(headers: Record<string, unknown>): boolean {
  return (
    headers['transfer-encoding'] !== undefined ||
    (headers['content-length'] !== undefined && headers['content-length'] !== '0')
  );
}

/**
 * Parses a JSON object body. With `optional`, a request without any body is taken as `{}` (an endpoint whose
 * every body field is optional); otherwise an absent body is a 400.
 */
export function jsonObjectBody(options: { optional?: boolean } = {}): RequestHandler[] {
  return [
    (req, _res, next) => {
      if (!hasBody(req.headers)) {
        req.body = undefined;
        return next(options.optional === true ? undefined : new AppError('MALFORMED_BODY'));
      }
      if (req.is('application/json') === false || req.is('application/json') === null)
        return next(new AppError('UNSUPPORTED_MEDIA_TYPE'));
      if (!declaresUtf8(req.headers['content-type'])) return next(new AppError('UNSUPPORTED_MEDIA_TYPE'));
      next();
    },
    (req, res, next) => {
      if (!hasBody(req.headers)) {
        req.body = {};
        return next();
      }
      // Once only: the request timeout may answer while the parser still waits for the rest of the body.
      let settled = false;
      const settle = (error?: unknown): void => {
        if (settled) return;
        settled = true;
        release();
        next(error);
      };
      // The body did not arrive within the server's request timeout: 408 in the face's shape, and the connection,
      // with the rest of a body that will never be read, is closed after it.
      const release = onRequestTimeout(req.socket, res, () => {
        res.setHeader('Connection', 'close');
        settle(new AppError('REQUEST_TIMEOUT'));
      });
      // Every refusal of the parser is the caller's (a 4xx); kinds it has no type for, such as a gzip or br body that
      // does not decompress, are a body that could not be read.
      parseJson(req, res, (error?: unknown) => {
        if (error === undefined) return settle();
        settle(
          bodyParserError(error) ??
            new AppError('MALFORMED_BODY', { message: 'The request body could not be read.', cause: error }),
        );
      });
    },
    (req, _res, next) => {
      const body: unknown = req.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) return next(new AppError('MALFORMED_BODY'));
      next();
    },
  ];
}

/** Maps body-parser's errors onto the catalogue. */
export function bodyParserError(error: unknown): AppError | undefined {
  const type = (error as { type?: unknown })?.type;
  switch (type) {
    case 'entity.too.large':
      return new AppError('PAYLOAD_TOO_LARGE', { message: `The request body is larger than ${BODY_LIMIT}.` });
    case 'entity.parse.failed':
      return new AppError('MALFORMED_BODY', { message: 'The request body is not valid JSON.' });
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new AppError('UNSUPPORTED_MEDIA_TYPE');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
    case 'stream.not.readable':
      return new AppError('MALFORMED_BODY', { message: 'The request body could not be read.' });
    default:
      return undefined;
  }
}
