// Runs test/galera against a three-node Galera cluster on loopback that it starts (scripts/galera-local.sh) and
// removes afterwards. Without TEST_GALERA=1 it says plainly that it skipped; with it, missing tools are a failure.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { withGaleraCluster } from './galera-cluster.mjs';

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
const jest = (env) =>
  spawnSync('npx', ['jest', '--runInBand', 'test/galera', ...process.argv.slice(2)], { stdio: 'inherit', env })
    .status ?? 1;
process.exit(withGaleraCluster({ ...process.env, TEST_DATABASE: 'galera' }, jest));
