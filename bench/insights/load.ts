// bench: loading the generated 1 M-query evaluation report into a viewer's store (issue 15: first rows ≤ 1 s).
//   npx tsx bench/insights/load.ts [--queries 1000000] [--report bench/out/insights-report.json] [--runs 3]
// The report is run.ts's (generate.ts; generated here when missing). The dataset it is for is rebuilt in memory
// from the same generated rows (a MemoryDataset: ids, phrases, images, boxes, splits, sizes), its file an empty
// bench/out/region_descriptions.json as the report's header names it (0 bytes). Then the host-side loading code
// of the viewer (src/editor/reportLoad.ts loadReportInto, what "AMC: Open evaluation report…" and a report beside
// the dataset run) fills a MetricStore, and a timer polls it: the time until the first page of the list (samples
// 0..99) has its results, and until all rows do; process CPU time and the load average beside them.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Sample } from '../../src/core/types';
import { MemoryDataset } from '../../src/editor/memoryDataset';
import { MetricStore } from '../../src/editor/metricStore';
import { loadReportInto } from '../../src/editor/reportLoad';
import { GENERATED_DATASET_FILE, GENERATED_MODEL, GENERATOR_VERSION, generatedRows, generateReport } from './generate';

const ROOT = path.resolve(__dirname, '..', '..');
const FIRST_PAGE = 100;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const queries = Number(arg('queries', '1000000'));
  const report = path.resolve(arg('report', path.join(ROOT, 'bench', 'out', 'insights-report.json')));
  const stamp = `${report}.queries`;
  mkdirSync(path.dirname(report), { recursive: true });
  if (!existsSync(report) || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== `${queries} ${GENERATOR_VERSION}`) {
    await generateReport(report, queries);
    writeFileSync(stamp, `${queries} ${GENERATOR_VERSION}`);
  }
  const datasetFile = path.join(path.dirname(report), GENERATED_DATASET_FILE);
  writeFileSync(datasetFile, '');
  const samples: Sample[] = [];
  for (const r of generatedRows(queries)) {
    samples.push({
      index: r.index, id: r.id, image: r.image, imageId: r.image, phrase: r.phrase, caption: r.phrase, boxes: r.boxes,
      sourceBoxes: r.boxes, hitRule: 'xyxy', split: r.split ?? undefined, ids: {}, source: { file: datasetFile, entry: `[${r.index}]` },
      ...(r.width ? { width: r.width, height: r.height } : {}),
    });
  }
  const dataset = new MemoryDataset(datasetFile, 'vg-regions', samples);
  for (let run = 1, runs = Number(arg('runs', '3')); run <= runs; run++) {
    const store = new MetricStore();
    let firstPageMs = NaN, firstPageCpuS = NaN;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const poll = setInterval(() => {
      if (!Number.isNaN(firstPageMs)) return;
      for (let i = 0; i < FIRST_PAGE; i++) if (!store.has(i)) return;
      firstPageMs = performance.now() - t0;
      const c = process.cpuUsage(cpu0);
      firstPageCpuS = (c.user + c.system) / 1e6;
    }, 10);
    const result = await loadReportInto(report, dataset, store, GENERATED_MODEL);
    const allMs = performance.now() - t0;
    clearInterval(poll);
    if (Number.isNaN(firstPageMs)) firstPageMs = allMs;   // the first page was filled with the rest
    const cpu = process.cpuUsage(cpu0);
    console.log(`run ${run}: first ${FIRST_PAGE} rows with results after ${(firstPageMs / 1000).toFixed(2)} s ` +
      `(process CPU ${firstPageCpuS.toFixed(2)} s), all ${result.rows} rows ` +
      `(${result.scored} scored) after ${(allMs / 1000).toFixed(2)} s; process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s; ` +
      `rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB; load ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`);
  }
}

main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
