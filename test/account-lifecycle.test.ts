import { api } from './helpers/api';
import { DELINK_PATH, GET_LINKS_PATH } from '../src/corecredit/routes';
import { Account, Consumer } from '../src/db/entities';
import {
  buildEnvelope,
  createTestContext,
  issuerToken,
  linkOf,
  mintToken,
  operationsOf,
  randomDigits,
  randomIssuerId,
  snapshot,
  type TestContext,
} from './helpers/context';
import { DELINK_SUCCESS, expectIssuerError } from './helpers/expectations';

const newConsumer = (): string => `C${randomDigits(12)}`;
const newAccount = (): string => randomDigits(16);

describe('account lifecycle: states, reuse of deleted account numbers', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  async function put(issuerId: string, accountId: string, body: Record<string, unknown>) {
    return api(ctx.app)
      .put(`/issuers/${issuerId}/accounts/${accountId}`)
      .set('Authorization', `Bearer ${await issuerToken(issuerId)}`)
      .send(body);
  }

  async function register(issuerId: string, consumerId: string, accountId: string, state = 'ACTIVE') {
    const res = await put(issuerId, accountId, { consumerId, state });
    expect(res.status).toBe(204);
  }

  async function remove(issuerId: string, accountId: string) {
    const res = await api(ctx.app)
      .post(`/issuers/${issuerId}/accounts/${accountId}/operations:delete`)
      .set('Authorization', `Bearer ${await issuerToken(issuerId)}`)
      .send({});
    expect(res.status).toBe(200);
  }

  async function delink(issuerId: string, consumerId: string, accountNumber: string) {
    return api(ctx.app)
      .post(DELINK_PATH)
      .set('Authorization', `Bearer ${await mintToken(issuerId)}`)
      .send(buildEnvelope({ SSUserID: consumerId, AccountNumber: accountNumber }));
  }

  async function listed(issuerId: string, consumerId: string) {
    const res = await api(ctx.app)
      .post(GET_LINKS_PATH)
      .set('Authorization', `Bearer ${await mintToken(issuerId)}`)
      .send(buildEnvelope({ SSUserID: consumerId, AccountNumber: undefined }));
    expect(res.status).toBe(200);
    return (
      res.body.ResponseData.Accounts as { AccountNumber: string; IsMainAccount: boolean; AccountStatus: string }[]
    ).map((a) => [a.AccountNumber, a.IsMainAccount, a.AccountStatus]);
  }

  /** Every row of the issuer's accounts with this number, oldest first: [state, liveKey]. */
  async function rowsOf(issuerId: string, accountNumber: string) {
    const rows = await ctx.dataSource
      .getRepository(Account)
      .find({ where: { issuerId, accountNumber }, order: { id: 'ASC' } });
    return rows.map((row) => [row.state, row.liveKey]);
  }

  describe('states set by register and shown by GetLinkAccounts', () => {
    it('when accounts are registered ACTIVE, INACTIVE, SUSPENDED and CLOSED, then each is stored and listed in its state', async () => {
      const issuerId = randomIssuerId();
      const consumerId = newConsumer();
      const accounts = [newAccount(), newAccount(), newAccount(), newAccount()];
      const states = ['ACTIVE', 'INACTIVE', 'SUSPENDED', 'CLOSED'];
      for (const [i, account] of accounts.entries()) await register(issuerId, consumerId, account, states[i]);

      expect((await snapshot(ctx.dataSource, issuerId)).accounts).toEqual(
        accounts.map((account, i) => [account, states[i], null]),
      );
      expect(await listed(issuerId, consumerId)).toEqual(accounts.map((account, i) => [account, i === 0, states[i]]));
    });

    it.each([
      ['ACTIVE', 'SUSPENDED'],
      ['SUSPENDED', 'ACTIVE'],
      ['SUSPENDED', 'INACTIVE'],
      ['INACTIVE', 'SUSPENDED'],
      ['ACTIVE', 'CLOSED'],
      ['SUSPENDED', 'CLOSED'],
      ['CLOSED', 'CLOSED'],
    ])('when an account goes from %s to %s, then 204 and the new state is stored', async (from, to) => {
      const issuerId = randomIssuerId();
      const consumerId = newConsumer();
      const account = newAccount();
      await register(issuerId, consumerId, account, from);

      const res = await put(issuerId, account, { consumerId, state: to, accountProductId: 'GOLD' });

      expect(res.status).toBe(204);
      expect(await rowsOf(issuerId, account)).toEqual([[to, account]]);
      expect((await snapshot(ctx.dataSource, issuerId)).accounts).toEqual([[account, to, 'GOLD']]);
      expect((await operationsOf(ctx.dataSource, issuerId)).at(-1)).toMatchObject({
        operation: 'REGISTER',
        status: 'SUCCESSFUL',
      });
    });

    it.each(['ACTIVE', 'INACTIVE', 'SUSPENDED'])(
      'when a CLOSED account is registered %s, then 409 ERR01181, the account stays CLOSED and a FAILED REGISTER is recorded',
      async (to) => {
        const issuerId = randomIssuerId();
        const consumerId = newConsumer();
        const [main, closed] = [newAccount(), newAccount()];
        await register(issuerId, consumerId, main);
        await register(issuerId, consumerId, closed, 'CLOSED');
        const before = await snapshot(ctx.dataSource, issuerId);

        const res = await put(issuerId, closed, { consumerId, state: to });

        expectIssuerError(res, 409, 'ERR01181');
        expect(await snapshot(ctx.dataSource, issuerId)).toEqual({
          ...before,
          operations: (before.operations as number) + 1,
        });
        expect((await operationsOf(ctx.dataSource, issuerId)).at(-1)).toMatchObject({
          operation: 'REGISTER',
          status: 'FAILED',
          errorCode: 'ERR01181',
          accountNumber: closed,
        });
      },
    );

    it('when a CLOSED account is deleted, then it is DELETED and its number can be registered again ACTIVE', async () => {
      const issuerId = randomIssuerId();
      const consumerId = newConsumer();
      const [main, closed] = [newAccount(), newAccount()];
      await register(issuerId, consumerId, main);
      await register(issuerId, consumerId, closed, 'CLOSED');

      await remove(issuerId, closed);
      await register(issuerId, consumerId, closed, 'ACTIVE');

      expect(await rowsOf(issuerId, closed)).toEqual([
        ['DELETED', null],
        ['ACTIVE', closed],
      ]);
      expect(await listed(issuerId, consumerId)).toEqual([
        [main, true, 'ACTIVE'],
        [closed, false, 'ACTIVE'],
      ]);
    });
  });

  describe('DeLinkAccount and the new states', () => {
    it.each(['SUSPENDED', 'CLOSED'])(
      'when the main account is %s, then DeLinkAccount still refuses it with 409 ERR01140',
      async (state) => {
        const issuerId = randomIssuerId();
        const consumerId = newConsumer();
        const [main, second] = [newAccount(), newAccount()];
        await register(issuerId, consumerId, main, state);
        await register(issuerId, consumerId, second);

        const res = await delink(issuerId, consumerId, main);

        expect(res.status).toBe(409);
        expect(res.body).toMatchObject({ Status: false, ErrorCode: 'ERR01140' });
        expect(await linkOf(ctx.dataSource, issuerId, main)).toMatchObject({ isMain: true, delinked: false, state });
      },
    );

    it.each(['SUSPENDED', 'CLOSED'])(
      'when a secondary account is %s, then the cardholder can delink it and its state is unchanged',
      async (state) => {
        const issuerId = randomIssuerId();
        const consumerId = newConsumer();
        const [main, second] = [newAccount(), newAccount()];
        await register(issuerId, consumerId, main);
        await register(issuerId, consumerId, second, state);

        const res = await delink(issuerId, consumerId, second);

        expect(res.status).toBe(200);
        expect(res.body).toEqual(DELINK_SUCCESS);
        expect(await linkOf(ctx.dataSource, issuerId, second)).toMatchObject({ isMain: false, delinked: true, state });
        expect(await listed(issuerId, consumerId)).toEqual([[main, true, 'ACTIVE']]);
      },
    );
  });

  describe('reuse of a deleted account number', () => {
    it('when a deleted secondary account is registered for another consumer, then it is a new account of that consumer and the history stays', async () => {
      const issuerId = randomIssuerId();
      const [first, second] = [newConsumer(), newConsumer()];
      const [main, reused, otherMain] = [newAccount(), newAccount(), newAccount()];
      await register(issuerId, first, main);
      await register(issuerId, first, reused);
      await register(issuerId, second, otherMain);
      await remove(issuerId, reused);

      await register(issuerId, second, reused, 'SUSPENDED');

      expect(await rowsOf(issuerId, reused)).toEqual([
        ['DELETED', null],
        ['SUSPENDED', reused],
      ]);
      expect(await linkOf(ctx.dataSource, issuerId, reused)).toMatchObject({
        ownerKey: second.toLowerCase(),
        isMain: false,
        delinked: false,
      });
      expect(await listed(issuerId, first)).toEqual([[main, true, 'ACTIVE']]);
      expect(await listed(issuerId, second)).toEqual([
        [otherMain, true, 'ACTIVE'],
        [reused, false, 'SUSPENDED'],
      ]);
      // The first consumer's operations keep their account; the new owner's start with its register.
      const operations = await operationsOf(ctx.dataSource, issuerId);
      expect(
        operations.filter((op) => op.accountNumber === reused).map((op) => [op.operation, op.consumerKey]),
      ).toEqual([
        ['REGISTER', first.toLowerCase()],
        ['DELETE', first.toLowerCase()],
        ['REGISTER', second.toLowerCase()],
      ]);
    });

    it('when a deleted main account is registered for another consumer, then the old consumer keeps it as its DELETED main account and the new one owns the number', async () => {
      const issuerId = randomIssuerId();
      const [first, second] = [newConsumer(), newConsumer()];
      const [main, other] = [newAccount(), newAccount()];
      await register(issuerId, first, main);
      await register(issuerId, first, other);
      await remove(issuerId, main);

      await register(issuerId, second, main);

      expect(await rowsOf(issuerId, main)).toEqual([
        ['DELETED', null],
        ['ACTIVE', main],
      ]);
      // The main-account rule is unaffected: the first consumer's main account is still its first, DELETED.
      expect(await listed(issuerId, first)).toEqual([
        [main, true, 'DELETED'],
        [other, false, 'ACTIVE'],
      ]);
      expect(await listed(issuerId, second)).toEqual([[main, true, 'ACTIVE']]);
      // Each consumer's DeLinkAccount acts on its own account with that number: both are main accounts.
      expect((await delink(issuerId, first, main)).body).toMatchObject({ ErrorCode: 'ERR01140' });
      expect((await delink(issuerId, second, main)).body).toMatchObject({ ErrorCode: 'ERR01140' });
      // The issuer API acts on the live account: a register for the first consumer is now another consumer's.
      expectIssuerError(await put(issuerId, main, { consumerId: first, state: 'ACTIVE' }), 409, 'ERR01141');
    });

    it('when a deleted account is registered again for the same consumer, then it is a new secondary account and the main account stays the first', async () => {
      const issuerId = randomIssuerId();
      const consumerId = newConsumer();
      const main = newAccount();
      await register(issuerId, consumerId, main);
      await remove(issuerId, main);

      await register(issuerId, consumerId, main, 'INACTIVE');

      expect(await rowsOf(issuerId, main)).toEqual([
        ['DELETED', null],
        ['INACTIVE', main],
      ]);
      expect(await listed(issuerId, consumerId)).toEqual([
        [main, true, 'DELETED'],
        [main, false, 'INACTIVE'],
      ]);
      // The new one is a secondary account: it can be delinked, after which only the DELETED main one is left.
      expect((await delink(issuerId, consumerId, main)).status).toBe(200);
      expect(await listed(issuerId, consumerId)).toEqual([[main, true, 'DELETED']]);
      expect((await delink(issuerId, consumerId, main)).body).toMatchObject({ ErrorCode: 'ERR01140' });
    });

    it('when a live account is registered for another consumer, then it is still refused with 409 ERR01141', async () => {
      const issuerId = randomIssuerId();
      const account = newAccount();
      await register(issuerId, newConsumer(), account);
      const before = await snapshot(ctx.dataSource, issuerId);

      expectIssuerError(await put(issuerId, account, { consumerId: newConsumer(), state: 'ACTIVE' }), 409, 'ERR01141');
      expect((await snapshot(ctx.dataSource, issuerId)).accounts).toEqual(before.accounts);
    });

    it('when a reused number is deleted again, then the new account is DELETED and the number is free once more', async () => {
      const issuerId = randomIssuerId();
      const [first, second, third] = [newConsumer(), newConsumer(), newConsumer()];
      const account = newAccount();
      await register(issuerId, first, account);
      await remove(issuerId, account);
      await register(issuerId, second, account);
      await remove(issuerId, account);
      await register(issuerId, third, account);

      expect(await rowsOf(issuerId, account)).toEqual([
        ['DELETED', null],
        ['DELETED', null],
        ['ACTIVE', account],
      ]);
      expect(await ctx.dataSource.getRepository(Consumer).count({ where: { issuerId } })).toBe(3);
    });
  });
});
