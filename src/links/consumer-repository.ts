// Every statement about consumers. Each takes the unit of work's manager first. A consumer is looked up among the
// live ones only (`live_key`): a deleted consumer's row stays for the history, and its id may be registered again.
import type { EntityManager } from 'typeorm';
import { Consumer } from '../db/entities';
import { execute, forUpdate, persistentValue, rowInserter, select } from '../db/statements';
import { consumerKey } from './identifiers';

export interface ConsumerRow {
  id: number;
  /** As it was first registered. */
  consumerId: string;
}

const FIND_SQL = 'SELECT id, consumer_id AS consumerId FROM consumers WHERE issuer_id = ? AND live_key = ?';

/** The live consumer with this id (case-insensitive), if any. */
export async function findConsumer(
  manager: EntityManager,
  issuerId: string,
  consumerId: string,
): Promise<ConsumerRow | undefined> {
  const [row] = await select<ConsumerRow>(manager, FIND_SQL, [issuerId, consumerKey(consumerId)]);
  return row === undefined ? undefined : { id: Number(row.id), consumerId: row.consumerId };
}

const LOCK_LIVE_SQL = 'SELECT id FROM consumers WHERE id = ? AND live_key IS NOT NULL';

/**
 * Locks a consumer found by a plain read and tells whether it is still live: a consumer delete that committed since
 * the read has ended it. An account is then never linked to a consumer that a concurrent delete just ended.
 */
export async function lockLiveConsumer(manager: EntityManager, consumerRowId: number): Promise<boolean> {
  return (await select(manager, LOCK_LIVE_SQL + forUpdate(manager), [consumerRowId])).length === 1;
}

const insert = rowInserter(Consumer);

/** Returns the new consumer's id. A live consumer with the same id makes it fail on the unique key. */
export function insertConsumer(
  manager: EntityManager,
  issuerId: string,
  consumerId: string,
  at: Date,
): Promise<number> {
  const key = consumerKey(consumerId);
  return insert(manager, { issuerId, consumerId, consumerKey: key, liveKey: key, createdAt: at, deletedAt: null });
}

const MARK_DELETED_SQL = 'UPDATE consumers SET live_key = NULL, deleted_at = ? WHERE id = ? AND live_key IS NOT NULL';

/**
 * Ends a live consumer: one conditional UPDATE, so that of two concurrent deletes only one ends it. Returns whether
 * this one did.
 */
export async function markConsumerDeleted(manager: EntityManager, consumerRowId: number, at: Date): Promise<boolean> {
  const deletedAt = persistentValue(manager, Consumer, 'deletedAt', at);
  return (await execute(manager, MARK_DELETED_SQL, [deletedAt, consumerRowId])) === 1;
}
