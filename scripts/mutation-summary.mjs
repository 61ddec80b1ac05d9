// Prints the rows of bench/results/MUTATION.md's table for the last mutation run (reports/mutation/mutation.json),
// and its survivors, so that the summary is copied from the report rather than retyped.
// Usage: node scripts/mutation-summary.mjs [report.json] [database] [commit the run measured, default HEAD]
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { relative } from 'node:path';

const path = process.argv[2] ?? 'reports/mutation/mutation.json';
const database = process.argv[3] ?? (process.env.TEST_MARIADB_URL ? 'MariaDB' : 'SQLite');
const report = JSON.parse(readFileSync(path, 'utf8'));
const date = statSync(path).mtime.toISOString().slice(0, 10);
const commit = process.argv[4] ?? execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();

const survivors = [];
for (const [file, result] of Object.entries(report.files)) {
  const count = (status) => result.mutants.filter((m) => m.status === status).length;
  const [killed, survived, noCoverage, timeout] = ['Killed', 'Survived', 'NoCoverage', 'Timeout'].map(count);
  const valid = killed + survived + noCoverage + timeout;
  const score = valid === 0 ? 'n/a' : `${((100 * (killed + timeout)) / valid).toFixed(1)} %`;
  const name = relative(process.cwd(), file);
  console.log(
    `| ${name} | ${killed} | ${survived} | ${noCoverage} | ${timeout} | ${score} | ${database} | ${date} | ${commit} |`,
  );
  const lines = result.source.split('\n');
  for (const m of result.mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage')) {
    const line = m.location.start.line;
    survivors.push(`${name}:${line} ${m.status} ${m.mutatorName} → ${m.replacement ?? ''} | ${lines[line - 1].trim()}`);
  }
}
if (survivors.length > 0) console.log(`\nSurvivors and mutants without coverage:\n${survivors.join('\n')}`);
