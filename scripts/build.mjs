// The one build script: extension host, inference worker, CLI and webview, all through esbuild.
// Type-checking is separate (`npm run typecheck` = tsc --noEmit).
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

// Native modules and the VS Code API are never bundled.
const nodeExternal = ['vscode', 'onnxruntime-node', 'sharp'];

const nodeCommon = {
  bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: nodeExternal,
  sourcemap: !production, minify: production, logLevel: 'info',
};

const targets = [
  { ...nodeCommon, entryPoints: ['src/extension.ts'], outfile: 'out/extension.js' },
  { ...nodeCommon, entryPoints: ['src/model/worker.ts'], outfile: 'out/worker.js' },
  { ...nodeCommon, entryPoints: ['src/core/reportWorker.ts'], outfile: 'out/reportWorker.js' },
  { ...nodeCommon, entryPoints: ['src/cli/main.ts'], outfile: 'out/cli.js', banner: { js: '#!/usr/bin/env node' } },
  { bundle: true, platform: 'browser', target: 'chrome114', format: 'iife', entryPoints: ['webview/main.ts'],
    outfile: 'out/webview.js', sourcemap: !production, minify: production, logLevel: 'info' },
];

// While the project is being built up an entry may not exist yet; say so rather than fail.
const present = targets.filter((t) => {
  const ok = existsSync(t.entryPoints[0]);
  if (!ok) console.warn(`build: skipping ${t.entryPoints[0]} (not present)`);
  return ok;
});

if (watch) {
  for (const t of present) await (await esbuild.context(t)).watch();
} else {
  await Promise.all(present.map((t) => esbuild.build(t)));
}
