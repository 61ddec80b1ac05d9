// The OpenAPI document: sound OpenAPI 3.1, every ErrorCode and every route of the app, served without a token, and the
// response check that every suite runs through (api() of test/helpers/api.ts) really fails on drift.
import { printable } from '../src/corecredit/dto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { IsDefined, IsEmail, IsOptional, IsString, Matches, ValidateBy } from 'class-validator';
import express, { type Express } from 'express';
import { api } from './helpers/api';
import { DELINK_PATH } from '../src/corecredit/routes';
import { ERRORS } from '../src/errors';
import {
  DOCS_ASSETS,
  DOCS_INIT_SCRIPT,
  DOCS_PATH,
  OPENAPI_PATH,
  openApiDocument,
  openApiPath,
  type OpenApiDocument,
} from '../src/openapi/document';
import { dtoSchema } from '../src/openapi/dto-schema';
import { serializeOpenApiDocument } from '../scripts/export-openapi';
import { createTestContext, type TestContext } from './helpers/context';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];
const SCOPES = [
  'selfservice:delink',
  'selfservice:link',
  'selfservice:read',
  'issuer:write',
  'issuer:read',
  'issuer:webhooks',
];

type Node = Record<string, unknown>;
const isObject = (value: unknown): value is Node =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every [JSON pointer, value] pair of the document, depth first. */
function* walk(node: unknown, pointer = ''): Generator<[string, unknown]> {
  yield [pointer, node];
  const children: [string, unknown][] = Array.isArray(node)
    ? node.map((child, i) => [String(i), child])
    : isObject(node)
      ? Object.entries(node)
      : [];
  for (const [key, child] of children) yield* walk(child, `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
}

function at(document: unknown, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .reduce<unknown>(
      (node, part) =>
        isObject(node) || Array.isArray(node)
          ? (node as Node)[part.replace(/~1/g, '/').replace(/~0/g, '~')]
          : undefined,
      document,
    );
}

interface DocumentedOperation {
  method: string;
  path: string;
  operation: Node;
}

function operationsOf(document: OpenApiDocument): DocumentedOperation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, operation]) => ({ method, path, operation: operation as Node })),
  );
}

/** Every response set of the document: the operations', each path's other methods', and unknown paths'. */
function responseSets(document: OpenApiDocument): [string, Record<string, Node>][] {
  return [
    ...operationsOf(document).map(({ method, path, operation }): [string, Record<string, Node>] => [
      `${method} ${path}`,
      operation.responses as Record<string, Node>,
    ]),
    ...Object.entries(document.paths).map(([path, item]): [string, Record<string, Node>] => [
      `other methods of ${path}`,
      item['x-other-methods'].responses as unknown as Record<string, Node>,
    ]),
    ['unknown paths', document['x-unknown-paths'].responses as unknown as Record<string, Node>],
  ];
}

/** Schemas shared by every error response: what one response can carry is the enum beside them. */
const SHARED_ERROR_SCHEMAS = ['ErrorCode', 'CoreCreditError', 'IssuerError'].map(
  (name) => `#/components/schemas/${name}`,
);

/** The ErrorCodes a response names: its schemas' enums and consts, through references to schemas of its own. */
function codesNamed(document: OpenApiDocument, node: unknown, seen = new Set<string>()): Set<string> {
  const codes = new Set<string>();
  for (const [, value] of walk(node)) {
    if (typeof value === 'string' && /^ERR\d{5}$/.test(value)) codes.add(value);
    if (
      isObject(value) &&
      typeof value.$ref === 'string' &&
      !SHARED_ERROR_SCHEMAS.includes(value.$ref) &&
      !seen.has(value.$ref)
    ) {
      seen.add(value.$ref);
      for (const code of codesNamed(document, at(document, value.$ref.slice(1)), seen)) codes.add(code);
    }
  }
  return codes;
}

/** The (method, OpenAPI path) pairs the app routes, and the paths that answer every other method with a 405. */
function appRoutes(app: Express): { operations: string[]; otherMethods: string[] } {
  const operations: string[] = [];
  const otherMethods: string[] = [];
  interface Layer {
    route?: { path: string | string[]; methods: Record<string, boolean> };
    slash?: boolean;
    handle?: { stack?: Layer[] };
  }
  const visit = (stack: Layer[]): void => {
    for (const layer of stack) {
      if (layer.route !== undefined) {
        const paths = (Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path]).map(openApiPath);
        const methods = Object.keys(layer.route.methods);
        for (const path of paths) {
          if (methods.includes('_all')) otherMethods.push(path);
          else operations.push(...methods.map((method) => `${method} ${path}`));
        }
      } else if (layer.handle?.stack !== undefined) {
        // Routers are mounted at the root; one mounted under a prefix would need the prefix added here.
        if (layer.slash !== true) throw new Error('a router mounted under a path prefix: teach appRoutes the prefix');
        visit(layer.handle.stack);
      }
    }
  };
  visit((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return { operations: operations.sort(), otherMethods: [...new Set(otherMethods)].sort() };
}

describe('the OpenAPI document', () => {
  const document = openApiDocument();

  describe('is sound OpenAPI 3.1', () => {
    it('when read, then it declares OpenAPI 3.1 with a title, a version and paths that start with /', () => {
      expect(document.openapi).toMatch(/^3\.1\.\d+$/);
      expect(document.info).toEqual(
        expect.objectContaining({ title: expect.any(String), version: expect.stringMatching(/^\d+\.\d+\.\d+/) }),
      );
      for (const path of Object.keys(document.paths)) expect(path).toMatch(/^\//);
    });

    it('when every $ref is followed, then each leads somewhere in the document', () => {
      const refs = [...walk(document)]
        .filter(([pointer, value]) => pointer.endsWith('/$ref') && typeof value === 'string')
        .map(([, value]) => value as string);
      expect(refs.length).toBeGreaterThan(0);
      for (const ref of refs) {
        expect(ref).toMatch(/^#\//);
        expect([ref, at(document, ref.slice(1))]).not.toEqual([ref, undefined]);
      }
    });

    it('when each operation is read, then it has a unique operationId, a summary, declared tags, responses by status and a scope it names', () => {
      const operations = operationsOf(document);
      const ids = operations.map(({ operation }) => operation.operationId);
      expect(new Set(ids).size).toBe(ids.length);
      const tags = document.tags.map((tag) => tag.name);
      for (const { operation } of operations) {
        expect(operation.operationId).toMatch(/^[A-Za-z]+$/);
        expect(operation.summary).toEqual(expect.any(String));
        for (const tag of operation.tags as string[]) expect(tags).toContain(tag);
        expect(Object.keys(operation.responses as Node).length).toBeGreaterThan(0);
        for (const status of Object.keys(operation.responses as Node)) expect(status).toMatch(/^[1-5]\d\d$/);
        for (const requirement of operation.security as Record<string, string[]>[]) {
          for (const [scheme, scopes] of Object.entries(requirement)) {
            expect(Object.keys(document.components.securitySchemes)).toContain(scheme);
            for (const scope of scopes) expect(SCOPES).toContain(scope);
          }
        }
      }
    });

    it('when a path has {parameters}, then its operations declare exactly those as required path parameters', () => {
      for (const { path, operation } of operationsOf(document)) {
        const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
        const declared = (operation.parameters as Node[])
          .map((parameter) =>
            typeof parameter.$ref === 'string' ? (at(document, parameter.$ref.slice(1)) as Node) : parameter,
          )
          .filter((parameter) => parameter.in === 'path');
        expect([path, declared.map((parameter) => parameter.name).sort()]).toEqual([path, inTemplate]);
        for (const parameter of declared) expect(parameter.required).toBe(true);
      }
    });

    it('when every schema is compiled as JSON Schema 2020-12 in strict mode, then none has an unknown keyword, and every example fits its schema', () => {
      const ajv = new Ajv2020({ strict: true, strictTypes: false, strictRequired: false, allErrors: true });
      addFormats(ajv);
      ajv.addVocabulary(Object.keys(document));
      ajv.addSchema(document, 'doc');
      const schemaPointers = [...walk(document)]
        .filter(([pointer]) => /\/schema$|^\/components\/schemas\/[^/]+$/.test(pointer))
        .map(([pointer]) => pointer);
      expect(schemaPointers.length).toBeGreaterThan(50);
      for (const pointer of schemaPointers) expect(() => ajv.compile({ $ref: `doc#${pointer}` })).not.toThrow();

      const examples = [...walk(document)].filter(([pointer]) =>
        /\/content\/[^/]+\/examples\/[^/]+\/value$/.test(pointer),
      );
      expect(examples.length).toBeGreaterThan(0);
      for (const [pointer, value] of examples) {
        const validate = ajv.compile({ $ref: `doc#${pointer.replace(/\/examples\/[^/]+\/value$/, '/schema')}` });
        expect([pointer, validate(value), validate.errors ?? null]).toEqual([pointer, true, null]);
      }
    });
  });

  describe('states every rule of the DTOs, or is not built', () => {
    class WithEmail {
      @IsDefined() @IsString() @IsEmail() contact!: string;
    }
    class WithCustomRule {
      @IsOptional()
      @IsString()
      @ValidateBy({ name: 'isLuhnValid', validator: { validate: () => true } })
      card?: string;
    }
    class WithFlaggedPattern {
      @IsDefined() @IsString() @Matches(/^[a-z]+$/i) code!: string;
    }

    it.each([
      [
        'a library rule without a converter',
        WithEmail,
        'contact',
        /WithEmail\.contact: .*cannot describe the isEmail rule/,
      ],
      ['a custom rule', WithCustomRule, 'card', /WithCustomRule\.card: .*cannot describe the isLuhnValid rule/],
      ['a flagged pattern with a character class', WithFlaggedPattern, 'code', /cannot express \/\^\[a-z\]\+\$\/i/],
    ])(
      'when a DTO field carries %s, then its schema is refused instead of left vaguer than the rule',
      (_what, cls, field, message) => {
        expect(() => dtoSchema(cls, [field])).toThrow(message);
      },
    );

    it("when the envelope's rules are read, then the document carries them: printable text by length, both IP versions", () => {
      const properties = document.components.schemas.GetLinkAccountsRequest?.properties as Record<string, Node>;
      expect(properties.Language?.pattern).toBe(printable(10).source);
      expect(properties.CallerID?.pattern).toBe(printable(20).source);
      expect(properties.Source?.pattern).toBe(printable(50, 1).source);
      expect(new RegExp(properties.CallerID!.pattern as string, 'u').test('(720) 445-4214')).toBe(true);
      expect(properties.ExternalIP?.anyOf).toEqual([{ format: 'ipv4' }, { format: 'ipv6' }]);
    });
  });

  describe('lists the ErrorCodes of the catalogue', () => {
    it('when the ErrorCode schema is read, then it is the catalogue, and the description tabulates every code with its status', () => {
      expect(document.components.schemas.ErrorCode?.enum).toEqual(Object.values(ERRORS).map((entry) => entry.code));
      for (const [name, entry] of Object.entries(ERRORS))
        expect(document.info.description).toContain(`| \`${entry.code}\` | ${entry.status} | ${name} |`);
    });

    it('when the responses are read, then every code of the catalogue is named, and only by a response of its own HTTP status', () => {
      const named = new Set<string>();
      for (const [where, responses] of responseSets(document)) {
        for (const [status, response] of Object.entries(responses)) {
          for (const code of codesNamed(document, response)) {
            named.add(code);
            const entry = Object.values(ERRORS).find((e) => e.code === code);
            expect([where, code, status]).toEqual([where, code, String(entry?.status)]);
          }
        }
      }
      expect([...named].sort()).toEqual(
        Object.values(ERRORS)
          .map((entry) => entry.code)
          .sort(),
      );
    });

    it('when a response is a 401, a 405, or carries ERR01160 or ERR01190, then it documents WWW-Authenticate, Allow or Retry-After as required', () => {
      for (const [where, responses] of responseSets(document)) {
        for (const [status, response] of Object.entries(responses)) {
          const headers = Object.fromEntries(
            Object.entries((response.headers ?? {}) as Record<string, Node>).map(([name, header]) => [
              name,
              (typeof header.$ref === 'string' ? at(document, header.$ref.slice(1)) : header) as Node,
            ]),
          );
          expect([where, status, headers['x-correlation-id']?.required]).toEqual([where, status, true]);
          if (status === '401') expect([where, headers['WWW-Authenticate']?.required]).toEqual([where, true]);
          if (status === '405') expect([where, headers.Allow?.required]).toEqual([where, true]);
          const codes = codesNamed(document, response);
          if (codes.has(ERRORS.SERVICE_UNAVAILABLE.code) || codes.has(ERRORS.RATE_LIMITED.code))
            expect([where, headers['Retry-After']?.required]).toEqual([where, true]);
        }
      }
    });
  });

  describe('against the app', () => {
    let ctx: TestContext;
    beforeAll(async () => {
      ctx = await createTestContext();
    });
    afterAll(async () => {
      await ctx.close();
    });

    it('when the routes of the app are listed, then the document describes each method of each, and nothing the app does not route', () => {
      const { operations } = appRoutes(ctx.app);
      const documented = operationsOf(document)
        .map(({ method, path }) => `${method} ${path}`)
        .sort();
      expect(operations).toEqual(documented);
    });

    it('when a documented path is called with another method, then the app has a route that answers 405, as x-other-methods says', () => {
      expect(appRoutes(ctx.app).otherMethods).toEqual(Object.keys(document.paths).sort());
    });

    it(`when ${OPENAPI_PATH} is fetched without a token, then it is this document`, async () => {
      const res = await api(ctx.app).get(OPENAPI_PATH).expect(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual(JSON.parse(JSON.stringify(document)));
    });

    it(`when ${DOCS_PATH} is fetched without a token, then it is the page that renders ${OPENAPI_PATH} with the service's own files, and no inline script`, async () => {
      const res = await api(ctx.app).get(DOCS_PATH).expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      const scripts = [...res.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.map((m) => /src="([^"]+)"/.exec(m[1] ?? '')?.[1])).toEqual([
        `${DOCS_PATH}/swagger-ui-bundle.js`,
        `${DOCS_PATH}/${DOCS_INIT_SCRIPT}`,
      ]);
      expect(scripts.map((m) => m[2]?.trim())).toEqual(['', '']);
      expect(res.text).toContain(`href="${DOCS_PATH}/swagger-ui.css"`);

      const init = await api(ctx.app).get(`${DOCS_PATH}/${DOCS_INIT_SCRIPT}`).expect(200);
      expect(init.text).toContain(JSON.stringify(OPENAPI_PATH));
    });

    it.each(DOCS_ASSETS)(`when ${DOCS_PATH}/%s is fetched without a token, then it is served`, async (asset) => {
      const res = await api(ctx.app).get(`${DOCS_PATH}/${asset}`).expect(200);
      expect(res.text.length).toBeGreaterThan(100);
    });

    it(`when another file of swagger-ui-dist is asked for, then it is not served: ${DOCS_PATH}/index.html is a 404`, async () => {
      const res = await api(ctx.app).get(`${DOCS_PATH}/index.html`).expect(404);
      expect(res.body.ErrorCode).toBe(ERRORS.ROUTE_NOT_FOUND.code);
    });

    it(`when a path holds dot segments (/x/..${OPENAPI_PATH}), then the check judges the path the app routed, an unknown one, not ${OPENAPI_PATH}`, async () => {
      // The client sends dot segments as written and Express routes them as written; a check reading the URL through
      // WHATWG URL alone would resolve them and judge this 404 against the document's GET ${OPENAPI_PATH}.
      const res = await api(ctx.app).get(`/x/..${OPENAPI_PATH}`).expect(404);
      expect(res.body.ErrorCode).toBe(ERRORS.ROUTE_NOT_FOUND.code);
    });

    it.each(['/health/live', '/health/ready', OPENAPI_PATH, DOCS_PATH])(
      'when %s is called with POST, then it answers 405 with Allow: GET',
      async (path) => {
        const res = await api(ctx.app).post(path).expect(405);
        expect(res.headers.allow).toBe('GET');
        expect(res.body.ErrorCode).toBe(ERRORS.METHOD_NOT_ALLOWED.code);
      },
    );
  });

  it('when docs/openapi.json is compared with the code, then it is the same document (after a change: npm run openapi:export)', () => {
    const committed = readFileSync(join(__dirname, '..', 'docs', 'openapi.json'), 'utf8');
    expect(
      committed === serializeOpenApiDocument()
        ? 'up to date'
        : 'docs/openapi.json is stale: run npm run openapi:export',
    ).toBe('up to date');
  });
});

describe('the response check every suite runs through', () => {
  /** A stand-in service that answers what the document does not say: the check must refuse every one of these. */
  function rogueApp(): Express {
    const app = express();
    app.use((_req, res, next) => {
      res.setHeader('x-correlation-id', 'rogue-1');
      next();
    });
    app.post(DELINK_PATH, (req, res) => {
      const kind = req.query.kind;
      if (kind === 'teapot') res.status(418).json({});
      else if (kind === 'shape')
        res
          .status(200)
          .json({ Message: 'Return Successfully.', Status: 'yes', ErrorCode: ERRORS.SUCCESS.code, ResponseData: {} });
      else if (kind === 'code')
        res.status(404).json({ Message: 'x', Status: false, ErrorCode: ERRORS.MAIN_ACCOUNT.code, ResponseData: {} });
      else if (kind === 'type') res.status(200).type('text/plain').send('Return Successfully.');
      else
        res.status(401).json({ Message: 'x', Status: false, ErrorCode: ERRORS.TOKEN_MISSING.code, ResponseData: {} });
    });
    app.use((_req, res) => {
      res.status(404).json({ error: 'not found' });
    });
    return app;
  }

  it.each([
    ['teapot', /answered 418, which the document does not list/],
    ['shape', /\/Status must be equal to constant/],
    ['code', /\/ErrorCode must be equal to one of the allowed values/],
    ['type', /content type text\/plain; charset=utf-8 is not documented/],
    ['header', /header WWW-Authenticate is required but absent/],
  ])('when a response is %s-wrong, then the request fails with what the document says', async (kind, message) => {
    await expect(api(rogueApp()).post(`${DELINK_PATH}?kind=${kind}`).send({})).rejects.toThrow(message);
  });

  it("when an unknown path answers something other than the documented 404 envelope, then the request fails, even if the test's own expectations pass", async () => {
    await expect(api(rogueApp()).get('/no/such/path').expect(404)).rejects.toThrow(
      /GET \/no\/such\/path answered 404 \(a path the document does not list\)/,
    );
  });
});
