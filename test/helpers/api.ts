// supertest, with every response checked against the OpenAPI document, so that the document cannot drift from the
// service. The suite sends its requests only through `api(...)` (or, for a Test it builds itself, `checkedAgainstOpenApi`):
// eslint refuses a value import of supertest anywhere else under test/.
//
// The check is added with supertest's public `.expect(fn)`, before the test's own assertions: a response the document
// does not allow fails the request with what the document says, even when the test's own expectations would pass.
import request, { type Test } from 'supertest';
import { createResponseValidator } from './openapi-validator';

export type { Response, Test } from 'supertest';

const validator = createResponseValidator();

/** Fails `test` when its response is not one the OpenAPI document allows for its method, path and status. */
export function checkedAgainstOpenApi<T extends Test>(test: T): T {
  return test.expect((res) => {
    const problem = validator.check({
      method: test.method,
      url: test.url,
      status: res.status,
      headers: res.headers,
      text: typeof res.text === 'string' ? res.text : undefined,
    });
    if (problem !== undefined) throw new Error(problem);
  });
}

type Client = ReturnType<typeof request>;

/**
 * `request(app)` of supertest, whose every request is `checkedAgainstOpenApi`. `target` is an Express app, a server
 * or a base URL, as for supertest.
 */
export function api(target: Parameters<typeof request>[0]): Client {
  const client = request(target);
  const checked = {} as Record<string, unknown>;
  for (const [name, make] of Object.entries(client as unknown as Record<string, unknown>)) {
    checked[name] =
      typeof make === 'function' ? (url: string) => checkedAgainstOpenApi((make as (url: string) => Test)(url)) : make;
  }
  return checked as unknown as Client;
}

/** A Test built by hand (for its own agent, say), checked like every other. */
export function apiTest(...args: ConstructorParameters<typeof request.Test>): Test {
  return checkedAgainstOpenApi(new request.Test(...args));
}
