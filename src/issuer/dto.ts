// The issuer account API's path, query and body fields (the issuer seed's patterns narrowed by the contract).
import {
  ArrayNotEmpty,
  IsArray,
  IsDefined,
  IsIn,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateBy,
} from 'class-validator';
import type { OperationKind, OperationStatus } from '../db/entities';
import { EVENT_TYPES, type EventType } from '../events/events';
import { CORRELATION_PATTERN } from '../http/correlation';
import { ACCOUNT_NUMBER_PATTERN, CONSUMER_ID_PATTERN, ISSUER_ID_PATTERN } from '../links/identifiers';
import { REGISTER_STATES, type RegisterState } from '../links/lifecycle';
import { decodeCursor } from '../operations/search';

const required = (field: string) => IsDefined({ message: `${field} is required and may not be null` });
// Written out so that the contract's text does not depend on the library's; it is class-validator's own all the same.
// Stryker disable next-line ObjectLiteral,StringLiteral: class-validator's own message for IsString is this same text.
const aString = (field: string) => IsString({ message: `${field} must be a string` });
const issuerIdRule = Matches(ISSUER_ID_PATTERN, { message: 'issuerId must be exactly 10 letters, digits, _ or -' });

export class AccountPathDto {
  @required('issuerId') @aString('issuerId') @issuerIdRule issuerId!: string;
  @required('accountId')
  @aString('accountId')
  @Matches(ACCOUNT_NUMBER_PATTERN, { message: 'accountId must be 1 to 19 digits' })
  accountId!: string;
}
export const ACCOUNT_PATH_FIELDS = ['issuerId', 'accountId'] as const;

export class ConsumerPathDto {
  @required('issuerId') @aString('issuerId') @issuerIdRule issuerId!: string;
  @required('consumerId')
  @aString('consumerId')
  @Matches(CONSUMER_ID_PATTERN, { message: 'consumerId must be 1 to 30 letters or digits' })
  consumerId!: string;
}
export const CONSUMER_PATH_FIELDS = ['issuerId', 'consumerId'] as const;

export class RegisterAccountDto {
  @required('consumerId')
  @aString('consumerId')
  @Matches(CONSUMER_ID_PATTERN, { message: 'consumerId must be 1 to 30 letters or digits' })
  consumerId!: string;

  @IsOptional()
  @aString('accountProductId')
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'accountProductId must be 1 to 64 letters, digits, _ or -' })
  accountProductId?: string | null;

  @required('state')
  @aString('state')
  @IsIn(REGISTER_STATES, { message: `state must be one of ${REGISTER_STATES.join(', ')}` })
  state!: RegisterState;
}
export const REGISTER_FIELDS = ['consumerId', 'accountProductId', 'state'] as const;

/** The body of an account delete, and of a consumer delete. */
export class DeleteAccountDto {
  @IsOptional()
  @aString('reason')
  @Matches(/^[a-zA-Z0-9 ]{1,64}$/, { message: 'reason must be 1 to 64 letters, digits or spaces' })
  reason?: string | null;

  @IsOptional()
  @aString('reasonCode')
  @IsIn(['USER_DECISION', 'ISSUER_DECISION'], { message: 'reasonCode must be USER_DECISION or ISSUER_DECISION' })
  reasonCode?: 'USER_DECISION' | 'ISSUER_DECISION' | null;
}
export const DELETE_FIELDS = ['reason', 'reasonCode'] as const;

export class OperationsQueryDto {
  @IsOptional()
  @aString('offset')
  @Matches(/^(0|[1-9]\d{0,8})$/, { message: 'offset must be a whole number from 0 to 999999999' })
  offset?: string;

  @IsOptional()
  @aString('count')
  @Matches(/^([1-9]\d?|100)$/, { message: 'count must be a whole number from 1 to 100' })
  count?: string;
}
export const OPERATIONS_QUERY_FIELDS = ['offset', 'count'] as const;

// Webhook subscriptions and the events feed.

export const WEBHOOK_ID_PATTERN = /^wh_[0-9a-f]{32}$/;
export const EVENT_ID_PATTERN = /^evt_[0-9a-f]{32}$/;
export const MAX_WEBHOOK_URL_LENGTH = 2048;
const eventIdRule = (field: string) => Matches(EVENT_ID_PATTERN, { message: `${field} must be an event id (evt_…)` });

export class IssuerPathDto {
  @required('issuerId') @aString('issuerId') @issuerIdRule issuerId!: string;
}
export const ISSUER_PATH_FIELDS = ['issuerId'] as const;

export class WebhookPathDto {
  @required('issuerId') @aString('issuerId') @issuerIdRule issuerId!: string;
  @required('webhookId')
  @aString('webhookId')
  @Matches(WEBHOOK_ID_PATTERN, { message: 'webhookId must be a webhook id (wh_…)' })
  webhookId!: string;
}
export const WEBHOOK_PATH_FIELDS = ['issuerId', 'webhookId'] as const;

export class EventPathDto {
  @required('issuerId') @aString('issuerId') @issuerIdRule issuerId!: string;
  @required('eventId') @aString('eventId') @eventIdRule('eventId') eventId!: string;
}
export const EVENT_PATH_FIELDS = ['issuerId', 'eventId'] as const;

export class CreateWebhookDto {
  @required('url')
  @aString('url')
  @MaxLength(MAX_WEBHOOK_URL_LENGTH, { message: `url must be at most ${MAX_WEBHOOK_URL_LENGTH} characters` })
  url!: string;

  @required('eventTypes')
  @IsArray({ message: 'eventTypes must be an array of event types' })
  @ArrayNotEmpty({ message: 'eventTypes must list at least one event type' })
  @IsIn(EVENT_TYPES, { each: true, message: `eventTypes may hold only ${EVENT_TYPES.join(', ')}` })
  eventTypes!: EventType[];
}
export const CREATE_WEBHOOK_FIELDS = ['url', 'eventTypes'] as const;

export class EventsQueryDto {
  @IsOptional() @aString('after') @eventIdRule('after') after?: string;

  @IsOptional()
  @aString('limit')
  @Matches(/^([1-9]\d{0,1}|[1-4]\d\d|500)$/, { message: 'limit must be a whole number from 1 to 500' })
  limit?: string;
}
export const EVENTS_QUERY_FIELDS = ['after', 'limit'] as const;

// The audit search.

export const OPERATION_KINDS = [
  'REGISTER',
  'DELINK',
  'LINK',
  'DELETE',
  'DELETE_CONSUMER',
  'PURGE',
] as const satisfies readonly OperationKind[];
export const OPERATION_STATUSES = ['SUCCESSFUL', 'FAILED'] as const satisfies readonly OperationStatus[];
export const OPERATION_ID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
export const ERROR_CODE_PATTERN = /^ERR\d{5}$/;
/** As the CoreCredit envelope takes Source and CallerID: printable characters in any script. */
const printable = (max: number): RegExp => new RegExp(`^[\\p{L}\\p{M}\\p{N}\\p{P}\\p{S}\\p{Zs}]{1,${max}}$`, 'u');
export const SOURCE_PATTERN = printable(50);
export const CALLER_ID_PATTERN = printable(20);
/** ISO 8601 date and time with seconds optional, a fraction optional, and the offset required. */
export const INSTANT_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):(\d{2}))$/;

/** The instant an ISO 8601 date-time with offset names; undefined when it is malformed or not a real date and time. */
export function parseInstant(text: string): Date | undefined {
  const m = INSTANT_PATTERN.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second = '00', fraction = ''] = m.slice(1, 8) as [
    string,
    string,
    string,
    string,
    string,
    string | undefined,
    string | undefined,
  ];
  const offsetMinutes = m[8] === 'Z' ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  const local = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
  // A real date and time comes back from Date.UTC as it was written: 02-30, 24:00 or a 60th second roll over into
  // another, and so do the years 0 to 99, which Date.UTC reads as 1900 to 1999.
  const real =
    new Date(local).toISOString().slice(0, 19) === `${year}-${month}-${day}T${hour}:${minute}:${second}` &&
    Math.abs(offsetMinutes) <= 14 * 60 &&
    Number(m[11] ?? 0) < 60;
  if (!real) return undefined;
  const milliseconds = Number(fraction.padEnd(3, '0').slice(0, 3));
  return new Date(local - offsetMinutes * 60_000 + milliseconds);
}

const instant = (field: string) =>
  ValidateBy({
    name: 'isInstant',
    validator: {
      // A value that is not a string is refused by the field's IsString, whose message wins:
      // Stryker disable next-line ConditionalExpression: see above.
      validate: (value) => typeof value === 'string' && parseInstant(value) !== undefined,
      defaultMessage: () =>
        `${field} must be an ISO 8601 date and time with an offset, such as 2025-10-28T09:30:00Z or 2025-10-28T11:30:00+02:00`,
    },
  });

/** `to` may not be before `from` (checked once both are instants). */
const notBeforeFrom = ValidateBy({
  name: 'notBeforeFrom',
  validator: {
    validate: (value, args) => {
      const from = (args?.object as { from?: unknown } | undefined)?.from;
      const start = typeof from === 'string' ? parseInstant(from) : undefined;
      // Stryker disable next-line ConditionalExpression: as for `instant`, a `to` that is not a string fails IsString.
      const end = typeof value === 'string' ? parseInstant(value) : undefined;
      return start === undefined || end === undefined || start <= end;
    },
    defaultMessage: () => 'to must not be before from',
  },
});

const cursorRule = ValidateBy({
  name: 'isCursor',
  validator: {
    // As for the instants, a value that is not a string is refused by IsString, whose message wins:
    // Stryker disable next-line ConditionalExpression: see above.
    validate: (value) => typeof value === 'string' && decodeCursor(value) !== undefined,
    defaultMessage: () => 'cursor must be the next of a previous page, as it was returned',
  },
});

export class OperationPathDto {
  @required('issuerId') @aString('issuerId') @issuerIdRule issuerId!: string;
  @required('operationId')
  @aString('operationId')
  @Matches(OPERATION_ID_PATTERN, { message: 'operationId must be an operation id (a UUID)' })
  operationId!: string;
}
export const OPERATION_PATH_FIELDS = ['issuerId', 'operationId'] as const;

export class OperationSearchQueryDto {
  @IsOptional()
  @aString('consumerId')
  @Matches(CONSUMER_ID_PATTERN, { message: 'consumerId must be 1 to 30 letters or digits' })
  consumerId?: string;

  @IsOptional()
  @aString('accountId')
  @Matches(ACCOUNT_NUMBER_PATTERN, { message: 'accountId must be 1 to 19 digits' })
  accountId?: string;

  @IsOptional()
  @aString('operation')
  @IsIn(OPERATION_KINDS, { message: `operation must be one of ${OPERATION_KINDS.join(', ')}` })
  operation?: OperationKind;

  @IsOptional()
  @aString('status')
  @IsIn(OPERATION_STATUSES, { message: `status must be one of ${OPERATION_STATUSES.join(', ')}` })
  status?: OperationStatus;

  @IsOptional()
  @aString('errorCode')
  @Matches(ERROR_CODE_PATTERN, { message: 'errorCode must be an ErrorCode such as ERR01131' })
  errorCode?: string;

  @IsOptional()
  @aString('correlationId')
  @Matches(CORRELATION_PATTERN, { message: 'correlationId must be 1 to 64 letters, digits, _ - . or spaces' })
  correlationId?: string;

  @IsOptional()
  @aString('callerId')
  @Matches(CALLER_ID_PATTERN, { message: 'callerId must be 1 to 20 printable characters' })
  callerId?: string;

  @IsOptional()
  @aString('source')
  @Matches(SOURCE_PATTERN, { message: 'source must be 1 to 50 printable characters' })
  source?: string;

  @IsOptional() @aString('from') @instant('from') from?: string;

  @IsOptional() @aString('to') @instant('to') @notBeforeFrom to?: string;

  @IsOptional()
  @aString('limit')
  @Matches(/^([1-9]\d{0,1}|[1-4]\d\d|500)$/, { message: 'limit must be a whole number from 1 to 500' })
  limit?: string;

  @IsOptional() @aString('cursor') @cursorRule cursor?: string;
}
export const OPERATION_FILTER_FIELDS = [
  'consumerId',
  'accountId',
  'operation',
  'status',
  'errorCode',
  'correlationId',
  'callerId',
  'source',
  'from',
  'to',
] as const;
export const OPERATION_SEARCH_FIELDS = [...OPERATION_FILTER_FIELDS, 'limit', 'cursor'] as const;
