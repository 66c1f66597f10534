// Where the bundled files are: the package root (models/, samples/) from the running bundle or from source.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { defaultModelDir } from './engine';

/** The folder holding this package's package.json, found by walking up from `from` (out/ or src/...). */
export function packageRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'amc-grounding-lens') return dir;
      } catch { /* keep walking */ }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the amc-grounding-lens package root above ${from}`);
    dir = up;
  }
}

/** --model DIR, else $AMC_MODEL, else the bundled default model. */
export function resolveModelDir(explicit?: string): string {
  if (explicit) return path.resolve(explicit);
  if (process.env.AMC_MODEL) return path.resolve(process.env.AMC_MODEL);
  return defaultModelDir(packageRoot());
}
