// Fuzzing the issuer account API: register and delete bodies, path segments and the operations query string.
// The contract, oracles, generators and harness are test/helpers/fuzz.ts's; FUZZ_SEED and FUZZ_RUNS as described there.
import { parse as parseQueryString } from 'node:querystring';
import fc from 'fast-check';
import { issuerToken, randomIssuerId, seedUser, snapshot, type TestContext } from '../helpers/context';
import {
  ABSENT,
  ACCOUNT_PATTERN,
  anyCase,
  BODY_LIMIT_BYTES,
  bytes,
  CODE,
  CONSUMER_PATTERN,
  expectCorrelationHeader,
  expectIssuerErrorBody,
  expectNoPollution,
  extras,
  fieldChoices,
  fieldSpec,
  fuzzHarness,
  ISSUER_ID_PATTERN,
  issuerFields,
  newUserId,
  otherConsumer,
  PROPERTY_TIMEOUT_MS,
  rawObject,
  REASON_PATTERN,
  same,
  sameUser,
  tracked,
  unregisteredAccount,
  UUID_PATTERN,
  type Value,
} from '../helpers/fuzz';

/** Whether the snapshot's accounts ([number, state, product], oldest first) hold a live account with this number. */
const liveIn = (accounts: unknown[][], accountNumber: string): boolean =>
  accounts.some((a) => a[0] === accountNumber && a[1] !== 'DELETED');

describe('fuzzing the issuer account API: bodies, paths and query strings (fast-check)', () => {
  const fuzz = fuzzHarness();
  const { send, nextCorrelationId, operationOf, linkStates } = fuzz;
  let ctx: TestContext;
  beforeAll(() => {
    ctx = fuzz.ctx;
  });

  it(
    'when the register body (PUT) holds random valid or invalid fields, unknown and prototype keys, then exactly the invalid fields are listed and nothing changes, or, all valid, the account is updated or refused as the contract says',
    async () => {
      const user = await seedUser(ctx.database, { ssUserId: newUserId(), accounts: 3 });
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
            const error = expectIssuerErrorBody(res);
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
              { status: res.status, code: expectIssuerErrorBody(res).errorCode },
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
      const user = await seedUser(ctx.database, { ssUserId: newUserId(), accounts: 3 });
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
            const error = expectIssuerErrorBody(res);
            if (tooLarge)
              same({ status: res.status, code: error.errorCode }, { status: 413, code: CODE.PAYLOAD_TOO_LARGE });
            else {
              same({ status: res.status, code: error.errorCode }, { status: 400, code: CODE.VALIDATION_FAILED });
              same(issuerFields(res), invalid);
            }
            same(after, before);
          } else if (!registered) {
            same(
              { status: res.status, code: expectIssuerErrorBody(res).errorCode },
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

  it(
    'when the issuer API paths carry arbitrary segments (unicode, percent-encoded, undecodable, dots, empty), then each is routed, refused or served as the decoded values decide, and nothing changes on a refusal',
    async () => {
      const user = await seedUser(ctx.database, { ssUserId: newUserId(), accounts: 3 });
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
              { status: res.status, code: expectIssuerErrorBody(res).errorCode },
              { status: 404, code: CODE.ROUTE_NOT_FOUND },
            );
            same(after, before);
          } else if (decodedIssuer === undefined || decodedSecond === undefined) {
            same(
              { status: res.status, code: expectIssuerErrorBody(res).errorCode },
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
                { status: res.status, code: expectIssuerErrorBody(res).errorCode },
                { status: 400, code: CODE.VALIDATION_FAILED },
              );
              same(issuerFields(res), invalid);
              same(after, before);
            } else if (decodedIssuer !== user.issuerId) {
              same(
                { status: res.status, code: expectIssuerErrorBody(res).errorCode },
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
              // A live account is updated in place; a DELETED one's number is registered as a new account.
              const existed = liveIn(before.accounts as unknown[][], decodedSecond);
              same((after.accounts as unknown[][]).length, (before.accounts as unknown[][]).length + (existed ? 0 : 1));
              same(after.operations, (before.operations as number) + 1);
            } else if (route === 'register') {
              same(res.status, 204);
              const accounts = liveIn(before.accounts as unknown[][], victim)
                ? (before.accounts as unknown[][]).map((a) =>
                    a[0] === victim && a[1] !== 'DELETED' ? [victim, 'ACTIVE', null] : a,
                  )
                : [...(before.accounts as unknown[][]), [victim, 'ACTIVE', null]];
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
                { status: res.status, code: expectIssuerErrorBody(res).errorCode },
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
    'when the operations list gets an arbitrary query string, then offset and count are judged exactly as Express parsed them, any other parameter is refused by name, the page is the right slice, and nothing changes',
    async () => {
      const user = await seedUser(ctx.database, { ssUserId: newUserId(), accounts: 3 });
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
          // Every other parameter is refused, named (a long name cut at 64 characters), after the known fields.
          const unknown = Object.keys(parsed)
            .filter((name) => name !== 'offset' && name !== 'count')
            .map((name) => (name.length > 64 ? `${name.slice(0, 64)}…` : name));

          const before = db.current;
          const res = await send('GET', rawQuery === '' ? path : `${path}?${rawQuery}`, {
            Authorization: `Bearer ${token}`,
          });
          if (offset.valid && count.valid && unknown.length === 0) {
            same(res.status, 200);
            expectCorrelationHeader(res);
            const page = res.body as { operations: unknown[]; total: number };
            same(Object.keys(page).sort(), ['operations', 'total']);
            same(page.total, total);
            same(page.operations.length, Math.min(count.value ?? 10, Math.max(0, total - (offset.value ?? 0))));
          } else {
            same(
              { status: res.status, code: expectIssuerErrorBody(res).errorCode },
              { status: 400, code: CODE.VALIDATION_FAILED },
            );
            same(issuerFields(res), [
              ...(offset.valid ? [] : ['offset']),
              ...(count.valid ? [] : ['count']),
              ...unknown,
            ]);
          }
          same(await db.refresh(), before);
          expectNoPollution();
        }),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  describe('counterexamples found by fuzzing', () => {
    it('when an issuer path segment is not decodable percent-encoding (/accounts/%E0%A4%A), then 400 ERR01100 names the path, not a 500', async () => {
      const user = await seedUser(ctx.database, { accounts: 1 });
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

    it("when the issuer API is called as /ISSUERS/… (Express routes it, case-insensitively), then its errors are in the issuer API's shape", async () => {
      const user = await seedUser(ctx.database, { accounts: 1 });
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
  });
});
