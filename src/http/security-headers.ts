// Security headers (helmet) on every response: a deny-all policy for the API, and the narrower one the docs page needs.
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * The API serves JSON only, so its Content-Security-Policy allows nothing: a response that a browser renders by
 * mistake can load no script, style or frame. Framing is refused by both the policy and X-Frame-Options.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"], frameAncestors: ["'none'"] },
    },
    frameguard: { action: 'deny' },
  });
}

/**
 * The docs page runs Swagger UI: its script, its stylesheet and the page's initializer, all files of this service,
 * and fetches the document from it. No inline script, no other origin; `data:` images are Swagger UI's icons.
 */
export function docsPageSecurityPolicy(): RequestHandler {
  return helmet.contentSecurityPolicy({
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
  });
}
