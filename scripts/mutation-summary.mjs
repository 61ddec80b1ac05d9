// Prints the rows of bench/results/MUTATION.md's table for the last mutation run (reports/mutation/mutation.json),
// and its survivors, so that the summary is copied from the report rather than retyped.
// Usage: node scripts/mutation-summary.mjs [report.json[,report.json…]] [database] [commit the run measured, HEAD]
//
// Several reports (comma-separated) of runs of the same sources on different suites, e.g. MariaDB and a Galera
// cluster, are read as one run: a mutant counts as killed when any of them killed it (CI runs every suite).
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { relative } from 'node:path';

const paths = (process.argv[2] ?? 'reports/mutation/mutation.json').split(',');
const database = process.argv[3] ?? (process.env.TEST_MARIADB_URL ? 'MariaDB' : 'SQLite');
const reports = paths.map((path) => JSON.parse(readFileSync(path, 'utf8')));
const date = paths
  .map((path) => statSync(path).mtime.toISOString().slice(0, 10))
  .sort()
  .at(-1);
const commit = process.argv[4] ?? execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();

/** The better of two results of one mutant: detected over not, and run over not covered. */
const RANK = ['Killed', 'Timeout', 'Survived', 'NoCoverage'];
const better = (a, b) => {
  const rank = (status) => (RANK.includes(status) ? RANK.indexOf(status) : RANK.length);
  return rank(b.status) < rank(a.status) ? b : a;
};

const files = new Map();
for (const report of reports) {
  for (const [file, result] of Object.entries(report.files)) {
    const merged = files.get(file) ?? { source: result.source, mutants: new Map() };
    for (const mutant of result.mutants) {
      const { start, end } = mutant.location;
      const key = [start.line, start.column, end.line, end.column, mutant.mutatorName, mutant.replacement].join(':');
      const known = merged.mutants.get(key);
      merged.mutants.set(key, known === undefined ? mutant : better(known, mutant));
    }
    files.set(file, merged);
  }
}

const survivors = [];
for (const [file, result] of files) {
  const mutants = [...result.mutants.values()];
  const count = (status) => mutants.filter((m) => m.status === status).length;
  const [killed, survived, noCoverage, timeout] = ['Killed', 'Survived', 'NoCoverage', 'Timeout'].map(count);
  const valid = killed + survived + noCoverage + timeout;
  const score = valid === 0 ? 'n/a' : `${((100 * (killed + timeout)) / valid).toFixed(1)} %`;
  const name = relative(process.cwd(), file);
  console.log(
    `| ${name} | ${killed} | ${survived} | ${noCoverage} | ${timeout} | ${score} | ${database} | ${date} | ${commit} |`,
  );
  const lines = result.source.split('\n');
  for (const m of mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage')) {
    const line = m.location.start.line;
    survivors.push(`${name}:${line} ${m.status} ${m.mutatorName} → ${m.replacement ?? ''} | ${lines[line - 1].trim()}`);
  }
}
if (survivors.length > 0) console.log(`\nSurvivors and mutants without coverage:\n${survivors.join('\n')}`);
