// Every statement about links: the conditional delink that holds the main-account rule, the conditional link of a
// delinked account, and the reads of a consumer's links. Each takes the unit of work's manager first. A link is found
// through the live consumer and the account number among that consumer's own accounts: after a reuse, the number's
// older (DELETED) row stays linked to its former consumer, whose main account it may be, and the new row is another
// consumer's.
import type { EntityManager } from 'typeorm';
import { AccountLink, type AccountState } from '../db/entities';
import { execute, parseDbBoolean, parseDbDate, persistentValue, rowInserter, select } from '../db/statements';
import { consumerKey } from './identifiers';

const at = (manager: EntityManager, date: Date): unknown => persistentValue(manager, AccountLink, 'linkedAt', date);

/** An account and a consumer of one issuer, as a request names them. */
export interface LinkKey {
  issuerId: string;
  consumerId: string;
  accountNumber: string;
}

/** The parameters of a conditional UPDATE of one link: the time it writes, then the account and the consumer. */
const changeParameters = (manager: EntityManager, link: LinkKey, now: Date): unknown[] => [
  at(manager, now),
  link.issuerId,
  link.accountNumber,
  link.issuerId,
  consumerKey(link.consumerId),
];

/**
 * Delinks the account from the consumer only if its link is there, linked, and not the main one: a single conditional
 * UPDATE, so that concurrent requests (in this process or any other) can never delink the main account nor delink one
 * link twice. Returns whether it did.
 */
const DELINK_SECONDARY_SQL =
  'UPDATE account_links SET delinked_at = ? WHERE is_main = 0 AND delinked_at IS NULL' +
  ' AND account_id IN (SELECT a.id FROM accounts a WHERE a.issuer_id = ? AND a.account_number = ?)' +
  ' AND consumer_id = (SELECT c.id FROM consumers c WHERE c.issuer_id = ? AND c.live_key = ?)';

export async function delinkSecondary(manager: EntityManager, link: LinkKey, now: Date): Promise<boolean> {
  return (await execute(manager, DELINK_SECONDARY_SQL, changeParameters(manager, link, now))) === 1;
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
export async function linkState(manager: EntityManager, link: LinkKey): Promise<LinkState> {
  const [row] = await select<{ consumerId: number; isMain: unknown; linkId: number | null }>(manager, LINK_STATE_SQL, [
    link.accountNumber,
    link.issuerId,
    consumerKey(link.consumerId),
  ]);
  if (row === undefined) return 'no-consumer';
  if (row.linkId === null) return 'not-linked';
  return parseDbBoolean(row.isMain) ? 'main' : 'delinked';
}

/**
 * Links the account to the consumer again only if the issuer registered it for this very consumer, its link is
 * delinked, and the account is not DELETED: a single conditional UPDATE, so that a link racing a delink (in this
 * process or any other) ends in one state or the other and each changes the row at most once. It never inserts a row
 * and never touches is_main. Returns whether it did.
 */
const LINK_DELINKED_SQL =
  'UPDATE account_links SET delinked_at = NULL, linked_at = ? WHERE delinked_at IS NOT NULL' +
  " AND account_id IN (SELECT a.id FROM accounts a WHERE a.issuer_id = ? AND a.account_number = ? AND a.state <> 'DELETED')" +
  ' AND consumer_id = (SELECT c.id FROM consumers c WHERE c.issuer_id = ? AND c.live_key = ?)';

export async function linkDelinked(manager: EntityManager, link: LinkKey, now: Date): Promise<boolean> {
  return (await execute(manager, LINK_DELINKED_SQL, changeParameters(manager, link, now))) === 1;
}

/**
 * Why an account could not be linked to a consumer: no consumer; the account is not this consumer's (unknown, or
 * registered to another: one answer, so that the refusal never tells which); it is linked already; or it is DELETED.
 * After a reuse a number has several rows: the consumer's own link to a live row speaks first, then one to a DELETED
 * row (still linked when it is their main account, else closed).
 */
export type Linkability = 'no-consumer' | 'not-theirs' | 'linked' | 'linked-main' | 'closed';

const LINKABILITY_SQL =
  'SELECT c.id AS consumerId, l.id AS linkId, l.is_main AS isMain, l.delinked_at AS delinkedAt, a.state AS state' +
  ' FROM consumers c' +
  ' LEFT JOIN accounts a ON a.issuer_id = c.issuer_id AND a.account_number = ?' +
  ' LEFT JOIN account_links l ON l.account_id = a.id AND l.consumer_id = c.id' +
  " WHERE c.issuer_id = ? AND c.live_key = ? ORDER BY l.id IS NULL, a.state = 'DELETED', l.is_main DESC LIMIT 1";

/**
 * Read after a link changed nothing, to say why: the write alone decided the outcome. A link that reads as delinked
 * and open was delinked by a request that committed after the write found it linked, so it answers "linked".
 */
export async function linkability(manager: EntityManager, link: LinkKey): Promise<Linkability> {
  const [row] = await select<{
    consumerId: number;
    linkId: number | null;
    isMain: unknown;
    delinkedAt: unknown;
    state: AccountState | null;
  }>(manager, LINKABILITY_SQL, [link.accountNumber, link.issuerId, consumerKey(link.consumerId)]);
  if (row === undefined) return 'no-consumer';
  if (row.linkId === null) return 'not-theirs';
  if (row.delinkedAt !== null && row.state === 'DELETED') return 'closed';
  return parseDbBoolean(row.isMain) ? 'linked-main' : 'linked';
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
