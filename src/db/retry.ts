// Runs a unit of work again when it collided with another one, a few times, with jittered backoff.
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** The n-th retry waits about n times this, plus jitter of up to twice as much. */
  backoffMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 4, backoffMs: 5 };

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
      await sleep(policy.backoffMs * attempt + Math.floor(Math.random() * 2 * policy.backoffMs * attempt));
    }
  }
}
