// The issuer face: register and delete accounts, and list a consumer's operations, for the issuer's backend.
import { type Response, Router } from 'express';
import { AppError } from '../errors';
import { jsonObjectBody } from '../http/body';
import { locals, principalOf } from '../http/context';
import { errorHandler, methodNotAllowed, routeNotFound } from '../http/errors';
import type { FaceDependencies } from '../http/face';
import { logEvent } from '../http/logging';
import { inputOf, parseInput, validateParts } from '../http/validation';
import { deleteAccount } from '../links/delete-account';
import { registerAccount } from '../links/register';
import { maskAccountNumber } from '../logger';
import type { RequestContext } from '../operations/context';
import { listConsumerOperations } from '../operations/list';
import { issuerError } from './error-body';
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
} from './dto';

/** Everything below it is this face's: answered with its error object, unknown paths included. */
export const ISSUER_PREFIX = '/issuers';
export const ACCOUNT_PATH = '/issuers/:issuerId/accounts/:accountId';
// Express 5 reads an unescaped ':' as the start of a parameter.
export const DELETE_PATH = '/issuers/:issuerId/accounts/:accountId/operations\\:delete';
export const OPERATIONS_PATH = '/issuers/:issuerId/consumers/:consumerId/operations';

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

interface AccountInput<Body> {
  path: AccountPathDto;
  body: Body;
  ctx: RequestContext;
}

/** The account path and the body, checked together (one 400 lists both), then the caller against the path. */
function accountInput<Body extends object>(cls: new () => Body, fields: readonly string[]) {
  return parseInput(async (req, res): Promise<AccountInput<Body>> => {
    const [path, body] = await validateParts(
      { cls: AccountPathDto, input: req.params, fields: ACCOUNT_PATH_FIELDS },
      { cls, input: req.body as object, fields },
    );
    return { path, body, ctx: issuerContext(res, path.issuerId) };
  });
}

export function issuerRouter({ database, auth, entry, idempotent }: FaceDependencies): Router {
  const router = Router();
  router.use(ISSUER_PREFIX, ...entry);

  router.put(
    ACCOUNT_PATH,
    auth.require('issuer:write'),
    ...jsonObjectBody(),
    accountInput(RegisterAccountDto, REGISTER_FIELDS),
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
    accountInput(DeleteAccountDto, DELETE_FIELDS),
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

  router.get(OPERATIONS_PATH, auth.require('issuer:read'), async (req, res) => {
    const [path, query] = await validateParts(
      { cls: ConsumerPathDto, input: req.params, fields: CONSUMER_PATH_FIELDS },
      { cls: OperationsQueryDto, input: req.query, fields: OPERATIONS_QUERY_FIELDS },
    );
    issuerContext(res, path.issuerId);
    const page = await listConsumerOperations(database, path.issuerId, path.consumerId, {
      offset: Number(query.offset ?? 0),
      count: Number(query.count ?? 10),
    });
    res.status(200).json(page);
  });

  router.all(ACCOUNT_PATH, methodNotAllowed(['PUT']));
  router.all(DELETE_PATH, methodNotAllowed(['POST']));
  router.all(OPERATIONS_PATH, methodNotAllowed(['GET']));
  router.use(ISSUER_PREFIX, routeNotFound());
  router.use(errorHandler(issuerError));
  return router;
}
