// bench: `amc insights` breakdowns over a generated 1 M-query evaluation report, time and peak memory.
//   npx tsx bench/insights/run.ts [--queries 1000000] [--report bench/out/insights-report.json] [--keep]
// Generates the report in exactly the layout `amc eval --out` writes (src/cli/report.ts reportJson; `--layout indented`:
// the layout written before 2026-12-03, JSON.stringify(report, null, 1)), every
// EvalRow field), unless it exists with that many queries; then runs the bundled CLI
// (`node out/cli.js insights REPORT --json`, built by scripts/build.mjs) and measure.ts (the read and the breakdowns
// timed apart) under /usr/bin/time -v, three times each: wall time and peak RSS of the whole process.
import { spawnSync } from 'node:child_process';
import * as esbuild from 'esbuild';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { GENERATOR_VERSION, generateReport } from './generate';

const ROOT = path.resolve(__dirname, '..', '..');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
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
  const layout = arg('layout', 'rows') === 'indented' ? 'indented' : 'rows';
  // The stamp names the generator's version and the layout too.
  const want = `${queries} ${GENERATOR_VERSION}${layout === 'rows' ? '' : ' indented'}`;
  if (!existsSync(report) || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== want) {
    const t0 = Date.now();
    await generateReport(report, queries, layout);
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
