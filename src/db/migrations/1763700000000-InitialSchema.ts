// Users, accounts, links and the operations trail. Written with TypeORM's Table API so it runs on MySQL and SQLite.
import { MigrationInterface, QueryRunner, Table, TableForeignKey, TableIndex } from 'typeorm';

const id = {
  name: 'id',
  type: 'integer',
  isPrimary: true,
  isGenerated: true,
  generationStrategy: 'increment' as const,
};
const issuerId = { name: 'issuer_id', type: 'varchar', length: '10' };
const timestamp = (name: string, isNullable = false) => ({ name, type: 'datetime', precision: 3, isNullable });
const text = (name: string, length: number, isNullable = true) => ({
  name,
  type: 'varchar',
  length: String(length),
  isNullable,
});

export class InitialSchema1763700000000 implements MigrationInterface {
  name = 'InitialSchema1763700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'ss_users',
        columns: [id, issuerId, text('ss_user_id', 30, false), text('ss_user_key', 30, false), timestamp('created_at')],
        indices: [
          new TableIndex({ name: 'uq_ss_users_issuer_key', columnNames: ['issuer_id', 'ss_user_key'], isUnique: true }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'accounts',
        columns: [
          id,
          issuerId,
          text('account_number', 19, false),
          text('product_id', 64),
          text('state', 8, false),
          timestamp('created_at'),
          timestamp('updated_at'),
        ],
        indices: [
          new TableIndex({
            name: 'uq_accounts_issuer_number',
            columnNames: ['issuer_id', 'account_number'],
            isUnique: true,
          }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'account_links',
        columns: [
          id,
          { name: 'account_id', type: 'integer' },
          { name: 'user_id', type: 'integer' },
          { name: 'is_main', type: 'boolean' },
          { name: 'main_of_user_id', type: 'integer', isNullable: true },
          timestamp('linked_at'),
          timestamp('delinked_at', true),
        ],
        indices: [
          new TableIndex({ name: 'uq_account_links_account', columnNames: ['account_id'], isUnique: true }),
          new TableIndex({ name: 'uq_account_links_main_of_user', columnNames: ['main_of_user_id'], isUnique: true }),
          new TableIndex({ name: 'ix_account_links_user', columnNames: ['user_id'] }),
        ],
        foreignKeys: [
          new TableForeignKey({
            name: 'fk_account_links_account',
            columnNames: ['account_id'],
            referencedTableName: 'accounts',
            referencedColumnNames: ['id'],
            onDelete: 'NO ACTION',
            onUpdate: 'NO ACTION',
          }),
          new TableForeignKey({
            name: 'fk_account_links_user',
            columnNames: ['user_id'],
            referencedTableName: 'ss_users',
            referencedColumnNames: ['id'],
            onDelete: 'NO ACTION',
            onUpdate: 'NO ACTION',
          }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'operations',
        columns: [
          id,
          text('operation_id', 36, false),
          text('operation', 8, false),
          text('status', 10, false),
          text('error_code', 8),
          timestamp('start_time'),
          timestamp('end_time'),
          text('requestor_type', 6, false),
          text('requestor_id', 255),
          issuerId,
          text('consumer_id', 30),
          text('consumer_key', 30),
          text('account_number', 19),
          text('reason', 64),
          text('reason_code', 16),
          text('source', 50),
          text('session_id', 100),
          text('ip_address', 15),
          text('external_ip', 50),
          text('caller_id', 20),
          text('called_id', 20),
          text('correlation_id', 64, false),
        ],
        indices: [
          new TableIndex({ name: 'uq_operations_operation_id', columnNames: ['operation_id'], isUnique: true }),
          new TableIndex({ name: 'ix_operations_consumer', columnNames: ['issuer_id', 'consumer_key', 'id'] }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('operations');
    await queryRunner.dropTable('account_links');
    await queryRunner.dropTable('accounts');
    await queryRunner.dropTable('ss_users');
  }
}
