// bench: `amc insights` breakdowns over a generated 1 M-query evaluation report, time and peak memory.
//   npx tsx bench/insights/run.ts [--queries 1000000] [--report bench/out/insights-report.json] [--keep]
// Generates the report in exactly the layout `amc eval --out` writes (JSON.stringify(report, null, 1), every
// EvalRow field), unless it exists with that many queries; then runs the bundled CLI
// (`node out/cli.js insights REPORT --json`, built by scripts/build.mjs) and measure.ts (the read and the breakdowns
// timed apart) under /usr/bin/time -v, three times each: wall time and peak RSS of the whole process.
import { spawnSync } from 'node:child_process';
import * as esbuild from 'esbuild';
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { isHit } from '../../src/core/math/pointing';
import type { EvalReport, EvalRow } from '../../src/model/evaluate';

const ROOT = path.resolve(__dirname, '..', '..');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COLOURS = ['red', 'blue', 'green', 'yellow', 'white', 'black', 'brown', 'grey', 'orange', 'purple', 'pink'];
const SIZES = ['small', 'large', 'tall', 'little', 'big', 'long', 'short', 'old', 'young', 'wooden'];
const NOUNS = Array.from({ length: 1500 }, (_, i) => `thing${i.toString(36)}`).concat(
  ['man', 'woman', 'dog', 'cat', 'car', 'tree', 'shirt', 'hat', 'sign', 'building', 'window', 'table', 'chair', 'child']);
const RELATIONS = ['on', 'near', 'behind', 'next to', 'in front of', 'under', 'left of', 'right of', 'holding', 'wearing'];

/** Visual-Genome-like: ~10 queries per image, phrases of 1-12 words, 1-3 boxes, 0.5 % rows failing. */
async function generate(file: string, queries: number): Promise<void> {
  const rand = rng(42);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)];
  const header: EvalReport = {
    schema: 'amc-eval-report', schemaVersion: 1, writer: 'amc eval',
    model: { name: 'amc-small-synthetic', cardSha256: '0'.repeat(64), checkpointSha256: null, dir: '/models/amc-small-synthetic', provider: 'cpu' },
    dataset: { file: 'region_descriptions.json', size: 0, format: 'vg-regions' },
    file: '/data/vg/region_descriptions.json', format: 'vg-regions',
    split: null, started: new Date(0).toISOString(), finished: new Date(0).toISOString(), interrupted: false,
    durationS: 1, samplesPerS: queries, counts: { queries, evaluated: queries, errors: 0, notScored: 0, skippedNoBox: 0 },
    notScored: [], summary: 'generated for the bench (the header counts are not used)', accuracy: [], worstRule: 'misses first', worst: [], samples: [],
  };
  const text = JSON.stringify(header, null, 1);
  const [before, after] = text.split(' "samples": []');
  const out = createWriteStream(file);
  const write = (s: string): Promise<void> => new Promise((resolve) => { if (out.write(s)) resolve(); else out.once('drain', resolve); });
  await write(`${before} "samples": [\n`);
  let image = 0, left = 0, width = 0, height = 0, split = 'train';
  let chunk = '';
  for (let i = 0; i < queries; i++) {
    if (left === 0) {
      image++; left = 4 + Math.floor(rand() * 13);
      width = 300 + Math.floor(rand() * 340); height = 240 + Math.floor(rand() * 260);
      split = rand() < 0.8 ? 'train' : rand() < 0.5 ? 'val' : 'test';
    }
    left--;
    const words: string[] = [];
    const form = rand();
    if (form < 0.15) words.push(pick(NOUNS));
    else {
      words.push('the');
      if (rand() < 0.6) words.push(pick(SIZES));
      if (rand() < 0.7) words.push(pick(COLOURS));
      words.push(pick(NOUNS));
      if (form > 0.6) words.push(...pick(RELATIONS).split(' '), 'the', pick(NOUNS));
    }
    const boxes: [number, number, number, number][] = [];
    const nBoxes = rand() < 0.8 ? 1 : rand() < 0.7 ? 2 : 3;
    for (let b = 0; b < nBoxes; b++) {
      const w = Math.max(2, Math.round(width * rand() * rand())), h = Math.max(2, Math.round(height * rand() * rand()));
      const x = Math.floor(rand() * (width - w)), y = Math.floor(rand() * (height - h));
      boxes.push([x, y, x + w, y + h]);
    }
    const row: EvalRow = {
      index: i, id: `${image}:${i}`, split, image: `/data/vg/VG_100K/${1000000 + image}.jpg`,
      phrase: words.join(' '), boxes,
    };
    if (rand() < 0.005) {
      row.error = `/data/vg/VG_100K/${1000000 + image}.jpg: image file not found`;
      row.reason = 'image file not found';
    }
    else {
      const b = boxes[0];
      const point = rand() < 0.55
        ? {
          x: Math.floor(b[0] + 1 + rand() * Math.max(0, b[2] - b[0] - 2)),
          y: Math.floor(b[1] + 1 + rand() * Math.max(0, b[3] - b[1] - 2)),
        }
        : { x: Math.floor(rand() * width), y: Math.floor(rand() * height) };
      const lMax = rand() * 1.2;
      Object.assign(row, {
        width, height, hit: isHit(point, boxes), point, score: rand() * 8 - 4, itmProbability: rand(),
        lMean: rand() * 0.4, lMax, total: 0.2 * rand() * 0.4 + 0.8 * lMax, maskEmpty: false,
      });
    }
    chunk += `${i ? ',\n' : ''}${JSON.stringify(row, null, 1).replace(/^/gm, '  ')}`;
    if (chunk.length > 1 << 20) { await write(chunk); chunk = ''; }
  }
  await write(`${chunk}\n ]${after}\n`);
  await new Promise<void>((resolve) => out.end(resolve));
}

/** A bare loop over the report's bytes (count the quotes), ns per byte: how fast this machine is right now. */
function calibrate(file: string): number {
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(8 << 20);
  let quotes = 0, total = 0;
  const t0 = performance.now();
  for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) {
    for (let i = 0; i < n; i++) if (buf[i] === 0x22) quotes++;
    total += n;
  }
  closeSync(fd);
  return quotes >= 0 ? ((performance.now() - t0) * 1e6) / total : NaN;
}

function timeV(cmd: string[]): { wallS: number; userS: number; maxRssMB: number; code: number | null; stderr: string } {
  const r = spawnSync('/usr/bin/time', ['-v', ...cmd], { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 30 });
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr);
  const wallS = wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : NaN;
  const userS = Number(/User time \(seconds\): ([\d.]+)/.exec(r.stderr)?.[1] ?? NaN);
  return { wallS, userS, maxRssMB: rss, code: r.status, stderr: r.stderr };
}

async function main(): Promise<void> {
  const queries = Number(arg('queries', '1000000'));
  const report = path.resolve(arg('report', path.join(ROOT, 'bench', 'out', 'insights-report.json')));
  mkdirSync(path.dirname(report), { recursive: true });
  const stamp = `${report}.queries`;
  // The stamp names the generator's version too (v2: error rows carry their "reason", as the schema asks).
  const want = `${queries} v2`;
  if (!existsSync(report) || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== want) {
    const t0 = Date.now();
    await generate(report, queries);
    writeFileSync(stamp, want);
    console.log(`generated ${queries} queries in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const bytes = statSync(report).size;
  console.log(`report ${report}: ${(bytes / 2 ** 20).toFixed(0)} MB, ${queries} queries; ${os.cpus().length} cores, load ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}`);
  const measure = path.join(ROOT, 'bench', 'out', 'insights-measure.js');
  await esbuild.build({ entryPoints: [path.join(__dirname, 'measure.ts')], outfile: measure, bundle: true, platform: 'node',
    target: 'node20', format: 'cjs', logLevel: 'silent' });
  const cli = path.join(ROOT, 'out', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} missing: run node scripts/build.mjs first`);
  for (let run = 1; run <= 3; run++) {
    console.log(`run ${run}: bare byte loop ${calibrate(report).toFixed(2)} ns/byte, load ${os.loadavg()[0].toFixed(1)}`);
    // One thread, then the default (the machine's cores, at most 4): per-thread CPU from /proc (measure.ts).
    for (const threads of ['1', String(Math.min(4, os.availableParallelism()))]) {
      const r = timeV([process.execPath, measure, report, '--threads', threads]);
      if (r.code !== 0) throw new Error(`measure failed: ${r.stderr}`);
      const line = /read [^\n]*/.exec(r.stderr)?.[0] ?? r.stderr;
      console.log(`  measure --threads ${threads}: wall ${r.wallS.toFixed(2)} s, user CPU ${r.userS.toFixed(2)} s, peak RSS ${r.maxRssMB.toFixed(0)} MB; ${line}`);
    }
    const c = timeV([process.execPath, cli, 'insights', report, '--json']);
    if (c.code !== 0) throw new Error(`amc insights failed: ${c.stderr}`);
    console.log(`  node out/cli.js insights REPORT --json: wall ${c.wallS.toFixed(2)} s, user CPU ${c.userS.toFixed(2)} s, peak RSS ${c.maxRssMB.toFixed(0)} MB`);
  }
}

main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
