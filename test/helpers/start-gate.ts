// Holds server processes at their first database work until the test opens the gate, so that several of them start
// their migrations at the same instant instead of whenever each happened to finish loading.
import { createServer, type Server, type Socket, connect } from 'node:net';
import { createDatabase } from '../../src/db/database';
import { mysqlUrl } from './mariadb';
import type { ScratchDatabase } from './scratch-database';

export interface StartGate {
  /** DATABASE_URL for the held servers. */
  url: string;
  /** Lets every held server through at once. */
  open(): Promise<void>;
  /** Resolves once `count` servers are held (MariaDB: connected to the gate; SQLite: see `heldAfter`). */
  held(count: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * SQLite: the gate holds the file's write lock (BEGIN IMMEDIATE), so a server's first write (creating a table)
 * waits in its busy timeout. Nothing tells the gate that a server is waiting, so `held` resolves on the caller's
 * evidence (a log line written just before the database is opened) plus a margin.
 */
async function sqliteGate(path: string): Promise<StartGate> {
  const holder = createDatabase({ kind: 'sqlite', path });
  await holder.initialize();
  await holder.dataSource.query('BEGIN IMMEDIATE');
  let holding = true;
  const open = async (): Promise<void> => {
    if (holding) await holder.dataSource.query('COMMIT');
    holding = false;
  };
  return {
    url: `sqlite:${path}`,
    held: () => new Promise((resolve) => setTimeout(resolve, 1_500)),
    open,
    close: async () => {
      await open();
      await holder.close();
    },
  };
}

/** MariaDB: a TCP gate in front of the server; a connection is passed on only once the gate is open. */
async function tcpGate(databaseUrl: string): Promise<StartGate> {
  const target = new URL(mysqlUrl(databaseUrl));
  const waiting: Socket[] = [];
  const sockets = new Set<Socket>();
  const watchers: { count: number; resolve: () => void }[] = [];
  let isOpen = false;
  let connections = 0;

  const pass = (client: Socket): void => {
    const upstream = connect(Number(target.port || 3306), target.hostname);
    sockets.add(upstream);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.resume();
  };
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.pause();
    connections += 1;
    for (const watcher of watchers.filter((w) => connections >= w.count)) watcher.resolve();
    if (isOpen) pass(client);
    else waiting.push(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target);
  url.host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: url.toString().replace(/^mysql:/, 'mariadb:'),
    held: (count) =>
      connections >= count ? Promise.resolve() : new Promise((resolve) => watchers.push({ count, resolve })),
    open: () => {
      isOpen = true;
      for (const client of waiting.splice(0)) pass(client);
      return Promise.resolve();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function startGate(database: ScratchDatabase): Promise<StartGate> {
  return database.config.kind === 'sqlite' ? Promise.resolve(sqliteGate(database.config.path)) : tcpGate(database.url);
}
