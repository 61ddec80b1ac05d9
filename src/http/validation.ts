// One validation step for every DTO: pick the known fields, plainToInstance, validate, report every failing field.
import { plainToInstance } from 'class-transformer';
import { type ValidationError, validate } from 'class-validator';
import type { Request, RequestHandler, Response } from 'express';
import { AppError, type FieldError } from '../errors';
import { locals } from './context';

type DtoClass<T> = new () => T;

/** Constraints checked first win the one message a field reports: presence, then type, then form. */
const PRIORITY = ['isDefined', 'isString', 'isArray'];

function firstMessage(error: ValidationError): string {
  const constraints = Object.entries(error.constraints ?? {});
  constraints.sort(([a], [b]) => rank(a) - rank(b));
  // Stryker disable next-line StringLiteral: never used; no DTO nests another, so every error has constraints of its own.
  return constraints[0]?.[1] ?? `${error.property} is invalid`;
}

function rank(constraint: string): number {
  const index = PRIORITY.indexOf(constraint);
  return index === -1 ? PRIORITY.length : index;
}

/** The longest list a DTO field holds (a webhook's event types). */
const MAX_LIST = 16;

/**
 * No field of any DTO is an object, and the only arrays are short lists of strings, so any other value fails as what
 * it is whatever it holds: an empty stand-in of the same kind keeps its message, and class-transformer never walks a
 * deeply nested value (a 16 kB body of nested arrays would overflow its recursion).
 */
function shallow(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (!Array.isArray(value)) return {};
  // A list holding an object, a list or null, or too long, stands in as [null], which fails as such a list does.
  const flat = value.length <= MAX_LIST && value.every((item) => typeof item !== 'object');
  return flat ? [...(value as unknown[])] : [null];
}

/** The longest parameter name an error repeats: the rest of a long one says nothing more. */
const MAX_NAME = 64;

/** An unknown parameter, named in the error (cut short when long). */
function unknownParameter(name: string): FieldError {
  const field = name.length > MAX_NAME ? `${name.slice(0, MAX_NAME)}…` : name;
  return { field, message: `${field} is not a parameter of this endpoint` };
}

export interface DtoOptions {
  /**
   * Refuse properties of `input` that are not among `fields`, naming them with the failing fields: a query's
   * parameters, where a misspelt filter or cursor ignored would answer another question than the one asked. Bodies
   * keep ignoring unknown fields, as the contract says.
   */
  refuseUnknown?: boolean;
}

/**
 * Builds a DTO from the listed own properties of `input` only: unknown fields, prototype keys and inherited
 * properties never reach the instance. No conversion happens: a number stays a number and fails as one.
 */
export async function validateDto<T extends object>(
  cls: DtoClass<T>,
  input: object,
  fields: readonly string[],
  options: DtoOptions = {},
): Promise<T> {
  const picked: Record<string, unknown> = {};
  for (const field of fields) {
    // Stryker disable next-line ConditionalExpression: a parsed body or query inherits no field (JSON's "__proto__" is
    // a key of its own, tested); with Object.prototype polluted, class-validator itself fails before this matters.
    if (Object.hasOwn(input, field)) picked[field] = shallow((input as Record<string, unknown>)[field]);
  }
  // Stryker disable next-line ObjectLiteral: class-transformer's default, written out: no conversion by design:type.
  const instance = plainToInstance(cls, picked, { enableImplicitConversion: false });
  // Stryker disable all: each option repeats what the picking above ensures (the DTO's own fields, each declared on
  // the class), or keeps a field's value out of its error, of which only the name and the messages are read.
  const errors = await validate(instance, {
    whitelist: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
  });
  // Stryker restore all
  const unknown = options.refuseUnknown === true ? Object.keys(input).filter((name) => !fields.includes(name)) : [];
  if (errors.length > 0 || unknown.length > 0) {
    const details: FieldError[] = errors.map((error) => ({ field: error.property, message: firstMessage(error) }));
    details.sort((a, b) => fields.indexOf(a.field) - fields.indexOf(b.field));
    throw new AppError('VALIDATION_FAILED', { details: [...details, ...unknown.map(unknownParameter)] });
  }
  return instance;
}

export interface RequestPart<T> {
  cls: DtoClass<T>;
  input: object;
  fields: readonly string[];
  options?: DtoOptions;
}

/**
 * A request's query as a part to validate: its unknown parameters are refused. Every endpoint that takes a query
 * validates it through this, so none can forget to.
 */
export const queryPart = <T>(cls: DtoClass<T>, query: object, fields: readonly string[]): RequestPart<T> => ({
  cls,
  input: query,
  fields,
  options: { refuseUnknown: true },
});

/** Validates two parts of a request (path and body, or path and query) so that one 400 lists every failing field. */
export async function validateParts<A extends object, B extends object>(
  first: RequestPart<A>,
  second: RequestPart<B>,
): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled([
    validateDto(first.cls, first.input, first.fields, first.options),
    validateDto(second.cls, second.input, second.fields, second.options),
  ]);
  if (a.status === 'fulfilled' && b.status === 'fulfilled') return [a.value, b.value];
  const details = [a, b].flatMap((result) => {
    if (result.status === 'fulfilled') return [];
    // Stryker disable next-line LogicalOperator: validateDto's one AppError always carries its details.
    if (result.reason instanceof AppError && result.reason.details !== undefined) return result.reason.details;
    throw result.reason;
  });
  throw new AppError('VALIDATION_FAILED', { details });
}

/**
 * Parses and checks a request's input as a middleware of its own, before anything that must not see a refused
 * request (an Idempotency-Key stores nothing for it); the handler reads the result with `inputOf`.
 */
export function parseInput<T>(parse: (req: Request, res: Response) => Promise<T> | T): RequestHandler {
  return async (req, res, next) => {
    locals(res).input = await parse(req, res);
    next();
  };
}

export const inputOf = <T>(res: Response): T => locals(res).input as T;
