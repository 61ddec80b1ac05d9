import { randomUUID } from 'node:crypto';
import { api, type Response } from './helpers/api';
import { DELINK_PATH } from '../src/corecredit/routes';
import { Operation } from '../src/db/entities';
import { CSV_COLUMNS, ROWS_PER_CHUNK } from '../src/issuer/export';
import { deleteOperationsBefore } from '../src/operations/operation-repository';
import { purgeOperations, purgeReason, scheduleOperationPurge } from '../src/operations/retention';
import { decodeCursor, encodeCursor, exportOperations } from '../src/operations/search';
import {
  buildEnvelope,
  createTestContext,
  issuerToken,
  mintToken,
  operationsOf,
  randomDigits,
  randomIssuerId,
  seedUser,
  type TestContext,
} from './helpers/context';
import { expectIssuerError } from './helpers/expectations';
import { logCollector } from './helpers/log-collector';
import { until } from './helpers/until';
import { createLogger } from '../src/logger';

const searchPath = (issuerId: string, query = ''): string => `/issuers/${issuerId}/operations${query}`;
const DAY = 86_400_000;

interface Entry {
  operationId: string;
  operation: string;
  status: string;
  errorCode: string | null;
  consumerId: string | null;
  accountId: string | null;
  callerId: string | null;
  source: string | null;
  correlationId: string;
  startTime: string;
  [field: string]: unknown;
}

const idsOf = (res: Response): string[] => (res.body.operations as Entry[]).map((entry) => entry.operationId);

/** RFC 4180 records: quoted fields may hold commas, quotes ("") and line breaks; records end in CRLF. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i += 1;
    } else field += c;
  }
  if (field !== '' || record.length > 0) throw new Error(`the CSV does not end with CRLF: ${text.slice(-80)}`);
  return records;
}

/** superagent buffers no application/x-ndjson body by itself: read it as text. */
const asText = (res: Response, done: (error: Error | null, body: string) => void): void => {
  const stream = res as unknown as NodeJS.ReadableStream;
  let body = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => (body += chunk));
  stream.on('end', () => done(null, body));
};

describe('audit search and export: GET /issuers/{issuerId}/operations', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  async function search(issuerId: string, query = '', accept?: string) {
    const req = api(ctx.app)
      .get(searchPath(issuerId, query))
      .set('Authorization', `Bearer ${await issuerToken(issuerId)}`);
    return accept === undefined ? req : req.set('Accept', accept);
  }

  async function exportNdjson(issuerId: string, query = '') {
    const res = await api(ctx.app)
      .get(searchPath(issuerId, query))
      .set({ Authorization: `Bearer ${await issuerToken(issuerId)}`, Accept: 'application/x-ndjson' })
      .buffer(true)
      .parse(asText);
    return { res, lines: res.status === 200 ? String(res.body) : '' };
  }

  async function delink(
    issuerId: string,
    ssUserId: string,
    account: string,
    extra: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) {
    return api(ctx.app)
      .post(DELINK_PATH)
      .set({ Authorization: `Bearer ${await mintToken(issuerId)}`, ...headers })
      .send(buildEnvelope({ SSUserID: ssUserId, AccountNumber: account, ...extra }));
  }

  /**
   * An issuer with one consumer (three REGISTERs), an IVR delink traced by its phone number, a refused delink of
   * the main account, and a refused DELETE of an unknown account, which names no consumer.
   */
  async function auditedIssuer() {
    const user = await seedUser(ctx.database);
    const { issuerId, ssUserId, mainAccount, otherAccounts } = user;
    const ivrCorrelation = `ivr-${randomUUID()}`;
    const ivr = await delink(
      issuerId,
      ssUserId,
      otherAccounts[0]!,
      { Source: 'IVR', CallerID: '7204454214', CalledID: '18005550100' },
      { 'x-correlation-id': ivrCorrelation },
    );
    expect(ivr.status).toBe(200);
    expect((await delink(issuerId, ssUserId, mainAccount)).status).toBe(409);
    const unknownAccount = randomDigits(16);
    const del = await api(ctx.app)
      .post(`/issuers/${issuerId}/accounts/${unknownAccount}/operations:delete`)
      .set('Authorization', `Bearer ${await issuerToken(issuerId)}`);
    expect(del.status).toBe(404);
    const rows = await operationsOf(ctx.dataSource, issuerId);
    expect(rows.map((row) => `${row.operation} ${row.status}`)).toEqual([
      'REGISTER SUCCESSFUL',
      'REGISTER SUCCESSFUL',
      'REGISTER SUCCESSFUL',
      'DELINK SUCCESSFUL',
      'DELINK FAILED',
      'DELETE FAILED',
    ]);
    return { ...user, ivrCorrelation, unknownAccount, rows, newestFirst: rows.map((row) => row.operationId).reverse() };
  }

  describe('search', () => {
    it('when no filter is given, then every operation of the issuer comes newest first, the DELETE of an unknown account included', async () => {
      const audited = await auditedIssuer();
      const res = await search(audited.issuerId);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(idsOf(res)).toEqual(audited.newestFirst);
      expect(res.body.next).toBeNull();
      const unknown = (res.body.operations as Entry[])[0]!;
      expect(unknown).toMatchObject({
        operation: 'DELETE',
        status: 'FAILED',
        errorCode: 'ERR01133',
        consumerId: null,
        accountId: audited.unknownAccount,
      });
    });

    it('when a support agent has the phone number, then ?callerId finds the IVR delink in one call', async () => {
      const audited = await auditedIssuer();
      const res = await search(audited.issuerId, '?callerId=7204454214');
      expect(res.status).toBe(200);
      expect(res.body.operations).toEqual([
        expect.objectContaining({
          operation: 'DELINK',
          status: 'SUCCESSFUL',
          consumerId: audited.ssUserId,
          accountId: audited.otherAccounts[0],
          source: 'IVR',
          callerId: '7204454214',
          calledId: '18005550100',
          correlationId: audited.ivrCorrelation,
        }),
      ]);
    });

    it('when each filter is given alone, then exactly the recorded rows it names come back, newest first', async () => {
      const audited = await auditedIssuer();
      const { rows, issuerId } = audited;
      const newestFirst = (keep: (row: Operation) => boolean) =>
        rows
          .filter(keep)
          .map((row) => row.operationId)
          .reverse();
      const cases: [string, (row: Operation) => boolean][] = [
        [`consumerId=${audited.ssUserId.toLowerCase()}`, (row) => row.consumerId === audited.ssUserId],
        [`accountId=${audited.mainAccount}`, (row) => row.accountNumber === audited.mainAccount],
        ['operation=REGISTER', (row) => row.operation === 'REGISTER'],
        ['status=FAILED', (row) => row.status === 'FAILED'],
        ['errorCode=ERR01140', (row) => row.errorCode === 'ERR01140'],
        [`correlationId=${audited.ivrCorrelation}`, (row) => row.correlationId === audited.ivrCorrelation],
        ['source=IVR', (row) => row.source === 'IVR'],
        ['source=ivr', () => false],
        ['operation=DELINK&status=FAILED', (row) => row.operation === 'DELINK' && row.status === 'FAILED'],
        [`consumerId=${audited.ssUserId}&operation=DELETE`, () => false],
      ];
      for (const [query, keep] of cases) {
        const res = await search(issuerId, `?${query}`);
        expect({ query, status: res.status, ids: idsOf(res) }).toEqual({ query, status: 200, ids: newestFirst(keep) });
      }
    });

    it('when from and to are given, then operations that started in [from, to) come back, in any offset', async () => {
      const issuerId = randomIssuerId();
      const base = Date.UTC(2025, 9, 28, 9, 30);
      const repository = ctx.dataSource.getRepository(Operation);
      const ids: string[] = [];
      for (let minute = 0; minute < 4; minute += 1) {
        const operationId = randomUUID();
        ids.push(operationId);
        await repository.insert(syntheticOperation(issuerId, operationId, new Date(base + minute * 60_000)));
      }
      // 09:31Z written as 11:31+02:00; 09:33Z excluded.
      const res = await search(issuerId, '?from=2025-10-28T11:31:00%2B02:00&to=2025-10-28T09:33:00Z');
      expect(res.status).toBe(200);
      expect(idsOf(res)).toEqual([ids[2], ids[1]]);
      const since = await search(issuerId, '?from=2025-10-28T09:32:00.000Z');
      expect(idsOf(since)).toEqual([ids[3], ids[2]]);
      // West of UTC, an offset with minutes, no seconds, a fraction, and each bound alone.
      const cases: [string, (string | undefined)[]][] = [
        ['?from=2025-10-28T07:31:00-02:00&to=2025-10-28T09:03-00:30', [ids[2], ids[1]]],
        ['?from=2025-10-28T09:30:00.5Z', [ids[3], ids[2], ids[1]]],
        ['?from=2025-10-28T09:30:00.001Z&to=2025-10-28T09:31:00.250000Z', [ids[1]]],
        ['?to=2025-10-28T09:31Z', [ids[0]]],
        ['?from=2025-10-28T09:31:00Z&to=2025-10-28T09:31:00Z', []],
        ['?from=2025-10-28T23:30:00%2B14:00&to=2025-10-28T09:32:00Z', [ids[1], ids[0]]],
      ];
      for (const [query, expected] of cases) {
        const res = await search(issuerId, query);
        expect({ query, status: res.status, ids: idsOf(res) }).toEqual({ query, status: 200, ids: expected });
      }
      // A fraction is read to the millisecond, whatever its number of digits.
      const precise = randomIssuerId();
      const [early, at] = [randomUUID(), randomUUID()];
      await repository.insert(syntheticOperation(precise, early, new Date(base + 100)));
      await repository.insert(syntheticOperation(precise, at, new Date(base + 300)));
      expect(idsOf(await search(precise, '?from=2025-10-28T09:30:00.1Z'))).toEqual([at, early]);
      expect(idsOf(await search(precise, '?from=2025-10-28T09:30:00.3Z'))).toEqual([at]);
      expect(idsOf(await search(precise, '?from=2025-10-28T09:30:00.301Z'))).toEqual([]);
      expect(idsOf(await search(precise, '?from=2025-10-28T09:30:00.30099Z'))).toEqual([at]);
    });

    it('when pages are walked with the cursor while operations are recorded, then every operation comes once, with no gaps', async () => {
      const audited = await auditedIssuer();
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: Response = await search(audited.issuerId, `?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`);
        expect(res.status).toBe(200);
        expect((res.body.operations as Entry[]).length).toBeLessThanOrEqual(2);
        seen.push(...idsOf(res));
        cursor = res.body.next as string | null;
        pages += 1;
        // A new operation between pages is newer than the cursor: it does not shift the pages still to come.
        expect((await delink(audited.issuerId, audited.ssUserId, audited.mainAccount)).status).toBe(409);
      } while (cursor !== null);
      expect(pages).toBe(3);
      expect(seen).toEqual(audited.newestFirst);
    });

    it('when the default page size applies, then 50 come with a next cursor', async () => {
      const issuerId = randomIssuerId();
      const repository = ctx.dataSource.getRepository(Operation);
      const now = Date.now();
      await repository.insert(
        Array.from({ length: 51 }, (_, i) => syntheticOperation(issuerId, randomUUID(), new Date(now + i))),
      );
      const res = await search(issuerId);
      expect(res.body.operations).toHaveLength(50);
      expect(typeof res.body.next).toBe('string');
      const rest = await search(issuerId, `?cursor=${res.body.next as string}`);
      expect(rest.body.operations).toHaveLength(1);
      expect(rest.body.next).toBeNull();
    });

    it('when values are invalid, then 400 ERR01100 lists every failing field and unknown parameters by name', async () => {
      const issuerId = randomIssuerId();
      const res = await search(
        issuerId,
        '?consumerId=a-b&accountId=12x&operation=RELINK&status=OK&errorCode=E1&correlationId=%3Cx%3E&callerId=' +
          `${'9'.repeat(21)}&source=&from=2025-02-30T00:00:00Z&to=yesterday&limit=501&cursor=abc&offset=3&sort=asc`,
      );
      expectIssuerError(res, 400, 'ERR01100', [
        'consumerId',
        'accountId',
        'operation',
        'status',
        'errorCode',
        'correlationId',
        'callerId',
        'source',
        'from',
        'to',
        'limit',
        'cursor',
        'offset',
        'sort',
      ]);
      const messages = (res.body.errors as { field: string; message: string }[]).map((e) => e.message);
      expect(messages).toContain('offset is not a parameter of this endpoint');
    });

    it('when an unknown parameter has a name longer than 64 characters, then 400 names its first 64; of 64, all of it', async () => {
      for (const [name, field] of [
        [`${'x'.repeat(64)}${'y'.repeat(36)}`, `${'x'.repeat(64)}…`],
        ['z'.repeat(64), 'z'.repeat(64)],
      ] as const) {
        const res = await search(randomIssuerId(), `?${name}=1`);
        expectIssuerError(res, 400, 'ERR01100', [field]);
        expect(res.body.errors[0].message).toBe(`${field} is not a parameter of this endpoint`);
      }
    });

    it('when from is after to, or an instant has no offset, then 400 names the field', async () => {
      const issuerId = randomIssuerId();
      expectIssuerError(await search(issuerId, '?from=2025-10-29T00:00:00Z&to=2025-10-28T00:00:00Z'), 400, 'ERR01100', [
        'to',
      ]);
      const noOffset = await search(issuerId, '?from=2025-10-28T00:00:00');
      expectIssuerError(noOffset, 400, 'ERR01100', ['from']);
      expect(noOffset.body.errors[0].message).toBe(
        'from must be an ISO 8601 date and time with an offset, such as 2025-10-28T09:30:00Z or 2025-10-28T11:30:00+02:00',
      );
      const reversed = await search(issuerId, '?from=2025-10-29T00:00:00Z&to=2025-10-28T00:00:00Z');
      expect(reversed.body.errors[0].message).toBe('to must not be before from');
      // No real instant: more than 14 hours from UTC, an offset's 60th minute, a year Date.UTC would read as 19xx.
      for (const from of ['2025-10-28T00:00:00%2B14:01', '2025-10-28T00:00:00-02:60', '0099-10-28T00:00:00Z']) {
        expectIssuerError(await search(issuerId, `?from=${from}`), 400, 'ERR01100', ['from']);
      }
      expectIssuerError(await search(issuerId, '?limit=1&limit=2'), 400, 'ERR01100', ['limit']);
    });

    it('when the cursor was altered, then 400 names it; a cursor decodes only as it was written', async () => {
      const issuerId = randomIssuerId();
      const cursor = encodeCursor(1234);
      expect(decodeCursor(cursor)).toBe(1234);
      for (const altered of [
        `${cursor}!`,
        `${cursor}=`,
        Buffer.from('op1:01234').toString('base64url'),
        Buffer.from('op1:-5').toString('base64url'),
        Buffer.from('op1:0').toString('base64url'),
        Buffer.from('op1:').toString('base64url'),
        Buffer.from('op1:1e3').toString('base64url'),
        Buffer.from('op1: 12').toString('base64url'),
        Buffer.from('op1:1.5').toString('base64url'),
        // Beyond the integers a number holds exactly.
        Buffer.from('op1:9007199254740992').toString('base64url'),
        Buffer.from('id:5').toString('base64url'),
        // The row id alone, without the cursor's version.
        Buffer.from('1234').toString('base64url'),
        'Zm9v',
      ]) {
        expect(decodeCursor(altered)).toBeUndefined();
        expectIssuerError(await search(issuerId, `?cursor=${altered}`), 400, 'ERR01100', ['cursor']);
      }
      expect((await search(issuerId, '?cursor=abc')).body.errors[0].message).toBe(
        'cursor must be the next of a previous page, as it was returned',
      );
    });

    it('when unknown parameters are sent to the consumer operations list or the events feed, then 400 names them there too', async () => {
      const issuerId = randomIssuerId();
      const token = await issuerToken(issuerId);
      const list = await api(ctx.app)
        .get(`/issuers/${issuerId}/consumers/C1/operations?offset=0&cnt=5`)
        .set('Authorization', `Bearer ${token}`);
      expectIssuerError(list, 400, 'ERR01100', ['cnt']);
      const feed = await api(ctx.app)
        .get(`/issuers/${issuerId}/events?limit=0&cursor=x`)
        .set('Authorization', `Bearer ${token}`);
      expectIssuerError(feed, 400, 'ERR01100', ['limit', 'cursor']);
    });

    it("when the token is another issuer's or lacks issuer:read, then 403 and nothing is listed", async () => {
      const audited = await auditedIssuer();
      const other = await api(ctx.app)
        .get(searchPath(audited.issuerId))
        .set('Authorization', `Bearer ${await issuerToken(randomIssuerId())}`);
      expectIssuerError(other, 403, 'ERR01122');
      const writer = await api(ctx.app)
        .get(searchPath(audited.issuerId))
        .set('Authorization', `Bearer ${await issuerToken(audited.issuerId, { scope: 'issuer:write' })}`);
      expectIssuerError(writer, 403, 'ERR01120');
    });
  });

  describe('GET /issuers/{issuerId}/operations/{operationId}', () => {
    it("when the operation is the issuer's, then it is answered as the search lists it; another issuer's is 404 ERR01170", async () => {
      const audited = await auditedIssuer();
      const listed = (await search(audited.issuerId)).body.operations as Entry[];
      const target = listed[2]!;
      const res = await api(ctx.app)
        .get(`/issuers/${audited.issuerId}/operations/${target.operationId.toUpperCase()}`)
        .set('Authorization', `Bearer ${await issuerToken(audited.issuerId)}`);
      expect(res.status).toBe(200);
      expect(res.body).toStrictEqual(target);

      const stranger = randomIssuerId();
      const elsewhere = await api(ctx.app)
        .get(`/issuers/${stranger}/operations/${target.operationId}`)
        .set('Authorization', `Bearer ${await issuerToken(stranger)}`);
      expectIssuerError(elsewhere, 404, 'ERR01170');
      const unknown = await api(ctx.app)
        .get(`/issuers/${audited.issuerId}/operations/${randomUUID()}`)
        .set('Authorization', `Bearer ${await issuerToken(audited.issuerId)}`);
      expectIssuerError(unknown, 404, 'ERR01170');
      const malformed = await api(ctx.app)
        .get(`/issuers/${audited.issuerId}/operations/42`)
        .set('Authorization', `Bearer ${await issuerToken(audited.issuerId)}`);
      expectIssuerError(malformed, 400, 'ERR01100', ['operationId']);
    });
  });

  describe('export', () => {
    it('when NDJSON is asked for, then every match streams as one JSON object per line, as the JSON search lists them', async () => {
      const audited = await auditedIssuer();
      const listed = (await search(audited.issuerId)).body.operations as Entry[];
      const { res, lines } = await exportNdjson(audited.issuerId);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
      expect(res.headers['content-disposition']).toMatch(/^attachment; filename="operations-.+\.ndjson"$/);
      expect(lines.endsWith('\n')).toBe(true);
      expect(
        lines
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line) as Entry),
      ).toStrictEqual(listed);

      const failed = await exportNdjson(audited.issuerId, '?status=FAILED');
      const statuses = failed.lines
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as Entry).status);
      expect(statuses).toEqual(['FAILED', 'FAILED']);
      const none = await exportNdjson(audited.issuerId, '?source=nowhere');
      expect(none.res.status).toBe(200);
      expect(none.lines).toBe('');
    });

    it('when CSV is asked for, then RFC 4180 with a header row holds every match as the database recorded it', async () => {
      const audited = await auditedIssuer();
      const res = await search(audited.issuerId, '', 'text/csv');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/csv; charset=utf-8; header=present');
      expect(res.headers['content-disposition']).toMatch(/^attachment; filename="operations-.+\.csv"$/);
      const [header, ...records] = parseCsv(res.text);
      expect(header).toEqual(CSV_COLUMNS);
      const byId = new Map(audited.rows.map((row) => [row.operationId, row]));
      expect(records.map((record) => record[0])).toEqual(audited.newestFirst);
      for (const record of records) {
        const row = byId.get(record[0]!)!;
        const cell = (column: string) => record[CSV_COLUMNS.indexOf(column as (typeof CSV_COLUMNS)[number])];
        expect(cell('operation')).toBe(row.operation);
        expect(cell('status')).toBe(row.status);
        expect(cell('errorCode')).toBe(row.errorCode ?? '');
        expect(cell('consumerId')).toBe(row.consumerId ?? '');
        expect(cell('accountId')).toBe(row.accountNumber ?? '');
        expect(cell('callerId')).toBe(row.callerId ?? '');
        expect(cell('startTime')).toBe(row.startTime.toISOString());
        expect(cell('correlationId')).toBe(row.correlationId);
      }
    });

    it('when a free-text value starts like a formula, then the CSV neutralises it with a quote; NDJSON keeps it as recorded', async () => {
      const user = await seedUser(ctx.database);
      const res = await delink(user.issuerId, user.ssUserId, user.otherAccounts[0]!, {
        Source: '=HYPERLINK("http://x.invalid","y")',
        CallerID: '+17204454214',
        CalledID: '@SUM(1+1)',
        SessionID: '-2+3',
      });
      expect(res.status).toBe(200);
      const csv = await search(user.issuerId, '?operation=DELINK', 'text/csv');
      expect(csv.text).toContain('"\'=HYPERLINK(""http://x.invalid"",""y"")"');
      const [header, record] = parseCsv(csv.text);
      const cell = (column: string) => record![header!.indexOf(column)];
      expect(cell('source')).toBe('\'=HYPERLINK("http://x.invalid","y")');
      expect(cell('callerId')).toBe("'+17204454214");
      expect(cell('calledId')).toBe("'@SUM(1+1)");
      expect(cell('sessionId')).toBe("'-2+3");
      const { lines } = await exportNdjson(user.issuerId, '?operation=DELINK');
      expect(JSON.parse(lines) as Entry).toMatchObject({
        source: '=HYPERLINK("http://x.invalid","y")',
        callerId: '+17204454214',
      });
    });

    it('when an export is given limit or cursor, then 400 names them: an export streams every match', async () => {
      const issuerId = randomIssuerId();
      const res = await search(issuerId, `?limit=5&cursor=${encodeCursor(9)}`, 'text/csv');
      expectIssuerError(res, 400, 'ERR01100', ['limit', 'cursor']);
    });

    it('when Accept names no type the search answers with, then 406 ERR01171; a wildcard or no Accept is JSON', async () => {
      const issuerId = randomIssuerId();
      expectIssuerError(await search(issuerId, '', 'text/html'), 406, 'ERR01171');
      expectIssuerError(await search(issuerId, '', 'application/xml, text/plain;q=0.5'), 406, 'ERR01171');
      const any = await search(issuerId, '', '*/*');
      expect(any.status).toBe(200);
      expect(any.body).toEqual({ operations: [], next: null });
      const preferred = await search(issuerId, '', 'text/csv;q=0.9, application/x-ndjson;q=0.1');
      expect(preferred.headers['content-type']).toMatch(/^text\/csv/);
      expect(preferred.text).toBe(`${CSV_COLUMNS.join(',')}\r\n`);
    });

    it('when an export spans several chunks of rows, then NDJSON and CSV hold each operation once, newest first, one CSV header', async () => {
      const issuerId = randomIssuerId();
      const now = Date.now();
      const count = 2 * ROWS_PER_CHUNK + 7;
      await ctx.dataSource
        .getRepository(Operation)
        .insert(Array.from({ length: count }, (_, i) => syntheticOperation(issuerId, randomUUID(), new Date(now + i))));
      const newestFirst = (await operationsOf(ctx.dataSource, issuerId)).map((row) => row.operationId).reverse();
      expect(newestFirst).toHaveLength(count);

      const { res, lines } = await exportNdjson(issuerId);
      expect(res.status).toBe(200);
      expect(lines.endsWith('\n')).toBe(true);
      const ndjsonIds = lines
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as Entry).operationId);
      expect(ndjsonIds).toEqual(newestFirst);

      const csv = await search(issuerId, '', 'text/csv');
      expect(csv.status).toBe(200);
      const [header, ...records] = parseCsv(csv.text);
      expect(header).toEqual(CSV_COLUMNS);
      expect(records.map((record) => record[0])).toEqual(newestFirst);

      // Nothing matches: an empty NDJSON body, not an empty line (the CSV's lone header is checked with Accept).
      const none = await exportNdjson(randomIssuerId());
      expect(none.res.status).toBe(200);
      expect(none.lines).toBe('');
    });

    it('when more operations match than one batch holds, then the export reads batch after batch and yields each once', async () => {
      const issuerId = randomIssuerId();
      const repository = ctx.dataSource.getRepository(Operation);
      const now = Date.now();
      await repository.insert(
        Array.from({ length: 7 }, (_, i) => syntheticOperation(issuerId, randomUUID(), new Date(now + i))),
      );
      const batches: number[] = [];
      const ids: string[] = [];
      for await (const batch of exportOperations(ctx.database, issuerId, {}, 3)) {
        batches.push(batch.length);
        ids.push(...batch.map((operation) => operation.operationId));
      }
      expect(batches).toEqual([3, 3, 1]);
      const recorded = (await operationsOf(ctx.dataSource, issuerId)).map((row) => row.operationId).reverse();
      expect(ids).toEqual(recorded);
    });
  });

  describe('retention', () => {
    it('when operations are older than the retention, then they are purged in bounded batches, younger ones are kept, and one PURGE operation records the count', async () => {
      const issuerId = randomIssuerId();
      const now = new Date();
      const retentionMs = 400 * DAY;
      const cutoff = new Date(now.getTime() - retentionMs);
      const repository = ctx.dataSource.getRepository(Operation);
      // Six: one removed by hand, then batches of 2, 2 and 1, the last one short.
      const old = Array.from({ length: 6 }, (_, i) =>
        syntheticOperation(issuerId, randomUUID(), new Date(cutoff.getTime() - (i + 1) * DAY)),
      );
      const atCutoff = syntheticOperation(issuerId, randomUUID(), cutoff);
      const young = syntheticOperation(issuerId, randomUUID(), new Date(cutoff.getTime() + 1));
      await repository.insert([...old, atCutoff, young]);
      const otherIssuer = randomIssuerId();
      await repository.insert(syntheticOperation(otherIssuer, randomUUID(), new Date(now.getTime() - DAY)));

      // A batch removes at most its size, oldest first.
      const removedOne = await ctx.database.transaction((manager) =>
        deleteOperationsBefore(manager, issuerId, cutoff, 1),
      );
      expect(removedOne).toBe(1);
      expect(await repository.countBy({ issuerId })).toBe(7);

      const purged = await purgeOperations(ctx.database, retentionMs, { now, batchSize: 2 });
      expect(purged).toBeGreaterThanOrEqual(5);
      const left = await operationsOf(ctx.dataSource, issuerId);
      expect(left.map((row) => row.operationId)).toEqual([atCutoff.operationId, young.operationId, expect.any(String)]);
      const purge = left[2]!;
      expect(purge).toMatchObject({
        operation: 'PURGE',
        status: 'SUCCESSFUL',
        errorCode: null,
        requestorType: 'SYSTEM',
        requestorId: 'corecredit-account-links',
        consumerId: null,
        accountNumber: null,
        reason: purgeReason(5, cutoff),
      });
      expect(purge.reason!.length).toBeLessThanOrEqual(64);
      // The other issuer had nothing that old: nothing removed, no PURGE recorded for it.
      expect((await operationsOf(ctx.dataSource, otherIssuer)).map((row) => row.operation)).toEqual(['REGISTER']);

      // The search shows the purge, and it is valid against the document.
      const res = await search(issuerId, '?operation=PURGE');
      expect(res.body.operations).toEqual([
        expect.objectContaining({ operationId: purge.operationId, requestorType: 'SYSTEM', reason: purge.reason }),
      ]);

      // A second run finds nothing older: it records nothing.
      await purgeOperations(ctx.database, retentionMs, { now, batchSize: 2 });
      expect(await repository.countBy({ issuerId })).toBe(3);
    });

    it('when the service purges operations on its own, then the expired ones go and the log says how many', async () => {
      const issuerId = randomIssuerId();
      // Older than anything another suite writes: the purge runs over every issuer.
      const retentionMs = 4000 * DAY;
      const repository = ctx.dataSource.getRepository(Operation);
      const expired = Array.from({ length: 3 }, (_, i) =>
        syntheticOperation(issuerId, randomUUID(), new Date(Date.now() - retentionMs - (i + 1) * DAY)),
      );
      await repository.insert(expired);
      const logs = logCollector();
      const stop = scheduleOperationPurge(
        ctx.database,
        { retentionMs, intervalMs: 50 },
        createLogger('info', logs.stream),
      );
      try {
        await until(() => logs.lines().some((line) => line.msg === 'expired operations purged'), 10_000);
      } finally {
        await stop();
      }
      // One batch: the PURGE operation recorded with it says what it removed.
      const recorded = await operationsOf(ctx.dataSource, issuerId);
      expect(recorded).toHaveLength(1);
      const [purge] = recorded;
      expect(purge).toMatchObject({ operation: 'PURGE', status: 'SUCCESSFUL' });
      expect(purge!.reason).toMatch(/^removed 3 operations before \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const purged = logs.lines().filter((line) => line.msg === 'expired operations purged');
      expect(purged.reduce((sum, line) => sum + Number(line.purged), 0)).toBeGreaterThanOrEqual(expired.length);
    });
  });
});

/** An operation row written straight into the table (a REGISTER of the issuer API), started at `startTime`. */
function syntheticOperation(issuerId: string, operationId: string, startTime: Date): Operation {
  return Object.assign(new Operation(), {
    operationId,
    operation: 'REGISTER',
    status: 'SUCCESSFUL',
    errorCode: null,
    startTime,
    endTime: startTime,
    requestorType: 'ISSUER',
    requestorId: 'issuer-backend',
    issuerId,
    consumerId: 'C1',
    consumerKey: 'c1',
    accountNumber: '4000',
    reason: null,
    reasonCode: null,
    source: null,
    sessionId: null,
    ipAddress: null,
    externalIp: null,
    callerId: null,
    calledId: null,
    correlationId: `seed-${operationId}`,
  } satisfies Partial<Operation>);
}
