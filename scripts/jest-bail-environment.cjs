// Jest's node environment for the mutation run, with the bail Jest itself cannot give Stryker (its `bail` ends the
// process, so Stryker turns it off): once a test of a mutant's run has failed, the mutant is killed, and every test and
// describe block that has not started yet is skipped, in this file and in the files after it. A mutant of code every
// test's set-up goes through is covered by hundreds of tests; without this, all of them run after the first failure.
//
// The runner (stryker-test-files.mjs) names each mutant run in MUTANT_RUN; without it (the dry run, which must run
// every test to learn what covers what, and any ordinary Jest run) nothing is skipped. Jest runs the files of one
// run in the runner's own process (runInBand), so process.env is where a failure is seen by the files after it.
const { TestEnvironment } = require('jest-environment-node');

class BailEnvironment extends TestEnvironment {
  /** @param {import('jest-circus').Event} event */
  async handleTestEvent(event) {
    const run = process.env.MUTANT_RUN;
    if (run === undefined) return;
    // A test that ran and failed, by its own code or a hook's: what Jest reports as a failure, and so what Stryker
    // counts as killing the mutant. Not any hook's failure: a beforeAll of a block whose tests the name filter
    // leaves out fails no reported test, and taking it for one skipped the very tests that would have failed.
    if (event.name === 'test_done' && event.test.errors.length > 0) {
      process.env.MUTANT_FAILED_RUN = run;
    } else if (process.env.MUTANT_FAILED_RUN === run) {
      // jest-circus reads `mode` right after these events: a skipped block runs neither its beforeAll nor its
      // afterAll hooks, and a skipped test none of its own.
      if (event.name === 'run_describe_start') event.describeBlock.mode = 'skip';
      else if (event.name === 'test_start') event.test.mode = 'skip';
    }
  }
}

module.exports = BailEnvironment;
