// Benchmark: the viewer's text filter on Visual Genome's region_descriptions.json (issue 14 item 4). Opens the
// generated VG-shaped file (bench/open-vg/generate.mjs, cached under bench/out/open-vg/) and, for each implementation
// in its own child process (so peak RSS and CPU are its own), issues the first query right after opening the file,
// then the later queries once the file is read. Each query is timed to its FIRST result (the moment the viewer has a
// row to show) and to its FULL count, wall and CPU (process.cpuUsage of the child, all threads; the first query's CPU
// includes the indexing that runs beside it).
//   node bench/filter/run.mjs [--images 108077] [--queries "tree,white shirt,man wearing a,zebra"]
//                             [--contenders ours,previous,rescan] [--rescan-queries N]
// Contenders:
//   ours      buildView of this checkout: the reader fills the phrase index while it indexes the file
//             (OpenOptions.phraseIndex, as the viewer opens files); a query during indexing is answered from the rows
//             indexed so far and grows (the viewer searches the new rows every 300 ms, as here).
//   previous  buildView of commit 6da025d (git show): waits for indexing, then builds the phrase index by paging through
//             the dataset on the first filter; later queries search it.
//   rescan    the filter before the phrase index: every query re-reads the dataset page by page (5,000 samples).
// Every contender must report the same match counts.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const out = path.join(root, 'bench', 'out', 'filter');
const PREVIOUS_COMMIT = '6da025d';
const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '108077' },
    queries: { type: 'string', default: 'tree,white shirt,man wearing a,zebra' },
    contenders: { type: 'string', default: 'ours,previous,rescan' },
    'rescan-queries': { type: 'string' },
    child: { type: 'string' },
  },
});
const queries = values.queries.split(',').map((q) => q.trim().toLowerCase());
const images = Number(values.images);
const dir = path.join(root, 'bench', 'out', 'open-vg', `vg-${images}`);
const file = path.join(dir, 'region_descriptions.json');
const bundleOf = (name) => path.join(out, `${name}.cjs`);

if (values.child) await child(values.child);
else await main();

async function main() {
  const esbuild = await import('esbuild');
  mkdirSync(out, { recursive: true });
  const build = (name, listView) => esbuild.build({
    stdin: {
      contents: `export { openDataset } from './src/core/datasets/index';
export { buildView, GrowingFilterView } from '${listView}';
export { MetricStore } from './src/editor/metricStore';`,
      resolveDir: root, loader: 'ts',
    },
    outfile: bundleOf(name), bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'silent',
    external: ['sharp', 'onnxruntime-node'],
  });
  await build('ours', './src/editor/listView');
  const contenders = values.contenders.split(',');
  if (contenders.includes('previous')) {
    // The previous listView.ts, as committed (its imports are types only, so it bundles from anywhere).
    const previous = path.join(out, 'previous-listView.ts');
    writeFileSync(previous, execFileSync('git', ['show', `${PREVIOUS_COMMIT}:src/editor/listView.ts`], { cwd: root }));
    await build('previous', './bench/out/filter/previous-listView');
  }
  if (!existsSync(path.join(dir, 'image_data.json'))) {
    process.stderr.write(`generating ${file} (${images} images)...\n`);
    const { generate } = await import('../open-vg/generate.mjs');
    await generate(dir, { images, meanRegions: 50, seed: 1 });
  }
  const results = [];
  for (const contender of contenders) {
    process.stderr.write(`${contender}...\n`);
    const args = [fileURLToPath(import.meta.url), '--child', contender, '--images', values.images, '--queries', values.queries];
    if (values['rescan-queries']) args.push('--rescan-queries', values['rescan-queries']);
    const text = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
    const result = JSON.parse(text.trim().split('\n').pop());
    process.stderr.write(`  ${JSON.stringify(result)}\n`);
    results.push(result);
  }
  const reference = results[0];
  for (const r of results) {
    for (const q of r.queries) {
      const ref = reference.queries.find((x) => x.query === q.query);
      if (ref && ref.matches !== q.matches) throw new Error(`“${q.query}”: ${r.contender} finds ${q.matches}, ${reference.contender} ${ref.matches}`);
    }
  }
  const s = (ms) => (ms === undefined ? '—' : (ms / 1000).toFixed(2));
  console.log(`\n${reference.regions.toLocaleString('en-US')} regions (${images} images), node ${process.version}, `
    + `load average ${loadavg()[0].toFixed(1)} at the end`);
  console.log('| contender | query | when | matches | first result: wall (s) | CPU (s) | full count: wall (s) | CPU (s) |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    r.queries.forEach((q, k) => {
      console.log(`| ${r.contender} | ${q.query} | ${k === 0 ? 'right after open' : 'file read'} | ${q.matches.toLocaleString('en-US')} `
        + `| ${s(q.firstMs)} | ${s(q.firstCpuMs)} | ${s(q.fullMs)} | ${s(q.fullCpuMs)} |`);
    });
  }
  console.log('\n| contender | open → file read: wall (s) | peak RSS (MB) | phrase index (MB) |\n|---|---|---|---|');
  for (const r of results) console.log(`| ${r.contender} | ${s(r.indexedMs)} | ${r.maxRssMB} | ${r.indexMB ?? '—'} |`);
}

/** One contender in its own process: open, first query at once, later queries after the file is read. */
async function child(contender) {
  const { openDataset, buildView, GrowingFilterView, MetricStore } = createRequire(import.meta.url)(bundleOf(contender === 'rescan' ? 'ours' : contender));
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  const t0 = performance.now();
  const ds = await openDataset(file, contender === 'ours' ? { phraseIndex: true } : {});
  let indexedMs;
  ds.complete.then(() => { indexedMs = performance.now() - t0; }, () => { indexedMs = performance.now() - t0; });
  const store = new MetricStore();
  const query = (text) => ({ sortKey: 'index', sortDirection: 'asc', text, split: null, missesOnly: false });
  const results = [];
  const rescanQueries = values['rescan-queries'] === undefined ? queries.length : Number(values['rescan-queries']);
  for (const [k, needle] of queries.entries()) {
    if (k === 1) await ds.complete; // later queries: the user types once the file is read
    if (contender === 'rescan' && k >= rescanQueries) break;
    const w0 = performance.now(), c0 = cpu();
    let firstMs, firstCpuMs, matches;
    if (contender === 'rescan') {
      // Before the phrase index, buildView awaited indexing and scanned every page; the list showed its rows at the end.
      await ds.complete;
      matches = 0;
      for (let start = 0; start < ds.count(); start += 5000) {
        for (const s of await ds.page(start, 5000)) if (s.phrase.toLowerCase().includes(needle)) matches++;
        await new Promise((r) => setImmediate(r));
      }
      firstMs = performance.now() - w0; firstCpuMs = cpu() - c0;
    } else {
      const view = await buildView(ds, store, query(needle), new AbortController().signal);
      const mark = () => { if (firstMs === undefined && view.total() > 0) { firstMs = performance.now() - w0; firstCpuMs = cpu() - c0; } };
      mark();
      if (GrowingFilterView && view instanceof GrowingFilterView) {
        // As the viewer: the rows indexed since are searched every 300 ms until the file is read.
        const index = ds.phraseIndex();
        while (!index.complete) { await new Promise((r) => setTimeout(r, 300)); view.extend(); mark(); }
        view.extend();
        mark();
      }
      matches = view.total();
    }
    const fullMs = performance.now() - w0, fullCpuMs = cpu() - c0;
    results.push({ query: needle, matches, firstMs: firstMs ?? (matches === 0 ? undefined : fullMs), firstCpuMs, fullMs, fullCpuMs });
  }
  await ds.complete.catch(() => undefined);
  const index = ds.phraseIndex?.();
  console.log(JSON.stringify({
    contender, regions: ds.count(), indexedMs, queries: results, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    ...(index ? { indexMB: Math.round(index.byteLength / 2 ** 20) } : {}),
  }));
  await ds.close();
}
