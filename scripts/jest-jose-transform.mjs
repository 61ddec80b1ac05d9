// Jest transform for jose, which ships only ES modules: TypeScript's transpiler to CommonJS, keeping standard class
// fields. Not ts-jest: ts-jest keeps one configuration per Jest project, so the project's useDefineForClassFields:
// false would apply, and jose's error classes (super() inside a comma expression) would then run their field
// initialisers before super() and throw a ReferenceError: every expired, not-yet-valid, iss or aud failure would
// surface as "token invalid".
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import ts from 'typescript';

const compilerOptions = {
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2022,
  allowJs: true,
  useDefineForClassFields: true,
  inlineSourceMap: true,
  inlineSources: true,
};
const self = readFileSync(new URL(import.meta.url), 'utf8');

export default {
  getCacheKey(source, path) {
    return createHash('sha256').update(self).update(ts.version).update(path).update(source).digest('hex');
  },
  process(source, path) {
    return { code: ts.transpileModule(source, { compilerOptions, fileName: path }).outputText };
  },
};
