// The house's import rules, checked by `npm run lint`: faces → domain → data, the HTTP layer knows no face, the
// database layer knows no configuration, and the use cases hold no SQL (their repositories do).
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'faces-apart',
      comment: 'The two faces (CoreCredit for the channels, the issuer API for the bank) never import each other.',
      severity: 'error',
      from: { path: '^src/(corecredit|issuer)/' },
      to: { path: '^src/(corecredit|issuer)/', pathNot: '^src/$1/' },
    },
    {
      name: 'http-knows-no-face',
      comment: 'The shared HTTP layer serves both faces, so it may not depend on either, nor on the use cases.',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: '^src/(corecredit|issuer|openapi|operations)/|^src/links/(?!identifiers)' },
    },
    {
      name: 'domain-knows-no-http',
      comment: 'The domain (links, operations, events) knows nothing of HTTP, of either face, or of the configuration.',
      severity: 'error',
      from: { path: '^src/(links|operations|events)/' },
      to: { path: '^src/(http|corecredit|issuer|openapi|cli)/|^src/(config|app|server)\\.ts$' },
    },
    {
      name: 'audit-below-links',
      comment: 'The audit trail records what the links use cases do; it never calls them.',
      severity: 'error',
      from: { path: '^src/operations/' },
      to: { path: '^src/links/(?!identifiers)' },
    },
    {
      name: 'db-is-the-bottom',
      comment: 'The database layer knows no configuration, no domain and no HTTP: it is handed its options.',
      severity: 'error',
      from: { path: '^src/db/' },
      to: { path: '^src/(?!db/|errors\\.ts$)' },
    },
    {
      name: 'use-cases-hold-no-sql',
      comment: 'A use case reads as the business rule; every statement lives in a repository module.',
      severity: 'error',
      from: { path: '^src/(links|operations|events)/', pathNot: '-repository\\.ts$' },
      to: { path: '^src/db/(statements|entities)\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'faces-reach-data-through-the-domain',
      comment: 'A face calls use cases; only their types (the Database it passes along) come from db.',
      severity: 'error',
      from: { path: '^src/(corecredit|issuer)/' },
      to: { path: '^src/db/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'only-the-process-reads-config',
      comment: 'The environment is read once, by the entry points; everything else is handed what it needs.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(server|app|config|dev-secret)\\.ts$|^src/cli/' },
      to: { path: '^src/config\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^src/db/migrations/' },
  },
};
