// Which compiled better-sqlite3 the SQLite driver loads. node_modules holds one binary, built for the Node that ran
// `npm ci`; scripts/node24.sh builds a second one for Node 24 into .cache/better-sqlite3/, keyed by the package's
// version and the Node ABI, so that both runtimes run the same checkout without rebuilding node_modules in turn.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const CACHE_FOLDER = join('.cache', 'better-sqlite3');

/**
 * The binary built for this Node's ABI in the project's .cache/, or undefined: then better-sqlite3 loads its own from
 * node_modules, as it always does (the container image, whose node_modules is built for its Node, has no .cache/).
 */
export function sqliteNativeBinding(): string | undefined {
  const tag = `node-v${process.versions.modules}-${process.platform}-${process.arch}`;
  // The project root: the first folder above this file holding node_modules/better-sqlite3, from src/ and dist/src/ alike.
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    const manifest = join(dir, 'node_modules', 'better-sqlite3', 'package.json');
    if (!existsSync(manifest)) continue;
    const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
    const candidate = join(dir, CACHE_FOLDER, version, tag, 'better_sqlite3.node');
    return existsSync(candidate) ? candidate : undefined;
  }
  return undefined;
}
