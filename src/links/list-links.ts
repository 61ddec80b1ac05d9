// GetLinkAccounts: the accounts linked to a consumer now.
import type { Database } from '../db/database';
import { AppError } from '../errors';
import { findConsumer } from './consumer-repository';
import { boundElsewhere } from './identifiers';
import { type LinkedAccount, linkedAccounts } from './link-repository';

export type { LinkedAccount } from './link-repository';

/** The consumer's linked accounts, main account first; the consumer id as it was first registered. */
export async function listLinkedAccounts(
  db: Database,
  issuerId: string,
  request: { consumerId: string; boundConsumerId?: string },
): Promise<{ consumerId: string; accounts: LinkedAccount[] }> {
  if (boundElsewhere(request.boundConsumerId, request.consumerId)) throw new AppError('USER_NOT_ALLOWED');
  return db.read(async (manager) => {
    const consumer = await findConsumer(manager, issuerId, request.consumerId);
    if (consumer === undefined) throw new AppError('USER_NOT_FOUND');
    return { consumerId: consumer.consumerId, accounts: await linkedAccounts(manager, consumer.id) };
  });
}
