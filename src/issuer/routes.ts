// The issuer face: register and delete accounts, list a consumer's operations and search and export the audit trail,
// for the issuer's backend.
import { type Response, Router } from 'express';
import { AppError } from '../errors';
import { jsonObjectBody } from '../http/body';
import { locals, principalOf } from '../http/context';
import { errorHandler, methodNotAllowed, routeNotFound } from '../http/errors';
import type { FaceDependencies } from '../http/face';
import { logEvent } from '../http/logging';
import { inputOf, parseInput, queryPart, validateDto, validateParts } from '../http/validation';
import { getEvent, listEvents, redeliverEvent } from '../events/feed';
import { createWebhook, deleteWebhook, listWebhooks } from '../events/webhooks';
import { deleteAccount } from '../links/delete-account';
import { deleteConsumer } from '../links/delete-consumer';
import { registerAccount } from '../links/register';
import { maskAccountNumber } from '../logger';
import type { RequestContext } from '../operations/context';
import { listConsumerOperations } from '../operations/list';
import { exportOperations, getOperation, type OperationFilter, searchOperations } from '../operations/search';
import { issuerError } from './error-body';
import { CSV_MEDIA_TYPE, type ExportMediaType, JSON_MEDIA_TYPE, SEARCH_MEDIA_TYPES, streamExport } from './export';
import {
  ACCOUNT_PATH_FIELDS,
  AccountPathDto,
  CONSUMER_PATH_FIELDS,
  ConsumerPathDto,
  CREATE_WEBHOOK_FIELDS,
  CreateWebhookDto,
  DELETE_FIELDS,
  DeleteAccountDto,
  EVENT_PATH_FIELDS,
  EventPathDto,
  EVENTS_QUERY_FIELDS,
  EventsQueryDto,
  ISSUER_PATH_FIELDS,
  IssuerPathDto,
  OPERATION_FILTER_FIELDS,
  OPERATION_PATH_FIELDS,
  OPERATION_SEARCH_FIELDS,
  OperationPathDto,
  OperationSearchQueryDto,
  OPERATIONS_QUERY_FIELDS,
  OperationsQueryDto,
  parseInstant,
  REGISTER_FIELDS,
  RegisterAccountDto,
  WEBHOOK_PATH_FIELDS,
  WebhookPathDto,
} from './dto';

/** Everything below it is this face's: answered with its error object, unknown paths included. */
export const ISSUER_PREFIX = '/issuers';
export const ACCOUNT_PATH = '/issuers/:issuerId/accounts/:accountId';
// Express 5 reads an unescaped ':' as the start of a parameter.
export const DELETE_PATH = '/issuers/:issuerId/accounts/:accountId/operations\\:delete';
export const OPERATIONS_PATH = '/issuers/:issuerId/consumers/:consumerId/operations';
export const CONSUMER_DELETE_PATH = '/issuers/:issuerId/consumers/:consumerId/operations\\:delete';
export const WEBHOOKS_PATH = '/issuers/:issuerId/webhooks';
export const WEBHOOK_PATH = '/issuers/:issuerId/webhooks/:webhookId';
export const EVENTS_PATH = '/issuers/:issuerId/events';
export const EVENT_PATH = '/issuers/:issuerId/events/:eventId';
export const REDELIVER_PATH = '/issuers/:issuerId/events/:eventId/operations\\:redeliver';
export const SEARCH_PATH = '/issuers/:issuerId/operations';
export const OPERATION_PATH = '/issuers/:issuerId/operations/:operationId';

/** What the issuer face needs beyond the shared HTTP layer. */
export interface IssuerOptions {
  /** Webhook URLs may be http and point at loopback or private addresses (WEBHOOK_ALLOW_INSECURE). */
  allowInsecureWebhooks: boolean;
}

/** The search's filters as the domain takes them: the instants parsed (the DTO checked that they parse). */
function filterOf(query: OperationSearchQueryDto): OperationFilter {
  const filter: OperationFilter = {};
  for (const field of OPERATION_FILTER_FIELDS) {
    const value = query[field];
    if (value === undefined) continue;
    if (field === 'from' || field === 'to') filter[field] = parseInstant(value);
    else (filter as Record<string, string>)[field] = value;
  }
  return filter;
}

/** An export answers every match: a page size or a position would be silently ignored, so they are refused. */
function refusePaging(query: OperationSearchQueryDto): void {
  const given = (['limit', 'cursor'] as const).filter((field) => query[field] !== undefined);
  if (given.length > 0)
    throw new AppError('VALIDATION_FAILED', {
      details: given.map((field) => ({
        field,
        message: `${field} pages the JSON answer; an export (NDJSON or CSV) streams every match`,
      })),
    });
}

/** The caller must act for the issuer in the path, and as the issuer: a token bound to one user never may. */
function issuerContext(res: Response, issuerId: string): RequestContext {
  const principal = principalOf(res);
  if (principal.ssUserId !== undefined)
    throw new AppError('SCOPE_MISSING', {
      message: 'A token bound to a self-service user may not use the issuer API.',
    });
  if (principal.issuerId !== issuerId) throw new AppError('ISSUER_NOT_ALLOWED');
  return { issuerId, requestorType: 'ISSUER', requestorId: principal.sub, correlationId: locals(res).correlationId };
}

interface PathBodyInput<Path, Body> {
  path: Path;
  body: Body;
  ctx: RequestContext;
}
type AccountInput<Body> = PathBodyInput<AccountPathDto, Body>;
type ConsumerInput<Body> = PathBodyInput<ConsumerPathDto, Body>;

/** The path and the body, checked together (one 400 lists both), then the caller against the path. */
function pathBodyInput<Path extends { issuerId: string }, Body extends object>(
  pathPart: { cls: new () => Path; fields: readonly string[] },
  cls: new () => Body,
  fields: readonly string[],
) {
  return parseInput(async (req, res): Promise<PathBodyInput<Path, Body>> => {
    const [path, body] = await validateParts(
      { cls: pathPart.cls, input: req.params, fields: pathPart.fields },
      { cls, input: req.body as object, fields },
    );
    return { path, body, ctx: issuerContext(res, path.issuerId) };
  });
}

const ACCOUNT_PATH_PART = { cls: AccountPathDto, fields: ACCOUNT_PATH_FIELDS };
const CONSUMER_PATH_PART = { cls: ConsumerPathDto, fields: CONSUMER_PATH_FIELDS };

/** The path alone, checked, then the caller against it. */
async function pathInput<T extends { issuerId: string }>(
  cls: new () => T,
  input: object,
  fields: readonly string[],
  res: Response,
): Promise<T> {
  const path = await validateDto(cls, input, fields);
  issuerContext(res, path.issuerId);
  return path;
}

export function issuerRouter(
  { database, auth, entry, idempotent }: FaceDependencies,
  options: IssuerOptions = { allowInsecureWebhooks: true },
): Router {
  const router = Router();
  router.use(ISSUER_PREFIX, ...entry);

  router.put(
    ACCOUNT_PATH,
    auth.require('issuer:write'),
    ...jsonObjectBody(),
    pathBodyInput(ACCOUNT_PATH_PART, RegisterAccountDto, REGISTER_FIELDS),
    idempotent,
    async (_req, res) => {
      const { path, body, ctx } = inputOf<AccountInput<RegisterAccountDto>>(res);
      await registerAccount(database, ctx, {
        accountNumber: path.accountId,
        consumerId: body.consumerId,
        productId: body.accountProductId ?? null,
        state: body.state,
      });
      logEvent(res, 'account registered', { account: maskAccountNumber(path.accountId), state: body.state });
      res.status(204).end();
    },
  );

  router.post(
    DELETE_PATH,
    auth.require('issuer:write'),
    ...jsonObjectBody({ optional: true }),
    pathBodyInput(ACCOUNT_PATH_PART, DeleteAccountDto, DELETE_FIELDS),
    idempotent,
    async (_req, res) => {
      const { path, body, ctx } = inputOf<AccountInput<DeleteAccountDto>>(res);
      const { operationId } = await deleteAccount(database, ctx, {
        accountNumber: path.accountId,
        reason: body.reason ?? null,
        reasonCode: body.reasonCode ?? 'ISSUER_DECISION',
      });
      logEvent(res, 'account deleted', { account: maskAccountNumber(path.accountId), operationId });
      res.status(200).json({ operationId, status: 'SUCCESSFUL' });
    },
  );

  router.post(
    CONSUMER_DELETE_PATH,
    auth.require('issuer:write'),
    ...jsonObjectBody({ optional: true }),
    pathBodyInput(CONSUMER_PATH_PART, DeleteAccountDto, DELETE_FIELDS),
    idempotent,
    async (_req, res) => {
      const { path, body, ctx } = inputOf<ConsumerInput<DeleteAccountDto>>(res);
      const { operationId } = await deleteConsumer(database, ctx, {
        consumerId: path.consumerId,
        reason: body.reason ?? null,
        reasonCode: body.reasonCode ?? 'ISSUER_DECISION',
      });
      logEvent(res, 'consumer deleted', { operationId });
      res.status(200).json({ operationId, status: 'SUCCESSFUL' });
    },
  );

  router.get(OPERATIONS_PATH, auth.require('issuer:read'), async (req, res) => {
    const [path, query] = await validateParts(
      { cls: ConsumerPathDto, input: req.params, fields: CONSUMER_PATH_FIELDS },
      queryPart(OperationsQueryDto, req.query, OPERATIONS_QUERY_FIELDS),
    );
    issuerContext(res, path.issuerId);
    const page = await listConsumerOperations(database, path.issuerId, path.consumerId, {
      offset: Number(query.offset ?? 0),
      count: Number(query.count ?? 10),
    });
    res.status(200).json(page);
  });

  router.get(SEARCH_PATH, auth.require('issuer:read'), async (req, res) => {
    const [path, query] = await validateParts(
      { cls: IssuerPathDto, input: req.params, fields: ISSUER_PATH_FIELDS },
      queryPart(OperationSearchQueryDto, req.query, OPERATION_SEARCH_FIELDS),
    );
    issuerContext(res, path.issuerId);
    const mediaType = req.accepts([...SEARCH_MEDIA_TYPES]);
    if (mediaType === false) throw new AppError('NOT_ACCEPTABLE');
    const filter = filterOf(query);
    if (mediaType === JSON_MEDIA_TYPE) {
      const page = await searchOperations(database, path.issuerId, filter, {
        limit: Number(query.limit ?? 50),
        cursor: query.cursor,
      });
      res.setHeader('Vary', 'Accept');
      res.status(200).json(page);
      return;
    }
    refusePaging(query);
    logEvent(res, 'operations exported', { format: mediaType === CSV_MEDIA_TYPE ? 'csv' : 'ndjson' });
    const stamp = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
    await streamExport(
      res,
      exportOperations(database, path.issuerId, filter),
      mediaType as ExportMediaType,
      `operations-${path.issuerId}-${stamp}`,
    );
  });

  router.get(OPERATION_PATH, auth.require('issuer:read'), async (req, res) => {
    const path = await pathInput(OperationPathDto, req.params, OPERATION_PATH_FIELDS, res);
    res.status(200).json(await getOperation(database, path.issuerId, path.operationId));
  });

  router.post(WEBHOOKS_PATH, auth.require('issuer:webhooks'), ...jsonObjectBody(), async (req, res) => {
    const [path, body] = await validateParts(
      { cls: IssuerPathDto, input: req.params, fields: ISSUER_PATH_FIELDS },
      { cls: CreateWebhookDto, input: req.body as object, fields: CREATE_WEBHOOK_FIELDS },
    );
    issuerContext(res, path.issuerId);
    const created = await createWebhook(database, path.issuerId, body, {
      allowInsecure: options.allowInsecureWebhooks,
    });
    logEvent(res, 'webhook created', { webhookId: created.webhookId, eventTypes: created.eventTypes });
    res.status(201).json(created);
  });

  router.get(WEBHOOKS_PATH, auth.require('issuer:webhooks'), async (req, res) => {
    const path = await pathInput(IssuerPathDto, req.params, ISSUER_PATH_FIELDS, res);
    res.status(200).json({ webhooks: await listWebhooks(database, path.issuerId) });
  });

  router.delete(WEBHOOK_PATH, auth.require('issuer:webhooks'), async (req, res) => {
    const path = await pathInput(WebhookPathDto, req.params, WEBHOOK_PATH_FIELDS, res);
    await deleteWebhook(database, path.issuerId, path.webhookId);
    logEvent(res, 'webhook deleted', { webhookId: path.webhookId });
    res.status(204).end();
  });

  router.get(EVENTS_PATH, auth.require('issuer:read'), async (req, res) => {
    const [path, query] = await validateParts(
      { cls: IssuerPathDto, input: req.params, fields: ISSUER_PATH_FIELDS },
      queryPart(EventsQueryDto, req.query, EVENTS_QUERY_FIELDS),
    );
    issuerContext(res, path.issuerId);
    const page = await listEvents(database, path.issuerId, { after: query.after, limit: Number(query.limit ?? 100) });
    res.status(200).json(page);
  });

  router.get(EVENT_PATH, auth.require('issuer:read'), async (req, res) => {
    const path = await pathInput(EventPathDto, req.params, EVENT_PATH_FIELDS, res);
    res.status(200).json(await getEvent(database, path.issuerId, path.eventId));
  });

  router.post(REDELIVER_PATH, auth.require('issuer:webhooks'), async (req, res) => {
    const path = await pathInput(EventPathDto, req.params, EVENT_PATH_FIELDS, res);
    const result = await redeliverEvent(database, path.issuerId, path.eventId);
    logEvent(res, 'event queued for redelivery', result);
    res.status(202).json(result);
  });

  router.all(ACCOUNT_PATH, methodNotAllowed(['PUT']));
  router.all(WEBHOOKS_PATH, methodNotAllowed(['GET', 'POST']));
  router.all(WEBHOOK_PATH, methodNotAllowed(['DELETE']));
  router.all(EVENTS_PATH, methodNotAllowed(['GET']));
  router.all(EVENT_PATH, methodNotAllowed(['GET']));
  router.all(REDELIVER_PATH, methodNotAllowed(['POST']));
  router.all(DELETE_PATH, methodNotAllowed(['POST']));
  router.all(OPERATIONS_PATH, methodNotAllowed(['GET']));
  router.all(CONSUMER_DELETE_PATH, methodNotAllowed(['POST']));
  router.all(SEARCH_PATH, methodNotAllowed(['GET']));
  router.all(OPERATION_PATH, methodNotAllowed(['GET']));
  router.use(ISSUER_PREFIX, routeNotFound());
  router.use(errorHandler(issuerError));
  return router;
}
