// The paths of the service itself (health, metrics, this document and its page), and the path helpers the faces share.
import { METRICS_PATH } from '../http/metrics';
import { errorResponses, NO_TOKEN, pathItem, responseHeaders, sortResponses, success } from './responses';
import { type JsonSchema, type OperationObject, type Paths, ref, type Reference, type Responses } from './types';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PATH = '/docs';
/** The docs page's own initializer, served from code so the page needs no inline script. */
export const DOCS_INIT_SCRIPT = 'docs-init.js';
/** The files of swagger-ui-dist the docs page loads, and nothing else from that folder. */
export const SWAGGER_UI_ASSETS = ['swagger-ui.css', 'swagger-ui-bundle.js'] as const;
export const DOCS_ASSETS = [...SWAGGER_UI_ASSETS, DOCS_INIT_SCRIPT] as const;

/** An Express path (`/issuers/:issuerId/…/operations\\:delete`) as an OpenAPI path template. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/(?<!\\):([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}').replace(/\\:/g, ':');
}

export function serviceSchemas(): Record<string, JsonSchema> {
  const probe = { enum: ['ok', 'unavailable'] };
  return {
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
        status: probe,
        checks: {
          type: 'object',
          required: ['database'],
          additionalProperties: false,
          properties: { database: probe },
        },
      },
    },
  };
}

export function servicePaths(correlation: Reference): Paths {
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
  const text = (mediaType: string) => (description: string) => success(description, { type: 'string' }, { mediaType });

  return {
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
    [METRICS_PATH]: pathItem('corecredit', {
      get: plainOperation(
        'Metrics',
        'Prometheus metrics',
        'The process and HTTP metrics in the Prometheus text format.',
        ['Operations'],
        { '200': text('text/plain')('The metrics.'), ...errorResponses('corecredit', []) },
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
        { '200': text('text/html')('The page.'), ...errorResponses('corecredit', []) },
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
}
