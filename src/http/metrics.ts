// Prometheus metrics on GET /metrics: requests by route pattern, the database pool, the process. Each face adds its
// own outcome counters to the registry it is handed.
import type { Request } from 'express';
import { Router } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../db/database';
import { methodNotAllowed } from './errors';

export const METRICS_PATH = '/metrics';

/** The route label of a request no route answered: the URL itself may hold account numbers and has no bound. */
export const UNMATCHED_ROUTE = 'unmatched';

export interface HttpMetrics {
  registry: Registry;
  /**
   * Counts a response that was sent, with the status the client got, its route pattern (null: none matched) and
   * duration; the request observer calls it.
   */
  observe(req: Request, status: number, route: string | null, seconds: number): void;
  /** Serves GET /metrics. */
  router: Router;
}

interface Queue {
  length: number;
}

/** mysql2's pool publishes no statistics; these fields of its pool (3.x) are the only source. */
interface Mysql2Pool {
  _allConnections?: Queue;
  _freeConnections?: Queue;
  _connectionQueue?: Queue;
}

/**
 * Units of work wait at the service's own gate (sized to the pool) before they reach a connection, so "waiting" is
 * the gate's queue; mysql2's own queue stays empty but is added in case anything bypasses the gate.
 */
function poolState(database: Database): { open: number; inUse: number; waiting: number } {
  if (!database.dataSource.isInitialized) return { open: 0, inUse: 0, waiting: 0 };
  const load = database.load();
  // TypeORM keeps one SQLite connection for the data source's whole life.
  if (database.kind === 'sqlite') return { open: 1, inUse: load.active, waiting: load.waiting };
  const pool = (database.dataSource.driver as unknown as { pool?: Mysql2Pool }).pool;
  const open = pool?._allConnections?.length ?? 0;
  return {
    open,
    inUse: open - (pool?._freeConnections?.length ?? 0),
    waiting: load.waiting + (pool?._connectionQueue?.length ?? 0),
  };
}

/**
 * A registry of the app's own: createApp may run twice in one process (two instances in one test), and each
 * instance reports its own requests and its own pool.
 */
export function createMetrics(database: Database, registry: Registry = new Registry()): HttpMetrics {
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status.',
    labelNames,
    registers,
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving a request to finishing its response, by method, route pattern and status.',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const gauges: [name: string, help: string, value: keyof ReturnType<typeof poolState>][] = [
    ['db_pool_connections_open', 'Database connections open (SQLite: its one connection).', 'open'],
    [
      'db_pool_connections_in_use',
      'Database connections lent out to a unit of work (SQLite: its one connection, always).',
      'inUse',
    ],
    ['db_pool_requests_waiting', 'Units of database work waiting for a free connection.', 'waiting'],
  ];
  for (const [name, help, value] of gauges) {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(poolState(database)[value]);
      },
    });
  }

  const observe = (req: Request, status: number, matched: string | null, seconds: number): void => {
    const route = matched ?? UNMATCHED_ROUTE;
    const labels = { method: req.method, route, status: String(status) };
    duration.observe(labels, seconds);
    requests.inc(labels);
  };

  const router = Router();
  router.get(METRICS_PATH, async (_req, res) => {
    const text = await registry.metrics();
    res.status(200).type(registry.contentType).send(text);
  });
  router.all(METRICS_PATH, methodNotAllowed(['GET']));

  return { registry, observe, router };
}
