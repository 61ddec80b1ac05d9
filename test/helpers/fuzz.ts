// Property-based fuzzing of the HTTP surface with fast-check, shared by the files of test/fuzz/: the contract written down
// independently of src/, the response oracles, the generators, and a harness that runs the in-process app on a port of
// its own. Every property checks the same promises of the contract: never a 5xx, always the face's error shape with a
// catalogue ErrorCode whose HTTP status is the response's, a refused request changes nothing in the database, and
// Object.prototype is never polluted. Where the generator knows which fields it broke, the property also checks the
// exact outcome (which fields are listed, which code, what was recorded).
//
// Runs: FUZZ_RUNS, else 1000 per property when CI=true, else 200. Seed: FUZZ_SEED, else a random one per test file,
// printed at its start; a failure prints fast-check's seed, path and shrunk counterexample, and FUZZ_SEED=<seed>
// replays the run.
import { randomBytes, randomInt } from 'node:crypto';
import { Agent, createServer, type Server } from 'node:http';
import { basename } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { DELINK_PATH, GET_LINKS_PATH, LINK_PATH } from '../../src/corecredit/routes';
import { Operation } from '../../src/db/entities';
import { ERRORS } from '../../src/errors';
import { openApiDocument } from '../../src/openapi/document';
import { apiTest, type Response } from './api';
import { createTestContext, linkOf, randomDigits, type LinkState, type SeededUser, type TestContext } from './context';

export type Res = Response;

// ---------------------------------------------------------------------------------------------------------------
// Configuration: runs, seed, time budget.

export function envInteger(name: string): number | undefined {
  const raw = process.env[name];
  return raw !== undefined && /^-?\d+$/.test(raw) ? Number(raw) : undefined;
}

export const RUNS = envInteger('FUZZ_RUNS') ?? (process.env.CI === 'true' ? 1000 : 200);
export const SEED = envInteger('FUZZ_SEED') ?? randomInt(-(2 ** 31), 2 ** 31 - 1);
fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: SEED, numRuns: RUNS });
/** Per property: generous, since shrinking a failure runs many more requests than the runs themselves. */
export const PROPERTY_TIMEOUT_MS = Math.max(120_000, RUNS * 600);

// ---------------------------------------------------------------------------------------------------------------
// The contract, written down independently of src/ (only the catalogue and the currency list are taken from there).

export const FIELDS = [
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
export type Field = (typeof FIELDS)[number];

export interface CoreCreditEndpoint {
  name: 'DeLinkAccount' | 'LinkMultipleAccounts' | 'GetLinkAccounts';
  path: string;
  mandatory: readonly Field[];
}
export const DELINK: CoreCreditEndpoint = {
  name: 'DeLinkAccount',
  path: DELINK_PATH,
  mandatory: ['Source', 'ExternalIP', 'APIVersion', 'AccountNumber', 'SSUserID'],
};
export const LINK: CoreCreditEndpoint = {
  name: 'LinkMultipleAccounts',
  path: LINK_PATH,
  mandatory: ['Source', 'ExternalIP', 'APIVersion', 'AccountNumber', 'SSUserID'],
};
export const GET_LINKS: CoreCreditEndpoint = {
  name: 'GetLinkAccounts',
  path: GET_LINKS_PATH,
  mandatory: ['Source', 'ExternalIP', 'APIVersion', 'SSUserID'],
};
export const CORECREDIT_ENDPOINTS = [DELINK, LINK, GET_LINKS] as const;

export const BODY_LIMIT_BYTES = 16 * 1024;
export const CORRELATION_PATTERN = /^[a-zA-Z0-9_\-. ]{1,64}$/;
export const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7E]{1,255}$/;
export const ISSUER_ID_PATTERN = /^[A-Za-z0-9_-]{10}$/;
export const ACCOUNT_PATTERN = /^\d{1,19}$/;
export const CONSUMER_PATTERN = /^[A-Za-z0-9]{1,30}$/;
export const REASON_PATTERN = /^[a-zA-Z0-9 ]{1,64}$/;
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const CODE = Object.fromEntries(Object.entries(ERRORS).map(([name, entry]) => [name, entry.code])) as Record<
  keyof typeof ERRORS,
  string
>;
export const STATUS_OF_CODE = new Map<string, number>(Object.values(ERRORS).map((entry) => [entry.code, entry.status]));
export const TOKEN_CODES = [
  CODE.TOKEN_MISSING,
  CODE.TOKEN_INVALID,
  CODE.TOKEN_EXPIRED,
  CODE.TOKEN_NOT_YET_VALID,
  CODE.TOKEN_CLAIMS_INVALID,
];

/** What no error body may show: stack frames, source files, SQL, driver names. */
export const LEAK =
  /\n\s+at |node_modules|\.ts:\d+|\b(SELECT|INSERT INTO|UPDATE \S+ SET|DELETE FROM|sqlite|mysql|mariadb|QueryFailed|TypeORM)\b/i;

/** The document's path templates as Express matches them: any case, a parameter is one non-empty segment. */
export const DOCUMENTED_PATHS = Object.keys(openApiDocument().paths).map(
  (template) =>
    new RegExp(
      `^${template
        .split(/(\{[^}]+\})/)
        .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('')}/?$`,
      'i',
    ),
);

export const PUBLIC_ROUTES = [
  '/health/live',
  '/health/ready',
  '/metrics',
  '/openapi.json',
  '/docs',
  '/docs/swagger-ui.css',
  '/docs/swagger-ui-bundle.js',
  '/docs/docs-init.js',
];

// ---------------------------------------------------------------------------------------------------------------
// Response oracles. Jest's matchers capture a stack trace on every call, which thousands of runs pay for: the checks
// here cost nothing while they hold, and fall back to jest's diff (same) or a plain message (check) when they do not.

/** toEqual's verdict, cheaply when the values are the same. */
export function same(actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual).toEqual(expected);
}

export function check(ok: boolean, what: () => string): void {
  if (!ok) throw new Error(what());
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const shown = (res: Res): string =>
  `HTTP ${res.status} ${JSON.stringify(res.headers['content-type'])}: ${res.text.slice(0, 600)}`;

export function expectCorrelationHeader(res: Res): string {
  const id: unknown = res.headers['x-correlation-id'];
  check(
    typeof id === 'string' && CORRELATION_PATTERN.test(id),
    () => `x-correlation-id ${JSON.stringify(id)}: ${shown(res)}`,
  );
  return id as string;
}

/** Every CoreCredit response: exactly Message/Status/ErrorCode/ResponseData, a catalogue code whose status is the response's. */
export function expectEnvelope(res: Res): {
  Message: string;
  Status: boolean;
  ErrorCode: string;
  ResponseData: Record<string, unknown>;
} {
  check(res.status < 500, () => `a 5xx: ${shown(res)}`);
  check(res.headers['content-type'] === 'application/json; charset=utf-8', () => `not JSON: ${shown(res)}`);
  expectCorrelationHeader(res);
  const body = JSON.parse(res.text) as Record<string, unknown>;
  const data = body.ResponseData;
  const errors = (isPlainObject(data) ? data.Errors : undefined) as { Field: unknown; Message: unknown }[] | undefined;
  const problems = [
    isDeepStrictEqual(Object.keys(body).sort(), ['ErrorCode', 'Message', 'ResponseData', 'Status'])
      ? ''
      : 'not exactly Message/Status/ErrorCode/ResponseData',
    typeof body.Message === 'string' && body.Message.length > 0 ? '' : 'Message is not a text',
    STATUS_OF_CODE.get(body.ErrorCode as string) === res.status
      ? ''
      : 'ErrorCode is not the catalogue code of this HTTP status',
    body.Status === (res.status === 200) ? '' : 'Status is not true exactly on success',
    isPlainObject(data) ? '' : 'ResponseData is not an object',
    body.Status === false && LEAK.test(res.text) ? 'internals in the body' : '',
    body.Status === false && body.ErrorCode !== CODE.VALIDATION_FAILED && !isDeepStrictEqual(data, {})
      ? 'ResponseData of an error is not {}'
      : '',
  ];
  if (body.Status === false && body.ErrorCode === CODE.VALIDATION_FAILED) {
    const valid =
      isPlainObject(data) &&
      isDeepStrictEqual(Object.keys(data), ['Errors']) &&
      Array.isArray(errors) &&
      errors.length > 0 &&
      errors.every(
        (e) =>
          isDeepStrictEqual(Object.keys(e).sort(), ['Field', 'Message']) &&
          typeof e.Field === 'string' &&
          typeof e.Message === 'string' &&
          e.Message.length > 0,
      ) &&
      new Set(errors.map((e) => e.Field)).size === errors.length;
    problems.push(valid ? '' : 'ResponseData is not { Errors: [{ Field, Message }, …] } with each field once');
  }
  const found = problems.filter((p) => p !== '');
  check(found.length === 0, () => `${found.join('; ')}: ${shown(res)}`);
  return body as ReturnType<typeof expectEnvelope>;
}

/** The fields a CoreCredit 400 lists, in order. */
export const listedFields = (res: Res): string[] =>
  ((res.body as { ResponseData: { Errors?: { Field: string }[] } }).ResponseData.Errors ?? []).map((e) => e.Field);

/** Every issuer API error: exactly errorCode/message/correlationId (+ errors on a validation failure). */
export function expectIssuerErrorBody(res: Res): {
  errorCode: string;
  message: string;
  errors?: { field: string; message: string }[];
} {
  check(res.status >= 400 && res.status < 500, () => `not a 4xx: ${shown(res)}`);
  check(res.headers['content-type'] === 'application/json; charset=utf-8', () => `not JSON: ${shown(res)}`);
  const correlationId = expectCorrelationHeader(res);
  const body = JSON.parse(res.text) as Record<string, unknown>;
  const validation = body.errorCode === CODE.VALIDATION_FAILED;
  const errors = body.errors as { field: unknown; message: unknown }[] | undefined;
  const problems = [
    isDeepStrictEqual(
      Object.keys(body).sort(),
      validation ? ['correlationId', 'errorCode', 'errors', 'message'] : ['correlationId', 'errorCode', 'message'],
    )
      ? ''
      : 'not exactly errorCode/message/correlationId (and errors on a validation failure)',
    STATUS_OF_CODE.get(body.errorCode as string) === res.status
      ? ''
      : 'errorCode is not the catalogue code of this HTTP status',
    typeof body.message === 'string' && body.message.length > 0 ? '' : 'message is not a text',
    body.correlationId === correlationId ? '' : 'correlationId is not the x-correlation-id header',
    LEAK.test(res.text) ? 'internals in the body' : '',
    !validation ||
    (Array.isArray(errors) &&
      errors.length > 0 &&
      errors.every(
        (e) =>
          isDeepStrictEqual(Object.keys(e).sort(), ['field', 'message']) &&
          typeof e.field === 'string' &&
          typeof e.message === 'string',
      ))
      ? ''
      : 'errors is not [{ field, message }, …]',
  ].filter((p) => p !== '');
  check(problems.length === 0, () => `${problems.join('; ')}: ${shown(res)}`);
  return body as ReturnType<typeof expectIssuerErrorBody>;
}

export const issuerFields = (res: Res): string[] =>
  ((res.body as { errors?: { field: string }[] }).errors ?? []).map((e) => e.field);

/**
 * The face the service answers errors in: the issuer API at /issuers and under it (in any case, as Express mounts
 * it), CoreCredit's envelope everywhere else.
 */
export function expectErrorOfFace(res: Res, path: string): string {
  const pathname = path.split('?')[0]!.toLowerCase();
  if (pathname === '/issuers' || pathname.startsWith('/issuers/')) return expectIssuerErrorBody(res).errorCode;
  const body = expectEnvelope(res);
  same(body.Status, false);
  return body.ErrorCode;
}

export const PROTOTYPE_BASELINE = {
  object: Object.getOwnPropertyNames(Object.prototype).sort(),
  array: Object.getOwnPropertyNames(Array.prototype).sort(),
};

export function expectNoPollution(): void {
  same(Object.getOwnPropertyNames(Object.prototype).sort(), PROTOTYPE_BASELINE.object);
  same(Object.getOwnPropertyNames(Array.prototype).sort(), PROTOTYPE_BASELINE.array);
  same(({} as Record<string, unknown>).polluted, undefined);
  same(([] as unknown as Record<string, unknown>).polluted, undefined);
}

// ---------------------------------------------------------------------------------------------------------------
// Generators. A body is built as raw JSON text, so that it can hold what a JS object cannot round-trip: prototype keys,
// nesting deeper than any serialiser likes, duplicate keys, lone surrogates.

/** A JSON value as the generator knows it: its raw text, and whether it is a string (and which). */
export interface Value {
  raw: string | undefined;
  kind: 'absent' | 'null' | 'string' | 'other';
  text?: string;
}
export const str = (text: string): Value => ({ raw: JSON.stringify(text), kind: 'string', text });
export const ABSENT: Value = { raw: undefined, kind: 'absent' };
export const NULL: Value = { raw: 'null', kind: 'null' };
export const other = (raw: string): Value => ({ raw, kind: 'other' });

/** Characters no field of either API accepts anywhere: control characters, non-ASCII, lone surrogates, emoji. */
export const ODD_CHARS = [
  '\u0000',
  '\u0001',
  '\t',
  '\n',
  '\r',
  '\u001b',
  '\u007f',
  '\u0085',
  '\u00a0',
  'é',
  'ñ',
  'ß',
  'İ',
  '\u212a',
  '\u200b',
  '\u2028',
  '\u2029',
  '\ufeff',
  '\ufffd',
  '\ud800',
  '\udfff',
  '١',
  '１',
  '😀',
  '👍🏽',
  '🇪🇸',
];

/** 1,000 to 20,000 characters (up to four UTF-8 bytes each): the 16 kB body limit is crossed often. */
export const hugeText = fc
  .tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }), fc.integer({ min: 1_000, max: 20_000 }))
  .map(([seed, length]) => seed.repeat(Math.ceil(length / seed.length)).slice(0, length));

export const deepNesting: fc.Arbitrary<Value> = fc.oneof(
  fc.integer({ min: 1, max: 9_000 }).map((d) => other('['.repeat(d) + ']'.repeat(d))),
  fc.integer({ min: 1, max: 3_000 }).map((d) => other('{"a":'.repeat(d) + 'null' + '}'.repeat(d))),
  fc
    .integer({ min: 1, max: 1_000 })
    .map((d) => other('[{"__proto__":'.repeat(d) + '{"polluted":"yes"}' + '}]'.repeat(d))),
);

export const PROTO_PAYLOADS = [
  '{"__proto__":{"polluted":"yes","Source":"Injected","isMain":false}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"prototype":{"polluted":"yes"}}',
  '[{"__proto__":{"polluted":"yes"}}]',
  '{"__proto__":null}',
  '{"__proto__":[]}',
];
export const protoObject: fc.Arbitrary<Value> = fc.constantFrom(...PROTO_PAYLOADS).map(other);

/** Anything but a string or null: numbers (huge, negative zero, out of range), booleans, arrays, objects, deep nesting. */
export const wrongType: fc.Arbitrary<Value> = fc.oneof(
  fc.integer().map((n) => other(String(n))),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => other(JSON.stringify(n))),
  fc
    .constantFrom(
      'true',
      'false',
      '0',
      '-0',
      '1e999',
      '-1e999',
      '123456789012345678901234567890',
      '8000000000000227',
      '2.0',
      '[]',
      '{}',
      '[null]',
      '[""]',
      '{"value":"Web"}',
    )
    .map(other),
  fc
    .jsonValue({ maxDepth: 3 })
    .filter((v) => typeof v !== 'string' && v !== null)
    .map((v) => other(JSON.stringify(v))),
  deepNesting,
  protoObject,
);

/** Strings of any content: unicode, control characters, emoji, lone surrogates, huge. Validity unknown. */
export const wildString: fc.Arbitrary<Value> = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({
      unit: fc.constantFrom(...ODD_CHARS, 'a', 'Z', '0', '9', ' ', '-', '_', '.', ':', '+', '/'),
      maxLength: 40,
    }),
    fc.string({ maxLength: 120 }),
    hugeText,
  )
  .map(str);

export const wildValue: fc.Arbitrary<Value> = fc.oneof(wrongType, wildString, fc.constant(NULL), fc.constant(ABSENT));

/** The odd characters that no printable-text field takes: control, format and line or paragraph separators. */
export const UNPRINTABLE_CHARS = ODD_CHARS.filter((c) => !/^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]+$/u.test(c));

/** A valid string made invalid by construction: a forbidden character inserted, or repeated past every length limit. */
export function brokenString(
  valid: fc.Arbitrary<string>,
  options: { padded?: boolean; forbidden?: readonly string[] } = {},
): fc.Arbitrary<Value> {
  const forbidden = options.forbidden ?? ODD_CHARS;
  const injected = fc.tuple(valid, fc.constantFrom(...forbidden), fc.nat()).map(([v, c, at]) => {
    const i = at % (v.length + 1);
    return str(v.slice(0, i) + c + v.slice(i));
  });
  const overlong = valid.map((v) => {
    const unit = v === '' ? 'x' : v;
    return str(unit.repeat(Math.ceil(101 / unit.length) + 1));
  });
  const padded = fc
    .tuple(valid, fc.constantFrom(' ', '  ', '\u00a0'), fc.boolean())
    .map(([v, pad, before]) => str(before ? pad + v : v + pad));
  return options.padded === true ? fc.oneof(injected, overlong, padded) : fc.oneof(injected, overlong);
}

/** A field: its valid values and values that are invalid by construction. */
export interface FieldSpec {
  name: string;
  mandatory: boolean;
  valid: fc.Arbitrary<Value>;
  invalid: fc.Arbitrary<Value>;
}

export function fieldSpec(
  name: string,
  mandatory: boolean,
  valid: fc.Arbitrary<string>,
  options: { padded?: boolean; nearMisses?: string[]; forbidden?: readonly string[] } = {},
): FieldSpec {
  const validValue = mandatory
    ? valid.map(str)
    : fc.oneof({ weight: 4, arbitrary: valid.map(str) }, fc.constant(ABSENT), fc.constant(NULL));
  const invalid: fc.Arbitrary<Value>[] = [wrongType, brokenString(valid, options)];
  if (mandatory) invalid.push(fc.constant(ABSENT), fc.constant(NULL));
  if (options.nearMisses !== undefined) invalid.push(fc.constantFrom(...options.nearMisses).map(str));
  return { name, mandatory, valid: validValue, invalid: fc.oneof(...invalid) };
}

export const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
export const formatRequestTime = (d: Date): string =>
  `${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCFullYear(), 4)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;

/** Each letter in either case: SSUserID and consumerId are case-insensitive. */
export const anyCase = (text: string): fc.Arbitrary<string> =>
  fc
    .array(fc.boolean(), { minLength: text.length, maxLength: text.length })
    .map((upper) => [...text].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(''));

export const sameUser = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

export const phoneNumber = fc.stringMatching(/^(\+\d{1,19}|\d{1,20})$/);

/** Printable text of `min` to `max` characters, in several scripts, spaces and punctuation included. */
export const printableText = (min: number, max: number): fc.Arbitrary<string> =>
  fc.string({
    unit: fc.constantFrom(
      'a',
      'Z',
      '0',
      '9',
      ' ',
      '-',
      '.',
      '(',
      ')',
      '+',
      '/',
      ':',
      '_',
      'é',
      'ñ',
      '١',
      '😀',
      '\u00a0',
    ),
    minLength: min,
    maxLength: max,
  });

/** The fields the seed gives only a length (placeholders, the channel and the IVR's numbers): printable text. */
export const PRINTABLE_FIELDS: ReadonlySet<string> = new Set([
  'Source',
  'DateFormat',
  'CurrencyCode',
  'CurrencySymbolType',
  'Language',
  'CallerID',
  'CalledID',
]);

const ivrNumber = fc.oneof(
  phoneNumber,
  fc.constantFrom('Anonymous', 'Restricted', '(720) 445-4214', '+1 720 445 4214', ''),
  printableText(0, 20),
);
export const validEnvelopeStrings: Record<Exclude<Field, 'AccountNumber' | 'SSUserID'>, fc.Arbitrary<string>> = {
  Source: fc.oneof(fc.constantFrom('WEB', 'IVR', 'WEB.PORTAL'), printableText(1, 50)),
  IPAddress: fc.ipV4(),
  DateFormat: fc.oneof(fc.constantFrom('1', '2', '3', 'MM/dd/yyyy HH:MM:SS'), printableText(0, 25)),
  CurrencyCode: fc.oneof(fc.constantFrom('840', 'USD'), printableText(0, 10)),
  CurrencySymbolType: fc.oneof(fc.constantFrom('1', '2', '$'), printableText(0, 10)),
  Language: fc.oneof(fc.constantFrom('en', 'es', 'en-US'), printableText(0, 10)),
  ExternalIP: fc.oneof(fc.ipV4(), fc.ipV6()),
  SessionID: fc.stringMatching(/^[\x20-\x7E]{0,100}$/),
  APIVersion: fc.constant('2.0'),
  CallerID: ivrNumber,
  CalledID: ivrNumber,
  RequestTime: fc
    .date({ min: new Date('0001-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true })
    .map(formatRequestTime),
};

/** The envelope's fields for one endpoint and one seeded user, every one with valid and invalid-by-construction values. */
export function envelopeSpecs(
  endpoint: CoreCreditEndpoint,
  account: fc.Arbitrary<string>,
  ssUserId: fc.Arbitrary<string>,
): FieldSpec[] {
  const mandatory = (f: Field): boolean => endpoint.mandatory.includes(f);
  const nearMisses: Partial<Record<Field, string[]>> = {
    DateFormat: ['x'.repeat(26), '1\n', '\u200b'],
    CurrencyCode: ['8'.repeat(11), '840\t'],
    CurrencySymbolType: ['\u0000', 'x'.repeat(11)],
    Language: ['en\u200b', 'x'.repeat(11)],
    IPAddress: ['::1', '256.0.0.1', '1.2.3', '01.2.3.4', ''],
    ExternalIP: ['256.0.0.1', '1::2::3', 'localhost', ''],
    CallerID: ['9'.repeat(21), '720\n4454214', '\u2028'],
    CalledID: ['9'.repeat(21), '\t731'],
    RequestTime: [
      '02/30/2020 10:00:00',
      '13/01/2020 10:00:00',
      '01/15/2020 24:00:00',
      '1/15/2020 10:00:00',
      '2020-01-15T10:00:00Z',
      '',
    ],
    AccountNumber: ['', '-1', '+1', '1.0', '1e3', '12345678901234567890'],
    SSUserID: ['', 'user_1', 'user-1', 'a.b'],
    Source: ['', 'S'.repeat(51), 'Web\n'],
  };
  return FIELDS.map((f) => {
    const valid = f === 'AccountNumber' ? account : f === 'SSUserID' ? ssUserId : validEnvelopeStrings[f];
    // Spaces are allowed in printable text and SessionID; elsewhere a padded value is a near miss (nothing is trimmed).
    const printable = PRINTABLE_FIELDS.has(f);
    const padded = !printable && f !== 'SessionID';
    return fieldSpec(f, mandatory(f), valid, {
      padded,
      ...(printable ? { forbidden: UNPRINTABLE_CHARS } : {}),
      ...(nearMisses[f] !== undefined ? { nearMisses: nearMisses[f] } : {}),
    });
  });
}

export interface FieldChoice {
  name: string;
  value: Value;
  valid: boolean;
}

/** Every field valid, or a random non-empty set of fields broken. */
export function fieldChoices(specs: FieldSpec[]): fc.Arbitrary<FieldChoice[]> {
  const names = specs.map((s) => s.name);
  return fc
    .tuple(
      fc.tuple(...specs.map((s) => fc.tuple(s.valid, s.invalid))),
      fc.oneof(
        { weight: 2, arbitrary: fc.constant<string[]>([]) },
        { weight: 3, arbitrary: fc.subarray(names, { minLength: 1 }) },
      ),
    )
    .map(([values, broken]) =>
      specs.map((spec, i) => {
        const [valid, invalid] = values[i]!;
        return broken.includes(spec.name)
          ? { name: spec.name, value: invalid, valid: false }
          : { name: spec.name, value: valid, valid: true };
      }),
    );
}

/** Keys a body may carry that the service must ignore: prototype keys, look-alikes of the fields, anything. */
export const unknownKey = (known: readonly string[]): fc.Arbitrary<string> =>
  fc
    .oneof(
      fc.constantFrom(
        '__proto__',
        'constructor',
        'prototype',
        'toString',
        'valueOf',
        'hasOwnProperty',
        '__defineGetter__',
        'isMain',
        'issuerId',
        'state',
        'Status',
        'source',
        'ssuserid',
        'ACCOUNTNUMBER',
        '',
      ),
      fc.string({ unit: 'binary', maxLength: 12 }),
    )
    .filter((key) => !known.includes(key));

export const extras = (known: readonly string[]): fc.Arbitrary<[string, Value][]> =>
  fc.array(fc.tuple(unknownKey(known), fc.oneof(wrongType, wildString, protoObject)), { maxLength: 4 });

/** Raw JSON text of an object, in the given order, every entry whose value is not absent. */
export function rawObject(entries: [string, Value][], order: number[]): string {
  const present = entries.filter(([, v]) => v.raw !== undefined);
  const sorted = present
    .map((entry, i) => ({ entry, key: order[i % Math.max(order.length, 1)] ?? i }))
    .sort((a, b) => a.key - b.key);
  return `{${sorted.map(({ entry: [k, v] }) => `${JSON.stringify(k)}:${v.raw!}`).join(',')}}`;
}

export const bytes = (raw: string): number => Buffer.byteLength(raw, 'utf8');

/** The body as the server reads it: UTF-8 (lone surrogates become U+FFFD), BOM stripped as body-parser's decoder does. */
export function parseAsServer(raw: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return {
      ok: true,
      value: JSON.parse(
        Buffer.from(raw, 'utf8')
          .toString('utf8')
          .replace(/^\ufeff/, ''),
      ) as unknown,
    };
  } catch {
    return { ok: false };
  }
}

/** Header-safe text: what Node lets a client send (tab, printable ASCII, Latin-1). */
export const headerChar = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constantFrom('\t', '\u0080', '\u00a0', '\u00e9', '\u00ff') },
);
export const headerText = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: headerChar, maxLength });
/** Node's parser drops leading and trailing spaces and tabs of a header value. */
export const asReceived = (value: string): string => value.replace(/^[ \t]+|[ \t]+$/g, '');

export const base64url = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

// ---------------------------------------------------------------------------------------------------------------
// The harness: one app, listening once, per test file.

/** The database as the last run left it: each run reads it once, after its request, and the next run starts from there. */
export async function tracked<T>(read: () => Promise<T>): Promise<{ current: T; refresh(): Promise<T> }> {
  const state = {
    current: await read(),
    async refresh(): Promise<T> {
      state.current = await read();
      return state.current;
    },
  };
  return state;
}

export const newUserId = (): string => `FuzzUser${randomDigits(10)}`;
/** A valid account number no seeded account has. */
export const unregisteredAccount = (user: SeededUser): fc.Arbitrary<string> =>
  fc.stringMatching(ACCOUNT_PATTERN).filter((a) => a !== user.mainAccount && !user.otherAccounts.includes(a));
/** A valid consumer id that is not the seeded user's, in any case. */
export const otherConsumer = (user: SeededUser): fc.Arbitrary<string> =>
  fc.stringMatching(CONSUMER_PATTERN).filter((c) => !sameUser(c, user.ssUserId));

export interface FuzzHarness {
  /** The in-process app and its database; set once the file's beforeAll has run. */
  readonly ctx: TestContext;
  /** One request through supertest (checked against the OpenAPI document) to the app. */
  send: (method: string, path: string, headers?: Record<string, string>, body?: string) => Promise<Res>;
  nextCorrelationId: () => string;
  operationOf: (correlationId: string) => Promise<Operation | null>;
  /** The link rows of a seeded user's accounts, main account first. */
  linkStates: (user: SeededUser) => Promise<(LinkState | undefined)[]>;
}

/** Starts the app for the calling describe block (beforeAll) and stops it (afterAll). */
export function fuzzHarness(): FuzzHarness {
  let ctx: TestContext | undefined;
  let server: Server;
  let sequence = 0;
  // Unique per file, not per process: a Jest worker runs several fuzz files, and on MariaDB they share one database,
  // where a correlation id of an earlier file would be found instead of this file's operation.
  const run = `${process.pid}-${randomBytes(4).toString('hex')}`;
  /** One connection for many requests: a run costs a request, not a TCP handshake and a server socket. */
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });

  beforeAll(async () => {
    console.info(
      `fuzz ${basename(expect.getState().testPath ?? '')}: seed ${String(fc.readConfigureGlobal().seed)}, ${String(fc.readConfigureGlobal().numRuns)} runs per property; replay with FUZZ_SEED=${SEED} (FUZZ_RUNS sets the runs)`,
    );
    ctx = await createTestContext();
    server = createServer(ctx.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    keepAlive.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await ctx?.close();
  });

  const current = (): TestContext => {
    if (ctx === undefined) throw new Error('the fuzz harness is used before its beforeAll ran');
    return ctx;
  };

  return {
    get ctx() {
      return current();
    },
    send: (method, path, headers = {}, body) => {
      // Built by hand, for the keep-alive agent; checked against the OpenAPI document like every other request.
      let test = apiTest(server, method.toLowerCase(), path).agent(keepAlive);
      for (const [name, value] of Object.entries(headers)) test = test.set(name, value);
      // Sent as is: superagent passes a string through when a Content-Type is set (it would serialise a Buffer as JSON),
      // and a Buffer when none is (it would add a form Content-Type to a string).
      const hasType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
      if (body !== undefined) test = test.send(hasType ? body : Buffer.from(body, 'utf8'));
      return Promise.resolve(test);
    },
    nextCorrelationId: () => `fuzz-${run}-${++sequence}`,
    operationOf: (correlationId) => current().dataSource.getRepository(Operation).findOneBy({ correlationId }),
    linkStates: async (user) => {
      const states: (LinkState | undefined)[] = [];
      for (const account of [user.mainAccount, ...user.otherAccounts])
        states.push(await linkOf(current().dataSource, user.issuerId, account));
      return states;
    },
  };
}
