// Collects everything a logger writes, for tests that assert on the service's log lines.
import { Writable } from 'node:stream';

export type LogLine = Record<string, unknown>;

/** A stream to hand to createLogger, and what it received as raw text or as parsed JSON lines. */
export function logCollector(): { stream: Writable; text(): string; lines(): LogLine[] } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  return {
    stream,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as LogLine),
  };
}
