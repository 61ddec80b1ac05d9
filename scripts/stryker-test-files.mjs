// A Stryker test runner, `jest-files`: Stryker's own jest runner, with each mutant run given only the test files that
// hold the tests covering the mutant. The jest runner alone picks files with `--findRelatedTests`, which for a file
// every request passes through (the database layer, auth, validation) is every test file of the suite: each of them
// is loaded and its app built for every mutant, only for its tests to be skipped by the name filter.
// The dry run records which file each test is in, in the sandbox (a file, since Stryker restarts a worker whose
// mutant timed out); a mutant covered by a test the record does not know runs the way the jest runner would.
// Each mutant run is named in MUTANT_RUN for jest-bail-environment.cjs, which skips the rest of a run once a test
// has failed (unless Stryker's disableBail asks for every test's result), and the dry run's time of each file is
// recorded for jest-mutation-sequencer.cjs, which runs a mutant's quick files first.
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commonTokens, declareFactoryPlugin, PluginKind, tokens } from '@stryker-mutator/api/plugin';
import { strykerPlugins as jestRunnerPlugins } from '@stryker-mutator/jest-runner';
import { createRequire } from 'node:module';

const { DURATIONS_FILE } = createRequire(import.meta.url)('./jest-mutation-sequencer.cjs');

const jestRunner = jestRunnerPlugins.find((plugin) => plugin.name === 'jest');
// Every worker runs in the sandbox, so a path under its working directory is the same file for all of them. Read
// when a run starts, not when the module loads: a worker changes into the sandbox after loading its plugins.
const recordPath = () => join(process.cwd(), '.stryker-test-files.json');

function jestFilesRunnerFactory(injector) {
  const runner = jestRunner.factory(injector);
  const dryRun = runner.dryRun.bind(runner);
  const mutantRun = runner.mutantRun.bind(runner);
  const run = runner.run.bind(runner);
  /** @type {Record<string, string[]> | undefined} */
  let filesOfTest;
  /** @type {string[] | undefined} */
  let testFilter;

  runner.dryRun = async (options) => {
    const result = await dryRun(options);
    if (result.status === 'complete') {
      const record = {};
      for (const test of result.tests) {
        if (test.fileName === undefined) continue;
        const files = (record[test.id] ??= []);
        if (!files.includes(test.fileName)) files.push(test.fileName);
      }
      writeFileSync(recordPath(), JSON.stringify(record));
      filesOfTest = record;
      // Each file's time, for the order of the mutant runs' files (jest-mutation-sequencer.cjs).
      const durations = {};
      for (const test of result.tests) {
        if (test.fileName !== undefined) durations[test.fileName] = (durations[test.fileName] ?? 0) + test.timeSpentMs;
      }
      writeFileSync(join(process.cwd(), DURATIONS_FILE), JSON.stringify(durations));
    }
    return result;
  };
  runner.mutantRun = async (options) => {
    testFilter = options.testFilter;
    if (!options.disableBail) process.env.MUTANT_RUN = randomUUID();
    try {
      return await mutantRun(options);
    } finally {
      testFilter = undefined;
      delete process.env.MUTANT_RUN;
    }
  };
  runner.run = (settings) => {
    if (testFilter !== undefined && testFilter.length > 0) {
      filesOfTest ??= JSON.parse(readFileSync(recordPath(), 'utf8'));
      const files = testFilter.map((id) => filesOfTest[id]);
      if (files.every((found) => found !== undefined)) {
        // Jest reads each file as a pattern of paths.
        const patterns = [...new Set(files.flat())].map((file) => file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
        return run({ ...settings, testFiles: patterns });
      }
    }
    return run(settings);
  };
  return runner;
}
jestFilesRunnerFactory.inject = tokens(commonTokens.injector);

export const strykerPlugins = [declareFactoryPlugin(PluginKind.TestRunner, 'jest-files', jestFilesRunnerFactory)];
