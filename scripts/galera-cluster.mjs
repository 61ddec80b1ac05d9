// The three-node Galera cluster of scripts/galera-local.sh, for the scripts that run tests on one: started in a
// folder of its own, handed to `run`, and removed afterwards whatever happened.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs `run(env)` with GALERA_DIR set to a new cluster's folder; returns its exit status, 1 when no cluster started. */
export function withGaleraCluster(baseEnv, run) {
  const env = { ...baseEnv, GALERA_DIR: mkdtempSync(join(tmpdir(), 'galera-')) };
  const cluster = (command) => spawnSync('bash', ['scripts/galera-local.sh', command], { stdio: 'inherit', env });
  try {
    if (cluster('start').status !== 0) {
      console.error('The Galera cluster did not start.');
      return 1;
    }
    return run(env);
  } finally {
    cluster('destroy');
  }
}
