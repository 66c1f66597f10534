// Benchmark: the viewer's text filter on Visual Genome's region_descriptions.json (issue 14 item 4). Opens the
// generated VG-shaped file (bench/open-vg/generate.mjs, cached under bench/out/open-vg/) with the shipped reader,
// then for a few queries times the current filter (buildView: phrase index, built once on the first filter) against
// the previous implementation (a page-by-page scan of the dataset for every query, as buildView did before), each
// to the full match count. Both run in this process, one after the other, on the same opened dataset.
//   node bench/filter/run.mjs [--images 108077] [--queries "tree,white shirt,man wearing a,zebra"]
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { generate } from '../open-vg/generate.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const out = path.join(root, 'bench', 'out', 'filter');
const { values } = parseArgs({ options: { images: { type: 'string', default: '108077' }, queries: { type: 'string', default: 'tree,white shirt,man wearing a,zebra' } } });

const bundle = path.join(out, 'filter.cjs');
await esbuild.build({
  stdin: {
    contents: `export { openDataset } from './src/core/datasets/index';
export { buildView } from './src/editor/listView';
export { MetricStore } from './src/editor/metricStore';`,
    resolveDir: root, loader: 'ts',
  },
  outfile: bundle, bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'silent', external: ['sharp', 'onnxruntime-node'],
});
const { openDataset, buildView, MetricStore } = createRequire(import.meta.url)(bundle);

const images = Number(values.images);
const dir = path.join(root, 'bench', 'out', 'open-vg', `vg-${images}`);
const file = path.join(dir, 'region_descriptions.json');
if (!existsSync(path.join(dir, 'image_data.json'))) {
  process.stderr.write(`generating ${file} (${images} images)...\n`);
  await generate(dir, { images, meanRegions: 50, seed: 1 });
}
const t0 = performance.now();
const ds = await openDataset(file);
await ds.complete;
const openMs = performance.now() - t0;
const total = ds.count();
process.stderr.write(`opened ${total.toLocaleString('en-US')} regions in ${(openMs / 1000).toFixed(1)} s\n`);

/** The filter as it was before the phrase index: every query re-reads the dataset page by page. */
async function previousFilter(needle) {
  let matches = 0;
  for (let start = 0; start < total; start += 5000) {
    for (const s of await ds.page(start, 5000)) if (s.phrase.toLowerCase().includes(needle)) matches++;
    await new Promise((r) => setImmediate(r));
  }
  return matches;
}

const store = new MetricStore();
const query = (text) => ({ sortKey: 'index', sortDirection: 'asc', text, split: null, missesOnly: false });
const rows = [];
for (const q of values.queries.split(',')) {
  const needle = q.trim().toLowerCase();
  let t = performance.now();
  const view = await buildView(ds, store, query(needle), new AbortController().signal);
  const oursMs = performance.now() - t;
  t = performance.now();
  const before = await previousFilter(needle);
  const previousMs = performance.now() - t;
  if (before !== view.total()) throw new Error(`“${needle}”: ${view.total()} matches vs ${before} by the previous filter`);
  rows.push({ query: needle, matches: view.total(), oursMs, previousMs });
  process.stderr.write(`  “${needle}”: ${view.total().toLocaleString('en-US')} matches, ours ${(oursMs / 1000).toFixed(2)} s, previous ${(previousMs / 1000).toFixed(2)} s\n`);
}
await ds.close();
console.log(`\n${total.toLocaleString('en-US')} regions (${images} images), node ${process.version}, load average ${loadavg()[0].toFixed(1)}`);
console.log('| query | matches | ours (s) | previous (s) |\n|---|---|---|---|');
for (const r of rows) console.log(`| ${r.query} | ${r.matches.toLocaleString('en-US')} | ${(r.oursMs / 1000).toFixed(2)} | ${(r.previousMs / 1000).toFixed(2)} |`);
console.log('(ours: the first query includes building the phrase index, once per opened file)');
