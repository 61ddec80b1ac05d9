// The service's OpenAPI 3.1 document, built in code from the route paths, the DTOs' rules and the ERRORS catalogue.
import { STATUS_CODES } from 'node:http';
import { getMetadataStorage } from 'class-validator';
import { ISO_4217_NUMERIC } from '../corecredit/currency-codes';
import { DeLinkAccountDto, ENVELOPE_FIELDS, GetLinkAccountsDto, SUPPORTED_API_VERSION } from '../corecredit/dto';
import { DELINK_PATH, GET_LINKS_PATH } from '../corecredit/routes';
import { ERRORS, type ErrorName } from '../errors';
import { type Scope } from '../http/auth';
import { ACCOUNT_NUMBER_PATTERN, CONSUMER_ID_PATTERN, ISSUER_ID_PATTERN } from '../links/identifiers';
import { BODY_LIMIT } from '../http/body';
import { CORRELATION_HEADER, CORRELATION_PATTERN as CORRELATION_ID_PATTERN } from '../http/correlation';
import {
  ACCOUNT_PATH_FIELDS,
  AccountPathDto,
  CONSUMER_PATH_FIELDS,
  ConsumerPathDto,
  DELETE_FIELDS,
  DeleteAccountDto,
  OPERATIONS_QUERY_FIELDS,
  OperationsQueryDto,
  REGISTER_FIELDS,
  RegisterAccountDto,
} from '../issuer/dto';
import { ACCOUNT_PATH, DELETE_PATH, OPERATIONS_PATH } from '../issuer/routes';
import { version } from '../../package.json';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PATH = '/docs';
/** The docs page's own initializer, served from code so the page needs no inline script. */
export const DOCS_INIT_SCRIPT = 'docs-init.js';
/** The files of swagger-ui-dist the docs page loads, and nothing else from that folder. */
export const SWAGGER_UI_ASSETS = ['swagger-ui.css', 'swagger-ui-bundle.js'] as const;
export const DOCS_ASSETS = [...SWAGGER_UI_ASSETS, DOCS_INIT_SCRIPT] as const;

export type JsonSchema = { [keyword: string]: unknown };
export type Reference = { $ref: string };
export interface HeaderObject {
  description?: string;
  required?: boolean;
  schema: JsonSchema;
}
export interface ResponseObject {
  description: string;
  headers?: Record<string, HeaderObject | Reference>;
  content?: Record<string, { schema: JsonSchema; examples?: Record<string, { summary?: string; value: unknown }> }>;
}
export type Responses = Record<string, ResponseObject | Reference>;
export interface OperationObject {
  operationId: string;
  tags: string[];
  summary: string;
  description: string;
  security: Record<string, string[]>[];
  parameters?: (Reference | Record<string, unknown>)[];
  requestBody?: Record<string, unknown>;
  responses: Responses;
}
/** A path item, plus `x-other-methods`: what any method the item does not list answers. */
export interface PathItem {
  get?: OperationObject;
  put?: OperationObject;
  post?: OperationObject;
  'x-other-methods': { description: string; responses: Responses };
}
export interface OpenApiDocument {
  openapi: string;
  info: Record<string, unknown>;
  servers: { url: string; description: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, PathItem>;
  components: {
    schemas: Record<string, JsonSchema>;
    parameters: Record<string, Record<string, unknown>>;
    headers: Record<string, HeaderObject>;
    securitySchemes: Record<string, Record<string, unknown>>;
  };
  /** What a request to a path the document does not list answers. */
  'x-unknown-paths': { description: string; responses: Responses };
}

const ref = (kind: 'schemas' | 'parameters' | 'headers', name: string): Reference => ({
  $ref: `#/components/${kind}/${name}`,
});

/** An Express path (`/issuers/:issuerId/…/operations\\:delete`) as an OpenAPI path template. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/(?<!\\):([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}').replace(/\\:/g, ':');
}

// ---------------------------------------------------------------------------------------------------------------
// Request schemas, read from the DTOs' class-validator rules so that the document states what the service enforces.

type DtoClass = new () => object;
type ValidationRule = ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>[number];

/** RequestTime's form; whether the date exists on the calendar (no 02/30) only the service can tell. */
const REQUEST_TIME_PATTERN =
  '^(0[1-9]|1[0-2])/(0[1-9]|[12][0-9]|3[01])/(?!0000)[0-9]{4} ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$';

/** JSON Schema patterns carry no flags: a case-insensitive rule is spelled out letter by letter. */
function jsonPattern(regex: RegExp): string {
  if (regex.flags === '') return regex.source;
  if (regex.flags !== 'i' || regex.source.includes('['))
    throw new Error(`cannot express /${regex.source}/${regex.flags} as a JSON Schema pattern`);
  let out = '';
  for (let i = 0; i < regex.source.length; i += 1) {
    const c = regex.source.charAt(i);
    if (c === '\\') {
      out += c + (regex.source[i + 1] ?? '');
      i += 1;
    } else if (/[a-z]/i.test(c)) {
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
    } else {
      out += c;
    }
  }
  return out;
}

function describeRule(rule: ValidationRule, schema: JsonSchema, where: string): void {
  const [first] = (rule.constraints ?? []) as unknown[];
  switch (rule.name) {
    case 'isString':
      schema.type = 'string';
      return;
    case 'matches':
      schema.pattern = jsonPattern(first as RegExp);
      return;
    case 'maxLength':
      schema.maxLength = first;
      return;
    case 'isIn':
      schema.enum = [...(first as string[])];
      return;
    case 'isIp':
      if (first === 4 || first === '4') schema.format = 'ipv4';
      else if (first === undefined) schema.anyOf = [{ format: 'ipv4' }, { format: 'ipv6' }];
      else throw new Error(`${where}: unexpected isIp version ${JSON.stringify(first)}`);
      return;
    case 'isCurrencyCode':
      schema.enum = [...ISO_4217_NUMERIC].sort();
      return;
    case 'isRequestTime':
      schema.pattern = REQUEST_TIME_PATTERN;
      return;
    default:
      // A rule this function does not know must be described here before the document can be built.
      throw new Error(
        `${where}: the OpenAPI document cannot describe the ${String(rule.name)} rule yet (src/openapi/document.ts)`,
      );
  }
}

interface DtoSchema {
  properties: Record<string, JsonSchema>;
  required: string[];
}

/**
 * One schema per listed field of a DTO: `@IsDefined` makes it required and non-null, `@IsOptional` optional and
 * nullable; each rule's message becomes part of the description, after the field's meaning from `notes`.
 */
function dtoSchema(cls: DtoClass, fields: readonly string[], notes: Record<string, string> = {}): DtoSchema {
  const rules = getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false);
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const field of fields) {
    const where = `${cls.name}.${field}`;
    // Decorators register bottom-up; read them in the order the DTO declares them.
    const own = rules.filter((rule) => rule.propertyName === field).reverse();
    const schema: JsonSchema = {};
    const messages: string[] = [];
    let presence: 'required' | 'optional' | undefined;
    for (const rule of own) {
      if (rule.name === 'isDefined') presence = 'required';
      else if (rule.name === 'isOptional') presence = 'optional';
      else {
        describeRule(rule, schema, where);
        if (rule.name !== 'isString' && typeof rule.message === 'string') messages.push(`${rule.message}.`);
      }
    }
    if (presence === undefined || schema.type !== 'string')
      throw new Error(`${where}: every field must be @IsDefined or @IsOptional, and a string`);
    if (presence === 'required') required.push(field);
    else {
      schema.type = ['string', 'null'];
      if (Array.isArray(schema.enum)) schema.enum = [...(schema.enum as unknown[]), null];
    }
    const description = [notes[field], ...messages].filter((s) => s !== undefined && s !== '').join(' ');
    const { type, ...constraints } = schema;
    properties[field] = { ...(description !== '' ? { description } : {}), type, ...constraints };
  }
  return { properties, required };
}

/** Path and query values are never null: the field's rules without the null. */
function parameterSchema(schema: JsonSchema): JsonSchema {
  const rest = { ...schema };
  delete rest.description;
  if (Array.isArray(rest.type)) rest.type = 'string';
  if (Array.isArray(rest.enum)) rest.enum = (rest.enum as unknown[]).filter((v) => v !== null);
  return rest;
}

function parametersOf(
  cls: DtoClass,
  fields: readonly string[],
  location: 'path' | 'query',
  notes: Record<string, string>,
): Record<string, unknown>[] {
  const { properties, required } = dtoSchema(cls, fields, notes);
  return fields.map((field) => {
    const schema = properties[field] as JsonSchema;
    return {
      name: field,
      in: location,
      required: location === 'path' || required.includes(field),
      description: schema.description,
      schema: parameterSchema(schema),
    };
  });
}

const ENVELOPE_NOTES: Record<string, string> = {
  Source: 'The channel, recorded on the operation (e.g. `WEB`, `IVR`).',
  IPAddress: 'The address of the calling system.',
  DateFormat:
    'How dates in the response are written: `"1"` MM/dd/yyyy HH:mm:ss (default), `"2"` MM/dd/yy HH:mm:ss, `"3"` dd/MM/yyyy HH:mm:ss.',
  CurrencyCode: 'ISO 4217 numeric code; default `"840"`.',
  CurrencySymbolType: '`"1"` the sign, `"2"` the 3-letter code.',
  Language: 'Default `en`; any case.',
  ExternalIP:
    "The end user's address. The service also takes an IPv6 address with a zone suffix (`fe80::1%eth0`), which the `ipv6` format does not.",
  SessionID: 'The channel session, recorded on the operation.',
  APIVersion: `Only \`"${SUPPORTED_API_VERSION}"\`; another string is refused with \`${ERRORS.UNSUPPORTED_API_VERSION.code}\` before the other fields are judged.`,
  CallerID: 'IVR: the calling phone number.',
  CalledID: 'IVR: the called phone number.',
  RequestTime: 'When the channel sent the request; a real calendar date and time.',
  AccountNumber: 'The account, as a JSON string (a number would lose digits past 2^53).',
  SSUserID: 'The self-service user; case-insensitive.',
};

function envelopeSchema(cls: DtoClass, title: string): JsonSchema {
  const { properties, required } = dtoSchema(cls, ENVELOPE_FIELDS, ENVELOPE_NOTES);
  // The DTO takes any string; the route refuses all but the supported version with its own code.
  properties.APIVersion = { ...properties.APIVersion, const: SUPPORTED_API_VERSION };
  return {
    title,
    description:
      'The CoreCredit request envelope. Every field is a JSON string, or `null` where optional; nothing is trimmed or ' +
      'coerced. Unknown fields are ignored and never stored. Validation errors list every failing field.',
    type: 'object',
    required,
    properties,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Responses.

type Face = 'corecredit' | 'issuer';

const codesOf = (names: readonly ErrorName[]): string[] => names.map((name) => ERRORS[name].code);

function codeList(names: readonly ErrorName[]): string {
  return names.map((name) => `- \`${ERRORS[name].code}\` ${name}: ${ERRORS[name].message}`).join('\n');
}

const CORRELATION_PATTERN = CORRELATION_ID_PATTERN.source;
/** As src/http/idempotency.ts checks it. */
const IDEMPOTENCY_KEY_PATTERN = '^[\\x20-\\x7E]{1,255}$';

function errorSchema(face: Face, names: readonly ErrorName[]): JsonSchema {
  const base = face === 'issuer' ? 'IssuerError' : 'CoreCreditError';
  const codeField = face === 'issuer' ? 'errorCode' : 'ErrorCode';
  return { allOf: [ref('schemas', base), { type: 'object', properties: { [codeField]: { enum: codesOf(names) } } }] };
}

interface ErrorOptions {
  /** The endpoint takes Idempotency-Key: any response but a 5xx may be a replay. */
  idempotent?: boolean;
  /** The request passes the rate limiters, which may refuse it (429) and describe their budgets on any response. */
  rateLimited?: boolean;
  /** The 405 of a path item names the methods it allows. */
  allow?: string[];
}

function responseHeaders(
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
function errorResponses(face: Face, names: readonly ErrorName[], options: ErrorOptions = {}): Responses {
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

function success(
  description: string,
  schema: JsonSchema | undefined,
  options: ErrorOptions & { mediaType?: string } = {},
): ResponseObject {
  return {
    description,
    headers: responseHeaders(200, [], options),
    ...(schema !== undefined ? { content: { [options.mediaType ?? 'application/json']: { schema } } } : {}),
  };
}

const sortResponses = (responses: Responses): Responses =>
  Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b)));

const bearer = (scope: Scope): Record<string, string[]>[] => [{ bearerAuth: [scope] }];
const NO_TOKEN: Record<string, string[]>[] = [];

const AUTH: ErrorName[] = [
  'TOKEN_MISSING',
  'TOKEN_INVALID',
  'TOKEN_EXPIRED',
  'TOKEN_NOT_YET_VALID',
  'TOKEN_CLAIMS_INVALID',
  'SCOPE_MISSING',
];
const BODY: ErrorName[] = ['MALFORMED_BODY', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'];
const IDEMPOTENCY: ErrorName[] = ['IDEMPOTENCY_IN_PROGRESS', 'IDEMPOTENCY_KEY_REUSED'];

function pathItem(
  face: Face,
  operations: Partial<Record<'get' | 'put' | 'post', OperationObject>>,
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

const LIMITED = { rateLimited: true };

const jsonBody = (
  schemaName: string,
  required: boolean,
  examples?: Record<string, { summary: string; value: unknown }>,
): Record<string, unknown> => ({
  required,
  content: {
    'application/json': { schema: ref('schemas', schemaName), ...(examples !== undefined ? { examples } : {}) },
  },
});

const SAMPLE_ENVELOPE = {
  Source: 'Web',
  IPAddress: '10.120.0.1',
  DateFormat: null,
  CurrencyCode: null,
  CurrencySymbolType: null,
  Language: null,
  ExternalIP: '10.120.0.0',
  SessionID: null,
  APIVersion: SUPPORTED_API_VERSION,
  CallerID: null,
  CalledID: null,
  RequestTime: null,
  SSUserID: '8888010000000231',
  AccountNumber: '8000000000000227',
};

const IVR_ENVELOPE = {
  Source: 'IVR',
  ExternalIP: '10.120.0.9',
  APIVersion: SUPPORTED_API_VERSION,
  SessionID: '000028;026;1349906692',
  CallerID: '7204454214',
  CalledID: '7314145404',
  SSUserID: '8888010000000231',
  AccountNumber: '8000000000000235',
};

function schemas(): Record<string, JsonSchema> {
  const register = dtoSchema(RegisterAccountDto, REGISTER_FIELDS, {
    consumerId: 'The self-service user (SSUserID); case-insensitive.',
    accountProductId: 'The card product.',
    state: 'The account state.',
  });
  const del = dtoSchema(DeleteAccountDto, DELETE_FIELDS, {
    reason: 'Free text, recorded on the operation.',
    reasonCode: 'Default `ISSUER_DECISION`.',
  });
  const sourceRule = parameterSchema(dtoSchema(DeLinkAccountDto, ['Source']).properties.Source as JsonSchema);
  const nullable = (schema: JsonSchema): JsonSchema => ({ ...schema, type: ['string', 'null'] });
  const accountNumber = { type: 'string', pattern: jsonPattern(ACCOUNT_NUMBER_PATTERN) };

  return {
    DeLinkAccountRequest: envelopeSchema(DeLinkAccountDto, 'DeLinkAccount request'),
    GetLinkAccountsRequest: envelopeSchema(GetLinkAccountsDto, 'GetLinkAccounts request'),
    RegisterAccountRequest: {
      type: 'object',
      required: register.required,
      properties: register.properties,
      description: 'Unknown fields are ignored.',
    },
    DeleteAccountRequest: {
      type: 'object',
      properties: del.properties,
      description: 'Every field is optional, and so is the body. Unknown fields are ignored.',
    },

    ErrorCode: {
      type: 'string',
      description: 'A stable code per cause; see the catalogue in the API description.',
      enum: Object.values(ERRORS).map((entry) => entry.code),
    },
    CoreCreditFieldError: {
      type: 'object',
      required: ['Field', 'Message'],
      additionalProperties: false,
      properties: {
        Field: { type: 'string', description: 'The field, or the header, that failed.' },
        Message: { type: 'string' },
      },
    },
    CoreCreditError: {
      type: 'object',
      description:
        `The CoreCredit envelope of an error. \`ResponseData.Errors\` lists every failing field, and only with \`${ERRORS.VALIDATION_FAILED.code}\`; ` +
        'otherwise `ResponseData` is `{}`.',
      required: ['Message', 'Status', 'ErrorCode', 'ResponseData'],
      additionalProperties: false,
      properties: {
        Message: { type: 'string' },
        Status: { const: false },
        ErrorCode: ref('schemas', 'ErrorCode'),
        ResponseData: {
          type: 'object',
          additionalProperties: false,
          properties: { Errors: { type: 'array', minItems: 1, items: ref('schemas', 'CoreCreditFieldError') } },
        },
      },
      if: { properties: { ErrorCode: { const: ERRORS.VALIDATION_FAILED.code } } },
      then: {
        properties: { ResponseData: { type: 'object', required: ['Errors'], properties: { Errors: { minItems: 1 } } } },
      },
      else: { properties: { ResponseData: { type: 'object', properties: { Errors: false } } } },
    },
    IssuerFieldError: {
      type: 'object',
      required: ['field', 'message'],
      additionalProperties: false,
      properties: {
        field: { type: 'string', description: 'The path, query or body field, or the header, that failed.' },
        message: { type: 'string' },
      },
    },
    IssuerError: {
      type: 'object',
      description: `An error of the issuer API. \`errors\` lists every failing field, and only with \`${ERRORS.VALIDATION_FAILED.code}\`.`,
      required: ['errorCode', 'message', 'correlationId'],
      additionalProperties: false,
      properties: {
        errorCode: ref('schemas', 'ErrorCode'),
        message: { type: 'string' },
        correlationId: {
          type: 'string',
          pattern: CORRELATION_PATTERN,
          description: `The request's \`${CORRELATION_HEADER}\`.`,
        },
        errors: { type: 'array', minItems: 1, items: ref('schemas', 'IssuerFieldError') },
      },
      if: { properties: { errorCode: { const: ERRORS.VALIDATION_FAILED.code } } },
      then: { required: ['errors'], properties: { errors: { minItems: 1 } } },
      else: { properties: { errors: false } },
    },

    DeLinkAccountSuccess: {
      type: 'object',
      required: ['Message', 'Status', 'ErrorCode', 'ResponseData'],
      additionalProperties: false,
      properties: {
        Message: { const: ERRORS.SUCCESS.message },
        Status: { const: true },
        ErrorCode: { const: ERRORS.SUCCESS.code },
        ResponseData: { type: 'object', additionalProperties: false },
      },
    },
    GetLinkAccountsSuccess: {
      type: 'object',
      required: ['Message', 'Status', 'ErrorCode', 'ResponseData'],
      additionalProperties: false,
      properties: {
        Message: { const: ERRORS.SUCCESS.message },
        Status: { const: true },
        ErrorCode: { const: ERRORS.SUCCESS.code },
        ResponseData: {
          type: 'object',
          required: ['SSUserID', 'Accounts'],
          additionalProperties: false,
          properties: {
            SSUserID: {
              type: 'string',
              pattern: CONSUMER_ID_PATTERN.source,
              description: 'As the user was registered.',
            },
            Accounts: {
              type: 'array',
              description: 'The linked accounts only, the main account first.',
              items: ref('schemas', 'LinkedAccount'),
            },
          },
        },
      },
    },
    LinkedAccount: {
      type: 'object',
      required: ['AccountNumber', 'IsMainAccount', 'AccountStatus', 'LinkedOn'],
      additionalProperties: false,
      properties: {
        AccountNumber: accountNumber,
        IsMainAccount: { type: 'boolean', description: 'The account the user first registered with; never delinked.' },
        AccountStatus: { enum: ['ACTIVE', 'INACTIVE', 'DELETED'], description: "The account's state." },
        LinkedOn: {
          type: 'string',
          pattern: '^[0-9]{2}/[0-9]{2}/([0-9]{2}|[0-9]{4}) [0-9]{2}:[0-9]{2}:[0-9]{2}$',
          description: "UTC, written per the request's `DateFormat`.",
        },
      },
    },

    DeleteAccountResult: {
      type: 'object',
      required: ['operationId', 'status'],
      additionalProperties: false,
      properties: {
        operationId: { type: 'string', format: 'uuid', description: 'The operation this delete recorded.' },
        status: { const: 'SUCCESSFUL' },
      },
    },
    OperationsPage: {
      type: 'object',
      required: ['operations', 'total'],
      additionalProperties: false,
      properties: {
        operations: {
          type: 'array',
          items: ref('schemas', 'Operation'),
          description: 'Most recent first; ties in recording order.',
        },
        total: { type: 'integer', minimum: 0, description: "All of the consumer's operations, not only this page's." },
      },
    },
    Operation: {
      type: 'object',
      description:
        'One state-changing request (register, delink, delete) that passed authentication and validation, successful or refused.',
      required: [
        'operationId',
        'operation',
        'status',
        'errorCode',
        'startTime',
        'endTime',
        'requestorType',
        'requestorId',
        'issuerId',
        'consumerId',
        'accountId',
        'reason',
        'reasonCode',
        'source',
        'sessionId',
        'ipAddress',
        'externalIp',
        'callerId',
        'calledId',
        'correlationId',
      ],
      additionalProperties: false,
      properties: {
        operationId: { type: 'string', format: 'uuid' },
        operation: { enum: ['REGISTER', 'DELINK', 'DELETE'] },
        status: { enum: ['SUCCESSFUL', 'FAILED'] },
        errorCode: {
          oneOf: [ref('schemas', 'ErrorCode'), { type: 'null' }],
          description: 'The refusal; null on success.',
        },
        startTime: { type: 'string', format: 'date-time', description: 'ISO 8601, UTC.' },
        endTime: { type: 'string', format: 'date-time', description: 'ISO 8601, UTC.' },
        requestorType: {
          enum: ['USER', 'ISSUER'],
          description: '`USER` for self-service, `ISSUER` for the issuer API.',
        },
        requestorId: { type: ['string', 'null'], description: "The token's `sub`." },
        issuerId: { type: 'string', pattern: ISSUER_ID_PATTERN.source },
        consumerId: {
          type: ['string', 'null'],
          pattern: CONSUMER_ID_PATTERN.source,
          description: 'The SSUserID / consumerId as the request gave it.',
        },
        accountId: { ...nullable(accountNumber) },
        reason: { ...nullable(parameterSchema(del.properties.reason as JsonSchema)) },
        reasonCode: { enum: ['USER_DECISION', 'ISSUER_DECISION', null] },
        source: { ...nullable(sourceRule), description: 'From the CoreCredit envelope: `Source`.' },
        sessionId: { type: ['string', 'null'], description: 'From the CoreCredit envelope: `SessionID`.' },
        ipAddress: { type: ['string', 'null'], description: 'From the CoreCredit envelope: `IPAddress`.' },
        externalIp: { type: ['string', 'null'], description: 'From the CoreCredit envelope: `ExternalIP`.' },
        callerId: { type: ['string', 'null'], description: 'From the CoreCredit envelope: `CallerID`.' },
        calledId: { type: ['string', 'null'], description: 'From the CoreCredit envelope: `CalledID`.' },
        correlationId: {
          type: 'string',
          pattern: CORRELATION_PATTERN,
          description: `The request's \`${CORRELATION_HEADER}\`.`,
        },
      },
    },

    HealthLive: {
      type: 'object',
      required: ['status'],
      additionalProperties: false,
      properties: { status: { const: 'ok' } },
    },
    HealthReady: {
      type: 'object',
      required: ['status', 'checks'],
      additionalProperties: false,
      properties: {
        status: { enum: ['ok', 'unavailable'] },
        checks: {
          type: 'object',
          required: ['database'],
          additionalProperties: false,
          properties: { database: { enum: ['ok', 'unavailable'] } },
        },
      },
    },
  };
}

const COMPONENT_HEADERS: Record<string, HeaderObject> = {
  CorrelationId: {
    description: `The request's \`${CORRELATION_HEADER}\` when it sent a valid one, otherwise a generated one. For tracing only.`,
    required: true,
    schema: { type: 'string', pattern: CORRELATION_PATTERN },
  },
  WWWAuthenticate: {
    description: 'The authentication scheme to use.',
    required: true,
    schema: { type: 'string', const: 'Bearer' },
  },
  RetryAfter: {
    description: 'Seconds to wait before retrying.',
    required: true,
    schema: { type: 'integer', minimum: 0 },
  },
  RateLimit: {
    description:
      'The budgets this request spent (IETF RateLimit header fields, draft 8): `"client"` per client address, ' +
      '`"caller"` per token issuer and `sub`; `r` requests remain, `t` seconds until the window resets.',
    schema: { type: 'string', minLength: 1 },
  },
  RateLimitPolicy: {
    description: 'The policies behind those budgets: `q` requests per `w` seconds.',
    schema: { type: 'string', minLength: 1 },
  },
  IdempotentReplayed: {
    description:
      'Present when this response is the replay of the first response to the same Idempotency-Key and request.',
    schema: { type: 'string', const: 'true' },
  },
};

const SECURITY_DESCRIPTION = `A JWT in \`Authorization: Bearer <token>\`, verified with pinned algorithms (HS256, or RS256/ES256 with a public
key or JWKS; \`alg: none\` is refused). Claims:

| claim | meaning |
|---|---|
| \`sub\` | the calling system or person; recorded as the operation's \`requestorId\` |
| \`issuerId\` | required: the issuer the token acts for (10 characters \`[A-Za-z0-9_-]\`); it sees no data of any other issuer |
| \`scope\` | space-separated scopes, below |
| \`ssUserId\` | optional: the token may act only for this SSUserID (a logged-in portal user); case-insensitive |
| \`exp\` | required; \`nbf\`, \`iss\`, \`aud\` are checked when present or configured |

| scope | grants |
|---|---|
| \`selfservice:delink\` | DeLinkAccount |
| \`selfservice:read\` | GetLinkAccounts |
| \`issuer:write\` | register and delete, for the token's own \`issuerId\` only; never with \`ssUserId\` |
| \`issuer:read\` | the operations list, for the token's own \`issuerId\` only; never with \`ssUserId\` |

Each operation's security requirement names the scope it needs.`;

function catalogueTable(): string {
  const rows = Object.entries(ERRORS).map(
    ([name, entry]) => `| \`${entry.code}\` | ${entry.status} | ${name} | ${entry.message} |`,
  );
  return ['| ErrorCode | HTTP | name | message |', '|---|---|---|---|', ...rows].join('\n');
}

function description(): string {
  return `Lets a cardholder remove an account from their self-service user ID through the web portal or the IVR
(the CoreCredit endpoints), and lets the issuer's backend register and delete the accounts behind those links
(the issuer account API). **The main account, the one a user first registered with, is never delinked.**

## Errors

- CoreCredit endpoints answer every request, errors included, in the envelope
  \`{ "Message", "Status", "ErrorCode", "ResponseData" }\`; a validation error lists every failing field in
  \`ResponseData.Errors: [{ "Field", "Message" }]\`.
- The issuer API answers errors with \`{ "errorCode", "message", "correlationId" }\`, plus \`errors: [{ "field", "message" }]\`
  on validation errors. Every path under \`/issuers/\` does, listed or not; every other path uses the CoreCredit envelope.
- A path not listed here answers \`404\` (\`${ERRORS.ROUTE_NOT_FOUND.code}\`); a listed path called with a method it does not
  list answers \`405\` (\`${ERRORS.METHOD_NOT_ALLOWED.code}\`) with \`Allow\`. Both are described by the extensions
  \`x-unknown-paths\` (document root) and \`x-other-methods\` (each path).
- \`401\` carries \`WWW-Authenticate: Bearer\`; \`429\` and \`503\` carry \`Retry-After\`. 5xx bodies never carry internals: the
  log line with the response's \`${CORRELATION_HEADER}\` has the details.
- Rate limits: a budget per client address (before the token is read) and one per caller (token \`issuerId\` and \`sub\`),
  announced in \`RateLimit\` and \`RateLimit-Policy\`; a spent budget answers \`429\` (\`${ERRORS.RATE_LIMITED.code}\`). Health,
  metrics and documentation are never limited.
- Bodies are JSON objects of at most ${BODY_LIMIT}, sent as \`application/json\` in UTF-8.

## Headers

- \`${CORRELATION_HEADER}\` (every request, optional): echoed on the response, generated when absent, and written on every log
  line and operation of the request. A malformed one is refused with \`400\`.
- \`Idempotency-Key\` (DeLinkAccount, register, delete; optional): the same caller repeating a key with the same request gets
  the first response replayed (\`Idempotent-Replayed: true\`) and nothing runs again; with another request \`422\`; while the
  first is still running \`409\` with \`Retry-After\`. Kept at least 24 hours.

## Error catalogue

${catalogueTable()}`;
}

function buildOpenApiDocument(): OpenApiDocument {
  const accountParams = parametersOf(AccountPathDto, ACCOUNT_PATH_FIELDS, 'path', {
    issuerId: "The issuer; must be the token's `issuerId`.",
    accountId: 'The account (the CoreCredit `AccountNumber`).',
  });
  const consumerParams = parametersOf(ConsumerPathDto, CONSUMER_PATH_FIELDS, 'path', {
    issuerId: "The issuer; must be the token's `issuerId`.",
    consumerId: 'The consumer (the CoreCredit `SSUserID`); case-insensitive.',
  });
  const queryParams = parametersOf(OperationsQueryDto, OPERATIONS_QUERY_FIELDS, 'query', {
    offset: 'How many operations to skip; default 0.',
    count: 'How many operations to return; default 10.',
  });
  const correlation = ref('parameters', 'CorrelationId');
  const idempotencyKey = ref('parameters', 'IdempotencyKey');
  const plainOperation = (
    id: string,
    summary: string,
    text: string,
    tags: string[],
    responses: Responses,
  ): OperationObject => ({
    operationId: id,
    tags,
    summary,
    description: text,
    security: NO_TOKEN,
    parameters: [correlation],
    responses: sortResponses(responses),
  });

  const paths: Record<string, PathItem> = {
    [DELINK_PATH]: pathItem(
      'corecredit',
      {
        post: {
          operationId: 'DeLinkAccount',
          tags: ['CoreCredit'],
          summary: 'Remove an account from a self-service user',
          description:
            'Delinks `AccountNumber` from `SSUserID`. The main account is never delinked, even when INACTIVE or DELETED. ' +
            'Records a DELINK operation, successful or refused, once authentication and validation have passed. ' +
            'Scope `selfservice:delink`; a token with `ssUserId` may act only for that user.',
          security: bearer('selfservice:delink'),
          parameters: [correlation, idempotencyKey],
          requestBody: jsonBody('DeLinkAccountRequest', true, {
            web: { summary: 'The documented sample (web portal)', value: SAMPLE_ENVELOPE },
            ivr: { summary: 'From the IVR, with the phone numbers', value: IVR_ENVELOPE },
          }),
          responses: sortResponses({
            '200': success('Delinked.', ref('schemas', 'DeLinkAccountSuccess'), { idempotent: true, ...LIMITED }),
            ...errorResponses(
              'corecredit',
              [
                ...BODY,
                'UNSUPPORTED_API_VERSION',
                ...AUTH,
                'USER_NOT_ALLOWED',
                'USER_NOT_FOUND',
                'ACCOUNT_NOT_LINKED',
                'ACCOUNT_ALREADY_DELINKED',
                'MAIN_ACCOUNT',
                ...IDEMPOTENCY,
                'SERVICE_UNAVAILABLE',
              ],
              { idempotent: true, ...LIMITED },
            ),
          }),
        },
      },
      LIMITED,
    ),
    [GET_LINKS_PATH]: pathItem(
      'corecredit',
      {
        post: {
          operationId: 'GetLinkAccounts',
          tags: ['CoreCredit'],
          summary: "List a self-service user's linked accounts",
          description:
            'The linked accounts of `SSUserID`, the main account first. `AccountNumber` is not required. ' +
            'Scope `selfservice:read`; a token with `ssUserId` may read only that user.',
          security: bearer('selfservice:read'),
          parameters: [correlation],
          requestBody: jsonBody('GetLinkAccountsRequest', true, {
            web: {
              summary: 'From the web portal',
              value: {
                Source: 'Web',
                ExternalIP: '10.120.0.0',
                APIVersion: SUPPORTED_API_VERSION,
                SSUserID: '8888010000000231',
                DateFormat: '1',
              },
            },
          }),
          responses: sortResponses({
            '200': success('The linked accounts.', ref('schemas', 'GetLinkAccountsSuccess'), LIMITED),
            ...errorResponses(
              'corecredit',
              [
                ...BODY,
                'UNSUPPORTED_API_VERSION',
                ...AUTH,
                'USER_NOT_ALLOWED',
                'USER_NOT_FOUND',
                'SERVICE_UNAVAILABLE',
              ],
              LIMITED,
            ),
          }),
        },
      },
      LIMITED,
    ),
    [openApiPath(ACCOUNT_PATH)]: pathItem(
      'issuer',
      {
        put: {
          operationId: 'RegisterAccount',
          tags: ['Issuer'],
          summary: 'Register an account for a consumer',
          description:
            'The first account registered for a consumer creates the self-service user and is its main account. Repeating the call for ' +
            'the same consumer is idempotent: it updates `state` and `accountProductId` and re-links a delinked account. An account ' +
            'registered to another consumer is refused. Records a REGISTER operation. Scope `issuer:write`.',
          security: bearer('issuer:write'),
          parameters: [...accountParams, correlation, idempotencyKey],
          requestBody: jsonBody('RegisterAccountRequest', true, {
            register: {
              summary: 'A gold card',
              value: { consumerId: '8888010000000231', accountProductId: 'GOLD', state: 'ACTIVE' },
            },
          }),
          responses: sortResponses({
            '204': {
              description: 'Registered (or updated).',
              headers: responseHeaders(204, [], { idempotent: true, ...LIMITED }),
            },
            ...errorResponses(
              'issuer',
              [
                ...BODY,
                ...AUTH,
                'ISSUER_NOT_ALLOWED',
                'ACCOUNT_OF_OTHER_CONSUMER',
                ...IDEMPOTENCY,
                'SERVICE_UNAVAILABLE',
              ],
              { idempotent: true, ...LIMITED },
            ),
          }),
        },
      },
      LIMITED,
    ),
    [openApiPath(DELETE_PATH)]: pathItem(
      'issuer',
      {
        post: {
          operationId: 'DeleteAccount',
          tags: ['Issuer'],
          summary: 'Delete an account',
          description:
            'The account becomes `DELETED`; a secondary account is unlinked; the main account stays linked and undelinkable. ' +
            'Records a DELETE operation. Scope `issuer:write`.',
          security: bearer('issuer:write'),
          parameters: [...accountParams, correlation, idempotencyKey],
          requestBody: jsonBody('DeleteAccountRequest', false, {
            user: {
              summary: "At the user's request",
              value: { reason: 'customer was contacted on June 28', reasonCode: 'USER_DECISION' },
            },
          }),
          responses: sortResponses({
            '200': success('Deleted.', ref('schemas', 'DeleteAccountResult'), { idempotent: true, ...LIMITED }),
            ...errorResponses(
              'issuer',
              [...BODY, ...AUTH, 'ISSUER_NOT_ALLOWED', 'ACCOUNT_NOT_FOUND', ...IDEMPOTENCY, 'SERVICE_UNAVAILABLE'],
              { idempotent: true, ...LIMITED },
            ),
          }),
        },
      },
      LIMITED,
    ),
    [openApiPath(OPERATIONS_PATH)]: pathItem(
      'issuer',
      {
        get: {
          operationId: 'ListOperations',
          tags: ['Issuer'],
          summary: "List a consumer's operations",
          description:
            "The consumer's operations (the audit trail), most recent first, ties in recording order, paged. Scope `issuer:read`.",
          security: bearer('issuer:read'),
          parameters: [...consumerParams, ...queryParams, correlation],
          responses: sortResponses({
            '200': success('A page of operations.', ref('schemas', 'OperationsPage'), LIMITED),
            ...errorResponses('issuer', [...AUTH, 'ISSUER_NOT_ALLOWED', 'SERVICE_UNAVAILABLE'], LIMITED),
          }),
        },
      },
      LIMITED,
    ),
    '/health/live': pathItem('corecredit', {
      get: plainOperation('HealthLive', 'Liveness', 'Answers while the process runs.', ['Health'], {
        '200': success('The process runs.', ref('schemas', 'HealthLive')),
        ...errorResponses('corecredit', []),
      }),
    }),
    '/health/ready': pathItem('corecredit', {
      get: plainOperation('HealthReady', 'Readiness', 'Whether the database answers within 2 seconds.', ['Health'], {
        '200': success('Ready.', ref('schemas', 'HealthReady')),
        '503': success('The database did not answer in time.', ref('schemas', 'HealthReady')),
        ...errorResponses('corecredit', []),
      }),
    }),
    '/metrics': pathItem('corecredit', {
      get: plainOperation(
        'Metrics',
        'Prometheus metrics',
        'The process and HTTP metrics in the Prometheus text format.',
        ['Operations'],
        {
          '200': success('The metrics.', { type: 'string' }, { mediaType: 'text/plain' }),
          ...errorResponses('corecredit', []),
        },
      ),
    }),
    [OPENAPI_PATH]: pathItem('corecredit', {
      get: plainOperation(
        'GetOpenApiDocument',
        'This document',
        'The OpenAPI 3.1 document of the service.',
        ['Documentation'],
        {
          '200': success('The document.', {
            type: 'object',
            required: ['openapi', 'info', 'paths'],
            properties: {
              openapi: { type: 'string', pattern: '^3\\.1\\.' },
              info: { type: 'object' },
              paths: { type: 'object' },
            },
          }),
          ...errorResponses('corecredit', []),
        },
      ),
    }),
    [DOCS_PATH]: pathItem('corecredit', {
      get: plainOperation(
        'GetDocsPage',
        'API documentation page',
        `This document, rendered; it loads \`${OPENAPI_PATH}\`.`,
        ['Documentation'],
        {
          '200': success('The page.', { type: 'string' }, { mediaType: 'text/html' }),
          ...errorResponses('corecredit', []),
        },
      ),
    }),
    [`${DOCS_PATH}/{asset}`]: pathItem('corecredit', {
      get: {
        ...plainOperation(
          'GetDocsAsset',
          'A file of the documentation page',
          'The scripts and styles the page loads, served by the service itself.',
          ['Documentation'],
          {
            '200': {
              description: 'The file.',
              headers: responseHeaders(200, [], {}),
              content: {
                'text/css': { schema: { type: 'string' } },
                'text/javascript': { schema: { type: 'string' } },
              },
            },
            ...errorResponses('corecredit', ['ROUTE_NOT_FOUND']),
          },
        ),
        parameters: [
          {
            name: 'asset',
            in: 'path',
            required: true,
            description: 'Another name answers 404.',
            schema: { type: 'string', enum: [...DOCS_ASSETS] },
          },
          correlation,
        ],
      },
    }),
  };

  const generic = (status: number, names: ErrorName[], text: string): ResponseObject => ({
    description: `${text} The issuer error on paths under \`/issuers/\`, the CoreCredit envelope elsewhere. ErrorCodes:\n\n${codeList(names)}`,
    headers: responseHeaders(status, names, LIMITED),
    content: {
      'application/json': { schema: { oneOf: [errorSchema('corecredit', names), errorSchema('issuer', names)] } },
    },
  });

  return {
    openapi: '3.1.0',
    info: {
      title: 'CoreCredit account links',
      version,
      summary: 'CoreCredit self-service account links (DeLinkAccount, GetLinkAccounts) and the issuer account API.',
      description: description(),
      license: { name: 'Proprietary' },
    },
    servers: [{ url: '/', description: 'This service' }],
    tags: [
      { name: 'CoreCredit', description: 'For the web self-service portal backend and the IVR platform.' },
      { name: 'Issuer', description: "For the issuer's backend: its accounts, and the audit trail of its consumers." },
      { name: 'Health', description: 'Probes for the orchestrator; no token.' },
      { name: 'Operations', description: 'For monitoring; no token.' },
      { name: 'Documentation', description: 'This document and its page; no token.' },
    ],
    paths,
    components: {
      schemas: schemas(),
      parameters: {
        CorrelationId: {
          name: CORRELATION_HEADER,
          in: 'header',
          required: false,
          description:
            'Traces the request through responses, logs and operations; generated when absent. A malformed one is a 400.',
          schema: { type: 'string', pattern: CORRELATION_PATTERN },
        },
        IdempotencyKey: {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          description:
            'Same caller, same key and same request: the first response is replayed and nothing runs twice. The same key with ' +
            `another request: \`${ERRORS.IDEMPOTENCY_KEY_REUSED.code}\`; while the first still runs: \`${ERRORS.IDEMPOTENCY_IN_PROGRESS.code}\`. Kept at least 24 hours.`,
          schema: { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN },
        },
      },
      headers: COMPONENT_HEADERS,
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: SECURITY_DESCRIPTION },
      },
    },
    'x-unknown-paths': {
      description: 'Any path the document does not list, with any method.',
      responses: {
        '400': generic(400, ['VALIDATION_FAILED'], `A malformed \`${CORRELATION_HEADER}\`, checked before routing.`),
        '404': generic(404, ['ROUTE_NOT_FOUND'], 'No such endpoint.'),
        '429': generic(429, ['RATE_LIMITED'], 'The per-client budget is spent.'),
        '500': generic(500, ['INTERNAL'], 'Unexpected.'),
      },
    },
  };
}

let built: OpenApiDocument | undefined;

/** The document, built once: it depends only on the code. */
export function openApiDocument(): OpenApiDocument {
  built ??= buildOpenApiDocument();
  return built;
}
