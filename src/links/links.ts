// The domain: self-service users, their accounts and links, and the rule that the main account is never delinked.
import type { DataSource, EntityManager } from 'typeorm';
import { Account, AccountLink, type AccountState, SelfServiceUser } from '../db/entities';
import { execute, persistentValue } from '../db/statements';
import { read } from '../db/transaction';
import { AppError } from '../errors';
import { done, recordedOperation, refused, type RequestContext } from '../operations/operations';
import { boundElsewhere, consumerKey } from './identifiers';

export interface LinkedAccount {
  accountNumber: string;
  isMain: boolean;
  state: AccountState;
  linkedOn: Date;
}

const WHY_NOT_DELINKED_SQL =
  'SELECT u.id AS userId, l.is_main AS isMain, l.id AS linkId FROM ss_users u' +
  ' LEFT JOIN accounts a ON a.issuer_id = u.issuer_id AND a.account_number = ?' +
  ' LEFT JOIN account_links l ON l.account_id = a.id AND l.user_id = u.id' +
  ' WHERE u.issuer_id = ? AND u.ss_user_key = ?';

/** Why a conditional delink changed nothing: read after the write, so the write alone decides the outcome. */
async function whyNotDelinked(
  manager: EntityManager,
  issuerId: string,
  ssUserId: string,
  accountNumber: string,
): Promise<AppError> {
  const [row] = await manager.query<{ userId: number; isMain: unknown; linkId: number | null }[]>(
    WHY_NOT_DELINKED_SQL,
    [accountNumber, issuerId, consumerKey(ssUserId)],
  );
  if (row === undefined) return new AppError('USER_NOT_FOUND');
  if (row.linkId === null) return new AppError('ACCOUNT_NOT_LINKED');
  if (Number(row.isMain) !== 0) return new AppError('MAIN_ACCOUNT');
  return new AppError('ACCOUNT_ALREADY_DELINKED');
}

const DELINK_SQL =
  'UPDATE account_links SET delinked_at = ? WHERE is_main = 0 AND delinked_at IS NULL' +
  ' AND account_id = (SELECT a.id FROM accounts a WHERE a.issuer_id = ? AND a.account_number = ?)' +
  ' AND user_id = (SELECT u.id FROM ss_users u WHERE u.issuer_id = ? AND u.ss_user_key = ?)';

/**
 * Removes an account from a self-service user. One conditional UPDATE decides: it matches only a linked,
 * non-main link of that account and that user, so concurrent requests (in this process or any other) can
 * never delink the main account nor delink one link twice.
 */
export async function delinkAccount(
  dataSource: DataSource,
  ctx: RequestContext,
  request: { ssUserId: string; accountNumber: string; boundSsUserId?: string },
): Promise<void> {
  const { ssUserId, accountNumber } = request;
  await recordedOperation(
    dataSource,
    ctx,
    { operation: 'DELINK', consumerId: ssUserId, accountNumber },
    async (manager) => {
      if (boundElsewhere(request.boundSsUserId, ssUserId)) return refused(new AppError('USER_NOT_ALLOWED'));
      const delinkedAt = persistentValue(manager, AccountLink, 'delinkedAt', new Date());
      const affected = await execute(manager, DELINK_SQL, [
        delinkedAt,
        ctx.issuerId,
        accountNumber,
        ctx.issuerId,
        consumerKey(ssUserId),
      ]);
      if (affected === 1) return done(undefined);
      return refused(await whyNotDelinked(manager, ctx.issuerId, ssUserId, accountNumber));
    },
  );
}

/** The accounts linked to a user now, main account first. */
export async function listLinkedAccounts(
  dataSource: DataSource,
  issuerId: string,
  request: { ssUserId: string; boundSsUserId?: string },
): Promise<{ ssUserId: string; accounts: LinkedAccount[] }> {
  if (boundElsewhere(request.boundSsUserId, request.ssUserId)) throw new AppError('USER_NOT_ALLOWED');
  return read(dataSource, async (manager) => {
    const user = await manager.findOne(SelfServiceUser, {
      where: { issuerId, ssUserKey: consumerKey(request.ssUserId) },
    });
    if (user === null) throw new AppError('USER_NOT_FOUND');
    const rows = await manager
      .createQueryBuilder(AccountLink, 'l')
      .innerJoin(Account, 'a', 'a.id = l.account_id')
      .select('a.account_number', 'accountNumber')
      .addSelect('l.is_main', 'isMain')
      .addSelect('a.state', 'state')
      .addSelect('l.linked_at', 'linkedAt')
      .where('l.user_id = :userId AND l.delinked_at IS NULL', { userId: user.id })
      .orderBy('l.is_main', 'DESC')
      .addOrderBy('l.linked_at', 'ASC')
      .addOrderBy('l.id', 'ASC')
      .getRawMany<{ accountNumber: string; isMain: unknown; state: AccountState; linkedAt: Date | string }>();
    return {
      ssUserId: user.ssUserId,
      accounts: rows.map((row) => ({
        accountNumber: row.accountNumber,
        isMain: Boolean(Number(row.isMain)),
        state: row.state,
        linkedOn: parseDbDate(row.linkedAt),
      })),
    };
  });
}

/** Raw queries return SQLite datetimes as UTC text and MySQL ones as Date (the pool runs in UTC). */
function parseDbDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(`${value.replace(' ', 'T')}Z`);
}

export interface RegisterRequest {
  accountNumber: string;
  consumerId: string;
  productId: string | null;
  state: 'ACTIVE' | 'INACTIVE';
}

/**
 * Registers an account for a consumer. The consumer's first account creates the self-service user and is its main
 * account; racing first registrations are settled by the unique keys (the loser retries and finds the user).
 * Repeating it for the same consumer updates state and product and re-links a delinked account.
 */
export async function registerAccount(
  dataSource: DataSource,
  ctx: RequestContext,
  request: RegisterRequest,
): Promise<void> {
  const { accountNumber, consumerId } = request;
  await recordedOperation(
    dataSource,
    ctx,
    { operation: 'REGISTER', consumerId, accountNumber },
    async (manager) => {
      const now = new Date();
      const key = consumerKey(consumerId);
      const existing = await manager
        .createQueryBuilder(Account, 'a')
        .innerJoin(AccountLink, 'l', 'l.account_id = a.id')
        .innerJoin(SelfServiceUser, 'u', 'u.id = l.user_id')
        .select(['a.id AS accountId', 'l.id AS linkId', 'u.ss_user_key AS ownerKey'])
        .where('a.issuer_id = :issuerId AND a.account_number = :accountNumber', {
          issuerId: ctx.issuerId,
          accountNumber,
        })
        .getRawOne<{ accountId: number; linkId: number; ownerKey: string }>();
      if (existing !== undefined) {
        if (existing.ownerKey !== key) return refused(new AppError('ACCOUNT_OF_OTHER_CONSUMER'));
        await manager.update(
          Account,
          { id: existing.accountId },
          { state: request.state, productId: request.productId, updatedAt: now },
        );
        await manager
          .createQueryBuilder()
          .update(AccountLink)
          .set({ delinkedAt: null, linkedAt: now })
          .where('id = :id AND delinked_at IS NOT NULL', { id: existing.linkId })
          .execute();
        return done(undefined);
      }

      let user = await manager.findOne(SelfServiceUser, { where: { issuerId: ctx.issuerId, ssUserKey: key } });
      const isMain = user === null;
      if (user === null) {
        const inserted = await manager.insert(SelfServiceUser, {
          issuerId: ctx.issuerId,
          ssUserId: consumerId,
          ssUserKey: key,
          createdAt: now,
        });
        user = { id: Number(inserted.identifiers[0]?.id) } as SelfServiceUser;
      }
      const account = await manager.insert(Account, {
        issuerId: ctx.issuerId,
        accountNumber,
        productId: request.productId,
        state: request.state,
        createdAt: now,
        updatedAt: now,
      });
      await manager.insert(AccountLink, {
        accountId: Number(account.identifiers[0]?.id),
        userId: user.id,
        isMain,
        mainOfUserId: isMain ? user.id : null,
        linkedAt: now,
        delinkedAt: null,
      });
      return done(undefined);
    },
    { retryOnDuplicateKey: true },
  );
}

export interface DeleteRequest {
  accountNumber: string;
  reason: string | null;
  reasonCode: 'USER_DECISION' | 'ISSUER_DECISION';
}

/** Deletes an account: its state becomes DELETED and, unless it is the main account, it is unlinked. */
export async function deleteAccount(
  dataSource: DataSource,
  ctx: RequestContext,
  request: DeleteRequest,
): Promise<{ operationId: string }> {
  const { accountNumber, reason, reasonCode } = request;
  const { operationId } = await recordedOperation(
    dataSource,
    ctx,
    { operation: 'DELETE', consumerId: null, accountNumber, reason, reasonCode },
    async (manager) => {
      const found = await manager
        .createQueryBuilder(Account, 'a')
        .innerJoin(AccountLink, 'l', 'l.account_id = a.id')
        .innerJoin(SelfServiceUser, 'u', 'u.id = l.user_id')
        .select(['a.id AS accountId', 'l.id AS linkId', 'u.ss_user_id AS consumerId'])
        .where('a.issuer_id = :issuerId AND a.account_number = :accountNumber', {
          issuerId: ctx.issuerId,
          accountNumber,
        })
        .getRawOne<{ accountId: number; linkId: number; consumerId: string }>();
      if (found === undefined) return refused(new AppError('ACCOUNT_NOT_FOUND'));
      const now = new Date();
      await manager.update(Account, { id: found.accountId }, { state: 'DELETED', updatedAt: now });
      await manager
        .createQueryBuilder()
        .update(AccountLink)
        .set({ delinkedAt: now })
        .where('id = :id AND is_main = 0 AND delinked_at IS NULL', { id: found.linkId })
        .execute();
      return done(undefined, { consumerId: found.consumerId });
    },
  );
  return { operationId };
}
