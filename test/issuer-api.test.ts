import { randomUUID } from 'node:crypto';
import { api, type Response } from './helpers/api';
import { DELINK_PATH, GET_LINKS_PATH } from '../src/corecredit/routes';
import { Account, Operation } from '../src/db/entities';
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
import { expectIssuerError } from './helpers/expectations';

const accountPath = (issuerId: string, accountId: string): string => `/issuers/${issuerId}/accounts/${accountId}`;
const deletePath = (issuerId: string, accountId: string): string =>
  `${accountPath(issuerId, accountId)}/operations:delete`;
const operationsPath = (issuerId: string, consumerId: string, query = ''): string =>
  `/issuers/${issuerId}/consumers/${consumerId}/operations${query}`;

const newConsumer = (): string => `C${randomDigits(12)}`;
const newAccount = (): string => randomDigits(16);

/** Every field an operation entry of the list carries, no more and no fewer. */
const OPERATION_FIELDS = [
  'operationId',
  'operation',
  'status',
  'errorCode',
  'startTime',
  'endTime',
  'requestorType',
  'requestorId',
  'issuerId',
  'consumerId',
  'accountId',
  'reason',
  'reasonCode',
  'source',
  'sessionId',
  'ipAddress',
  'externalIp',
  'callerId',
  'calledId',
  'correlationId',
];

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface OperationEntry {
  operationId: string;
  operation: string;
  status: string;
  startTime: string;
  endTime: string;
  issuerId: string;
  consumerId: string | null;
  callerId: string | null;
  [field: string]: unknown;
}

/** The entries of an operations page. */
const entries = (res: Response): OperationEntry[] => res.body.operations as OperationEntry[];

describe('issuer account API', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  interface CallOptions {
    token?: string | null;
    headers?: Record<string, string>;
  }

  async function auth(issuerId: string, options: CallOptions): Promise<Record<string, string>> {
    const token = options.token === undefined ? await issuerToken(issuerId) : options.token;
    return { ...(token !== null ? { Authorization: `Bearer ${token}` } : {}), ...options.headers };
  }

  async function put(issuerId: string, accountId: string, body: unknown, options: CallOptions = {}) {
    return api(ctx.app)
      .put(accountPath(issuerId, accountId))
      .set(await auth(issuerId, options))
      .send(body as object);
  }

  /** Registers accounts for a consumer in order (the first is the main account) and checks each was accepted. */
  async function register(
    issuerId: string,
    consumerId: string,
    accounts: string[],
    state: 'ACTIVE' | 'INACTIVE' = 'ACTIVE',
  ): Promise<void> {
    for (const accountId of accounts) {
      const res = await put(issuerId, accountId, { consumerId, state });
      expect(res.status).toBe(204);
    }
  }

  /** A consumer of a new issuer with a main account and two secondary ones. */
  async function registeredConsumer() {
    const issuerId = randomIssuerId();
    const consumerId = newConsumer();
    const [main, second, third] = [newAccount(), newAccount(), newAccount()];
    await register(issuerId, consumerId, [main, second, third]);
    return { issuerId, consumerId, main, second, third };
  }

  async function remove(issuerId: string, accountId: string, body?: unknown, options: CallOptions = {}) {
    const req = api(ctx.app)
      .post(deletePath(issuerId, accountId))
      .set(await auth(issuerId, options));
    return body === undefined ? req : req.send(body as object);
  }

  async function listOperations(issuerId: string, consumerId: string, query = '', options: CallOptions = {}) {
    return api(ctx.app)
      .get(operationsPath(issuerId, consumerId, query))
      .set(await auth(issuerId, options));
  }

  /** The operation ids of a consumer's operations as the database recorded them, newest first. */
  async function recordedIdsNewestFirst(issuerId: string, consumerId: string): Promise<string[]> {
    const operations = await operationsOf(ctx.dataSource, issuerId);
    return operations
      .filter((op) => op.consumerKey === consumerId.toLowerCase())
      .map((op) => op.operationId)
      .reverse();
  }

  async function delink(
    issuerId: string,
    ssUserId: string,
    accountNumber: string,
    token?: string,
    extra: Record<string, unknown> = {},
  ) {
    return api(ctx.app)
      .post(DELINK_PATH)
      .set('Authorization', `Bearer ${token ?? (await mintToken(issuerId))}`)
      .send(buildEnvelope({ SSUserID: ssUserId, AccountNumber: accountNumber, ...extra }));
  }

  async function linkedAccounts(issuerId: string, ssUserId: string) {
    const res = await api(ctx.app)
      .post(GET_LINKS_PATH)
      .set('Authorization', `Bearer ${await mintToken(issuerId)}`)
      .send(buildEnvelope({ SSUserID: ssUserId, AccountNumber: undefined }));
    expect(res.status).toBe(200);
    return res.body.ResponseData as {
      SSUserID: string;
      Accounts: { AccountNumber: string; IsMainAccount: boolean; AccountStatus: string }[];
    };
  }

  describe('PUT /issuers/{issuerId}/accounts/{accountId}', () => {
    it('when the first account of a consumer is registered, then 204 with an empty body, the user exists and the account is its main account', async () => {
      const issuerId = randomIssuerId();
      const consumerId = newConsumer();
      const account = newAccount();

      const res = await put(issuerId, account, { consumerId, accountProductId: 'GOLD_card-1', state: 'ACTIVE' });

      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expect(await linkOf(ctx.dataSource, issuerId, account)).toEqual({
        accountNumber: account,
        state: 'ACTIVE',
        isMain: true,
        delinked: false,
        ownerKey: consumerId.toLowerCase(),
      });
      expect(await snapshot(ctx.dataSource, issuerId)).toMatchObject({
        users: 1,
        accounts: [[account, 'ACTIVE', 'GOLD_card-1']],
      });
      expect(await linkedAccounts(issuerId, consumerId)).toMatchObject({
        SSUserID: consumerId,
        Accounts: [{ AccountNumber: account, IsMainAccount: true, AccountStatus: 'ACTIVE' }],
      });
    });

    it('when a consumer registers further accounts, then they are secondary accounts of the same user', async () => {
      const issuerId = randomIssuerId();
      const consumerId = newConsumer();
      const [main, second, third] = [newAccount(), newAccount(), newAccount()];

      await register(issuerId, consumerId, [main], 'INACTIVE');
      await register(issuerId, consumerId, [second, third]);

      expect(await linkOf(ctx.dataSource, issuerId, main)).toMatchObject({
        isMain: true,
        delinked: false,
        state: 'INACTIVE',
      });
      for (const account of [second, third]) {
        expect(await linkOf(ctx.dataSource, issuerId, account)).toMatchObject({
          isMain: false,
          delinked: false,
          state: 'ACTIVE',
          ownerKey: consumerId.toLowerCase(),
        });
      }
      const rows = await snapshot(ctx.dataSource, issuerId);
      expect(rows.users).toBe(1);
      expect(rows.links).toHaveLength(3);
    });

    it('when an account is registered, then one SUCCESSFUL REGISTER operation records the issuer as requestor, the consumer, the account and the correlation id', async () => {
      const issuerId = randomIssuerId();
      const consumerId = newConsumer();
      const [main, second] = [newAccount(), newAccount()];
      const token = await issuerToken(issuerId, { sub: 'core-banking-7' });

      const first = await put(
        issuerId,
        main,
        { consumerId, state: 'ACTIVE' },
        { token, headers: { 'x-correlation-id': 'reg-corr-1' } },
      );
      const next = await put(issuerId, second, { consumerId, state: 'INACTIVE' }, { token });

      expect(first.status).toBe(204);
      expect(first.headers['x-correlation-id']).toBe('reg-corr-1');
      expect(next.status).toBe(204);
      const operations = await operationsOf(ctx.dataSource, issuerId);
      expect(operations).toHaveLength(2);
      const common = {
        operation: 'REGISTER',
        status: 'SUCCESSFUL',
        errorCode: null,
        requestorType: 'ISSUER',
        requestorId: 'core-banking-7',
        issuerId,
        consumerId,
        reason: null,
        reasonCode: null,
        source: null,
        sessionId: null,
        ipAddress: null,
        externalIp: null,
        callerId: null,
        calledId: null,
      };
      expect(operations[0]).toMatchObject({ ...common, accountNumber: main, correlationId: 'reg-corr-1' });
      // Without the header the generated correlation id is the one the response echoes.
      expect(operations[1]).toMatchObject({
        ...common,
        accountNumber: second,
        correlationId: next.headers['x-correlation-id'],
      });
      expect(operations[0]!.operationId).not.toBe(operations[1]!.operationId);
    });

    it('when the same account is registered again for the same consumer, then state and product follow the latest request and it stays one account', async () => {
      const issuerId = randomIssuerId();
      const consumerId = newConsumer();
      const account = newAccount();
      const steps: { body: Record<string, unknown>; expected: [string, string, string | null] }[] = [
        { body: { consumerId, accountProductId: 'P1', state: 'ACTIVE' }, expected: [account, 'ACTIVE', 'P1'] },
        { body: { consumerId, accountProductId: 'P2', state: 'INACTIVE' }, expected: [account, 'INACTIVE', 'P2'] },
        { body: { consumerId, accountProductId: 'P2', state: 'INACTIVE' }, expected: [account, 'INACTIVE', 'P2'] },
        { body: { consumerId, state: 'ACTIVE' }, expected: [account, 'ACTIVE', null] },
        { body: { consumerId, accountProductId: null, state: 'INACTIVE' }, expected: [account, 'INACTIVE', null] },
      ];

      for (const [index, step] of steps.entries()) {
        const res = await put(issuerId, account, step.body);
        expect(res.status).toBe(204);
        const rows = await snapshot(ctx.dataSource, issuerId);
        expect(rows).toMatchObject({ users: 1, accounts: [step.expected], operations: index + 1 });
        expect(rows.links).toHaveLength(1);
        expect(await linkOf(ctx.dataSource, issuerId, account)).toMatchObject({ isMain: true, delinked: false });
      }
      const operations = await operationsOf(ctx.dataSource, issuerId);
      expect(operations.map((op) => [op.operation, op.status])).toEqual(steps.map(() => ['REGISTER', 'SUCCESSFUL']));
    });

    it('when an account delinked through DeLinkAccount is registered again, then it is linked again and GetLinkAccounts lists it', async () => {
      const { issuerId, consumerId, main, second, third } = await registeredConsumer();
      expect((await delink(issuerId, consumerId, second)).status).toBe(200);
      expect(await linkOf(ctx.dataSource, issuerId, second)).toMatchObject({ delinked: true });
      expect((await linkedAccounts(issuerId, consumerId)).Accounts.map((a) => a.AccountNumber)).toEqual([main, third]);

      const res = await put(issuerId, second, { consumerId, state: 'INACTIVE' });

      expect(res.status).toBe(204);
      expect(await linkOf(ctx.dataSource, issuerId, second)).toMatchObject({
        delinked: false,
        isMain: false,
        state: 'INACTIVE',
      });
      const listed = await linkedAccounts(issuerId, consumerId);
      expect(listed.Accounts.map((a) => [a.AccountNumber, a.IsMainAccount, a.AccountStatus])).toEqual([
        [main, true, 'ACTIVE'],
        [third, false, 'ACTIVE'],
        [second, false, 'INACTIVE'],
      ]);
      expect((await snapshot(ctx.dataSource, issuerId)).links).toHaveLength(3);
    });

    it('when consumerIds differ only in case, then they are the same consumer', async () => {
      const issuerId = randomIssuerId();
      const [main, second] = [newAccount(), newAccount()];

      expect((await put(issuerId, main, { consumerId: 'ABC1', state: 'ACTIVE' })).status).toBe(204);
      expect((await put(issuerId, main, { consumerId: 'abc1', state: 'INACTIVE' })).status).toBe(204);
      expect((await put(issuerId, second, { consumerId: 'aBc1', state: 'ACTIVE' })).status).toBe(204);

      const rows = await snapshot(ctx.dataSource, issuerId);
      expect(rows).toMatchObject({
        users: 1,
        accounts: [
          [main, 'INACTIVE', null],
          [second, 'ACTIVE', null],
        ],
        operations: 3,
      });
      expect(await linkOf(ctx.dataSource, issuerId, main)).toMatchObject({ isMain: true, ownerKey: 'abc1' });
      expect(await linkOf(ctx.dataSource, issuerId, second)).toMatchObject({ isMain: false, ownerKey: 'abc1' });
      expect((await linkedAccounts(issuerId, 'abC1')).SSUserID).toBe('ABC1');
      const list = await listOperations(issuerId, 'Abc1');
      expect(list.status).toBe(200);
      expect(list.body.total).toBe(3);
    });

    it('when the account is registered to another consumer, then 409 ERR01141, nothing changes and one FAILED REGISTER operation is recorded', async () => {
      const { issuerId, consumerId, second } = await registeredConsumer();
      const before = await snapshot(ctx.dataSource, issuerId);

      const res = await put(
        issuerId,
        second,
        { consumerId: 'Intruder1', accountProductId: 'X', state: 'INACTIVE' },
        { headers: { 'x-correlation-id': 'steal-1' } },
      );

      expectIssuerError(res, 409, 'ERR01141');
      expect(res.body.correlationId).toBe('steal-1');
      expect(await snapshot(ctx.dataSource, issuerId)).toEqual({
        ...before,
        operations: (before.operations as number) + 1,
      });
      expect(await linkOf(ctx.dataSource, issuerId, second)).toMatchObject({
        ownerKey: consumerId.toLowerCase(),
        state: 'ACTIVE',
        delinked: false,
      });
      expect((await operationsOf(ctx.dataSource, issuerId)).at(-1)).toMatchObject({
        operation: 'REGISTER',
        status: 'FAILED',
        errorCode: 'ERR01141',
        requestorType: 'ISSUER',
        consumerId: 'Intruder1',
        accountNumber: second,
        correlationId: 'steal-1',
      });
    });

    it('when a PUT repeats the state and product the account has, then no row is written; a change of either is', async () => {
      const issuerId = randomIssuerId();
      const consumerId = newConsumer();
      const account = newAccount();
      const updatedAt = async () =>
        (await ctx.dataSource.getRepository(Account).findOneByOrFail({ issuerId, accountNumber: account })).updatedAt;
      expect((await put(issuerId, account, { consumerId, state: 'ACTIVE' })).status).toBe(204);
      const first = await updatedAt();
      const later = async (body: object) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        expect((await put(issuerId, account, { consumerId, ...body })).status).toBe(204);
        return updatedAt();
      };
      // Unchanged (product absent on both sides): nothing to replicate, nothing to conflict with.
      expect(await later({ state: 'ACTIVE' })).toEqual(first);
      const withProduct = await later({ state: 'ACTIVE', accountProductId: 'GOLD' });
      expect(withProduct.getTime()).toBeGreaterThan(first.getTime());
      expect(await later({ state: 'ACTIVE', accountProductId: 'GOLD' })).toEqual(withProduct);
      const inactive = await later({ state: 'INACTIVE', accountProductId: 'GOLD' });
      expect(inactive.getTime()).toBeGreaterThan(withProduct.getTime());
      expect((await later({ state: 'INACTIVE' })).getTime()).toBeGreaterThan(inactive.getTime());
      const row = await ctx.dataSource.getRepository(Account).findOneByOrFail({ issuerId, accountNumber: account });
      expect([row.state, row.productId]).toEqual(['INACTIVE', null]);
    });

    describe('validation', () => {
      const valid = { consumerId: 'Valid1', accountProductId: 'P1', state: 'ACTIVE' };
      const cases: {
        name: string;
        issuerId?: string;
        accountId?: string;
        body: Record<string, unknown>;
        fields: string[];
      }[] = [
        { name: 'issuerId has 9 characters', issuerId: 'ABCDEFGHI', body: valid, fields: ['issuerId'] },
        { name: 'issuerId has 11 characters', issuerId: 'ABCDEFGHIJK', body: valid, fields: ['issuerId'] },
        { name: 'issuerId has a space', issuerId: 'ABCD%20FGHIJ', body: valid, fields: ['issuerId'] },
        { name: 'issuerId has a dot', issuerId: 'ABCDE.GHIJ', body: valid, fields: ['issuerId'] },
        { name: 'accountId has letters', accountId: '12345A', body: valid, fields: ['accountId'] },
        { name: 'accountId has 20 digits', accountId: '1'.repeat(20), body: valid, fields: ['accountId'] },
        { name: 'accountId has a sign', accountId: '-123', body: valid, fields: ['accountId'] },
        {
          name: 'issuerId and accountId are both wrong',
          issuerId: 'short',
          accountId: 'abc',
          body: valid,
          fields: ['issuerId', 'accountId'],
        },
        { name: 'consumerId is missing', body: { state: 'ACTIVE' }, fields: ['consumerId'] },
        { name: 'consumerId is null', body: { consumerId: null, state: 'ACTIVE' }, fields: ['consumerId'] },
        { name: 'consumerId is a number', body: { consumerId: 123, state: 'ACTIVE' }, fields: ['consumerId'] },
        {
          name: 'consumerId has 31 characters',
          body: { consumerId: 'a'.repeat(31), state: 'ACTIVE' },
          fields: ['consumerId'],
        },
        { name: "consumerId has a '-'", body: { consumerId: 'abc-def', state: 'ACTIVE' }, fields: ['consumerId'] },
        { name: 'consumerId is empty', body: { consumerId: '', state: 'ACTIVE' }, fields: ['consumerId'] },
        { name: 'accountProductId is a number', body: { ...valid, accountProductId: 5 }, fields: ['accountProductId'] },
        {
          name: 'accountProductId has a space',
          body: { ...valid, accountProductId: 'a b' },
          fields: ['accountProductId'],
        },
        {
          name: 'accountProductId has 65 characters',
          body: { ...valid, accountProductId: 'p'.repeat(65) },
          fields: ['accountProductId'],
        },
        { name: 'accountProductId is empty', body: { ...valid, accountProductId: '' }, fields: ['accountProductId'] },
        { name: 'state is missing', body: { consumerId: 'Valid1' }, fields: ['state'] },
        { name: 'state is DELETED', body: { ...valid, state: 'DELETED' }, fields: ['state'] },
        { name: 'state is lower case', body: { ...valid, state: 'active' }, fields: ['state'] },
        { name: 'state is null', body: { ...valid, state: null }, fields: ['state'] },
        {
          name: 'every body field is wrong',
          body: { consumerId: 7, accountProductId: '!', state: 'OPEN' },
          fields: ['consumerId', 'accountProductId', 'state'],
        },
        {
          name: 'the path and the body are both wrong',
          issuerId: 'bad',
          accountId: 'x1',
          body: { consumerId: 'a-b', state: 'OPEN' },
          fields: ['issuerId', 'accountId', 'consumerId', 'state'],
        },
      ];

      it.each(cases)(
        'when $name, then 400 ERR01100 lists exactly the failing fields and nothing is recorded',
        async ({ issuerId: pathIssuer, accountId, body, fields }) => {
          const issuerId = randomIssuerId();
          const account = newAccount();
          await register(issuerId, 'Valid1', [account]);
          const before = await snapshot(ctx.dataSource, issuerId);

          const res = await api(ctx.app)
            .put(accountPath(pathIssuer ?? issuerId, accountId ?? account))
            .set('Authorization', `Bearer ${await issuerToken(issuerId)}`)
            .send(body);

          expectIssuerError(res, 400, 'ERR01100', fields);
          expect(await snapshot(ctx.dataSource, issuerId)).toEqual(before);
        },
      );

      it('when several fields fail, then each error names its field with a readable message', async () => {
        const issuerId = randomIssuerId();
        const res = await put(issuerId, newAccount(), { consumerId: null, accountProductId: 5, state: 'DELETED' });
        expect(res.status).toBe(400);
        expect(res.body).toEqual({
          errorCode: 'ERR01100',
          message: 'The request has invalid fields.',
          correlationId: res.headers['x-correlation-id'],
          errors: [
            { field: 'consumerId', message: 'consumerId is required and may not be null' },
            { field: 'accountProductId', message: 'accountProductId must be a string' },
            { field: 'state', message: 'state must be one of ACTIVE, INACTIVE, SUSPENDED, CLOSED' },
          ],
        });
        expect(await snapshot(ctx.dataSource, issuerId)).toMatchObject({ users: 0, accounts: [], operations: 0 });
      });

      it.each([
        {
          name: 'an issuerId with _ and -',
          issuerId: `I_-${randomDigits(7)}`,
          accountId: newAccount(),
          body: { consumerId: 'a', state: 'ACTIVE' },
        },
        {
          name: 'a 1-digit accountId',
          issuerId: randomIssuerId(),
          accountId: '7',
          body: { consumerId: 'b', state: 'INACTIVE' },
        },
        {
          name: 'a 19-digit accountId',
          issuerId: randomIssuerId(),
          accountId: randomDigits(19),
          body: { consumerId: 'c', state: 'ACTIVE' },
        },
        {
          name: 'a 30-character consumerId',
          issuerId: randomIssuerId(),
          accountId: newAccount(),
          body: { consumerId: 'Z9'.repeat(15), state: 'ACTIVE' },
        },
        {
          name: 'a 64-character accountProductId of _ and -',
          issuerId: randomIssuerId(),
          accountId: newAccount(),
          body: { consumerId: 'd', accountProductId: 'A_-1'.repeat(16), state: 'ACTIVE' },
        },
        {
          name: 'a null accountProductId',
          issuerId: randomIssuerId(),
          accountId: newAccount(),
          body: { consumerId: 'e', accountProductId: null, state: 'ACTIVE' },
        },
        {
          name: 'unknown fields',
          issuerId: randomIssuerId(),
          accountId: newAccount(),
          body: { consumerId: 'f', state: 'ACTIVE', isMain: false, id: 1 },
        },
      ])('when the request has $name, then it is accepted', async ({ issuerId, accountId, body }) => {
        const res = await put(issuerId, accountId, body);
        expect(res.status).toBe(204);
        const productId = (body as { accountProductId?: string | null }).accountProductId ?? null;
        expect(await snapshot(ctx.dataSource, issuerId)).toMatchObject({
          users: 1,
          accounts: [[accountId, body.state, productId]],
          operations: 1,
        });
        expect(await linkOf(ctx.dataSource, issuerId, accountId)).toMatchObject({
          isMain: true,
          ownerKey: body.consumerId.toLowerCase(),
        });
      });

      it.each([
        { name: 'an array', raw: '[{"consumerId":"Valid1","state":"ACTIVE"}]' },
        { name: 'a string', raw: '"ACTIVE"' },
        { name: 'null', raw: 'null' },
        { name: 'a number', raw: '42' },
        { name: 'malformed JSON', raw: '{"consumerId":"Valid1",' },
        { name: 'missing', raw: undefined },
      ])('when the body is $name, then 400 ERR01101 and nothing is recorded', async ({ raw }) => {
        const issuerId = randomIssuerId();
        const req = api(ctx.app)
          .put(accountPath(issuerId, newAccount()))
          .set('Authorization', `Bearer ${await issuerToken(issuerId)}`)
          .set('Content-Type', 'application/json');
        const res = raw === undefined ? await req : await req.send(raw);

        expectIssuerError(res, 400, 'ERR01101');
        expect(await snapshot(ctx.dataSource, issuerId)).toMatchObject({ users: 0, accounts: [], operations: 0 });
      });

      it.each([
        { type: 'text/plain', raw: '{"consumerId":"Valid1","state":"ACTIVE"}' },
        { type: 'application/x-www-form-urlencoded', raw: 'consumerId=Valid1&state=ACTIVE' },
        { type: 'application/xml', raw: '<account><consumerId>Valid1</consumerId></account>' },
      ])('when the content type is $type, then 415 ERR01151 and nothing is recorded', async ({ type, raw }) => {
        const issuerId = randomIssuerId();
        const res = await api(ctx.app)
          .put(accountPath(issuerId, newAccount()))
          .set('Authorization', `Bearer ${await issuerToken(issuerId)}`)
          .set('Content-Type', type)
          .send(raw);

        expectIssuerError(res, 415, 'ERR01151');
        expect(await snapshot(ctx.dataSource, issuerId)).toMatchObject({ users: 0, accounts: [], operations: 0 });
      });
    });
  });

  describe('POST /issuers/{issuerId}/accounts/{accountId}/operations:delete', () => {
    it('when a secondary account is deleted, then 200 with the operation id, the account is DELETED and unlinked, and the DELETE operation records the reason', async () => {
      const { issuerId, consumerId, main, second, third } = await registeredConsumer();
      const token = await issuerToken(issuerId, { sub: 'core-banking-7' });

      const res = await remove(
        issuerId,
        second,
        { reason: 'customer was contacted on June 28', reasonCode: 'USER_DECISION' },
        { token, headers: { 'x-correlation-id': 'del-1' } },
      );

      expect(res.status).toBe(200);
      expect(res.body).toStrictEqual({ operationId: expect.any(String), status: 'SUCCESSFUL' });
      expect(res.body.operationId).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      expect(await linkOf(ctx.dataSource, issuerId, second)).toMatchObject({
        state: 'DELETED',
        isMain: false,
        delinked: true,
      });
      expect(await linkOf(ctx.dataSource, issuerId, main)).toMatchObject({
        state: 'ACTIVE',
        isMain: true,
        delinked: false,
      });
      expect(await linkOf(ctx.dataSource, issuerId, third)).toMatchObject({ state: 'ACTIVE', delinked: false });
      expect((await linkedAccounts(issuerId, consumerId)).Accounts.map((a) => a.AccountNumber)).toEqual([main, third]);

      const operations = await operationsOf(ctx.dataSource, issuerId);
      expect(operations.at(-1)).toMatchObject({
        operationId: res.body.operationId,
        operation: 'DELETE',
        status: 'SUCCESSFUL',
        errorCode: null,
        requestorType: 'ISSUER',
        requestorId: 'core-banking-7',
        issuerId,
        consumerId,
        accountNumber: second,
        reason: 'customer was contacted on June 28',
        reasonCode: 'USER_DECISION',
        correlationId: 'del-1',
      });
    });

    it('when the main account is deleted, then it is DELETED but stays linked, and DeLinkAccount still refuses it', async () => {
      const { issuerId, consumerId, main, second, third } = await registeredConsumer();

      const res = await remove(issuerId, main, { reasonCode: 'ISSUER_DECISION' });

      expect(res.status).toBe(200);
      expect(res.body.status).toBe('SUCCESSFUL');
      expect(await linkOf(ctx.dataSource, issuerId, main)).toMatchObject({
        state: 'DELETED',
        isMain: true,
        delinked: false,
      });
      const refused = await delink(issuerId, consumerId, main);
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({ Status: false, ErrorCode: 'ERR01140' });
      expect(await linkOf(ctx.dataSource, issuerId, main)).toMatchObject({
        state: 'DELETED',
        isMain: true,
        delinked: false,
      });
      expect(
        (await linkedAccounts(issuerId, consumerId)).Accounts.map((a) => [
          a.AccountNumber,
          a.IsMainAccount,
          a.AccountStatus,
        ]),
      ).toEqual([
        [main, true, 'DELETED'],
        [second, false, 'ACTIVE'],
        [third, false, 'ACTIVE'],
      ]);
    });

    it.each([
      { name: 'an empty object', body: {}, reason: null },
      { name: 'no body at all', body: undefined, reason: null },
      { name: 'null reason and reasonCode', body: { reason: null, reasonCode: null }, reason: null },
      { name: 'only a reason', body: { reason: 'closed' }, reason: 'closed' },
      { name: 'a 64-character reason', body: { reason: 'Ab 1'.repeat(16) }, reason: 'Ab 1'.repeat(16) },
      { name: 'unknown fields', body: { comment: 'x', status: 'FAILED' }, reason: null },
    ])(
      'when the body is $name, then it is accepted and ISSUER_DECISION is recorded as the reason code',
      async ({ body, reason }) => {
        const { issuerId, second } = await registeredConsumer();

        const res = await remove(issuerId, second, body);

        expect(res.status).toBe(200);
        expect(res.body).toStrictEqual({ operationId: expect.any(String), status: 'SUCCESSFUL' });
        expect(await linkOf(ctx.dataSource, issuerId, second)).toMatchObject({ state: 'DELETED', delinked: true });
        expect((await operationsOf(ctx.dataSource, issuerId)).at(-1)).toMatchObject({
          operationId: res.body.operationId,
          operation: 'DELETE',
          reason,
          reasonCode: 'ISSUER_DECISION',
        });
      },
    );

    it.each([
      { name: 'reason has 65 characters', body: { reason: 'a'.repeat(65) }, fields: ['reason'] },
      { name: 'reason has punctuation', body: { reason: 'closed, by request!' }, fields: ['reason'] },
      { name: 'reason is empty', body: { reason: '' }, fields: ['reason'] },
      { name: 'reason is a number', body: { reason: 5 }, fields: ['reason'] },
      { name: 'reasonCode is unknown', body: { reasonCode: 'FRAUD' }, fields: ['reasonCode'] },
      { name: 'reasonCode is lower case', body: { reasonCode: 'user_decision' }, fields: ['reasonCode'] },
      { name: 'reasonCode is a number', body: { reasonCode: 1 }, fields: ['reasonCode'] },
      { name: 'both are wrong', body: { reason: 'déjà vu', reasonCode: 'OTHER' }, fields: ['reason', 'reasonCode'] },
    ])(
      'when $name, then 400 ERR01100 lists exactly the failing fields and nothing is recorded',
      async ({ body, fields }) => {
        const { issuerId, second } = await registeredConsumer();
        const before = await snapshot(ctx.dataSource, issuerId);

        const res = await remove(issuerId, second, body);

        expectIssuerError(res, 400, 'ERR01100', fields);
        expect(await snapshot(ctx.dataSource, issuerId)).toEqual(before);
      },
    );

    it.each([
      { name: 'the accountId has letters', accountId: '12AB', fields: ['accountId'] },
      { name: 'the accountId has 20 digits', accountId: '9'.repeat(20), fields: ['accountId'] },
      {
        name: 'the accountId and the reasonCode are both wrong',
        accountId: '1 2',
        body: { reasonCode: 'OTHER' },
        fields: ['accountId', 'reasonCode'],
      },
    ])('when $name, then 400 ERR01100 and nothing is recorded', async ({ accountId, body, fields }) => {
      const { issuerId } = await registeredConsumer();
      const before = await snapshot(ctx.dataSource, issuerId);

      expectIssuerError(await remove(issuerId, accountId, body ?? {}), 400, 'ERR01100', fields);
      expect(await snapshot(ctx.dataSource, issuerId)).toEqual(before);
    });

    it('when the body is not a JSON object or not JSON at all, then 400 ERR01101 or 415 ERR01151 and nothing is recorded', async () => {
      const { issuerId, second } = await registeredConsumer();
      const before = await snapshot(ctx.dataSource, issuerId);
      const token = await issuerToken(issuerId);
      const send = (type: string, raw: string) =>
        api(ctx.app)
          .post(deletePath(issuerId, second))
          .set('Authorization', `Bearer ${token}`)
          .set('Content-Type', type)
          .send(raw);

      expectIssuerError(await send('application/json', '["closed"]'), 400, 'ERR01101');
      expectIssuerError(await send('application/json', '{"reason":'), 400, 'ERR01101');
      expectIssuerError(await send('text/plain', 'reason=closed'), 415, 'ERR01151');
      expect(await snapshot(ctx.dataSource, issuerId)).toEqual(before);
    });

    it('when the account is unknown, then 404 ERR01133 and a FAILED DELETE operation is recorded', async () => {
      const { issuerId } = await registeredConsumer();
      const before = await snapshot(ctx.dataSource, issuerId);
      const unknown = newAccount();

      const res = await remove(
        issuerId,
        unknown,
        { reason: 'closed' },
        { headers: { 'x-correlation-id': 'del-unknown' } },
      );

      expectIssuerError(res, 404, 'ERR01133');
      expect(res.body.correlationId).toBe('del-unknown');
      expect(await snapshot(ctx.dataSource, issuerId)).toEqual({
        ...before,
        operations: (before.operations as number) + 1,
      });
      expect((await operationsOf(ctx.dataSource, issuerId)).at(-1)).toMatchObject({
        operation: 'DELETE',
        status: 'FAILED',
        errorCode: 'ERR01133',
        requestorType: 'ISSUER',
        consumerId: null,
        accountNumber: unknown,
        reason: 'closed',
        reasonCode: 'ISSUER_DECISION',
        correlationId: 'del-unknown',
      });
    });

    it('when the account belongs to another issuer, then it is unknown here and stays untouched there', async () => {
      const owner = await registeredConsumer();
      const otherIssuer = randomIssuerId();
      const before = await snapshot(ctx.dataSource, owner.issuerId);

      const res = await remove(otherIssuer, owner.second, {});

      expectIssuerError(res, 404, 'ERR01133');
      expect(await snapshot(ctx.dataSource, owner.issuerId)).toEqual(before);
    });

    it('when an account is deleted twice, then both answer 200 with their own operation and the account stays DELETED', async () => {
      const { issuerId, consumerId, second } = await registeredConsumer();

      const first = await remove(issuerId, second, {});
      const again = await remove(issuerId, second, { reasonCode: 'USER_DECISION' });

      expect(first.status).toBe(200);
      expect(again.status).toBe(200);
      expect(again.body).toStrictEqual({ operationId: expect.any(String), status: 'SUCCESSFUL' });
      expect(again.body.operationId).not.toBe(first.body.operationId);
      expect(await linkOf(ctx.dataSource, issuerId, second)).toMatchObject({ state: 'DELETED', delinked: true });
      const deletes = (await operationsOf(ctx.dataSource, issuerId)).filter((op) => op.operation === 'DELETE');
      expect(deletes.map((op) => [op.operationId, op.status, op.consumerId, op.reasonCode])).toEqual([
        [first.body.operationId, 'SUCCESSFUL', consumerId, 'ISSUER_DECISION'],
        [again.body.operationId, 'SUCCESSFUL', consumerId, 'USER_DECISION'],
      ]);
    });

    it('when a deleted secondary account is registered again, then it is a new ACTIVE account, linked again', async () => {
      const { issuerId, consumerId, second } = await registeredConsumer();
      expect((await remove(issuerId, second, {})).status).toBe(200);

      expect((await put(issuerId, second, { consumerId, state: 'ACTIVE' })).status).toBe(204);

      const rows = await ctx.dataSource.getRepository(Account).find({ where: { issuerId, accountNumber: second } });
      expect(rows.map((row) => [row.state, row.liveKey]).sort()).toEqual([
        ['ACTIVE', second],
        ['DELETED', null],
      ]);
      expect(await linkOf(ctx.dataSource, issuerId, second)).toMatchObject({
        state: 'ACTIVE',
        delinked: false,
        isMain: false,
      });
      expect((await linkedAccounts(issuerId, consumerId)).Accounts.map((a) => a.AccountNumber)).toContain(second);
    });
  });

  describe('GET /issuers/{issuerId}/consumers/{consumerId}/operations', () => {
    it("when a consumer has operations, then they come newest first with the total of the consumer's operations", async () => {
      const { issuerId, consumerId, main, second, third } = await registeredConsumer();
      const other = await registeredConsumer();
      expect((await delink(issuerId, consumerId, third)).status).toBe(200);
      expect((await remove(issuerId, second, {})).status).toBe(200);
      expect((await put(issuerId, main, { consumerId, state: 'INACTIVE' })).status).toBe(204);
      // Another consumer's operation in between, and a refused request, which is an operation too.
      expect((await put(issuerId, newAccount(), { consumerId: newConsumer(), state: 'ACTIVE' })).status).toBe(204);
      expect((await delink(issuerId, consumerId, main)).status).toBe(409);

      const res = await listOperations(issuerId, consumerId);

      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['operations', 'total']);
      const expected = await recordedIdsNewestFirst(issuerId, consumerId);
      expect(expected).toHaveLength(7);
      expect(res.body.total).toBe(7);
      expect(entries(res).map((op) => op.operationId)).toEqual(expected);
      expect(entries(res).map((op) => `${op.operation} ${op.status}`)).toEqual([
        'DELINK FAILED',
        'REGISTER SUCCESSFUL',
        'DELETE SUCCESSFUL',
        'DELINK SUCCESSFUL',
        'REGISTER SUCCESSFUL',
        'REGISTER SUCCESSFUL',
        'REGISTER SUCCESSFUL',
      ]);
      const starts = entries(res).map((op) => Date.parse(op.startTime));
      expect([...starts].sort((a, b) => b - a)).toEqual(starts);
      expect(entries(res).every((op) => op.consumerId === consumerId)).toBe(true);
      expect((await listOperations(other.issuerId, other.consumerId)).body.total).toBe(3);
    });

    it('when operations were recorded in the same millisecond, then the one recorded later comes first', async () => {
      const issuerId = randomIssuerId();
      const consumerId = newConsumer();
      const at = new Date('2030-01-02T03:04:05.678Z');
      const ids: string[] = [];
      for (const operation of ['REGISTER', 'DELINK', 'DELETE', 'REGISTER'] as const) {
        const operationId = randomUUID();
        ids.push(operationId);
        await ctx.dataSource.getRepository(Operation).insert({
          operationId,
          operation,
          status: 'SUCCESSFUL',
          errorCode: null,
          startTime: at,
          endTime: at,
          requestorType: 'ISSUER',
          requestorId: 'tie-test',
          issuerId,
          consumerId,
          consumerKey: consumerId.toLowerCase(),
          accountNumber: '1',
          reason: null,
          reasonCode: null,
          source: null,
          sessionId: null,
          ipAddress: null,
          externalIp: null,
          callerId: null,
          calledId: null,
          correlationId: `tie-${operationId}`,
        });
      }

      const res = await listOperations(issuerId, consumerId);

      expect(res.status).toBe(200);
      expect(entries(res).map((op) => op.operationId)).toEqual([...ids].reverse());
      expect(entries(res).map((op) => op.startTime)).toEqual(ids.map(() => at.toISOString()));
    });

    it('when pages are asked for, then offset and count slice the newest-first list (default count 10) and total stays the full count', async () => {
      const issuerId = randomIssuerId();
      const consumerId = newConsumer();
      const account = newAccount();
      for (let i = 0; i < 12; i += 1) {
        expect((await put(issuerId, account, { consumerId, state: i % 2 === 0 ? 'ACTIVE' : 'INACTIVE' })).status).toBe(
          204,
        );
      }
      const all = await recordedIdsNewestFirst(issuerId, consumerId);
      expect(all).toHaveLength(12);
      const page = async (query: string) => {
        const res = await listOperations(issuerId, consumerId, query);
        expect(res.status).toBe(200);
        expect(res.body.total).toBe(12);
        return entries(res).map((op) => op.operationId);
      };

      expect(await page('')).toEqual(all.slice(0, 10));
      expect(await page('?offset=10')).toEqual(all.slice(10));
      expect(await page('?offset=3&count=4')).toEqual(all.slice(3, 7));
      expect(await page('?count=1')).toEqual(all.slice(0, 1));
      expect(await page('?offset=0&count=100')).toEqual(all);
      expect(await page('?offset=11&count=5')).toEqual(all.slice(11));
      expect(await page('?offset=12')).toEqual([]);
      expect(await page('?offset=500&count=3')).toEqual([]);
    });

    it.each([
      { query: '?count=0', fields: ['count'] },
      { query: '?count=101', fields: ['count'] },
      { query: '?count=-1', fields: ['count'] },
      { query: '?count=abc', fields: ['count'] },
      { query: '?count=', fields: ['count'] },
      { query: '?count=1.5', fields: ['count'] },
      { query: '?count=1&count=2', fields: ['count'] },
      { query: '?offset=-1', fields: ['offset'] },
      { query: '?offset=x', fields: ['offset'] },
      { query: '?offset=01', fields: ['offset'] },
      { query: '?offset=-1&count=abc', fields: ['offset', 'count'] },
    ])('when the query is $query, then 400 ERR01100 names $fields', async ({ query, fields }) => {
      const { issuerId, consumerId } = await registeredConsumer();
      expectIssuerError(await listOperations(issuerId, consumerId, query), 400, 'ERR01100', fields);
    });

    it.each([
      { name: 'the consumerId has a -', issuerId: undefined, consumerId: 'abc-def', fields: ['consumerId'] },
      {
        name: 'the consumerId has 31 characters',
        issuerId: undefined,
        consumerId: 'c'.repeat(31),
        fields: ['consumerId'],
      },
      { name: 'the issuerId has 9 characters', issuerId: 'ABCDEFGHI', consumerId: 'abc', fields: ['issuerId'] },
      {
        name: 'the consumerId and the count are both wrong',
        issuerId: undefined,
        consumerId: 'a.b',
        query: '?count=0',
        fields: ['consumerId', 'count'],
      },
    ])('when $name, then 400 ERR01100 names it', async ({ issuerId: pathIssuer, consumerId, query, fields }) => {
      const issuerId = randomIssuerId();
      const res = await api(ctx.app)
        .get(operationsPath(pathIssuer ?? issuerId, consumerId, query))
        .set('Authorization', `Bearer ${await issuerToken(issuerId)}`);
      expectIssuerError(res, 400, 'ERR01100', fields);
    });

    it('when listed, then every entry carries every field, and an IVR DeLinkAccount can be traced from the phone number to its row', async () => {
      const startedAt = Date.now();
      const { issuerId, consumerId, main, second, third } = await registeredConsumer();
      const ivrToken = await mintToken(issuerId, { sub: 'ivr-platform' });
      const ivr = await api(ctx.app)
        .post(DELINK_PATH)
        .set('Authorization', `Bearer ${ivrToken}`)
        .set('x-correlation-id', 'ivr-call-0042')
        .send(
          buildEnvelope({
            Source: 'IVR',
            SSUserID: consumerId,
            AccountNumber: third,
            SessionID: '000028;026;1349906692',
            IPAddress: '10.20.30.40',
            ExternalIP: '2001:db8::1',
            CallerID: '+17204454214',
            CalledID: '7314145404',
          }),
        );
      expect(ivr.status).toBe(200);
      const deleted = await remove(
        issuerId,
        second,
        { reason: 'card lost', reasonCode: 'USER_DECISION' },
        { headers: { 'x-correlation-id': 'del-7' } },
      );
      expect(deleted.status).toBe(200);
      const finishedAt = Date.now();

      const res = await listOperations(issuerId, consumerId);

      expect(res.status).toBe(200);
      expect(res.body.total).toBe(5);
      const rows = (await operationsOf(ctx.dataSource, issuerId)).reverse();
      for (const [index, entry] of entries(res).entries()) {
        expect(Object.keys(entry).sort()).toEqual([...OPERATION_FIELDS].sort());
        for (const field of ['startTime', 'endTime'] as const) {
          expect(entry[field]).toMatch(ISO_TIME);
          const time = Date.parse(entry[field]);
          expect(time).toBeGreaterThanOrEqual(startedAt - 1000);
          expect(time).toBeLessThanOrEqual(finishedAt + 1000);
        }
        expect(Date.parse(entry.endTime)).toBeGreaterThanOrEqual(Date.parse(entry.startTime));
        const row = rows[index]!;
        expect(entry).toMatchObject({
          operationId: row.operationId,
          startTime: row.startTime.toISOString(),
          endTime: row.endTime.toISOString(),
        });
      }

      const traced = entries(res).filter((op) => op.callerId === '+17204454214');
      expect(traced).toEqual([
        {
          operationId: expect.any(String),
          operation: 'DELINK',
          status: 'SUCCESSFUL',
          errorCode: null,
          startTime: expect.stringMatching(ISO_TIME),
          endTime: expect.stringMatching(ISO_TIME),
          requestorType: 'USER',
          requestorId: 'ivr-platform',
          issuerId,
          consumerId,
          accountId: third,
          reason: null,
          reasonCode: null,
          source: 'IVR',
          sessionId: '000028;026;1349906692',
          ipAddress: '10.20.30.40',
          externalIp: '2001:db8::1',
          callerId: '+17204454214',
          calledId: '7314145404',
          correlationId: 'ivr-call-0042',
        },
      ]);
      expect(entries(res)[0]).toEqual({
        operationId: deleted.body.operationId,
        operation: 'DELETE',
        status: 'SUCCESSFUL',
        errorCode: null,
        startTime: expect.stringMatching(ISO_TIME),
        endTime: expect.stringMatching(ISO_TIME),
        requestorType: 'ISSUER',
        requestorId: 'issuer-backend',
        issuerId,
        consumerId,
        accountId: second,
        reason: 'card lost',
        reasonCode: 'USER_DECISION',
        source: null,
        sessionId: null,
        ipAddress: null,
        externalIp: null,
        callerId: null,
        calledId: null,
        correlationId: 'del-7',
      });
      expect(entries(res).at(-1)).toMatchObject({
        operation: 'REGISTER',
        accountId: main,
        requestorType: 'ISSUER',
        requestorId: 'issuer-backend',
      });
    });

    it('when a failed operation names the consumer, then it is listed with its error code', async () => {
      const { issuerId, second } = await registeredConsumer();
      const intruder = newConsumer();
      expectIssuerError(await put(issuerId, second, { consumerId: intruder, state: 'ACTIVE' }), 409, 'ERR01141');

      const res = await listOperations(issuerId, intruder);

      expect(res.status).toBe(200);
      expect(res.body.total).toBe(1);
      expect(entries(res)[0]).toMatchObject({
        operation: 'REGISTER',
        status: 'FAILED',
        errorCode: 'ERR01141',
        consumerId: intruder,
        accountId: second,
      });
    });

    it('when the consumer belongs to another issuer, then its operations are not visible', async () => {
      const issuerA = randomIssuerId();
      const issuerB = randomIssuerId();
      const consumerId = newConsumer();
      await register(issuerA, consumerId, [newAccount(), newAccount()]);

      const unseen = await listOperations(issuerB, consumerId);
      expect(unseen.status).toBe(200);
      expect(unseen.body).toEqual({ operations: [], total: 0 });

      await register(issuerB, consumerId, [newAccount()]);
      const own = await listOperations(issuerB, consumerId);
      expect(own.body.total).toBe(1);
      expect(entries(own).map((op) => op.issuerId)).toEqual([issuerB]);
      expect((await listOperations(issuerA, consumerId)).body.total).toBe(2);
    });
  });

  describe('authorization', () => {
    interface Endpoint {
      name: string;
      scope: 'issuer:write' | 'issuer:read';
      okStatus: number;
      call: (
        target: Awaited<ReturnType<typeof registeredConsumer>>,
        headers: Record<string, string>,
      ) => Promise<Response>;
    }
    const endpoints: Endpoint[] = [
      {
        name: 'PUT account',
        scope: 'issuer:write',
        okStatus: 204,
        call: (t, headers) =>
          api(ctx.app)
            .put(accountPath(t.issuerId, t.second))
            .set(headers)
            .send({ consumerId: t.consumerId, state: 'INACTIVE' }),
      },
      {
        name: 'POST operations:delete',
        scope: 'issuer:write',
        okStatus: 200,
        call: (t, headers) =>
          api(ctx.app).post(deletePath(t.issuerId, t.second)).set(headers).send({ reason: 'closed' }),
      },
      {
        name: 'GET operations',
        scope: 'issuer:read',
        okStatus: 200,
        call: (t, headers) => api(ctx.app).get(operationsPath(t.issuerId, t.consumerId)).set(headers),
      },
    ];
    const otherScope = (scope: Endpoint['scope']) => (scope === 'issuer:write' ? 'issuer:read' : 'issuer:write');

    const cases: {
      name: string;
      status: number;
      errorCode: string;
      token: (issuerId: string, endpoint: Endpoint) => Promise<string | null>;
    }[] = [
      { name: 'without a token', status: 401, errorCode: 'ERR01110', token: () => Promise.resolve(null) },
      {
        name: 'with a token signed by another key',
        status: 401,
        errorCode: 'ERR01111',
        token: (issuerId) => issuerToken(issuerId, { secret: 'another-secret-that-is-long-enough-for-hs256-xyz' }),
      },
      {
        name: 'with an expired token',
        status: 401,
        errorCode: 'ERR01112',
        token: (issuerId) => issuerToken(issuerId, { expiresIn: Math.floor(Date.now() / 1000) - 60 }),
      },
      {
        name: 'without the required scope',
        status: 403,
        errorCode: 'ERR01120',
        token: (issuerId, e) =>
          mintToken(issuerId, { scope: `${otherScope(e.scope)} selfservice:delink selfservice:read` }),
      },
      {
        name: 'with a self-service token',
        status: 403,
        errorCode: 'ERR01120',
        token: (issuerId) => mintToken(issuerId),
      },
      {
        name: 'with an issuer token bound to an ssUserId',
        status: 403,
        errorCode: 'ERR01120',
        token: (issuerId) => issuerToken(issuerId, { ssUserId: 'PortalUser1' }),
      },
      {
        name: 'with a token of another issuer',
        status: 403,
        errorCode: 'ERR01122',
        token: () => issuerToken(randomIssuerId()),
      },
    ];

    const matrix = endpoints.flatMap((endpoint) => cases.map((c) => ({ ...c, endpoint, label: endpoint.name })));

    it.each(matrix)(
      'when $label is called $name, then $status $errorCode and nothing changes',
      async ({ endpoint, status, errorCode, token }) => {
        const target = await registeredConsumer();
        const before = await snapshot(ctx.dataSource, target.issuerId);
        const bearer = await token(target.issuerId, endpoint);

        const res = await endpoint.call(target, bearer === null ? {} : { Authorization: `Bearer ${bearer}` });

        expectIssuerError(res, status, errorCode);
        if (status === 401) expect(res.headers['www-authenticate']).toBe('Bearer');
        expect(await snapshot(ctx.dataSource, target.issuerId)).toEqual(before);
      },
    );

    it.each(endpoints)(
      'when $name is called with a token holding only its scope, then it answers $okStatus',
      async (endpoint) => {
        const target = await registeredConsumer();
        const res = await endpoint.call(target, {
          Authorization: `Bearer ${await mintToken(target.issuerId, { scope: endpoint.scope, sub: 'narrow' })}`,
        });
        expect(res.status).toBe(endpoint.okStatus);
      },
    );

    it("when a token of another issuer is used, then that issuer's own data is untouched too", async () => {
      const target = await registeredConsumer();
      const stranger = await registeredConsumer();
      const beforeStranger = await snapshot(ctx.dataSource, stranger.issuerId);
      const token = await issuerToken(stranger.issuerId);

      expectIssuerError(
        await put(target.issuerId, target.second, { consumerId: stranger.consumerId, state: 'ACTIVE' }, { token }),
        403,
        'ERR01122',
      );
      expectIssuerError(await remove(target.issuerId, target.main, {}, { token }), 403, 'ERR01122');

      expect(await snapshot(ctx.dataSource, stranger.issuerId)).toEqual(beforeStranger);
      expect(await linkOf(ctx.dataSource, target.issuerId, target.main)).toMatchObject({
        state: 'ACTIVE',
        ownerKey: target.consumerId.toLowerCase(),
      });
    });

    it.each([
      { name: 'DeLinkAccount', path: DELINK_PATH },
      { name: 'GetLinkAccounts', path: GET_LINKS_PATH },
    ])(
      'when an issuer token without self-service scopes calls $name, then 403 ERR01120 and nothing changes',
      async ({ path }) => {
        const target = await registeredConsumer();
        const before = await snapshot(ctx.dataSource, target.issuerId);

        const res = await api(ctx.app)
          .post(path)
          .set('Authorization', `Bearer ${await issuerToken(target.issuerId)}`)
          .send(buildEnvelope({ SSUserID: target.consumerId, AccountNumber: target.second }));

        expect(res.status).toBe(403);
        expect(res.body).toEqual({
          Message: expect.any(String),
          Status: false,
          ErrorCode: 'ERR01120',
          ResponseData: {},
        });
        expect(await snapshot(ctx.dataSource, target.issuerId)).toEqual(before);
        expect(await linkOf(ctx.dataSource, target.issuerId, target.second)).toMatchObject({ delinked: false });
      },
    );
  });

  describe('routing', () => {
    const issuerId = 'ROUTE00001';

    it.each([
      { method: 'get', path: `/issuers/${issuerId}` },
      { method: 'get', path: `/issuers/${issuerId}/accounts` },
      { method: 'put', path: `/issuers/${issuerId}/accounts/123/extra` },
      { method: 'post', path: `/issuers/${issuerId}/accounts/123/operations:close` },
      { method: 'post', path: `/issuers/${issuerId}/accounts/123/operations` },
      { method: 'get', path: `/issuers/${issuerId}/consumers/abc` },
      { method: 'get', path: `/issuers/${issuerId}/consumers/abc/operations/1` },
    ] as const)(
      'when $method $path is asked for, then 404 ERR01134 in the issuer error shape',
      async ({ method, path }) => {
        const res = await api(ctx.app)
          [method](path)
          .set('Authorization', `Bearer ${await issuerToken(issuerId)}`)
          .set('x-correlation-id', 'route-404');
        expectIssuerError(res, 404, 'ERR01134');
        expect(res.body.correlationId).toBe('route-404');
      },
    );

    it.each([
      { method: 'get', path: `/issuers/${issuerId}/accounts/123`, allow: 'PUT' },
      { method: 'post', path: `/issuers/${issuerId}/accounts/123`, allow: 'PUT' },
      { method: 'delete', path: `/issuers/${issuerId}/accounts/123`, allow: 'PUT' },
      { method: 'patch', path: `/issuers/${issuerId}/accounts/123`, allow: 'PUT' },
      { method: 'get', path: `/issuers/${issuerId}/accounts/123/operations:delete`, allow: 'POST' },
      { method: 'put', path: `/issuers/${issuerId}/accounts/123/operations:delete`, allow: 'POST' },
      { method: 'post', path: `/issuers/${issuerId}/consumers/abc/operations`, allow: 'GET' },
      { method: 'delete', path: `/issuers/${issuerId}/consumers/abc/operations`, allow: 'GET' },
    ] as const)(
      'when $method $path is asked for, then 405 ERR01135 with Allow: $allow',
      async ({ method, path, allow }) => {
        const res = await api(ctx.app)
          [method](path)
          .set('Authorization', `Bearer ${await issuerToken(issuerId)}`);
        expectIssuerError(res, 405, 'ERR01135');
        expect(res.headers.allow).toBe(allow);
        expect(await snapshot(ctx.dataSource, issuerId)).toMatchObject({ users: 0, accounts: [], operations: 0 });
      },
    );
  });
});
