// Fuzzing the headers every request passes: x-correlation-id, Authorization, Content-Type and Idempotency-Key, each
// refusal checked in the order the service makes them.
// The contract, oracles, generators and harness are test/helpers/fuzz.ts's; FUZZ_SEED and FUZZ_RUNS as described there.
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { DELINK_PATH, GET_LINKS_PATH, LINK_PATH } from '../../src/corecredit/routes';
import { buildEnvelope, mintToken, seedUser, snapshot, TEST_SECRET, type TestContext } from '../helpers/context';
import {
  anyCase,
  asReceived,
  base64url,
  check,
  CODE,
  CONSUMER_PATTERN,
  CORRELATION_PATTERN,
  expectCorrelationHeader,
  expectEnvelope,
  expectIssuerErrorBody,
  expectNoPollution,
  fuzzHarness,
  headerText,
  IDEMPOTENCY_KEY_PATTERN,
  ISSUER_ID_PATTERN,
  issuerFields,
  listedFields,
  newUserId,
  otherConsumer,
  PROPERTY_TIMEOUT_MS,
  same,
  sameUser,
  shown,
  STATUS_OF_CODE,
  TOKEN_CODES,
  tracked,
  UUID_PATTERN,
} from '../helpers/fuzz';

describe('fuzzing request headers: correlation id, token, content type, idempotency key (fast-check)', () => {
  const fuzz = fuzzHarness();
  const { send, operationOf } = fuzz;
  let ctx: TestContext;
  beforeAll(() => {
    ctx = fuzz.ctx;
  });

  it(
    'when Content-Type, Authorization (garbage, random segments, tokens with random claims), x-correlation-id and Idempotency-Key are arbitrary, then each refusal comes from the right check in the right order, a replay replays, and nothing changes unless the request was let through',
    async () => {
      const user = await seedUser(ctx.database, { ssUserId: newUserId(), accounts: 3 });
      const db = await tracked(() => snapshot(ctx.dataSource, user.issuerId));
      const victim = user.otherAccounts[0]!;
      const now = (): number => Math.floor(Date.now() / 1000);

      type Endpoint = 'DeLinkAccount' | 'LinkMultipleAccounts' | 'GetLinkAccounts' | 'register';
      const scopeOf: Record<Endpoint, string> = {
        DeLinkAccount: 'selfservice:delink',
        LinkMultipleAccounts: 'selfservice:link',
        GetLinkAccounts: 'selfservice:read',
        register: 'issuer:write',
      };
      const ALL_SCOPES = ['selfservice:delink', 'selfservice:link', 'selfservice:read', 'issuer:write', 'issuer:read'];

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
        fc.constant(''),
        headerText(80),
      );
      const idempotencyKey = fc.oneof(
        { weight: 3, arbitrary: fc.constant<string | undefined>(undefined) },
        { weight: 2, arbitrary: fc.stringMatching(/^[\x21-\x7E][\x20-\x7E]{0,40}[\x21-\x7E]$/) },
        fc.constantFrom('fuzz-key-1', 'fuzz-key-2', 'x'.repeat(255), 'x'.repeat(256)),
        headerText(300),
      );
      const arbitrary = fc.record({
        endpoint: fc.constantFrom<Endpoint>('DeLinkAccount', 'LinkMultipleAccounts', 'GetLinkAccounts', 'register'),
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
                : buildEnvelope({
                    Source: 'IVR',
                    ExternalIP: '203.0.113.7',
                    SSUserID: ssUserIdCase,
                    AccountNumber: user.mainAccount,
                    CallerID: '+17204454214',
                  });
            const raw = JSON.stringify(body);
            const method = endpoint === 'register' ? 'PUT' : 'POST';
            const path =
              endpoint === 'register'
                ? `/issuers/${user.issuerId}/accounts/${victim}`
                : { DeLinkAccount: DELINK_PATH, LinkMultipleAccounts: LINK_PATH, GetLinkAccounts: GET_LINKS_PATH }[
                    endpoint
                  ];
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
                      code: issuerFace ? expectIssuerErrorBody(res).errorCode : expectEnvelope(res).ErrorCode,
                    };
              const unchanged = (): void => same(after, before);

              // 1. The correlation id, checked before routing; an empty one is an absent one.
              const given = correlationId === undefined ? undefined : asReceived(correlationId);
              const receivedCorrelation = given === '' ? undefined : given;
              if (receivedCorrelation !== undefined && !CORRELATION_PATTERN.test(receivedCorrelation)) {
                same(outcome(), { status: 400, code: CODE.VALIDATION_FAILED });
                same(issuerFace ? issuerFields(res) : listedFields(res), ['x-correlation-id']);
                check(UUID_PATTERN.test(echoed), () => `not a generated correlation id: ${echoed}`);
                return unchanged();
              }
              if (receivedCorrelation !== undefined) same(echoed, receivedCorrelation);
              else check(UUID_PATTERN.test(echoed), () => `not a generated correlation id: ${echoed}`);

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

              // 4. The issuer API checks the caller against the path with the request's input, before the key: a
              // user-bound token or another issuer's is refused then, and (not having executed) stores nothing.
              const boundElsewhere = principal.ssUserId !== undefined && !sameUser(principal.ssUserId, ssUserIdCase);
              const ownIssuer = principal.issuerId === user.issuerId;
              const executes = endpoint !== 'register' || (principal.ssUserId === undefined && ownIssuer);
              if (!executes) {
                const code = principal.ssUserId !== undefined ? CODE.SCOPE_MISSING : CODE.ISSUER_NOT_ALLOWED;
                same(outcome(), { status: 403, code });
                return unchanged();
              }

              // 5. The idempotency key (DeLinkAccount, LinkMultipleAccounts and register only).
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
              if (idempotent && executes)
                stored.set(storeKey, { request: `${method} ${path} ${raw}`, status: res.status, text: res.text });

              // 6. The request itself: valid, so the outcome is the domain's.
              // A register that got here executes (step 4 judged the caller): its own issuer, no bound user.
              if (endpoint === 'register') {
                same(outcome(), { status: 204, code: '' });
                return same(after, { ...before, operations: (before.operations as number) + 1 });
              }
              if (endpoint === 'GetLinkAccounts') {
                if (boundElsewhere) same(outcome(), { status: 403, code: CODE.USER_NOT_ALLOWED });
                else if (!ownIssuer) same(outcome(), { status: 404, code: CODE.USER_NOT_FOUND });
                else same(outcome(), { status: 200, code: CODE.SUCCESS });
                return unchanged();
              }
              // DeLinkAccount or LinkMultipleAccounts of the main account: refused, and recorded in the token's issuer.
              const code = boundElsewhere
                ? CODE.USER_NOT_ALLOWED
                : !ownIssuer
                  ? CODE.USER_NOT_FOUND
                  : endpoint === 'LinkMultipleAccounts'
                    ? CODE.ACCOUNT_ALREADY_LINKED
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

  describe('counterexamples found by fuzzing', () => {
    it('when a valid token has a sub of 256 characters, then 401 ERR01114 and nothing is recorded (MariaDB refused the operation row: a 500)', async () => {
      const user = await seedUser(ctx.database, { accounts: 2 });
      const before = await snapshot(ctx.dataSource, user.issuerId);
      const envelope = JSON.stringify(buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.mainAccount }));
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
      expect((await operationOf('sub-255'))?.requestorId).toBe('é'.repeat(255));
    });
  });
});
