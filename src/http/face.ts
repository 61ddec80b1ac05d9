// What an API face (CoreCredit's, the issuer API) is built from. The faces know the HTTP layer; it knows neither face.
import type { RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import type { Database } from '../db/database';
import type { Authenticator } from './auth';

export interface FaceDependencies {
  database: Database;
  auth: Authenticator;
  /** Runs first on every request the face answers: the correlation-id check and the per-client rate limit. */
  entry: RequestHandler[];
  /** Idempotency-Key handling for the state-changing routes, mounted once their input is valid. */
  idempotent: RequestHandler;
  /** Where the face registers the counters of its own outcomes. */
  registry: Registry;
}
