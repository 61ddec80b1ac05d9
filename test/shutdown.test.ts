// Graceful shutdown of the real process: requests in flight at SIGTERM/SIGINT finish normally, then it exits 0.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DELINK_PATH, GET_LINKS_PATH } from '../src/corecredit/routes';
import {
  buildEnvelope,
  linkOf,
  mintToken,
  openDatabase,
  seedUser,
  type SeededUser,
  TEST_SECRET,
} from './helpers/context';
import { type LogEntry, type ServerProcess, serverDatabase, serverEnv, startServer } from './helpers/process';
import { DELINK_SUCCESS } from './helpers/expectations';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/**
 * A request sent over a raw socket whose body is held back: `Expect: 100-continue` makes the server answer
 * "100 Continue" once it has read the headers and handed the request to the app, which is the proof that the
 * request is in flight. Half of the body follows, and the rest only when `finish` is called.
 */
class HeldRequest {
  readonly response: Promise<RawResponse>;
  /** Resolves when the server has closed the connection. */
  readonly closed: Promise<void>;
  private readonly rest: string;

  private constructor(
    private readonly socket: Socket,
    body: string,
    continued: Promise<void>,
  ) {
    const half = Math.floor(body.length / 2);
    this.rest = body.slice(half);
    void continued.then(() => socket.write(body.slice(0, half)));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    this.response = new Promise((resolve, reject) => {
      let received = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        const parsed = parseResponse(received);
        if (parsed !== undefined) resolve(parsed);
      });
      socket.once('close', () =>
        reject(new Error(`connection closed before a whole response: ${received.toString()}`)),
      );
    });
  }

  static async send(
    port: number,
    path: string,
    token: string,
    correlationId: string,
    payload: unknown,
  ): Promise<HeldRequest> {
    const socket = connect(port, '127.0.0.1');
    const body = JSON.stringify(payload);
    const continued = new Promise<void>((resolve, reject) => {
      let seen = '';
      const onData = (chunk: Buffer): void => {
        seen += chunk.toString('latin1');
        if (!seen.includes('\r\n\r\n')) return;
        socket.off('data', onData);
        if (seen.startsWith('HTTP/1.1 100 ')) resolve();
        else reject(new Error(`expected 100 Continue, got ${seen}`));
      };
      socket.on('data', onData);
      socket.once('error', reject);
    });
    socket.write(
      [
        `POST ${path} HTTP/1.1`,
        'Host: 127.0.0.1',
        `Authorization: Bearer ${token}`,
        'Content-Type: application/json',
        `Content-Length: ${Buffer.byteLength(body)}`,
        'Expect: 100-continue',
        `x-correlation-id: ${correlationId}`,
        '',
        '',
      ].join('\r\n'),
    );
    const request = new HeldRequest(socket, body, continued);
    await continued;
    return request;
  }

  finish(): Promise<RawResponse> {
    this.socket.write(this.rest);
    return this.response;
  }
}

/** The final response in what the server sent (after its "100 Continue"), once its whole body has arrived. */
function parseResponse(received: Buffer): RawResponse | undefined {
  let text = received.toString('utf8');
  while (text.startsWith('HTTP/1.1 100 ')) text = text.slice(text.indexOf('\r\n\r\n') + 4);
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...headerLines] = text.slice(0, end).split('\r\n');
  const headers = Object.fromEntries(
    headerLines.map((line) => [
      line.slice(0, line.indexOf(':')).toLowerCase(),
      line.slice(line.indexOf(':') + 1).trim(),
    ]),
  );
  const body = Buffer.from(text.slice(end + 4), 'utf8');
  if (body.length < Number(headers['content-length'])) return undefined;
  return { status: Number(statusLine?.split(' ')[1]), headers, body: JSON.parse(body.toString('utf8')) };
}

function connectionError(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe.each(['SIGTERM', 'SIGINT'] as const)('the server process on %s', (signal) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cc-shutdown-'));
  let server: ServerProcess | undefined;
  let user: SeededUser;

  beforeAll(async () => {
    server = await startServer(serverEnv(dataDir, { JWT_SECRET: TEST_SECRET }));
    // Seeded beside the running server, on the same database, under an issuer of this test's own.
    const database = await openDatabase(serverDatabase(dataDir).config);
    try {
      user = await seedUser(database, { accounts: 3 });
    } finally {
      await database.close();
    }
  });
  afterAll(async () => {
    if (server !== undefined) await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('when requests are in flight, then they finish with their normal responses, new connections are refused, and it exits 0 with "stopped"', async () => {
    const { port } = server!;
    const token = await mintToken(user.issuerId);
    const [delinked, secondary] = user.otherAccounts as [string, string];
    const ids = {
      delink: `shutdown-delink-${randomUUID()}`,
      main: `shutdown-main-${randomUUID()}`,
      list: `shutdown-list-${randomUUID()}`,
    };

    const held = {
      delink: await HeldRequest.send(
        port,
        DELINK_PATH,
        token,
        ids.delink,
        buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: delinked }),
      ),
      main: await HeldRequest.send(
        port,
        DELINK_PATH,
        token,
        ids.main,
        buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.mainAccount }),
      ),
      list: await HeldRequest.send(
        port,
        GET_LINKS_PATH,
        token,
        ids.list,
        buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: undefined }),
      ),
    };

    server!.child.kill(signal);
    const stopping = await server!.logged(
      (entry) => typeof entry.msg === 'string' && entry.msg.startsWith('shutting down'),
    );
    expect(stopping).toMatchObject({ signal, inFlight: 3 });
    expect(await connectionError(port)).toBe('ECONNREFUSED');

    const [delink, main, list] = await Promise.all([held.delink.finish(), held.main.finish(), held.list.finish()]);
    expect(delink).toMatchObject({
      status: 200,
      body: DELINK_SUCCESS,
    });
    expect(main).toMatchObject({ status: 409, body: { Status: false, ErrorCode: 'ERR01140' } });
    expect(list).toMatchObject({
      status: 200,
      body: { Status: true, ErrorCode: 'ERR01093', ResponseData: { SSUserID: user.ssUserId } },
    });
    const accounts = (list.body as { ResponseData: { Accounts: { AccountNumber: string; IsMainAccount: boolean }[] } })
      .ResponseData.Accounts;
    expect(accounts[0]).toMatchObject({ AccountNumber: user.mainAccount, IsMainAccount: true });
    expect(accounts.map((a) => a.AccountNumber)).toContain(secondary);

    // Each response tells its client to reconnect elsewhere, and the server closes the connection after it.
    for (const [name, response] of Object.entries({ delink, main, list })) {
      expect(response.headers['x-correlation-id']).toBe(ids[name as keyof typeof ids]);
      expect(response.headers.connection).toBe('close');
    }
    await Promise.all([held.delink.closed, held.main.closed, held.list.closed]);

    expect(await server!.exited).toBe(0);
    const entries = server!.output.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogEntry);
    expect(entries.at(-1)).toMatchObject({ msg: 'stopped' });
    expect(entries.filter((e) => e.level === 40 || e.level === 50)).toEqual([]);
    for (const [name, status] of [
      ['delink', 200],
      ['main', 409],
      ['list', 200],
    ] as const) {
      expect(entries.filter((e) => e.correlationId === ids[name] && e.durationMs !== undefined)).toEqual([
        expect.objectContaining({ res: { statusCode: status } }),
      ]);
    }

    // The delink answered before the stop was committed before the pool closed.
    const database = await openDatabase(serverDatabase(dataDir).config);
    try {
      expect(await linkOf(database.dataSource, user.issuerId, delinked)).toMatchObject({ delinked: true });
      expect(await linkOf(database.dataSource, user.issuerId, user.mainAccount)).toMatchObject({ delinked: false });
    } finally {
      await database.close();
    }
  });
});

describe('the server process on SIGTERM with a request whose body never comes', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cc-shutdown-'));
  let server: ServerProcess | undefined;
  let user: SeededUser;

  beforeAll(async () => {
    // A request timeout longer than the shutdown's grace period: the grace period is what cuts the request off.
    server = await startServer(serverEnv(dataDir, { JWT_SECRET: TEST_SECRET, HTTP_REQUEST_TIMEOUT_MS: '60000' }));
    const database = await openDatabase(serverDatabase(dataDir).config);
    try {
      user = await seedUser(database, { accounts: 2 });
    } finally {
      await database.close();
    }
  });
  afterAll(async () => {
    if (server !== undefined) await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('when the grace period ends with the request still in flight, then its connection is closed and its log line says aborted, with no status and no ErrorCode', async () => {
    const token = await mintToken(user.issuerId);
    const correlationId = `shutdown-cut-${randomUUID()}`;
    const held = await HeldRequest.send(
      server!.port,
      DELINK_PATH,
      token,
      correlationId,
      buildEnvelope({ SSUserID: user.ssUserId, AccountNumber: user.otherAccounts[0] }),
    );

    server!.child.kill('SIGTERM');
    await expect(held.response).rejects.toThrow('connection closed before a whole response');
    expect(await server!.exited).toBe(0);

    const entries = server!.output.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogEntry);
    expect(entries).toContainEqual(expect.objectContaining({ level: 40, connections: 1 }));
    const lines = entries.filter((e) => e.correlationId === correlationId && e.durationMs !== undefined);
    expect(lines).toEqual([
      expect.objectContaining({
        aborted: true,
        errorCode: null,
        route: DELINK_PATH,
        msg: `POST ${DELINK_PATH} aborted`,
      }),
    ]);
    expect(lines[0]).not.toHaveProperty('res');
    expect(entries).toContainEqual(expect.objectContaining({ msg: 'stopped' }));
  });
});
