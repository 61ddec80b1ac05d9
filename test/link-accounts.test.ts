import { api } from './helpers/api';
import { DELINK_PATH, GET_LINKS_PATH, LINK_PATH } from '../src/corecredit/routes';
import { deleteAccount } from '../src/links/delete-account';
import { registerAccount } from '../src/links/register';
import {
  buildEnvelope,
  createTestContext,
  linkOf,
  mintToken,
  operationsOf,
  seedUser,
  type SeededUser,
  snapshot,
  type TestContext,
} from './helpers/context';
import { DELINK_SUCCESS } from './helpers/expectations';

describe('POST /api/CoreCredit/UserManagement/LinkMultipleAccounts', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  const SCOPES = 'selfservice:link selfservice:delink selfservice:read';

  async function post(path: string, issuerId: string, body: Record<string, unknown>, headers = {}) {
    const token = await mintToken(issuerId, { scope: SCOPES });
    return api(ctx.app).post(path).set('Authorization', `Bearer ${token}`).set(headers).send(body);
  }
  const link = (issuerId: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    post(LINK_PATH, issuerId, body, headers);

  /** A user whose first secondary account is delinked. */
  async function userWithDelinked(): Promise<SeededUser & { delinked: string }> {
    const user = await seedUser(ctx.database);
    const delinked = user.otherAccounts[0]!;
    const res = await post(
      DELINK_PATH,
      user.issuerId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: delinked }),
    );
    expect(res.status).toBe(200);
    return { ...user, delinked };
  }

  /** The rows a link may never add nor change: users, accounts, which links exist and which one is main. */
  async function shape(issuerId: string) {
    const { users, accounts, links } = await snapshot(ctx.dataSource, issuerId);
    return {
      users,
      accounts,
      links: (links as { id: unknown; isMain: unknown }[]).map((l) => [l.id, Number(l.isMain)]),
    };
  }

  it('when a delinked account of the user is linked, then it answers the success envelope and the link is back, main account unchanged', async () => {
    const user = await userWithDelinked();
    const before = await shape(user.issuerId);

    const res = await link(user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.delinked }));

    expect(res.status).toBe(200);
    expect(res.body).toEqual(DELINK_SUCCESS);
    expect(await linkOf(ctx.dataSource, user.issuerId, user.delinked)).toMatchObject({
      delinked: false,
      isMain: false,
      state: 'ACTIVE',
    });
    expect(await linkOf(ctx.dataSource, user.issuerId, user.mainAccount)).toMatchObject({
      delinked: false,
      isMain: true,
    });
    expect(await shape(user.issuerId)).toEqual(before);
  });

  it('when it succeeds, then GetLinkAccounts lists the account again, after the main account', async () => {
    const user = await userWithDelinked();
    expect(
      (await link(user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.delinked }))).status,
    ).toBe(200);

    const res = await post(
      GET_LINKS_PATH,
      user.issuerId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: null }),
    );
    expect(res.status).toBe(200);
    const accounts = (res.body.ResponseData.Accounts as { AccountNumber: string; IsMainAccount: boolean }[]).map(
      (a) => [a.AccountNumber, a.IsMainAccount],
    );
    expect(accounts[0]).toEqual([user.mainAccount, true]);
    expect(accounts).toContainEqual([user.delinked, false]);
    expect(accounts).toHaveLength(1 + user.otherAccounts.length);
  });

  it('when it succeeds, then one SUCCESSFUL LINK operation records the envelope, the caller and the correlation id', async () => {
    const user = await userWithDelinked();
    const before = (await operationsOf(ctx.dataSource, user.issuerId)).length;
    const res = await link(
      user.issuerId,
      buildEnvelope({
        Source: 'IVR',
        SSUserID: user.ssUserId,
        AccountNumber: user.delinked,
        SessionID: '000028;026;1349906692',
        CallerID: '7204454214',
        CalledID: '7314145404',
      }),
      { 'x-correlation-id': 'ivr-call-43' },
    );
    expect(res.status).toBe(200);
    expect(res.headers['x-correlation-id']).toBe('ivr-call-43');

    const operations = await operationsOf(ctx.dataSource, user.issuerId);
    expect(operations).toHaveLength(before + 1);
    expect(operations.at(-1)).toMatchObject({
      operation: 'LINK',
      status: 'SUCCESSFUL',
      errorCode: null,
      requestorType: 'USER',
      requestorId: 'portal-backend',
      consumerId: user.ssUserId,
      accountNumber: user.delinked,
      source: 'IVR',
      sessionId: '000028;026;1349906692',
      ipAddress: '10.120.0.1',
      externalIp: '10.120.0.0',
      callerId: '7204454214',
      calledId: '7314145404',
      correlationId: 'ivr-call-43',
    });
  });

  it('when the account is linked already, then 409 ERR01175, nothing changes, and a FAILED operation is recorded', async () => {
    const user = await seedUser(ctx.database);
    const before = await snapshot(ctx.dataSource, user.issuerId);

    const res = await link(
      user.issuerId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] }),
    );

    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      Message: 'The account is already linked to this SSUserID.',
      Status: false,
      ErrorCode: 'ERR01175',
      ResponseData: {},
    });
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual({
      ...before,
      operations: (before.operations as number) + 1,
    });
    expect((await operationsOf(ctx.dataSource, user.issuerId)).at(-1)).toMatchObject({
      operation: 'LINK',
      status: 'FAILED',
      errorCode: 'ERR01175',
      accountNumber: user.otherAccounts[0],
    });
  });

  it('when the account is the main account, then it is linked already: 409 ERR01175 and it stays main', async () => {
    const user = await seedUser(ctx.database);
    const res = await link(user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.mainAccount }));
    expect([res.status, res.body.ErrorCode]).toEqual([409, 'ERR01175']);
    expect(await linkOf(ctx.dataSource, user.issuerId, user.mainAccount)).toMatchObject({
      delinked: false,
      isMain: true,
    });
  });

  it('when the same link is sent twice (no Idempotency-Key), then the first links and the second is ERR01175', async () => {
    const user = await userWithDelinked();
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.delinked });
    expect((await link(user.issuerId, body)).status).toBe(200);
    const res = await link(user.issuerId, body);
    expect([res.status, res.body.ErrorCode]).toEqual([409, 'ERR01175']);
    const links = (await operationsOf(ctx.dataSource, user.issuerId)).filter((o) => o.operation === 'LINK');
    expect(links.map((o) => [o.status, o.errorCode])).toEqual([
      ['SUCCESSFUL', null],
      ['FAILED', 'ERR01175'],
    ]);
  });

  it("when the account is another user's, then 404 ERR01176, their link stays, and nothing is created", async () => {
    const user = await seedUser(ctx.database);
    const other = await seedUser(ctx.database, { issuerId: user.issuerId });
    // Delinked from its owner, so that only the owner rule can refuse it.
    const theirs = other.otherAccounts[0]!;
    const delinked = await post(
      DELINK_PATH,
      user.issuerId,
      buildEnvelope({ SSUserID: other.ssUserId, AccountNumber: theirs }),
    );
    expect(delinked.status).toBe(200);
    const before = await snapshot(ctx.dataSource, user.issuerId);

    const res = await link(user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: theirs }));

    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      Message: 'The account is not registered for this SSUserID and cannot be linked.',
      Status: false,
      ErrorCode: 'ERR01176',
      ResponseData: {},
    });
    expect(await linkOf(ctx.dataSource, user.issuerId, theirs)).toMatchObject({
      delinked: true,
      ownerKey: other.ssUserId.toLowerCase(),
    });
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual({
      ...before,
      operations: (before.operations as number) + 1,
    });
  });

  it("when the account is unknown, then the answer is the same as for another user's account", async () => {
    const user = await seedUser(ctx.database);
    const other = await seedUser(ctx.database, { issuerId: user.issuerId });
    const before = await snapshot(ctx.dataSource, user.issuerId);

    const unknown = await link(
      user.issuerId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: '4000000000000001' }),
    );
    const theirs = await link(
      user.issuerId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: other.otherAccounts[1] }),
    );

    expect(unknown.status).toBe(404);
    expect(theirs.status).toBe(unknown.status);
    expect(theirs.body).toEqual(unknown.body);
    const after = await snapshot(ctx.dataSource, user.issuerId);
    expect({ ...after, operations: before.operations }).toEqual(before);
    expect((await operationsOf(ctx.dataSource, user.issuerId)).slice(-2)).toMatchObject([
      { operation: 'LINK', status: 'FAILED', errorCode: 'ERR01176', accountNumber: '4000000000000001' },
      { operation: 'LINK', status: 'FAILED', errorCode: 'ERR01176', accountNumber: other.otherAccounts[1] },
    ]);
  });

  it('when the account of another issuer is named, then it is unknown here: 404 ERR01176', async () => {
    const user = await seedUser(ctx.database);
    const stranger = await userWithDelinked();
    const res = await link(user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: stranger.delinked }));
    expect([res.status, res.body.ErrorCode]).toEqual([404, 'ERR01176']);
    expect(await linkOf(ctx.dataSource, stranger.issuerId, stranger.delinked)).toMatchObject({ delinked: true });
  });

  it('when the issuer deleted the delinked account, then 409 ERR01177 and it stays delinked and DELETED', async () => {
    const user = await seedUser(ctx.database);
    const closed = user.otherAccounts[1]!;
    await deleteAccount(
      ctx.database,
      { issuerId: user.issuerId, requestorType: 'ISSUER', requestorId: 'test', correlationId: 'delete-1' },
      { accountNumber: closed, reason: null, reasonCode: 'ISSUER_DECISION' },
    );
    const before = await snapshot(ctx.dataSource, user.issuerId);

    const res = await link(user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: closed }));

    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      Message: 'The issuer deleted the account; it cannot be linked again.',
      Status: false,
      ErrorCode: 'ERR01177',
      ResponseData: {},
    });
    expect(await linkOf(ctx.dataSource, user.issuerId, closed)).toMatchObject({ delinked: true, state: 'DELETED' });
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual({
      ...before,
      operations: (before.operations as number) + 1,
    });
  });

  it('when a deleted number was registered again for another user, then its former user gets 409 ERR01177 and the new one links it', async () => {
    const former = await seedUser(ctx.database);
    const other = await seedUser(ctx.database, { issuerId: former.issuerId });
    const reused = former.otherAccounts[1]!;
    const issuer = { issuerId: former.issuerId, requestorType: 'ISSUER' as const, requestorId: 'test' };
    await deleteAccount(
      ctx.database,
      { ...issuer, correlationId: 'reuse-delete' },
      { accountNumber: reused, reason: null, reasonCode: 'ISSUER_DECISION' },
    );
    await registerAccount(
      ctx.database,
      { ...issuer, correlationId: 'reuse-register' },
      { accountNumber: reused, consumerId: other.ssUserId, productId: null, state: 'ACTIVE' },
    );
    const delinked = await post(
      DELINK_PATH,
      other.issuerId,
      buildEnvelope({ SSUserID: other.ssUserId, AccountNumber: reused }),
    );
    expect(delinked.status).toBe(200);

    const refused = await link(former.issuerId, buildEnvelope({ SSUserID: former.ssUserId, AccountNumber: reused }));
    expect([refused.status, refused.body.ErrorCode]).toEqual([409, 'ERR01177']);
    expect(await linkOf(ctx.dataSource, other.issuerId, reused)).toMatchObject({ delinked: true, state: 'ACTIVE' });

    const linked = await link(other.issuerId, buildEnvelope({ SSUserID: other.ssUserId, AccountNumber: reused }));
    expect(linked.status).toBe(200);
    expect(linked.body).toEqual(DELINK_SUCCESS);
    expect(await linkOf(ctx.dataSource, other.issuerId, reused)).toMatchObject({ delinked: false, isMain: false });
    const listed = await post(GET_LINKS_PATH, former.issuerId, buildEnvelope({ SSUserID: former.ssUserId }));
    expect(listed.body.ResponseData.Accounts).not.toContainEqual(expect.objectContaining({ AccountNumber: reused }));
  });

  it('when the main account was deleted, then it is still linked: 409 ERR01175', async () => {
    const user = await seedUser(ctx.database);
    await deleteAccount(
      ctx.database,
      { issuerId: user.issuerId, requestorType: 'ISSUER', requestorId: 'test', correlationId: 'delete-2' },
      { accountNumber: user.mainAccount, reason: null, reasonCode: 'ISSUER_DECISION' },
    );
    const res = await link(user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.mainAccount }));
    expect([res.status, res.body.ErrorCode]).toEqual([409, 'ERR01175']);
  });

  it('when the delinked account is INACTIVE, then it is linked: the issuer registered it so', async () => {
    const user = await seedUser(ctx.database, { state: 'INACTIVE' });
    const account = user.otherAccounts[0]!;
    expect(
      (await post(DELINK_PATH, user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: account })))
        .status,
    ).toBe(200);
    const res = await link(user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: account }));
    expect(res.status).toBe(200);
    expect(await linkOf(ctx.dataSource, user.issuerId, account)).toMatchObject({ delinked: false, state: 'INACTIVE' });
  });

  it('when the SSUserID is unknown, then 404 ERR01130 with a FAILED operation naming it', async () => {
    const user = await userWithDelinked();
    const res = await link(user.issuerId, buildEnvelope({ SSUserID: 'nobody', AccountNumber: user.delinked }));
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      Message: 'The SSUserID is not known.',
      Status: false,
      ErrorCode: 'ERR01130',
      ResponseData: {},
    });
    expect((await operationsOf(ctx.dataSource, user.issuerId)).at(-1)).toMatchObject({
      operation: 'LINK',
      status: 'FAILED',
      errorCode: 'ERR01130',
      consumerId: 'nobody',
    });
    expect(await linkOf(ctx.dataSource, user.issuerId, user.delinked)).toMatchObject({ delinked: true });
  });

  it('when the SSUserID differs only in case, then it is the same user', async () => {
    const user = await seedUser(ctx.database, { ssUserId: 'MyLinkUser' });
    const account = user.otherAccounts[0]!;
    expect(
      (await post(DELINK_PATH, user.issuerId, buildEnvelope({ SSUserID: 'MYLINKUSER', AccountNumber: account })))
        .status,
    ).toBe(200);
    const res = await link(user.issuerId, buildEnvelope({ SSUserID: 'mylinkuser', AccountNumber: account }));
    expect(res.status).toBe(200);
    expect(await linkOf(ctx.dataSource, user.issuerId, account)).toMatchObject({ delinked: false });
  });

  it('when the token lacks selfservice:link, then 403 ERR01120 and nothing is recorded', async () => {
    const user = await userWithDelinked();
    const before = await snapshot(ctx.dataSource, user.issuerId);
    const token = await mintToken(user.issuerId, { scope: 'selfservice:delink selfservice:read' });
    const res = await api(ctx.app)
      .post(LINK_PATH)
      .set('Authorization', `Bearer ${token}`)
      .send(buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.delinked }));
    expect([res.status, res.body.ErrorCode]).toEqual([403, 'ERR01120']);
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
  });

  it('when the body is invalid, then 400 lists every failing field and no operation is recorded', async () => {
    const user = await userWithDelinked();
    const before = await snapshot(ctx.dataSource, user.issuerId);
    const res = await link(
      user.issuerId,
      buildEnvelope({ Source: 5, ExternalIP: undefined, AccountNumber: ['8000000000000227'], SSUserID: null }),
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      Message: 'The request has invalid fields.',
      Status: false,
      ErrorCode: 'ERR01100',
      ResponseData: {
        Errors: [
          { Field: 'Source', Message: 'Source must be a string' },
          { Field: 'ExternalIP', Message: 'ExternalIP is required and may not be null' },
          { Field: 'AccountNumber', Message: 'AccountNumber must be a string' },
          { Field: 'SSUserID', Message: 'SSUserID is required and may not be null' },
        ],
      },
    });
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
  });

  it.each([
    ['absent', undefined, 'AccountNumber is required and may not be null'],
    ['null', null, 'AccountNumber is required and may not be null'],
    ['a number', 8000000000000227, 'AccountNumber must be a string'],
    ['padded', ' 8000000000000227', 'AccountNumber must be 1 to 19 digits'],
    ['20 digits', '1'.repeat(20), 'AccountNumber must be 1 to 19 digits'],
    ['empty', '', 'AccountNumber must be 1 to 19 digits'],
  ])('when AccountNumber is %s, then 400 names it and nothing changes', async (_name, value, message) => {
    const user = await userWithDelinked();
    const before = await snapshot(ctx.dataSource, user.issuerId);
    const res = await link(user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: value }));
    expect([res.status, res.body.ErrorCode]).toEqual([400, 'ERR01100']);
    expect(res.body.ResponseData.Errors).toContainEqual({ Field: 'AccountNumber', Message: message });
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
  });

  it('when APIVersion is not 2.0, then 400 ERR01102 and nothing is recorded', async () => {
    const user = await userWithDelinked();
    const before = await snapshot(ctx.dataSource, user.issuerId);
    const res = await link(
      user.issuerId,
      buildEnvelope({ APIVersion: '1.0', SSUserID: user.ssUserId, AccountNumber: user.delinked }),
    );
    expect([res.status, res.body.ErrorCode]).toEqual([400, 'ERR01102']);
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
  });

  it('when the endpoint is called with GET, then 405 in the envelope with Allow: POST', async () => {
    const res = await api(ctx.app).get(LINK_PATH);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(res.body).toMatchObject({ Status: false, ErrorCode: 'ERR01135' });
  });
});
