// Shared start of the command-line tools: decorator metadata for the entities, and readable failures.
import 'reflect-metadata';

export function fail(message: string): never {
  console.error(message);
  process.exit(1);
}
