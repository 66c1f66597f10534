// Benchmark: opening Visual Genome's region_descriptions.json (~700 MB, 108k images, ~5.4M regions).
// Contenders, each in its own child process: our byte-scanner index (src/core/datasets/vg.ts), stream-json 3.x,
// and JSON.parse (which cannot read the full file: V8's string limit). Reports full-index time, time to the
// first page of 100 samples and peak RSS. Generated files are cached under bench/out/ (git-ignored).
//   node bench/open-vg/run.mjs [--images 108077] [--mid-images 30000] [--no-stream-json] [--only-mid]
//                              [--contenders ours,ours+phrases,stream-json,json-parse] [--no-mid]
// ours+phrases: our reader as the viewer opens it (OpenOptions.phraseIndex: the text filter's phrase index is built
// during the same scan).
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { generate } from './generate.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const out = path.join(root, 'bench', 'out', 'open-vg');
const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '108077' }, 'mid-images': { type: 'string', default: '30000' },
    'no-stream-json': { type: 'boolean' }, 'only-mid': { type: 'boolean' }, 'no-mid': { type: 'boolean' },
    contenders: { type: 'string', default: 'ours,ours+phrases,stream-json,json-parse' },
  },
});

// The reader exactly as shipped, bundled once for the child processes.
const bundle = path.join(out, 'vg-reader.cjs');
await esbuild.build({
  entryPoints: [path.join(root, 'src', 'core', 'datasets', 'vg.ts')], outfile: bundle, bundle: true,
  platform: 'node', target: 'node20', format: 'cjs', logLevel: 'silent',
});

async function dataset(images) {
  const dir = path.join(out, `vg-${images}`);
  const file = path.join(dir, 'region_descriptions.json');
  if (!existsSync(path.join(dir, 'image_data.json'))) {
    const t = performance.now();
    process.stderr.write(`generating ${file} (${images} images)...\n`);
    await generate(dir, { images, meanRegions: 50, seed: 1 });
    process.stderr.write(`  done in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
  }
  return file;
}

function runChild(contender, file) {
  process.stderr.write(`  ${contender} on ${path.basename(path.dirname(file))}...\n`);
  const text = execFileSync(process.execPath, ['--max-old-space-size=4096', path.join(here, 'child.mjs'), contender, file, bundle],
    { encoding: 'utf8', cwd: root, maxBuffer: 1 << 20 });
  return JSON.parse(text.trim().split('\n').pop());
}

const sizes = values['no-mid'] ? [] : [Number(values['mid-images'])];
if (!values['only-mid']) sizes.push(Number(values.images));
const rows = [];
for (const images of sizes) {
  const file = await dataset(images);
  const mb = statSync(file).size / 1e6;
  const contenders = values.contenders.split(',').filter((c) => !(values['no-stream-json'] && c === 'stream-json'));
  for (const c of contenders) rows.push({ file: `${mb.toFixed(0)} MB`, ...runChild(c, file) });
}

const s = (v) => (v === undefined ? '—' : (v / 1000).toFixed(2));
console.log(`\nopen-vg: VG-shaped region_descriptions.json (+ image_data.json), node ${process.version}, ${new Date().toISOString()}`);
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores (wall times stretch with load; CPU times less)`);
console.log('| file | contender | regions | first page of 100: wall (s) | CPU (s) | full index: wall (s) | CPU (s) | peak RSS (MB) | '
  + 'event-loop delay while indexing: p99 / max (ms) | longest 5 ms-timer gap (ms) | note |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.file} | ${r.contender} | ${r.regions?.toLocaleString('en-US') ?? '—'} | ${s(r.firstPageMs)} | ${s(r.firstPageCpuMs)} | ` +
    `${s(r.fullMs)} | ${s(r.fullCpuMs)} | ${r.maxRssMB} | ${r.loopMaxMs === undefined ? '—' : `${r.loopP99Ms} / ${r.loopMaxMs}`} | `
    + `${r.maxGapMs ?? '—'} | ${r.error ? `fails after ${s(r.atMs)} s: ${r.error}` : ''} |`);
}
for (const contender of ['ours', 'ours+phrases']) {
  const goal = rows.filter((r) => r.contender === contender).pop();
  if (!goal || goal.error) continue;
  console.log(`\ngoal, ${contender} (largest file): full index ≤ 6 s: ${s(goal.fullMs)} s ${goal.fullMs <= 6000 ? 'met' : 'NOT met'}; ` +
    `first page ≤ 0.5 s: ${s(goal.firstPageMs)} s ${goal.firstPageMs <= 500 ? 'met' : 'NOT met'}; ` +
    `peak RSS ≤ 250 MB: ${goal.maxRssMB} MB ${goal.maxRssMB <= 250 ? 'met' : 'NOT met'}`);
}
