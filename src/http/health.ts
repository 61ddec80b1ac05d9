// Liveness and readiness probes: no token, no envelope, just whether the process and the database answer.
import { Router } from 'express';
import type { Database } from '../db/database';
import { methodNotAllowed } from './errors';

export const READY_TIMEOUT_MS = 2_000;

/** Galera's wsrep_local_state of a node that is part of the primary component and up to date. */
const SYNCED = 4;

/**
 * The database answers, and on a Galera node, the node is ready and Synced: a donor, a joiner or a node cut off from
 * the primary component would answer 1047 or stale reads, so the load balancer should send its traffic elsewhere.
 */
async function databaseAnswers(database: Database): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
  });
  const probe = database
    .read((manager) => manager.query('SELECT 1'))
    .then(() => database.nodeState())
    .then(
      (node) => !node.galera || (node.ready && node.localState === SYNCED),
      () => false,
    );
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRouter(database: Database): Router {
  const router = Router();
  router.get('/health/live', (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });
  router.get('/health/ready', async (_req, res) => {
    const ready = database.dataSource.isInitialized && (await databaseAnswers(database));
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ok' : 'unavailable', checks: { database: ready ? 'ok' : 'unavailable' } });
  });
  // Inside this router: Express itself answers an OPTIONS that a router ends without handling (200 "GET, HEAD").
  router.all(['/health/live', '/health/ready'], methodNotAllowed(['GET']));
  return router;
}
