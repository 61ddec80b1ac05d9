// Mutation testing of the core (StrykerJS): `npm run test:mutation`, which runs it on SQLite, or on MariaDB when
// TEST_MARIADB_URL is set (scripts/test-mutation.mjs). Too slow for CI; the reports go to reports/mutation/ (ignored)
// and the scores to bench/results/MUTATION.md.
//
// The core is what decides what a user sees and what the database holds: the domain (links, operations, events)
// and its repositories, the HTTP layer's auth, validation and idempotency, the database layer (transactions, the
// gate, deadlines, retries, the classification of driver errors, the statements helpers) and the DTOs of both faces.
// Left out: wiring (app.ts, server.ts, routes, openapi builders), entities and migrations (declarations that the
// schema test checks), configuration (config.test.ts), and the delivery worker, whose timing-driven paths the
// suite cannot run without timed tests.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// jest.config.js picks the test files by TEST_DATABASE (scripts/test-mutation.mjs sets it).
const jestConfig = createRequire(import.meta.url)('./jest.config.js');

/**
 * Left out of the mutation run: the fuzzers draw a new seed each run, so a mutant would be killed or not by chance
 * (and they dominate the time of every mutant); the tests that start the service as a process of its own (startup,
 * shutdown, quickstart) and the browser test report no coverage to Stryker, which runs them for nothing; the Redis
 * suite needs a Redis the run does not have.
 */
const NOT_IN_MUTATION_RUN = [
  '<rootDir>/test/fuzz/',
  '<rootDir>/test/docs-browser\\.test\\.ts$',
  '<rootDir>/test/(startup|shutdown|quickstart)\\.test\\.ts$',
  '<rootDir>/test/rate-limit-redis\\.test\\.ts$',
];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  // Stryker's jest runner, giving each mutant only the test files of the tests that cover it (see the file).
  plugins: ['@stryker-mutator/*', './scripts/stryker-test-files.mjs'],
  testRunner: 'jest-files',
  // Each mutant runs only the tests that reached it in the dry run.
  coverageAnalysis: 'perTest',
  jest: {
    projectType: 'custom',
    configFile: 'jest.config.js',
    // Stryker asks Jest for the tests related to the mutated files. Jest's roots include src/ (jest.config.js), so
    // that files reached only through createApp are found too.
    enableFindRelatedTests: true,
    config: {
      ...jestConfig,
      testPathIgnorePatterns: [...jestConfig.testPathIgnorePatterns, ...NOT_IN_MUTATION_RUN],
      // On a Galera cluster (TEST_GALERA=1, scripts/test-mutation.mjs), only its own suite: the rest of the suite is
      // measured on MariaDB.
      ...(process.env.TEST_DATABASE === 'galera' ? { testMatch: ['<rootDir>/test/galera/**/*.test.ts'] } : {}),
      // Skips the rest of a mutant's tests once one has failed (see the file). An absolute path: Stryker loads it
      // itself when it wraps the environment, without Jest's <rootDir>.
      testEnvironment: fileURLToPath(new URL('./scripts/jest-bail-environment.cjs', import.meta.url)),
      // The files that killed the mutant before first, then the quickest (see the file).
      testSequencer: fileURLToPath(new URL('./scripts/jest-mutation-sequencer.cjs', import.meta.url)),
    },
  },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: [
    'src/links/**/*.ts',
    'src/operations/**/*.ts',
    'src/events/events.ts',
    'src/events/feed.ts',
    'src/events/outbox-repository.ts',
    'src/events/retention.ts',
    'src/events/url-policy.ts',
    'src/events/webhook-repository.ts',
    'src/events/webhooks.ts',
    'src/http/auth.ts',
    'src/http/validation.ts',
    'src/http/idempotency.ts',
    'src/http/idempotency-store.ts',
    'src/db/database.ts',
    'src/db/gate.ts',
    'src/db/deadline.ts',
    'src/db/retry.ts',
    'src/db/driver-errors.ts',
    'src/db/statements.ts',
    'src/corecredit/dto.ts',
    'src/issuer/dto.ts',
  ],
  // Two cores shared with other work: one test process at a time.
  concurrency: 1,
  // A mutant's time limit is twice its tests' time, plus the dry run's overhead (loading and building every test
  // file's app: tens of seconds), plus this; the overhead alone is many times what the few files of one mutant need,
  // so a mutant that hangs is a timeout after seconds, not after a minute.
  timeoutMS: 5000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 20,
  reporters: ['html', 'json', 'clear-text', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  ignorePatterns: ['dist', 'coverage', 'reports', 'bench/results', 'data', '*.sqlite', '*.sqlite-*'],
};
