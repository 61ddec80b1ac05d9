// Fuzzing the CoreCredit envelope of DeLinkAccount, LinkMultipleAccounts and GetLinkAccounts: every field valid, broken
// or wild.
// The contract, oracles, generators and harness are test/helpers/fuzz.ts's; FUZZ_SEED and FUZZ_RUNS as described there.
import fc from 'fast-check';
import { DELINK_PATH, GET_LINKS_PATH } from '../../src/corecredit/routes';
import { buildEnvelope, mintToken, seedUser, snapshot, type TestContext } from '../helpers/context';
import {
  ABSENT,
  ACCOUNT_PATTERN,
  anyCase,
  BODY_LIMIT_BYTES,
  brokenString,
  bytes,
  check,
  CODE,
  CORECREDIT_ENDPOINTS,
  DELINK,
  envelopeSpecs,
  expectEnvelope,
  expectNoPollution,
  extras,
  type Field,
  fieldChoices,
  FIELDS,
  fuzzHarness,
  GET_LINKS,
  hugeText,
  LINK,
  listedFields,
  newUserId,
  NULL,
  ODD_CHARS,
  PRINTABLE_FIELDS,
  UNPRINTABLE_CHARS,
  otherConsumer,
  PROPERTY_TIMEOUT_MS,
  rawObject,
  same,
  sameUser,
  shown,
  STATUS_OF_CODE,
  str,
  tracked,
  unregisteredAccount,
  type Value,
  wildValue,
  wrongType,
} from '../helpers/fuzz';

describe('fuzzing POST /api/CoreCredit/UserManagement/DeLinkAccount, LinkMultipleAccounts and GetLinkAccounts: the envelope (fast-check)', () => {
  const fuzz = fuzzHarness();
  const { send, nextCorrelationId, operationOf } = fuzz;
  let ctx: TestContext;
  beforeAll(() => {
    ctx = fuzz.ctx;
  });

  it(
    'when envelope fields hold arbitrary values (wrong types, huge, unicode, control characters, deep nesting, prototype keys) and a mandatory one is broken, then 400 (or 413) names it, never a field left valid, and nothing changes',
    async () => {
      const user = await seedUser(ctx.database, { ssUserId: newUserId(), accounts: 3 });
      const db = await tracked(() => snapshot(ctx.dataSource, user.issuerId));
      const token = await mintToken(user.issuerId, { expiresIn: '1h' });
      // A wrongly accepted DeLinkAccount would delink this account, a wrongly accepted LinkMultipleAccounts would record
      // its refusal: the snapshot would show either.
      const base = Object.fromEntries(
        Object.entries(buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] })).map(
          ([field, value]) => [field, typeof value === 'string' ? str(value) : NULL],
        ),
      ) as Record<Field, Value>;
      // Invalid whatever the field: absent, null, not a string, a forbidden character, past every length limit.
      const brokenValue = (field: Field): fc.Arbitrary<Value> => {
        // Printable text takes any script: only control and format characters break it.
        const forbidden = PRINTABLE_FIELDS.has(field) ? UNPRINTABLE_CHARS : ODD_CHARS;
        return fc.oneof(
          fc.constant(ABSENT),
          fc.constant(NULL),
          wrongType,
          brokenString(fc.constant(base[field].text!), { forbidden }),
          fc.string({ unit: fc.constantFrom(...forbidden), minLength: 1, maxLength: 20 }).map(str),
          hugeText.map(str),
        );
      };
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
      const user = await seedUser(ctx.database, { ssUserId: newUserId(), accounts: 3 });
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
        // Never a delinked account: a valid LinkMultipleAccounts meets a linked account (409) or one not theirs (404).
        LinkMultipleAccounts: envelopeSpecs(
          LINK,
          fc.oneof(fc.constantFrom(user.mainAccount, ...user.otherAccounts), unregisteredAccount(user)),
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
                    (linkedOnPattern[text('DateFormat') ?? '1'] ?? linkedOnPattern['1']!).test(account.LinkedOn),
                    () => `LinkedOn in the wrong format: ${shown(res)}`,
                  );
              }
            } else {
              const account = text('AccountNumber')!;
              const theirs = account === user.mainAccount || user.otherAccounts.includes(account);
              const code = !owner
                ? CODE.USER_NOT_FOUND
                : endpoint === LINK
                  ? theirs
                    ? CODE.ACCOUNT_ALREADY_LINKED
                    : CODE.ACCOUNT_NOT_LINKABLE
                  : account === user.mainAccount
                    ? CODE.MAIN_ACCOUNT
                    : CODE.ACCOUNT_NOT_LINKED;
              same(outcome, { status: STATUS_OF_CODE.get(code), code });
              // The refusal is recorded, with the envelope's channel fields verbatim, and nothing else changes.
              same(after, { ...before, operations: (before.operations as number) + 1 });
              expect(await operationOf(correlationId)).toMatchObject({
                operation: endpoint === LINK ? 'LINK' : 'DELINK',
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

  describe('counterexamples found by fuzzing', () => {
    it('when an envelope field is 8,000 nested arrays, then 400 says it must be a string, not a 500 (stack overflow)', async () => {
      const user = await seedUser(ctx.database, { accounts: 2 });
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

    it.each(['12/31/0099 23:59:59', '01/01/0001 00:00:00', '02/29/0004 12:00:00'])(
      'when RequestTime is %s (a year before 100), then it is a real date and accepted',
      async (requestTime) => {
        const user = await seedUser(ctx.database, { accounts: 1 });
        const envelope = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: undefined, RequestTime: requestTime });
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
  });
});
