// The audit search: an index per filter, each led by the issuer and ending in the id, so that one filter and the
// newest-first order (id DESC) are read from one index; the time range and the retention purge use start_time.
import { type MigrationInterface, type QueryRunner, TableIndex } from 'typeorm';

const INDEXES: [name: string, columns: string[]][] = [
  ['ix_operations_issuer', ['issuer_id', 'id']],
  ['ix_operations_account', ['issuer_id', 'account_number', 'id']],
  ['ix_operations_caller', ['issuer_id', 'caller_id', 'id']],
  ['ix_operations_correlation', ['issuer_id', 'correlation_id', 'id']],
  ['ix_operations_operation', ['issuer_id', 'operation', 'id']],
  ['ix_operations_status', ['issuer_id', 'status', 'id']],
  ['ix_operations_error_code', ['issuer_id', 'error_code', 'id']],
  ['ix_operations_source', ['issuer_id', 'source', 'id']],
  ['ix_operations_start_time', ['issuer_id', 'start_time']],
];

export class OperationSearch1765100000000 implements MigrationInterface {
  name = 'OperationSearch1765100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // One index per statement: on MySQL each DDL commits by itself, and a failed one leaves the others in place.
    for (const [name, columnNames] of INDEXES)
      await queryRunner.createIndex('operations', new TableIndex({ name, columnNames }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const [name] of [...INDEXES].reverse()) await queryRunner.dropIndex('operations', name);
  }
}
