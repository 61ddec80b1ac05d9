// The CoreCredit face: DeLinkAccount, LinkMultipleAccounts and GetLinkAccounts, for the web portal and the IVR.
import { type RequestHandler, type Response, Router } from 'express';
import { Counter } from 'prom-client';
import { AppError } from '../errors';
import { jsonObjectBody } from '../http/body';
import { locals, principalOf } from '../http/context';
import { errorHandler, methodNotAllowed, routeNotFound } from '../http/errors';
import type { FaceDependencies } from '../http/face';
import { logEvent } from '../http/logging';
import { inputOf, parseInput, validateDto } from '../http/validation';
import { delinkAccount } from '../links/delink';
import { linkAccount } from '../links/link';
import { listLinkedAccounts } from '../links/list-links';
import { maskAccountNumber } from '../logger';
import type { RequestContext } from '../operations/context';
import { envelopeError, sendSuccess } from './envelope';
import {
  DeLinkAccountDto,
  ENVELOPE_FIELDS,
  type EnvelopeDto,
  GetLinkAccountsDto,
  LinkMultipleAccountsDto,
  SUPPORTED_API_VERSION,
} from './dto';

/** Everything below it is this face's: answered in its envelope, unknown paths included. */
export const CORECREDIT_PREFIX = '/api/CoreCredit';
export const DELINK_PATH = '/api/CoreCredit/UserManagement/DeLinkAccount';
export const GET_LINKS_PATH = '/api/CoreCredit/UserManagement/GetLinkAccounts';
export const LINK_PATH = '/api/CoreCredit/UserManagement/LinkMultipleAccounts';

/** An unsupported APIVersion may mean another schema altogether, so it is refused before the fields are judged. */
function checkApiVersion(body: Record<string, unknown>): void {
  if (typeof body.APIVersion === 'string' && body.APIVersion !== SUPPORTED_API_VERSION)
    throw new AppError('UNSUPPORTED_API_VERSION');
}

async function envelope<T extends EnvelopeDto>(cls: new () => T, body: Record<string, unknown>): Promise<T> {
  checkApiVersion(body);
  return validateDto(cls, body, ENVELOPE_FIELDS);
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** LinkedOn in the envelope's DateFormat (UTC): 1 = MM/dd/yyyy, 2 = MM/dd/yy, 3 = dd/MM/yyyy, then HH:mm:ss. */
export function formatDate(date: Date, dateFormat: string | null | undefined): string {
  const dd = pad(date.getUTCDate());
  const mm = pad(date.getUTCMonth() + 1);
  const yyyy = pad(date.getUTCFullYear(), 4);
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  switch (dateFormat) {
    case '2':
      return `${mm}/${dd}/${yyyy.slice(2)} ${time}`;
    case '3':
      return `${dd}/${mm}/${yyyy} ${time}`;
    default:
      return `${mm}/${dd}/${yyyy} ${time}`;
  }
}

/** Who asks, through which channel: what the operation of a cardholder's request records besides its outcome. */
function userContext(res: Response, dto: EnvelopeDto): RequestContext {
  const principal = principalOf(res);
  return {
    issuerId: principal.issuerId,
    requestorType: 'USER',
    requestorId: principal.sub,
    correlationId: locals(res).correlationId,
    channel: {
      source: dto.Source,
      sessionId: dto.SessionID ?? null,
      ipAddress: dto.IPAddress ?? null,
      externalIp: dto.ExternalIP,
      callerId: dto.CallerID ?? null,
      calledId: dto.CalledID ?? null,
    },
  };
}

/** Counts every DeLinkAccount answer by its ErrorCode, refusals included. */
function countDelinkOutcomes(registry: FaceDependencies['registry']): RequestHandler {
  const outcomes = new Counter({
    name: 'corecredit_delink_outcomes_total',
    help: 'DeLinkAccount responses by ErrorCode (ERR01093 is success).',
    labelNames: ['errorCode'] as const,
    registers: [registry],
  });
  return (_req, res, next) => {
    res.once('finish', () => {
      const errorCode = locals(res).errorCode;
      if (errorCode !== undefined) outcomes.inc({ errorCode });
    });
    next();
  };
}

/** A use case that changes one link of a cardholder, as DeLinkAccount and LinkMultipleAccounts call theirs. */
type LinkChange = (
  database: FaceDependencies['database'],
  ctx: RequestContext,
  request: { consumerId: string; accountNumber: string; boundConsumerId?: string },
) => Promise<void>;

/** Runs a cardholder's change of one link and logs what it did, or that it was refused, with the masked account. */
function changeLink(
  database: FaceDependencies['database'],
  change: LinkChange,
  events: { done: string; refused: string },
): RequestHandler {
  return async (_req, res) => {
    const dto = inputOf<DeLinkAccountDto | LinkMultipleAccountsDto>(res);
    // The events carry no SSUserID (it is often a number like an account's); the correlation id leads to the
    // operation, which records everything.
    const account = maskAccountNumber(dto.AccountNumber);
    const request = {
      consumerId: dto.SSUserID,
      accountNumber: dto.AccountNumber,
      boundConsumerId: principalOf(res).ssUserId,
    };
    try {
      await change(database, userContext(res, dto), request);
    } catch (error) {
      // A refusal is a business outcome; anything else is logged as a failure by the error middleware.
      if (error instanceof AppError && error.status < 500) logEvent(res, events.refused, { account });
      throw error;
    }
    logEvent(res, events.done, { account });
    sendSuccess(res);
  };
}

export function coreCreditRouter({ database, auth, entry, idempotent, registry }: FaceDependencies): Router {
  const router = Router();
  router.use(CORECREDIT_PREFIX, ...entry);

  router.post(
    DELINK_PATH,
    countDelinkOutcomes(registry),
    auth.require('selfservice:delink'),
    ...jsonObjectBody(),
    parseInput((req) => envelope(DeLinkAccountDto, req.body as Record<string, unknown>)),
    idempotent,
    changeLink(database, delinkAccount, { done: 'account delinked', refused: 'delink refused' }),
  );

  router.post(
    LINK_PATH,
    auth.require('selfservice:link'),
    ...jsonObjectBody(),
    parseInput((req) => envelope(LinkMultipleAccountsDto, req.body as Record<string, unknown>)),
    idempotent,
    changeLink(database, linkAccount, { done: 'account linked', refused: 'link refused' }),
  );

  router.post(GET_LINKS_PATH, auth.require('selfservice:read'), ...jsonObjectBody(), async (req, res) => {
    const dto = await envelope(GetLinkAccountsDto, req.body as Record<string, unknown>);
    const principal = principalOf(res);
    const links = await listLinkedAccounts(database, principal.issuerId, {
      consumerId: dto.SSUserID,
      boundConsumerId: principal.ssUserId,
    });
    sendSuccess(res, {
      SSUserID: links.consumerId,
      Accounts: links.accounts.map((a) => ({
        AccountNumber: a.accountNumber,
        IsMainAccount: a.isMain,
        AccountStatus: a.state,
        LinkedOn: formatDate(a.linkedOn, dto.DateFormat),
      })),
    });
  });

  router.all([DELINK_PATH, LINK_PATH, GET_LINKS_PATH], methodNotAllowed(['POST']));
  router.use(CORECREDIT_PREFIX, routeNotFound());
  router.use(errorHandler(envelopeError));
  return router;
}
