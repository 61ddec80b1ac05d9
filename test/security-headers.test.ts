// Security headers on every response: helmet's set, a deny-all Content-Security-Policy for the API, and the docs
// page's own narrower policy, which allows this origin's scripts and styles and nothing inline.
import { api, type Test } from './helpers/api';
import { DELINK_PATH } from '../src/corecredit/routes';
import { DOCS_PATH, OPENAPI_PATH } from '../src/openapi/document';
import { buildEnvelope, createTestContext, type TestContext } from './helpers/context';

/** A policy as directive name → sources. */
function policyOf(header: unknown): Record<string, string[]> {
  expect(typeof header).toBe('string');
  return Object.fromEntries(
    (header as string)
      .split(';')
      .map((directive) => directive.trim().split(/\s+/))
      .filter((parts) => parts[0] !== '')
      .map(([name, ...sources]) => [name as string, sources]),
  );
}

describe('security headers', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  const answers: [string, () => Test][] = [
    ['a 401 of DeLinkAccount', () => api(ctx.app).post(DELINK_PATH).send(buildEnvelope())],
    ['the liveness probe', () => api(ctx.app).get('/health/live')],
    ['an unknown route', () => api(ctx.app).get('/no/such/route')],
    ['the OpenAPI document', () => api(ctx.app).get(OPENAPI_PATH)],
  ];

  it.each(answers)(
    'when %s is answered, then it carries the API policy and helmet’s headers, and no X-Powered-By',
    async (_name, send) => {
      const res = await send();
      expect(policyOf(res.headers['content-security-policy'])).toEqual({
        'default-src': ["'none'"],
        'base-uri': ["'none'"],
        'form-action': ["'none'"],
        'frame-ancestors': ["'none'"],
      });
      expect(res.headers).toEqual(
        expect.objectContaining({
          'x-content-type-options': 'nosniff',
          'x-frame-options': 'DENY',
          'strict-transport-security': expect.stringMatching(/^max-age=\d+; includeSubDomains$/),
          'referrer-policy': 'no-referrer',
          'cross-origin-resource-policy': 'same-origin',
          'cross-origin-opener-policy': 'same-origin',
        }),
      );
      expect(res.headers['x-powered-by']).toBeUndefined();
    },
  );

  it(`when ${DOCS_PATH} is answered, then its policy allows scripts and styles of this origin only, nothing inline, and no framing`, async () => {
    const res = await api(ctx.app).get(DOCS_PATH).expect(200);
    const policy = policyOf(res.headers['content-security-policy']);
    expect(policy).toEqual(
      expect.objectContaining({
        'default-src': ["'none'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'connect-src': ["'self'"],
        'frame-ancestors': ["'none'"],
      }),
    );
    expect(
      Object.values(policy)
        .flat()
        .filter((source) => /unsafe|\*|https?:/.test(source)),
    ).toEqual([]);
    expect(res.headers['x-powered-by']).toBeUndefined();
  });
});
