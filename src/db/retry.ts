// Runs a unit of work again when it collided with another one, a few times, with jittered backoff.
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** The n-th retry waits about n times this, plus jitter of up to twice as much. */
  backoffMs: number;
}

/**
 * Sized for a multi-writer Galera cluster, where concurrent writes of one row on different nodes fail certification
 * at COMMIT (1213) and only one of them wins each round: ten concurrent registrations of one account on three nodes
 * all succeed (test/galera). Eight attempts wait at most about 0.85 s in all (10 ms × n plus up to twice that of
 * jitter per retry), well inside the query timeout a client waits for anyway.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 8, backoffMs: 10 };

export async function withRetries<T>(
  policy: RetryPolicy,
  retryable: (error: unknown) => boolean,
  work: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= policy.attempts || !retryable(error)) throw error;
      // Jittered, so that the transactions that collided do not collide again.
      // Stryker disable next-line ArithmeticOperator: how long a retry waits changes no outcome a test can see without timing it
      await sleep(policy.backoffMs * attempt + Math.floor(Math.random() * 2 * policy.backoffMs * attempt));
    }
  }
}
