import { randomUUID } from 'node:crypto';
import { api } from './helpers/api';
import type { DataSource } from 'typeorm';
import { DELINK_PATH, GET_LINKS_PATH } from '../src/corecredit/routes';
import { Account, AccountLink } from '../src/db/entities';
import { deleteAccount } from '../src/links/delete-account';
import type { RequestContext } from '../src/operations/context';
import {
  buildEnvelope,
  createTestContext,
  linkOf,
  mintToken,
  operationsOf,
  type SeededUser,
  seedUser,
  snapshot,
  type TestContext,
  type TokenOptions,
} from './helpers/context';
import { SUCCESS } from './helpers/expectations';

const LINKED_ON = /^\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}:\d{2}$/;

/** A GetLinkAccounts envelope: the documented sample without an AccountNumber. */
const listEnvelope = (overrides: Record<string, unknown>): Record<string, unknown> =>
  buildEnvelope({ AccountNumber: undefined, ...overrides });

/** MM/dd/yyyy HH:mm:ss in UTC, built from the ISO form (independent of the service's formatter). */
function usFormat(date: Date): string {
  const [, yyyy, mm, dd, time] = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2}:\d{2})/.exec(date.toISOString())!;
  return `${mm}/${dd}/${yyyy} ${time}`;
}

async function linkRow(dataSource: DataSource, issuerId: string, accountNumber: string): Promise<AccountLink> {
  const account = await dataSource.getRepository(Account).findOneByOrFail({ issuerId, accountNumber });
  return dataSource.getRepository(AccountLink).findOneByOrFail({ accountId: account.id });
}

/** Sets a link's linked_at, so that dates and ordering can be asserted exactly. */
async function pinLinkedAt(
  dataSource: DataSource,
  issuerId: string,
  accountNumber: string,
  linkedAt: Date,
): Promise<void> {
  const link = await linkRow(dataSource, issuerId, accountNumber);
  await dataSource.getRepository(AccountLink).update({ id: link.id }, { linkedAt });
}

const issuerContext = (issuerId: string): RequestContext => ({
  issuerId,
  requestorType: 'ISSUER',
  requestorId: 'test-issuer',
  correlationId: `test-${randomUUID()}`,
});

describe('POST /api/CoreCredit/UserManagement/GetLinkAccounts', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  async function getLinks(issuerId: string, body: Record<string, unknown>, token: TokenOptions = {}) {
    const jwt = await mintToken(issuerId, { scope: 'selfservice:read', ...token });
    return api(ctx.app).post(GET_LINKS_PATH).set('Authorization', `Bearer ${jwt}`).send(body);
  }

  const accountNumbers = (body: { ResponseData: { Accounts: { AccountNumber: string }[] } }): string[] =>
    body.ResponseData.Accounts.map((a) => a.AccountNumber);

  it('when the user has accounts, then 200 with the success envelope, every linked account, and LinkedOn as the database holds it', async () => {
    const user = await seedUser(ctx.database, { accounts: 3 });
    const [second, third] = user.otherAccounts as [string, string];
    const linkedAt = async (account: string) =>
      usFormat((await linkRow(ctx.dataSource, user.issuerId, account)).linkedAt);

    const res = await getLinks(user.issuerId, listEnvelope({ SSUserID: user.ssUserId }));

    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ...SUCCESS,
      ResponseData: {
        SSUserID: user.ssUserId,
        Accounts: [
          {
            AccountNumber: user.mainAccount,
            IsMainAccount: true,
            AccountStatus: 'ACTIVE',
            LinkedOn: await linkedAt(user.mainAccount),
          },
          { AccountNumber: second, IsMainAccount: false, AccountStatus: 'ACTIVE', LinkedOn: await linkedAt(second) },
          { AccountNumber: third, IsMainAccount: false, AccountStatus: 'ACTIVE', LinkedOn: await linkedAt(third) },
        ],
      },
    });
  });

  it('when the links were just made, then LinkedOn is UTC now, to the minute', async () => {
    const user = await seedUser(ctx.database, { accounts: 1 });
    const res = await getLinks(user.issuerId, listEnvelope({ SSUserID: user.ssUserId }));

    expect(res.status).toBe(200);
    const linkedOn: string = res.body.ResponseData.Accounts[0].LinkedOn;
    expect(linkedOn).toMatch(LINKED_ON);
    const [mm, dd, yyyy, hh, mi, ss] = linkedOn.split(/[/ :]/).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const shown = Date.UTC(yyyy, mm - 1, dd, hh, mi, ss);
    expect(Math.abs(Date.now() - shown)).toBeLessThan(60_000);
  });

  it('when the main account was linked after the others, then it is still listed first', async () => {
    const user = await seedUser(ctx.database, { accounts: 3 });
    await pinLinkedAt(ctx.dataSource, user.issuerId, user.otherAccounts[0]!, new Date('2021-01-01T00:00:00Z'));
    await pinLinkedAt(ctx.dataSource, user.issuerId, user.otherAccounts[1]!, new Date('2022-01-01T00:00:00Z'));
    await pinLinkedAt(ctx.dataSource, user.issuerId, user.mainAccount, new Date('2023-01-01T00:00:00Z'));

    const res = await getLinks(user.issuerId, listEnvelope({ SSUserID: user.ssUserId }));

    expect(res.status).toBe(200);
    expect(res.body.ResponseData.Accounts).toEqual([
      expect.objectContaining({
        AccountNumber: user.mainAccount,
        IsMainAccount: true,
        LinkedOn: '01/01/2023 00:00:00',
      }),
      expect.objectContaining({ AccountNumber: user.otherAccounts[0], IsMainAccount: false }),
      expect.objectContaining({ AccountNumber: user.otherAccounts[1], IsMainAccount: false }),
    ]);
  });

  describe('LinkedOn follows DateFormat, in UTC, to the second', () => {
    // 5 March 2007, 17:08:09.987 UTC: day and month differ, the hour is past noon, the year has a leading 0 in yy.
    const LINKED_AT = new Date('2007-03-05T17:08:09.987Z');

    it.each([
      { dateFormat: undefined, linkedOn: '03/05/2007 17:08:09', label: 'absent (MM/dd/yyyy)' },
      { dateFormat: null, linkedOn: '03/05/2007 17:08:09', label: 'null (MM/dd/yyyy)' },
      { dateFormat: '1', linkedOn: '03/05/2007 17:08:09', label: '"1" (MM/dd/yyyy)' },
      { dateFormat: '2', linkedOn: '03/05/07 17:08:09', label: '"2" (MM/dd/yy)' },
      { dateFormat: '3', linkedOn: '05/03/2007 17:08:09', label: '"3" (dd/MM/yyyy)' },
      { dateFormat: '4', linkedOn: '03/05/2007 17:08:09', label: '"4" (unknown: the default)' },
      { dateFormat: 'MM/dd/yyyy HH:MM:SS', linkedOn: '03/05/2007 17:08:09', label: 'a pattern (the default)' },
      { dateFormat: '', linkedOn: '03/05/2007 17:08:09', label: 'empty (the default)' },
    ])('when DateFormat is $label, then LinkedOn is $linkedOn', async ({ dateFormat, linkedOn }) => {
      const user = await seedUser(ctx.database, { accounts: 2 });
      for (const account of [user.mainAccount, ...user.otherAccounts])
        await pinLinkedAt(ctx.dataSource, user.issuerId, account, LINKED_AT);

      const res = await getLinks(user.issuerId, listEnvelope({ SSUserID: user.ssUserId, DateFormat: dateFormat }));

      expect(res.status).toBe(200);
      const accounts: { LinkedOn: string }[] = res.body.ResponseData.Accounts;
      expect(accounts.map((a) => a.LinkedOn)).toEqual([linkedOn, linkedOn]);
    });

    it('when DateFormat is longer than the 25 characters of its placeholder, then 400 ERR01100 names it', async () => {
      const user = await seedUser(ctx.database, { accounts: 1 });
      const res = await getLinks(user.issuerId, listEnvelope({ SSUserID: user.ssUserId, DateFormat: 'x'.repeat(26) }));
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        Message: 'The request has invalid fields.',
        Status: false,
        ErrorCode: 'ERR01100',
        ResponseData: {
          Errors: [{ Field: 'DateFormat', Message: 'DateFormat must be at most 25 printable characters' }],
        },
      });
    });
  });

  it('when an account was delinked through DeLinkAccount, then it is no longer listed', async () => {
    const user = await seedUser(ctx.database, { accounts: 3 });
    const [delinked, kept] = user.otherAccounts as [string, string];
    const delinkToken = await mintToken(user.issuerId, { scope: 'selfservice:delink' });
    const delink = await api(ctx.app)
      .post(DELINK_PATH)
      .set('Authorization', `Bearer ${delinkToken}`)
      .send(buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: delinked }));
    expect(delink.status).toBe(200);
    expect(await linkOf(ctx.dataSource, user.issuerId, delinked)).toMatchObject({ delinked: true });

    const res = await getLinks(user.issuerId, listEnvelope({ SSUserID: user.ssUserId }));

    expect(res.status).toBe(200);
    expect(accountNumbers(res.body)).toEqual([user.mainAccount, kept]);
  });

  describe('AccountStatus', () => {
    it('when the accounts were registered INACTIVE, then they are listed as INACTIVE', async () => {
      const user = await seedUser(ctx.database, { accounts: 2, state: 'INACTIVE' });
      const res = await getLinks(user.issuerId, listEnvelope({ SSUserID: user.ssUserId }));
      expect(res.status).toBe(200);
      expect(res.body.ResponseData.Accounts).toEqual([
        expect.objectContaining({ AccountNumber: user.mainAccount, IsMainAccount: true, AccountStatus: 'INACTIVE' }),
        expect.objectContaining({
          AccountNumber: user.otherAccounts[0],
          IsMainAccount: false,
          AccountStatus: 'INACTIVE',
        }),
      ]);
    });

    it('when accounts are ACTIVE, INACTIVE and DELETED, then each shows its state, and a deleted secondary account is gone', async () => {
      const user = await seedUser(ctx.database, { accounts: 3 });
      const [active, deletedSecondary] = user.otherAccounts as [string, string];
      const inactive = (
        await seedUser(ctx.database, {
          issuerId: user.issuerId,
          ssUserId: user.ssUserId,
          accounts: 1,
          state: 'INACTIVE',
        })
      ).mainAccount;
      await deleteAccount(ctx.database, issuerContext(user.issuerId), {
        accountNumber: user.mainAccount,
        reason: null,
        reasonCode: 'ISSUER_DECISION',
      });
      await deleteAccount(ctx.database, issuerContext(user.issuerId), {
        accountNumber: deletedSecondary,
        reason: null,
        reasonCode: 'USER_DECISION',
      });
      expect(await linkOf(ctx.dataSource, user.issuerId, user.mainAccount)).toMatchObject({
        state: 'DELETED',
        delinked: false,
        isMain: true,
      });
      expect(await linkOf(ctx.dataSource, user.issuerId, deletedSecondary)).toMatchObject({
        state: 'DELETED',
        delinked: true,
      });

      const res = await getLinks(user.issuerId, listEnvelope({ SSUserID: user.ssUserId }));

      expect(res.status).toBe(200);
      expect(res.body.ResponseData.Accounts).toEqual([
        {
          AccountNumber: user.mainAccount,
          IsMainAccount: true,
          AccountStatus: 'DELETED',
          LinkedOn: expect.stringMatching(LINKED_ON),
        },
        {
          AccountNumber: active,
          IsMainAccount: false,
          AccountStatus: 'ACTIVE',
          LinkedOn: expect.stringMatching(LINKED_ON),
        },
        {
          AccountNumber: inactive,
          IsMainAccount: false,
          AccountStatus: 'INACTIVE',
          LinkedOn: expect.stringMatching(LINKED_ON),
        },
      ]);
    });
  });

  it.each([
    { label: 'absent', AccountNumber: undefined },
    { label: 'null', AccountNumber: null },
  ])('when AccountNumber is $label, then the request is served', async ({ AccountNumber }) => {
    const user = await seedUser(ctx.database, { accounts: 2 });
    const res = await getLinks(user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber }));
    expect(res.status).toBe(200);
    expect(accountNumbers(res.body)).toEqual([user.mainAccount, user.otherAccounts[0]]);
  });

  it.each([
    { label: 'lower case', spell: (id: string) => id.toLowerCase() },
    { label: 'upper case', spell: (id: string) => id.toUpperCase() },
  ])('when the SSUserID is given in $label, then it is the same user, named as registered', async ({ spell }) => {
    const user = await seedUser(ctx.database, { ssUserId: `MixedCase${Date.now()}`, accounts: 2 });
    const res = await getLinks(user.issuerId, listEnvelope({ SSUserID: spell(user.ssUserId) }));
    expect(res.status).toBe(200);
    expect(res.body.ResponseData.SSUserID).toBe(user.ssUserId);
    expect(accountNumbers(res.body)).toEqual([user.mainAccount, user.otherAccounts[0]]);
  });

  describe('refusals', () => {
    let user: SeededUser;
    beforeAll(async () => {
      user = await seedUser(ctx.database, { accounts: 2 });
    });

    it('when the SSUserID is unknown, then 404 ERR01130', async () => {
      const res = await getLinks(user.issuerId, listEnvelope({ SSUserID: 'nobody' }));
      expect(res.status).toBe(404);
      expect(res.body).toEqual({
        Message: 'The SSUserID is not known.',
        Status: false,
        ErrorCode: 'ERR01130',
        ResponseData: {},
      });
    });

    it('when the token belongs to another issuer, then the user is not found there (404 ERR01130)', async () => {
      const stranger = await seedUser(ctx.database, { accounts: 1 });
      const res = await getLinks(stranger.issuerId, listEnvelope({ SSUserID: user.ssUserId }));
      expect(res.status).toBe(404);
      expect(res.body).toEqual({
        Message: 'The SSUserID is not known.',
        Status: false,
        ErrorCode: 'ERR01130',
        ResponseData: {},
      });
    });

    it('when the token is bound to another SSUserID, then 403 ERR01121', async () => {
      const other = await seedUser(ctx.database, { issuerId: user.issuerId, accounts: 1 });
      const res = await getLinks(user.issuerId, listEnvelope({ SSUserID: user.ssUserId }), {
        ssUserId: other.ssUserId,
      });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({
        Message: 'The token may not act for this SSUserID.',
        Status: false,
        ErrorCode: 'ERR01121',
        ResponseData: {},
      });
    });

    it('when the token is bound to that SSUserID, then the list is served', async () => {
      const res = await getLinks(user.issuerId, listEnvelope({ SSUserID: user.ssUserId }), { ssUserId: user.ssUserId });
      expect(res.status).toBe(200);
      expect(accountNumbers(res.body)).toEqual([user.mainAccount, user.otherAccounts[0]]);
    });
  });

  it('when accounts are listed or refused, then no operation is recorded and nothing changes', async () => {
    const user = await seedUser(ctx.database, { accounts: 2 });
    const operations = await operationsOf(ctx.dataSource, user.issuerId);
    expect(operations.map((op) => op.operation)).toEqual(['REGISTER', 'REGISTER']);
    const before = await snapshot(ctx.dataSource, user.issuerId);

    expect((await getLinks(user.issuerId, listEnvelope({ SSUserID: user.ssUserId }))).status).toBe(200);
    expect((await getLinks(user.issuerId, listEnvelope({ SSUserID: 'nobody' }))).status).toBe(404);
    expect(
      (await getLinks(user.issuerId, listEnvelope({ SSUserID: user.ssUserId }), { ssUserId: 'someoneelse' })).status,
    ).toBe(403);

    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
    expect(await operationsOf(ctx.dataSource, user.issuerId)).toEqual(operations);
  });
});
