// The CoreCredit face in the OpenAPI document: its paths, its request schemas (from the envelope DTOs) and its views.
import type { AccountState } from '../db/entities';
import { ERRORS, type ErrorName } from '../errors';
import { ACCOUNT_NUMBER_PATTERN, CONSUMER_ID_PATTERN } from '../links/identifiers';
import { dtoSchema, jsonPattern, type RuleConverter } from '../openapi/dto-schema';
import { prose } from '../openapi/prose';
import {
  AUTH,
  BODY,
  bearer,
  coreCreditSuccess,
  errorResponses,
  IDEMPOTENCY,
  jsonBody,
  LIMITED,
  pathItem,
  sortResponses,
  success,
} from '../openapi/responses';
import { type JsonSchema, type Paths, ref, type Reference, viewSchema } from '../openapi/types';
import {
  DeLinkAccountDto,
  ENVELOPE_FIELDS,
  GetLinkAccountsDto,
  LinkMultipleAccountsDto,
  SUPPORTED_API_VERSION,
} from './dto';
import { DELINK_PATH, GET_LINKS_PATH, LINK_PATH } from './routes';

/** One account of GetLinkAccounts' ResponseData, as the route writes it. */
export interface LinkedAccountView {
  AccountNumber: string;
  IsMainAccount: boolean;
  AccountStatus: AccountState;
  LinkedOn: string;
}
/** GetLinkAccounts' ResponseData. */
export interface LinkAccountsView {
  SSUserID: string;
  Accounts: LinkedAccountView[];
}

/** RequestTime's form; whether the date exists on the calendar (no 02/30) only the service can tell. */
const REQUEST_TIME_PATTERN =
  '^(0[1-9]|1[0-2])/(0[1-9]|[12][0-9]|3[01])/(?!0000)[0-9]{4} ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$';

/** The envelope's own rules (src/corecredit/dto.ts), in JSON Schema. */
const ENVELOPE_RULES: Record<string, RuleConverter> = {
  isRequestTime: () => ({ type: 'string', pattern: REQUEST_TIME_PATTERN }),
};

const ACCOUNT_STATES = ['ACTIVE', 'INACTIVE', 'SUSPENDED', 'CLOSED', 'DELETED'] satisfies AccountState[];

const ENVELOPE_NOTES: Record<string, string> = {
  Source: 'The channel, recorded on the operation as sent (e.g. `WEB`, `IVR`, `WEB.PORTAL`).',
  IPAddress: 'The address of the calling system.',
  DateFormat:
    'A placeholder for future use. How dates in the response are written: `"1"` MM/dd/yyyy HH:mm:ss, `"2"` MM/dd/yy HH:mm:ss, `"3"` dd/MM/yyyy HH:mm:ss; any other value means `"1"`.',
  CurrencyCode: 'A placeholder for future use; default `"840"`. Not read.',
  CurrencySymbolType: 'A placeholder for future use. Not read.',
  Language: 'A placeholder for future use; default `en`. Not read.',
  ExternalIP:
    "The end user's address. The service also takes an IPv6 address with a zone suffix (`fe80::1%eth0`), which the `ipv6` format does not.",
  SessionID: 'The channel session, recorded on the operation.',
  APIVersion: `Only \`"${SUPPORTED_API_VERSION}"\`; another string is refused with \`${ERRORS.UNSUPPORTED_API_VERSION.code}\` before the other fields are judged.`,
  CallerID:
    'IVR: the calling number as the platform passes it, in any notation, or a withheld marker such as `Anonymous`; recorded as sent.',
  CalledID: 'IVR: the called number as the platform passes it; recorded as sent.',
  RequestTime: 'When the channel sent the request; a real calendar date and time.',
  AccountNumber: 'The account, as a JSON string (a number would lose digits past 2^53).',
  SSUserID: 'The self-service user; case-insensitive.',
};

function envelopeSchema(
  cls: typeof DeLinkAccountDto | typeof LinkMultipleAccountsDto | typeof GetLinkAccountsDto,
  title: string,
): JsonSchema {
  const { properties, required } = dtoSchema(cls, ENVELOPE_FIELDS, ENVELOPE_NOTES, ENVELOPE_RULES);
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

/** The SSUserID rule, as the envelope DTO states it. */
const ssUserIdSchema = (): JsonSchema => ({ type: 'string', pattern: jsonPattern(CONSUMER_ID_PATTERN) });

export function coreCreditRequestSchemas(): Record<string, JsonSchema> {
  return {
    DeLinkAccountRequest: envelopeSchema(DeLinkAccountDto, 'DeLinkAccount request'),
    LinkMultipleAccountsRequest: envelopeSchema(LinkMultipleAccountsDto, 'LinkMultipleAccounts request'),
    GetLinkAccountsRequest: envelopeSchema(GetLinkAccountsDto, 'GetLinkAccounts request'),
  };
}

export function coreCreditResponseSchemas(): Record<string, JsonSchema> {
  const accounts: JsonSchema = {
    type: 'array',
    description: 'The linked accounts only, the main account first.',
    items: ref('schemas', 'LinkedAccount'),
  };
  return {
    DeLinkAccountSuccess: coreCreditSuccess({ type: 'object', additionalProperties: false }),
    LinkMultipleAccountsSuccess: coreCreditSuccess({ type: 'object', additionalProperties: false }),
    GetLinkAccountsSuccess: coreCreditSuccess(
      viewSchema<LinkAccountsView>({
        SSUserID: { ...ssUserIdSchema(), description: 'As the user was registered.' },
        Accounts: accounts,
      }),
    ),
    LinkedAccount: viewSchema<LinkedAccountView>({
      AccountNumber: { type: 'string', pattern: jsonPattern(ACCOUNT_NUMBER_PATTERN) },
      IsMainAccount: { type: 'boolean', description: 'The account the user first registered with; never delinked.' },
      AccountStatus: { enum: ACCOUNT_STATES, description: "The account's state." },
      LinkedOn: {
        type: 'string',
        pattern: '^[0-9]{2}/[0-9]{2}/([0-9]{2}|[0-9]{4}) [0-9]{2}:[0-9]{2}:[0-9]{2}$',
        description: "UTC, written per the request's `DateFormat`.",
      },
    }),
  };
}

/** CoreCredit's documented sample request: the document's example, and the tests' starting point. */
export const SAMPLE_ENVELOPE: Readonly<Record<string, string | null>> = {
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

/** What a cardholder's change of one link answers (DeLinkAccount, LinkMultipleAccounts): its success, or the errors
 * both share and its own refusals. */
function linkChangeResponses(summary: string, successSchema: string, refusals: ErrorName[]) {
  return sortResponses({
    '200': success(summary, ref('schemas', successSchema), { idempotent: true, ...LIMITED }),
    ...errorResponses(
      'corecredit',
      [
        ...BODY,
        'UNSUPPORTED_API_VERSION',
        ...AUTH,
        'USER_NOT_ALLOWED',
        'USER_NOT_FOUND',
        ...refusals,
        ...IDEMPOTENCY,
        'SERVICE_UNAVAILABLE',
      ],
      { idempotent: true, ...LIMITED },
    ),
  });
}

export function coreCreditPaths(parameters: { correlation: Reference; idempotencyKey: Reference }): Paths {
  const { correlation, idempotencyKey } = parameters;
  return {
    [DELINK_PATH]: pathItem(
      'corecredit',
      {
        post: {
          operationId: 'DeLinkAccount',
          tags: ['CoreCredit'],
          summary: 'Remove an account from a self-service user',
          description: prose('DeLinkAccount'),
          security: bearer('selfservice:delink'),
          parameters: [correlation, idempotencyKey],
          requestBody: jsonBody('DeLinkAccountRequest', true, {
            web: { summary: 'The documented sample (web portal)', value: SAMPLE_ENVELOPE },
            ivr: { summary: 'From the IVR, with the phone numbers', value: IVR_ENVELOPE },
          }),
          responses: linkChangeResponses('Delinked.', 'DeLinkAccountSuccess', [
            'ACCOUNT_NOT_LINKED',
            'ACCOUNT_ALREADY_DELINKED',
            'MAIN_ACCOUNT',
          ]),
        },
      },
      LIMITED,
    ),
    [LINK_PATH]: pathItem(
      'corecredit',
      {
        post: {
          operationId: 'LinkMultipleAccounts',
          tags: ['CoreCredit'],
          summary: 'Link an account to a self-service user again',
          description: prose('LinkMultipleAccounts', {
            ALREADY_LINKED: ERRORS.ACCOUNT_ALREADY_LINKED.code,
            NOT_LINKABLE: ERRORS.ACCOUNT_NOT_LINKABLE.code,
            DELETED: ERRORS.ACCOUNT_DELETED.code,
            USER_NOT_FOUND: ERRORS.USER_NOT_FOUND.code,
            USER_NOT_ALLOWED: ERRORS.USER_NOT_ALLOWED.code,
          }),
          security: bearer('selfservice:link'),
          parameters: [correlation, idempotencyKey],
          requestBody: jsonBody('LinkMultipleAccountsRequest', true, {
            web: { summary: 'From the web portal', value: SAMPLE_ENVELOPE },
            ivr: { summary: 'From the IVR, with the phone numbers', value: IVR_ENVELOPE },
          }),
          responses: linkChangeResponses('Linked.', 'LinkMultipleAccountsSuccess', [
            'ACCOUNT_NOT_LINKABLE',
            'ACCOUNT_ALREADY_LINKED',
            'ACCOUNT_DELETED',
          ]),
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
          description: prose('GetLinkAccounts'),
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
  };
}
