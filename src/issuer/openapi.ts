// The issuer face in the OpenAPI document: its paths, its request schemas (from the DTOs) and its views.
import type { OperationKind, OperationStatus, RequestorType } from '../db/entities';
import type { ErrorName } from '../errors';
import { ACCOUNT_NUMBER_PATTERN, CONSUMER_ID_PATTERN, ISSUER_ID_PATTERN } from '../links/identifiers';
import { dtoSchema, jsonPattern, parameterSchema, parametersOf, type RuleConverter } from '../openapi/dto-schema';
import { openApiPath } from '../openapi/paths';
import { prose } from '../openapi/prose';
import {
  AUTH,
  BODY,
  bearer,
  CORRELATION_ID_SCHEMA,
  errorResponses,
  IDEMPOTENCY,
  jsonBody,
  LIMITED,
  pathItem,
  responseHeaders,
  sortResponses,
  success,
} from '../openapi/responses';
import { type JsonSchema, type Paths, ref, type Reference, viewSchema } from '../openapi/types';
import type { OperationView } from '../operations/operation-repository';
import type { OperationSearchPage } from '../operations/search';
import {
  ACCOUNT_PATH_FIELDS,
  AccountPathDto,
  CONSUMER_PATH_FIELDS,
  ConsumerPathDto,
  DELETE_FIELDS,
  DeleteAccountDto,
  ISSUER_PATH_FIELDS,
  INSTANT_PATTERN,
  IssuerPathDto,
  OPERATION_KINDS,
  OPERATION_PATH_FIELDS,
  OPERATION_SEARCH_FIELDS,
  OPERATION_STATUSES,
  OperationPathDto,
  OperationSearchQueryDto,
  OPERATIONS_QUERY_FIELDS,
  OperationsQueryDto,
  REGISTER_FIELDS,
  RegisterAccountDto,
} from './dto';
import { CSV_COLUMNS, CSV_MEDIA_TYPE, NDJSON_MEDIA_TYPE, NEUTRALISED_COLUMNS } from './export';
import { eventPaths, eventRequestSchemas, eventResponseSchemas } from './events-openapi';
import { MAX_ACCOUNTS_PER_CONSUMER_DELETE } from '../links/delete-consumer';
import {
  ACCOUNT_PATH,
  CONSUMER_DELETE_PATH,
  DELETE_PATH,
  OPERATION_PATH,
  OPERATIONS_PATH,
  SEARCH_PATH,
} from './routes';

/** What a delete answers (src/issuer/routes.ts). */
export interface DeleteResultView {
  operationId: string;
  status: 'SUCCESSFUL';
}
/** A page of the operations list, as listOperations returns it. */
export interface OperationsPageView {
  operations: OperationView[];
  total: number;
}

const REQUESTOR_TYPES = ['USER', 'ISSUER', 'SYSTEM'] satisfies RequestorType[];
const KINDS: OperationKind[] = [...OPERATION_KINDS];
const STATUSES: OperationStatus[] = [...OPERATION_STATUSES];

const REGISTER_NOTES = {
  consumerId: 'The self-service user (SSUserID); case-insensitive.',
  accountProductId: 'The card product.',
  state: 'The account state. CLOSED is final: a CLOSED account keeps it until it is deleted.',
};
const DELETE_NOTES = {
  reason: 'Free text, recorded on the operation.',
  reasonCode: 'Default `ISSUER_DECISION`.',
};
const ISSUER_ID_NOTE = "The issuer; must be the token's `issuerId`.";

export function issuerRequestSchemas(): Record<string, JsonSchema> {
  const register = dtoSchema(RegisterAccountDto, REGISTER_FIELDS, REGISTER_NOTES);
  const del = dtoSchema(DeleteAccountDto, DELETE_FIELDS, DELETE_NOTES);
  return {
    ...eventRequestSchemas(),
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
  };
}

/** The rules of the fields an operation records from a request: the request's own, plus null for "not given". */
function recorded(schema: JsonSchema): JsonSchema {
  return { ...parameterSchema(schema), type: ['string', 'null'] };
}

export function issuerResponseSchemas(
  /** The CoreCredit envelope's Source rule: an operation records the channel as the envelope gave it. */
  sourceRule: JsonSchema,
): Record<string, JsonSchema> {
  const { reason, reasonCode } = dtoSchema(DeleteAccountDto, DELETE_FIELDS).properties as Record<
    (typeof DELETE_FIELDS)[number],
    JsonSchema
  >;
  const fromEnvelope = (field: string): JsonSchema => ({
    type: ['string', 'null'],
    description: `From the CoreCredit envelope: \`${field}\`.`,
  });
  const timestamp: JsonSchema = { type: 'string', format: 'date-time', description: 'ISO 8601, UTC.' };
  const accountNumber: JsonSchema = { type: 'string', pattern: jsonPattern(ACCOUNT_NUMBER_PATTERN) };
  return {
    ...eventResponseSchemas(),
    DeleteAccountResult: viewSchema<DeleteResultView>({
      operationId: { type: 'string', format: 'uuid', description: 'The operation this delete recorded.' },
      status: { const: 'SUCCESSFUL' },
    }),
    OperationsPage: viewSchema<OperationsPageView>({
      operations: {
        type: 'array',
        items: ref('schemas', 'Operation'),
        description: 'Most recent first; ties in recording order.',
      },
      total: { type: 'integer', minimum: 0, description: "All of the consumer's operations, not only this page's." },
    }),
    OperationSearchPage: viewSchema<OperationSearchPage>({
      operations: {
        type: 'array',
        items: ref('schemas', 'Operation'),
        description: 'Newest first; ties in recording order.',
      },
      next: {
        type: ['string', 'null'],
        pattern: '^[A-Za-z0-9_-]+$',
        description: 'The `cursor` of the next page; null when this page holds the last match.',
      },
    }),
    Operation: viewSchema<OperationView>(
      {
        operationId: { type: 'string', format: 'uuid' },
        operation: { enum: KINDS, description: "`PURGE`: the retention purge of the issuer's older operations." },
        status: { enum: STATUSES },
        errorCode: {
          oneOf: [ref('schemas', 'ErrorCode'), { type: 'null' }],
          description: 'The refusal; null on success.',
        },
        startTime: timestamp,
        endTime: timestamp,
        requestorType: {
          enum: REQUESTOR_TYPES,
          description:
            '`USER` for self-service, `ISSUER` for the issuer API, `SYSTEM` for the service itself (`PURGE`).',
        },
        requestorId: { type: ['string', 'null'], description: "The token's `sub`; the service's name for `PURGE`." },
        issuerId: { type: 'string', pattern: jsonPattern(ISSUER_ID_PATTERN) },
        consumerId: {
          type: ['string', 'null'],
          pattern: jsonPattern(CONSUMER_ID_PATTERN),
          description: 'The SSUserID / consumerId as the request gave it.',
        },
        accountId: { ...accountNumber, type: ['string', 'null'] },
        reason: {
          anyOf: [recorded(reason), { type: 'string', pattern: '^removed \\d+ operations before \\S+$' }],
          description:
            "DELETE: the request's reason. PURGE: how many operations it removed, and the start time they were older than.",
        },
        reasonCode: { enum: reasonCode.enum },
        source: { ...recorded(sourceRule), description: 'From the CoreCredit envelope: `Source`.' },
        sessionId: fromEnvelope('SessionID'),
        ipAddress: fromEnvelope('IPAddress'),
        externalIp: fromEnvelope('ExternalIP'),
        callerId: fromEnvelope('CallerID'),
        calledId: fromEnvelope('CalledID'),
        correlationId: CORRELATION_ID_SCHEMA,
      },
      'One state-changing request (register, delink, delete, consumer delete) that passed authentication and validation, successful or refused; a consumer delete also records a DELETE of each account it deleted.',
    ),
  };
}

/** What an account delete and a consumer delete answer: the operation, or the errors they share and their own. */
function deleteResponses(own: ErrorName[]) {
  return sortResponses({
    '200': success('Deleted.', ref('schemas', 'DeleteAccountResult'), { idempotent: true, ...LIMITED }),
    ...errorResponses(
      'issuer',
      [...BODY, ...AUTH, 'ISSUER_NOT_ALLOWED', ...own, ...IDEMPOTENCY, 'SERVICE_UNAVAILABLE'],
      {
        idempotent: true,
        ...LIMITED,
      },
    ),
  });
}

/** The search query's own rules, as the document states them. */
const SEARCH_RULES: Record<string, RuleConverter> = {
  isInstant: () => ({ type: 'string', pattern: jsonPattern(INSTANT_PATTERN) }),
  notBeforeFrom: () => ({ type: 'string' }),
  isCursor: () => ({ type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$' }),
};

const issuerParamsOf = () => parametersOf(IssuerPathDto, ISSUER_PATH_FIELDS, 'path', { issuerId: ISSUER_ID_NOTE });

export function issuerPaths(parameters: { correlation: Reference; idempotencyKey: Reference }): Paths {
  const { correlation, idempotencyKey } = parameters;
  const accountParams = parametersOf(AccountPathDto, ACCOUNT_PATH_FIELDS, 'path', {
    issuerId: ISSUER_ID_NOTE,
    accountId: 'The account (the CoreCredit `AccountNumber`).',
  });
  const consumerParams = parametersOf(ConsumerPathDto, CONSUMER_PATH_FIELDS, 'path', {
    issuerId: ISSUER_ID_NOTE,
    consumerId: 'The consumer (the CoreCredit `SSUserID`); case-insensitive.',
  });
  const queryParams = parametersOf(OperationsQueryDto, OPERATIONS_QUERY_FIELDS, 'query', {
    offset: 'How many operations to skip; default 0.',
    count: 'How many operations to return; default 10.',
  });
  const operationParams = parametersOf(OperationPathDto, OPERATION_PATH_FIELDS, 'path', {
    issuerId: ISSUER_ID_NOTE,
    operationId: 'The operation, as an answer or a list gave it.',
  });
  const searchParams = parametersOf(
    OperationSearchQueryDto,
    OPERATION_SEARCH_FIELDS,
    'query',
    {
      consumerId: 'The consumer (SSUserID); case-insensitive.',
      accountId: 'The account (AccountNumber).',
      operation: 'The kind of operation.',
      status: 'The outcome.',
      errorCode: 'The refusal recorded.',
      correlationId: "The request's `x-correlation-id`, as recorded.",
      callerId: 'The IVR `CallerID` (the phone number), exactly as recorded; send `+` as `%2B`.',
      source: 'The CoreCredit `Source` (channel), exactly as recorded.',
      from: 'Operations that started at or after this instant (ISO 8601 with an offset).',
      to: 'Operations that started before this instant (ISO 8601 with an offset); not before `from`.',
      limit: 'How many operations to return (JSON only); default 50.',
      cursor: 'The `next` of the previous page (JSON only).',
    },
    SEARCH_RULES,
  );
  const searchErrors = ['ISSUER_NOT_ALLOWED', 'NOT_ACCEPTABLE', 'SERVICE_UNAVAILABLE'] as const;
  const searchOk = success(
    'A page of operations (JSON), or every match (NDJSON, CSV).',
    ref('schemas', 'OperationSearchPage'),
    LIMITED,
  );
  const exportHeaders = {
    ...searchOk.headers,
    'Content-Disposition': {
      description: 'Exports (NDJSON, CSV): `attachment` with a file name.',
      schema: { type: 'string' as const, pattern: '^attachment; filename="operations-[^"]+\\.(csv|ndjson)"$' },
    },
  };
  return {
    ...eventPaths(correlation),
    [openApiPath(SEARCH_PATH)]: pathItem(
      'issuer',
      {
        get: {
          operationId: 'SearchOperations',
          tags: ['Issuer'],
          summary: "Search and export the issuer's operations",
          description: prose('SearchOperations', {
            CSV_COLUMNS: CSV_COLUMNS.map((column) => `\`${column}\``).join(', '),
            NEUTRALISED_COLUMNS: NEUTRALISED_COLUMNS.map((column) => `\`${column}\``).join(', '),
          }),
          security: bearer('issuer:read'),
          parameters: [...issuerParamsOf(), ...searchParams, correlation],
          responses: sortResponses({
            '200': {
              ...searchOk,
              headers: exportHeaders,
              content: {
                ...searchOk.content,
                [NDJSON_MEDIA_TYPE]: {
                  schema: {
                    type: 'string',
                    description: 'One Operation (as in the JSON answer) per line, each line ending in `\\n`.',
                  },
                },
                [CSV_MEDIA_TYPE]: {
                  schema: {
                    type: 'string',
                    description: 'RFC 4180: a header row, then one row per operation, CRLF line ends.',
                  },
                },
              },
            },
            ...errorResponses('issuer', [...AUTH, ...searchErrors], LIMITED),
          }),
        },
      },
      LIMITED,
    ),
    [openApiPath(OPERATION_PATH)]: pathItem(
      'issuer',
      {
        get: {
          operationId: 'GetOperation',
          tags: ['Issuer'],
          summary: 'An operation',
          description: prose('GetOperation'),
          security: bearer('issuer:read'),
          parameters: [...operationParams, correlation],
          responses: sortResponses({
            '200': success('The operation.', ref('schemas', 'Operation'), LIMITED),
            ...errorResponses(
              'issuer',
              [...AUTH, 'ISSUER_NOT_ALLOWED', 'OPERATION_NOT_FOUND', 'SERVICE_UNAVAILABLE'],
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
          description: prose('RegisterAccount'),
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
                'ACCOUNT_CLOSED',
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
          description: prose('DeleteAccount'),
          security: bearer('issuer:write'),
          parameters: [...accountParams, correlation, idempotencyKey],
          requestBody: jsonBody('DeleteAccountRequest', false, {
            user: {
              summary: "At the user's request",
              value: { reason: 'customer was contacted on June 28', reasonCode: 'USER_DECISION' },
            },
          }),
          responses: deleteResponses(['ACCOUNT_NOT_FOUND']),
        },
      },
      LIMITED,
    ),
    [openApiPath(CONSUMER_DELETE_PATH)]: pathItem(
      'issuer',
      {
        post: {
          operationId: 'DeleteConsumer',
          tags: ['Issuer'],
          summary: 'Delete a consumer and all of its accounts',
          description: prose('DeleteConsumer', { MAX_ACCOUNTS: String(MAX_ACCOUNTS_PER_CONSUMER_DELETE) }),
          security: bearer('issuer:write'),
          parameters: [...consumerParams, correlation, idempotencyKey],
          requestBody: jsonBody('DeleteAccountRequest', false, {
            user: {
              summary: "At the user's request",
              value: { reason: 'customer left the bank', reasonCode: 'USER_DECISION' },
            },
          }),
          responses: deleteResponses(['CONSUMER_NOT_FOUND', 'CONSUMER_TOO_MANY_ACCOUNTS']),
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
  };
}
