// The transactional outbox: events written with their change, the issuers' webhook subscriptions, one delivery per
// event and subscription, and each attempt of a delivery. No foreign keys: the retention purge deletes in batches.
import { type MigrationInterface, type QueryRunner, Table, TableIndex } from 'typeorm';

const id = {
  name: 'id',
  type: 'integer',
  isPrimary: true,
  isGenerated: true,
  generationStrategy: 'increment',
} as const;
const at = (name: string, isNullable = false) => ({ name, type: 'datetime', precision: 3, isNullable });

export class EventsOutbox1765000000000 implements MigrationInterface {
  name = 'EventsOutbox1765000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'events',
        columns: [
          id,
          { name: 'event_id', type: 'varchar', length: '40' },
          { name: 'issuer_id', type: 'varchar', length: '10' },
          { name: 'type', type: 'varchar', length: '32' },
          { name: 'body', type: 'text' },
          at('created_at'),
        ],
        indices: [
          new TableIndex({ name: 'uq_events_event_id', columnNames: ['event_id'], isUnique: true }),
          new TableIndex({ name: 'ix_events_issuer', columnNames: ['issuer_id', 'id'] }),
          new TableIndex({ name: 'ix_events_created_at', columnNames: ['created_at'] }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'webhooks',
        columns: [
          id,
          { name: 'webhook_id', type: 'varchar', length: '40' },
          { name: 'issuer_id', type: 'varchar', length: '10' },
          { name: 'url', type: 'varchar', length: '2048' },
          { name: 'event_types', type: 'varchar', length: '255' },
          { name: 'secret', type: 'varchar', length: '64' },
          { name: 'state', type: 'varchar', length: '8' },
          at('created_at'),
        ],
        indices: [
          new TableIndex({ name: 'uq_webhooks_webhook_id', columnNames: ['webhook_id'], isUnique: true }),
          new TableIndex({ name: 'ix_webhooks_issuer', columnNames: ['issuer_id', 'id'] }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'deliveries',
        columns: [
          id,
          { name: 'event_row_id', type: 'integer' },
          { name: 'webhook_row_id', type: 'integer' },
          { name: 'state', type: 'varchar', length: '10' },
          { name: 'attempts', type: 'integer' },
          at('next_attempt_at'),
          at('claimed_until', true),
          { name: 'claim_token', type: 'varchar', length: '36', isNullable: true },
        ],
        indices: [
          new TableIndex({
            name: 'uq_deliveries_event_webhook',
            columnNames: ['event_row_id', 'webhook_row_id'],
            isUnique: true,
          }),
          new TableIndex({ name: 'ix_deliveries_due', columnNames: ['state', 'next_attempt_at'] }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'delivery_attempts',
        columns: [
          id,
          { name: 'delivery_id', type: 'integer' },
          at('attempted_at'),
          { name: 'status_code', type: 'integer', isNullable: true },
          { name: 'error', type: 'varchar', length: '255', isNullable: true },
          { name: 'duration_ms', type: 'integer' },
        ],
        indices: [new TableIndex({ name: 'ix_delivery_attempts_delivery', columnNames: ['delivery_id', 'id'] })],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['delivery_attempts', 'deliveries', 'webhooks', 'events']) await queryRunner.dropTable(table);
  }
}
