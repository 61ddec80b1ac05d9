// The README's quick start, run for real: the server process, the demo seed, a minted token, the sample request.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEnvelope } from './helpers/context';
import { runScript as run, type ServerProcess, serverEnv, startServer } from './helpers/process';
import { DELINK_SUCCESS } from './helpers/expectations';

describe('the quick start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cc-quickstart-'));
  const env = serverEnv(dataDir);
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer(env);
  });
  afterAll(async () => {
    if (server !== undefined) await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function sample(token: string, accountNumber: string): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`http://127.0.0.1:${server.port}/api/CoreCredit/UserManagement/DeLinkAccount`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/json',
        'x-correlation-id': `quickstart-${randomUUID()}`,
      },
      // The documented sample request, exactly as the README sends it.
      body: JSON.stringify(buildEnvelope({ AccountNumber: accountNumber })),
    });
    return { status: res.status, body: await res.json() };
  }

  it('when seeded and called with a minted token, then 0227 is delinked and the main account 0219 is refused; SIGTERM stops it cleanly', async () => {
    expect(run('src/cli/seed-demo.ts', [], env)).toMatch(/Seeded issuer DEMOISSUER/);
    const token = run(
      'src/cli/token.ts',
      ['--issuer', 'DEMOISSUER', '--scope', 'selfservice:delink selfservice:read'],
      env,
    );
    expect(token.split('.')).toHaveLength(3);

    expect(await sample(token, '8000000000000227')).toEqual({
      status: 200,
      body: DELINK_SUCCESS,
    });
    expect(await sample(token, '8000000000000219')).toMatchObject({
      status: 409,
      body: { Status: false, ErrorCode: 'ERR01140' },
    });

    // Seeding again restores the demo: the delinked account is linked again.
    run('src/cli/seed-demo.ts', [], env);
    expect(await sample(token, '8000000000000227')).toMatchObject({ status: 200 });

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output.join('\n')).toMatch(/"msg":"stopped"/);
  });
});
