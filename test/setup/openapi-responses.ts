// Every response a test receives through supertest is checked against the OpenAPI document; a mismatch fails that test.
import request from 'supertest';
import { createResponseValidator } from '../helpers/openapi-validator';

interface ReceivedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text?: string;
}

type Done = (error: Error | null, res: unknown) => void;

interface SupertestInternals {
  method: string;
  url: string;
  /** Where supertest runs the test's own .expect() assertions, for .then() and .end() alike. */
  assert: (
    this: SupertestInternals,
    resError: unknown,
    res: ReceivedResponse | undefined,
    done: Done | undefined,
  ) => void;
}

const PATCHED = Symbol.for('corecredit.openapi-responses');
const prototype = request.Test.prototype as unknown as SupertestInternals & { [PATCHED]?: true };

if (prototype[PATCHED] !== true) {
  prototype[PATCHED] = true;
  const validator = createResponseValidator();
  const assert = prototype.assert;
  prototype.assert = function (this: SupertestInternals, resError, res, done) {
    let problem: string | undefined;
    try {
      if (res !== undefined && res !== null) {
        problem = validator.check({
          method: this.method,
          url: this.url,
          status: res.status,
          headers: res.headers,
          text: typeof res.text === 'string' ? res.text : undefined,
        });
      }
    } catch (error) {
      // Thrown inside supertest's callback it would escape the test; as its failure it names the request.
      problem = `OpenAPI: checking ${this.method} ${this.url} failed: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (done === undefined) return assert.call(this, resError, res, done);
    // The test's own assertions report first; a response they accept must still be the documented one.
    assert.call(this, resError, res, (error, received) =>
      done.call(this, error ?? (problem !== undefined ? new Error(problem) : null), received),
    );
  };
}
