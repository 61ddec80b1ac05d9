// The issuer face's webhook subscriptions and events feed in the OpenAPI document: paths, request and view schemas.
import { EVENT_TYPES, type EventBody } from '../events/events';
import type { DeliveryView, EventDetail, EventsPage } from '../events/feed';
import type { CreatedWebhook, WebhookView } from '../events/webhooks';
import { ACCOUNT_NUMBER_PATTERN, CONSUMER_ID_PATTERN, ISSUER_ID_PATTERN } from '../links/identifiers';
import { dtoSchema, jsonPattern, parametersOf } from '../openapi/dto-schema';
import { openApiPath } from '../openapi/paths';
import {
  AUTH,
  BODY,
  bearer,
  CORRELATION_ID_SCHEMA,
  errorResponses,
  jsonBody,
  LIMITED,
  pathItem,
  responseHeaders,
  sortResponses,
  success,
} from '../openapi/responses';
import { type JsonSchema, type Paths, ref, type Reference, viewSchema } from '../openapi/types';
import {
  CREATE_WEBHOOK_FIELDS,
  CreateWebhookDto,
  EVENT_ID_PATTERN,
  EVENT_PATH_FIELDS,
  EventPathDto,
  EVENTS_QUERY_FIELDS,
  EventsQueryDto,
  ISSUER_PATH_FIELDS,
  IssuerPathDto,
  MAX_WEBHOOK_URL_LENGTH,
  WEBHOOK_ID_PATTERN,
  WEBHOOK_PATH_FIELDS,
  WebhookPathDto,
} from './dto';
import { EVENT_PATH, EVENTS_PATH, REDELIVER_PATH, WEBHOOK_PATH, WEBHOOKS_PATH } from './routes';

const ISSUER_ID_NOTE = "The issuer; must be the token's `issuerId`.";
const timestamp: JsonSchema = { type: 'string', format: 'date-time', description: 'ISO 8601, UTC.' };
const nullable = (schema: JsonSchema): JsonSchema => ({ ...schema, type: [schema.type as 'string', 'null'] });
const eventId: JsonSchema = { type: 'string', pattern: jsonPattern(EVENT_ID_PATTERN) };
const webhookId: JsonSchema = { type: 'string', pattern: jsonPattern(WEBHOOK_ID_PATTERN) };
const eventTypes: JsonSchema = {
  type: 'array',
  minItems: 1,
  uniqueItems: true,
  items: { enum: [...EVENT_TYPES] },
};

export function eventRequestSchemas(): Record<string, JsonSchema> {
  const { properties } = dtoSchema(CreateWebhookDto, ['url'], {
    url: 'Where events are POSTed: `https` (in production), no user name or password; every address its host resolves to is checked.',
  });
  return {
    CreateWebhookRequest: {
      type: 'object',
      required: [...CREATE_WEBHOOK_FIELDS],
      properties: {
        ...properties,
        eventTypes: {
          ...eventTypes,
          maxItems: 16,
          items: { enum: [...EVENT_TYPES] },
          uniqueItems: false,
          description: 'The event types to receive; repeats count once.',
        },
      },
      description: 'Unknown fields are ignored.',
    },
  };
}

export function eventResponseSchemas(): Record<string, JsonSchema> {
  const url: JsonSchema = { type: 'string', maxLength: MAX_WEBHOOK_URL_LENGTH };
  return {
    Webhook: viewSchema<WebhookView>(
      {
        webhookId,
        url,
        eventTypes,
        state: {
          enum: ['ACTIVE', 'DISABLED'],
          description: '`DISABLED` once its receiver answered `410 Gone`: nothing more is sent to it.',
        },
        createdAt: timestamp,
      },
      'A webhook subscription, without its secret.',
    ),
    CreatedWebhook: viewSchema<CreatedWebhook>(
      {
        webhookId,
        url,
        eventTypes,
        secret: {
          type: 'string',
          pattern: '^whsec_[A-Za-z0-9+/]+={0,2}$',
          description: 'The signing secret (Standard Webhooks): returned this once only. Keep it.',
        },
      },
      'The new subscription and its signing secret.',
    ),
    WebhookList: viewSchema<{ webhooks: WebhookView[] }>({
      webhooks: { type: 'array', items: ref('schemas', 'Webhook'), description: 'In the order they were created.' },
    }),
    Event: viewSchema<EventBody>(
      {
        id: { ...eventId, description: 'Unique, and the same on every delivery (the `webhook-id` header).' },
        type: { enum: [...EVENT_TYPES] },
        createdAt: timestamp,
        issuerId: { type: 'string', pattern: jsonPattern(ISSUER_ID_PATTERN) },
        data: viewSchema<EventBody['data']>({
          operationId: { type: 'string', format: 'uuid', description: 'The operation (audit record) of the change.' },
          consumerId: { type: ['string', 'null'], pattern: jsonPattern(CONSUMER_ID_PATTERN) },
          accountId: { type: ['string', 'null'], pattern: jsonPattern(ACCOUNT_NUMBER_PATTERN) },
          isMainAccount: { type: ['boolean', 'null'], description: 'Null when no link of the consumer says.' },
          errorCode: {
            oneOf: [ref('schemas', 'ErrorCode'), { type: 'null' }],
            description: 'The refusal (`account.delink_refused`, `account.link_refused`); null otherwise.',
          },
          reason: { type: ['string', 'null'] },
          reasonCode: { enum: ['USER_DECISION', 'ISSUER_DECISION', null] },
          channel: viewSchema<EventBody['data']['channel']>(
            {
              source: { type: ['string', 'null'] },
              callerId: { type: ['string', 'null'] },
              calledId: { type: ['string', 'null'] },
              sessionId: { type: ['string', 'null'] },
            },
            'From the CoreCredit envelope; null for the issuer API.',
          ),
          correlationId: CORRELATION_ID_SCHEMA,
        }),
      },
      'An event: the body POSTed to each subscription, and an item of the feed.',
    ),
    EventsPage: viewSchema<EventsPage>({
      events: { type: 'array', items: ref('schemas', 'Event'), description: 'Oldest first.' },
      next: {
        ...nullable(eventId),
        description: 'The `after` of the next page; null when there are no more events yet.',
      },
    }),
    EventDetail: viewSchema<EventDetail>({
      event: ref('schemas', 'Event'),
      deliveries: { type: 'array', items: ref('schemas', 'Delivery') },
    }),
    Delivery: viewSchema<DeliveryView>(
      {
        webhookId,
        state: {
          enum: ['PENDING', 'DELIVERED', 'FAILED', 'CANCELLED'],
          description:
            '`FAILED` once the retries are spent or the receiver answered 410; `CANCELLED` when the subscription was deleted.',
        },
        nextAttemptAt: { ...nullable(timestamp), description: 'When the next attempt is due; null once settled.' },
        attempts: {
          type: 'array',
          items: viewSchema<DeliveryView['attempts'][number]>({
            attemptedAt: timestamp,
            statusCode: { type: ['integer', 'null'], description: "The receiver's status; null when none came." },
            error: { type: ['string', 'null'], description: 'Why no status came (refused, unreachable, timed out).' },
            durationMs: { type: 'integer', minimum: 0 },
          }),
        },
      },
      'The event owed to one subscription, with every attempt made.',
    ),
    RedeliverResult: viewSchema<{ eventId: string; deliveries: number }>({
      eventId,
      deliveries: { type: 'integer', minimum: 0, description: 'How many subscriptions it is queued for.' },
    }),
  };
}

export function eventPaths(correlation: Reference): Paths {
  const issuerParams = parametersOf(IssuerPathDto, ISSUER_PATH_FIELDS, 'path', { issuerId: ISSUER_ID_NOTE });
  const webhookParams = parametersOf(WebhookPathDto, WEBHOOK_PATH_FIELDS, 'path', {
    issuerId: ISSUER_ID_NOTE,
    webhookId: 'The subscription.',
  });
  const eventParams = parametersOf(EventPathDto, EVENT_PATH_FIELDS, 'path', {
    issuerId: ISSUER_ID_NOTE,
    eventId: 'The event.',
  });
  const queryParams = parametersOf(EventsQueryDto, EVENTS_QUERY_FIELDS, 'query', {
    after: 'The cursor: the `next` of the previous page (an event id); absent, from the oldest event kept.',
    limit: 'How many events to return; default 100.',
  });
  const errors = (names: Parameters<typeof errorResponses>[1]) =>
    errorResponses('issuer', [...AUTH, 'ISSUER_NOT_ALLOWED', ...names, 'SERVICE_UNAVAILABLE'], LIMITED);
  return {
    [openApiPath(WEBHOOKS_PATH)]: pathItem(
      'issuer',
      {
        post: {
          operationId: 'CreateWebhook',
          tags: ['Issuer'],
          summary: 'Subscribe a URL to events',
          description:
            'Events of the given types are POSTed to the URL, signed (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`) with the secret this answer returns once. Scope `issuer:webhooks`.',
          security: bearer('issuer:webhooks'),
          parameters: [...issuerParams, correlation],
          requestBody: jsonBody('CreateWebhookRequest', true, {
            delinks: {
              summary: 'Delinks and refused delinks',
              value: {
                url: 'https://issuer.example/hooks/corecredit',
                eventTypes: ['account.delinked', 'account.delink_refused'],
              },
            },
          }),
          responses: sortResponses({
            '201': {
              description: 'Subscribed.',
              headers: responseHeaders(201, [], LIMITED),
              content: { 'application/json': { schema: ref('schemas', 'CreatedWebhook') } },
            },
            ...errors([...BODY, 'WEBHOOK_URL_REFUSED']),
          }),
        },
        get: {
          operationId: 'ListWebhooks',
          tags: ['Issuer'],
          summary: "List the issuer's webhook subscriptions",
          description: 'Without their secrets. Scope `issuer:webhooks`.',
          security: bearer('issuer:webhooks'),
          parameters: [...issuerParams, correlation],
          responses: sortResponses({
            '200': success('The subscriptions.', ref('schemas', 'WebhookList'), LIMITED),
            ...errors([]),
          }),
        },
      },
      LIMITED,
    ),
    [openApiPath(WEBHOOK_PATH)]: pathItem(
      'issuer',
      {
        delete: {
          operationId: 'DeleteWebhook',
          tags: ['Issuer'],
          summary: 'Delete a webhook subscription',
          description: 'Nothing more is sent to it; deliveries still owed are cancelled. Scope `issuer:webhooks`.',
          security: bearer('issuer:webhooks'),
          parameters: [...webhookParams, correlation],
          responses: sortResponses({
            '204': { description: 'Deleted.', headers: responseHeaders(204, [], LIMITED) },
            ...errors(['WEBHOOK_NOT_FOUND']),
          }),
        },
      },
      LIMITED,
    ),
    [openApiPath(EVENTS_PATH)]: pathItem(
      'issuer',
      {
        get: {
          operationId: 'ListEvents',
          tags: ['Issuer'],
          summary: "The issuer's events feed",
          description:
            'Oldest first, behind a stable cursor: pass the `next` of one page as `after` for the next, with no gaps or repeats while events arrive. An unknown query parameter is refused. Scope `issuer:read`.',
          security: bearer('issuer:read'),
          parameters: [...issuerParams, ...queryParams, correlation],
          responses: sortResponses({
            '200': success('A page of events.', ref('schemas', 'EventsPage'), LIMITED),
            ...errors([]),
          }),
        },
      },
      LIMITED,
    ),
    [openApiPath(EVENT_PATH)]: pathItem(
      'issuer',
      {
        get: {
          operationId: 'GetEvent',
          tags: ['Issuer'],
          summary: 'An event with its deliveries',
          description:
            'Each delivery with every attempt: when, the status code or the error, how long. Scope `issuer:read`.',
          security: bearer('issuer:read'),
          parameters: [...eventParams, correlation],
          responses: sortResponses({
            '200': success('The event.', ref('schemas', 'EventDetail'), LIMITED),
            ...errors(['EVENT_NOT_FOUND']),
          }),
        },
      },
      LIMITED,
    ),
    [openApiPath(REDELIVER_PATH)]: pathItem(
      'issuer',
      {
        post: {
          operationId: 'RedeliverEvent',
          tags: ['Issuer'],
          summary: 'Deliver an event again',
          description:
            'Queues the event, with the same id, for every active subscription to its type, with a fresh retry schedule. Scope `issuer:webhooks`.',
          security: bearer('issuer:webhooks'),
          parameters: [...eventParams, correlation],
          responses: sortResponses({
            '202': {
              description: 'Queued.',
              headers: responseHeaders(202, [], LIMITED),
              content: { 'application/json': { schema: ref('schemas', 'RedeliverResult') } },
            },
            ...errors(['EVENT_NOT_FOUND']),
          }),
        },
      },
      LIMITED,
    ),
  };
}
