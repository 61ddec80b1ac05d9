import { randomUUID } from 'node:crypto';
import { createDatabase } from '../src/db/database';
import { Account } from '../src/db/entities';
import { execute, forUpdate, parseDbDate, persistentValue } from '../src/db/statements';
import { onMariaDb, openDatabase, testDatabase } from './helpers/context';
import { scratchDatabase } from './helpers/scratch-database';

describe('migrations', () => {
  it(`when every migration has run, then the schema is exactly what the entities describe, and it reverts cleanly (${onMariaDb ? 'MariaDB' : 'SQLite'})`, async () => {
    // A scratch database of this test's own, so reverting migrations never disturbs the other test files.
    const scratch = await scratchDatabase('schema');
    const db = createDatabase(scratch.config);
    const { dataSource } = db;
    await db.initialize();
    try {
      expect(await db.migrate()).toEqual([
        'InitialSchema1763700000000',
        'IdempotencyKeys1763800000000',
        'ConsumerVocabulary1764600000000',
        'IdempotencyErrorCode1764600100000',
        'EventsOutbox1765000000000',
        'OperationSearch1765100000000',
        'AccountLifecycle1765300000000',
      ]);
      const pending = await dataSource.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);

      await dataSource.undoLastMigration({ transaction: 'each' });
      const lifecycleReverted = dataSource.createQueryRunner();
      expect(await lifecycleReverted.hasColumn('accounts', 'live_key')).toBe(false);
      expect(await lifecycleReverted.hasColumn('consumers', 'deleted_at')).toBe(false);
      await lifecycleReverted.release();

      // Rows written before the lifecycle migration keep every value through it: state, operation kind, and the links;
      // the live keys are filled from them.
      const at = '2026-01-01 00:00:00.000';
      await dataSource.query(
        `INSERT INTO consumers (issuer_id, consumer_id, consumer_key, created_at) VALUES ('SCHEMATEST', 'Ann', 'ann', '${at}')`,
      );
      await dataSource.query(
        `INSERT INTO accounts (issuer_id, account_number, product_id, state, created_at, updated_at) VALUES ('SCHEMATEST', '4000', NULL, 'INACTIVE', '${at}', '${at}'), ('SCHEMATEST', '4001', NULL, 'DELETED', '${at}', '${at}')`,
      );
      await dataSource.query(
        `INSERT INTO account_links (account_id, consumer_id, is_main, main_of_consumer_id, linked_at, delinked_at) SELECT a.id, c.id, 1, c.id, '${at}', NULL FROM accounts a, consumers c WHERE a.account_number = '4000'`,
      );
      await dataSource.query(
        `INSERT INTO operations (operation_id, operation, status, start_time, end_time, requestor_type, issuer_id, correlation_id) VALUES ('${randomUUID()}', 'DELETE', 'SUCCESSFUL', '${at}', '${at}', 'ISSUER', 'SCHEMATEST', 'kept')`,
      );
      await dataSource.runMigrations({ transaction: 'each' });
      expect(
        await dataSource.query<unknown[]>(
          'SELECT account_number, state, live_key FROM accounts ORDER BY account_number',
        ),
      ).toEqual([
        { account_number: '4000', state: 'INACTIVE', live_key: '4000' },
        { account_number: '4001', state: 'DELETED', live_key: null },
      ]);
      expect(await dataSource.query<unknown[]>('SELECT consumer_key, live_key FROM consumers')).toEqual([
        { consumer_key: 'ann', live_key: 'ann' },
      ]);
      expect(await dataSource.query<unknown[]>('SELECT operation, correlation_id FROM operations')).toEqual([
        { operation: 'DELETE', correlation_id: 'kept' },
      ]);
      expect(Number((await dataSource.query<{ n: unknown }[]>('SELECT COUNT(*) AS n FROM account_links'))[0]!.n)).toBe(
        1,
      );
      // The rows go before the revert: on SQLite, TypeORM drops a column by copying its table, which the links'
      // foreign keys refuse while rows point at it.
      await dataSource.query('DELETE FROM operations');
      await dataSource.query('DELETE FROM account_links');
      await dataSource.query('DELETE FROM accounts');
      await dataSource.query('DELETE FROM consumers');
      await dataSource.undoLastMigration({ transaction: 'each' });
      await dataSource.undoLastMigration({ transaction: 'each' });
      await dataSource.undoLastMigration({ transaction: 'each' });
      // Back to the first schema, whose table names the vocabulary migration changed, then away altogether.
      await dataSource.undoLastMigration({ transaction: 'each' });
      await dataSource.undoLastMigration({ transaction: 'each' });
      const reverted = dataSource.createQueryRunner();
      expect(await reverted.hasTable('ss_users')).toBe(true);
      expect(await reverted.hasColumn('account_links', 'user_id')).toBe(true);
      await reverted.release();
      await dataSource.undoLastMigration({ transaction: 'each' });
      await dataSource.undoLastMigration({ transaction: 'each' });
      const runner = dataSource.createQueryRunner();
      expect(await runner.hasTable('idempotency_keys')).toBe(false);
      expect(await runner.hasTable('account_links')).toBe(false);
      await runner.release();

      await dataSource.runMigrations({ transaction: 'each' });
      expect(await dataSource.showMigrations()).toBe(false);
      await dataSource.query(
        `INSERT INTO consumers (issuer_id, consumer_id, consumer_key, live_key, created_at) VALUES ('SCHEMATEST', 'A${randomUUID().slice(0, 8)}', 'a', 'a', '2026-01-01 00:00:00.000')`,
      );
    } finally {
      await db.close();
      await scratch.drop();
    }
  });

  it('when a migration fails, then those before it stay applied and recorded, and the next run applies the rest', async () => {
    const scratch = await scratchDatabase('halfway');
    const db = createDatabase(scratch.config);
    await db.initialize();
    try {
      // A table in the way of the events migration's first statement, as an operator's leftover would be.
      await db.dataSource.query('CREATE TABLE events (id INTEGER)');
      await expect(db.migrate()).rejects.toThrow(/events/);
      const recorded = await db.dataSource.query<{ name: string }[]>('SELECT name FROM migrations ORDER BY id');
      expect(recorded.map((row) => row.name)).toEqual([
        'InitialSchema1763700000000',
        'IdempotencyKeys1763800000000',
        'ConsumerVocabulary1764600000000',
        'IdempotencyErrorCode1764600100000',
      ]);
      const runner = db.dataSource.createQueryRunner();
      expect(await runner.hasTable('idempotency_keys')).toBe(true);
      await runner.release();

      await db.dataSource.query('DROP TABLE events');
      expect(await db.migrate()).toEqual([
        'EventsOutbox1765000000000',
        'OperationSearch1765100000000',
        'AccountLifecycle1765300000000',
      ]);
    } finally {
      await db.close();
      await scratch.drop();
    }
  });
});

// The repositories' one way to SQL (src/db/statements.ts) and the schema it reads: what a change to a repository
// is told when it uses them wrongly, and how a stored datetime reads back on either database.
describe('the statements of the repositories', () => {
  it('when a write is run outside a unit of work, or names a column the schema does not have, then it is refused at once', async () => {
    const database = await openDatabase();
    try {
      await expect(execute(database.dataSource.manager, 'DELETE FROM accounts WHERE id = ?', [0])).rejects.toThrow(
        'statements run inside a unit of work',
      );
      expect(() => persistentValue(database.dataSource.manager, Account, 'balance', 1)).toThrow('no column balance');
    } finally {
      await database.close();
    }
  });

  it('when the server is reached by a mysql: or a mariadb: URL, then a locking read locks its rows; SQLite needs no lock', async () => {
    const config = testDatabase();
    const configs =
      config.kind === 'mysql' ? (['mysql', 'mariadb'] as const).map((flavor) => ({ ...config, flavor })) : [config];
    for (const options of configs) {
      const database = await openDatabase(options);
      try {
        expect(forUpdate(database.dataSource.manager)).toBe(onMariaDb ? ' FOR UPDATE' : '');
      } finally {
        await database.close();
      }
      // Closed, it holds no connection.
      expect(database.dataSource.isInitialized).toBe(false);
    }
  });

  it('when a database is closed twice, or closed before it ever opened, then closing is quiet', async () => {
    const opened = await openDatabase();
    await opened.close();
    await expect(opened.close()).resolves.toBeUndefined();
    // A server whose start failed before the database opened closes it all the same, on its way out.
    await expect(createDatabase(testDatabase()).close()).resolves.toBeUndefined();
  });

  it('when a datetime comes back as SQLite stores it (UTC text), then it reads as that instant; a Date is kept', () => {
    expect(parseDbDate('2026-01-15 10:00:00.250').toISOString()).toBe('2026-01-15T10:00:00.250Z');
    const date = new Date('2026-01-15T10:00:00.250Z');
    expect(parseDbDate(date)).toBe(date);
  });
});
