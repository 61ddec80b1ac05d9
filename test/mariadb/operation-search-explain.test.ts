// The audit search on a networked database with enough rows for the optimizer to choose: each single filter, and the
// newest-first order, is read from its own index; none is a full scan.
import type { Database } from '../../src/db/database';
import { type OperationFilter, searchStatement } from '../../src/operations/operation-repository';
import { openDatabase, randomIssuerId } from '../helpers/context';

// Recent rows: the retention purge that another suite of the run may start never removes them.
const BASE = Date.now() - 30 * 86_400_000;
const ISSUERS = 20;
const PER_ISSUER = 1500;

interface ExplainRow {
  table: string;
  type: string;
  key: string | null;
  Extra: string | null;
}

/** Rows of `issuerId`: mostly alike, with one rare value per filter every 50 rows, as real traffic spreads. */
function rowsOf(issuerId: string, from: number): unknown[][] {
  return Array.from({ length: PER_ISSUER }, (_, i) => {
    const rare = i % 50 === 0;
    const at = new Date(BASE + (from + i) * 60_000);
    return [
      `${issuerId}-${String(i).padStart(25, '0')}`,
      rare ? 'DELETE' : 'REGISTER',
      rare ? 'FAILED' : 'SUCCESSFUL',
      rare ? 'ERR01133' : null,
      at,
      at,
      'ISSUER',
      'issuer-backend',
      issuerId,
      `C${i % 300}`,
      `c${i % 300}`,
      String(4_000_000_000 + i),
      rare ? 'IVR' : 'WEB',
      rare ? `720445${String(i).padStart(4, '0')}` : null,
      `corr-${issuerId}-${i}`,
    ];
  });
}

const COLUMNS =
  'operation_id, operation, status, error_code, start_time, end_time, requestor_type, requestor_id, issuer_id,' +
  ' consumer_id, consumer_key, account_number, source, caller_id, correlation_id';

describe('audit search: EXPLAIN on MariaDB', () => {
  let database: Database;
  const issuers = Array.from({ length: ISSUERS }, () => randomIssuerId());
  const target = issuers[0]!;

  beforeAll(async () => {
    database = await openDatabase();
    for (const [n, issuerId] of issuers.entries()) {
      const rows = rowsOf(issuerId, n * PER_ISSUER);
      for (let start = 0; start < rows.length; start += 500) {
        const chunk = rows.slice(start, start + 500);
        await database.transaction((manager) =>
          manager.query(
            `INSERT INTO operations (${COLUMNS}) VALUES ${chunk.map((row) => `(${row.map(() => '?').join(', ')})`).join(', ')}`,
            chunk.flat(),
          ),
        );
      }
    }
    await database.read((manager) => manager.query('ANALYZE TABLE operations'));
  }, 120_000);
  afterAll(async () => {
    await database.close();
  });

  const cases: [string, OperationFilter, string[]][] = [
    ['no filter', {}, ['ix_operations_issuer']],
    ['consumerId', { consumerId: 'C7' }, ['ix_operations_consumer']],
    ['accountId', { accountId: '4000000050' }, ['ix_operations_account']],
    ['operation', { operation: 'DELETE' }, ['ix_operations_operation']],
    ['status', { status: 'FAILED' }, ['ix_operations_status']],
    ['errorCode', { errorCode: 'ERR01133' }, ['ix_operations_error_code']],
    ['correlationId', { correlationId: `corr-${target}-7` }, ['ix_operations_correlation']],
    ['callerId', { callerId: '7204450050' }, ['ix_operations_caller']],
    ['source', { source: 'IVR' }, ['ix_operations_source']],
    // A time range is read either by start time, or backwards along the issuer's ids until the page is full.
    ['from', { from: new Date(BASE + 20 * 3_600_000) }, ['ix_operations_start_time', 'ix_operations_issuer']],
    ['to', { to: new Date(BASE + 2 * 3_600_000) }, ['ix_operations_start_time', 'ix_operations_issuer']],
  ];

  it.each(cases)(
    'when the search filters by %s alone, then EXPLAIN reads an index, never the whole table',
    async (_name, filter, keys) => {
      const plan = await database.read(async (manager) => {
        const { sql, parameters } = searchStatement(manager, target, filter, undefined, 51);
        return manager.query<ExplainRow[]>(`EXPLAIN ${sql}`, parameters);
      });
      expect(plan).toHaveLength(1);
      const [row] = plan;
      expect(row!.type).not.toBe('ALL');
      expect(keys).toContain(row!.key);
      // The index gives the newest-first order: no sort of the matches.
      if (filter.from === undefined && filter.to === undefined) expect(row!.Extra ?? '').not.toMatch(/filesort/);
    },
  );

  it.each(cases)(
    'when an export batch continues past a cursor with %s alone, then it reads one range of the index below the cursor, in order',
    async (_name, filter, keys) => {
      const plan = await database.read(async (manager) => {
        const [newest] = await manager.query<{ middle: number }[]>(
          'SELECT MAX(id) - 700 AS middle FROM operations WHERE issuer_id = ?',
          [target],
        );
        const { sql, parameters } = searchStatement(manager, target, filter, Number(newest!.middle), 1000);
        return manager.query<ExplainRow[]>(`EXPLAIN ${sql}`, parameters);
      });
      expect(plan).toHaveLength(1);
      const [row] = plan;
      // A ref on the index's prefix would read again every row newer than the cursor, batch after batch.
      expect(row!.type).toBe('range');
      expect(keys).toContain(row!.key);
      expect(row!.Extra ?? '').not.toMatch(/filesort/);
    },
  );
});
