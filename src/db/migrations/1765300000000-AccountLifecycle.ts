// Account lifecycle: the SUSPENDED state (9 characters), reuse of a deleted account's number and of a deleted
// consumer's id, and the consumer delete's operation kind (DELETE_CONSUMER, 15 characters).
//
// MySQL/MariaDB have no partial unique index, so "unique among the rows not deleted" is a nullable `live_key`: the
// number (or the consumer key) while the row is live, NULL once it is deleted; NULLs never collide in a UNIQUE index,
// on MySQL as on SQLite. Each step stands alone, since MySQL commits DDL implicitly: the new unique index is built
// before the old one is dropped, so no moment is without one.
import { type MigrationInterface, type QueryRunner, TableColumn, TableIndex } from 'typeorm';

const varchar = (name: string, length: number, isNullable = false) =>
  new TableColumn({ name, type: 'varchar', length: String(length), isNullable });

/**
 * Changes the length of a NOT NULL varchar, keeping its values and its indexes. TypeORM's changeColumn on MySQL drops
 * the column and adds it again when its length changes, which would empty it; MODIFY widens it in place. SQLite's
 * changeColumn copies the table, values and indexes included.
 */
async function resizeVarchar(queryRunner: QueryRunner, table: string, column: string, length: number): Promise<void> {
  const type = queryRunner.connection.options.type;
  if (type === 'mysql' || type === 'mariadb') {
    await queryRunner.query(`ALTER TABLE \`${table}\` MODIFY \`${column}\` varchar(${length}) NOT NULL`);
  } else {
    await queryRunner.changeColumn(table, column, varchar(column, length));
  }
}

/** What the schema before this migration cannot hold, each with the question that finds it. */
const UNREPRESENTABLE: [what: string, sql: string][] = [
  ['accounts in the SUSPENDED state', "SELECT COUNT(*) AS n FROM accounts WHERE state = 'SUSPENDED'"],
  [
    'account numbers registered again after a delete',
    'SELECT COUNT(*) AS n FROM (SELECT issuer_id FROM accounts GROUP BY issuer_id, account_number HAVING COUNT(*) > 1) d',
  ],
  ['deleted consumers', 'SELECT COUNT(*) AS n FROM consumers WHERE deleted_at IS NOT NULL'],
  ['consumer deletes in the audit trail', "SELECT COUNT(*) AS n FROM operations WHERE operation = 'DELETE_CONSUMER'"],
];

export class AccountLifecycle1765300000000 implements MigrationInterface {
  name = 'AccountLifecycle1765300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await resizeVarchar(queryRunner, 'accounts', 'state', 9);
    await queryRunner.addColumn('accounts', varchar('live_key', 19, true));
    await queryRunner.query("UPDATE accounts SET live_key = account_number WHERE state <> 'DELETED'");
    await queryRunner.createIndex(
      'accounts',
      new TableIndex({ name: 'uq_accounts_issuer_live_key', columnNames: ['issuer_id', 'live_key'], isUnique: true }),
    );
    await queryRunner.dropIndex('accounts', 'uq_accounts_issuer_number');
    await queryRunner.createIndex(
      'accounts',
      new TableIndex({ name: 'ix_accounts_issuer_number', columnNames: ['issuer_id', 'account_number'] }),
    );

    await queryRunner.addColumn('consumers', varchar('live_key', 30, true));
    await queryRunner.addColumn(
      'consumers',
      new TableColumn({ name: 'deleted_at', type: 'datetime', precision: 3, isNullable: true }),
    );
    await queryRunner.query('UPDATE consumers SET live_key = consumer_key');
    await queryRunner.createIndex(
      'consumers',
      new TableIndex({ name: 'uq_consumers_issuer_live_key', columnNames: ['issuer_id', 'live_key'], isUnique: true }),
    );
    await queryRunner.dropIndex('consumers', 'uq_consumers_issuer_key');
    await queryRunner.createIndex(
      'consumers',
      new TableIndex({ name: 'ix_consumers_issuer_key', columnNames: ['issuer_id', 'consumer_key'] }),
    );

    await resizeVarchar(queryRunner, 'operations', 'operation', 16);
  }

  /** Refuses, before changing anything, when the data holds what the earlier schema cannot. */
  async down(queryRunner: QueryRunner): Promise<void> {
    for (const [what, sql] of UNREPRESENTABLE) {
      const [row] = (await queryRunner.query(sql)) as { n: number | string }[];
      if (Number(row?.n ?? 0) > 0) {
        throw new Error(
          `AccountLifecycle cannot be reverted: the database holds ${what}, which the schema before it cannot`,
        );
      }
    }
    await resizeVarchar(queryRunner, 'operations', 'operation', 8);

    await queryRunner.createIndex(
      'consumers',
      new TableIndex({ name: 'uq_consumers_issuer_key', columnNames: ['issuer_id', 'consumer_key'], isUnique: true }),
    );
    await queryRunner.dropIndex('consumers', 'ix_consumers_issuer_key');
    await queryRunner.dropIndex('consumers', 'uq_consumers_issuer_live_key');
    await queryRunner.dropColumn('consumers', 'deleted_at');
    await queryRunner.dropColumn('consumers', 'live_key');

    await queryRunner.createIndex(
      'accounts',
      new TableIndex({
        name: 'uq_accounts_issuer_number',
        columnNames: ['issuer_id', 'account_number'],
        isUnique: true,
      }),
    );
    await queryRunner.dropIndex('accounts', 'ix_accounts_issuer_number');
    await queryRunner.dropIndex('accounts', 'uq_accounts_issuer_live_key');
    await queryRunner.dropColumn('accounts', 'live_key');
    await resizeVarchar(queryRunner, 'accounts', 'state', 8);
  }
}
