// A real webhook receiver: node:http on an ephemeral port of 127.0.0.1, answering each request as the test says and
// keeping what it got, with every signature checked by the standardwebhooks verifier.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  json: Record<string, unknown> & { id: string; type: string; data: Record<string, unknown> };
  /** Whether the sender hung up before it got its answer. */
  closed(): boolean;
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** The status of each answer in turn; once spent, 200. */
  answers: number[];
  /** How long each answer waits; may be changed while it runs. */
  delayMs: number;
  /** Checks every request received against this secret (throws on the first that does not verify). */
  verifyAll(secret: string): void;
  /** Resolves once `count` requests have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(options: { port?: number; delayMs?: number } = {}): Promise<Receiver> {
  const received: Received[] = [];
  const answers: number[] = [];
  const state = { delayMs: options.delayMs ?? 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let hungUp = false;
      res.once('close', () => {
        hungUp = !res.writableFinished;
      });
      received.push({ headers: req.headers, body, json: JSON.parse(body) as Received['json'], closed: () => hungUp });
      const status = answers.shift() ?? 200;
      setTimeout(() => {
        if (!hungUp) res.writeHead(status).end();
      }, state.delayMs).unref();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    port,
    received,
    answers,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(value: number) {
      state.delayMs = value;
    },
    verifyAll(secret) {
      const webhook = new Webhook(secret);
      for (const request of received) webhook.verify(request.body, request.headers as Record<string, string>);
    },
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline)
          throw new Error(`${received.length} of ${count} requests arrived in ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return received;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
