// The responses every face shares: the catalogue-driven error responses (every ErrorCode each status can carry, from
// ERRORS), the error bodies, the response headers, and the path item that answers every other method with a 405.
import { STATUS_CODES } from 'node:http';
import type { RequestBodyObject } from 'openapi3-ts/oas31';
import { ERRORS, type ErrorName } from '../errors';
import { type Scope } from '../http/auth';
import { CORRELATION_HEADER, CORRELATION_PATTERN as CORRELATION_ID_PATTERN } from '../http/correlation';
import type { CoreCreditEnvelope } from '../corecredit/envelope';
import {
  type HeaderObject,
  type JsonSchema,
  NOTHING,
  type OperationObject,
  type PathItem,
  ref,
  type Reference,
  type ResponseObject,
  type Responses,
  viewSchema,
} from './types';

/** Which error body a response carries: the issuer API's, or the CoreCredit envelope (every other path). */
export type Face = 'corecredit' | 'issuer';

export const CORRELATION_PATTERN = CORRELATION_ID_PATTERN.source;
/** As src/http/idempotency.ts checks it. */
export const IDEMPOTENCY_KEY_PATTERN = '^[\\x20-\\x7E]{1,255}$';

export const AUTH: ErrorName[] = [
  'TOKEN_MISSING',
  'TOKEN_INVALID',
  'TOKEN_EXPIRED',
  'TOKEN_NOT_YET_VALID',
  'TOKEN_CLAIMS_INVALID',
  'SCOPE_MISSING',
];
export const BODY: ErrorName[] = ['MALFORMED_BODY', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'REQUEST_TIMEOUT'];
export const IDEMPOTENCY: ErrorName[] = ['IDEMPOTENCY_IN_PROGRESS', 'IDEMPOTENCY_KEY_REUSED'];

export const bearer = (scope: Scope): Record<string, string[]>[] => [{ bearerAuth: [scope] }];
export const NO_TOKEN: Record<string, string[]>[] = [];

const codesOf = (names: readonly ErrorName[]): string[] => names.map((name) => ERRORS[name].code);

export function codeList(names: readonly ErrorName[]): string {
  return names.map((name) => `- \`${ERRORS[name].code}\` ${name}: ${ERRORS[name].message}`).join('\n');
}

export function errorSchema(face: Face, names: readonly ErrorName[]): JsonSchema {
  const base = face === 'issuer' ? 'IssuerError' : 'CoreCreditError';
  const codeField = face === 'issuer' ? 'errorCode' : 'ErrorCode';
  return { allOf: [ref('schemas', base), { type: 'object', properties: { [codeField]: { enum: codesOf(names) } } }] };
}

export interface ErrorOptions {
  /** The endpoint takes Idempotency-Key: any response but a 5xx may be a replay. */
  idempotent?: boolean;
  /** The request passes the rate limiters, which may refuse it (429) and describe their budgets on any response. */
  rateLimited?: boolean;
  /** The 405 of a path item names the methods it allows. */
  allow?: string[];
}

export const LIMITED: ErrorOptions = { rateLimited: true };

export function responseHeaders(
  status: number,
  names: readonly ErrorName[],
  options: ErrorOptions,
): Record<string, HeaderObject | Reference> {
  const headers: Record<string, HeaderObject | Reference> = { [CORRELATION_HEADER]: ref('headers', 'CorrelationId') };
  if (status === 401) headers['WWW-Authenticate'] = ref('headers', 'WWWAuthenticate');
  if (status === 405 && options.allow !== undefined) {
    headers.Allow = {
      description: 'The methods this path accepts.',
      required: true,
      schema: { type: 'string', const: options.allow.join(', ') },
    };
  }
  if (names.includes('SERVICE_UNAVAILABLE') || names.includes('RATE_LIMITED'))
    headers['Retry-After'] = ref('headers', 'RetryAfter');
  else if (names.includes('IDEMPOTENCY_IN_PROGRESS')) {
    headers['Retry-After'] = {
      description: `With \`${ERRORS.IDEMPOTENCY_IN_PROGRESS.code}\`: seconds to wait before retrying.`,
      schema: { type: 'integer', minimum: 0 },
    };
  }
  if (options.idempotent === true && status < 500)
    headers['Idempotent-Replayed'] = ref('headers', 'IdempotentReplayed');
  if (options.rateLimited === true) {
    headers.RateLimit = ref('headers', 'RateLimit');
    headers['RateLimit-Policy'] = ref('headers', 'RateLimitPolicy');
  }
  return headers;
}

/**
 * The error responses of an operation, one per HTTP status, each listing the ErrorCodes it can carry. Every request
 * can meet a malformed x-correlation-id (400) and the unexpected (500), so those two are always there.
 */
export function errorResponses(face: Face, names: readonly ErrorName[], options: ErrorOptions = {}): Responses {
  const all = [
    ...new Set<ErrorName>([
      'VALIDATION_FAILED',
      ...names,
      ...(options.rateLimited === true ? (['RATE_LIMITED'] as const) : []),
      'INTERNAL',
    ]),
  ];
  const statuses = [...new Set(all.map((name) => ERRORS[name].status))].sort((a, b) => a - b);
  const responses: Responses = {};
  for (const status of statuses) {
    const here = all.filter((name) => ERRORS[name].status === status);
    responses[String(status)] = {
      description: `${STATUS_CODES[status] ?? 'Error'}. ErrorCodes:\n\n${codeList(here)}`,
      headers: responseHeaders(status, here, options),
      content: { 'application/json': { schema: errorSchema(face, here) } },
    };
  }
  return responses;
}

/** The responses of any path the document does not list: the issuer body under `/issuers/`, the envelope elsewhere. */
export function unknownPathResponses(): Responses {
  const generic = (status: number, names: ErrorName[], text: string): ResponseObject => ({
    description: `${text} The issuer error on paths under \`/issuers/\`, the CoreCredit envelope elsewhere. ErrorCodes:\n\n${codeList(names)}`,
    headers: responseHeaders(status, names, LIMITED),
    content: {
      'application/json': { schema: { oneOf: [errorSchema('corecredit', names), errorSchema('issuer', names)] } },
    },
  });
  return {
    '400': generic(400, ['VALIDATION_FAILED'], `A malformed \`${CORRELATION_HEADER}\`, checked before routing.`),
    '404': generic(404, ['ROUTE_NOT_FOUND'], 'No such endpoint.'),
    '429': generic(429, ['RATE_LIMITED'], 'The per-client budget is spent.'),
    '500': generic(500, ['INTERNAL'], 'Unexpected.'),
  };
}

export function success(
  description: string,
  schema: JsonSchema | Reference | undefined,
  options: ErrorOptions & { mediaType?: string } = {},
): ResponseObject {
  return {
    description,
    headers: responseHeaders(200, [], options),
    ...(schema !== undefined ? { content: { [options.mediaType ?? 'application/json']: { schema } } } : {}),
  };
}

export const sortResponses = (responses: Responses): Responses =>
  Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b)));

export function pathItem(
  face: Face,
  operations: Partial<Record<'get' | 'put' | 'post' | 'delete', OperationObject>>,
  options: { rateLimited?: boolean } = {},
): PathItem {
  const allow = Object.keys(operations).map((method) => method.toUpperCase());
  return {
    ...operations,
    'x-other-methods': {
      description: `Any method but ${allow.join(', ')}.`,
      responses: errorResponses(face, ['METHOD_NOT_ALLOWED'], { allow, ...options }),
    },
  };
}

export const jsonBody = (
  schemaName: string,
  required: boolean,
  examples?: Record<string, { summary: string; value: unknown }>,
): RequestBodyObject => ({
  required,
  content: {
    'application/json': { schema: ref('schemas', schemaName), ...(examples !== undefined ? { examples } : {}) },
  },
});

// ---------------------------------------------------------------------------------------------------------------
// The error bodies, as src/http/envelope.ts writes them.

/** The issuer API's error body (src/http/envelope.ts). */
interface IssuerErrorBody {
  errorCode: string;
  message: string;
  correlationId: string;
  errors?: { field: string; message: string }[];
}

/** An error's or an operation's correlation id. */
export const CORRELATION_ID_SCHEMA: JsonSchema = {
  type: 'string',
  pattern: CORRELATION_PATTERN,
  description: `The request's \`${CORRELATION_HEADER}\`.`,
};

/** A CoreCredit envelope that says success, around the given ResponseData. */
export function coreCreditSuccess(responseData: JsonSchema): JsonSchema {
  return viewSchema<CoreCreditEnvelope>({
    Message: { const: ERRORS.SUCCESS.message },
    Status: { const: true },
    ErrorCode: { const: ERRORS.SUCCESS.code },
    ResponseData: responseData,
  });
}

export function errorSchemas(): Record<string, JsonSchema> {
  const onValidationFailed = (field: string): JsonSchema => ({
    properties: { [field]: { const: ERRORS.VALIDATION_FAILED.code } },
  });
  return {
    ErrorCode: {
      type: 'string',
      description: 'A stable code per cause; see the catalogue in the API description.',
      enum: Object.values(ERRORS).map((entry) => entry.code),
    },
    CoreCreditFieldError: viewSchema<{ Field: string; Message: string }>({
      Field: { type: 'string', description: 'The field, or the header, that failed.' },
      Message: { type: 'string' },
    }),
    CoreCreditError: {
      ...viewSchema<CoreCreditEnvelope>(
        {
          Message: { type: 'string' },
          Status: { const: false },
          ErrorCode: ref('schemas', 'ErrorCode'),
          ResponseData: {
            type: 'object',
            additionalProperties: false,
            properties: { Errors: { type: 'array', minItems: 1, items: ref('schemas', 'CoreCreditFieldError') } },
          },
        },
        `The CoreCredit envelope of an error. \`ResponseData.Errors\` lists every failing field, and only with \`${ERRORS.VALIDATION_FAILED.code}\`; ` +
          'otherwise `ResponseData` is `{}`.',
      ),
      if: onValidationFailed('ErrorCode'),
      then: {
        properties: { ResponseData: { type: 'object', required: ['Errors'], properties: { Errors: { minItems: 1 } } } },
      },
      else: { properties: { ResponseData: { type: 'object', properties: { Errors: NOTHING } } } },
    },
    IssuerFieldError: viewSchema<NonNullable<IssuerErrorBody['errors']>[number]>({
      field: { type: 'string', description: 'The path, query or body field, or the header, that failed.' },
      message: { type: 'string' },
    }),
    IssuerError: {
      ...viewSchema<IssuerErrorBody>(
        {
          errorCode: ref('schemas', 'ErrorCode'),
          message: { type: 'string' },
          correlationId: CORRELATION_ID_SCHEMA,
          errors: { type: 'array', minItems: 1, items: ref('schemas', 'IssuerFieldError') },
        },
        `An error of the issuer API. \`errors\` lists every failing field, and only with \`${ERRORS.VALIDATION_FAILED.code}\`.`,
      ),
      // `errors` appears only with a validation error: required there, and nowhere else.
      required: ['errorCode', 'message', 'correlationId'],
      if: onValidationFailed('errorCode'),
      then: { required: ['errors'], properties: { errors: { minItems: 1 } } },
      else: { properties: { errors: NOTHING } },
    },
  };
}
