// What the import-rule tests read: the TypeScript files under a folder and the module specifiers each imports
// (test/unit/shared/layer.test.ts: the webview and src/shared; test/unit/tasks/imports.test.ts: src/tasks).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

export function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every module specifier a file imports (import … from '…', import '…', export … from '…'). */
export function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = text.matchAll(/^\s*(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm);
  return [...found].map((m) => m[1] ?? m[2]);
}
