// Property-based fuzzing of the HTTP surface with fast-check: arbitrary bodies, fields, paths, query strings, headers and
// methods against the in-process app, with real tokens and seeded users. Every property checks the same promises of
// the contract: never a 5xx, always the face's error shape with a catalogue ErrorCode whose HTTP status is the
// response's, a refused request changes nothing in the database, and Object.prototype is never polluted. Where the
// generator knows which fields it broke, the property also checks the exact outcome (which fields are listed, which
// code, what was recorded).
//
// Runs: FUZZ_RUNS, else 1000 per property when CI=true, else 200. Seed: FUZZ_SEED, else a random one, printed at the
// start; a failure prints fast-check's seed, path and shrunk counterexample, and FUZZ_SEED=<seed> replays the run.
import { randomInt } from 'node:crypto';
import { Agent, createServer, METHODS, type Server } from 'node:http';
import { parse as parseQueryString } from 'node:querystring';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { ISO_4217_NUMERIC } from '../src/corecredit/currency-codes';
import { DELINK_PATH, GET_LINKS_PATH } from '../src/corecredit/routes';
import { Operation } from '../src/db/entities';
import { ERRORS } from '../src/errors';
import { openApiDocument } from '../src/openapi/document';
import {
  createTestContext,
  issuerToken,
  linkOf,
  mintToken,
  randomDigits,
  randomIssuerId,
  seedUser,
  snapshot,
  TEST_SECRET,
  type LinkState,
  type SeededUser,
  type TestContext,
} from './helpers/context';
import { apiTest, type Response } from './helpers/api';

type Res = Response;

// ---------------------------------------------------------------------------------------------------------------
// Configuration: runs, seed, time budget.

function envInteger(name: string): number | undefined {
  const raw = process.env[name];
  return raw !== undefined && /^-?\d+$/.test(raw) ? Number(raw) : undefined;
}

const RUNS = envInteger('FUZZ_RUNS') ?? (process.env.CI === 'true' ? 1000 : 200);
const SEED = envInteger('FUZZ_SEED') ?? randomInt(-(2 ** 31), 2 ** 31 - 1);
fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: SEED, numRuns: RUNS });
/** Per property: generous, since shrinking a failure runs many more requests than the runs themselves. */
const PROPERTY_TIMEOUT_MS = Math.max(120_000, RUNS * 600);

// ---------------------------------------------------------------------------------------------------------------
// The contract, written down independently of src/ (only the catalogue and the currency list are taken from there).

const FIELDS = [
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
type Field = (typeof FIELDS)[number];

interface CoreCreditEndpoint {
  name: 'DeLinkAccount' | 'GetLinkAccounts';
  path: string;
  mandatory: readonly Field[];
}
const DELINK: CoreCreditEndpoint = {
  name: 'DeLinkAccount',
  path: DELINK_PATH,
  mandatory: ['Source', 'ExternalIP', 'APIVersion', 'AccountNumber', 'SSUserID'],
};
const GET_LINKS: CoreCreditEndpoint = {
  name: 'GetLinkAccounts',
  path: GET_LINKS_PATH,
  mandatory: ['Source', 'ExternalIP', 'APIVersion', 'SSUserID'],
};
const CORECREDIT_ENDPOINTS = [DELINK, GET_LINKS] as const;

const BODY_LIMIT_BYTES = 16 * 1024;
const CORRELATION_PATTERN = /^[a-zA-Z0-9_\-. ]{1,64}$/;
const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7E]{1,255}$/;
const ISSUER_ID_PATTERN = /^[A-Za-z0-9_-]{10}$/;
const ACCOUNT_PATTERN = /^\d{1,19}$/;
const CONSUMER_PATTERN = /^[A-Za-z0-9]{1,30}$/;
const REASON_PATTERN = /^[a-zA-Z0-9 ]{1,64}$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const CODE = Object.fromEntries(Object.entries(ERRORS).map(([name, entry]) => [name, entry.code])) as Record<
  keyof typeof ERRORS,
  string
>;
const STATUS_OF_CODE = new Map<string, number>(Object.values(ERRORS).map((entry) => [entry.code, entry.status]));
const TOKEN_CODES = [
  CODE.TOKEN_MISSING,
  CODE.TOKEN_INVALID,
  CODE.TOKEN_EXPIRED,
  CODE.TOKEN_NOT_YET_VALID,
  CODE.TOKEN_CLAIMS_INVALID,
];

/** What no error body may show: stack frames, source files, SQL, driver names. */
const LEAK =
  /\n\s+at |node_modules|\.ts:\d+|\b(SELECT|INSERT INTO|UPDATE \S+ SET|DELETE FROM|sqlite|mysql|mariadb|QueryFailed|TypeORM)\b/i;

/** The document's path templates as Express matches them: any case, a parameter is one non-empty segment. */
const DOCUMENTED_PATHS = Object.keys(openApiDocument().paths).map(
  (template) =>
    new RegExp(
      `^${template
        .split(/(\{[^}]+\})/)
        .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('')}/?$`,
      'i',
    ),
);

const PUBLIC_ROUTES = [
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
function same(actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual).toEqual(expected);
}

function check(ok: boolean, what: () => string): void {
  if (!ok) throw new Error(what());
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const shown = (res: Res): string =>
  `HTTP ${res.status} ${JSON.stringify(res.headers['content-type'])}: ${res.text.slice(0, 600)}`;

function expectCorrelationHeader(res: Res): string {
  const id: unknown = res.headers['x-correlation-id'];
  check(
    typeof id === 'string' && CORRELATION_PATTERN.test(id),
    () => `x-correlation-id ${JSON.stringify(id)}: ${shown(res)}`,
  );
  return id as string;
}

/** Every CoreCredit response: exactly Message/Status/ErrorCode/ResponseData, a catalogue code whose status is the response's. */
function expectEnvelope(res: Res): {
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
const listedFields = (res: Res): string[] =>
  ((res.body as { ResponseData: { Errors?: { Field: string }[] } }).ResponseData.Errors ?? []).map((e) => e.Field);

/** Every issuer API error: exactly errorCode/message/correlationId (+ errors on a validation failure). */
function expectIssuerError(res: Res): {
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
  return body as ReturnType<typeof expectIssuerError>;
}

const issuerFields = (res: Res): string[] =>
  ((res.body as { errors?: { field: string }[] }).errors ?? []).map((e) => e.field);

/**
 * The face the service answers errors in: the issuer API under /issuers/ (in any case, as Express routes it), CoreCredit's
 * envelope everywhere else.
 */
function expectErrorOfFace(res: Res, path: string): string {
  if (path.toLowerCase().startsWith('/issuers/')) return expectIssuerError(res).errorCode;
  const body = expectEnvelope(res);
  same(body.Status, false);
  return body.ErrorCode;
}

const PROTOTYPE_BASELINE = {
  object: Object.getOwnPropertyNames(Object.prototype).sort(),
  array: Object.getOwnPropertyNames(Array.prototype).sort(),
};

function expectNoPollution(): void {
  same(Object.getOwnPropertyNames(Object.prototype).sort(), PROTOTYPE_BASELINE.object);
  same(Object.getOwnPropertyNames(Array.prototype).sort(), PROTOTYPE_BASELINE.array);
  same(({} as Record<string, unknown>).polluted, undefined);
  same(([] as unknown as Record<string, unknown>).polluted, undefined);
}

// ---------------------------------------------------------------------------------------------------------------
// Generators. A body is built as raw JSON text, so that it can hold what a JS object cannot round-trip: prototype keys,
// nesting deeper than any serialiser likes, duplicate keys, lone surrogates.

/** A JSON value as the generator knows it: its raw text, and whether it is a string (and which). */
interface Value {
  raw: string | undefined;
  kind: 'absent' | 'null' | 'string' | 'other';
  text?: string;
}
const str = (text: string): Value => ({ raw: JSON.stringify(text), kind: 'string', text });
const ABSENT: Value = { raw: undefined, kind: 'absent' };
const NULL: Value = { raw: 'null', kind: 'null' };
const other = (raw: string): Value => ({ raw, kind: 'other' });

/** Characters no field of either API accepts anywhere: control characters, non-ASCII, lone surrogates, emoji. */
const ODD_CHARS = [
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
const hugeText = fc
  .tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }), fc.integer({ min: 1_000, max: 20_000 }))
  .map(([seed, length]) => seed.repeat(Math.ceil(length / seed.length)).slice(0, length));

const deepNesting: fc.Arbitrary<Value> = fc.oneof(
  fc.integer({ min: 1, max: 9_000 }).map((d) => other('['.repeat(d) + ']'.repeat(d))),
  fc.integer({ min: 1, max: 3_000 }).map((d) => other('{"a":'.repeat(d) + 'null' + '}'.repeat(d))),
  fc
    .integer({ min: 1, max: 1_000 })
    .map((d) => other('[{"__proto__":'.repeat(d) + '{"polluted":"yes"}' + '}]'.repeat(d))),
);

const PROTO_PAYLOADS = [
  '{"__proto__":{"polluted":"yes","Source":"Injected","isMain":false}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"prototype":{"polluted":"yes"}}',
  '[{"__proto__":{"polluted":"yes"}}]',
  '{"__proto__":null}',
  '{"__proto__":[]}',
];
const protoObject: fc.Arbitrary<Value> = fc.constantFrom(...PROTO_PAYLOADS).map(other);

/** Anything but a string or null: numbers (huge, negative zero, out of range), booleans, arrays, objects, deep nesting. */
const wrongType: fc.Arbitrary<Value> = fc.oneof(
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
const wildString: fc.Arbitrary<Value> = fc
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

const wildValue: fc.Arbitrary<Value> = fc.oneof(wrongType, wildString, fc.constant(NULL), fc.constant(ABSENT));

/** A valid string made invalid by construction: a forbidden character inserted, or repeated past every length limit. */
function brokenString(valid: fc.Arbitrary<string>, options: { padded?: boolean } = {}): fc.Arbitrary<Value> {
  const injected = fc.tuple(valid, fc.constantFrom(...ODD_CHARS), fc.nat()).map(([v, c, at]) => {
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
interface FieldSpec {
  name: string;
  mandatory: boolean;
  valid: fc.Arbitrary<Value>;
  invalid: fc.Arbitrary<Value>;
}

function fieldSpec(
  name: string,
  mandatory: boolean,
  valid: fc.Arbitrary<string>,
  options: { padded?: boolean; nearMisses?: string[] } = {},
): FieldSpec {
  const validValue = mandatory
    ? valid.map(str)
    : fc.oneof({ weight: 4, arbitrary: valid.map(str) }, fc.constant(ABSENT), fc.constant(NULL));
  const invalid: fc.Arbitrary<Value>[] = [wrongType, brokenString(valid, options)];
  if (mandatory) invalid.push(fc.constant(ABSENT), fc.constant(NULL));
  if (options.nearMisses !== undefined) invalid.push(fc.constantFrom(...options.nearMisses).map(str));
  return { name, mandatory, valid: validValue, invalid: fc.oneof(...invalid) };
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
const formatRequestTime = (d: Date): string =>
  `${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCFullYear(), 4)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;

/** Each letter in either case: SSUserID and consumerId are case-insensitive. */
const anyCase = (text: string): fc.Arbitrary<string> =>
  fc
    .array(fc.boolean(), { minLength: text.length, maxLength: text.length })
    .map((upper) => [...text].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(''));

const sameUser = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

const phoneNumber = fc.stringMatching(/^(\+\d{1,19}|\d{1,20})$/);
const validEnvelopeStrings: Record<Exclude<Field, 'AccountNumber' | 'SSUserID'>, fc.Arbitrary<string>> = {
  Source: fc.stringMatching(/^[A-Za-z0-9 _-]{1,50}$/),
  IPAddress: fc.ipV4(),
  DateFormat: fc.constantFrom('1', '2', '3'),
  CurrencyCode: fc.constantFrom(...ISO_4217_NUMERIC),
  CurrencySymbolType: fc.constantFrom('1', '2'),
  Language: fc.constantFrom('en', 'es').chain(anyCase),
  ExternalIP: fc.oneof(fc.ipV4(), fc.ipV6()),
  SessionID: fc.stringMatching(/^[\x20-\x7E]{0,100}$/),
  APIVersion: fc.constant('2.0'),
  CallerID: phoneNumber,
  CalledID: phoneNumber,
  RequestTime: fc
    .date({ min: new Date('0001-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true })
    .map(formatRequestTime),
};

/** The envelope's fields for one endpoint and one seeded user, every one with valid and invalid-by-construction values. */
function envelopeSpecs(
  endpoint: CoreCreditEndpoint,
  account: fc.Arbitrary<string>,
  ssUserId: fc.Arbitrary<string>,
): FieldSpec[] {
  const mandatory = (f: Field): boolean => endpoint.mandatory.includes(f);
  const nearMisses: Partial<Record<Field, string[]>> = {
    DateFormat: ['0', '4', '01', '1.0', 'MM/dd/yyyy', ''],
    CurrencyCode: ['000', '999', '84', '8400', 'USD', '840.0', ''],
    CurrencySymbolType: ['0', '3', '$', '01', ''],
    Language: ['fr', 'eng', 'en-US', 'e', ''],
    IPAddress: ['::1', '256.0.0.1', '1.2.3', '01.2.3.4', ''],
    ExternalIP: ['256.0.0.1', '1::2::3', 'localhost', ''],
    CallerID: ['+', '++1', '1+2', '720-445-4214', ''],
    CalledID: ['+', '1+2', '(720)4454214', ''],
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
    Source: ['', 'Web!', 'Web.portal'],
  };
  return FIELDS.map((f) => {
    const valid = f === 'AccountNumber' ? account : f === 'SSUserID' ? ssUserId : validEnvelopeStrings[f];
    // Spaces are allowed inside Source and SessionID only; elsewhere a padded value is a near miss (nothing is trimmed).
    const padded = f !== 'Source' && f !== 'SessionID';
    return fieldSpec(f, mandatory(f), valid, {
      padded,
      ...(nearMisses[f] !== undefined ? { nearMisses: nearMisses[f] } : {}),
    });
  });
}

interface FieldChoice {
  name: string;
  value: Value;
  valid: boolean;
}

/** Every field valid, or a random non-empty set of fields broken. */
function fieldChoices(specs: FieldSpec[]): fc.Arbitrary<FieldChoice[]> {
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
const unknownKey = (known: readonly string[]): fc.Arbitrary<string> =>
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

const extras = (known: readonly string[]): fc.Arbitrary<[string, Value][]> =>
  fc.array(fc.tuple(unknownKey(known), fc.oneof(wrongType, wildString, protoObject)), { maxLength: 4 });

/** Raw JSON text of an object, in the given order, every entry whose value is not absent. */
function rawObject(entries: [string, Value][], order: number[]): string {
  const present = entries.filter(([, v]) => v.raw !== undefined);
  const sorted = present
    .map((entry, i) => ({ entry, key: order[i % Math.max(order.length, 1)] ?? i }))
    .sort((a, b) => a.key - b.key);
  return `{${sorted.map(({ entry: [k, v] }) => `${JSON.stringify(k)}:${v.raw!}`).join(',')}}`;
}

const bytes = (raw: string): number => Buffer.byteLength(raw, 'utf8');

/** The body as the server reads it: UTF-8 (lone surrogates become U+FFFD), BOM stripped as body-parser's decoder does. */
function parseAsServer(raw: string): { ok: true; value: unknown } | { ok: false } {
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
const headerChar = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constantFrom('\t', '\u0080', '\u00a0', '\u00e9', '\u00ff') },
);
const headerText = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: headerChar, maxLength });
/** Node's parser drops leading and trailing spaces and tabs of a header value. */
const asReceived = (value: string): string => value.replace(/^[ \t]+|[ \t]+$/g, '');

const base64url = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

// ---------------------------------------------------------------------------------------------------------------

describe('fuzzing the HTTP surface (fast-check)', () => {
  let ctx: TestContext;
  let server: Server;
  let sequence = 0;
  /** One connection for many requests: a run costs a request, not a TCP handshake and a server socket. */
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });

  beforeAll(async () => {
    console.info(
      `fuzz: seed ${String(fc.readConfigureGlobal().seed)}, ${String(fc.readConfigureGlobal().numRuns)} runs per property; replay with FUZZ_SEED=${SEED} (FUZZ_RUNS sets the runs)`,
    );
    ctx = await createTestContext();
    server = createServer(ctx.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    keepAlive.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await ctx.close();
  });

  const nextCorrelationId = (): string => `fuzz-${process.pid}-${++sequence}`;

  /** One request through supertest to the in-process app (listening once, so runs do not each open a server). */
  function send(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Res> {
    let test = apiTest(server, method.toLowerCase(), path).agent(keepAlive);
    for (const [name, value] of Object.entries(headers)) test = test.set(name, value);
    // Sent as is: superagent passes a string through when a Content-Type is set (it would serialise a Buffer as JSON),
    // and a Buffer when none is (it would add a form Content-Type to a string).
    const hasType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
    if (body !== undefined) test = test.send(hasType ? body : Buffer.from(body, 'utf8'));
    return Promise.resolve(test);
  }

  const operationOf = (correlationId: string): Promise<Operation | null> =>
    ctx.dataSource.getRepository(Operation).findOneBy({ correlationId });

  async function linkStates(user: SeededUser): Promise<(LinkState | undefined)[]> {
    const states: (LinkState | undefined)[] = [];
    for (const account of [user.mainAccount, ...user.otherAccounts])
      states.push(await linkOf(ctx.dataSource, user.issuerId, account));
    return states;
  }

  /** The database as the last run left it: each run reads it once, after its request, and the next run starts from there. */
  async function tracked<T>(read: () => Promise<T>): Promise<{ current: T; refresh(): Promise<T> }> {
    const state = {
      current: await read(),
      async refresh(): Promise<T> {
        state.current = await read();
        return state.current;
      },
    };
    return state;
  }

  const newUserId = (): string => `FuzzUser${randomDigits(10)}`;
  /** A valid account number no seeded account has. */
  const unregisteredAccount = (user: SeededUser): fc.Arbitrary<string> =>
    fc.stringMatching(ACCOUNT_PATTERN).filter((a) => a !== user.mainAccount && !user.otherAccounts.includes(a));
  /** A valid consumer id that is not the seeded user's, in any case. */
  const otherConsumer = (user: SeededUser): fc.Arbitrary<string> =>
    fc.stringMatching(CONSUMER_PATTERN).filter((c) => !sameUser(c, user.ssUserId));

  // -------------------------------------------------------------------------------------------------------------
  // 1. Bodies.

  it(
    'when any JSON value, any text or nothing is the body of any of the four body endpoints, then the outcome is exactly what the value decides, and nothing changes unless a valid request was recorded',
    async () => {
      const user = await seedUser(ctx.dataSource, { ssUserId: newUserId(), accounts: 3 });
      const db = await tracked(() => snapshot(ctx.dataSource, user.issuerId));
      const channelToken = await mintToken(user.issuerId, { expiresIn: '1h' });
      const issuer = await issuerToken(user.issuerId, { expiresIn: '1h' });
      const victim = user.otherAccounts[0]!;
      const missing = randomDigits(17);
      const envelopeText = JSON.stringify({
        Source: 'Web',
        ExternalIP: '10.0.0.1',
        APIVersion: '2.0',
        SSUserID: user.ssUserId,
        AccountNumber: victim,
      });

      type Target = 'DeLinkAccount' | 'GetLinkAccounts' | 'register' | 'delete';
      const targets: Record<Target, { method: string; path: string; token: string }> = {
        DeLinkAccount: { method: 'POST', path: DELINK_PATH, token: channelToken },
        GetLinkAccounts: { method: 'POST', path: GET_LINKS_PATH, token: channelToken },
        register: { method: 'PUT', path: `/issuers/${user.issuerId}/accounts/${victim}`, token: issuer },
        delete: {
          method: 'POST',
          path: `/issuers/${user.issuerId}/accounts/${missing}/operations:delete`,
          token: issuer,
        },
      };

      const anyBody: fc.Arbitrary<string | undefined> = fc.oneof(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc.anything().map((v) => JSON.stringify(v) as string | undefined),
        fc.string({ unit: 'binary', maxLength: 60 }),
        fc.constantFrom(
          '',
          ' ',
          '\n',
          '{',
          '}',
          '[',
          'null',
          'true',
          '0',
          '"x"',
          '{"a":}',
          '{,}',
          '{"Source":"Web",}',
          "{'Source':'Web'}",
          '\ufeff{}',
          '{}\ufeff',
          'NaN',
          '[1,2',
          '{"a":1}{"b":2}',
          '/* */{}',
          '{"reason":"x"} trailing',
          ...PROTO_PAYLOADS,
        ),
        fc.nat().map((n) => envelopeText.slice(0, n % envelopeText.length)),
        hugeText.map((s) => JSON.stringify({ Source: s })),
        deepNesting.map((v) => v.raw!),
      );

      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom<Target>('DeLinkAccount', 'GetLinkAccounts', 'register', 'delete'),
          anyBody,
          async (target, raw) => {
            const { method, path, token } = targets[target];
            const corecredit = target === 'DeLinkAccount' || target === 'GetLinkAccounts';
            const parsed = raw === undefined || raw === '' ? undefined : parseAsServer(raw);
            const object = parsed?.ok === true && isPlainObject(parsed.value) ? parsed.value : undefined;
            const isString = (key: string): boolean =>
              object !== undefined && Object.hasOwn(object, key) && typeof object[key] === 'string';

            // Expected outcome, decided by the value alone.
            type Expected = { status: number; code: string; fields?: string[]; recorded?: boolean };
            let expected: Expected;
            if (raw !== undefined && raw !== '' && bytes(raw) > BODY_LIMIT_BYTES)
              expected = { status: 413, code: CODE.PAYLOAD_TOO_LARGE };
            else if (parsed === undefined)
              expected =
                target === 'delete'
                  ? { status: 404, code: CODE.ACCOUNT_NOT_FOUND, recorded: true }
                  : { status: 400, code: CODE.MALFORMED_BODY };
            else if (object === undefined) expected = { status: 400, code: CODE.MALFORMED_BODY };
            else if (corecredit) {
              if (isString('APIVersion') && object.APIVersion !== '2.0')
                expected = { status: 400, code: CODE.UNSUPPORTED_API_VERSION };
              else {
                const mandatory = target === 'DeLinkAccount' ? DELINK.mandatory : GET_LINKS.mandatory;
                const broken = mandatory.filter((f) => !isString(f));
                // A random object with every mandatory field a string is not worth an oracle of its own.
                fc.pre(broken.length > 0);
                expected = { status: 400, code: CODE.VALIDATION_FAILED, fields: broken };
              }
            } else if (target === 'register') {
              const broken = ['consumerId', 'state'].filter((f) => !isString(f));
              fc.pre(broken.length > 0);
              expected = { status: 400, code: CODE.VALIDATION_FAILED, fields: broken };
            } else {
              const ok = (key: string, accept: (s: string) => boolean): boolean =>
                !Object.hasOwn(object, key) ||
                object[key] === null ||
                (typeof object[key] === 'string' && accept(object[key]));
              const broken = [
                ...(ok('reason', (s) => REASON_PATTERN.test(s)) ? [] : ['reason']),
                ...(ok('reasonCode', (s) => s === 'USER_DECISION' || s === 'ISSUER_DECISION') ? [] : ['reasonCode']),
              ];
              expected =
                broken.length > 0
                  ? { status: 400, code: CODE.VALIDATION_FAILED, fields: broken }
                  : { status: 404, code: CODE.ACCOUNT_NOT_FOUND, recorded: true };
            }

            const before = db.current;
            const res = await send(
              method,
              path,
              { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
              raw,
            );
            const code = corecredit ? expectEnvelope(res).ErrorCode : expectIssuerError(res).errorCode;
            same({ status: res.status, code }, { status: expected.status, code: expected.code });
            if (expected.fields !== undefined) {
              const listed = corecredit ? listedFields(res) : issuerFields(res);
              // Every mandatory field that is missing or not a string is listed; nothing but known fields is.
              for (const field of expected.fields)
                check(listed.includes(field), () => `${field} is not listed: ${shown(res)}`);
              const known: readonly string[] = corecredit
                ? FIELDS
                : target === 'register'
                  ? ['consumerId', 'accountProductId', 'state']
                  : ['reason', 'reasonCode'];
              for (const field of listed) check(known.includes(field), () => `${field} is not a field: ${shown(res)}`);
              if (target === 'delete') same(listed, expected.fields);
            }
            const after = await db.refresh();
            same(
              after,
              expected.recorded === true ? { ...before, operations: (before.operations as number) + 1 } : before,
            );
            expectNoPollution();
          },
        ),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'when envelope fields hold arbitrary values (wrong types, huge, unicode, control characters, deep nesting, prototype keys) and a mandatory one is broken, then 400 (or 413) names it, never a field left valid, and nothing changes',
    async () => {
      const user = await seedUser(ctx.dataSource, { ssUserId: newUserId(), accounts: 3 });
      const db = await tracked(() => snapshot(ctx.dataSource, user.issuerId));
      const token = await mintToken(user.issuerId, { expiresIn: '1h' });
      // A wrongly accepted DeLinkAccount would delink this account: the snapshot would show it.
      const base: Record<Field, Value> = {
        Source: str('Web'),
        IPAddress: str('10.120.0.1'),
        DateFormat: NULL,
        CurrencyCode: NULL,
        CurrencySymbolType: NULL,
        Language: NULL,
        ExternalIP: str('10.120.0.0'),
        SessionID: NULL,
        APIVersion: str('2.0'),
        CallerID: NULL,
        CalledID: NULL,
        RequestTime: NULL,
        AccountNumber: str(user.otherAccounts[0]!),
        SSUserID: str(user.ssUserId),
      };
      // Invalid whatever the field: absent, null, not a string, a forbidden character, past every length limit.
      const brokenValue = (field: Field): fc.Arbitrary<Value> =>
        fc.oneof(
          fc.constant(ABSENT),
          fc.constant(NULL),
          wrongType,
          brokenString(fc.constant(base[field].text!)),
          fc.string({ unit: fc.constantFrom(...ODD_CHARS), minLength: 1, maxLength: 20 }).map(str),
          hugeText.map(str),
        );
      // Built once, not in a chain: building an arbitrary (fc.string above all) costs more than drawing from it.
      const shared = {
        wild: fc.uniqueArray(fc.tuple(fc.constantFrom(...FIELDS), wildValue), { selector: ([f]) => f, maxLength: 6 }),
        extra: extras(FIELDS),
        order: fc.array(fc.integer(), { minLength: 20, maxLength: 20 }),
      };
      const arbitrary = fc.oneof(
        ...CORECREDIT_ENDPOINTS.map((endpoint) =>
          fc.record({
            endpoint: fc.constant(endpoint),
            broken: fc.oneof(
              ...endpoint.mandatory.map((field) => brokenValue(field).map((value) => ({ field, value }))),
            ),
            ...shared,
          }),
        ),
      );

      await fc.assert(
        fc.asyncProperty(arbitrary, async ({ endpoint, broken, wild, extra, order }) => {
          const values: Record<string, Value> = { ...base };
          for (const [field, value] of wild) values[field] = value;
          values[broken.field] = broken.value;
          const raw = rawObject([...Object.entries(values), ...extra], order);
          const untouched = FIELDS.filter((f) => f !== broken.field && !wild.some(([w]) => w === f));
          const version = values.APIVersion!;

          const before = db.current;
          const res = await send(
            'POST',
            endpoint.path,
            { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
            raw,
          );
          const body = expectEnvelope(res);
          if (bytes(raw) > BODY_LIMIT_BYTES) {
            same({ status: res.status, code: body.ErrorCode }, { status: 413, code: CODE.PAYLOAD_TOO_LARGE });
          } else if (version.kind === 'string' && version.text !== '2.0') {
            same({ status: res.status, code: body.ErrorCode }, { status: 400, code: CODE.UNSUPPORTED_API_VERSION });
          } else {
            same({ status: res.status, code: body.ErrorCode }, { status: 400, code: CODE.VALIDATION_FAILED });
            const listed = listedFields(res);
            check(listed.includes(broken.field), () => `the broken ${broken.field} is not listed: ${shown(res)}`);
            for (const field of untouched)
              check(!listed.includes(field), () => `${field}, left valid, is listed: ${shown(res)}`);
            // Listed in the contract's order, known fields only.
            same(
              listed,
              FIELDS.filter((f) => listed.includes(f)),
            );
          }
          same(await db.refresh(), before);
          expectNoPollution();
        }),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'when each envelope field is a random valid value or a value invalid by construction, then exactly the invalid fields are listed, or, all valid, the outcome and the recorded operation are the right ones',
    async () => {
      const user = await seedUser(ctx.dataSource, { ssUserId: newUserId(), accounts: 3 });
      const db = await tracked(() => snapshot(ctx.dataSource, user.issuerId));
      const token = await mintToken(user.issuerId, { expiresIn: '1h' });
      const ssUserIds = fc.oneof(anyCase(user.ssUserId), otherConsumer(user));
      const specsOf = {
        // Never a linked secondary account: a valid DeLinkAccount meets the main account (409) or no link (404).
        DeLinkAccount: envelopeSpecs(
          DELINK,
          fc.oneof(fc.constant(user.mainAccount), unregisteredAccount(user)),
          ssUserIds,
        ),
        GetLinkAccounts: envelopeSpecs(GET_LINKS, fc.stringMatching(ACCOUNT_PATTERN), ssUserIds),
      };
      const shared = { extra: extras(FIELDS), order: fc.array(fc.integer(), { minLength: 20, maxLength: 20 }) };
      const arbitrary = fc.oneof(
        ...CORECREDIT_ENDPOINTS.map((endpoint) =>
          fc.record({ endpoint: fc.constant(endpoint), choices: fieldChoices(specsOf[endpoint.name]), ...shared }),
        ),
      );
      const linkedOnPattern: Record<string, RegExp> = {
        '1': /^\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}:\d{2}$/,
        '2': /^\d{2}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}$/,
        '3': /^\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}:\d{2}$/,
      };

      await fc.assert(
        fc.asyncProperty(arbitrary, async ({ endpoint, choices, extra, order }) => {
          const raw = rawObject([...choices.map((c): [string, Value] => [c.name, c.value]), ...extra], order);
          const value = (f: Field): Value => choices.find((c) => c.name === f)!.value;
          const text = (f: Field): string | null => value(f).text ?? null;
          const invalid = choices.filter((c) => !c.valid).map((c) => c.name);
          const version = value('APIVersion');
          const correlationId = nextCorrelationId();

          const before = db.current;
          const res = await send(
            'POST',
            endpoint.path,
            { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'x-correlation-id': correlationId },
            raw,
          );
          const body = expectEnvelope(res);
          const after = await db.refresh();
          const outcome = { status: res.status, code: body.ErrorCode };

          if (bytes(raw) > BODY_LIMIT_BYTES) {
            same(outcome, { status: 413, code: CODE.PAYLOAD_TOO_LARGE });
            same(after, before);
          } else if (version.kind === 'string' && version.text !== '2.0') {
            same(outcome, { status: 400, code: CODE.UNSUPPORTED_API_VERSION });
            same(after, before);
          } else if (invalid.length > 0) {
            same(outcome, { status: 400, code: CODE.VALIDATION_FAILED });
            same(listedFields(res), invalid);
            same(after, before);
          } else {
            const owner = sameUser(text('SSUserID')!, user.ssUserId);
            if (endpoint === GET_LINKS) {
              same(after, before);
              if (!owner) {
                same(outcome, { status: 404, code: CODE.USER_NOT_FOUND });
              } else {
                same(outcome, { status: 200, code: CODE.SUCCESS });
                const data = body.ResponseData as {
                  SSUserID: string;
                  Accounts: {
                    AccountNumber: string;
                    IsMainAccount: boolean;
                    AccountStatus: string;
                    LinkedOn: string;
                  }[];
                };
                same(data.SSUserID, user.ssUserId);
                expect(data.Accounts.map((a) => [a.AccountNumber, a.IsMainAccount, a.AccountStatus])).toEqual([
                  [user.mainAccount, true, 'ACTIVE'],
                  ...user.otherAccounts.map((a) => [a, false, 'ACTIVE']),
                ]);
                for (const account of data.Accounts)
                  check(
                    linkedOnPattern[text('DateFormat') ?? '1']!.test(account.LinkedOn),
                    () => `LinkedOn in the wrong format: ${shown(res)}`,
                  );
              }
            } else {
              const code = !owner
                ? CODE.USER_NOT_FOUND
                : text('AccountNumber') === user.mainAccount
                  ? CODE.MAIN_ACCOUNT
                  : CODE.ACCOUNT_NOT_LINKED;
              same(outcome, { status: STATUS_OF_CODE.get(code), code });
              // The refusal is recorded, with the envelope's channel fields verbatim, and nothing else changes.
              same(after, { ...before, operations: (before.operations as number) + 1 });
              expect(await operationOf(correlationId)).toMatchObject({
                operation: 'DELINK',
                status: 'FAILED',
                errorCode: code,
                requestorType: 'USER',
                issuerId: user.issuerId,
                consumerId: text('SSUserID'),
                accountNumber: text('AccountNumber'),
                source: text('Source'),
                sessionId: text('SessionID'),
                ipAddress: text('IPAddress'),
                externalIp: text('ExternalIP'),
                callerId: text('CallerID'),
                calledId: text('CalledID'),
              });
            }
          }
          expectNoPollution();
        }),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'when the register body (PUT) holds random valid or invalid fields, unknown and prototype keys, then exactly the invalid fields are listed and nothing changes, or, all valid, the account is updated or refused as the contract says',
    async () => {
      const user = await seedUser(ctx.dataSource, { ssUserId: newUserId(), accounts: 3 });
      const db = await tracked(() => snapshot(ctx.dataSource, user.issuerId));
      const links = await tracked(() => linkStates(user));
      const token = await issuerToken(user.issuerId, { expiresIn: '1h' });
      const victim = user.otherAccounts[0]!;
      const path = `/issuers/${user.issuerId}/accounts/${victim}`;
      const specs = [
        fieldSpec('consumerId', true, fc.oneof(anyCase(user.ssUserId), otherConsumer(user)), {
          padded: true,
          nearMisses: ['', 'a_b', 'a-b', 'a.b', 'Z'.repeat(31)],
        }),
        fieldSpec('accountProductId', false, fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), {
          padded: true,
          nearMisses: ['', 'GOLD CARD', 'a.b', 'x'.repeat(65)],
        }),
        fieldSpec('state', true, fc.constantFrom('ACTIVE', 'INACTIVE'), {
          padded: true,
          nearMisses: ['', 'active', 'Active', 'DELETED', 'ENABLED'],
        }),
      ];
      const known = specs.map((s) => s.name);
      const arbitrary = fc.record({
        choices: fieldChoices(specs),
        extra: extras(known),
        order: fc.array(fc.integer(), { minLength: 8, maxLength: 8 }),
      });

      await fc.assert(
        fc.asyncProperty(arbitrary, async ({ choices, extra, order }) => {
          const raw = rawObject([...choices.map((c): [string, Value] => [c.name, c.value]), ...extra], order);
          const invalid = choices.filter((c) => !c.valid).map((c) => c.name);
          const text = (name: string): string | null => choices.find((c) => c.name === name)!.value.text ?? null;
          const correlationId = nextCorrelationId();

          const before = db.current;
          const linksBefore = links.current;
          const res = await send(
            'PUT',
            path,
            { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'x-correlation-id': correlationId },
            raw,
          );
          const after = await db.refresh();

          if (invalid.length > 0 || bytes(raw) > BODY_LIMIT_BYTES) {
            const error = expectIssuerError(res);
            if (bytes(raw) > BODY_LIMIT_BYTES)
              same({ status: res.status, code: error.errorCode }, { status: 413, code: CODE.PAYLOAD_TOO_LARGE });
            else {
              same({ status: res.status, code: error.errorCode }, { status: 400, code: CODE.VALIDATION_FAILED });
              same(issuerFields(res), invalid);
            }
            same(after, before);
          } else if (sameUser(text('consumerId')!, user.ssUserId)) {
            same(res.status, 204);
            same(res.text, '');
            expectCorrelationHeader(res);
            // The account takes the body's state and product; the link stays as it was (linked); one operation.
            const accounts = (before.accounts as unknown[][]).map((a) =>
              a[0] === victim ? [victim, text('state'), text('accountProductId')] : a,
            );
            same(after, { ...before, accounts, operations: (before.operations as number) + 1 });
            same(
              await links.refresh(),
              linksBefore.map((l) => (l?.accountNumber === victim ? { ...l, state: text('state') } : l)),
            );
            expect(await operationOf(correlationId)).toMatchObject({
              operation: 'REGISTER',
              status: 'SUCCESSFUL',
              requestorType: 'ISSUER',
              accountNumber: victim,
            });
          } else {
            same(
              { status: res.status, code: expectIssuerError(res).errorCode },
              { status: 409, code: CODE.ACCOUNT_OF_OTHER_CONSUMER },
            );
            same(after, { ...before, operations: (before.operations as number) + 1 });
            expect(await operationOf(correlationId)).toMatchObject({
              operation: 'REGISTER',
              status: 'FAILED',
              errorCode: CODE.ACCOUNT_OF_OTHER_CONSUMER,
            });
          }
          expectNoPollution();
        }),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'when the delete body (POST operations:delete) holds random valid or invalid fields, unknown and prototype keys, then exactly the invalid fields are listed and nothing changes, or, all valid, the account is deleted (the main account stays linked) or is unknown',
    async () => {
      const user = await seedUser(ctx.dataSource, { ssUserId: newUserId(), accounts: 3 });
      const db = await tracked(() => snapshot(ctx.dataSource, user.issuerId));
      const links = await tracked(() => linkStates(user));
      const token = await issuerToken(user.issuerId, { expiresIn: '1h' });
      const specs = [
        fieldSpec('reason', false, fc.stringMatching(REASON_PATTERN), {
          nearMisses: ['', 'customer was contacted on June 28.', 'x'.repeat(65), 'a_b', 'a-b'],
        }),
        fieldSpec('reasonCode', false, fc.constantFrom('USER_DECISION', 'ISSUER_DECISION'), {
          padded: true,
          nearMisses: ['', 'user_decision', 'User_Decision', 'OTHER', 'USER DECISION'],
        }),
      ];
      const known = specs.map((s) => s.name);
      const arbitrary = fc.record({
        target: fc.oneof(fc.constant(user.mainAccount), fc.constant(user.otherAccounts[0]!), unregisteredAccount(user)),
        noBody: fc.boolean(),
        choices: fieldChoices(specs),
        extra: extras(known),
        order: fc.array(fc.integer(), { minLength: 6, maxLength: 6 }),
      });

      await fc.assert(
        fc.asyncProperty(arbitrary, async ({ target, noBody, choices, extra, order }) => {
          // Without a body every field is absent, which is valid.
          const sent = noBody ? choices.map((c) => ({ ...c, value: ABSENT, valid: true })) : choices;
          const raw = noBody
            ? undefined
            : rawObject([...sent.map((c): [string, Value] => [c.name, c.value]), ...extra], order);
          const invalid = sent.filter((c) => !c.valid).map((c) => c.name);
          const text = (name: string): string | null => sent.find((c) => c.name === name)!.value.text ?? null;
          const correlationId = nextCorrelationId();
          const tooLarge = raw !== undefined && bytes(raw) > BODY_LIMIT_BYTES;

          const before = db.current;
          const linksBefore = links.current;
          const headers: Record<string, string> = {
            Authorization: `Bearer ${token}`,
            'x-correlation-id': correlationId,
          };
          if (raw !== undefined) headers['Content-Type'] = 'application/json';
          const res = await send(
            'POST',
            `/issuers/${user.issuerId}/accounts/${target}/operations:delete`,
            headers,
            raw,
          );
          const after = await db.refresh();
          const registered = target === user.mainAccount || user.otherAccounts.includes(target);

          if (tooLarge || invalid.length > 0) {
            const error = expectIssuerError(res);
            if (tooLarge)
              same({ status: res.status, code: error.errorCode }, { status: 413, code: CODE.PAYLOAD_TOO_LARGE });
            else {
              same({ status: res.status, code: error.errorCode }, { status: 400, code: CODE.VALIDATION_FAILED });
              same(issuerFields(res), invalid);
            }
            same(after, before);
          } else if (!registered) {
            same(
              { status: res.status, code: expectIssuerError(res).errorCode },
              { status: 404, code: CODE.ACCOUNT_NOT_FOUND },
            );
            same(after, { ...before, operations: (before.operations as number) + 1 });
          } else {
            same(res.status, 200);
            expectCorrelationHeader(res);
            expect(res.body).toEqual({ operationId: expect.stringMatching(UUID_PATTERN), status: 'SUCCESSFUL' });
            const accounts = (before.accounts as unknown[][]).map((a) =>
              a[0] === target ? [a[0], 'DELETED', a[2]] : a,
            );
            same(
              { ...after, links: undefined },
              { ...before, accounts, operations: (before.operations as number) + 1, links: undefined },
            );
            // The account is DELETED; a secondary account is unlinked, the main account stays linked.
            same(
              await links.refresh(),
              linksBefore.map((l) =>
                l?.accountNumber === target ? { ...l, state: 'DELETED', delinked: !l.isMain } : l,
              ),
            );
          }
          if (!tooLarge && invalid.length === 0) {
            expect(await operationOf(correlationId)).toMatchObject({
              operation: 'DELETE',
              status: registered ? 'SUCCESSFUL' : 'FAILED',
              accountNumber: target,
              reason: text('reason'),
              reasonCode: text('reasonCode') ?? 'ISSUER_DECISION',
            });
          }
          expectNoPollution();
        }),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  // -------------------------------------------------------------------------------------------------------------
  // 2. Issuer API paths and query strings.

  it(
    'when the issuer API paths carry arbitrary segments (unicode, percent-encoded, undecodable, dots, empty), then each is routed, refused or served as the decoded values decide, and nothing changes on a refusal',
    async () => {
      const user = await seedUser(ctx.dataSource, { ssUserId: newUserId(), accounts: 3 });
      const db = await tracked(() => snapshot(ctx.dataSource, user.issuerId));
      const links = await tracked(() => linkStates(user));
      const token = await issuerToken(user.issuerId, { expiresIn: '1h' });
      const victim = user.otherAccounts[0]!;

      /** A segment as sent, and whether the generator meant it as "the seeded one". */
      const encoded = fc.string({ unit: 'grapheme', maxLength: 24 }).map((s) => encodeURIComponent(s));
      const garbage = fc
        .array(
          fc.oneof(
            fc.constantFrom(
              '%',
              '%0',
              '%G1',
              '%E0%A4%A',
              '%C3',
              '%FF',
              '%00',
              '%2F',
              '%25',
              '%2e%2e',
              '%20',
              '.',
              '..',
              '~',
            ),
            fc.stringMatching(/^[A-Za-z0-9._~-]{1,5}$/),
          ),
          {
            minLength: 1,
            maxLength: 5,
          },
        )
        .map((parts) => parts.join(''));
      const wireSafe = fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@-]{0,24}$/);
      const issuerSegment = fc.oneof(
        { weight: 4, arbitrary: fc.constant(user.issuerId) },
        fc.constant(user.issuerId.toLowerCase()),
        fc.stringMatching(ISSUER_ID_PATTERN),
        encoded,
        garbage,
        wireSafe,
        fc.constantFrom('', '.', '..', randomIssuerId()),
      );
      const accountSegment = fc.oneof(
        { weight: 4, arbitrary: fc.constant(victim) },
        fc.stringMatching(ACCOUNT_PATTERN),
        encoded,
        garbage,
        wireSafe,
        fc.constantFrom('', '.', '..', `${victim}%20`, `%20${victim}`, `${victim}.0`, `+${victim}`, '0'.repeat(20)),
      );
      const consumerSegment = fc.oneof(
        { weight: 4, arbitrary: anyCase(user.ssUserId) },
        fc.stringMatching(CONSUMER_PATTERN),
        encoded,
        garbage,
        wireSafe,
        fc.constantFrom('', '.', '..'),
      );
      const arbitrary = fc.oneof(
        fc.record({
          route: fc.constant('register' as const),
          issuer: issuerSegment,
          second: accountSegment,
          trailingSlash: fc.boolean(),
        }),
        fc.record({
          route: fc.constant('delete' as const),
          issuer: issuerSegment,
          second: accountSegment,
          trailingSlash: fc.boolean(),
        }),
        fc.record({
          route: fc.constant('operations' as const),
          issuer: issuerSegment,
          second: consumerSegment,
          trailingSlash: fc.boolean(),
        }),
      );
      const decode = (segment: string): string | undefined => {
        try {
          return decodeURIComponent(segment);
        } catch {
          return undefined;
        }
      };

      await fc.assert(
        fc.asyncProperty(arbitrary, async ({ route, issuer, second, trailingSlash }) => {
          const slash = trailingSlash ? '/' : '';
          const path =
            route === 'register'
              ? `/issuers/${issuer}/accounts/${second}${slash}`
              : route === 'delete'
                ? `/issuers/${issuer}/accounts/${second}/operations:delete${slash}`
                : `/issuers/${issuer}/consumers/${second}/operations${slash}`;
          const method = route === 'register' ? 'PUT' : route === 'delete' ? 'POST' : 'GET';
          const body =
            route === 'register' ? JSON.stringify({ consumerId: user.ssUserId, state: 'ACTIVE' }) : undefined;
          const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
          if (body !== undefined) headers['Content-Type'] = 'application/json';

          const secondName = route === 'operations' ? 'consumerId' : 'accountId';
          const secondPattern = route === 'operations' ? CONSUMER_PATTERN : ACCOUNT_PATTERN;
          const decodedIssuer = decode(issuer);
          const decodedSecond = decode(second);

          const before = db.current;
          const linksBefore = links.current;
          const res = await send(method, path, headers, body);
          const after = await db.refresh();

          if (issuer === '' || second === '') {
            // An empty segment matches no route.
            same(
              { status: res.status, code: expectIssuerError(res).errorCode },
              { status: 404, code: CODE.ROUTE_NOT_FOUND },
            );
            same(after, before);
          } else if (decodedIssuer === undefined || decodedSecond === undefined) {
            same(
              { status: res.status, code: expectIssuerError(res).errorCode },
              { status: 400, code: CODE.VALIDATION_FAILED },
            );
            same(issuerFields(res), ['path']);
            same(after, before);
          } else {
            const invalid = [
              ...(ISSUER_ID_PATTERN.test(decodedIssuer) ? [] : ['issuerId']),
              ...(secondPattern.test(decodedSecond) ? [] : [secondName]),
            ];
            if (invalid.length > 0) {
              same(
                { status: res.status, code: expectIssuerError(res).errorCode },
                { status: 400, code: CODE.VALIDATION_FAILED },
              );
              same(issuerFields(res), invalid);
              same(after, before);
            } else if (decodedIssuer !== user.issuerId) {
              same(
                { status: res.status, code: expectIssuerError(res).errorCode },
                { status: 403, code: CODE.ISSUER_NOT_ALLOWED },
              );
              same(after, before);
            } else if (route === 'operations') {
              same(res.status, 200);
              same(Object.keys(res.body as object).sort(), ['operations', 'total']);
              same(after, before);
            } else if (route === 'register' && decodedSecond !== victim) {
              // Another account for the seeded consumer: registered and linked (or, registered earlier, updated).
              same(res.status, 204);
              const existed = (before.accounts as unknown[][]).some((a) => a[0] === decodedSecond);
              same((after.accounts as unknown[][]).length, (before.accounts as unknown[][]).length + (existed ? 0 : 1));
              same(after.operations, (before.operations as number) + 1);
            } else if (route === 'register') {
              same(res.status, 204);
              const accounts = (before.accounts as unknown[][]).map((a) =>
                a[0] === victim ? [victim, 'ACTIVE', null] : a,
              );
              same(
                { ...after, links: undefined },
                { ...before, accounts, operations: (before.operations as number) + 1, links: undefined },
              );
              same(
                await links.refresh(),
                linksBefore.map((l) => (l?.accountNumber === victim ? { ...l, state: 'ACTIVE', delinked: false } : l)),
              );
            } else if (!(before.accounts as unknown[][]).some((a) => a[0] === decodedSecond)) {
              same(
                { status: res.status, code: expectIssuerError(res).errorCode },
                { status: 404, code: CODE.ACCOUNT_NOT_FOUND },
              );
              same(after, { ...before, operations: (before.operations as number) + 1 });
            } else {
              same(res.status, 200);
              same(after.operations, (before.operations as number) + 1);
              if (decodedSecond === victim) {
                same(
                  await links.refresh(),
                  linksBefore.map((l) =>
                    l?.accountNumber === victim ? { ...l, state: 'DELETED', delinked: true } : l,
                  ),
                );
              }
            }
          }
          expectNoPollution();
        }),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'when the operations list gets an arbitrary query string, then offset and count are judged exactly as Express parsed them, the page is the right slice, and nothing changes',
    async () => {
      const user = await seedUser(ctx.dataSource, { ssUserId: newUserId(), accounts: 3 });
      const db = await tracked(() => snapshot(ctx.dataSource, user.issuerId));
      const token = await issuerToken(user.issuerId, { expiresIn: '1h' });
      const path = `/issuers/${user.issuerId}/consumers/${user.ssUserId}/operations`;
      const total = 3; // the three REGISTER operations of the seeding, and nothing else ever for this consumer

      const encodedText = fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => encodeURIComponent(s));
      const rawText = fc.stringMatching(/^[A-Za-z0-9._~!$'()*,;:@%+-]{0,12}$/);
      const numberish = fc.oneof(
        fc.nat({ max: 1_000_000_001 }).map(String),
        fc.integer({ min: -5, max: 105 }).map(String),
        fc.constantFrom(
          '0',
          '00',
          '01',
          '1e2',
          '0x10',
          '1.0',
          '+1',
          '-0',
          '%201',
          '1%20',
          '+1+',
          '999999999',
          '1000000000',
          '100',
          '101',
          '',
        ),
      );
      const key = fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom('offset', 'count') },
        fc.constantFrom(
          'OFFSET',
          'Count',
          'offset[]',
          'count[0]',
          '__proto__',
          'constructor',
          'hasOwnProperty',
          'toString',
          'of%66set',
          'c%6Funt',
          '',
        ),
        encodedText,
      );
      const pair = fc.oneof(
        {
          weight: 6,
          arbitrary: fc
            .tuple(key, fc.oneof({ weight: 3, arbitrary: numberish }, encodedText, rawText))
            .map(([k, v]) => `${k}=${v}`),
        },
        key,
        rawText,
      );
      const arbitrary = fc.array(pair, { maxLength: 6 }).map((pairs) => pairs.join('&'));

      await fc.assert(
        fc.asyncProperty(arbitrary, fc.constantFrom('', '&', '&&'), async (query, lead) => {
          const rawQuery = `${lead}${query}`;
          // Express's "simple" query parser is Node's querystring; the oracle reads the string the same way.
          const parsed = parseQueryString(rawQuery);
          const judge = (name: 'offset' | 'count', pattern: RegExp): { valid: boolean; value?: number } => {
            const v = parsed[name];
            if (v === undefined) return { valid: true };
            return typeof v === 'string' && pattern.test(v) ? { valid: true, value: Number(v) } : { valid: false };
          };
          const offset = judge('offset', /^(0|[1-9]\d{0,8})$/);
          const count = judge('count', /^([1-9]\d?|100)$/);

          const before = db.current;
          const res = await send('GET', rawQuery === '' ? path : `${path}?${rawQuery}`, {
            Authorization: `Bearer ${token}`,
          });
          if (offset.valid && count.valid) {
            same(res.status, 200);
            expectCorrelationHeader(res);
            const page = res.body as { operations: unknown[]; total: number };
            same(Object.keys(page).sort(), ['operations', 'total']);
            same(page.total, total);
            same(page.operations.length, Math.min(count.value ?? 10, Math.max(0, total - (offset.value ?? 0))));
          } else {
            same(
              { status: res.status, code: expectIssuerError(res).errorCode },
              { status: 400, code: CODE.VALIDATION_FAILED },
            );
            same(issuerFields(res), [...(offset.valid ? [] : ['offset']), ...(count.valid ? [] : ['count'])]);
          }
          same(await db.refresh(), before);
          expectNoPollution();
        }),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  // -------------------------------------------------------------------------------------------------------------
  // 3. Headers.

  it(
    'when Content-Type, Authorization (garbage, random segments, tokens with random claims), x-correlation-id and Idempotency-Key are arbitrary, then each refusal comes from the right check in the right order, a replay replays, and nothing changes unless the request was let through',
    async () => {
      const user = await seedUser(ctx.dataSource, { ssUserId: newUserId(), accounts: 3 });
      const db = await tracked(() => snapshot(ctx.dataSource, user.issuerId));
      const victim = user.otherAccounts[0]!;
      const now = (): number => Math.floor(Date.now() / 1000);

      type Endpoint = 'DeLinkAccount' | 'GetLinkAccounts' | 'register';
      const scopeOf: Record<Endpoint, string> = {
        DeLinkAccount: 'selfservice:delink',
        GetLinkAccounts: 'selfservice:read',
        register: 'issuer:write',
      };
      const ALL_SCOPES = ['selfservice:delink', 'selfservice:read', 'issuer:write', 'issuer:read'];

      /**
       * The claims of a token, each good (mostly: a third of the tokens pass, so that every later check is reached with
       * random claims too), bad or absent; signed with the right secret and HS256, mostly.
       */
      const claimValue = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown>) =>
        fc.oneof(
          { weight: 8, arbitrary: good.map((value) => ({ kind: 'good' as const, value: value })) },
          bad.map((value) => ({ kind: 'bad' as const, value })),
          fc.constant({ kind: 'absent' as const, value: undefined }),
        );
      const badJson = fc.oneof(
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(fc.string(), { maxLength: 2 }),
        fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
      );
      /** Scopes, other words, separated by one or two spaces (and around them). */
      const scopeText = fc
        .tuple(
          fc.subarray(ALL_SCOPES),
          fc.array(fc.stringMatching(/^[a-z:]{1,12}$/), { maxLength: 2 }),
          fc.array(fc.constantFrom(' ', '  '), { minLength: 7, maxLength: 7 }),
        )
        .map(
          ([scopes, noise, gaps]) =>
            [...scopes, ...noise].map((w, i) => `${gaps[i] ?? ' '}${w}`).join('') + (gaps.at(-1) ?? ''),
        );
      const claims = fc.record({
        alg: fc.oneof({ weight: 8, arbitrary: fc.constant('HS256') }, fc.constantFrom('HS384', 'none')),
        rightSecret: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, fc.constant(false)),
        exp: fc.oneof(
          { weight: 8, arbitrary: fc.constant('future' as const) },
          fc.constantFrom('past' as const, 'absent' as const, 'string' as const),
        ),
        nbf: fc.oneof(
          { weight: 6, arbitrary: fc.constant('absent' as const) },
          { weight: 2, arbitrary: fc.constant('past' as const) },
          fc.constant('future' as const),
        ),
        issuerId: claimValue(
          fc.oneof({ weight: 4, arbitrary: fc.constant(user.issuerId) }, fc.stringMatching(ISSUER_ID_PATTERN)),
          fc.oneof(
            badJson,
            fc.string({ maxLength: 12 }).filter((s) => !ISSUER_ID_PATTERN.test(s)),
          ),
        ),
        scope: claimValue(
          scopeText,
          badJson.filter((v) => v !== null),
        ),
        ssUserId: fc.oneof(
          { weight: 8, arbitrary: fc.constant({ kind: 'absent' as const, value: undefined }) },
          anyCase(user.ssUserId).map((value) => ({ kind: 'good' as const, value: value })),
          otherConsumer(user).map((value) => ({ kind: 'good' as const, value: value })),
          fc
            .oneof(
              badJson,
              fc.string({ maxLength: 35 }).filter((s) => !CONSUMER_PATTERN.test(s)),
            )
            .map((value) => ({ kind: 'bad' as const, value })),
        ),
        // Recorded as the operation's requestor, in a column of 255 characters.
        sub: fc.oneof(
          fc.string({ unit: 'binary', maxLength: 20 }),
          fc.string({ unit: 'grapheme', minLength: 250, maxLength: 300 }),
          fc.constantFrom('portal-backend', 'ivr', '', 'x'.repeat(255), 'x'.repeat(256)),
          badJson,
        ),
        extraClaims: fc.dictionary(
          fc
            .string({ maxLength: 8 })
            .filter(
              (k) =>
                !['exp', 'nbf', 'iat', 'issuerId', 'scope', 'ssUserId', 'sub', 'iss', 'aud', 'jti', 'crit'].includes(k),
            ),
          fc.jsonValue({ maxDepth: 2 }),
          { maxKeys: 3 },
        ),
        extraHeader: fc.dictionary(fc.constantFrom('kid', 'typ', 'cty', 'x5t', 'foo'), fc.string({ maxLength: 10 }), {
          maxKeys: 2,
        }),
      });
      type Claims = typeof claims extends fc.Arbitrary<infer C> ? C : never;

      const authorization = fc.oneof(
        { weight: 2, arbitrary: fc.constant({ kind: 'absent' as const }) },
        {
          weight: 4,
          arbitrary: fc.record({
            kind: fc.constant('genuine' as const),
            scheme: fc.constantFrom('Bearer ', 'bearer ', 'BEARER ', ' Bearer ', '\tBearer '),
            trailer: fc.constantFrom('', ' ', '\t'),
          }),
        },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('garbage' as const), value: headerText(60) }) },
        {
          weight: 2,
          arbitrary: fc.record({
            kind: fc.constant('segments' as const),
            scheme: fc.constantFrom('Bearer ', 'bearer ', 'Basic ', 'Bearer  ', 'Token ', ''),
            segments: fc.array(
              fc.oneof(
                fc
                  .base64String({ maxLength: 40 })
                  .map((s) => s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')),
                fc.jsonValue({ maxDepth: 2 }).map(base64url),
              ),
              { minLength: 1, maxLength: 5 },
            ),
          }),
        },
        { weight: 6, arbitrary: fc.record({ kind: fc.constant('claims' as const), claims }) },
      );
      const contentType = fc.oneof(
        {
          weight: 6,
          arbitrary: fc
            .constantFrom(
              'application/json',
              'application/json; charset=utf-8',
              'Application/JSON',
              'application/json;charset=UTF-8',
              'application/json ; charset="utf-8"',
            )
            .map((value) => ({ kind: 'json' as const, value })),
        },
        fc.constant({ kind: 'absent' as const, value: '' }),
        fc
          .constantFrom(
            'text/plain',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            'application/xml',
            'application/merge-patch+json',
            'text/json',
            'json',
            '*/*',
            'application/*',
          )
          .map((value) => ({ kind: 'other' as const, value })),
        fc
          .oneof(
            headerText(40).filter((v) => !/json/i.test(v)),
            fc.tuple(fc.constantFrom('application/json;', 'application/json; '), headerText(30)).map(([a, b]) => a + b),
          )
          .map((value) => ({ kind: 'weird' as const, value })),
      );
      const correlation = fc.oneof(
        { weight: 3, arbitrary: fc.constant<string | undefined>(undefined) },
        { weight: 3, arbitrary: fc.stringMatching(CORRELATION_PATTERN) },
        headerText(80),
      );
      const idempotencyKey = fc.oneof(
        { weight: 3, arbitrary: fc.constant<string | undefined>(undefined) },
        { weight: 2, arbitrary: fc.stringMatching(/^[\x21-\x7E][\x20-\x7E]{0,40}[\x21-\x7E]$/) },
        fc.constantFrom('fuzz-key-1', 'fuzz-key-2', 'x'.repeat(255), 'x'.repeat(256)),
        headerText(300),
      );
      const arbitrary = fc.record({
        endpoint: fc.constantFrom<Endpoint>('DeLinkAccount', 'GetLinkAccounts', 'register'),
        ssUserIdCase: anyCase(user.ssUserId),
        authorization,
        contentType,
        correlation,
        idempotencyKey,
      });

      async function tokenFor(spec: Claims): Promise<string> {
        const payload: Record<string, unknown> = { ...spec.extraClaims };
        for (const name of ['issuerId', 'scope', 'ssUserId'] as const)
          if (spec[name].kind !== 'absent') payload[name] = spec[name].value;
        if (spec.sub !== undefined) payload.sub = spec.sub;
        if (spec.exp === 'future') payload.exp = now() + 3600;
        if (spec.exp === 'past') payload.exp = now() - 3600;
        if (spec.exp === 'string') payload.exp = String(now() + 3600);
        if (spec.nbf === 'past') payload.nbf = now() - 3600;
        if (spec.nbf === 'future') payload.nbf = now() + 3600;
        if (spec.alg === 'none') return `${base64url({ ...spec.extraHeader, alg: 'none' })}.${base64url(payload)}.`;
        const secret = new TextEncoder().encode(spec.rightSecret ? TEST_SECRET : `${TEST_SECRET}-wrong`);
        return new SignJWT(payload).setProtectedHeader({ ...spec.extraHeader, alg: spec.alg }).sign(secret);
      }

      interface Principal {
        issuerId: string;
        sub: string;
        ssUserId: string | undefined;
        scopes: string[];
      }
      /** What authentication must decide: missing, invalid (any 401 of the token), or the principal. */
      function authOutcome(spec: Claims): 'invalid' | Principal {
        if (spec.alg !== 'HS256' || !spec.rightSecret || spec.exp !== 'future' || spec.nbf === 'future')
          return 'invalid';
        if (spec.issuerId.kind !== 'good' || spec.scope.kind === 'bad' || spec.ssUserId.kind === 'bad')
          return 'invalid';
        if (typeof spec.sub === 'string' && spec.sub.length > 255) return 'invalid';
        return {
          issuerId: spec.issuerId.value,
          sub: typeof spec.sub === 'string' ? spec.sub : '',
          ssUserId: spec.ssUserId.kind === 'good' ? spec.ssUserId.value : undefined,
          scopes: spec.scope.kind === 'good' ? spec.scope.value.split(' ').filter((s) => s !== '') : [],
        };
      }

      const genuineToken = await mintToken(user.issuerId, {
        scope: ALL_SCOPES.join(' '),
        sub: 'fuzz-genuine',
        expiresIn: '1h',
      });
      /** Idempotency keys this property has had the service store, by caller and key: the request and its response. */
      const stored = new Map<string, { request: string; status: number; text: string }>();

      await fc.assert(
        fc.asyncProperty(
          arbitrary,
          async ({
            endpoint,
            ssUserIdCase,
            authorization: auth,
            contentType: type,
            correlation: correlationId,
            idempotencyKey: key,
          }) => {
            const body =
              endpoint === 'register'
                ? { consumerId: ssUserIdCase, state: 'ACTIVE' }
                : {
                    Source: 'IVR',
                    ExternalIP: '203.0.113.7',
                    APIVersion: '2.0',
                    SSUserID: ssUserIdCase,
                    AccountNumber: user.mainAccount,
                    CallerID: '+17204454214',
                  };
            const raw = JSON.stringify(body);
            const method = endpoint === 'register' ? 'PUT' : 'POST';
            const path =
              endpoint === 'register'
                ? `/issuers/${user.issuerId}/accounts/${victim}`
                : endpoint === 'DeLinkAccount'
                  ? DELINK_PATH
                  : GET_LINKS_PATH;
            const issuerFace = endpoint === 'register';

            const headers: Record<string, string> = {};
            let principal: 'missing' | 'invalid' | Principal;
            if (auth.kind === 'absent') principal = 'missing';
            else if (auth.kind === 'genuine') {
              headers.Authorization = `${auth.scheme}${genuineToken}${auth.trailer}`;
              principal = { issuerId: user.issuerId, sub: 'fuzz-genuine', ssUserId: undefined, scopes: ALL_SCOPES };
            } else if (auth.kind === 'garbage') {
              headers.Authorization = auth.value;
              principal = asReceived(auth.value) === '' ? 'missing' : 'invalid';
            } else if (auth.kind === 'segments') {
              headers.Authorization = `${auth.scheme}${auth.segments.join('.')}`;
              principal = asReceived(headers.Authorization) === '' ? 'missing' : 'invalid';
            } else {
              headers.Authorization = `Bearer ${await tokenFor(auth.claims)}`;
              principal = authOutcome(auth.claims);
            }
            if (type.kind !== 'absent') headers['Content-Type'] = type.value;
            if (correlationId !== undefined) headers['x-correlation-id'] = correlationId;
            if (key !== undefined) headers['Idempotency-Key'] = key;

            const before = db.current;
            const res = await send(method, path, headers, raw);
            const after = await db.refresh();
            // The checks, in the order the service makes them: the first refusal decides.
            const judge = (): void => {
              check(res.status < 500, () => `a 5xx: ${shown(res)}`);
              const echoed = expectCorrelationHeader(res);
              const outcome = (): { status: number; code: string } =>
                issuerFace && res.status === 204
                  ? { status: 204, code: '' }
                  : {
                      status: res.status,
                      code: issuerFace ? expectIssuerError(res).errorCode : expectEnvelope(res).ErrorCode,
                    };
              const unchanged = (): void => same(after, before);

              // 1. The correlation id, checked before routing.
              const receivedCorrelation = correlationId === undefined ? undefined : asReceived(correlationId);
              if (receivedCorrelation !== undefined && !CORRELATION_PATTERN.test(receivedCorrelation)) {
                same(outcome(), { status: 400, code: CODE.VALIDATION_FAILED });
                same(issuerFace ? issuerFields(res) : listedFields(res), ['x-correlation-id']);
                check(UUID_PATTERN.test(echoed), () => `not a generated correlation id: ${echoed}`);
                return unchanged();
              }
              if (receivedCorrelation !== undefined) same(echoed, receivedCorrelation);

              // 2. The token.
              if (principal === 'missing') {
                same(outcome(), { status: 401, code: CODE.TOKEN_MISSING });
                return unchanged();
              }
              if (principal === 'invalid') {
                const { status, code } = outcome();
                same(status, 401);
                check(TOKEN_CODES.includes(code), () => `not a token error: ${shown(res)}`);
                same(res.headers['www-authenticate'], 'Bearer');
                return unchanged();
              }
              if (!principal.scopes.includes(scopeOf[endpoint])) {
                same(outcome(), { status: 403, code: CODE.SCOPE_MISSING });
                return unchanged();
              }

              // 3. The content type.
              if (type.kind === 'absent' || type.kind === 'other') {
                same(outcome(), { status: 415, code: CODE.UNSUPPORTED_MEDIA_TYPE });
                return unchanged();
              }
              if (type.kind === 'weird') {
                // A content type this odd may or may not pass for JSON; refused, it is a 415 or an unreadable body.
                const { status, code } = outcome();
                if (status === 415 || (status === 400 && code === CODE.MALFORMED_BODY)) return unchanged();
              }

              // 4. The idempotency key (DeLinkAccount and register only).
              const idempotent = endpoint !== 'GetLinkAccounts' && key !== undefined;
              const receivedKey = key === undefined ? '' : asReceived(key);
              const storeKey = `${principal.issuerId}\u0000${principal.sub}\u0000${receivedKey}`;
              if (idempotent) {
                if (!IDEMPOTENCY_KEY_PATTERN.test(receivedKey)) {
                  same(outcome(), { status: 400, code: CODE.VALIDATION_FAILED });
                  same(issuerFace ? issuerFields(res) : listedFields(res), ['Idempotency-Key']);
                  return unchanged();
                }
                const first = stored.get(storeKey);
                if (first !== undefined) {
                  if (first.request === `${method} ${path} ${raw}`) {
                    same(res.headers['idempotent-replayed'], 'true');
                    same({ status: res.status, text: res.text }, { status: first.status, text: first.text });
                  } else {
                    same(outcome(), { status: 422, code: CODE.IDEMPOTENCY_KEY_REUSED });
                  }
                  return unchanged();
                }
              }
              same(res.headers['idempotent-replayed'], undefined);
              if (idempotent)
                stored.set(storeKey, { request: `${method} ${path} ${raw}`, status: res.status, text: res.text });

              // 5. The request itself: valid, so the outcome is the domain's.
              const boundElsewhere = principal.ssUserId !== undefined && !sameUser(principal.ssUserId, ssUserIdCase);
              const ownIssuer = principal.issuerId === user.issuerId;
              if (endpoint === 'register') {
                if (principal.ssUserId !== undefined) same(outcome(), { status: 403, code: CODE.SCOPE_MISSING });
                else if (!ownIssuer) same(outcome(), { status: 403, code: CODE.ISSUER_NOT_ALLOWED });
                else {
                  same(outcome(), { status: 204, code: '' });
                  return same(after, { ...before, operations: (before.operations as number) + 1 });
                }
                return unchanged();
              }
              if (endpoint === 'GetLinkAccounts') {
                if (boundElsewhere) same(outcome(), { status: 403, code: CODE.USER_NOT_ALLOWED });
                else if (!ownIssuer) same(outcome(), { status: 404, code: CODE.USER_NOT_FOUND });
                else same(outcome(), { status: 200, code: CODE.SUCCESS });
                return unchanged();
              }
              // DeLinkAccount of the main account: refused, and recorded in the token's issuer.
              const code = boundElsewhere
                ? CODE.USER_NOT_ALLOWED
                : !ownIssuer
                  ? CODE.USER_NOT_FOUND
                  : CODE.MAIN_ACCOUNT;
              same(outcome(), { status: STATUS_OF_CODE.get(code), code });
              same(after, ownIssuer ? { ...before, operations: (before.operations as number) + 1 } : before);
            };
            judge();
            expectNoPollution();
          },
        ),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  // -------------------------------------------------------------------------------------------------------------
  // 4. Paths and methods.

  it(
    'when any method meets any path (known words, dots, percent-encodings, unicode, very long), then the answer is never a 5xx and always a JSON error in the face of the path, unless it is a public page',
    async () => {
      const user = await seedUser(ctx.dataSource, { ssUserId: newUserId(), accounts: 2 });
      const db = await tracked(() => snapshot(ctx.dataSource, user.issuerId));
      const token = await mintToken(randomIssuerId(), {
        scope: 'selfservice:delink selfservice:read issuer:write issuer:read',
        expiresIn: '1h',
      });
      const methods = METHODS.filter((m) => m !== 'CONNECT');
      const word = fc.constantFrom(
        'api',
        'CoreCredit',
        'corecredit',
        'UserManagement',
        'DeLinkAccount',
        'GetLinkAccounts',
        'issuers',
        'Issuers',
        'ISSUERS',
        'accounts',
        'consumers',
        'operations',
        'operations:delete',
        'operations%3Adelete',
        'health',
        'live',
        'ready',
        'metrics',
        'docs',
        'openapi.json',
        'swagger-ui.css',
        'docs-init.js',
        'index.html',
        'swagger-initializer.js',
        '.env',
        '.git',
        '.',
        '..',
        '',
        '%2e',
        '%2E%2E',
        '%2F',
        '%5C',
        '%00',
        '%',
        '%E0%A4%A',
        '%C0%AF',
        '%FF',
        ';',
        '*',
        '~',
      );
      const segment = fc.oneof(
        { weight: 6, arbitrary: word },
        fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@%-]{1,12}$/),
        fc.string({ unit: 'grapheme', maxLength: 10 }).map((s) => encodeURIComponent(s)),
        fc.stringMatching(ISSUER_ID_PATTERN),
        fc.stringMatching(ACCOUNT_PATTERN),
        fc
          .tuple(fc.stringMatching(/^[A-Za-z0-9._~-]{1,8}$/), fc.integer({ min: 100, max: 8_000 }))
          .map(([s, n]) => s.repeat(Math.ceil(n / s.length)).slice(0, n)),
      );
      // Most paths start from a real route and are mutated (a segment replaced, inserted, dropped, its case changed), so
      // that many land on or near an endpoint; the rest are random segments.
      const ROUTES = [
        ['api', 'CoreCredit', 'UserManagement', 'DeLinkAccount'],
        ['api', 'CoreCredit', 'UserManagement', 'GetLinkAccounts'],
        ['issuers', '{id}', 'accounts', '{id}'],
        ['issuers', '{id}', 'accounts', '{id}', 'operations:delete'],
        ['issuers', '{id}', 'consumers', '{id}', 'operations'],
        ['health', 'live'],
        ['health', 'ready'],
        ['metrics'],
        ['openapi.json'],
        ['docs'],
        ['docs', 'swagger-ui.css'],
        ['docs', 'docs-init.js'],
      ];
      const idSegment = fc.oneof(
        fc.stringMatching(ISSUER_ID_PATTERN),
        fc.stringMatching(ACCOUNT_PATTERN),
        fc.stringMatching(CONSUMER_PATTERN),
      );
      const mutation = fc.record({
        kind: fc.constantFrom('replace', 'insert', 'delete', 'case'),
        at: fc.nat(),
        segment,
      });
      const mutated = fc
        .tuple(
          fc
            .constantFrom(...ROUTES)
            .chain((route) => fc.tuple(...route.map((part) => (part === '{id}' ? idSegment : fc.constant(part))))),
          fc.oneof(fc.constant([]), fc.array(mutation, { minLength: 1, maxLength: 3 })),
        )
        .map(([route, mutations]) => {
          const parts: string[] = [...route];
          for (const { kind, at, segment: replacement } of mutations) {
            const i = at % (parts.length + 1);
            if (kind === 'insert') parts.splice(i, 0, replacement);
            else if (i < parts.length && kind === 'replace') parts[i] = replacement;
            else if (i < parts.length && kind === 'delete') parts.splice(i, 1);
            else if (i < parts.length) parts[i] = at % 2 === 0 ? parts[i]!.toUpperCase() : parts[i]!.toLowerCase();
          }
          return parts;
        });
      const arbitrary = fc.record({
        method: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS') },
          fc.constantFrom(...methods),
        ),
        segments: fc.oneof({ weight: 3, arbitrary: mutated }, fc.array(segment, { maxLength: 8 })),
        trailingSlash: fc.boolean(),
        query: fc.option(fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,30}$/), { nil: undefined }),
        withToken: fc.boolean(),
        body: fc.option(
          fc.oneof(
            fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
            fc.string({ maxLength: 30 }),
          ),
          { nil: undefined },
        ),
      });

      await fc.assert(
        fc.asyncProperty(arbitrary, async ({ method, segments, trailingSlash, query, withToken, body }) => {
          const pathname = `/${segments.join('/')}${trailingSlash && segments.length > 0 ? '/' : ''}`;
          // Paths over Node's 16 kB header limit are refused by Node itself, before the app: not this property's concern.
          fc.pre(pathname.length < 12_000);
          const url = query === undefined ? pathname : `${pathname}?${query}`;
          // The suite's OpenAPI check (test/helpers/api.ts) reads the path through WHATWG URL, which resolves dot segments that the
          // app never resolves (/../docs is a 404 here, not /docs; /issuers/./consumers/… is routed here): when that makes
          // the check judge another endpoint than the one that answered, the path is left out.
          const seenByDocumentCheck = new URL(`http://localhost${url}`).pathname;
          const documented = (p: string): boolean => DOCUMENTED_PATHS.some((route) => route.test(p));
          fc.pre(seenByDocumentCheck === pathname || (!documented(seenByDocumentCheck) && !documented(pathname)));
          const headers: Record<string, string> = {};
          if (withToken) headers.Authorization = `Bearer ${token}`;
          // superagent sends a HEAD body without Content-Length, which no server can read: a client fault, not the app's.
          const sent = method === 'HEAD' ? undefined : body;
          if (sent !== undefined) headers['Content-Type'] = 'application/json';

          const before = db.current;
          const res = await send(method, url, headers, sent);
          check(res.status < 500, () => `a 5xx: ${shown(res)}`);
          expectCorrelationHeader(res);
          const publicPage =
            (method === 'GET' || method === 'HEAD') &&
            PUBLIC_ROUTES.some((p) => p.toLowerCase() === pathname.replace(/(.)\/$/, '$1').toLowerCase());
          if (publicPage && res.status < 400) {
            check(res.status === 200 || res.status === 503, () => `a public page answered ${shown(res)}`);
          } else if (method === 'HEAD') {
            check(res.status >= 400, () => `HEAD answered ${shown(res)}`);
            same(res.headers['content-type'], 'application/json; charset=utf-8');
          } else {
            const code = expectErrorOfFace(res, pathname);
            if (res.status === 405) same(typeof res.headers.allow, 'string');
            check(code !== CODE.INTERNAL, () => `an internal error: ${shown(res)}`);
          }
          same(await db.refresh(), before);
          expectNoPollution();
        }),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  // -------------------------------------------------------------------------------------------------------------
  // The counterexamples fuzzing found, kept as plain examples.

  describe('counterexamples found by fuzzing', () => {
    it('when an issuer path segment is not decodable percent-encoding (/accounts/%E0%A4%A), then 400 ERR01100 names the path, not a 500', async () => {
      const user = await seedUser(ctx.dataSource, { accounts: 1 });
      const before = await snapshot(ctx.dataSource, user.issuerId);
      const res = await send(
        'PUT',
        `/issuers/${user.issuerId}/accounts/%E0%A4%A`,
        { Authorization: `Bearer ${await issuerToken(user.issuerId)}`, 'Content-Type': 'application/json' },
        JSON.stringify({ consumerId: user.ssUserId, state: 'ACTIVE' }),
      );
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        errorCode: 'ERR01100',
        message: 'The request has invalid fields.',
        correlationId: res.headers['x-correlation-id'],
        errors: [{ field: 'path', message: expect.any(String) }],
      });
      expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
    });

    it('when the docs asset name is not decodable (/docs/%C3), then 400 in the CoreCredit envelope, not a 500', async () => {
      const res = await send('GET', '/docs/%C3');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        Message: 'The request has invalid fields.',
        Status: false,
        ErrorCode: 'ERR01100',
        ResponseData: { Errors: [{ Field: 'path', Message: expect.any(String) }] },
      });
    });

    it('when an envelope field is 8,000 nested arrays, then 400 says it must be a string, not a 500 (stack overflow)', async () => {
      const user = await seedUser(ctx.dataSource, { accounts: 2 });
      const before = await snapshot(ctx.dataSource, user.issuerId);
      const deep = '['.repeat(8000) + ']'.repeat(8000);
      const res = await send(
        'POST',
        DELINK_PATH,
        { Authorization: `Bearer ${await mintToken(user.issuerId)}`, 'Content-Type': 'application/json' },
        `{"Source":${deep}}`,
      );
      expect(res.status).toBe(400);
      expect(res.body.ErrorCode).toBe('ERR01100');
      expect(res.body.ResponseData.Errors).toContainEqual({ Field: 'Source', Message: 'Source must be a string' });
      expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
    });

    it('when a body with an Idempotency-Key has an unknown field of 8,000 nested arrays, then it is handled (409 main account), not a 500', async () => {
      const user = await seedUser(ctx.dataSource, { accounts: 2 });
      const envelope = JSON.stringify({
        Source: 'Web',
        ExternalIP: '10.120.0.0',
        APIVersion: '2.0',
        SSUserID: user.ssUserId,
        AccountNumber: user.mainAccount,
      });
      const deep = '['.repeat(8000) + ']'.repeat(8000);
      const res = await send(
        'POST',
        DELINK_PATH,
        {
          Authorization: `Bearer ${await mintToken(user.issuerId)}`,
          'Content-Type': 'application/json',
          'Idempotency-Key': 'deep-body',
        },
        `${envelope.slice(0, -1)},"X":${deep}}`,
      );
      expect(res.status).toBe(409);
      expect(res.body.ErrorCode).toBe('ERR01140');
    });

    it.each(['gzip', 'deflate', 'br'])(
      'when the body claims Content-Encoding %s but is not compressed, then 400 ERR01101, not a 500',
      async (encoding) => {
        const user = await seedUser(ctx.dataSource, { accounts: 2 });
        const before = await snapshot(ctx.dataSource, user.issuerId);
        const envelope = JSON.stringify({
          Source: 'Web',
          ExternalIP: '10.120.0.0',
          APIVersion: '2.0',
          SSUserID: user.ssUserId,
          AccountNumber: user.otherAccounts[0],
        });
        const res = await send(
          'POST',
          DELINK_PATH,
          {
            Authorization: `Bearer ${await mintToken(user.issuerId)}`,
            'Content-Type': 'application/json',
            'Content-Encoding': encoding,
          },
          envelope,
        );
        expect(res.status).toBe(400);
        expect(res.body).toEqual({
          Message: 'The request body could not be read.',
          Status: false,
          ErrorCode: 'ERR01101',
          ResponseData: {},
        });
        expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
      },
    );

    it.each(['12/31/0099 23:59:59', '01/01/0001 00:00:00', '02/29/0004 12:00:00'])(
      'when RequestTime is %s (a year before 100), then it is a real date and accepted',
      async (requestTime) => {
        const user = await seedUser(ctx.dataSource, { accounts: 1 });
        const envelope = {
          Source: 'Web',
          ExternalIP: '10.120.0.0',
          APIVersion: '2.0',
          SSUserID: user.ssUserId,
          RequestTime: requestTime,
        };
        const res = await send(
          'POST',
          GET_LINKS_PATH,
          { Authorization: `Bearer ${await mintToken(user.issuerId)}`, 'Content-Type': 'application/json' },
          JSON.stringify(envelope),
        );
        expect(res.status).toBe(200);
        expect(res.body.ResponseData.SSUserID).toBe(user.ssUserId);
      },
    );

    it("when the issuer API is called as /ISSUERS/… (Express routes it, case-insensitively), then its errors are in the issuer API's shape", async () => {
      const user = await seedUser(ctx.dataSource, { accounts: 1 });
      const res = await send(
        'PUT',
        `/ISSUERS/${user.issuerId}/accounts/${user.mainAccount}`,
        { 'Content-Type': 'application/json' },
        JSON.stringify({ consumerId: user.ssUserId, state: 'ACTIVE' }),
      );
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        errorCode: 'ERR01110',
        message: 'A bearer token is required.',
        correlationId: res.headers['x-correlation-id'],
      });
    });

    it('when a valid token has a sub of 256 characters, then 401 ERR01114 and nothing is recorded (MariaDB refused the operation row: a 500)', async () => {
      const user = await seedUser(ctx.dataSource, { accounts: 2 });
      const before = await snapshot(ctx.dataSource, user.issuerId);
      const envelope = JSON.stringify({
        Source: 'Web',
        ExternalIP: '10.120.0.0',
        APIVersion: '2.0',
        SSUserID: user.ssUserId,
        AccountNumber: user.mainAccount,
      });
      const res = await send(
        'POST',
        DELINK_PATH,
        {
          Authorization: `Bearer ${await mintToken(user.issuerId, { sub: 'é'.repeat(256) })}`,
          'Content-Type': 'application/json',
        },
        envelope,
      );
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        Message: 'The token sub claim must be at most 255 characters.',
        Status: false,
        ErrorCode: 'ERR01114',
        ResponseData: {},
      });
      expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
      // 255 characters are recorded as they are.
      const accepted = await send(
        'POST',
        DELINK_PATH,
        {
          Authorization: `Bearer ${await mintToken(user.issuerId, { sub: 'é'.repeat(255) })}`,
          'Content-Type': 'application/json',
          'x-correlation-id': 'sub-255',
        },
        envelope,
      );
      expect(accepted.status).toBe(409);
      expect((await ctx.dataSource.getRepository(Operation).findOneBy({ correlationId: 'sub-255' }))?.requestorId).toBe(
        'é'.repeat(255),
      );
    });

    it.each(['/health/live', '/health/ready'])(
      "when OPTIONS %s is sent, then 405 in the envelope with Allow: GET, not Express's 200 text",
      async (path) => {
        const res = await send('OPTIONS', path);
        expect(res.status).toBe(405);
        expect(res.headers.allow).toBe('GET');
        expect(res.body).toEqual({
          Message: 'This method is not allowed on this endpoint.',
          Status: false,
          ErrorCode: 'ERR01135',
          ResponseData: {},
        });
      },
    );
  });
});
