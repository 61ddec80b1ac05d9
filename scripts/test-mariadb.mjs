// Runs the whole suite on MariaDB/MySQL. Without TEST_MARIADB_URL it says plainly that it skipped;
// in CI (CI=true) a missing or unreachable database is a failure, never a skip.
import { spawnSync } from 'node:child_process';

const url = process.env.TEST_MARIADB_URL;
if (url === undefined || url === '') {
  if (process.env.CI === 'true') {
    console.error('MariaDB suite: TEST_MARIADB_URL is not set, and in CI this suite must run. Failing.');
    process.exit(1);
  }
  console.log('\n========================================================================');
  console.log(' MariaDB suite SKIPPED: no MariaDB configured.');
  console.log(' Run it with: TEST_MARIADB_URL=mariadb://root@127.0.0.1:3306 npm run test:mariadb');
  console.log('========================================================================\n');
  process.exit(0);
}
const result = spawnSync('npx', ['jest', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, TEST_DATABASE: 'mariadb' },
});
process.exit(result.status ?? 1);
