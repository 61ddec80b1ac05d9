// The account states and the changes of state a registration may make.
import type { AccountState } from '../db/entities';
import type { ErrorName } from '../errors';

/** What a registration may set. DELETED is only ever the result of a delete (of the account or of its consumer). */
export const REGISTER_STATES = ['ACTIVE', 'INACTIVE', 'SUSPENDED', 'CLOSED'] as const;
export type RegisterState = (typeof REGISTER_STATES)[number];

/**
 * Why a registration may not move an account from `from` to `to`, if it may not. ACTIVE, INACTIVE and SUSPENDED move
 * freely between each other (a suspension is lifted as it was set); CLOSED is final: the account keeps it until it is
 * deleted, after which its number may be registered again as a new account.
 */
export function transitionRefusal(from: AccountState, to: RegisterState): ErrorName | undefined {
  return from === 'CLOSED' && to !== 'CLOSED' ? 'ACCOUNT_CLOSED' : undefined;
}
