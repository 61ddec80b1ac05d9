// Every statement about consumers. Each takes the unit of work's manager first.
import type { EntityManager } from 'typeorm';
import { Consumer } from '../db/entities';
import { rowInserter, select } from '../db/statements';
import { consumerKey } from './identifiers';

export interface ConsumerRow {
  id: number;
  /** As it was first registered. */
  consumerId: string;
}

const FIND_SQL = 'SELECT id, consumer_id AS consumerId FROM consumers WHERE issuer_id = ? AND consumer_key = ?';

export async function findConsumer(
  manager: EntityManager,
  issuerId: string,
  consumerId: string,
): Promise<ConsumerRow | undefined> {
  const [row] = await select<ConsumerRow>(manager, FIND_SQL, [issuerId, consumerKey(consumerId)]);
  return row === undefined ? undefined : { id: Number(row.id), consumerId: row.consumerId };
}

const insert = rowInserter(Consumer);

/** Returns the new consumer's id. */
export function insertConsumer(
  manager: EntityManager,
  issuerId: string,
  consumerId: string,
  at: Date,
): Promise<number> {
  return insert(manager, { issuerId, consumerId, consumerKey: consumerKey(consumerId), createdAt: at });
}
