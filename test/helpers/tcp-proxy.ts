// A TCP proxy on loopback between the service and the database, which a test switches between passing traffic,
// refusing connections, dropping traffic silently and delaying it.
import { createServer, type Server, type Socket, connect } from 'node:net';

export type ProxyMode = 'pass' | 'refuse' | 'blackhole' | { delayMs: number };

export class TcpProxy {
  private mode: ProxyMode = 'pass';
  private readonly pairs = new Set<[Socket, Socket]>();
  private trap: { pattern: string; deliver: boolean } | undefined;
  private refusal: { pattern: string; payload: Buffer } | undefined;
  private readonly server: Server;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.server = createServer((client) => this.accept(client));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    this.port = address.port;
    return this;
  }

  /** Switches mode. `refuse` also cuts every open connection, as a database restart or a network cut would. */
  set(mode: ProxyMode): void {
    this.mode = mode;
    if (mode !== 'refuse') return;
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
  }

  /**
   * One connection's next client packet that contains `pattern` (e.g. `COMMIT`) is the last thing that passes on that
   * connection, in either direction: delivered to the server (`deliver`, so the server acts on it and its answer is
   * lost) or dropped with it. Other connections keep passing, like a network path that fails between two packets.
   */
  cutAfter(pattern: string, deliver: boolean): void {
    this.trap = { pattern, deliver };
  }

  /**
   * One connection's next client packet that contains `pattern` is not delivered: the client gets the server's error
   * reply instead, as the server would send it (a Galera node answers a COMMIT that failed certification with 1213).
   * The connection goes on passing traffic; the server, which never saw the statement, still holds what was open.
   */
  answerWithError(pattern: string, errno: number, sqlState: string, message: string): void {
    const payload = Buffer.concat([
      Buffer.from([0xff, errno & 0xff, errno >> 8]),
      Buffer.from(`#${sqlState}${message}`),
    ]);
    this.refusal = { pattern, payload };
  }

  /** Whether a cut set by `cutAfter` is still waiting for its packet. */
  get armed(): boolean {
    return this.trap !== undefined;
  }

  async stop(): Promise<void> {
    this.set('refuse');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.mode === 'refuse') {
      client.destroy();
      return;
    }
    const upstream = connect(this.targetPort, this.targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    let cut = false;
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk: Buffer) => {
        const mode = this.mode;
        if (cut || mode === 'blackhole' || mode === 'refuse') return; // dropped on the floor, like a dead network path
        const refusal = this.refusal;
        if (from === client && refusal !== undefined && chunk.includes(refusal.pattern)) {
          this.refusal = undefined;
          // The reply's sequence number follows the statement's (the fourth byte of its packet header).
          const { length } = refusal.payload;
          const header = Buffer.from([length & 0xff, (length >> 8) & 0xff, length >> 16, (chunk[3]! + 1) & 0xff]);
          from.write(Buffer.concat([header, refusal.payload]));
          return;
        }
        const trap = this.trap;
        if (from === client && trap !== undefined && chunk.includes(trap.pattern)) {
          this.trap = undefined;
          cut = true;
          if (trap.deliver) to.write(chunk);
          return;
        }
        if (mode === 'pass') to.write(chunk);
        else setTimeout(() => to.writable && to.write(chunk), mode.delayMs);
      });
    forward(client, upstream);
    forward(upstream, client);
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  }
}
