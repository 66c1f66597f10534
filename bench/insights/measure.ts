// The in-process half of bench/insights: read the report into the columns, then the breakdowns, each timed;
// prints "read X s, breakdowns Y s" and the summary to stderr. Bundled by run.ts (esbuild), run under time -v.
import { performance } from 'node:perf_hooks';
import { computeInsights, InsightTable } from '../../src/core/insights';
import { readReportInto } from '../../src/core/reportReader';

async function main(): Promise<void> {
  const file = process.argv[2];
  const t0 = performance.now();
  const table = new InsightTable();
  const { rows, bytes } = await readReportInto(file, table);
  const t1 = performance.now();
  const insights = computeInsights(table);
  const t2 = performance.now();
  process.stderr.write(`read ${((t1 - t0) / 1000).toFixed(2)} s, breakdowns ${((t2 - t1) / 1000).toFixed(2)} s; ` +
    `${rows} rows, ${(bytes / 2 ** 20).toFixed(0)} MB; ${insights.scored} scored, ${insights.notScored} not scored, ` +
    `${insights.byWord.words.length} words listed, ${insights.missTarget.misses} misses; heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MB, array buffers ${(process.memoryUsage().arrayBuffers / 2 ** 20).toFixed(0)} MB, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB\n`);
}

main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
