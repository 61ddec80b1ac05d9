// Fuzzing the request bodies of every body endpoint of both faces: any JSON value, any text, or nothing.
// The contract, oracles, generators and harness are test/helpers/fuzz.ts's; FUZZ_SEED and FUZZ_RUNS as described there.
import fc from 'fast-check';
import { DELINK_PATH, GET_LINKS_PATH, LINK_PATH } from '../../src/corecredit/routes';
import {
  buildEnvelope,
  issuerToken,
  mintToken,
  randomDigits,
  seedUser,
  snapshot,
  type TestContext,
} from '../helpers/context';
import {
  BODY_LIMIT_BYTES,
  bytes,
  check,
  CODE,
  deepNesting,
  DELINK,
  expectEnvelope,
  expectIssuerErrorBody,
  expectNoPollution,
  FIELDS,
  fuzzHarness,
  GET_LINKS,
  LINK,
  hugeText,
  isPlainObject,
  issuerFields,
  listedFields,
  newUserId,
  parseAsServer,
  PROPERTY_TIMEOUT_MS,
  PROTO_PAYLOADS,
  REASON_PATTERN,
  same,
  shown,
  tracked,
} from '../helpers/fuzz';

describe('fuzzing request bodies, on every body endpoint (fast-check)', () => {
  const fuzz = fuzzHarness();
  const { send } = fuzz;
  let ctx: TestContext;
  beforeAll(() => {
    ctx = fuzz.ctx;
  });

  it(
    'when any JSON value, any text or nothing is the body of any of the four body endpoints, then the outcome is exactly what the value decides, and nothing changes unless a valid request was recorded',
    async () => {
      const user = await seedUser(ctx.database, { ssUserId: newUserId(), accounts: 3 });
      const db = await tracked(() => snapshot(ctx.dataSource, user.issuerId));
      const channelToken = await mintToken(user.issuerId, { expiresIn: '1h' });
      const issuer = await issuerToken(user.issuerId, { expiresIn: '1h' });
      const victim = user.otherAccounts[0]!;
      const missing = randomDigits(17);
      const envelopeText = JSON.stringify(buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: victim }));

      type Target = 'DeLinkAccount' | 'LinkMultipleAccounts' | 'GetLinkAccounts' | 'register' | 'delete';
      const targets: Record<Target, { method: string; path: string; token: string }> = {
        DeLinkAccount: { method: 'POST', path: DELINK_PATH, token: channelToken },
        LinkMultipleAccounts: { method: 'POST', path: LINK_PATH, token: channelToken },
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
          fc.constantFrom<Target>('DeLinkAccount', 'LinkMultipleAccounts', 'GetLinkAccounts', 'register', 'delete'),
          anyBody,
          async (target, raw) => {
            const { method, path, token } = targets[target];
            const corecredit = target !== 'register' && target !== 'delete';
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
                const mandatory = { DeLinkAccount: DELINK, LinkMultipleAccounts: LINK, GetLinkAccounts: GET_LINKS }[
                  target
                ].mandatory;
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
            const code = corecredit ? expectEnvelope(res).ErrorCode : expectIssuerErrorBody(res).errorCode;
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

  describe('counterexamples found by fuzzing', () => {
    it.each(['gzip', 'deflate', 'br'])(
      'when the body claims Content-Encoding %s but is not compressed, then 400 ERR01101, not a 500',
      async (encoding) => {
        const user = await seedUser(ctx.database, { accounts: 2 });
        const before = await snapshot(ctx.dataSource, user.issuerId);
        const envelope = JSON.stringify(
          buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] }),
        );
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
  });
});
