/**
 * Waits until the check holds, polling every 20 ms: for what happens after the request that started it has answered
 * (a receiver's answer reaches it before the worker has recorded that answer; a scheduled job runs on its timer).
 */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not so within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
