// At most `size` units of database work at once, each waiting a bounded time for its turn.
import { E_TIMEOUT, Semaphore, type SemaphoreInterface, withTimeout } from 'async-mutex';
import { unavailable } from './unavailable';

/**
 * Sized to the pool, so that no unit ever queues inside mysql2, whose pool waits forever; on SQLite, where TypeORM
 * shares one connection, one unit at a time. A wait longer than the acquire timeout is a 503.
 */
export class Gate {
  private readonly semaphore: SemaphoreInterface;
  /** Units holding a place now, and units waiting for one (for the metrics). */
  active = 0;
  waiting = 0;

  constructor(
    size: number,
    private readonly acquireTimeoutMs: number,
  ) {
    this.semaphore = withTimeout(new Semaphore(size), acquireTimeoutMs);
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    let release: () => void;
    this.waiting += 1;
    try {
      [, release] = await this.semaphore.acquire();
    } catch (error) {
      // Stryker disable next-line ConditionalExpression: nothing cancels the semaphore, so its only refusal is E_TIMEOUT.
      if (error === E_TIMEOUT)
        throw unavailable(`No database connection became free within ${this.acquireTimeoutMs} ms.`);
      throw error;
    } finally {
      this.waiting -= 1;
    }
    this.active += 1;
    try {
      return await work();
    } finally {
      this.active -= 1;
      release();
    }
  }
}
