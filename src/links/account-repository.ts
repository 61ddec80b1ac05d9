// Every statement about accounts, and the one read of an account with its link and consumer. Each takes the unit of
// work's manager first. An account is looked up by its number among the live accounts only (`live_key`): a DELETED
// account's row stays for the history, and its number may belong to a new row.
import type { EntityManager } from 'typeorm';
import { Account, type AccountState } from '../db/entities';
import { execute, forUpdate, marks, parseDbBoolean, persistentValue, rowInserter, select } from '../db/statements';

/** A registered account with its link and the consumer it is linked to (every account has exactly one link). */
export interface Registration {
  accountId: number;
  linkId: number;
  consumerId: string;
  consumerKey: string;
  isMain: boolean;
  state: AccountState;
}

const REGISTRATION_SELECT =
  'SELECT a.id AS accountId, l.id AS linkId, c.consumer_id AS consumerId, c.consumer_key AS consumerKey,' +
  ' l.is_main AS isMain, a.state AS state' +
  ' FROM accounts a JOIN account_links l ON l.account_id = a.id JOIN consumers c ON c.id = l.consumer_id';
const REGISTRATION_SQL = `${REGISTRATION_SELECT} WHERE a.issuer_id = ? AND a.live_key = ?`;
const LAST_DELETED_SQL = `${REGISTRATION_SELECT} WHERE a.issuer_id = ? AND a.account_number = ? ORDER BY a.id DESC LIMIT 1`;

async function registrationOf(
  manager: EntityManager,
  sql: string,
  issuerId: string,
  accountNumber: string,
): Promise<Registration | undefined> {
  const [row] = await select<Omit<Registration, 'isMain'> & { isMain: unknown }>(manager, sql, [
    issuerId,
    accountNumber,
  ]);
  if (row === undefined) return undefined;
  return { ...row, accountId: Number(row.accountId), linkId: Number(row.linkId), isMain: parseDbBoolean(row.isMain) };
}

/** The live (not DELETED) account with this number, if any. */
export function findRegistration(
  manager: EntityManager,
  issuerId: string,
  accountNumber: string,
): Promise<Registration | undefined> {
  return registrationOf(manager, REGISTRATION_SQL, issuerId, accountNumber);
}

/** The last account with this number, when there is no live one: a DELETED one, or none ever registered. */
export function findLastDeleted(
  manager: EntityManager,
  issuerId: string,
  accountNumber: string,
): Promise<Registration | undefined> {
  return registrationOf(manager, LAST_DELETED_SQL, issuerId, accountNumber);
}

const LOCK_LIVE_SQL = 'SELECT id FROM accounts WHERE id = ? AND live_key IS NOT NULL';

/**
 * Locks an account found by a plain read and tells whether it is still live: a delete (of it, or of its consumer)
 * that committed since the read has made it DELETED. By primary key, so it locks that one row and no gap.
 */
export async function lockLiveAccount(manager: EntityManager, accountId: number): Promise<boolean> {
  return (await select(manager, LOCK_LIVE_SQL + forUpdate(manager), [accountId])).length === 1;
}

const insert = rowInserter(Account);

export interface NewAccount {
  issuerId: string;
  accountNumber: string;
  productId: string | null;
  state: Exclude<AccountState, 'DELETED'>;
}

/** Returns the new account's id. A live account with the same number makes it fail on the unique key. */
export function insertAccount(manager: EntityManager, account: NewAccount, at: Date): Promise<number> {
  return insert(manager, { ...account, liveKey: account.accountNumber, createdAt: at, updatedAt: at });
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

const MARK_DELETED_SQL = "UPDATE accounts SET state = 'DELETED', live_key = NULL, updated_at = ? WHERE id IN ";

/** The accounts become DELETED and leave the live keys: their numbers may be registered again. */
export async function markDeleted(manager: EntityManager, accountIds: number[], at: Date): Promise<void> {
  if (accountIds.length === 0) return;
  const updatedAt = persistentValue(manager, Account, 'updatedAt', at);
  await execute(manager, `${MARK_DELETED_SQL}(${marks(accountIds.length)})`, [updatedAt, ...accountIds]);
}

/** A live account of a consumer, as a consumer delete deletes it. */
export interface ConsumerAccount {
  accountId: number;
  accountNumber: string;
  isMain: boolean;
}

const CONSUMER_ACCOUNTS_SQL =
  'SELECT a.id AS accountId, a.account_number AS accountNumber, l.is_main AS isMain' +
  ' FROM account_links l JOIN accounts a ON a.id = l.account_id' +
  ' WHERE l.consumer_id = ? AND a.live_key IS NOT NULL ORDER BY l.is_main DESC, l.id ASC';

/**
 * The consumer's live accounts, linked or delinked, main first, then in the order they were registered; locked and
 * read as last committed, so that an account registered by a transaction that committed meanwhile is among them.
 */
export async function liveAccountsOf(manager: EntityManager, consumerRowId: number): Promise<ConsumerAccount[]> {
  const rows = await select<{ accountId: number; accountNumber: string; isMain: unknown }>(
    manager,
    CONSUMER_ACCOUNTS_SQL + forUpdate(manager),
    [consumerRowId],
  );
  return rows.map((row) => ({
    accountId: Number(row.accountId),
    accountNumber: row.accountNumber,
    isMain: parseDbBoolean(row.isMain),
  }));
}
