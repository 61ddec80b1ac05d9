// Jest runs the TypeScript sources through ts-jest (type checking is `npm run typecheck`'s job). jose ships only
// ES modules, so it is transformed too, by a transform of its own that keeps standard class fields (see the file).
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // src/ is a root too so that `--findRelatedTests src/...` (the mutation run's) finds the tests that reach a file
  // only through createApp: Jest follows imports only between files under its roots.
  roots: ['<rootDir>/test', '<rootDir>/src'],
  testMatch: ['**/*.test.ts'],
  // test/mariadb/ holds what only a networked database can show (faults on the wire); the SQLite run leaves it out.
  // The docs page never reads the database, so its browser test runs once, on SQLite; a second chromium run shows nothing new.
  // test/galera/ needs the three-node cluster of scripts/galera-local.sh: scripts/test-galera.mjs runs it alone
  // (TEST_DATABASE=galera), and every other run leaves it out.
  testPathIgnorePatterns:
    process.env.TEST_DATABASE === 'galera'
      ? ['/node_modules/']
      : process.env.TEST_DATABASE === 'mariadb'
        ? ['/node_modules/', '<rootDir>/test/docs-browser\\.test\\.ts$', '<rootDir>/test/galera/']
        : ['/node_modules/', '<rootDir>/test/mariadb/', '<rootDir>/test/galera/'],
  transform: {
    '/node_modules/jose/.+\\.js$': '<rootDir>/scripts/jest-jose-transform.mjs',
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }],
  },
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  setupFiles: ['reflect-metadata'],
  // Every response is checked against the OpenAPI document by test/helpers/api.ts, the suite's only way to supertest
  // (eslint enforces that), so the document cannot drift from the service; no setup file patches supertest.
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 60000,
};
