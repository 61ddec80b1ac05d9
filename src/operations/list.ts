// Reading the audit trail.
import type { Database } from '../db/database';
import { consumerOperations, type OperationView } from './operation-repository';

/** A consumer's operations, most recent first; ties broken by the order they were recorded. */
export function listConsumerOperations(
  db: Database,
  issuerId: string,
  consumerId: string,
  page: { offset: number; count: number },
): Promise<{ operations: OperationView[]; total: number }> {
  return db.read((manager) => consumerOperations(manager, issuerId, consumerId, page));
}
