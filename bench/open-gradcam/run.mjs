// bench/open-gradcam: open → first GradCAM on screen, in the real extension host (code-server's VS Code + Chromium
// through scripts/vscode-test.mjs --tests), for the bundled VG sample and for the 695 MB VG file of bench/open-vg.
// Each pass is a fresh VS Code window that opens the files one after another: the first open is cold (extension not
// activated, no inference engine), the later ones warm (engine loaded, other images). The passes of a repetition
// rotate the order, so each file is opened cold once per repetition. Besides the two files of the issue, a 20-image
// VG file (the large file's first 20 images) gives the sample a second file with other images to be warm after.
//   node bench/open-gradcam/run.mjs [--reps 3] [--no-large] [--no-build] [--settle 5]
// Writes bench/out/open-gradcam/results.json and prints a Markdown table. A benchmark, not a test: nothing here fails
// on a slow number.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import sharp from 'sharp';
import { generate } from '../open-vg/generate.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const out = path.join(root, 'bench', 'out', 'open-gradcam');
const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' }, 'no-large': { type: 'boolean' }, 'no-build': { type: 'boolean' },
    settle: { type: 'string', default: '5' },
  },
});
const reps = Number(values.reps);
mkdirSync(out, { recursive: true });

const sample = {
  label: 'bundled VG sample (24 images, 230 regions)', file: path.join(root, 'samples', 'synthetic', 'region_descriptions.json'),
  viewType: 'amc.annotationViewer',
};

/**
 * A VG file of `images` images as bench/open-vg generates it (the 695 MB one is bench/open-vg's cache; same seed, so
 * a smaller file holds the large one's first images), with images in place for its first 20 samples.
 */
async function vgFile(dir, images) {
  const file = path.join(dir, 'region_descriptions.json');
  if (!existsSync(path.join(dir, 'image_data.json'))) {
    process.stderr.write(`generating ${path.relative(root, file)} (${images} images; bench/open-vg/generate.mjs)...\n`);
    await generate(dir, { images, meanRegions: 50, seed: 1 });
  }
  // Its first images at the sizes image_data.json gives, drawn from the bundled scenes but resized, so that no
  // image has the bytes of a sample image (the engine caches image embeddings by content).
  const imageRoot = path.join(out, 'vg-images');
  const head = JSON.parse(readFileSync(path.join(dir, 'image_data.json'), 'utf8')).slice(0, 20);
  for (const { image_id: id, width, height } of head) {
    const target = path.join(imageRoot, 'VG_100K', `${id}.jpg`);
    if (existsSync(target)) continue;
    mkdirSync(path.dirname(target), { recursive: true });
    const source = path.join(root, 'samples', 'synthetic', 'VG_100K', `${((id - 1) % 24) + 1}.jpg`);
    await sharp(source).resize(width, height, { fit: 'fill' }).jpeg({ quality: 90 }).toFile(target);
  }
  return { file, viewType: 'amc.annotationViewer', imageRoot };
}

const files = [
  sample,
  { label: '20-image VG file (second file)', ...await vgFile(path.join(out, 'vg-20'), 20) },
  ...(values['no-large'] ? [] : [{
    label: '695 MB VG file (108,077 images, 5.4 M regions)',
    ...await vgFile(path.join(root, 'bench', 'out', 'open-vg', 'vg-108077'), 108077),
  }]),
];
if (!values['no-build']) {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const hostEntry = path.join(out, 'host.js');
await esbuild.build({ entryPoints: [path.join(here, 'host.ts')], outfile: hostEntry, bundle: true, platform: 'node', target: 'node20',
  format: 'cjs', external: ['vscode'], logLevel: 'warning' });

const measurements = [];
for (let rep = 0; rep < reps; rep++) {
  for (let first = 0; first < files.length; first++) {
    const opens = [...files.slice(first), ...files.slice(0, first)];
    const resultFile = path.join(out, `pass-${rep}-${first}.json`);
    rmSync(resultFile, { force: true });
    const plan = { out: resultFile, settleSeconds: Number(values.settle), opens };
    process.stderr.write(`pass ${rep + 1}/${reps}: ${opens.map((o) => path.basename(path.dirname(o.file))).join(' then ')}\n`);
    const harness = [path.join(root, 'scripts', 'vscode-test.mjs'), '--no-build', '--tests', hostEntry, '--timeout', '1200'];
    const env = { ...process.env, AMC_BENCH_PLAN: JSON.stringify(plan) };
    const r = spawnSync(process.execPath, harness, { cwd: root, encoding: 'utf8', env, maxBuffer: 64 << 20 });
    if (r.status !== 0 || !existsSync(resultFile)) {
      process.stderr.write(r.stdout.slice(-4000) + r.stderr.slice(-4000));
      throw new Error(`pass ${rep + 1} (${opens[0].label} first) failed (exit ${r.status})`);
    }
    for (const m of JSON.parse(readFileSync(resultFile, 'utf8'))) measurements.push({ ...m, rep });
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sec = (ms) => (ms / 1000).toFixed(2);
const rows = [];
for (const f of files) {
  for (const start of ['cold', 'warm']) {
    const ms = measurements.filter((m) => m.file === f.file && m.start === start);
    if (!ms.length) continue;
    const wall = ms.map((m) => m.openToPaintedMs);
    rows.push({
      file: f.label, start, n: ms.length, medianS: sec(median(wall)), minS: sec(Math.min(...wall)), maxS: sec(Math.max(...wall)),
      cpuS: sec(median(ms.map((m) => m.hostCpuMs))), openWithS: sec(median(ms.map((m) => m.openWithReturnedMs))),
      sessionS: sec(median(ms.map((m) => m.sessionFirstShownMs ?? NaN))), load: median(ms.map((m) => m.loadavg[0])).toFixed(1),
    });
  }
}
const result = { when: new Date().toISOString(), node: process.version, cpus: os.cpus().length, measurements, rows };
writeFileSync(path.join(out, 'results.json'), JSON.stringify(result, null, 1));
console.log('| file | start | n | open → GradCAM painted: median (s) | min | max | host CPU, median (s) '
  + '| openWith returned (s) | viewer firstShownMs (s) | load avg |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.file} | ${r.start} | ${r.n} | ${r.medianS} | ${r.minS} | ${r.maxS} | ${r.cpuS} | ${r.openWithS} | ${r.sessionS} `
    + `| ${r.load} |`);
}
