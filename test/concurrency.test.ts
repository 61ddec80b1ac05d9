// Races: the main account is never delinked, a link is delinked once, and every request records exactly one
// operation, whether the requests race inside one instance or across two instances sharing one database.
import { rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { api } from './helpers/api';
import type { DataSource, EntityManager } from 'typeorm';
import type { Database } from '../src/db/database';
import { DELINK_PATH, GET_LINKS_PATH, LINK_PATH } from '../src/corecredit/routes';
import { DEFAULT_RETRY_POLICY } from '../src/db/retry';
import { Account, AccountLink, type Operation, Consumer } from '../src/db/entities';
import * as accounts from '../src/links/account-repository';
import * as consumers from '../src/links/consumer-repository';
import * as linkRepository from '../src/links/link-repository';
import {
  buildEnvelope,
  createTestContext,
  issuerToken,
  linkOf,
  mintToken,
  onMariaDb,
  openDatabase,
  operationsOf,
  randomDigits,
  randomIssuerId,
  seedUser,
  testDatabase,
  type TestContext,
} from './helpers/context';
import { DELINK_SUCCESS } from './helpers/expectations';

/** Where a request goes: the in-process app, or the base URL of a listening server. */
type Target = Express | string;

const ALREADY_DELINKED = {
  Message: 'The account is already delinked from this SSUserID.',
  Status: false,
  ErrorCode: 'ERR01132',
  ResponseData: {},
};
const MAIN_ACCOUNT = {
  Message: 'The main account cannot be delinked.',
  Status: false,
  ErrorCode: 'ERR01140',
  ResponseData: {},
};

interface Sent {
  correlationId: string;
  accountNumber: string;
  status: number;
  body: Record<string, unknown>;
}

let sequence = 0;
/** A correlation id of its own per request: it ties each response to the operation it recorded. */
const nextCorrelationId = (label: string): string => `${label}-${process.pid}-${(sequence += 1)}`;

async function sendDelink(target: Target, token: string, ssUserId: string, accountNumber: string): Promise<Sent> {
  const correlationId = nextCorrelationId('delink');
  const res = await api(target)
    .post(DELINK_PATH)
    .set('Authorization', `Bearer ${token}`)
    .set('x-correlation-id', correlationId)
    .send(buildEnvelope({ SSUserID: ssUserId, AccountNumber: accountNumber }));
  return { correlationId, accountNumber, status: res.status, body: res.body as Record<string, unknown> };
}

async function sendLink(target: Target, token: string, ssUserId: string, accountNumber: string): Promise<Sent> {
  const correlationId = nextCorrelationId('link');
  const res = await api(target)
    .post(LINK_PATH)
    .set('Authorization', `Bearer ${token}`)
    .set('x-correlation-id', correlationId)
    .send(buildEnvelope({ SSUserID: ssUserId, AccountNumber: accountNumber }));
  return { correlationId, accountNumber, status: res.status, body: res.body as Record<string, unknown> };
}

async function sendRegister(
  target: Target,
  token: string,
  issuerId: string,
  accountNumber: string,
  consumerId: string,
): Promise<Sent & { consumerId: string }> {
  const correlationId = nextCorrelationId('register');
  const res = await api(target)
    .put(`/issuers/${issuerId}/accounts/${accountNumber}`)
    .set('Authorization', `Bearer ${token}`)
    .set('x-correlation-id', correlationId)
    .send({ consumerId, state: 'ACTIVE' });
  return { correlationId, accountNumber, consumerId, status: res.status, body: res.body as Record<string, unknown> };
}

async function sendDelete(target: Target, token: string, issuerId: string, accountNumber: string): Promise<Sent> {
  const correlationId = nextCorrelationId('delete');
  const res = await api(target)
    .post(`/issuers/${issuerId}/accounts/${accountNumber}/operations:delete`)
    .set('Authorization', `Bearer ${token}`)
    .set('x-correlation-id', correlationId)
    .send({ reason: 'Closed in a race', reasonCode: 'ISSUER_DECISION' });
  return { correlationId, accountNumber, status: res.status, body: res.body as Record<string, unknown> };
}

/** The issuer's operations of one kind, keyed by correlation id; fails if any request recorded two. */
async function operationsByCorrelation(
  dataSource: DataSource,
  issuerId: string,
  kind: Operation['operation'],
): Promise<Map<string, Operation>> {
  const operations = (await operationsOf(dataSource, issuerId)).filter((op) => op.operation === kind);
  const byCorrelation = new Map(operations.map((op) => [op.correlationId, op]));
  expect(byCorrelation.size).toBe(operations.length);
  return byCorrelation;
}

/** Exactly one operation per request, each naming the request's account and matching its outcome. */
function expectOneOperationPerRequest(
  sent: Sent[],
  operations: Map<string, Operation>,
  kind: Operation['operation'],
): void {
  expect([...operations.keys()].sort()).toEqual(sent.map((s) => s.correlationId).sort());
  for (const s of sent) {
    const op = operations.get(s.correlationId)!;
    expect(op.operation).toBe(kind);
    expect(op.accountNumber).toBe(s.accountNumber);
    if (s.status === 200 || s.status === 204) expect(op).toMatchObject({ status: 'SUCCESSFUL', errorCode: null });
    else expect(op).toMatchObject({ status: 'FAILED', errorCode: (s.body.ErrorCode ?? s.body.errorCode) as string });
  }
}

/** The raw link row of an account (with its delink time), as the database holds it. */
function linkRowOf(dataSource: DataSource, issuerId: string, accountNumber: string): Promise<AccountLink | null> {
  return dataSource
    .getRepository(AccountLink)
    .createQueryBuilder('l')
    .innerJoin(Account, 'a', 'a.id = l.account_id')
    .where('a.issuer_id = :issuerId AND a.account_number = :accountNumber', { issuerId, accountNumber })
    .getOne();
}

/** The link was changed by the operation whose transaction wrote its delink time, and by no later one. */
async function expectDelinkedBy(
  dataSource: DataSource,
  issuerId: string,
  accountNumber: string,
  op: Operation,
): Promise<void> {
  const row = await linkRowOf(dataSource, issuerId, accountNumber);
  expect(row?.delinkedAt).toBeInstanceOf(Date);
  expect(row!.delinkedAt!.getTime()).toBeGreaterThanOrEqual(op.startTime.getTime());
  expect(row!.delinkedAt!.getTime()).toBeLessThanOrEqual(op.endTime.getTime());
}

/** Interleaves the requests of several accounts so that no account's requests arrive together. */
function interleave<T>(groups: T[][]): T[] {
  const longest = Math.max(...groups.map((g) => g.length));
  return Array.from({ length: longest }, (_, i) => groups.flatMap((g) => (i < g.length ? [g[i]!] : []))).flat();
}

const count = (sent: Sent[], status: number): number => sent.filter((s) => s.status === status).length;

/** 50 delinks of one secondary account, spread over the targets in turn. */
async function raceOneSecondaryAccount(database: Database, targets: Target[]): Promise<void> {
  const { dataSource } = database;
  const user = await seedUser(database, { accounts: 3 });
  const account = user.otherAccounts[0]!;
  const token = await mintToken(user.issuerId);

  const sent = await Promise.all(
    Array.from({ length: 50 }, (_, i) => sendDelink(targets[i % targets.length]!, token, user.ssUserId, account)),
  );

  expect(count(sent, 200)).toBe(1);
  expect(count(sent, 404)).toBe(49);
  for (const s of sent) expect(s.body).toEqual(s.status === 200 ? DELINK_SUCCESS : ALREADY_DELINKED);

  expect(await linkOf(dataSource, user.issuerId, account)).toMatchObject({
    isMain: false,
    delinked: true,
    state: 'ACTIVE',
  });
  expect(await linkOf(dataSource, user.issuerId, user.mainAccount)).toMatchObject({ isMain: true, delinked: false });
  expect(await linkOf(dataSource, user.issuerId, user.otherAccounts[1]!)).toMatchObject({
    isMain: false,
    delinked: false,
  });

  const operations = await operationsByCorrelation(dataSource, user.issuerId, 'DELINK');
  expect(operations.size).toBe(50);
  expectOneOperationPerRequest(sent, operations, 'DELINK');
  const successful = [...operations.values()].filter((op) => op.status === 'SUCCESSFUL');
  expect(successful).toHaveLength(1);
  expect(successful[0]!.correlationId).toBe(sent.find((s) => s.status === 200)!.correlationId);
  expect([...operations.values()].filter((op) => op.status === 'FAILED' && op.errorCode === 'ERR01132')).toHaveLength(
    49,
  );
  await expectDelinkedBy(dataSource, user.issuerId, account, successful[0]!);
}

/** Every account of an 8-account user, each requested 5 times, all at once, spread over the targets in turn. */
async function raceEveryAccountOfAUser(database: Database, targets: Target[]): Promise<void> {
  const { dataSource } = database;
  const user = await seedUser(database, { accounts: 8 });
  const accounts = [user.mainAccount, ...user.otherAccounts];
  const token = await mintToken(user.issuerId);

  const plan = interleave(accounts.map((account) => Array.from({ length: 5 }, () => account)));
  const sent = await Promise.all(
    plan.map((account, i) => sendDelink(targets[i % targets.length]!, token, user.ssUserId, account)),
  );
  expect(sent).toHaveLength(40);

  const forMain = sent.filter((s) => s.accountNumber === user.mainAccount);
  expect(forMain.map((s) => [s.status, s.body])).toEqual(Array.from({ length: 5 }, () => [409, MAIN_ACCOUNT]));
  for (const account of user.otherAccounts) {
    const forAccount = sent.filter((s) => s.accountNumber === account);
    expect(forAccount).toHaveLength(5);
    expect(count(forAccount, 200)).toBe(1);
    expect(count(forAccount, 404)).toBe(4);
    for (const s of forAccount) expect(s.body).toEqual(s.status === 200 ? DELINK_SUCCESS : ALREADY_DELINKED);
  }

  expect(await linkOf(dataSource, user.issuerId, user.mainAccount)).toMatchObject({ isMain: true, delinked: false });
  for (const account of user.otherAccounts)
    expect(await linkOf(dataSource, user.issuerId, account)).toMatchObject({ isMain: false, delinked: true });

  const operations = await operationsByCorrelation(dataSource, user.issuerId, 'DELINK');
  expect(operations.size).toBe(40);
  expectOneOperationPerRequest(sent, operations, 'DELINK');
  for (const account of user.otherAccounts) {
    const successful = [...operations.values()].filter(
      (op) => op.accountNumber === account && op.status === 'SUCCESSFUL',
    );
    expect(successful).toHaveLength(1);
    await expectDelinkedBy(dataSource, user.issuerId, account, successful[0]!);
  }

  const listed = await api(targets[0]!)
    .post(GET_LINKS_PATH)
    .set('Authorization', `Bearer ${token}`)
    .send(buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: undefined }));
  expect(listed.status).toBe(200);
  expect((listed.body as { ResponseData: { Accounts: unknown[] } }).ResponseData.Accounts).toEqual([
    expect.objectContaining({ AccountNumber: user.mainAccount, IsMainAccount: true }),
  ]);
}

describe('concurrent requests on one instance', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  describe('DeLinkAccount', () => {
    it('when 50 delinks of one secondary account race, then exactly one answers 200, 49 answer 404 ERR01132, and 50 operations are recorded', async () => {
      await raceOneSecondaryAccount(ctx.database, [ctx.app]);
    });

    it('when 50 delinks of the main account race, then all answer 409 ERR01140, the main link stays, and 50 FAILED operations are recorded', async () => {
      const user = await seedUser(ctx.database, { accounts: 2 });
      const token = await mintToken(user.issuerId);

      const sent = await Promise.all(
        Array.from({ length: 50 }, () => sendDelink(ctx.app, token, user.ssUserId, user.mainAccount)),
      );

      for (const s of sent) expect([s.status, s.body]).toEqual([409, MAIN_ACCOUNT]);
      expect(await linkOf(ctx.dataSource, user.issuerId, user.mainAccount)).toMatchObject({
        isMain: true,
        delinked: false,
        state: 'ACTIVE',
      });
      expect(await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({
        isMain: false,
        delinked: false,
      });
      const operations = await operationsByCorrelation(ctx.dataSource, user.issuerId, 'DELINK');
      expect(operations.size).toBe(50);
      expectOneOperationPerRequest(sent, operations, 'DELINK');
      expect([...operations.values()].every((op) => op.status === 'FAILED' && op.errorCode === 'ERR01140')).toBe(true);
    });

    it('when every account of a user is delinked 5 times at once, then only the main account stays linked and each secondary account answers 200 once', async () => {
      await raceEveryAccountOfAUser(ctx.database, [ctx.app]);
    });
  });

  describe('register', () => {
    it('when 10 different accounts of a new consumer are registered at once, then all answer 204 and exactly one of them is the main account', async () => {
      const issuerId = randomIssuerId();
      const consumerId = `C${randomDigits(12)}`;
      const token = await issuerToken(issuerId);
      const accounts = Array.from({ length: 10 }, () => randomDigits(16));

      const sent = await Promise.all(
        accounts.map((account) => sendRegister(ctx.app, token, issuerId, account, consumerId)),
      );

      for (const s of sent) expect(s.status).toBe(204);
      const links = await Promise.all(accounts.map((account) => linkOf(ctx.dataSource, issuerId, account)));
      for (const link of links)
        expect(link).toMatchObject({ ownerKey: consumerId.toLowerCase(), delinked: false, state: 'ACTIVE' });
      expect(links.filter((link) => link?.isMain === true)).toHaveLength(1);
      expect(await ctx.dataSource.getRepository(Consumer).count({ where: { issuerId } })).toBe(1);

      const operations = await operationsByCorrelation(ctx.dataSource, issuerId, 'REGISTER');
      expect(operations.size).toBe(10);
      expectOneOperationPerRequest(sent, operations, 'REGISTER');

      // The main account chosen by the race is the one DeLinkAccount refuses; every other one can go.
      const main = links.find((link) => link?.isMain === true)!.accountNumber;
      const userToken = await mintToken(issuerId);
      expect((await sendDelink(ctx.app, userToken, consumerId, main)).status).toBe(409);
      expect(
        (
          await sendDelink(
            ctx.app,
            userToken,
            consumerId,
            accounts.find((a) => a !== main)!,
          )
        ).status,
      ).toBe(200);
    });

    it('when the same account is registered 10 times at once for one consumer, then all answer 204 and one account, link and user exist', async () => {
      const issuerId = randomIssuerId();
      const consumerId = `C${randomDigits(12)}`;
      const account = randomDigits(16);
      const token = await issuerToken(issuerId);

      const sent = await Promise.all(
        Array.from({ length: 10 }, () => sendRegister(ctx.app, token, issuerId, account, consumerId)),
      );

      for (const s of sent) expect(s.status).toBe(204);
      expect(await ctx.dataSource.getRepository(Account).count({ where: { issuerId } })).toBe(1);
      expect(await ctx.dataSource.getRepository(Consumer).count({ where: { issuerId } })).toBe(1);
      const linkCount = await ctx.dataSource
        .getRepository(AccountLink)
        .createQueryBuilder('l')
        .innerJoin(Account, 'a', 'a.id = l.account_id')
        .where('a.issuer_id = :issuerId', { issuerId })
        .getCount();
      expect(linkCount).toBe(1);
      expect(await linkOf(ctx.dataSource, issuerId, account)).toMatchObject({
        ownerKey: consumerId.toLowerCase(),
        isMain: true,
        delinked: false,
        state: 'ACTIVE',
      });

      const operations = await operationsByCorrelation(ctx.dataSource, issuerId, 'REGISTER');
      expect(operations.size).toBe(10);
      expectOneOperationPerRequest(sent, operations, 'REGISTER');
    });

    it('when one account is registered at once for two consumers, then the first registration wins, the other consumer gets 409 ERR01141, and one owner remains', async () => {
      const issuerId = randomIssuerId();
      const consumers = [`A${randomDigits(12)}`, `B${randomDigits(12)}`];
      const account = randomDigits(16);
      const token = await issuerToken(issuerId);

      const sent = await Promise.all(
        Array.from({ length: 10 }, (_, i) => sendRegister(ctx.app, token, issuerId, account, consumers[i % 2]!)),
      );

      const link = await linkOf(ctx.dataSource, issuerId, account);
      expect(link).toMatchObject({ isMain: true, delinked: false, state: 'ACTIVE' });
      const owner = consumers.find((c) => c.toLowerCase() === link!.ownerKey)!;
      expect(owner).toBeDefined();
      const loser = consumers.find((c) => c !== owner)!;
      for (const s of sent.filter((r) => r.consumerId === owner)) expect(s.status).toBe(204);
      for (const s of sent.filter((r) => r.consumerId === loser)) {
        expect(s.status).toBe(409);
        expect(s.body).toEqual({
          errorCode: 'ERR01141',
          message: 'The account is registered to another consumer.',
          correlationId: s.correlationId,
        });
      }
      // A refused registration leaves nothing behind: the loser never became a user.
      expect(await ctx.dataSource.getRepository(Consumer).find({ where: { issuerId } })).toEqual([
        expect.objectContaining({ consumerId: owner }),
      ]);
      expect(await ctx.dataSource.getRepository(Account).count({ where: { issuerId } })).toBe(1);

      const operations = await operationsByCorrelation(ctx.dataSource, issuerId, 'REGISTER');
      expect(operations.size).toBe(10);
      expectOneOperationPerRequest(sent, operations, 'REGISTER');
      // The first registration recorded is the owner's: no refusal was recorded before the winner committed.
      const [first] = [...operations.values()].sort((a, b) => a.id - b.id);
      expect(first).toMatchObject({ status: 'SUCCESSFUL', consumerId: owner });

      const again = await sendRegister(ctx.app, token, issuerId, account, loser);
      expect(again.status).toBe(409);
      expect(await linkOf(ctx.dataSource, issuerId, account)).toMatchObject({ ownerKey: owner.toLowerCase() });
    });
  });

  describe('collisions the database reports', () => {
    /** As the drivers report a transaction rolled back for colliding with another one. */
    const COLLISIONS = [
      { what: 'SQLite busy', error: { code: 'SQLITE_BUSY' } },
      { what: 'SQLite locked', error: { code: 'SQLITE_LOCKED' } },
      { what: 'MySQL deadlock 1213', error: { errno: 1213, code: 'ER_LOCK_DEADLOCK' } },
      { what: 'MySQL lock wait timeout 1205', error: { errno: 1205, code: 'ER_LOCK_WAIT_TIMEOUT' } },
      { what: 'Galera error during COMMIT 1180', error: { errno: 1180, code: 'ER_ERROR_DURING_COMMIT' } },
      {
        what: 'Group Replication rollback 3101',
        error: { errno: 3101, code: 'ER_TRANSACTION_ROLLBACK_DURING_COMMIT' },
      },
    ];
    const collision = (fields: Record<string, unknown>) => Object.assign(new Error('collided'), fields);

    /**
     * Runs `send` with the request's operation transaction (the one that can verify its COMMIT) wrapped by `attempt`,
     * which is handed each attempt's number, its manager and the unit of work; returns how many attempts ran.
     */
    async function withOperationAttempts<T>(
      attempt: (
        n: number,
        manager: EntityManager,
        work: (manager: EntityManager) => Promise<unknown>,
      ) => Promise<unknown>,
      send: () => Promise<T>,
    ): Promise<{ result: T; attempts: number }> {
      const transaction = ctx.database.transaction.bind(ctx.database);
      let attempts = 0;
      const spy = jest.spyOn(ctx.database, 'transaction').mockImplementation((work, options) => {
        if (options?.verify === undefined) return transaction(work, options);
        return transaction((manager) => attempt((attempts += 1), manager, work), options);
      });
      try {
        return { result: await send(), attempts };
      } finally {
        spy.mockRestore();
      }
    }

    it.each(COLLISIONS)(
      'when a delink collides twice ($what), then it runs a third time, answers 200, and is recorded once',
      async ({ error }) => {
        const user = await seedUser(ctx.database);
        const account = user.otherAccounts[0]!;
        const { result, attempts } = await withOperationAttempts(
          async (n, manager, work) => {
            const done = await work(manager);
            if (n <= 2) throw collision(error); // after the writes: the retry must not find them
            return done;
          },
          async () => sendDelink(ctx.app, await mintToken(user.issuerId), user.ssUserId, account),
        );
        expect(attempts).toBe(3);
        expect([result.status, result.body]).toEqual([200, DELINK_SUCCESS]);
        expect(await linkOf(ctx.dataSource, user.issuerId, account)).toMatchObject({ delinked: true });
        expectOneOperationPerRequest(
          [result],
          await operationsByCorrelation(ctx.dataSource, user.issuerId, 'DELINK'),
          'DELINK',
        );
      },
    );

    it.each([
      [
        'keeps colliding, then after the last attempt it answers 503',
        { errno: 1213, code: 'ER_LOCK_DEADLOCK' },
        DEFAULT_RETRY_POLICY.attempts,
        503,
        'ERR01190',
      ],
      // A duplicate key is retried for a registration only: for a delink it is not a race but a fault.
      [
        'meets a duplicate key, which only a registration expects, then it is not run again: 500',
        { errno: 1062, code: 'ER_DUP_ENTRY' },
        1,
        500,
        'ERR01199',
      ],
    ])('when a delink %s, and nothing changes', async (_case, error, expectedAttempts, status, errorCode) => {
      const user = await seedUser(ctx.database);
      const account = user.otherAccounts[0]!;
      const { result, attempts } = await withOperationAttempts(
        async (_n, manager, work) => {
          await work(manager);
          throw collision(error);
        },
        async () => sendDelink(ctx.app, await mintToken(user.issuerId), user.ssUserId, account),
      );
      expect(attempts).toBe(expectedAttempts);
      expect(result.status).toBe(status);
      expect(result.body).toMatchObject({ Status: false, ErrorCode: errorCode });
      expect(await linkOf(ctx.dataSource, user.issuerId, account)).toMatchObject({ delinked: false });
      const operations = await operationsByCorrelation(ctx.dataSource, user.issuerId, 'DELINK');
      expect([...operations.values()]).toMatchObject([{ status: 'FAILED', errorCode }]);
    });

    it('when a first registration meets the unique key of a concurrent one, then it runs again and answers 204', async () => {
      const issuerId = randomIssuerId();
      const consumerId = `C${randomDigits(12)}`;
      const account = randomDigits(16);
      const { result, attempts } = await withOperationAttempts(
        async (n, manager, work) => {
          // The rival registration's account, written between this one's reads and its inserts.
          if (n === 1) {
            const at = new Date();
            await manager.getRepository(Account).insert({
              issuerId,
              accountNumber: account,
              liveKey: account,
              productId: null,
              state: 'ACTIVE',
              createdAt: at,
              updatedAt: at,
            });
          }
          return work(manager);
        },
        async () => sendRegister(ctx.app, await issuerToken(issuerId), issuerId, account, consumerId),
      );
      expect(attempts).toBe(2);
      expect(result.status).toBe(204);
      expect(await ctx.dataSource.getRepository(Account).count({ where: { issuerId } })).toBe(1);
      expect(await linkOf(ctx.dataSource, issuerId, account)).toMatchObject({
        ownerKey: consumerId.toLowerCase(),
        isMain: true,
        delinked: false,
      });
      expectOneOperationPerRequest(
        [result],
        await operationsByCorrelation(ctx.dataSource, issuerId, 'REGISTER'),
        'REGISTER',
      );
    });
  });

  describe('delete racing DeLinkAccount', () => {
    it('when each of 12 secondary accounts gets a delete and a delink at once, then each ends DELETED and delinked, changed by one of the two only', async () => {
      const user = await seedUser(ctx.database, { accounts: 13 });
      const userToken = await mintToken(user.issuerId);
      const token = await issuerToken(user.issuerId);

      const races = await Promise.all(
        user.otherAccounts.map(async (account, i) => {
          const [deleted, delinked] =
            i % 2 === 0
              ? await Promise.all([
                  sendDelete(ctx.app, token, user.issuerId, account),
                  sendDelink(ctx.app, userToken, user.ssUserId, account),
                ])
              : await Promise.all([
                  sendDelink(ctx.app, userToken, user.ssUserId, account),
                  sendDelete(ctx.app, token, user.issuerId, account),
                ]).then(([dl, del]) => [del, dl] as const);
          return { account, deleted, delinked };
        }),
      );

      const deletes = await operationsByCorrelation(ctx.dataSource, user.issuerId, 'DELETE');
      const delinks = await operationsByCorrelation(ctx.dataSource, user.issuerId, 'DELINK');
      expectOneOperationPerRequest(
        races.map((r) => r.deleted),
        deletes,
        'DELETE',
      );
      expectOneOperationPerRequest(
        races.map((r) => r.delinked),
        delinks,
        'DELINK',
      );

      for (const { account, deleted, delinked } of races) {
        const deleteOp = deletes.get(deleted.correlationId)!;
        expect(deleted.status).toBe(200);
        expect(deleted.body).toEqual({ operationId: deleteOp.operationId, status: 'SUCCESSFUL' });
        expect(deleteOp).toMatchObject({ status: 'SUCCESSFUL', consumerId: user.ssUserId });

        const delinkOp = delinks.get(delinked.correlationId)!;
        if (delinked.status === 200) {
          expect(delinked.body).toEqual(DELINK_SUCCESS);
          await expectDelinkedBy(ctx.dataSource, user.issuerId, account, delinkOp);
        } else {
          expect([delinked.status, delinked.body]).toEqual([404, ALREADY_DELINKED]);
          await expectDelinkedBy(ctx.dataSource, user.issuerId, account, deleteOp);
        }
        expect(await linkOf(ctx.dataSource, user.issuerId, account)).toMatchObject({
          isMain: false,
          delinked: true,
          state: 'DELETED',
        });
      }
      expect(await linkOf(ctx.dataSource, user.issuerId, user.mainAccount)).toMatchObject({
        isMain: true,
        delinked: false,
        state: 'ACTIVE',
      });
    });

    it('when the main account gets a delete and 10 delinks at once, then it ends DELETED but still linked and every delink answers 409', async () => {
      const user = await seedUser(ctx.database, { accounts: 2 });
      const userToken = await mintToken(user.issuerId);
      const token = await issuerToken(user.issuerId);

      const [deleted, ...delinked] = await Promise.all([
        sendDelete(ctx.app, token, user.issuerId, user.mainAccount),
        ...Array.from({ length: 10 }, () => sendDelink(ctx.app, userToken, user.ssUserId, user.mainAccount)),
      ]);

      expect(deleted.status).toBe(200);
      expect(deleted.body).toEqual({ operationId: expect.any(String), status: 'SUCCESSFUL' });
      for (const s of delinked) expect([s.status, s.body]).toEqual([409, MAIN_ACCOUNT]);
      expect(await linkOf(ctx.dataSource, user.issuerId, user.mainAccount)).toMatchObject({
        isMain: true,
        delinked: false,
        state: 'DELETED',
      });
      expect((await linkRowOf(ctx.dataSource, user.issuerId, user.mainAccount))?.delinkedAt).toBeNull();
      expectOneOperationPerRequest(
        [deleted],
        await operationsByCorrelation(ctx.dataSource, user.issuerId, 'DELETE'),
        'DELETE',
      );
      expectOneOperationPerRequest(
        delinked,
        await operationsByCorrelation(ctx.dataSource, user.issuerId, 'DELINK'),
        'DELINK',
      );
    });
  });

  describe('LinkMultipleAccounts racing DeLinkAccount', () => {
    /** Which accounts a user has, which link is main, and the row counts: what a link may never change. */
    async function shapeOf(issuerId: string) {
      const accounts = await ctx.dataSource.getRepository(Account).count({ where: { issuerId } });
      const users = await ctx.dataSource.getRepository(Consumer).count({ where: { issuerId } });
      const links = await ctx.dataSource
        .getRepository(AccountLink)
        .createQueryBuilder('l')
        .innerJoin(Account, 'a', 'a.id = l.account_id')
        .select(['l.id AS id', 'l.is_main AS isMain', 'l.consumer_id AS consumerId'])
        .where('a.issuer_id = :issuerId', { issuerId })
        .orderBy('l.id')
        .getRawMany<{ id: number; isMain: unknown; consumerId: number }>();
      return { accounts, users, links: links.map((l) => [Number(l.id), Number(l.isMain), Number(l.consumerId)]) };
    }

    it('when each of 12 secondary accounts, half of them delinked, gets a link and a delink at once, then each ends as the later of the two left it, with one operation each and no main account moved', async () => {
      const user = await seedUser(ctx.database, { accounts: 13 });
      const token = await mintToken(user.issuerId);
      const startsDelinked = user.otherAccounts.filter((_account, i) => i % 2 === 0);
      for (const account of startsDelinked)
        expect((await sendDelink(ctx.app, token, user.ssUserId, account)).status).toBe(200);
      const shapeBefore = await shapeOf(user.issuerId);
      const delinksBefore = new Set((await operationsOf(ctx.dataSource, user.issuerId)).map((o) => o.correlationId));

      const races = await Promise.all(
        user.otherAccounts.map(async (account, i) => {
          const [linked, delinked] =
            i % 4 < 2
              ? await Promise.all([
                  sendLink(ctx.app, token, user.ssUserId, account),
                  sendDelink(ctx.app, token, user.ssUserId, account),
                ])
              : await Promise.all([
                  sendDelink(ctx.app, token, user.ssUserId, account),
                  sendLink(ctx.app, token, user.ssUserId, account),
                ]).then(([dl, ln]) => [ln, dl] as const);
          return { account, linked, delinked };
        }),
      );

      expectOneOperationPerRequest(
        races.map((r) => r.linked),
        await operationsByCorrelation(ctx.dataSource, user.issuerId, 'LINK'),
        'LINK',
      );
      const delinks = await operationsByCorrelation(ctx.dataSource, user.issuerId, 'DELINK');
      for (const correlationId of delinksBefore) delinks.delete(correlationId);
      expectOneOperationPerRequest(
        races.map((r) => r.delinked),
        delinks,
        'DELINK',
      );
      for (const { account, linked, delinked } of races) {
        const outcome = [linked.status, delinked.status];
        const link = await linkOf(ctx.dataSource, user.issuerId, account);
        expect(link).toMatchObject({ isMain: false, state: 'ACTIVE', ownerKey: user.ssUserId.toLowerCase() });
        if (startsDelinked.includes(account)) {
          // Link then delink: both change it, it ends delinked. Delink first: it finds it delinked, the link wins.
          expect([
            [200, 200],
            [200, 404],
          ]).toContainEqual(outcome);
          expect(link!.delinked).toBe(outcome[1] === 200);
          if (outcome[1] === 404) expect(delinked.body).toEqual(ALREADY_DELINKED);
        } else {
          // Delink then link: both change it, it ends linked. Link first: it finds it linked, the delink wins.
          expect([
            [200, 200],
            [409, 200],
          ]).toContainEqual(outcome);
          expect(link!.delinked).toBe(outcome[0] === 409);
          if (outcome[0] === 409) expect(linked.body).toMatchObject({ ErrorCode: 'ERR01175', Status: false });
        }
      }
      expect(await shapeOf(user.issuerId)).toEqual(shapeBefore);
      expect(await linkOf(ctx.dataSource, user.issuerId, user.mainAccount)).toMatchObject({
        isMain: true,
        delinked: false,
      });
    });

    it('when 30 links of one delinked account race, then exactly one answers 200 and the rest 409 ERR01175, with 30 operations', async () => {
      const user = await seedUser(ctx.database, { accounts: 2 });
      const token = await mintToken(user.issuerId);
      const account = user.otherAccounts[0]!;
      expect((await sendDelink(ctx.app, token, user.ssUserId, account)).status).toBe(200);
      const shapeBefore = await shapeOf(user.issuerId);

      const sent = await Promise.all(
        Array.from({ length: 30 }, () => sendLink(ctx.app, token, user.ssUserId, account)),
      );

      expect(sent.filter((s) => s.status === 200)).toHaveLength(1);
      for (const s of sent.filter((r) => r.status !== 200))
        expect([s.status, s.body.ErrorCode]).toEqual([409, 'ERR01175']);
      expectOneOperationPerRequest(sent, await operationsByCorrelation(ctx.dataSource, user.issuerId, 'LINK'), 'LINK');
      expect(await linkOf(ctx.dataSource, user.issuerId, account)).toMatchObject({ delinked: false, isMain: false });
      expect(await shapeOf(user.issuerId)).toEqual(shapeBefore);
    });

    it('when a delink lands between a link that found the account linked and its read of why, then the link answers 409 ERR01175 as it found it', async () => {
      const user = await seedUser(ctx.database, { accounts: 2 });
      const account = user.otherAccounts[0]!;
      // The delink's own statement, in the link's unit just before that unit reads why it changed nothing: the
      // order of a delink that committed in between.
      const linkability = linkRepository.linkability;
      const spy = jest.spyOn(linkRepository, 'linkability').mockImplementationOnce(async (manager, link) => {
        expect(await linkRepository.delinkSecondary(manager, link, new Date())).toBe(true);
        return linkability(manager, link);
      });
      let sent: Sent;
      try {
        sent = await sendLink(ctx.app, await mintToken(user.issuerId), user.ssUserId, account);
      } finally {
        spy.mockRestore();
      }

      expect([sent.status, sent.body.ErrorCode]).toEqual([409, 'ERR01175']);
      expect(await linkOf(ctx.dataSource, user.issuerId, account)).toMatchObject({ delinked: true, isMain: false });
    });
  });
});

describe('concurrent requests on two instances sharing one database', () => {
  const database = testDatabase();
  const databases: Database[] = [];
  const servers: Server[] = [];
  const urls: string[] = [];

  beforeAll(async () => {
    // One after the other: on SQLite the first one creates the schema of the shared file.
    for (let i = 0; i < 2; i += 1) databases.push(await openDatabase(database));
    for (const shared of databases) {
      const { app } = await createTestContext({ database: shared });
      const server = await new Promise<Server>((resolve) => {
        const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
      });
      servers.push(server);
      urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    await Promise.all(databases.map((shared) => shared.close()));
    if (database.kind === 'sqlite') {
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${database.path}${suffix}`, { force: true });
    }
  });

  it('when 50 delinks of one secondary account alternate between the two instances, then exactly one answers 200 and 49 answer 404 ERR01132', async () => {
    await raceOneSecondaryAccount(databases[0]!, urls);
  });

  it('when every account of a user is delinked 5 times at once across the two instances, then only the main account stays linked', async () => {
    await raceEveryAccountOfAUser(databases[1]!, urls);
  });
});

describe('concurrent reuse of deleted ids and consumer deletes', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  async function sendConsumerDelete(issuerId: string, token: string, consumerId: string) {
    const res = await api(ctx.app)
      .post(`/issuers/${issuerId}/consumers/${consumerId}/operations:delete`)
      .set('Authorization', `Bearer ${token}`)
      .send({});
    return { status: res.status, body: res.body as Record<string, unknown> };
  }

  /** Every live account is linked to a live consumer, and every account of a deleted consumer is DELETED and unlinked. */
  async function expectConsistent(issuerId: string): Promise<void> {
    const rows = await ctx.dataSource
      .createQueryBuilder(AccountLink, 'l')
      .innerJoin(Account, 'a', 'a.id = l.account_id')
      .innerJoin(Consumer, 'c', 'c.id = l.consumer_id')
      .select([
        'a.live_key AS accountLive',
        'a.state AS state',
        'c.live_key AS consumerLive',
        'l.delinked_at AS delinkedAt',
      ])
      .where('a.issuer_id = :issuerId', { issuerId })
      .getRawMany<{ accountLive: string | null; state: string; consumerLive: string | null; delinkedAt: unknown }>();
    for (const row of rows) {
      if (row.consumerLive === null)
        expect([row.accountLive, row.state, row.delinkedAt !== null]).toEqual([null, 'DELETED', true]);
      if (row.accountLive !== null) expect(row.consumerLive).not.toBeNull();
    }
  }

  it('when a deleted account is registered 10 times at once for two other consumers, then exactly one consumer gets it as a new account and the other gets 409 ERR01141', async () => {
    const issuerId = randomIssuerId();
    const token = await issuerToken(issuerId);
    const account = randomDigits(16);
    expect((await sendRegister(ctx.app, token, issuerId, account, `O${randomDigits(12)}`)).status).toBe(204);
    expect((await sendDelete(ctx.app, token, issuerId, account)).status).toBe(200);
    const consumers = [`A${randomDigits(12)}`, `B${randomDigits(12)}`];

    const sent = await Promise.all(
      Array.from({ length: 10 }, (_, i) => sendRegister(ctx.app, token, issuerId, account, consumers[i % 2]!)),
    );

    const rows = await ctx.dataSource.getRepository(Account).find({ where: { issuerId }, order: { id: 'ASC' } });
    expect(rows.map((row) => [row.state, row.liveKey])).toEqual([
      ['DELETED', null],
      ['ACTIVE', account],
    ]);
    const link = await linkOf(ctx.dataSource, issuerId, account);
    const owner = consumers.find((c) => c.toLowerCase() === link!.ownerKey)!;
    expect(owner).toBeDefined();
    for (const s of sent) expect([s.consumerId, s.status]).toEqual([s.consumerId, s.consumerId === owner ? 204 : 409]);
    for (const s of sent.filter((r) => r.status === 409)) expect(s.body).toMatchObject({ errorCode: 'ERR01141' });
    expect(await operationsByCorrelation(ctx.dataSource, issuerId, 'REGISTER')).toHaveProperty('size', 11);
  });

  it('when a consumer delete races registers and delinks of that consumer, then every request is answered and the end state is consistent', async () => {
    const user = await seedUser(ctx.database, { accounts: 4 });
    const token = await issuerToken(user.issuerId);
    const userToken = await mintToken(user.issuerId);
    const fresh = Array.from({ length: 5 }, () => randomDigits(16));

    const [deleted, registered, delinked] = await Promise.all([
      sendConsumerDelete(user.issuerId, token, user.ssUserId),
      Promise.all(fresh.map((account) => sendRegister(ctx.app, token, user.issuerId, account, user.ssUserId))),
      Promise.all(user.otherAccounts.map((account) => sendDelink(ctx.app, userToken, user.ssUserId, account))),
    ]);

    expect(deleted.status).toBe(200);
    for (const r of registered) expect(r.status).toBe(204);
    await expectConsistent(user.issuerId);
    // At most one live consumer: a register that came after the delete made a new one, the others joined it.
    const consumers = await ctx.dataSource.getRepository(Consumer).find({ where: { issuerId: user.issuerId } });
    const live = consumers.filter((c) => c.liveKey !== null);
    expect(live.length).toBeLessThanOrEqual(1);
    // A delink before the delete delinked; one between the delete and a register found no consumer or a delinked
    // link; one after a register found the new consumer, to whom the old account was never linked.
    for (const d of delinked) {
      expect([200, 404]).toContain(d.status);
      if (d.status === 404)
        expect(['ERR01130', 'ERR01132', ...(live.length === 1 ? ['ERR01131'] : [])]).toContain(d.body.ErrorCode);
    }
    // The consumer delete recorded one DELETE per account the old consumer had when it committed.
    const old = consumers.find((c) => c.deletedAt !== null)!;
    const oldAccounts = await ctx.dataSource.getRepository(AccountLink).count({ where: { consumerId: old.id } });
    const operations = await operationsOf(ctx.dataSource, user.issuerId);
    expect(operations.filter((op) => op.operation === 'DELETE' && op.status === 'SUCCESSFUL')).toHaveLength(
      oldAccounts,
    );
    // Every fresh account was registered: deleted with the old consumer, or live under the new one.
    for (const account of fresh) expect(await linkOf(ctx.dataSource, user.issuerId, account)).toBeDefined();
  });

  it('when a consumer is deleted twice at once, then one delete answers 200, the other 404 ERR01180, and its accounts are deleted once', async () => {
    const user = await seedUser(ctx.database, { accounts: 3 });
    const token = await issuerToken(user.issuerId);

    const answers = await Promise.all([
      sendConsumerDelete(user.issuerId, token, user.ssUserId),
      sendConsumerDelete(user.issuerId, token, user.ssUserId),
    ]);

    expect(answers.map((a) => a.status).sort()).toEqual([200, 404]);
    expect(answers.find((a) => a.status === 404)!.body).toMatchObject({ errorCode: 'ERR01180' });
    const operations = await operationsOf(ctx.dataSource, user.issuerId);
    expect(operations.filter((op) => op.operation === 'DELETE')).toHaveLength(3);
    await expectConsistent(user.issuerId);
  });

  type Lock = (manager: EntityManager, rowId: number) => Promise<boolean>;

  /**
   * Sends `send`; the first time a unit goes to lock a row it has read, `between` is sent first and answered, so that
   * what it changes has committed between that unit's plain read and its lock.
   */
  async function withCommitBeforeFirstLock<T>(
    repository: Record<string, unknown>,
    lock: string,
    between: () => Promise<unknown>,
    send: () => Promise<T>,
  ): Promise<T> {
    const locks = repository as Record<string, Lock>;
    const original = locks[lock]!;
    let calls = 0;
    const spy = jest.spyOn(locks, lock).mockImplementation(async (manager, rowId) => {
      calls += 1;
      if (calls === 1) await between();
      return original(manager, rowId);
    });
    try {
      return await send();
    } finally {
      spy.mockRestore();
    }
  }

  // On SQLite one unit of work runs at a time: no request can commit between another's read and its lock.
  (onMariaDb ? describe : describe.skip)('a delete committed between a read and its lock (MariaDB)', () => {
    it('when the account is deleted after a registration of it read it and before it locked it, then the registration runs again and registers the number anew', async () => {
      const user = await seedUser(ctx.database);
      const token = await issuerToken(user.issuerId);
      const account = user.otherAccounts[0]!;
      let deleted: Sent | undefined;
      const registered = await withCommitBeforeFirstLock(
        accounts,
        'lockLiveAccount',
        async () => (deleted = await sendDelete(ctx.app, token, user.issuerId, account)),
        () => sendRegister(ctx.app, token, user.issuerId, account, user.ssUserId),
      );

      expect([deleted?.status, registered.status]).toEqual([200, 204]);
      const rows = await ctx.dataSource.getRepository(Account).find({
        where: { issuerId: user.issuerId, accountNumber: account },
        order: { id: 'ASC' },
      });
      expect(rows.map((row) => [row.state, row.liveKey])).toEqual([
        ['DELETED', null],
        ['ACTIVE', account],
      ]);
      // The newest row's link: the number is the consumer's again, a secondary account as before.
      expect(await linkOf(ctx.dataSource, user.issuerId, account)).toMatchObject({
        state: 'ACTIVE',
        ownerKey: user.ssUserId.toLowerCase(),
        isMain: false,
        delinked: false,
      });
      const recorded = (await operationsOf(ctx.dataSource, user.issuerId)).filter(
        (op) => op.correlationId === registered.correlationId,
      );
      expect(recorded).toMatchObject([{ operation: 'REGISTER', status: 'SUCCESSFUL', accountNumber: account }]);
      await expectConsistent(user.issuerId);
    });

    it('when the consumer is deleted after a registration for it read it and before it locked it, then the registration runs again and makes a new consumer', async () => {
      const user = await seedUser(ctx.database, { accounts: 2 });
      const token = await issuerToken(user.issuerId);
      const account = randomDigits(16);
      let deleted: { status: number } | undefined;
      const registered = await withCommitBeforeFirstLock(
        consumers,
        'lockLiveConsumer',
        async () => (deleted = await sendConsumerDelete(user.issuerId, token, user.ssUserId)),
        () => sendRegister(ctx.app, token, user.issuerId, account, user.ssUserId),
      );

      expect([deleted?.status, registered.status]).toEqual([200, 204]);
      const rows = await ctx.dataSource.getRepository(Consumer).find({
        where: { issuerId: user.issuerId },
        order: { id: 'ASC' },
      });
      expect(rows.map((row) => row.liveKey)).toEqual([null, user.ssUserId.toLowerCase()]);
      // The new account is the new consumer's first: its main account. The old consumer's accounts are all DELETED.
      const link = await ctx.dataSource.getRepository(AccountLink).findOneByOrFail({ consumerId: rows[1]!.id });
      expect(link).toMatchObject({ isMain: true, delinkedAt: null });
      expect(await ctx.dataSource.getRepository(Account).findOneByOrFail({ id: link.accountId })).toMatchObject({
        accountNumber: account,
        state: 'ACTIVE',
      });
      await expectConsistent(user.issuerId);
    });

    it('when the account is deleted after a delete of it read it and before it locked it, then that delete runs again and answers as for a deleted account', async () => {
      const user = await seedUser(ctx.database);
      const token = await issuerToken(user.issuerId);
      const account = user.otherAccounts[0]!;
      let first: Sent | undefined;
      const second = await withCommitBeforeFirstLock(
        accounts,
        'lockLiveAccount',
        async () => (first = await sendDelete(ctx.app, token, user.issuerId, account)),
        () => sendDelete(ctx.app, token, user.issuerId, account),
      );

      expect([first?.status, second.status]).toEqual([200, 200]);
      const rows = await ctx.dataSource.getRepository(Account).find({
        where: { issuerId: user.issuerId, accountNumber: account },
      });
      expect(rows.map((row) => [row.state, row.liveKey])).toEqual([['DELETED', null]]);
      const deletes = await operationsByCorrelation(ctx.dataSource, user.issuerId, 'DELETE');
      expectOneOperationPerRequest([first!, second], deletes, 'DELETE');
      await expectConsistent(user.issuerId);
    });
  });
});
