// `npm run -s token -- --issuer ID --scope "..."`: prints a token signed with the configured JWT_SECRET (or the
// development secret), or with --private-key when the service verifies with a public key.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { importPKCS8, SignJWT } from 'jose';
import { loadConfigOrExit } from '../config';
import { resolveJwtKey } from '../dev-secret';
import { ISSUER_ID_PATTERN, CONSUMER_ID_PATTERN } from '../links/identifiers';
import { fail } from './bootstrap';

const USAGE = `usage: npm run -s token -- --issuer ISSUERID [--scope "selfservice:delink selfservice:read"] [--sub NAME]
                          [--ss-user-id SSUSERID] [--expires-in 1h] [--private-key key.pem --alg RS256|ES256]`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      issuer: { type: 'string' },
      scope: { type: 'string', default: 'selfservice:delink selfservice:read' },
      sub: { type: 'string', default: 'local-developer' },
      'ss-user-id': { type: 'string' },
      'expires-in': { type: 'string', default: '1h' },
      'private-key': { type: 'string' },
      alg: { type: 'string', default: 'RS256' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) fail(USAGE);
  if (values.issuer === undefined || !ISSUER_ID_PATTERN.test(values.issuer))
    fail(`--issuer must be exactly 10 letters, digits, _ or -\n${USAGE}`);
  const ssUserId = values['ss-user-id'];
  if (ssUserId !== undefined && !CONSUMER_ID_PATTERN.test(ssUserId))
    fail('--ss-user-id must be 1 to 30 letters or digits');

  const config = resolveJwtKey(loadConfigOrExit());
  let jwt = new SignJWT({
    issuerId: values.issuer,
    scope: values.scope,
    ...(ssUserId !== undefined ? { ssUserId } : {}),
  })
    .setSubject(values.sub)
    .setIssuedAt()
    .setExpirationTime(values['expires-in']);
  if (config.jwt.issuer !== undefined) jwt = jwt.setIssuer(config.jwt.issuer);
  if (config.jwt.audience !== undefined) jwt = jwt.setAudience(config.jwt.audience);

  let token: string;
  if (values['private-key'] !== undefined) {
    const alg = values.alg;
    if (alg !== 'RS256' && alg !== 'ES256') fail('--alg must be RS256 or ES256');
    token = await jwt
      .setProtectedHeader({ alg })
      .sign(await importPKCS8(readFileSync(values['private-key'], 'utf8'), alg));
  } else if (config.jwt.kind === 'secret') {
    token = await jwt.setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(config.jwt.secret));
  } else {
    fail('The service verifies tokens with a public key or JWKS: pass --private-key with the matching private key.');
  }
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => fail(`token: ${error instanceof Error ? error.message : String(error)}`));
