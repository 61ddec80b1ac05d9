import { randomUUID } from 'node:crypto';
import { createDatabase } from '../src/db/database';
import { onMariaDb } from './helpers/context';
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
});
