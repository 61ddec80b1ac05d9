// Table mappings. Column types are explicit so the same entities serve MySQL/MariaDB and SQLite.
import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';

export type AccountState = 'ACTIVE' | 'INACTIVE' | 'SUSPENDED' | 'CLOSED' | 'DELETED';
export type OperationKind = 'REGISTER' | 'DELINK' | 'LINK' | 'DELETE' | 'DELETE_CONSUMER' | 'PURGE';
export type OperationStatus = 'SUCCESSFUL' | 'FAILED';
/** SYSTEM: the service itself (the retention purge). */
export type RequestorType = 'USER' | 'ISSUER' | 'SYSTEM';

/**
 * A consumer (a self-service user) of one issuer: CoreCredit's SSUserID, the issuer API's consumerId. `consumerKey` is
 * the lower-cased id: matching never depends on collation. A deleted consumer's row stays (its links and operations
 * keep pointing at it); `liveKey` is the key while the consumer is not deleted and NULL once it is, so that its
 * unique index holds one live consumer per id and the id can be registered again.
 */
@Entity('consumers')
@Index('uq_consumers_issuer_live_key', ['issuerId', 'liveKey'], { unique: true })
@Index('ix_consumers_issuer_key', ['issuerId', 'consumerKey'])
export class Consumer {
  @PrimaryGeneratedColumn({ type: 'int' })
  id!: number;

  @Column({ name: 'issuer_id', type: 'varchar', length: 10 })
  issuerId!: string;

  /** The consumer id as it was first registered. */
  @Column({ name: 'consumer_id', type: 'varchar', length: 30 })
  consumerId!: string;

  @Column({ name: 'consumer_key', type: 'varchar', length: 30 })
  consumerKey!: string;

  @Column({ name: 'live_key', type: 'varchar', length: 30, nullable: true })
  liveKey!: string | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;

  @Column({ name: 'deleted_at', type: 'datetime', precision: 3, nullable: true })
  deletedAt!: Date | null;
}

/**
 * An account of one issuer. A DELETED account's row stays for the history; its number may be registered again, as a
 * new row. `liveKey` is the number while the account is not DELETED and NULL once it is: its unique index holds one
 * live account per number (MySQL has no partial index; NULLs never collide).
 */
@Entity('accounts')
@Index('uq_accounts_issuer_live_key', ['issuerId', 'liveKey'], { unique: true })
@Index('ix_accounts_issuer_number', ['issuerId', 'accountNumber'])
export class Account {
  @PrimaryGeneratedColumn({ type: 'int' })
  id!: number;

  @Column({ name: 'issuer_id', type: 'varchar', length: 10 })
  issuerId!: string;

  @Column({ name: 'account_number', type: 'varchar', length: 19 })
  accountNumber!: string;

  @Column({ name: 'product_id', type: 'varchar', length: 64, nullable: true })
  productId!: string | null;

  @Column({ name: 'live_key', type: 'varchar', length: 19, nullable: true })
  liveKey!: string | null;

  @Column({ name: 'state', type: 'varchar', length: 9 })
  state!: AccountState;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'datetime', precision: 3 })
  updatedAt!: Date;
}

/**
 * An account shown under a consumer. One row per account for the life of the account: a delink sets `delinkedAt`,
 * a re-link clears it. `mainOfConsumerId` equals `consumerId` on the main link and is NULL elsewhere; its unique
 * index lets the database itself refuse a second main account for a consumer.
 */
@Entity('account_links')
@Index('ix_account_links_consumer', ['consumerId'])
export class AccountLink {
  @PrimaryGeneratedColumn({ type: 'int' })
  id!: number;

  @Index('uq_account_links_account', { unique: true })
  @Column({ name: 'account_id', type: 'int' })
  accountId!: number;

  @ManyToOne(() => Account, { nullable: false })
  @JoinColumn({ name: 'account_id', foreignKeyConstraintName: 'fk_account_links_account' })
  account?: Account;

  @Column({ name: 'consumer_id', type: 'int' })
  consumerId!: number;

  @ManyToOne(() => Consumer, { nullable: false })
  @JoinColumn({ name: 'consumer_id', foreignKeyConstraintName: 'fk_account_links_consumer' })
  consumer?: Consumer;

  @Column({ name: 'is_main', type: 'boolean' })
  isMain!: boolean;

  @Index('uq_account_links_main_of_consumer', { unique: true })
  @Column({ name: 'main_of_consumer_id', type: 'int', nullable: true })
  mainOfConsumerId!: number | null;

  @Column({ name: 'linked_at', type: 'datetime', precision: 3 })
  linkedAt!: Date;

  @Column({ name: 'delinked_at', type: 'datetime', precision: 3, nullable: true })
  delinkedAt!: Date | null;
}

/**
 * The audit trail: one row per state-changing request that passed authentication and validation, and one per
 * retention purge. Every search filter has an index led by the issuer and ending in the id, so that a filter and
 * the newest-first order are read from one index (OperationSearch migration).
 */
@Entity('operations')
@Index('ix_operations_consumer', ['issuerId', 'consumerKey', 'id'])
@Index('ix_operations_issuer', ['issuerId', 'id'])
@Index('ix_operations_account', ['issuerId', 'accountNumber', 'id'])
@Index('ix_operations_caller', ['issuerId', 'callerId', 'id'])
@Index('ix_operations_correlation', ['issuerId', 'correlationId', 'id'])
@Index('ix_operations_operation', ['issuerId', 'operation', 'id'])
@Index('ix_operations_status', ['issuerId', 'status', 'id'])
@Index('ix_operations_error_code', ['issuerId', 'errorCode', 'id'])
@Index('ix_operations_source', ['issuerId', 'source', 'id'])
@Index('ix_operations_start_time', ['issuerId', 'startTime'])
export class Operation {
  /** Insertion order: breaks ties between operations recorded in the same millisecond. */
  @PrimaryGeneratedColumn({ type: 'integer' })
  id!: number;

  @Index('uq_operations_operation_id', { unique: true })
  @Column({ name: 'operation_id', type: 'varchar', length: 36 })
  operationId!: string;

  @Column({ name: 'operation', type: 'varchar', length: 16 })
  operation!: OperationKind;

  @Column({ name: 'status', type: 'varchar', length: 10 })
  status!: OperationStatus;

  @Column({ name: 'error_code', type: 'varchar', length: 8, nullable: true })
  errorCode!: string | null;

  @Column({ name: 'start_time', type: 'datetime', precision: 3 })
  startTime!: Date;

  @Column({ name: 'end_time', type: 'datetime', precision: 3 })
  endTime!: Date;

  @Column({ name: 'requestor_type', type: 'varchar', length: 6 })
  requestorType!: RequestorType;

  @Column({ name: 'requestor_id', type: 'varchar', length: 255, nullable: true })
  requestorId!: string | null;

  @Column({ name: 'issuer_id', type: 'varchar', length: 10 })
  issuerId!: string;

  /** The consumer as the request named it; NULL when the request named an unknown account only. */
  @Column({ name: 'consumer_id', type: 'varchar', length: 30, nullable: true })
  consumerId!: string | null;

  @Column({ name: 'consumer_key', type: 'varchar', length: 30, nullable: true })
  consumerKey!: string | null;

  @Column({ name: 'account_number', type: 'varchar', length: 19, nullable: true })
  accountNumber!: string | null;

  @Column({ name: 'reason', type: 'varchar', length: 64, nullable: true })
  reason!: string | null;

  @Column({ name: 'reason_code', type: 'varchar', length: 16, nullable: true })
  reasonCode!: string | null;

  @Column({ name: 'source', type: 'varchar', length: 50, nullable: true })
  source!: string | null;

  @Column({ name: 'session_id', type: 'varchar', length: 100, nullable: true })
  sessionId!: string | null;

  @Column({ name: 'ip_address', type: 'varchar', length: 15, nullable: true })
  ipAddress!: string | null;

  @Column({ name: 'external_ip', type: 'varchar', length: 50, nullable: true })
  externalIp!: string | null;

  @Column({ name: 'caller_id', type: 'varchar', length: 20, nullable: true })
  callerId!: string | null;

  @Column({ name: 'called_id', type: 'varchar', length: 20, nullable: true })
  calledId!: string | null;

  @Column({ name: 'correlation_id', type: 'varchar', length: 64 })
  correlationId!: string;
}

export type IdempotencyState = 'IN_PROGRESS' | 'DONE';

/**
 * One Idempotency-Key of one caller. `keyHash` identifies (issuer, caller, key); `requestHash` the request it first
 * came with. The stored response is replayed for the same request; rows past their retention are purged.
 */
@Entity('idempotency_keys')
export class IdempotencyKey {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id!: number;

  @Index('uq_idempotency_keys_key_hash', { unique: true })
  @Column({ name: 'key_hash', type: 'varchar', length: 64 })
  keyHash!: string;

  @Column({ name: 'request_hash', type: 'varchar', length: 64 })
  requestHash!: string;

  @Column({ name: 'state', type: 'varchar', length: 12 })
  state!: IdempotencyState;

  @Column({ name: 'response_status', type: 'integer', nullable: true })
  responseStatus!: number | null;

  @Column({ name: 'response_body', type: 'text', nullable: true })
  responseBody!: string | null;

  /** The ErrorCode the stored response carried, so that a replay is counted as the first answer was. */
  @Column({ name: 'error_code', type: 'varchar', length: 8, nullable: true })
  errorCode!: string | null;

  @Index('ix_idempotency_keys_created_at')
  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;
}

export type WebhookState = 'ACTIVE' | 'DISABLED' | 'DELETED';
export type DeliveryState = 'PENDING' | 'DELIVERED' | 'FAILED' | 'CANCELLED';

/** The outbox: one row per state change, written in the change's transaction. `body` is the JSON as delivered. */
@Entity('events')
@Index('ix_events_issuer', ['issuerId', 'id'])
export class OutboxEvent {
  /** Insertion order: the feed's cursor. */
  @PrimaryGeneratedColumn({ type: 'integer' })
  id!: number;

  @Index('uq_events_event_id', { unique: true })
  @Column({ name: 'event_id', type: 'varchar', length: 40 })
  eventId!: string;

  @Column({ name: 'issuer_id', type: 'varchar', length: 10 })
  issuerId!: string;

  @Column({ name: 'type', type: 'varchar', length: 32 })
  type!: string;

  @Column({ name: 'body', type: 'text' })
  body!: string;

  @Index('ix_events_created_at')
  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;
}

/** A subscription of an issuer: where to POST which event types, signed with its secret. */
@Entity('webhooks')
@Index('ix_webhooks_issuer', ['issuerId', 'id'])
export class Webhook {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id!: number;

  @Index('uq_webhooks_webhook_id', { unique: true })
  @Column({ name: 'webhook_id', type: 'varchar', length: 40 })
  webhookId!: string;

  @Column({ name: 'issuer_id', type: 'varchar', length: 10 })
  issuerId!: string;

  @Column({ name: 'url', type: 'varchar', length: 2048 })
  url!: string;

  /** Comma-separated with a comma at each end (`,account.delinked,`), so that a LIKE matches one type exactly. */
  @Column({ name: 'event_types', type: 'varchar', length: 255 })
  eventTypes!: string;

  @Column({ name: 'secret', type: 'varchar', length: 64 })
  secret!: string;

  @Column({ name: 'state', type: 'varchar', length: 8 })
  state!: WebhookState;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;
}

/** One event owed to one subscription. A worker claims it by setting a lease (`claimedUntil`, `claimToken`). */
@Entity('deliveries')
@Index('uq_deliveries_event_webhook', ['eventRowId', 'webhookRowId'], { unique: true })
@Index('ix_deliveries_due', ['state', 'nextAttemptAt'])
export class Delivery {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id!: number;

  @Column({ name: 'event_row_id', type: 'integer' })
  eventRowId!: number;

  @Column({ name: 'webhook_row_id', type: 'integer' })
  webhookRowId!: number;

  @Column({ name: 'state', type: 'varchar', length: 10 })
  state!: DeliveryState;

  @Column({ name: 'attempts', type: 'integer' })
  attempts!: number;

  @Column({ name: 'next_attempt_at', type: 'datetime', precision: 3 })
  nextAttemptAt!: Date;

  @Column({ name: 'claimed_until', type: 'datetime', precision: 3, nullable: true })
  claimedUntil!: Date | null;

  @Column({ name: 'claim_token', type: 'varchar', length: 36, nullable: true })
  claimToken!: string | null;
}

/** One POST of a delivery: when, the status it got (or the error), how long it took. */
@Entity('delivery_attempts')
@Index('ix_delivery_attempts_delivery', ['deliveryId', 'id'])
export class DeliveryAttempt {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id!: number;

  @Column({ name: 'delivery_id', type: 'integer' })
  deliveryId!: number;

  @Column({ name: 'attempted_at', type: 'datetime', precision: 3 })
  attemptedAt!: Date;

  @Column({ name: 'status_code', type: 'integer', nullable: true })
  statusCode!: number | null;

  @Column({ name: 'error', type: 'varchar', length: 255, nullable: true })
  error!: string | null;

  @Column({ name: 'duration_ms', type: 'integer' })
  durationMs!: number;
}

export const ENTITIES = [
  Consumer,
  Account,
  AccountLink,
  Operation,
  IdempotencyKey,
  OutboxEvent,
  Webhook,
  Delivery,
  DeliveryAttempt,
];
