// Runs StrykerJS over the core (stryker.config.mjs): on SQLite, or on MariaDB when TEST_MARIADB_URL is set, the way
// scripts/test-mariadb.mjs runs the suite, so that the MySQL-only paths are measured too. Extra arguments go to
// Stryker, e.g. `npm run test:mutation -- --mutate src/db/retry.ts`.
//
// Stryker starts Jest once per mutant. On MariaDB each of its test processes creates and migrates one database and
// keeps it for all its mutants (TEST_MARIADB_KEEP_PREFIX, see test/global-setup.ts) instead of one per mutant; the
// databases of this run's prefix are dropped when Stryker ends.
//
// With TEST_GALERA=1 instead, the mutants are run against test/galera alone, on the three-node cluster of
// scripts/galera-local.sh, started for the run and removed after it (scripts/galera-cluster.mjs, as for the suite):
// for the lines only a cluster reaches (the node's state, wsrep_sync_wait), given with --mutate as line ranges.
import { spawnSync } from 'node:child_process';
import { createConnection } from 'mysql2/promise';
import { withGaleraCluster } from './galera-cluster.mjs';

const url = process.env.TEST_MARIADB_URL;
const onGalera = process.env.TEST_GALERA === '1';
const onMariaDb = !onGalera && url !== undefined && url !== '';
const keptPrefix = `cc_mutation_${process.pid}`;
console.log(
  `Mutation run on ${onGalera ? 'a Galera cluster' : onMariaDb ? `MariaDB (${new URL(url).host})` : 'SQLite'}`,
);
const env = {
  ...process.env,
  TEST_DATABASE: onGalera ? 'galera' : onMariaDb ? 'mariadb' : 'sqlite',
  ...(onMariaDb ? { TEST_MARIADB_KEEP_PREFIX: keptPrefix } : {}),
};
const stryker = (runEnv) =>
  spawnSync('npx', ['stryker', 'run', ...process.argv.slice(2)], { stdio: 'inherit', env: runEnv }).status ?? 1;
let status;
try {
  status = onGalera ? withGaleraCluster(env, stryker) : stryker(env);
} finally {
  if (onMariaDb) await dropKeptDatabases();
}
process.exit(status);

async function dropKeptDatabases() {
  const connection = await createConnection({ uri: url.replace(/^mariadb:/, 'mysql:'), connectTimeout: 5000 });
  try {
    const [rows] = await connection.query(
      'SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE ?',
      [`${keptPrefix}\\_%`],
    );
    for (const { name } of rows) await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await connection.end();
  }
}
