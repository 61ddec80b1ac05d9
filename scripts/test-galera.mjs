// Runs test/galera against a three-node Galera cluster on loopback that it starts (scripts/galera-local.sh) and
// removes afterwards. Without TEST_GALERA=1 it says plainly that it skipped; with it, missing tools are a failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

if (process.env.TEST_GALERA !== '1') {
  console.log('\n========================================================================');
  console.log(' Galera suite SKIPPED: TEST_GALERA is not 1.');
  console.log(' Run it with: TEST_GALERA=1 npm run test:galera (needs galera-4, mariadbd and rsync)');
  console.log('========================================================================\n');
  process.exit(0);
}
for (const tool of ['/usr/lib/galera/libgalera_smm.so', '/usr/sbin/mariadbd', '/usr/bin/rsync']) {
  if (!existsSync(tool)) {
    console.error(`Galera suite: ${tool} is missing (install galera-4, mariadb-server and rsync). Failing.`);
    process.exit(1);
  }
}
// TEST_DATABASE=galera tells jest.config.js to run test/galera (and only this run does: CI exports TEST_GALERA=1 for all).
const env = { ...process.env, TEST_DATABASE: 'galera', GALERA_DIR: mkdtempSync(join(tmpdir(), 'galera-')) };
const cluster = (command) => spawnSync('bash', ['scripts/galera-local.sh', command], { stdio: 'inherit', env });
let status = 1;
try {
  if (cluster('start').status !== 0) throw new Error('the cluster did not start');
  status =
    spawnSync('npx', ['jest', '--runInBand', 'test/galera', ...process.argv.slice(2)], { stdio: 'inherit', env })
      .status ?? 1;
} catch (error) {
  console.error(`Galera suite: ${error.message}`);
} finally {
  cluster('destroy');
}
process.exit(status);
