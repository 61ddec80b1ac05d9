// The one error type of the service and the catalogue of its codes: every distinct cause has its own stable code.

export interface FieldError {
  field: string;
  message: string;
}

interface CatalogueEntry {
  code: string;
  status: number;
  message: string;
}

/**
 * The catalogue. Codes follow CoreCredit's `ERRnnnnn` convention (its documented success code is ERR01093).
 * A code, once published, never changes meaning; docs/error-codes.md lists them for integrators.
 */
export const ERRORS = {
  SUCCESS: { code: 'ERR01093', status: 200, message: 'Return Successfully.' },

  VALIDATION_FAILED: { code: 'ERR01100', status: 400, message: 'The request has invalid fields.' },
  MALFORMED_BODY: { code: 'ERR01101', status: 400, message: 'The request body must be a JSON object.' },
  UNSUPPORTED_API_VERSION: { code: 'ERR01102', status: 400, message: 'The APIVersion is not supported; use "2.0".' },
  WEBHOOK_URL_REFUSED: { code: 'ERR01103', status: 400, message: 'The webhook URL may not be used.' },

  TOKEN_MISSING: { code: 'ERR01110', status: 401, message: 'A bearer token is required.' },
  TOKEN_INVALID: { code: 'ERR01111', status: 401, message: 'The bearer token is not valid.' },
  TOKEN_EXPIRED: { code: 'ERR01112', status: 401, message: 'The bearer token has expired.' },
  TOKEN_NOT_YET_VALID: { code: 'ERR01113', status: 401, message: 'The bearer token is not valid yet.' },
  TOKEN_CLAIMS_INVALID: {
    code: 'ERR01114',
    status: 401,
    message: 'The bearer token lacks a required claim or has a wrong one.',
  },

  SCOPE_MISSING: { code: 'ERR01120', status: 403, message: 'The token does not grant this operation.' },
  USER_NOT_ALLOWED: { code: 'ERR01121', status: 403, message: 'The token may not act for this SSUserID.' },
  ISSUER_NOT_ALLOWED: { code: 'ERR01122', status: 403, message: 'The token may not act for this issuer.' },

  USER_NOT_FOUND: { code: 'ERR01130', status: 404, message: 'The SSUserID is not known.' },
  ACCOUNT_NOT_LINKED: { code: 'ERR01131', status: 404, message: 'The account is not linked to this SSUserID.' },
  ACCOUNT_ALREADY_DELINKED: {
    code: 'ERR01132',
    status: 404,
    message: 'The account is already delinked from this SSUserID.',
  },
  ACCOUNT_NOT_FOUND: { code: 'ERR01133', status: 404, message: 'The account is not registered.' },
  WEBHOOK_NOT_FOUND: { code: 'ERR01136', status: 404, message: 'The webhook subscription does not exist.' },
  EVENT_NOT_FOUND: { code: 'ERR01137', status: 404, message: 'The event does not exist.' },
  OPERATION_NOT_FOUND: { code: 'ERR01170', status: 404, message: 'The operation does not exist.' },
  ROUTE_NOT_FOUND: { code: 'ERR01134', status: 404, message: 'No such endpoint.' },
  METHOD_NOT_ALLOWED: { code: 'ERR01135', status: 405, message: 'This method is not allowed on this endpoint.' },
  NOT_ACCEPTABLE: {
    code: 'ERR01171',
    status: 406,
    message: 'The Accept header asks for no media type this endpoint answers with.',
  },

  MAIN_ACCOUNT: { code: 'ERR01140', status: 409, message: 'The main account cannot be delinked.' },
  ACCOUNT_OF_OTHER_CONSUMER: {
    code: 'ERR01141',
    status: 409,
    message: 'The account is registered to another consumer.',
  },
  IDEMPOTENCY_IN_PROGRESS: {
    code: 'ERR01142',
    status: 409,
    message: 'A request with this Idempotency-Key is still being processed; retry later.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    code: 'ERR01143',
    status: 422,
    message: 'This Idempotency-Key was used with a different request.',
  },

  CONSUMER_NOT_FOUND: { code: 'ERR01180', status: 404, message: 'The consumer is not known.' },
  ACCOUNT_CLOSED: {
    code: 'ERR01181',
    status: 409,
    message: 'The account is CLOSED, which is final: it can only be deleted.',
  },
  CONSUMER_TOO_MANY_ACCOUNTS: {
    code: 'ERR01182',
    status: 409,
    message: 'The consumer has more accounts than one delete may delete; delete some of its accounts first.',
  },

  PAYLOAD_TOO_LARGE: { code: 'ERR01150', status: 413, message: 'The request body is too large.' },
  UNSUPPORTED_MEDIA_TYPE: {
    code: 'ERR01151',
    status: 415,
    message: 'The request body must be application/json in UTF-8.',
  },
  REQUEST_TIMEOUT: { code: 'ERR01152', status: 408, message: 'The request was not received in time.' },

  ACCOUNT_ALREADY_LINKED: { code: 'ERR01175', status: 409, message: 'The account is already linked to this SSUserID.' },
  ACCOUNT_NOT_LINKABLE: {
    code: 'ERR01176',
    status: 404,
    message: 'The account is not registered for this SSUserID and cannot be linked.',
  },
  ACCOUNT_DELETED: {
    code: 'ERR01177',
    status: 409,
    message: 'The issuer deleted the account; it cannot be linked again.',
  },

  RATE_LIMITED: {
    code: 'ERR01160',
    status: 429,
    message: 'Too many requests; retry after the number of seconds in Retry-After.',
  },

  SERVICE_UNAVAILABLE: {
    code: 'ERR01190',
    status: 503,
    message: 'The service is temporarily unavailable; retry later.',
  },
  INTERNAL: { code: 'ERR01199', status: 500, message: 'An unexpected error occurred.' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorName = keyof typeof ERRORS;

/** The catalogue's name for a published code (e.g. the error code an operation recorded, null when none). */
export function errorNameOf(code: string | null): ErrorName | undefined {
  return (Object.keys(ERRORS) as ErrorName[]).find((name) => ERRORS[name].code === code);
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: FieldError[] | undefined;
  /** Seconds a client should wait before retrying (503). */
  readonly retryAfter: number | undefined;

  constructor(
    readonly errorName: ErrorName,
    options: { message?: string; details?: FieldError[]; retryAfter?: number; cause?: unknown } = {},
  ) {
    const entry: CatalogueEntry = ERRORS[errorName];
    // A refusal (4xx) is an answer to the caller, not a fault to trace: it is built without a stack, whose capture
    // was a measurable share of the CPU of a refused request. 5xx errors keep theirs for the log.
    const stackTraceLimit = Error.stackTraceLimit;
    if (entry.status < 500) Error.stackTraceLimit = 0;
    super(options.message ?? entry.message, { cause: options.cause });
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'AppError';
    this.code = entry.code;
    this.status = entry.status;
    this.details = options.details;
    this.retryAfter = options.retryAfter;
  }
}
