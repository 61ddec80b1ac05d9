// One name for the self-service user everywhere: the consumer (CoreCredit calls it SSUserID, the issuer API consumerId).
// Written with TypeORM's query-runner API, which alters tables on MySQL and rebuilds them on SQLite.
import { type MigrationInterface, type QueryRunner, TableForeignKey, TableIndex } from 'typeorm';

const names = {
  old: {
    table: 'ss_users',
    id: 'ss_user_id',
    key: 'ss_user_key',
    uniqueKey: 'uq_ss_users_issuer_key',
    linkColumn: 'user_id',
    mainColumn: 'main_of_user_id',
    linkIndex: 'ix_account_links_user',
    mainIndex: 'uq_account_links_main_of_user',
    foreignKey: 'fk_account_links_user',
  },
  new: {
    table: 'consumers',
    id: 'consumer_id',
    key: 'consumer_key',
    uniqueKey: 'uq_consumers_issuer_key',
    linkColumn: 'consumer_id',
    mainColumn: 'main_of_consumer_id',
    linkIndex: 'ix_account_links_consumer',
    mainIndex: 'uq_account_links_main_of_consumer',
    foreignKey: 'fk_account_links_consumer',
  },
};

type Names = (typeof names)['old'];

async function rename(queryRunner: QueryRunner, from: Names, to: Names): Promise<void> {
  await queryRunner.dropForeignKey('account_links', from.foreignKey);
  await queryRunner.dropIndex('account_links', from.linkIndex);
  await queryRunner.dropIndex('account_links', from.mainIndex);
  await queryRunner.renameColumn('account_links', from.linkColumn, to.linkColumn);
  await queryRunner.renameColumn('account_links', from.mainColumn, to.mainColumn);

  await queryRunner.dropIndex(from.table, from.uniqueKey);
  await queryRunner.renameTable(from.table, to.table);
  await queryRunner.renameColumn(to.table, from.id, to.id);
  await queryRunner.renameColumn(to.table, from.key, to.key);
  await queryRunner.createIndex(
    to.table,
    new TableIndex({ name: to.uniqueKey, columnNames: ['issuer_id', to.key], isUnique: true }),
  );

  await queryRunner.createIndex('account_links', new TableIndex({ name: to.linkIndex, columnNames: [to.linkColumn] }));
  await queryRunner.createIndex(
    'account_links',
    new TableIndex({ name: to.mainIndex, columnNames: [to.mainColumn], isUnique: true }),
  );
  await queryRunner.createForeignKey(
    'account_links',
    new TableForeignKey({
      name: to.foreignKey,
      columnNames: [to.linkColumn],
      referencedTableName: to.table,
      referencedColumnNames: ['id'],
      onDelete: 'NO ACTION',
      onUpdate: 'NO ACTION',
    }),
  );
}

export class ConsumerVocabulary1764600000000 implements MigrationInterface {
  name = 'ConsumerVocabulary1764600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await rename(queryRunner, names.old, names.new);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await rename(queryRunner, names.new, names.old);
  }
}
