// The document's types: openapi3-ts's OpenAPI 3.1 model, narrowed where the service always says more, plus the
// service's own extensions (`x-other-methods`, `x-unknown-paths`) that the response check reads.
import type {
  ComponentsObject,
  HeaderObject as OasHeaderObject,
  InfoObject,
  OpenAPIObject,
  OperationObject as OasOperationObject,
  ParameterObject,
  PathItemObject,
  ReferenceObject,
  ResponseObject as OasResponseObject,
  SchemaObject,
  SecuritySchemeObject,
  TagObject,
} from 'openapi3-ts/oas31';

export type Reference = ReferenceObject;

/** A schema, with the JSON Schema 2020-12 conditionals that openapi3-ts's model leaves out. */
export type JsonSchema = SchemaObject & { if?: JsonSchema; then?: JsonSchema; else?: JsonSchema };

/** Every header the document declares has a schema of its own, never a reference. */
export interface HeaderObject extends OasHeaderObject {
  schema: JsonSchema;
}
export interface ResponseObject extends OasResponseObject {
  headers?: Record<string, HeaderObject | Reference>;
}
export type Responses = Record<string, ResponseObject | Reference>;

export interface OperationObject extends OasOperationObject {
  operationId: string;
  tags: string[];
  summary: string;
  description: string;
  security: Record<string, string[]>[];
  parameters?: (ParameterObject | Reference)[];
  responses: Responses;
}

/** What a request answers when nothing else in the document describes it. */
export interface FallbackResponses {
  description: string;
  responses: Responses;
}

/** A path item, plus `x-other-methods`: what any method the item does not list answers. */
export interface PathItem extends PathItemObject {
  get?: OperationObject;
  put?: OperationObject;
  post?: OperationObject;
  'x-other-methods': FallbackResponses;
}
export type Paths = Record<string, PathItem>;

export interface OpenApiDocument extends OpenAPIObject {
  /** OpenAPI 3.1's one-line summary of the API, which openapi3-ts's model leaves out. */
  info: InfoObject & { summary?: string };
  servers: { url: string; description: string }[];
  tags: TagObject[];
  paths: Paths;
  components: ComponentsObject & {
    schemas: Record<string, JsonSchema>;
    parameters: Record<string, ParameterObject>;
    headers: Record<string, HeaderObject>;
    securitySchemes: Record<string, SecuritySchemeObject>;
  };
  /** What a request to a path the document does not list answers. */
  'x-unknown-paths': FallbackResponses;
}

export const ref = (kind: 'schemas' | 'parameters' | 'headers', name: string): Reference => ({
  $ref: `#/components/${kind}/${name}`,
});

/** JSON Schema's `false`: no value fits (openapi3-ts's model has no boolean schemas). */
export const NOTHING = false as unknown as JsonSchema;

/**
 * The schema of a response view, one entry per field of its TypeScript type: the compiler refuses a field the view
 * has and the schema lacks, or the other way round. Every field is required; nothing else may appear.
 */
export type ViewFields<T> = { [K in keyof Required<T>]: JsonSchema | Reference };

export function viewSchema<T>(fields: ViewFields<T>, description?: string): JsonSchema {
  return {
    type: 'object',
    ...(description !== undefined ? { description } : {}),
    required: Object.keys(fields),
    additionalProperties: false,
    properties: fields,
  };
}
