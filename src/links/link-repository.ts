// Every statement about links: the conditional delink that holds the main-account rule, and the reads of a
// consumer's links. Each takes the unit of work's manager first. A link is found through the live consumer and the
// account number among that consumer's own accounts: after a reuse, the number's older (DELETED) row stays linked to
// its former consumer, whose main account it may be, and the new row is another consumer's.
import type { EntityManager } from 'typeorm';
import { AccountLink, type AccountState } from '../db/entities';
import { execute, parseDbBoolean, parseDbDate, persistentValue, rowInserter, select } from '../db/statements';
import { consumerKey } from './identifiers';

const at = (manager: EntityManager, date: Date): unknown => persistentValue(manager, AccountLink, 'linkedAt', date);

/**
 * Delinks the account from the consumer only if its link is there, linked, and not the main one: a single conditional
 * UPDATE, so that concurrent requests (in this process or any other) can never delink the main account nor delink one
 * link twice. Returns whether it did.
 */
const DELINK_SECONDARY_SQL =
  'UPDATE account_links SET delinked_at = ? WHERE is_main = 0 AND delinked_at IS NULL' +
  ' AND account_id IN (SELECT a.id FROM accounts a WHERE a.issuer_id = ? AND a.account_number = ?)' +
  ' AND consumer_id = (SELECT c.id FROM consumers c WHERE c.issuer_id = ? AND c.live_key = ?)';

export async function delinkSecondary(
  manager: EntityManager,
  link: { issuerId: string; consumerId: string; accountNumber: string },
  now: Date,
): Promise<boolean> {
  const parameters = [at(manager, now), link.issuerId, link.accountNumber, link.issuerId, consumerKey(link.consumerId)];
  return (await execute(manager, DELINK_SECONDARY_SQL, parameters)) === 1;
}

/** What stands between an account and a consumer: no consumer, no link between them, or the link as it is. */
export type LinkState = 'no-consumer' | 'not-linked' | 'main' | 'delinked';

/**
 * The consumer's link to an account with this number; the main one first when there are two (a main account deleted,
 * its number registered again for the same consumer): of a linked secondary, the delink would have changed it.
 */
const LINK_STATE_SQL =
  'SELECT c.id AS consumerId, l.is_main AS isMain, l.id AS linkId FROM consumers c' +
  ' LEFT JOIN account_links l ON l.consumer_id = c.id' +
  ' AND l.account_id IN (SELECT a.id FROM accounts a WHERE a.issuer_id = c.issuer_id AND a.account_number = ?)' +
  ' WHERE c.issuer_id = ? AND c.live_key = ? ORDER BY l.is_main DESC LIMIT 1';

/** Read after a delink changed nothing, to say why: the write alone decided the outcome. */
export async function linkState(
  manager: EntityManager,
  link: { issuerId: string; consumerId: string; accountNumber: string },
): Promise<LinkState> {
  const [row] = await select<{ consumerId: number; isMain: unknown; linkId: number | null }>(manager, LINK_STATE_SQL, [
    link.accountNumber,
    link.issuerId,
    consumerKey(link.consumerId),
  ]);
  if (row === undefined) return 'no-consumer';
  if (row.linkId === null) return 'not-linked';
  return parseDbBoolean(row.isMain) ? 'main' : 'delinked';
}

const insert = rowInserter(AccountLink);

export async function insertLink(
  manager: EntityManager,
  link: { accountId: number; consumerId: number; isMain: boolean },
  now: Date,
): Promise<void> {
  await insert(manager, {
    ...link,
    mainOfConsumerId: link.isMain ? link.consumerId : null,
    linkedAt: now,
    delinkedAt: null,
  });
}

const RELINK_SQL =
  'UPDATE account_links SET delinked_at = NULL, linked_at = ? WHERE id = ? AND delinked_at IS NOT NULL';

/** Links a delinked link again; a linked one is left as it is. Returns whether it was delinked. */
export async function relink(manager: EntityManager, linkId: number, now: Date): Promise<boolean> {
  return (await execute(manager, RELINK_SQL, [at(manager, now), linkId])) === 1;
}

const UNLINK_SECONDARY_SQL =
  'UPDATE account_links SET delinked_at = ? WHERE id = ? AND is_main = 0 AND delinked_at IS NULL';

/** Ends a link unless it is the main one, which stays for the life of the consumer. */
export async function unlinkSecondary(manager: EntityManager, linkId: number, now: Date): Promise<void> {
  await execute(manager, UNLINK_SECONDARY_SQL, [at(manager, now), linkId]);
}

const END_LINKS_SQL = 'UPDATE account_links SET delinked_at = ? WHERE consumer_id = ? AND delinked_at IS NULL';

/** Ends every link of a consumer, the main one included: only a consumer delete ends a main link. */
export async function endLinks(manager: EntityManager, consumerRowId: number, now: Date): Promise<void> {
  await execute(manager, END_LINKS_SQL, [at(manager, now), consumerRowId]);
}

export interface LinkedAccount {
  accountNumber: string;
  isMain: boolean;
  state: AccountState;
  linkedOn: Date;
}

const LINKED_ACCOUNTS_SQL =
  'SELECT a.account_number AS accountNumber, l.is_main AS isMain, a.state AS state, l.linked_at AS linkedAt' +
  ' FROM account_links l JOIN accounts a ON a.id = l.account_id' +
  ' WHERE l.consumer_id = ? AND l.delinked_at IS NULL ORDER BY l.is_main DESC, l.linked_at ASC, l.id ASC';

/** The accounts linked to a consumer now, main account first, then in the order they were linked. */
export async function linkedAccounts(manager: EntityManager, consumerRowId: number): Promise<LinkedAccount[]> {
  const rows = await select<{ accountNumber: string; isMain: unknown; state: AccountState; linkedAt: Date | string }>(
    manager,
    LINKED_ACCOUNTS_SQL,
    [consumerRowId],
  );
  return rows.map((row) => ({
    accountNumber: row.accountNumber,
    isMain: parseDbBoolean(row.isMain),
    state: row.state,
    linkedOn: parseDbDate(row.linkedAt),
  }));
}
