// Runs StrykerJS over the core (stryker.config.mjs): on SQLite, or on MariaDB when TEST_MARIADB_URL is set, the way
// scripts/test-mariadb.mjs runs the suite, so that the MySQL-only paths are measured too. Extra arguments go to
// Stryker, e.g. `npm run test:mutation -- --mutate src/db/retry.ts`.
import { spawnSync } from 'node:child_process';

const url = process.env.TEST_MARIADB_URL;
const onMariaDb = url !== undefined && url !== '';
console.log(`Mutation run on ${onMariaDb ? `MariaDB (${new URL(url).host})` : 'SQLite'}`);
const result = spawnSync('npx', ['stryker', 'run', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, TEST_DATABASE: onMariaDb ? 'mariadb' : 'sqlite' },
});
process.exit(result.status ?? 1);
