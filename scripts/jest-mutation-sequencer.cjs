// Jest's order of test files for the mutation run's mutants: the files that failed in the previous run first (the
// run of the mutant before, most often of the next lines of the same source file, so likely killed by the same
// file), then the fastest first, by their times in the dry run. Jest's own order runs the slowest files first, which
// suits a full run on many workers; a mutant's run stops at its first failure (jest-bail-environment.cjs), so a
// mutant of code that every test reaches is killed sooner by many quick files than by one slow one.
// Without the dry run's times (the dry run itself, or any other Jest run), Jest's own order.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

/** Written by stryker-test-files.mjs in the sandbox, the runner's working directory. */
const DURATIONS_FILE = '.stryker-test-durations.json';

class MutationSequencer extends Sequencer {
  sort(tests) {
    let durations;
    try {
      durations = JSON.parse(readFileSync(join(process.cwd(), DURATIONS_FILE), 'utf8'));
    } catch {
      return super.sort(tests);
    }
    const time = (test) => durations[test.path] ?? Number.MAX_SAFE_INTEGER;
    return [...tests].sort((a, b) => {
      const failedA = this.hasFailed(a);
      if (failedA !== this.hasFailed(b)) return failedA ? -1 : 1;
      return time(a) - time(b);
    });
  }
}

module.exports = MutationSequencer;
module.exports.DURATIONS_FILE = DURATIONS_FILE;
