// Writes the service's OpenAPI document to a file: the path given, or docs/openapi.json (the committed copy).
import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { openApiDocument } from '../src/openapi/document';

/** The committed file's exact text: the test that compares it with the code's document uses the same. */
export function serializeOpenApiDocument(): string {
  return `${JSON.stringify(openApiDocument(), null, 2)}\n`;
}

if (require.main === module) {
  const target = resolve(process.argv[2] ?? 'docs/openapi.json');
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, serializeOpenApiDocument());
  console.log(`OpenAPI document written to ${target}`);
}
