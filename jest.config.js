// Jest runs the TypeScript sources through ts-jest (type checking is `npm run typecheck`'s job). jose ships only
// ES modules, so it is transformed too, by a transform of its own that keeps standard class fields (see the file).
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // test/mariadb/ holds what only a networked database can show (faults on the wire); the SQLite run leaves it out.
  testPathIgnorePatterns: process.env.TEST_DATABASE === 'mariadb' ? ['/node_modules/'] : ['/node_modules/', '<rootDir>/test/mariadb/'],
  transform: {
    '/node_modules/jose/.+\\.js$': '<rootDir>/scripts/jest-jose-transform.mjs',
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }],
  },
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  setupFiles: ['reflect-metadata'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 60000,
};
