// Several real service processes on their own ports over one MariaDB database, hammered with interleaved
// registers, delinks and deletes of the same users: the database alone keeps every rule.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '../../src/db/database';
import { DELINK_PATH } from '../../src/corecredit/routes';
import {
  buildEnvelope,
  issuerToken,
  linkOf,
  mintToken,
  openDatabase,
  operationsOf,
  randomDigits,
  seedUser,
  type SeededUser,
  TEST_SECRET,
} from '../helpers/context';
import { type ServerProcess, serverEnv, startServer } from '../helpers/process';

const INSTANCES = 3;
const USERS = 6;
const REQUESTS = 480;
const CONCURRENCY = 24;

type Call = { kind: 'register' | 'delink' | 'delete'; account: string; user: SeededUser; correlationId: string };

describe('several instances over one database', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cc-instances-'));
  let servers: ServerProcess[] = [];
  let direct: Database;

  beforeAll(async () => {
    servers = await Promise.all(
      Array.from({ length: INSTANCES }, () => startServer(serverEnv(dataDir, { JWT_SECRET: TEST_SECRET }))),
    );
    direct = await openDatabase();
  });
  afterAll(async () => {
    // A server that does not stop on SIGTERM within the bound is killed: the shutdown has tests of its own.
    await Promise.all(
      servers.map(async (server) => {
        const kill = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
        await server.stop();
        clearTimeout(kill);
      }),
    );
    await direct.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('when registers, delinks and deletes of the same users interleave across instances, then no main account is delinked, no link twice, and every request has its operation', async () => {
    const issuerId = `I${randomDigits(9)}`;
    const users = await Promise.all(Array.from({ length: USERS }, () => seedUser(direct, { issuerId, accounts: 4 })));
    const userToken = await mintToken(issuerId, { sub: 'portal' });
    const adminToken = await issuerToken(issuerId);

    // A plan mixing every kind of call on the same users: delinks of main and secondary accounts (each several
    // times), deletes of the same accounts, and registers of new accounts that the other calls then target.
    const calls: Call[] = [];
    for (let i = 0; i < REQUESTS; i += 1) {
      const user = users[i % USERS]!;
      const roll = (i * 7919) % 10;
      const correlationId = `hammer-${i}-${randomUUID().slice(0, 8)}`;
      if (roll < 2) {
        const account = `7${randomDigits(15)}`;
        calls.push({ kind: 'register', account, user, correlationId });
        user.otherAccounts.push(account);
      } else {
        const pool = [user.mainAccount, ...user.otherAccounts];
        calls.push({
          kind: roll < 8 ? 'delink' : 'delete',
          account: pool[(i * 31) % pool.length]!,
          user,
          correlationId,
        });
      }
    }

    const send = async (call: Call, i: number): Promise<number> => {
      const base = `http://127.0.0.1:${servers[i % INSTANCES]!.port}`;
      const headers = { 'Content-Type': 'application/json', 'x-correlation-id': call.correlationId };
      const res =
        call.kind === 'delink'
          ? await fetch(`${base}${DELINK_PATH}`, {
              method: 'POST',
              headers: { ...headers, Authorization: `Bearer ${userToken}` },
              body: JSON.stringify(buildEnvelope({ SSUserID: call.user.ssUserId, AccountNumber: call.account })),
            })
          : call.kind === 'delete'
            ? await fetch(`${base}/issuers/${issuerId}/accounts/${call.account}/operations:delete`, {
                method: 'POST',
                headers: { ...headers, Authorization: `Bearer ${adminToken}` },
                body: '{}',
              })
            : await fetch(`${base}/issuers/${issuerId}/accounts/${call.account}`, {
                method: 'PUT',
                headers: { ...headers, Authorization: `Bearer ${adminToken}` },
                body: JSON.stringify({ consumerId: call.user.ssUserId, state: 'ACTIVE' }),
              });
      await res.arrayBuffer();
      return res.status;
    };

    const statuses: number[] = new Array<number>(calls.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < calls.length) {
          const i = next++;
          statuses[i] = await send(calls[i]!, i);
        }
      }),
    );

    // Every answer is a business answer, whichever instance served it: never a 5xx under contention.
    const allowed: Record<Call['kind'], number[]> = { delink: [200, 404, 409], delete: [200, 404], register: [204] };
    for (const [i, status] of statuses.entries()) expect(allowed[calls[i]!.kind]).toContain(status);
    // The mix really exercised successes and refusals.
    for (const status of [200, 204, 404, 409]) expect(statuses).toContain(status);

    const operations = await operationsOf(direct.dataSource, issuerId);
    // Every request has exactly one operation, found by its correlation id.
    const byCorrelation = new Map<string, number>();
    for (const op of operations) byCorrelation.set(op.correlationId, (byCorrelation.get(op.correlationId) ?? 0) + 1);
    for (const call of calls)
      expect({ id: call.correlationId, operations: byCorrelation.get(call.correlationId) }).toEqual({
        id: call.correlationId,
        operations: 1,
      });

    for (const user of users) {
      // The main account: never delinked, whatever was asked of it.
      expect(await linkOf(direct.dataSource, issuerId, user.mainAccount)).toMatchObject({
        isMain: true,
        delinked: false,
      });
      for (const account of user.otherAccounts) {
        const link = await linkOf(direct.dataSource, issuerId, account);
        if (link === undefined) continue; // a register that lost nothing: never planned to exist without its call
        const delinks = operations.filter(
          (op) => op.accountNumber === account && op.operation === 'DELINK' && op.status === 'SUCCESSFUL',
        );
        const deletes = operations.filter(
          (op) => op.accountNumber === account && op.operation === 'DELETE' && op.status === 'SUCCESSFUL',
        );
        // Each link is delinked at most once (no register re-links these accounts), and only by a recorded change.
        expect(delinks.length).toBeLessThanOrEqual(1);
        if (link.delinked) expect(delinks.length + deletes.length).toBeGreaterThanOrEqual(1);
        if (!link.delinked) expect(delinks).toEqual([]);
      }
    }
    // The instances really shared the work.
    expect(new Set(calls.map((_, i) => i % INSTANCES)).size).toBe(INSTANCES);
  });
});
