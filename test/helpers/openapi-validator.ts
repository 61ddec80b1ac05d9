// Checks a real HTTP response against the OpenAPI document: documented status, content type, headers and body.
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import {
  type HeaderObject,
  type OpenApiDocument,
  openApiDocument,
  type Reference,
  type ResponseObject,
  type Responses,
} from '../../src/openapi/document';

export interface ObservedResponse {
  method: string;
  url: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as text; undefined for a body that is not text. */
  text: string | undefined;
}

const DOCUMENT_ID = 'https://corecredit.invalid/openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'] as const;

const escapePointer = (part: string): string => part.replace(/~/g, '~0').replace(/\//g, '~1');
const isReference = (value: unknown): value is Reference =>
  typeof value === 'object' && value !== null && '$ref' in value;

interface Route {
  template: string;
  pattern: RegExp;
}

/** Express matches paths case-insensitively and with or without a trailing slash; so does this. */
function routeOf(template: string): Route {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return { template, pattern: new RegExp(`^${source}/?$`, 'i') };
}

/**
 * The path as supertest's client (superagent) sends it: through WHATWG URL, except dot segments, which it sends as
 * written and the app routes as written (`/../docs` is not `/docs` to Express).
 */
export function sentPath(url: string): string {
  const parts = /^([a-z][a-z\d+.-]*:\/\/[^/?#]*)([^?#]*)/i.exec(url);
  if (parts === null) return new URL(url, 'http://localhost').pathname;
  const dots: string[] = [];
  const marked = (parts[2] ?? '').replace(
    /\/((?:\.|%2e){1,2})(?=\/|$)/gi,
    (_match, segment: string) => `/__dot_segment_${dots.push(segment) - 1}__`,
  );
  return new URL(`${parts[1]}${marked}`).pathname.replace(
    /__dot_segment_(\d+)__/g,
    (_match, i: string) => dots[Number(i)] ?? '',
  );
}

export interface ResponseValidator {
  /** Undefined when the response is what the document says; otherwise why not. */
  check(observed: ObservedResponse): string | undefined;
}

export function createResponseValidator(document: OpenApiDocument = openApiDocument()): ResponseValidator {
  // Strict: a keyword JSON Schema 2020-12 does not know (OpenAPI 3.0's `nullable`, a typo) fails instead of passing.
  const ajv = new Ajv2020({ strict: true, strictTypes: false, strictRequired: false, allErrors: true });
  addFormats(ajv);
  // The document's own members are not schema keywords; the schemas inside it are reached by JSON pointer.
  ajv.addVocabulary(Object.keys(document));
  ajv.addSchema(document, DOCUMENT_ID);

  // Literal paths before templated ones, so that `/docs` is never taken for `/{something}`.
  const routes = Object.keys(document.paths)
    .map(routeOf)
    .sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));
  const compiled = new Map<string, ValidateFunction>();

  function validatorAt(pointer: string): ValidateFunction {
    let validate = compiled.get(pointer);
    if (validate === undefined) {
      validate = ajv.compile({ $ref: `${DOCUMENT_ID}#${pointer}` });
      compiled.set(pointer, validate);
    }
    return validate;
  }

  function resolve<T>(value: T | Reference, pointer: string): { value: T; pointer: string } {
    if (!isReference(value)) return { value, pointer };
    const target = value.$ref.replace(/^#/, '');
    const found = target
      .split('/')
      .slice(1)
      .reduce<unknown>(
        (node, part) => (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')],
        document,
      );
    if (found === undefined) throw new Error(`OpenAPI: unresolvable $ref ${value.$ref}`);
    return resolve(found as T | Reference, target);
  }

  function responsesFor(method: string, pathname: string): { responses: Responses; pointer: string; what: string } {
    const route = routes.find((r) => r.pattern.test(pathname));
    if (route === undefined)
      return {
        responses: document['x-unknown-paths'].responses,
        pointer: '/x-unknown-paths/responses',
        what: 'a path the document does not list',
      };
    const item = document.paths[route.template];
    const itemPointer = `/paths/${escapePointer(route.template)}`;
    // Express answers HEAD with the GET route, without the body.
    const key = (method === 'head' && item?.get !== undefined ? 'get' : method) as (typeof METHODS)[number];
    const operation = (item as unknown as Record<string, { responses: Responses } | undefined>)[key];
    if (operation !== undefined && (METHODS as readonly string[]).includes(key)) {
      return {
        responses: operation.responses,
        pointer: `${itemPointer}/${key}/responses`,
        what: `${key.toUpperCase()} ${route.template}`,
      };
    }
    return {
      responses: item!['x-other-methods'].responses,
      pointer: `${itemPointer}/x-other-methods/responses`,
      what: `${method.toUpperCase()} ${route.template} (x-other-methods)`,
    };
  }

  function checkHeaders(response: ResponseObject, pointer: string, observed: ObservedResponse): string[] {
    const problems: string[] = [];
    for (const [name, declared] of Object.entries(response.headers ?? {})) {
      const { value: header, pointer: headerPointer } = resolve<HeaderObject>(
        declared,
        `${pointer}/headers/${escapePointer(name)}`,
      );
      const raw = observed.headers[name.toLowerCase()];
      if (raw === undefined) {
        if (header.required === true) problems.push(`header ${name} is required but absent`);
        continue;
      }
      const text = Array.isArray(raw) ? raw.join(', ') : raw;
      // Header values are text; a header documented as an integer is compared as the number it spells.
      const value = header.schema.type === 'integer' && /^\d+$/.test(text) ? Number(text) : text;
      const validate = validatorAt(`${headerPointer}/schema`);
      if (!validate(value)) problems.push(`header ${name}: ${JSON.stringify(text)} ${ajv.errorsText(validate.errors)}`);
    }
    return problems;
  }

  function checkBody(response: ResponseObject, pointer: string, observed: ObservedResponse): string[] {
    const contentType = observed.headers['content-type'];
    const mediaType =
      typeof contentType === 'string' ? (contentType.split(';')[0] ?? '').trim().toLowerCase() : undefined;
    const hasBody = observed.text !== undefined ? observed.text.length > 0 : mediaType !== undefined;
    if (response.content === undefined)
      return hasBody ? [`the document describes no body, but one came (${String(contentType)})`] : [];
    if (observed.method.toLowerCase() === 'head') return [];
    if (mediaType === undefined || response.content[mediaType] === undefined) {
      return [
        `content type ${String(contentType)} is not documented (documented: ${Object.keys(response.content).join(', ')})`,
      ];
    }
    if (observed.text === undefined) return [];
    let body: unknown = observed.text;
    if (mediaType === 'application/json' || mediaType.endsWith('+json')) {
      try {
        body = JSON.parse(observed.text);
      } catch {
        return [`the ${mediaType} body is not JSON: ${observed.text.slice(0, 200)}`];
      }
    }
    const schemaPointer = `${pointer}/content/${escapePointer(mediaType)}/schema`;
    const validate = validatorAt(schemaPointer);
    if (validate(body)) return [];
    const errors = (validate.errors ?? []).map(
      (e) => `${e.instancePath || '(body)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
    );
    return [
      `the body does not match #${schemaPointer}:\n    ${errors.join('\n    ')}\n  body: ${observed.text.slice(0, 600)}`,
    ];
  }

  return {
    check(observed) {
      const method = observed.method.toLowerCase();
      const pathname = sentPath(observed.url);
      const { responses, pointer, what } = responsesFor(method, pathname);
      const declared = responses[String(observed.status)];
      const label = `OpenAPI: ${observed.method.toUpperCase()} ${pathname} answered ${observed.status}`;
      if (declared === undefined) {
        return `${label}, which the document does not list for ${what} (documented: ${Object.keys(responses).join(', ')}); document it in the face's openapi.ts (src/corecredit/ or src/issuer/), or fix the service`;
      }
      const { value: response, pointer: responsePointer } = resolve<ResponseObject>(
        declared,
        `${pointer}/${observed.status}`,
      );
      const problems = [
        ...checkHeaders(response, responsePointer, observed),
        ...checkBody(response, responsePointer, observed),
      ];
      return problems.length === 0 ? undefined : `${label} (${what}):\n  ${problems.join('\n  ')}`;
    },
  };
}
