// One unit of database work on a connection of its own, for at most a deadline.
import type { DataSource, QueryRunner } from 'typeorm';
import { unavailable } from './unavailable';

/**
 * Runs `work` on a connection of its own, for at most `timeoutMs`. Past it the caller gets its 503 at once, whatever
 * the driver is waiting for, and the connection's socket is closed: the server then rolls back whatever was open, so
 * a unit that answered 503 can never commit later. `expired` tells `work` that its connection is gone, so that it
 * sends nothing more.
 */
export async function withDeadline<T>(
  dataSource: DataSource,
  timeoutMs: number,
  work: (runner: QueryRunner, expired: () => boolean) => Promise<T>,
): Promise<T> {
  const runner = dataSource.createQueryRunner();
  const expiredError = (cause?: unknown) => unavailable(`The database did not answer within ${timeoutMs} ms.`, cause);
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      closeConnection(runner);
      reject(expiredError());
    }, timeoutMs);
  });
  const unit = (async () => {
    await runner.connect();
    if (timedOut) closeConnection(runner);
    return work(runner, () => timedOut);
  })();
  try {
    return await Promise.race([unit, deadline]);
  } catch (error) {
    if (timedOut) throw expiredError(error);
    throw error;
  } finally {
    clearTimeout(timer);
    // An abandoned unit settles later against a closed connection; its outcome no longer matters.
    unit.catch(() => undefined);
    if (!timedOut) await runner.release();
  }
}

/** Closes the socket outright (mysql2's destroy() only half-closes it, which a dead network path never answers). */
function closeConnection(runner: QueryRunner): void {
  const connection = (
    runner as QueryRunner & { databaseConnection?: { destroy?: () => void; stream?: { destroy?: () => void } } }
  ).databaseConnection;
  connection?.destroy?.();
  connection?.stream?.destroy?.();
}
