// The CoreCredit request envelope, field by field, and the body/transport rules around it: what is accepted,
// what is refused with which code, and that a refused request never changes the database.
import { api, type Response } from './helpers/api';
import { DELINK_PATH, GET_LINKS_PATH } from '../src/corecredit/routes';
import {
  buildEnvelope,
  createTestContext,
  issuerToken,
  linkOf,
  mintToken,
  operationsOf,
  seedUser,
  snapshot,
  type SeededUser,
  type TestContext,
} from './helpers/context';
import { SUCCESS } from './helpers/expectations';

type Res = Response;

/** The envelope's fields in the contract's order: validation errors are listed in this order. */
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

interface Endpoint {
  name: string;
  path: string;
  mandatory: Field[];
}
const DELINK: Endpoint = {
  name: 'DeLinkAccount',
  path: DELINK_PATH,
  mandatory: ['Source', 'ExternalIP', 'APIVersion', 'AccountNumber', 'SSUserID'],
};
const GET_LINKS: Endpoint = {
  name: 'GetLinkAccounts',
  path: GET_LINKS_PATH,
  mandatory: ['Source', 'ExternalIP', 'APIVersion', 'SSUserID'],
};
const ENDPOINTS = [DELINK, GET_LINKS];

const phone20 = `+${'1'.repeat(19)}`;

/** Forms each field accepts (APIVersion has exactly one). */
const VALID: Record<Field, string[]> = {
  Source: ['Web', 'IVR', 'a', 'S'.repeat(50), 'Self Service_Portal-2', ' Web ', 'WEB.PORTAL', 'Web!', 'Wéb'],
  IPAddress: ['10.120.0.1', '0.0.0.0', '255.255.255.255'],
  DateFormat: ['1', '2', '3', '4', '', 'MM/dd/yyyy HH:MM:SS', 'x'.repeat(25)],
  CurrencyCode: ['840', '978', 'USD', '', ' 840', 'x'.repeat(10)],
  CurrencySymbolType: ['1', '2', '$', '€', 'x'.repeat(10)],
  Language: ['en', 'es', 'EN', 'en-US', 'fr', 'Español', 'x'.repeat(10)],
  ExternalIP: [
    '10.120.0.0',
    '203.0.113.7',
    '::1',
    '2001:db8::1',
    '2001:0db8:85a3:0000:0000:8a2e:0370:7334',
    'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255',
  ],
  SessionID: ['000028;026;1349906692', '', 'x'.repeat(100), ' !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'],
  APIVersion: ['2.0'],
  CallerID: [
    '+17204454214',
    '7314145404',
    '1',
    phone20,
    '9'.repeat(20),
    'Anonymous',
    'Restricted',
    '(720) 445-4214',
    '',
  ],
  CalledID: ['+17204454214', '7314145404', '1', phone20, '9'.repeat(20), '720-445-4214', '*86'],
  RequestTime: [
    '02/29/2020 10:00:00',
    '01/01/2020 00:00:00',
    '12/31/1999 23:59:59',
    '01/01/0001 00:00:00',
    '12/31/0099 23:59:59',
  ],
  AccountNumber: ['1', '0123456789', '9999999999999999999'],
  SSUserID: ['a', 'MyUserID', '8888010000000231', 'Z'.repeat(30)],
};

/** String forms each field refuses with ERR01100 (an unsupported APIVersion string has its own code, below). */
const INVALID: Record<Field, string[]> = {
  Source: ['', 'S'.repeat(51), 'Web\n', 'Web\t', 'Web\u0000', 'Web\u200b'],
  IPAddress: [
    '',
    '256.1.1.1',
    '10.120.0',
    '10.120.0.1.1',
    '1234.123.123.123',
    '::1',
    'localhost',
    ' 10.120.0.1',
    '10.120.0.1 ',
  ],
  DateFormat: ['x'.repeat(26), '1\n', '\u0001'],
  CurrencyCode: ['x'.repeat(11), '840\t'],
  CurrencySymbolType: ['x'.repeat(11), '\u001b'],
  Language: ['x'.repeat(11), 'en\u2028'],
  ExternalIP: [
    '',
    'not-an-ip',
    '256.0.0.1',
    '2001:db8::g',
    '1::2::3',
    ' 10.120.0.0',
    '10.120.0.0 ',
    `fe80::1%${'a'.repeat(43)}`,
  ],
  SessionID: ['x'.repeat(101), 'tab\there', 'new\nline', 'del\u007f', 'sesión', 'emoji😀'],
  APIVersion: [],
  CallerID: [`${phone20}1`, '9'.repeat(21), '720\n4454214', '\t720', '\u007f'],
  CalledID: [`${phone20}1`, '9'.repeat(21), '731\r'],
  RequestTime: [
    '',
    '02/30/2020 10:00:00',
    '13/01/2020 10:00:00',
    '01/15/2020 24:00:00',
    '02/29/2021 10:00:00',
    '04/31/2020 10:00:00',
    '00/15/2020 10:00:00',
    '01/00/2020 10:00:00',
    '01/15/2020 10:60:00',
    '01/15/2020 10:00:60',
    '1/15/2020 10:00:00',
    '01/15/2020',
    '01/15/2020 10:00:00 ',
    ' 01/15/2020 10:00:00',
    '2020-01-15 10:00:00',
    '2020-01-15T10:00:00Z',
    '01/15/0000 10:00:00',
  ],
  AccountNumber: ['', ' 123', '123 ', '12a', '1'.repeat(20), '-123', '+123', '12.3', '１２３'],
  SSUserID: ['', 'Z'.repeat(31), 'user_1', 'user-1', 'user 1', ' user', 'user ', 'usér'],
};

const UNSUPPORTED_VERSIONS = ['1.0', '2', '2.00', '3.0', 'v2.0', ' 2.0', '2.0 '];

/** Where a successful DeLinkAccount records an envelope field on its operation. */
const RECORDED_AS: Partial<Record<Field, string>> = {
  Source: 'source',
  IPAddress: 'ipAddress',
  ExternalIP: 'externalIp',
  SessionID: 'sessionId',
  CallerID: 'callerId',
  CalledID: 'calledId',
  AccountNumber: 'accountNumber',
  SSUserID: 'consumerId',
};

/** A readable test-name label for a value (long strings abbreviated). */
function show(value: unknown): string {
  const json = JSON.stringify(value);
  return json.length > 32 ? `${json.slice(0, 14)}… (${String(value).length} chars)` : json;
}

const asCases = (table: Record<Field, string[]>) =>
  FIELDS.flatMap((field) => table[field].map((value) => ({ field, value, label: show(value) })));

function invalidFields(...errors: { Field: string; Message: unknown }[]) {
  return {
    Message: 'The request has invalid fields.',
    Status: false,
    ErrorCode: 'ERR01100',
    ResponseData: { Errors: errors },
  };
}

/** A human sentence about the field: it names the field and says more than a constraint key. */
const humanMessage = (field: string): unknown => expect.stringMatching(new RegExp(`^${field} \\S.{8,}$`));

/** No error body leaks internals, and every 4xx body is exactly the CoreCredit envelope. */
function expectCleanError(res: Res): void {
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(res.body as object).sort()).toEqual(['ErrorCode', 'Message', 'ResponseData', 'Status']);
  expect(res.body.Status).toBe(false);
  const text = res.text;
  expect(text).not.toContain('Error:');
  expect(text).not.toMatch(/\n\s+at |stack|node_modules|\.ts:\d+/i);
  expect(text).not.toMatch(/\b(SELECT|INSERT INTO|UPDATE \S+ SET|DELETE FROM|sqlite|mysql|mariadb|QueryFailed)\b/i);
}

describe('CoreCredit envelope validation', () => {
  let ctx: TestContext;
  /** The user every refused request aims at: a linked secondary account a wrongly accepted DeLinkAccount would delink. */
  let target: SeededUser;
  let token: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    target = await seedUser(ctx.database);
    token = await mintToken(target.issuerId, { expiresIn: '1h' });
  });
  afterAll(async () => {
    await ctx.close();
  });

  const baseEnvelope = (overrides: Record<string, unknown> = {}) =>
    buildEnvelope({ SSUserID: target.ssUserId, AccountNumber: target.otherAccounts[0], ...overrides });

  const post = (path: string, body: unknown) =>
    api(ctx.app)
      .post(path)
      .set('Authorization', `Bearer ${token}`)
      .send(body as object);

  const postRaw = (path: string, raw: string, contentType = 'application/json') =>
    api(ctx.app).post(path).set('Authorization', `Bearer ${token}`).set('Content-Type', contentType).send(raw);

  /** Sends a request that must be refused: the target issuer's data is the same after it, and the body is clean. */
  async function refused(send: () => PromiseLike<Res>): Promise<Res> {
    const before = await snapshot(ctx.dataSource, target.issuerId);
    const res = await send();
    expect(await snapshot(ctx.dataSource, target.issuerId)).toEqual(before);
    expectCleanError(res);
    return res;
  }

  /** Registers one more account for a user through the issuer API. */
  async function registerAccount(user: SeededUser, accountNumber: string): Promise<void> {
    const res = await api(ctx.app)
      .put(`/issuers/${user.issuerId}/accounts/${accountNumber}`)
      .set('Authorization', `Bearer ${await issuerToken(user.issuerId)}`)
      .send({ consumerId: user.ssUserId, state: 'ACTIVE' });
    expect(res.status).toBe(204);
  }

  /**
   * Sends a valid envelope with `overrides` for a new user and expects success: DeLinkAccount delinks the account and
   * records the envelope's fields verbatim; GetLinkAccounts lists the user's accounts.
   */
  async function expectAccepted(endpoint: Endpoint, overrides: Record<string, unknown>): Promise<void> {
    const ssUserId = typeof overrides.SSUserID === 'string' ? overrides.SSUserID : undefined;
    const user = await seedUser(ctx.database, { accounts: 2, ...(ssUserId !== undefined ? { ssUserId } : {}) });
    let account = user.otherAccounts[0]!;
    if (typeof overrides.AccountNumber === 'string') {
      account = overrides.AccountNumber;
      await registerAccount(user, account);
    }
    const userToken = await mintToken(user.issuerId);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: account, ...overrides });
    const res = await api(ctx.app).post(endpoint.path).set('Authorization', `Bearer ${userToken}`).send(body);

    expect(res.status).toBe(200);
    if (endpoint === GET_LINKS) {
      expect(res.body).toEqual({
        ...SUCCESS,
        ResponseData: {
          SSUserID: user.ssUserId,
          Accounts: expect.arrayContaining([
            expect.objectContaining({ AccountNumber: user.mainAccount, IsMainAccount: true }),
          ]),
        },
      });
      return;
    }
    expect(res.body).toEqual({ ...SUCCESS, ResponseData: {} });
    expect(await linkOf(ctx.dataSource, user.issuerId, account)).toMatchObject({ delinked: true });
    const operation = (await operationsOf(ctx.dataSource, user.issuerId)).at(-1) as unknown as Record<string, unknown>;
    expect(operation).toMatchObject({ operation: 'DELINK', status: 'SUCCESSFUL' });
    for (const [field, column] of Object.entries(RECORDED_AS)) {
      if (field in overrides) expect(operation[column]).toBe(overrides[field] ?? null);
    }
  }

  it('when the base envelope of these tests is sent to GetLinkAccounts, then it is valid (so each refusal below is due to its one change)', async () => {
    const res = await post(GET_LINKS_PATH, baseEnvelope());
    expect(res.status).toBe(200);
    expect(res.body.ResponseData.SSUserID).toBe(target.ssUserId);
  });

  describe.each(ENDPOINTS)('POST $path', (endpoint) => {
    const optional = FIELDS.filter((f) => !endpoint.mandatory.includes(f));

    describe('each field on its own', () => {
      it.each(asCases(VALID))('when $field is $label, then it is accepted', async ({ field, value }) => {
        await expectAccepted(endpoint, { [field]: value });
      });

      it.each(asCases(INVALID))(
        'when $field is $label, then 400 ERR01100 names only $field',
        async ({ field, value }) => {
          const res = await refused(() => post(endpoint.path, baseEnvelope({ [field]: value })));
          expect(res.status).toBe(400);
          expect(res.body).toEqual(invalidFields({ Field: field, Message: humanMessage(field) }));
        },
      );

      it.each(UNSUPPORTED_VERSIONS.map((value) => ({ value, label: show(value) })))(
        'when APIVersion is $label, then 400 with its own code ERR01102',
        async ({ value }) => {
          const res = await refused(() => post(endpoint.path, baseEnvelope({ APIVersion: value })));
          expect(res.status).toBe(400);
          expect(res.body).toEqual({
            Message: 'The APIVersion is not supported; use "2.0".',
            Status: false,
            ErrorCode: 'ERR01102',
            ResponseData: {},
          });
        },
      );

      it('when APIVersion is unsupported and other fields are invalid too, then the version alone is reported (ERR01102)', async () => {
        const res = await refused(() =>
          post(endpoint.path, baseEnvelope({ APIVersion: '1.0', Source: '', AccountNumber: '12a' })),
        );
        expect(res.status).toBe(400);
        expect(res.body.ErrorCode).toBe('ERR01102');
        expect(res.body.ResponseData).toEqual({});
      });
    });

    describe('presence', () => {
      it.each(optional)('when optional %s is absent, then it is accepted', async (field) => {
        await expectAccepted(endpoint, { [field]: undefined });
      });

      it.each(optional)('when optional %s is null, then it is accepted', async (field) => {
        await expectAccepted(endpoint, { [field]: null });
      });

      it('when every optional field is absent at once, then it is accepted', async () => {
        await expectAccepted(endpoint, Object.fromEntries(optional.map((f) => [f, undefined])));
      });

      it.each(
        endpoint.mandatory.flatMap((field) => [
          { field, how: 'absent', value: undefined },
          { field, how: 'null', value: null },
        ]),
      )('when mandatory $field is $how, then 400 ERR01100 says it is required', async ({ field, value }) => {
        const res = await refused(() => post(endpoint.path, baseEnvelope({ [field]: value })));
        expect(res.status).toBe(400);
        expect(res.body).toEqual(invalidFields({ Field: field, Message: `${field} is required and may not be null` }));
      });
    });

    describe('JSON types other than string', () => {
      const nonStrings = FIELDS.flatMap((field) => {
        const valid = VALID[field][0]!;
        const numeric = /^\d+(\.\d+)?$/.test(valid) ? Number(valid) : 1;
        return [
          { field, kind: 'a number', value: numeric },
          { field, kind: 'a boolean', value: true },
          { field, kind: 'an object', value: { value: valid } },
          { field, kind: 'an array', value: [valid] },
        ];
      });

      it.each(nonStrings)(
        'when $field is $kind, then 400 ERR01100 says it must be a string (no coercion)',
        async ({ field, value }) => {
          const res = await refused(() => post(endpoint.path, baseEnvelope({ [field]: value })));
          expect(res.status).toBe(400);
          expect(res.body).toEqual(invalidFields({ Field: field, Message: `${field} must be a string` }));
        },
      );

      it('when AccountNumber is the JSON number of an existing account, then it is refused, not converted', async () => {
        const res = await refused(() =>
          post(endpoint.path, baseEnvelope({ AccountNumber: Number(target.otherAccounts[0]) })),
        );
        expect(res.status).toBe(400);
        expect(res.body).toEqual(invalidFields({ Field: 'AccountNumber', Message: 'AccountNumber must be a string' }));
      });
    });

    describe('several invalid fields', () => {
      it('when all 14 fields are invalid, sent in reverse order, then every one is listed in contract order', async () => {
        const bad: Record<Field, unknown> = {
          Source: '',
          IPAddress: '::1',
          DateFormat: 'x'.repeat(26),
          CurrencyCode: 'x'.repeat(11),
          CurrencySymbolType: '\n',
          Language: 'x'.repeat(11),
          ExternalIP: 'nope',
          SessionID: 'sesión',
          APIVersion: 2,
          CallerID: '9'.repeat(21),
          CalledID: '\t',
          RequestTime: '02/30/2020 10:00:00',
          AccountNumber: 123,
          SSUserID: 'a_b',
        };
        const reversed = Object.fromEntries(Object.entries(bad).reverse());
        const res = await refused(() => post(endpoint.path, reversed));
        expect(res.status).toBe(400);
        expect(res.body).toEqual(
          invalidFields(...FIELDS.map((field) => ({ Field: field, Message: humanMessage(field) }))),
        );
      });

      it('when some fields are invalid and the rest valid, then exactly the invalid ones are listed, in contract order', async () => {
        const res = await refused(() =>
          post(
            endpoint.path,
            baseEnvelope({
              SSUserID: 'a b',
              Language: 'x'.repeat(11),
              Source: null,
              RequestTime: '13/01/2020 10:00:00',
            }),
          ),
        );
        expect(res.status).toBe(400);
        expect(res.body).toEqual(
          invalidFields(
            { Field: 'Source', Message: 'Source is required and may not be null' },
            { Field: 'Language', Message: humanMessage('Language') },
            { Field: 'RequestTime', Message: humanMessage('RequestTime') },
            { Field: 'SSUserID', Message: humanMessage('SSUserID') },
          ),
        );
      });

      it('when the body is an empty object, then every mandatory field is listed', async () => {
        const res = await refused(() => post(endpoint.path, {}));
        expect(res.status).toBe(400);
        expect(res.body).toEqual(
          invalidFields(
            ...endpoint.mandatory.map((field) => ({
              Field: field,
              Message: `${field} is required and may not be null`,
            })),
          ),
        );
      });
    });

    describe('field names', () => {
      it.each(['source', 'SOURCE', 'Source '])(
        'when Source is sent as %j, then it is an unknown field and Source is missing',
        async (name) => {
          const res = await refused(() =>
            post(endpoint.path, { ...baseEnvelope({ Source: undefined }), [name]: 'Web' }),
          );
          expect(res.status).toBe(400);
          expect(res.body).toEqual(
            invalidFields({ Field: 'Source', Message: 'Source is required and may not be null' }),
          );
        },
      );

      it('when the envelope exists only inside "__proto__", then it counts for nothing: every mandatory field is missing', async () => {
        const res = await refused(() => postRaw(endpoint.path, `{"__proto__": ${JSON.stringify(baseEnvelope())}}`));
        expect(res.status).toBe(400);
        expect(res.body).toEqual(
          invalidFields(
            ...endpoint.mandatory.map((field) => ({
              Field: field,
              Message: `${field} is required and may not be null`,
            })),
          ),
        );
        expect(({} as Record<string, unknown>).Source).toBeUndefined();
      });
    });

    describe('body not a JSON object', () => {
      const notObject = 'The request body must be a JSON object.';
      const notJson = 'The request body is not valid JSON.';
      it.each([
        { what: 'an array', raw: '[]', message: notObject },
        { what: 'an array holding a valid envelope', raw: JSON.stringify([buildEnvelope()]), message: notObject },
        { what: 'a string', raw: '"Source"', message: notObject },
        { what: 'a number', raw: '42', message: notObject },
        { what: 'null', raw: 'null', message: notObject },
        { what: 'true', raw: 'true', message: notObject },
        { what: 'malformed JSON', raw: '{"Source": "Web",', message: notJson },
        { what: 'single-quoted JSON', raw: "{'Source': 'Web'}", message: notJson },
        { what: 'only whitespace', raw: '   ', message: notJson },
        { what: 'empty', raw: '', message: notObject },
      ])('when the body is $what, then 400 ERR01101 in the envelope', async ({ raw, message }) => {
        const res = await refused(() => postRaw(endpoint.path, raw));
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ Message: message, Status: false, ErrorCode: 'ERR01101', ResponseData: {} });
      });

      it('when there is no body at all, then 400 ERR01101', async () => {
        const res = await refused(() => api(ctx.app).post(endpoint.path).set('Authorization', `Bearer ${token}`));
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ Message: notObject, Status: false, ErrorCode: 'ERR01101', ResponseData: {} });
      });
    });

    describe('content type and size', () => {
      const unsupported = {
        Message: 'The request body must be application/json in UTF-8.',
        Status: false,
        ErrorCode: 'ERR01151',
        ResponseData: {},
      };

      it.each([
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/xml',
        'application/json; charset=latin1',
        'application/json; charset=iso-8859-1',
      ])('when the content type is %s, then 415 ERR01151', async (contentType) => {
        const res = await refused(() => postRaw(endpoint.path, JSON.stringify(baseEnvelope()), contentType));
        expect(res.status).toBe(415);
        expect(res.body).toEqual(unsupported);
      });

      it('when a form is posted, then 415 ERR01151', async () => {
        const res = await refused(() =>
          api(ctx.app).post(endpoint.path).set('Authorization', `Bearer ${token}`).type('form').send(baseEnvelope()),
        );
        expect(res.status).toBe(415);
        expect(res.body).toEqual(unsupported);
      });

      it('when a JSON body is sent without any content type, then 415 ERR01151', async () => {
        const res = await refused(() =>
          api(ctx.app)
            .post(endpoint.path)
            .set('Authorization', `Bearer ${token}`)
            .send(Buffer.from(JSON.stringify(baseEnvelope()))),
        );
        expect(res.status).toBe(415);
        expect(res.body).toEqual(unsupported);
      });

      it('when the JSON body is over 16 kB, then 413 ERR01150', async () => {
        const raw = JSON.stringify(baseEnvelope({ Padding: 'x'.repeat(16 * 1024) }));
        const res = await refused(() => postRaw(endpoint.path, raw));
        expect(res.status).toBe(413);
        expect(res.body).toEqual({
          Message: 'The request body is larger than 16kb.',
          Status: false,
          ErrorCode: 'ERR01150',
          ResponseData: {},
        });
      });
    });

    describe('methods', () => {
      it.each(['get', 'put', 'delete', 'patch'] as const)(
        'when the method is %s, then 405 ERR01135 with Allow: POST',
        async (method) => {
          const res = await refused(() =>
            api(ctx.app)[method](endpoint.path).set('Authorization', `Bearer ${token}`).send(baseEnvelope()),
          );
          expect(res.status).toBe(405);
          expect(res.headers.allow).toBe('POST');
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

  describe('what is accepted around the envelope (DeLinkAccount)', () => {
    it('when a valid envelope carries unknown fields, then it succeeds and none of them reaches the database', async () => {
      const user = await seedUser(ctx.database, { accounts: 2 });
      const account = user.otherAccounts[0]!;
      const extras = {
        Extra: 'marker-extra',
        reason: 'marker-reason',
        requestorId: 'marker-requestor',
        issuerId: target.issuerId,
        isMain: true,
        state: 'DELETED',
        Status: false,
        hasOwnProperty: 'marker-own',
        toString: 'marker-tostring',
        valueOf: 'marker-valueof',
      };
      const targetBefore = await snapshot(ctx.dataSource, target.issuerId);
      const res = await api(ctx.app)
        .post(DELINK_PATH)
        .set('Authorization', `Bearer ${await mintToken(user.issuerId)}`)
        .send({ ...buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: account }), ...extras });

      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ...SUCCESS, ResponseData: {} });
      expect(await linkOf(ctx.dataSource, user.issuerId, account)).toMatchObject({
        delinked: true,
        state: 'ACTIVE',
        isMain: false,
      });
      const operation = (await operationsOf(ctx.dataSource, user.issuerId)).at(-1)!;
      expect(operation).toMatchObject({
        operation: 'DELINK',
        status: 'SUCCESSFUL',
        issuerId: user.issuerId,
        requestorId: 'portal-backend',
        reason: null,
      });
      expect(JSON.stringify(operation)).not.toMatch(/marker-/);
      expect(await snapshot(ctx.dataSource, target.issuerId)).toEqual(targetBefore);
    });

    it.each([
      { key: '__proto__', raw: '"__proto__": {"polluted": "yes", "Source": "Injected", "ExternalIP": "10.9.9.9"}' },
      { key: 'constructor', raw: '"constructor": {"prototype": {"polluted": "yes"}}' },
      { key: 'prototype', raw: '"prototype": {"polluted": "yes"}' },
      {
        key: 'nested __proto__',
        raw: '"Extra": {"__proto__": {"polluted": "yes"}}, "constructor": {"polluted": "yes"}',
      },
    ])('when the body has a $key key, then it changes nothing and Object.prototype stays clean', async ({ raw }) => {
      const user = await seedUser(ctx.database, { accounts: 2 });
      const account = user.otherAccounts[0]!;
      const envelope = JSON.stringify(buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: account }));
      const res = await api(ctx.app)
        .post(DELINK_PATH)
        .set('Authorization', `Bearer ${await mintToken(user.issuerId)}`)
        .set('Content-Type', 'application/json')
        .send(`${envelope.slice(0, -1)}, ${raw}}`);

      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ...SUCCESS, ResponseData: {} });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
      expect(Object.prototype).not.toHaveProperty('Source');
      expect((await operationsOf(ctx.dataSource, user.issuerId)).at(-1)).toMatchObject({
        operation: 'DELINK',
        source: 'Web',
        externalIp: '10.120.0.0',
      });
      expect(await linkOf(ctx.dataSource, user.issuerId, account)).toMatchObject({ delinked: true });
    });

    it('when the content type is application/json; charset=utf-8, then it is accepted', async () => {
      const user = await seedUser(ctx.database, { accounts: 2 });
      const res = await api(ctx.app)
        .post(DELINK_PATH)
        .set('Authorization', `Bearer ${await mintToken(user.issuerId)}`)
        .set('Content-Type', 'application/json; charset=utf-8')
        .send(JSON.stringify(buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] })));
      expect(res.status).toBe(200);
    });

    it('when the body is exactly 16 kB, then it is accepted; one byte more is 413', async () => {
      const user = await seedUser(ctx.database, { accounts: 2 });
      const userToken = await mintToken(user.issuerId);
      const sized = (bytes: number): string => {
        const base = JSON.stringify(
          buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0], Padding: '' }),
        );
        return JSON.stringify(
          buildEnvelope({
            SSUserID: user.ssUserId,
            AccountNumber: user.otherAccounts[0],
            Padding: 'x'.repeat(bytes - Buffer.byteLength(base)),
          }),
        );
      };
      const send = (raw: string) =>
        api(ctx.app)
          .post(DELINK_PATH)
          .set('Authorization', `Bearer ${userToken}`)
          .set('Content-Type', 'application/json')
          .send(raw);

      const before = await snapshot(ctx.dataSource, user.issuerId);
      const tooBig = await send(sized(16 * 1024 + 1));
      expect(tooBig.status).toBe(413);
      expect(tooBig.body.ErrorCode).toBe('ERR01150');
      expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);

      const atLimit = await send(sized(16 * 1024));
      expect(atLimit.status).toBe(200);
      expect(await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({ delinked: true });
    });
  });

  describe('GetLinkAccounts: AccountNumber is optional but checked when given', () => {
    it("when AccountNumber is absent, then the user's accounts are listed", async () => {
      const res = await post(GET_LINKS_PATH, baseEnvelope({ AccountNumber: undefined }));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        ...SUCCESS,
        ResponseData: { SSUserID: target.ssUserId, Accounts: expect.any(Array) },
      });
      expect((res.body.ResponseData.Accounts as { AccountNumber: string }[]).map((a) => a.AccountNumber)).toEqual([
        target.mainAccount,
        ...target.otherAccounts,
      ]);
    });

    it('when AccountNumber is a valid number of no account, then it is still accepted (it filters nothing)', async () => {
      const res = await post(GET_LINKS_PATH, baseEnvelope({ AccountNumber: '1' }));
      expect(res.status).toBe(200);
      expect(res.body.ResponseData.Accounts).toHaveLength(1 + target.otherAccounts.length);
    });

    it.each([' 123', '123 ', '12a', '1'.repeat(20), ''])(
      'when AccountNumber is %j, then 400 ERR01100 names AccountNumber',
      async (value) => {
        const res = await refused(() => post(GET_LINKS_PATH, baseEnvelope({ AccountNumber: value })));
        expect(res.status).toBe(400);
        expect(res.body).toEqual(
          invalidFields({ Field: 'AccountNumber', Message: 'AccountNumber must be 1 to 19 digits' }),
        );
      },
    );
  });

  describe('unknown routes', () => {
    it.each([
      ['post', '/api/CoreCredit/UserManagement/DeLinkAccounts'],
      ['post', '/api/CoreCredit/UserManagement/LinkAccount'],
      ['post', '/api/CoreCredit/DeLinkAccount'],
      ['get', '/api/CoreCredit'],
      ['delete', '/api/CoreCredit/UserManagement/GetLinkAccounts/123'],
    ] as const)('when %s %s is requested, then 404 ERR01134 in the CoreCredit envelope', async (method, path) => {
      const res = await refused(() =>
        api(ctx.app)[method](path).set('Authorization', `Bearer ${token}`).send(baseEnvelope()),
      );
      expect(res.status).toBe(404);
      expect(res.body).toEqual({
        Message: 'No such endpoint.',
        Status: false,
        ErrorCode: 'ERR01134',
        ResponseData: {},
      });
    });
  });

  it('when all the refusals above have run, then the target link is still linked and no operation was recorded for it', async () => {
    expect(await linkOf(ctx.dataSource, target.issuerId, target.otherAccounts[0]!)).toMatchObject({
      delinked: false,
      isMain: false,
    });
    const operations = await operationsOf(ctx.dataSource, target.issuerId);
    expect(operations.every((op) => op.operation === 'REGISTER')).toBe(true);
  });
});
