// Bearer-token authentication with jose (algorithms pinned, exp required) and scope checks.
import type { RequestHandler } from 'express';
import {
  createRemoteJWKSet,
  errors as joseErrors,
  importSPKI,
  type JWTPayload,
  jwtVerify,
  type JWTVerifyGetKey,
} from 'jose';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config';
import { AppError } from '../errors';
import { CONSUMER_ID_PATTERN, ISSUER_ID_PATTERN } from '../links/identifiers';
import { locals, type Principal } from './context';

/** The longest `sub` an operation can record as its requestor. */
export const MAX_SUB_LENGTH = 255;

export type Scope =
  'selfservice:delink' | 'selfservice:link' | 'selfservice:read' | 'issuer:write' | 'issuer:read' | 'issuer:webhooks';

type TokenVerifier = (token: string) => Promise<Principal>;

/**
 * A portal session or an IVR call sends the same token with every request. Once verified, a token is remembered by its
 * whole text, signature included, so only that very token matches: for at most a minute (a key withdrawn from a JWKS
 * stops being honoured within it) and never past its own `exp`. Failures are never remembered.
 */
export const VERIFIED_TOKEN_CACHE = { max: 10_000, ttlMs: 60_000 } as const;

/** What the routers are handed: `require(...scopes)` authenticates a request and demands those scopes. */
export interface Authenticator {
  require(...scopes: Scope[]): RequestHandler;
}

type KeySource = { key: Uint8Array | Awaited<ReturnType<typeof importSPKI>> | JWTVerifyGetKey; algorithms: string[] };

async function keySource(jwt: Config['jwt']): Promise<KeySource> {
  switch (jwt.kind) {
    case 'secret': {
      // Imported once here: handed the raw bytes, jose imports them into WebCrypto again on every verification.
      const secret = new TextEncoder().encode(jwt.secret);
      return {
        // Stryker disable next-line BooleanLiteral: whether the key may be exported, which nothing does.
        key: await crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']),
        algorithms: ['HS256'],
      };
    }
    case 'publicKey':
      return { key: await importSPKI(jwt.pem, jwt.algorithm), algorithms: [jwt.algorithm] };
    case 'jwks':
      return { key: createRemoteJWKSet(new URL(jwt.url)), algorithms: ['RS256', 'ES256'] };
  }
}

function claimsToPrincipal(payload: JWTPayload): Principal {
  const { issuerId, scope, ssUserId, sub } = payload as JWTPayload & Record<string, unknown>;
  if (typeof issuerId !== 'string' || !ISSUER_ID_PATTERN.test(issuerId)) {
    throw new AppError('TOKEN_CLAIMS_INVALID', {
      message: 'The token must carry an issuerId claim of 10 letters, digits, _ or -.',
    });
  }
  if (scope !== undefined && typeof scope !== 'string') {
    throw new AppError('TOKEN_CLAIMS_INVALID', { message: 'The token scope claim must be a space-separated string.' });
  }
  if (ssUserId !== undefined && (typeof ssUserId !== 'string' || !CONSUMER_ID_PATTERN.test(ssUserId))) {
    throw new AppError('TOKEN_CLAIMS_INVALID', {
      message: 'The token ssUserId claim must be 1 to 30 letters or digits.',
    });
  }
  // The operation records sub as its requestor (255 characters): a longer one made MariaDB refuse the row, a 500.
  if (typeof sub === 'string' && sub.length > MAX_SUB_LENGTH) {
    throw new AppError('TOKEN_CLAIMS_INVALID', {
      message: `The token sub claim must be at most ${MAX_SUB_LENGTH} characters.`,
    });
  }
  // Shared by every request that presents the same token: frozen so that no request can change it for another.
  return Object.freeze({
    sub: typeof sub === 'string' ? sub : null,
    issuerId,
    scopes: new Set((scope ?? '').split(' ').filter((s) => s !== '')),
    ssUserId,
  });
}

/**
 * `exp` must be finite and no further ahead than the configured lifetime: a token of `exp: 1e300` (or `1e400`, which
 * JSON reads as Infinity) would otherwise never expire.
 */
function checkLifetime(payload: JWTPayload, maxLifetimeSeconds: number): void {
  const exp = payload.exp as number;
  if (!Number.isFinite(exp) || exp > Date.now() / 1000 + maxLifetimeSeconds) {
    throw new AppError('TOKEN_CLAIMS_INVALID', {
      message: `The token exp claim must be at most ${maxLifetimeSeconds} seconds ahead.`,
    });
  }
}

function toAuthError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof joseErrors.JWTExpired) return new AppError('TOKEN_EXPIRED');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf' || error.claim === 'iat') return new AppError('TOKEN_NOT_YET_VALID');
    return new AppError('TOKEN_CLAIMS_INVALID', {
      message: `The token ${error.claim} claim is missing or not accepted.`,
    });
  }
  return new AppError('TOKEN_INVALID');
}

async function createTokenVerifier(jwt: Config['jwt']): Promise<TokenVerifier> {
  const { key, algorithms } = await keySource(jwt);
  const options = {
    algorithms,
    requiredClaims: ['exp'],
    ...(jwt.issuer !== undefined ? { issuer: jwt.issuer } : {}),
    ...(jwt.audience !== undefined ? { audience: jwt.audience } : {}),
  };
  const verified = new LRUCache<string, Principal>({ max: VERIFIED_TOKEN_CACHE.max });
  return async (token) => {
    const known = verified.get(token);
    if (known !== undefined) return known;
    try {
      // jose's overloads differ only in the key's type; both paths verify the same way.
      const { payload } =
        typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options);
      checkLifetime(payload, jwt.maxLifetimeSeconds);
      const principal = claimsToPrincipal(payload);
      // exp is required, so verification has checked that it is a number in the future.
      const ttl = Math.min(VERIFIED_TOKEN_CACHE.ttlMs, (payload.exp as number) * 1000 - Date.now());
      if (ttl >= 1) verified.set(token, principal, { ttl: Math.floor(ttl) });
      return principal;
    } catch (error) {
      throw toAuthError(error);
    }
  };
}

/**
 * Builds the authenticator. `limitCaller`, when given, runs once the principal is known (the per-caller rate limit),
 * so that every authenticated request counts against its caller, with the scope or without.
 */
export async function createAuthenticator(jwt: Config['jwt'], limitCaller?: RequestHandler): Promise<Authenticator> {
  const verify = await createTokenVerifier(jwt);
  return {
    require:
      (...scopes) =>
      async (req, res, next) => {
        const header = req.headers.authorization;
        const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header.trim()) : null;
        if (header === undefined || header === '') return next(new AppError('TOKEN_MISSING'));
        if (match?.[1] === undefined)
          return next(new AppError('TOKEN_INVALID', { message: 'The Authorization header must be "Bearer <token>".' }));
        try {
          const principal = await verify(match[1]);
          locals(res).principal = principal;
          const checkScopes = (): void => {
            const missing = scopes.filter((scope) => !principal.scopes.has(scope));
            if (missing.length > 0)
              return next(
                new AppError('SCOPE_MISSING', { message: `The token lacks the scope ${missing.join(' ')}.` }),
              );
            next();
          };
          if (limitCaller === undefined) return checkScopes();
          await limitCaller(req, res, (error?: unknown) => (error === undefined ? checkScopes() : next(error)));
        } catch (error) {
          next(error);
        }
      },
  };
}
