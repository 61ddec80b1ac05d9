// The document's longer prose, kept as Markdown in docs/api/ where it reads as documentation rather than as code.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const PROSE_FOLDER = join('docs', 'api');

/** The package root: the first folder above this file with docs/api, from src/ (tsx, ts-jest) and dist/src/ alike. */
function proseFolder(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, PROSE_FOLDER);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`${PROSE_FOLDER} not found above ${__dirname}`);
  }
}

/**
 * docs/api/<name>.md without its final newline, each `{{KEY}}` replaced by its value: the values come from the code
 * (codes, limits, tables), so the prose cannot drift from it. A placeholder without a value, or a value without a
 * placeholder, is an error.
 */
export function prose(name: string, values: Record<string, string> = {}): string {
  const text = readFileSync(join(proseFolder(), `${name}.md`), 'utf8').replace(/\n$/, '');
  const used = new Set<string>();
  const out = text.replace(/\{\{([A-Z_]+)\}\}/g, (_match, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`docs/api/${name}.md: no value for {{${key}}}`);
    used.add(key);
    return value;
  });
  const unused = Object.keys(values).filter((key) => !used.has(key));
  if (unused.length > 0) throw new Error(`docs/api/${name}.md: no {{${unused.join('}}, {{')}}} placeholder`);
  return out;
}
