// `npm run seed:demo`: applies migrations, then registers the demo user's accounts through the issuer API's own
// service functions. Running it again restores the demo (re-links delinked accounts).
import './bootstrap';
import { randomUUID } from 'node:crypto';
import { loadConfigOrExit } from '../config';
import { createDatabase } from '../db/database';
import { registerAccount } from '../links/register';
import type { RequestContext } from '../operations/context';

export const DEMO = {
  issuerId: 'DEMOISSUER',
  ssUserId: '8888010000000231',
  mainAccount: '8000000000000219',
  linkedAccounts: ['8000000000000227', '8000000000000235'],
} as const;

async function main(): Promise<void> {
  // Seeding needs no JWT key, so it leaves the development secret alone.
  const config = loadConfigOrExit();
  const database = createDatabase(config.database);
  await database.initialize();
  try {
    await database.migrate();
    const ctx: RequestContext = {
      issuerId: DEMO.issuerId,
      requestorType: 'ISSUER',
      requestorId: 'seed:demo',
      correlationId: `seed-demo-${randomUUID()}`,
    };
    for (const accountNumber of [DEMO.mainAccount, ...DEMO.linkedAccounts]) {
      await registerAccount(database, ctx, {
        accountNumber,
        consumerId: DEMO.ssUserId,
        productId: null,
        state: 'ACTIVE',
      });
    }
    console.log(
      `Seeded issuer ${DEMO.issuerId}: user ${DEMO.ssUserId} with main account ${DEMO.mainAccount} and linked accounts ${DEMO.linkedAccounts.join(', ')}.`,
    );
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  console.error('seeding failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
