// The process's Redis connection for the shared rate-limit counters: created, connected and closed by server.ts.
import type { Logger } from 'pino';
import { createClient } from 'redis';
import type { SharedCounters } from './rate-limit-store';

export interface RateLimitRedis {
  counters: SharedCounters;
  /** Settles once the client is connected (Redis may come later, or never: nothing waits for it). */
  connected: Promise<void>;
  close(): Promise<void>;
}

/** Reconnects at most this long apart while Redis is away. */
const MAX_RECONNECT_DELAY_MS = 2_000;

/**
 * Connects in the background: the service starts, and serves, whether Redis answers or not. While it is away no
 * command waits in an offline queue; each fails at once and the request is served without being counted.
 */
export function connectRateLimitRedis(url: string, logger: Logger, prefix?: string): RateLimitRedis {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2_000,
      reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, MAX_RECONNECT_DELAY_MS),
    },
  });
  // Every failed reconnect emits an error; the limiters' store logs the outage once, so these stay at debug.
  client.on('error', (error: unknown) => logger.debug({ err: error }, 'rate-limit Redis connection error'));
  const connected = new Promise<void>((resolve) => client.once('ready', () => resolve()));
  client.connect().catch((error: unknown) => logger.debug({ err: error }, 'rate-limit Redis connect failed'));
  return {
    connected,
    counters: {
      redis: { sendCommand: (args) => client.sendCommand(args) },
      ...(prefix !== undefined ? { prefix } : {}),
    },
    async close() {
      if (client.isOpen) await client.close();
      else client.destroy();
    },
  };
}
