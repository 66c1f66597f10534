// The in-process half of bench/insights: read the report into the columns (readReportTable: on `--threads N`
// threads, default the machine's), then the breakdowns, each timed; prints "read X s, breakdowns Y s", the CPU
// time of the process (all threads) and the summary to stderr. Bundled by run.ts (esbuild), run under time -v.
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { computeInsights } from '../../src/core/insights';
import { readReportTable } from '../../src/core/reportReader';

async function main(): Promise<void> {
  const file = process.argv[2];
  const t = process.argv.indexOf('--threads');
  const threads = t >= 0 ? Number(process.argv[t + 1]) : undefined;
  const t0 = performance.now();
  const { table, rows, bytes, threads: used, sequentialBecause } = await readReportTable(file, {
    threads, workerScript: path.join(__dirname, '..', '..', 'out', 'reportWorker.js'),
  });
  const t1 = performance.now();
  const cpuRead = process.cpuUsage();
  const insights = computeInsights(table);
  const t2 = performance.now();
  const cpu = process.cpuUsage();
  const mb = (n: number): string => (n / 2 ** 20).toFixed(0);
  process.stderr.write(`read ${((t1 - t0) / 1000).toFixed(2)} s, breakdowns ${((t2 - t1) / 1000).toFixed(2)} s; ` +
    `threads ${used}${sequentialBecause ? ` (one thread: ${sequentialBecause})` : ''}; process CPU user+system until read ` +
    `${((cpuRead.user + cpuRead.system) / 1e6).toFixed(2)} s, at end ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s; ` +
    `${rows} rows, ${mb(bytes)} MB; ${insights.scored} scored, ${insights.notScored} not scored, ` +
    `${insights.byWord.words.length} words listed, ${insights.missTarget.misses} misses; heap ${mb(process.memoryUsage().heapUsed)} MB, ` +
    `array buffers ${mb(process.memoryUsage().arrayBuffers)} MB, rss ${mb(process.memoryUsage().rss)} MB\n`);
}

main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
