import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERRORS } from '../src/errors';

describe('the error catalogue', () => {
  const doc = readFileSync(join(__dirname, '..', 'docs', 'error-codes.md'), 'utf8');
  const entries = Object.entries(ERRORS);

  it('when codes are assigned, then each cause has its own code', () => {
    const codes = entries.map(([, entry]) => entry.code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it.each(entries)('when %s is thrown, then docs/error-codes.md documents its code, status and name', (name, entry) => {
    expect(doc).toContain(`| ${entry.code} | ${entry.status} | ${name} |`);
  });

  it('when the docs list a code, then the service defines it', () => {
    const documented = [...doc.matchAll(/^\| (ERR\d{5}) \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(entries.map(([, entry]) => entry.code).sort());
  });
});
