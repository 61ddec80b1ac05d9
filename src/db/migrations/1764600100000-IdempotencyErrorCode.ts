// A replayed response counts under the ErrorCode it first carried, so the stored response keeps it.
import { type MigrationInterface, type QueryRunner, TableColumn } from 'typeorm';

export class IdempotencyErrorCode1764600100000 implements MigrationInterface {
  name = 'IdempotencyErrorCode1764600100000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn(
      'idempotency_keys',
      new TableColumn({ name: 'error_code', type: 'varchar', length: '8', isNullable: true }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('idempotency_keys', 'error_code');
  }
}
