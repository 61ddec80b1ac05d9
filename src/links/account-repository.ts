// Every statement about accounts, and the one read of an account with its link and consumer. Each takes the unit of
// work's manager first.
import type { EntityManager } from 'typeorm';
import { Account, type AccountState } from '../db/entities';
import { execute, parseDbBoolean, persistentValue, rowInserter, select } from '../db/statements';

/** A registered account with its link and the consumer it is linked to (every account has exactly one link). */
export interface Registration {
  accountId: number;
  linkId: number;
  consumerId: string;
  consumerKey: string;
  isMain: boolean;
}

const REGISTRATION_SQL =
  'SELECT a.id AS accountId, l.id AS linkId, c.consumer_id AS consumerId, c.consumer_key AS consumerKey,' +
  ' l.is_main AS isMain' +
  ' FROM accounts a JOIN account_links l ON l.account_id = a.id JOIN consumers c ON c.id = l.consumer_id' +
  ' WHERE a.issuer_id = ? AND a.account_number = ?';

export async function findRegistration(
  manager: EntityManager,
  issuerId: string,
  accountNumber: string,
): Promise<Registration | undefined> {
  const [row] = await select<Omit<Registration, 'isMain'> & { isMain: unknown }>(manager, REGISTRATION_SQL, [
    issuerId,
    accountNumber,
  ]);
  if (row === undefined) return undefined;
  return { ...row, accountId: Number(row.accountId), linkId: Number(row.linkId), isMain: parseDbBoolean(row.isMain) };
}

const insert = rowInserter(Account);

export interface NewAccount {
  issuerId: string;
  accountNumber: string;
  productId: string | null;
  state: AccountState;
}

/** Returns the new account's id. */
export function insertAccount(manager: EntityManager, account: NewAccount, at: Date): Promise<number> {
  return insert(manager, { ...account, createdAt: at, updatedAt: at });
}

/**
 * Writes only when the state or the product changes: a repeated registration then changes no row, so on a cluster it
 * replicates nothing and cannot fail certification against a concurrent one. (The product may be NULL on either side;
 * COALESCE makes "unchanged" true or false, never NULL.)
 */
const UPDATE_SQL =
  'UPDATE accounts SET state = ?, product_id = ?, updated_at = ? WHERE id = ? AND NOT ' +
  '(state = ? AND COALESCE(product_id = ?, product_id IS NULL AND ? IS NULL))';

export async function updateAccount(
  manager: EntityManager,
  accountId: number,
  change: { state: AccountState; productId: string | null },
  at: Date,
): Promise<void> {
  const updatedAt = persistentValue(manager, Account, 'updatedAt', at);
  const { state, productId } = change;
  await execute(manager, UPDATE_SQL, [state, productId, updatedAt, accountId, state, productId, productId]);
}

const MARK_DELETED_SQL = "UPDATE accounts SET state = 'DELETED', updated_at = ? WHERE id = ?";

export async function markDeleted(manager: EntityManager, accountId: number, at: Date): Promise<void> {
  await execute(manager, MARK_DELETED_SQL, [persistentValue(manager, Account, 'updatedAt', at), accountId]);
}
