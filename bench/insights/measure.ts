// The in-process half of bench/insights: read the report into the columns (readReportTable: on `--threads N`
// threads, default the machine's), then the breakdowns, each timed; prints "read X s, breakdowns Y s", the CPU
// time of each thread (polled from /proc/self/task: the main thread, and the busiest worker thread) and the
// summary to stderr. Bundled by run.ts (esbuild), run under time -v.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { computeInsights } from '../../src/core/insights';
import { readReportTable } from '../../src/core/reportReader';

/** CPU seconds (user + system) of each thread of this process, by thread id (Linux /proc; empty elsewhere). */
function threadCpu(): Map<number, number> {
  const out = new Map<number, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');   // fields from 3 on: utime is 14, stime 15
      out.set(Number(tid), (Number(f[11]) + Number(f[12])) / 100);
    }
  } catch { /* not Linux, or a thread ended while listed */ }
  return out;
}

async function main(): Promise<void> {
  const file = process.argv[2];
  const t = process.argv.indexOf('--threads');
  const threads = t >= 0 ? Number(process.argv[t + 1]) : undefined;
  // Worker threads end with the read: keep the largest CPU time seen per thread.
  const seen = new Map<number, number>();
  const poll = (): void => { for (const [tid, s] of threadCpu()) seen.set(tid, Math.max(seen.get(tid) ?? 0, s)); };
  const timer = setInterval(poll, 50);
  const t0 = performance.now();
  const { table, rows, bytes, threads: used, sequentialBecause } = await readReportTable(file, {
    threads, workerScript: path.join(__dirname, '..', '..', 'out', 'reportWorker.js'),
  });
  const t1 = performance.now();
  clearInterval(timer);
  poll();
  const mainRead = seen.get(process.pid) ?? NaN;
  const others = [...seen].filter(([tid]) => tid !== process.pid).map(([, s]) => s).sort((a, b) => b - a);
  const insights = computeInsights(table);
  const t2 = performance.now();
  const mainEnd = threadCpu().get(process.pid) ?? NaN;
  const mb = (n: number): string => (n / 2 ** 20).toFixed(0);
  process.stderr.write(`read ${((t1 - t0) / 1000).toFixed(2)} s, breakdowns ${((t2 - t1) / 1000).toFixed(2)} s; ` +
    `threads ${used}${sequentialBecause ? ` (one thread: ${sequentialBecause})` : ''}; thread CPU: main ${mainRead.toFixed(2)} s ` +
    `until read + ${(mainEnd - mainRead).toFixed(2)} s breakdowns, busiest other thread ${(others[0] ?? 0).toFixed(2)} s ` +
    `(next ${(others[1] ?? 0).toFixed(2)} s); ${rows} rows, ${mb(bytes)} MB; ${insights.scored} scored, ${insights.notScored} not scored, ` +
    `${insights.byWord.words.length} words listed, ${insights.missTarget.misses} misses; heap ${mb(process.memoryUsage().heapUsed)} MB, ` +
    `array buffers ${mb(process.memoryUsage().arrayBuffers)} MB, rss ${mb(process.memoryUsage().rss)} MB\n`);
}

main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
