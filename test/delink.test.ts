import { api } from './helpers/api';
import { DELINK_PATH } from '../src/corecredit/routes';
import {
  buildEnvelope,
  createTestContext,
  linkOf,
  mintToken,
  operationsOf,
  seedUser,
  snapshot,
  type TestContext,
} from './helpers/context';
import { DELINK_SUCCESS } from './helpers/expectations';

describe('POST /api/CoreCredit/UserManagement/DeLinkAccount', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  async function delink(issuerId: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
    const token = await mintToken(issuerId);
    return api(ctx.app).post(DELINK_PATH).set('Authorization', `Bearer ${token}`).set(headers).send(body);
  }

  it('when a linked secondary account is delinked, then it answers the documented success envelope and the link is gone', async () => {
    const user = await seedUser(ctx.database);
    const account = user.otherAccounts[0]!;
    const res = await delink(user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: account }));

    expect(res.status).toBe(200);
    expect(res.body).toEqual(DELINK_SUCCESS);
    expect(await linkOf(ctx.dataSource, user.issuerId, account)).toMatchObject({
      delinked: true,
      isMain: false,
      state: 'ACTIVE',
    });
    expect(await linkOf(ctx.dataSource, user.issuerId, user.mainAccount)).toMatchObject({
      delinked: false,
      isMain: true,
    });
  });

  it('when it succeeds, then one SUCCESSFUL DELINK operation records the envelope, the caller and the correlation id', async () => {
    const user = await seedUser(ctx.database);
    const account = user.otherAccounts[0]!;
    const before = (await operationsOf(ctx.dataSource, user.issuerId)).length;
    const res = await delink(
      user.issuerId,
      buildEnvelope({
        Source: 'IVR',
        SSUserID: user.ssUserId,
        AccountNumber: account,
        SessionID: '000028;026;1349906692',
        CallerID: '+17204454214',
        CalledID: '7314145404',
      }),
      { 'x-correlation-id': 'ivr-call-42' },
    );
    expect(res.status).toBe(200);
    expect(res.headers['x-correlation-id']).toBe('ivr-call-42');

    const operations = await operationsOf(ctx.dataSource, user.issuerId);
    expect(operations).toHaveLength(before + 1);
    expect(operations.at(-1)).toMatchObject({
      operation: 'DELINK',
      status: 'SUCCESSFUL',
      errorCode: null,
      requestorType: 'USER',
      requestorId: 'portal-backend',
      consumerId: user.ssUserId,
      accountNumber: account,
      source: 'IVR',
      sessionId: '000028;026;1349906692',
      ipAddress: '10.120.0.1',
      externalIp: '10.120.0.0',
      callerId: '+17204454214',
      calledId: '7314145404',
      correlationId: 'ivr-call-42',
    });
    const op = operations.at(-1)!;
    expect(op.endTime.getTime()).toBeGreaterThanOrEqual(op.startTime.getTime());
  });

  it('when the account is the main account, then 409 ERR01140, the link stays, and a FAILED operation is recorded', async () => {
    const user = await seedUser(ctx.database);
    const res = await delink(
      user.issuerId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.mainAccount }),
    );

    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      Message: 'The main account cannot be delinked.',
      Status: false,
      ErrorCode: 'ERR01140',
      ResponseData: {},
    });
    expect(await linkOf(ctx.dataSource, user.issuerId, user.mainAccount)).toMatchObject({
      delinked: false,
      isMain: true,
    });
    expect((await operationsOf(ctx.dataSource, user.issuerId)).at(-1)).toMatchObject({
      operation: 'DELINK',
      status: 'FAILED',
      errorCode: 'ERR01140',
    });
  });

  it('when the main account is INACTIVE, then it is still refused', async () => {
    const user = await seedUser(ctx.database, { state: 'INACTIVE' });
    const res = await delink(
      user.issuerId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.mainAccount }),
    );
    expect(res.status).toBe(409);
    expect(await linkOf(ctx.dataSource, user.issuerId, user.mainAccount)).toMatchObject({
      delinked: false,
      state: 'INACTIVE',
    });
  });

  it('when the account was already delinked, then 404 ERR01132 and nothing changes', async () => {
    const user = await seedUser(ctx.database);
    const body = buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] });
    expect((await delink(user.issuerId, body)).status).toBe(200);
    const before = await snapshot(ctx.dataSource, user.issuerId);

    const res = await delink(user.issuerId, body);
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ Status: false, ErrorCode: 'ERR01132', ResponseData: {} });
    const after = await snapshot(ctx.dataSource, user.issuerId);
    expect(after).toEqual({ ...before, operations: (before.operations as number) + 1 });
  });

  it('when the account belongs to another user of the issuer, then 404 ERR01131 and that link stays', async () => {
    const user = await seedUser(ctx.database);
    const other = await seedUser(ctx.database, { issuerId: user.issuerId });
    const res = await delink(
      user.issuerId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: other.otherAccounts[0] }),
    );
    expect(res.status).toBe(404);
    expect(res.body.ErrorCode).toBe('ERR01131');
    expect(await linkOf(ctx.dataSource, user.issuerId, other.otherAccounts[0]!)).toMatchObject({ delinked: false });
  });

  it('when the account does not exist, then 404 ERR01131', async () => {
    const user = await seedUser(ctx.database);
    const res = await delink(user.issuerId, buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: '1' }));
    expect(res.status).toBe(404);
    expect(res.body.ErrorCode).toBe('ERR01131');
  });

  it('when the SSUserID is unknown, then 404 ERR01130 with a FAILED operation naming it', async () => {
    const user = await seedUser(ctx.database);
    const res = await delink(
      user.issuerId,
      buildEnvelope({ SSUserID: 'nobody', AccountNumber: user.otherAccounts[0] }),
    );
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      Message: 'The SSUserID is not known.',
      Status: false,
      ErrorCode: 'ERR01130',
      ResponseData: {},
    });
    expect((await operationsOf(ctx.dataSource, user.issuerId)).at(-1)).toMatchObject({
      status: 'FAILED',
      errorCode: 'ERR01130',
      consumerId: 'nobody',
    });
  });

  it('when the SSUserID differs only in case, then it is the same user', async () => {
    const user = await seedUser(ctx.database, { ssUserId: 'MyUserID' });
    const res = await delink(
      user.issuerId,
      buildEnvelope({ SSUserID: 'myuserid', AccountNumber: user.otherAccounts[0] }),
    );
    expect(res.status).toBe(200);
    expect(await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({ delinked: true });
  });

  it('when the token belongs to another issuer, then it sees no user of this one', async () => {
    const user = await seedUser(ctx.database);
    const stranger = await seedUser(ctx.database);
    const res = await delink(
      stranger.issuerId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] }),
    );
    expect(res.status).toBe(404);
    expect(res.body.ErrorCode).toBe('ERR01130');
    expect(await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({ delinked: false });
  });

  it('when the body is invalid, then 400 lists every failing field and no operation is recorded', async () => {
    const user = await seedUser(ctx.database);
    const before = await snapshot(ctx.dataSource, user.issuerId);
    const res = await delink(
      user.issuerId,
      buildEnvelope({ Source: 5, ExternalIP: undefined, AccountNumber: ' 123', SSUserID: null }),
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
          { Field: 'AccountNumber', Message: 'AccountNumber must be 1 to 19 digits' },
          { Field: 'SSUserID', Message: 'SSUserID is required and may not be null' },
        ],
      },
    });
    expect(await snapshot(ctx.dataSource, user.issuerId)).toEqual(before);
  });

  it('when x-correlation-id is sent empty, then it counts as absent: the delink runs and its operation records a generated id', async () => {
    const user = await seedUser(ctx.database);
    const res = await delink(
      user.issuerId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] }),
      { 'x-correlation-id': '' },
    );
    expect([res.status, res.body.ErrorCode]).toEqual([200, 'ERR01093']);
    const generated = res.headers['x-correlation-id'] as string;
    expect(generated).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect((await operationsOf(ctx.dataSource, user.issuerId)).at(-1)).toMatchObject({
      operation: 'DELINK',
      status: 'SUCCESSFUL',
      correlationId: generated,
    });
  });

  it.each(['', 'not valid!', 'x'.repeat(65)])(
    'when a health probe sends x-correlation-id "%s", then it is never refused for it',
    async (correlationId) => {
      for (const path of ['/health/live', '/health/ready']) {
        const res = await api(ctx.app).get(path).set('x-correlation-id', correlationId);
        expect(res.status).toBe(200);
        expect(res.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
      }
    },
  );

  it.each([
    { CallerID: 'Anonymous', CalledID: '7314145404' },
    { CallerID: 'Restricted', CalledID: '+1 731 414 5404' },
    { CallerID: '(720) 445-4214', CalledID: '*86' },
  ])(
    'when the IVR passes CallerID $CallerID and CalledID $CalledID, then the delink runs and both are recorded as sent',
    async (numbers) => {
      const user = await seedUser(ctx.database);
      const res = await delink(
        user.issuerId,
        buildEnvelope({ Source: 'IVR', SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0], ...numbers }),
      );
      expect([res.status, res.body.ErrorCode]).toEqual([200, 'ERR01093']);
      expect((await operationsOf(ctx.dataSource, user.issuerId)).at(-1)).toMatchObject({
        operation: 'DELINK',
        status: 'SUCCESSFUL',
        source: 'IVR',
        callerId: numbers.CallerID,
        calledId: numbers.CalledID,
      });
    },
  );

  it('when the placeholders carry values CoreCredit clients send (en-US, USD, a date pattern, WEB.PORTAL), then the delink runs', async () => {
    const user = await seedUser(ctx.database);
    const res = await delink(
      user.issuerId,
      buildEnvelope({
        Source: 'WEB.PORTAL',
        SSUserID: user.ssUserId,
        AccountNumber: user.otherAccounts[0],
        Language: 'en-US',
        CurrencyCode: 'USD',
        CurrencySymbolType: '$',
        DateFormat: 'MM/dd/yyyy HH:MM:SS',
      }),
    );
    expect([res.status, res.body.ErrorCode]).toEqual([200, 'ERR01093']);
    expect(await linkOf(ctx.dataSource, user.issuerId, user.otherAccounts[0]!)).toMatchObject({ delinked: true });
    expect((await operationsOf(ctx.dataSource, user.issuerId)).at(-1)).toMatchObject({ source: 'WEB.PORTAL' });
  });
});
