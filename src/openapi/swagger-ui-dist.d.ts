// Types for the one module of swagger-ui-dist the service loads; the package ships none.
declare module 'swagger-ui-dist/absolute-path.js' {
  /** The package's folder, which holds Swagger UI's browser files. */
  function getAbsoluteFSPath(): string;
  export = getAbsoluteFSPath;
}
