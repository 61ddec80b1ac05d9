// The CoreCredit face: DeLinkAccount and GetLinkAccounts, for the web portal and the IVR.
import { Router } from 'express';
import type { DataSource } from 'typeorm';
import { AppError } from '../errors';
import type { Authenticator } from '../http/auth';
import { jsonObjectBody } from '../http/body';
import { locals, principalOf } from '../http/context';
import { methodNotAllowed, sendCoreCreditSuccess } from '../http/envelope';
import { idempotency } from '../http/idempotency';
import { logEvent } from '../http/logging';
import { validateDto } from '../http/validation';
import { delinkAccount, listLinkedAccounts } from '../links/links';
import { maskAccountNumber } from '../logger';
import type { RequestContext } from '../operations/operations';
import { DeLinkAccountDto, ENVELOPE_FIELDS, type EnvelopeDto, GetLinkAccountsDto, SUPPORTED_API_VERSION } from './dto';

export const DELINK_PATH = '/api/CoreCredit/UserManagement/DeLinkAccount';
export const GET_LINKS_PATH = '/api/CoreCredit/UserManagement/GetLinkAccounts';

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

export function coreCreditRouter(dataSource: DataSource, auth: Authenticator): Router {
  const router = Router();

  router.post(
    DELINK_PATH,
    auth.require('selfservice:delink'),
    ...jsonObjectBody(),
    idempotency(dataSource),
    async (req, res) => {
      const dto = await envelope(DeLinkAccountDto, req.body as Record<string, unknown>);
      const principal = principalOf(res);
      const ctx: RequestContext = {
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
      // The events carry no SSUserID (it is often a number like an account's); the correlation id leads to the
      // operation, which records everything.
      const account = maskAccountNumber(dto.AccountNumber);
      try {
        await delinkAccount(dataSource, ctx, {
          ssUserId: dto.SSUserID,
          accountNumber: dto.AccountNumber,
          boundSsUserId: principal.ssUserId,
        });
      } catch (error) {
        // A refusal is a business outcome; anything else is logged as a failure by the error middleware.
        if (error instanceof AppError && error.status < 500) logEvent(res, 'delink refused', { account });
        throw error;
      }
      logEvent(res, 'account delinked', { account });
      sendCoreCreditSuccess(res);
    },
  );

  router.post(GET_LINKS_PATH, auth.require('selfservice:read'), ...jsonObjectBody(), async (req, res) => {
    const dto = await envelope(GetLinkAccountsDto, req.body as Record<string, unknown>);
    const principal = principalOf(res);
    const links = await listLinkedAccounts(dataSource, principal.issuerId, {
      ssUserId: dto.SSUserID,
      boundSsUserId: principal.ssUserId,
    });
    sendCoreCreditSuccess(res, {
      SSUserID: links.ssUserId,
      Accounts: links.accounts.map((a) => ({
        AccountNumber: a.accountNumber,
        IsMainAccount: a.isMain,
        AccountStatus: a.state,
        LinkedOn: formatDate(a.linkedOn, dto.DateFormat),
      })),
    });
  });

  router.all([DELINK_PATH, GET_LINKS_PATH], methodNotAllowed(['POST']));
  return router;
}
