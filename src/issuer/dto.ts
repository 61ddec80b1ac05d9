// The issuer account API's path, query and body fields (the issuer seed's patterns narrowed by the contract).
import { ArrayNotEmpty, IsArray, IsDefined, IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { EVENT_TYPES, type EventType } from '../events/events';
import { ACCOUNT_NUMBER_PATTERN, CONSUMER_ID_PATTERN, ISSUER_ID_PATTERN } from '../links/identifiers';
import { REGISTER_STATES, type RegisterState } from '../links/lifecycle';

const required = (field: string) => IsDefined({ message: `${field} is required and may not be null` });
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
