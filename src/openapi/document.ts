// The service's OpenAPI 3.1 document, assembled: each face brings its paths and schemas (src/corecredit/openapi.ts,
// src/issuer/openapi.ts), the DTOs their request schemas, ERRORS the error responses, docs/api/ the prose.
import { ERRORS } from '../errors';
import { BODY_LIMIT } from '../http/body';
import { CORRELATION_HEADER } from '../http/correlation';
import { coreCreditPaths, coreCreditRequestSchemas, coreCreditResponseSchemas } from '../corecredit/openapi';
import { DeLinkAccountDto } from '../corecredit/dto';
import { issuerPaths, issuerRequestSchemas, issuerResponseSchemas } from '../issuer/openapi';
import { dtoSchema } from './dto-schema';
import { servicePaths, serviceSchemas } from './paths';
import { prose } from './prose';
import { CORRELATION_PATTERN, errorSchemas, IDEMPOTENCY_KEY_PATTERN, unknownPathResponses } from './responses';
import { type HeaderObject, type JsonSchema, type OpenApiDocument, ref } from './types';
import { version } from '../../package.json';

export { DOCS_ASSETS, DOCS_INIT_SCRIPT, DOCS_PATH, OPENAPI_PATH, openApiPath, SWAGGER_UI_ASSETS } from './paths';
export type {
  HeaderObject,
  JsonSchema,
  OpenApiDocument,
  OperationObject,
  PathItem,
  Reference,
  ResponseObject,
  Responses,
} from './types';

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

function catalogueTable(): string {
  const rows = Object.entries(ERRORS).map(
    ([name, entry]) => `| \`${entry.code}\` | ${entry.status} | ${name} | ${entry.message} |`,
  );
  return ['| ErrorCode | HTTP | name | message |', '|---|---|---|---|', ...rows].join('\n');
}

function buildOpenApiDocument(): OpenApiDocument {
  const parameters = {
    correlation: ref('parameters', 'CorrelationId'),
    idempotencyKey: ref('parameters', 'IdempotencyKey'),
  };
  // An operation records the channel as the CoreCredit envelope gave it; the issuer face does not know that DTO.
  const sourceRule = dtoSchema(DeLinkAccountDto, ['Source']).properties.Source as JsonSchema;

  return {
    openapi: '3.1.0',
    info: {
      title: 'CoreCredit account links',
      version,
      summary: 'CoreCredit self-service account links (DeLinkAccount, GetLinkAccounts) and the issuer account API.',
      description: prose('description', {
        ROUTE_NOT_FOUND: ERRORS.ROUTE_NOT_FOUND.code,
        METHOD_NOT_ALLOWED: ERRORS.METHOD_NOT_ALLOWED.code,
        RATE_LIMITED: ERRORS.RATE_LIMITED.code,
        CORRELATION_HEADER,
        BODY_LIMIT,
        ERROR_CATALOGUE: catalogueTable(),
      }),
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
    paths: {
      ...coreCreditPaths(parameters),
      ...issuerPaths(parameters),
      ...servicePaths(parameters.correlation),
    },
    components: {
      schemas: {
        ...coreCreditRequestSchemas(),
        ...issuerRequestSchemas(),
        ...errorSchemas(),
        ...coreCreditResponseSchemas(),
        ...issuerResponseSchemas(sourceRule),
        ...serviceSchemas(),
      },
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
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: prose('security') },
      },
    },
    'x-unknown-paths': {
      description: 'Any path the document does not list, with any method.',
      responses: unknownPathResponses(),
    },
  };
}

let built: OpenApiDocument | undefined;

/** The document, built once: it depends only on the code. */
export function openApiDocument(): OpenApiDocument {
  built ??= buildOpenApiDocument();
  return built;
}
