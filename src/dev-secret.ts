// The development JWT secret: read from its file, or created there on first use, when no JWT setting is given.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Config, type LoadedConfig, MIN_SECRET_LENGTH } from './config';

/** Reads the secret kept in `file`, creating the file (owner-only) when it is missing or too short to be one. */
export function developmentSecret(file: string): string {
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length >= MIN_SECRET_LENGTH) return secret;
  }
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  // The mode given to writeFileSync applies only to a new file (and through the umask): an existing one keeps its own.
  chmodSync(file, 0o600);
  return secret;
}

/** The configuration with its JWT key resolved: the development secret file is read or created here, not at load. */
export function resolveJwtKey(config: LoadedConfig): Config {
  const { jwt } = config;
  if (jwt.kind !== 'development') return { ...config, jwt };
  return {
    ...config,
    jwt: {
      kind: 'secret',
      secret: developmentSecret(jwt.file),
      source: 'development secret file',
      issuer: jwt.issuer,
      audience: jwt.audience,
      maxLifetimeSeconds: jwt.maxLifetimeSeconds,
    },
  };
}
