// Runs src/server.ts and the CLIs as real child processes, as an operator would, and reads the server's JSON log.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { DatabaseConfig } from '../../src/config';
import { onMariaDb, testDatabase } from './context';

export const root = join(__dirname, '..', '..');
/** tsx's CLI as Node resolves it, run by this Node: found wherever node_modules is (a link, a parent directory). */
const tsx = require.resolve('tsx/cli');
/** Below Jest's hook timeout, so that a server that never listens fails here, with its output, and is stopped. */
const STARTUP_TIMEOUT_MS = 45_000;

export type LogEntry = Record<string, unknown> & { msg?: string };

/** The database a server process under test uses: on MariaDB the run's database, on SQLite a file in `dataDir`. */
export function serverDatabase(dataDir: string): { url: string; config: DatabaseConfig } {
  if (onMariaDb) return { url: process.env.TEST_MARIADB_DATABASE_URL!, config: testDatabase() };
  const path = join(dataDir, 'corecredit.sqlite');
  return { url: `sqlite:${path}`, config: { kind: 'sqlite', path } };
}

/** A clean environment: nothing of the test runner's own leaks into the process but PATH and HOME. */
export function serverEnv(dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: '0',
    DATA_DIR: dataDir,
    DATABASE_URL: serverDatabase(dataDir).url,
    LOG_LEVEL: 'info',
    ...extra,
  };
}

export interface LaunchedProcess {
  child: ChildProcess;
  /** Everything the process wrote so far, stdout lines and stderr chunks. */
  output: string[];
  /** What the process wrote that is not a JSON log line: stdout lines that do not parse, and all of stderr. */
  notJson(): string[];
  /** Every JSON log line the process wrote so far. */
  entries: LogEntry[];
  /** Resolves with the exit code once the process has exited and its output is read. */
  exited: Promise<number | null>;
  /** The first log entry, already written or still to come, that matches; rejects if the process exits first. */
  logged(predicate: (entry: LogEntry) => boolean): Promise<LogEntry>;
  /** Stops the process if it still runs (SIGTERM, so that tsx passes it on) and waits for it to exit. */
  stop(): Promise<void>;
}

export interface ServerProcess extends LaunchedProcess {
  port: number;
}

/** Starts `src/server.ts` and returns at once, listening or not: for start-ups that are meant to fail. */
export function launchServer(env: NodeJS.ProcessEnv): LaunchedProcess {
  const child = spawn(process.execPath, [tsx, 'src/server.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const plain: string[] = [];
  const entries: LogEntry[] = [];
  const waiting: { predicate: (entry: LogEntry) => boolean; resolve: (entry: LogEntry) => void }[] = [];
  // 'close', not 'exit': it comes after the output streams ended, so every line has been read by then.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));

  child.stderr.on('data', (chunk: Buffer) => {
    output.push(chunk.toString());
    plain.push(chunk.toString());
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    output.push(line);
    let entry: LogEntry;
    try {
      entry = JSON.parse(line) as LogEntry;
    } catch {
      plain.push(line);
      return;
    }
    entries.push(entry);
    for (const waiter of [...waiting]) {
      if (!waiter.predicate(entry)) continue;
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.resolve(entry);
    }
  });

  const logged = (predicate: (entry: LogEntry) => boolean): Promise<LogEntry> => {
    const found = entries.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      waiting.push({ predicate, resolve });
      void exited.then((code) =>
        reject(new Error(`the server exited (${code}) before the awaited log line:\n${output.join('\n')}`)),
      );
    });
  };

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };

  return { child, output, notJson: () => [...plain], entries, exited, logged, stop };
}

/** Starts `src/server.ts` and resolves once it logs that it listens, with the port it chose. */
export async function startServer(env: NodeJS.ProcessEnv): Promise<ServerProcess> {
  const launched = launchServer(env);
  let timer: NodeJS.Timeout | undefined;
  let listening: LogEntry;
  try {
    listening = await Promise.race([
      launched.logged((entry) => entry.msg === 'listening' && typeof entry.port === 'number'),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(`the server did not listen within ${STARTUP_TIMEOUT_MS} ms:\n${launched.output.join('\n')}`),
            ),
          STARTUP_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (error) {
    // Nobody else holds this process: left running, it would keep Jest from ever exiting.
    await launched.stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return { ...launched, port: listening.port as number };
}

/** Runs a CLI script with tsx and returns its standard output. */
export function runScript(script: string, args: string[], env: NodeJS.ProcessEnv): string {
  const result = spawnSync(process.execPath, [tsx, script, ...args], { cwd: root, env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${script} failed: ${result.stderr}`);
  return result.stdout.trim();
}
