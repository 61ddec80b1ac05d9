// The CoreCredit request envelope: every field a JSON string (or null where optional), checked without coercion.
import {
  IsDefined,
  IsIP,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateBy,
  type ValidationOptions,
} from 'class-validator';
import { ACCOUNT_NUMBER_PATTERN, CONSUMER_ID_PATTERN } from '../links/identifiers';

export const SUPPORTED_API_VERSION = '2.0';
const REQUEST_TIME_PATTERN = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2}):(\d{2})$/;

/** `MM/dd/yyyy HH:mm:ss` naming a real calendar date and time (no 02/30, no 24:00:00). */
export function isRealRequestTime(value: unknown): boolean {
  // A value that is not a string is refused by the field's IsString, whose message wins:
  // Stryker disable next-line BooleanLiteral,ConditionalExpression: see above.
  if (typeof value !== 'string') return false;
  const m = REQUEST_TIME_PATTERN.exec(value);
  if (m === null) return false;
  const [month, day, year, hour, minute, second] = m.slice(1) as [string, string, string, string, string, string];
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0 to 99 as 1900 to 1999, which refused 12/31/0099 23:59:59.
  const date = new Date(0);
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  date.setUTCHours(Number(hour), Number(minute), Number(second), 0);
  // A real date and time comes back as it was written: 02/30, 24:00:00 or a 60th second roll over into another.
  return Number(year) >= 1 && date.toISOString().slice(0, 19) === `${year}-${month}-${day}T${hour}:${minute}:${second}`;
}

function IsRequestTime(options: ValidationOptions): PropertyDecorator {
  return ValidateBy({ name: 'isRequestTime', validator: { validate: isRealRequestTime } }, options);
}

const required = (field: string) => IsDefined({ message: `${field} is required and may not be null` });
// Stryker disable next-line ObjectLiteral,StringLiteral: class-validator's own message for IsString is this same text.
const aString = (field: string) => IsString({ message: `${field} must be a string` });

/**
 * Up to `max` printable characters: letters, marks, digits, punctuation, symbols and spaces, in any script; no
 * control, format or separator characters other than the space kinds. The rule of the fields the seed gives only a
 * length, recorded or ignored as sent: a real client is never refused for a field CoreCredit itself does not read.
 */
export const printable = (max: number, min = 0): RegExp =>
  new RegExp(`^[\\p{L}\\p{M}\\p{N}\\p{P}\\p{S}\\p{Zs}]{${min},${max}}$`, 'u');

/** A field of up to `max` printable characters (see `printable`). */
const Printable = (field: string, max: number, min = 0): PropertyDecorator =>
  Matches(printable(max, min), {
    message:
      min > 0
        ? `${field} must be ${min} to ${max} printable characters`
        : `${field} must be at most ${max} printable characters`,
  });

export class EnvelopeDto {
  @required('Source')
  @aString('Source')
  @Printable('Source', 50, 1)
  Source!: string;

  @IsOptional()
  @aString('IPAddress')
  @MaxLength(15, { message: 'IPAddress must be at most 15 characters' })
  @IsIP(4, { message: 'IPAddress must be an IPv4 address' })
  IPAddress?: string | null;

  @IsOptional()
  @aString('DateFormat')
  @Printable('DateFormat', 25)
  DateFormat?: string | null;

  @IsOptional()
  @aString('CurrencyCode')
  @Printable('CurrencyCode', 10)
  CurrencyCode?: string | null;

  @IsOptional()
  @aString('CurrencySymbolType')
  @Printable('CurrencySymbolType', 10)
  CurrencySymbolType?: string | null;

  @IsOptional()
  @aString('Language')
  @Printable('Language', 10)
  Language?: string | null;

  @required('ExternalIP')
  @aString('ExternalIP')
  @MaxLength(50, { message: 'ExternalIP must be at most 50 characters' })
  @IsIP(undefined, { message: 'ExternalIP must be an IPv4 or IPv6 address' })
  ExternalIP!: string;

  @IsOptional()
  @aString('SessionID')
  @Matches(/^[\x20-\x7E]{0,100}$/, { message: 'SessionID must be at most 100 printable ASCII characters' })
  SessionID?: string | null;

  @required('APIVersion')
  @aString('APIVersion')
  APIVersion!: string;

  @IsOptional()
  @aString('CallerID')
  @Printable('CallerID', 20)
  CallerID?: string | null;

  @IsOptional()
  @aString('CalledID')
  @Printable('CalledID', 20)
  CalledID?: string | null;

  @IsOptional()
  @aString('RequestTime')
  @IsRequestTime({ message: 'RequestTime must be a real date and time as MM/dd/yyyy HH:mm:ss' })
  RequestTime?: string | null;

  @required('SSUserID')
  @aString('SSUserID')
  @Matches(CONSUMER_ID_PATTERN, { message: 'SSUserID must be 1 to 30 letters or digits' })
  SSUserID!: string;
}

export class DeLinkAccountDto extends EnvelopeDto {
  @required('AccountNumber')
  @aString('AccountNumber')
  @Matches(ACCOUNT_NUMBER_PATTERN, { message: 'AccountNumber must be 1 to 19 digits' })
  AccountNumber!: string;
}

/**
 * CoreCard documents LinkMultipleAccounts as linking "another account number" to the user, with the envelope of
 * DeLinkAccount: one account per request, named as DeLinkAccount names it.
 */
export class LinkMultipleAccountsDto extends EnvelopeDto {
  @required('AccountNumber')
  @aString('AccountNumber')
  @Matches(ACCOUNT_NUMBER_PATTERN, { message: 'AccountNumber must be 1 to 19 digits' })
  AccountNumber!: string;
}

export class GetLinkAccountsDto extends EnvelopeDto {
  @IsOptional()
  @aString('AccountNumber')
  @Matches(ACCOUNT_NUMBER_PATTERN, { message: 'AccountNumber must be 1 to 19 digits' })
  AccountNumber?: string | null;
}

/** The envelope's field names in the contract's order: the only properties ever read from a body. */
export const ENVELOPE_FIELDS = [
  'Source',
  'IPAddress',
  'DateFormat',
  'CurrencyCode',
  'CurrencySymbolType',
  'Language',
  'ExternalIP',
  'SessionID',
  'APIVersion',
  'CallerID',
  'CalledID',
  'RequestTime',
  'AccountNumber',
  'SSUserID',
] as const;
