// The README's quick start, run for real: the server process, the demo seed, a minted token, the sample request.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { onMariaDb } from './helpers/context';

const root = join(__dirname, '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');

function databaseUrl(dataDir: string): string {
  if (onMariaDb) return process.env.TEST_MARIADB_DATABASE_URL!;
  return `sqlite:${join(dataDir, 'corecredit.sqlite')}`;
}

/** Starts `src/server.ts` and resolves with its port once it logs that it listens. */
function startServer(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number; lines: string[] }> {
  const child = spawn(tsx, ['src/server.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${lines.join('\n')}`)));
    child.stderr.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      const entry = JSON.parse(line) as { msg?: string; port?: number };
      if (entry.msg === 'listening' && entry.port !== undefined) resolve({ child, port: entry.port, lines });
    });
  });
}

function run(script: string, args: string[], env: NodeJS.ProcessEnv): string {
  const result = spawnSync(tsx, [script, ...args], { cwd: root, env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${script} failed: ${result.stderr}`);
  return result.stdout.trim();
}

describe('the quick start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cc-quickstart-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: '0',
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl(dataDir),
    LOG_LEVEL: 'info',
  };
  let server: Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    server = await startServer(env);
  });
  afterAll(() => {
    server.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function sample(token: string, accountNumber: string): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`http://127.0.0.1:${server.port}/api/CoreCredit/UserManagement/DeLinkAccount`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'x-correlation-id': `quickstart-${randomUUID()}` },
      body: JSON.stringify({
        Source: 'Web',
        IPAddress: '10.120.0.1',
        DateFormat: null,
        CurrencyCode: null,
        CurrencySymbolType: null,
        Language: null,
        ExternalIP: '10.120.0.0',
        SessionID: null,
        APIVersion: '2.0',
        CallerID: null,
        CalledID: null,
        RequestTime: null,
        SSUserID: '8888010000000231',
        AccountNumber: accountNumber,
      }),
    });
    return { status: res.status, body: await res.json() };
  }

  it('when seeded and called with a minted token, then 0227 is delinked and the main account 0219 is refused; SIGTERM stops it cleanly', async () => {
    expect(run('src/cli/seed-demo.ts', [], env)).toMatch(/Seeded issuer DEMOISSUER/);
    const token = run('src/cli/token.ts', ['--issuer', 'DEMOISSUER', '--scope', 'selfservice:delink selfservice:read'], env);
    expect(token.split('.')).toHaveLength(3);

    expect(await sample(token, '8000000000000227')).toEqual({
      status: 200,
      body: { Message: 'Return Successfully.', Status: true, ErrorCode: 'ERR01093', ResponseData: {} },
    });
    expect(await sample(token, '8000000000000219')).toMatchObject({ status: 409, body: { Status: false, ErrorCode: 'ERR01140' } });

    // Seeding again restores the demo: the delinked account is linked again.
    run('src/cli/seed-demo.ts', [], env);
    expect(await sample(token, '8000000000000227')).toMatchObject({ status: 200 });

    server.child.removeAllListeners('exit');
    const exited = new Promise<number | null>((resolve) => server.child.once('exit', resolve));
    server.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(server.lines.join('\n')).toMatch(/"msg":"stopped"/);
  });
});
