// bench (b): dataset-wide pointing-game evaluation on Flickr-style data (≥ 10 phrases per image), our cached
// pipeline (each image encoded once, every phrase runs only the grounding graph, batches of 8) vs a per-query
// full forward as the reference evaluation does it (its loader yields image + text per query, so the image
// encoder runs once per query, batches of 8). Same weights, same queries, same process, onnxruntime-node CPU.
//   npx tsx bench/eval/run.ts [--configs small,base] [--model-root bench/out/models]
// Writes bench/out/eval.json and prints a Markdown table; also checks both give the same point for every query.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDataset } from '../../src/core/datasets/index';
import type { Sample } from '../../src/core/types';
import { selectQueries } from '../../src/model/evaluate';
import { ModelRuntime, type BatchItem } from '../../src/model/runtime';

const ROOT = path.resolve(__dirname, '..', '..');
const FLICKR = path.join(ROOT, 'samples/synthetic/flickr30k');

export async function flickrQueries(splits: string[]): Promise<Sample[]> {
  const all: Sample[] = [];
  for (const split of splits) {
    const ds = await openDataset(path.join(FLICKR, `bounding_boxes_${split}.json`));
    try {
      all.push(...(await selectQueries(ds)).queries);
    } finally {
      await ds.close();
    }
  }
  return all;
}

async function timed(rt: ModelRuntime, queries: Sample[], page: number): Promise<{ s: number; results: BatchItem[] }> {
  const results: BatchItem[] = [];
  const t0 = performance.now();
  for (let i = 0; i < queries.length; i += page) results.push(...await rt.explainSamples(queries.slice(i, i + page)));
  const failed = results.find((r) => 'error' in r);
  if (failed) throw new Error(`benchmark query failed: ${(failed as { error: string }).error}`);
  return { s: (performance.now() - t0) / 1000, results };
}

/** The options bench/eval and bench/batch share: `--configs small,base` and `--model-root DIR`. */
export function modelBenchOptions(args = process.argv.slice(2)): { configs: string[]; modelRoot: string } {
  const value = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  return { configs: (value('--configs') ?? 'small,base').split(','), modelRoot: value('--model-root') ?? path.join(ROOT, 'bench/out/models') };
}

async function main(): Promise<void> {
  const { configs, modelRoot } = modelBenchOptions();
  const rows: Record<string, unknown>[] = [];
  for (const name of configs) {
    // base is ~40× the small model's FLOPs: the test split (65 queries, 6 images) keeps the run short
    const queries = await flickrQueries(name === 'base' ? ['test'] : ['train', 'val', 'test']);
    const images = new Set(queries.map((q) => q.image)).size;
    const dir = path.join(modelRoot, name, 'model');
    const cached = await ModelRuntime.open(dir, { batchSize: 8, imageCacheSize: 256, skipHashCheck: true, splitGrounding: false });
    const perQuery = await ModelRuntime.open(dir, { batchSize: 8, perQueryImages: true, skipHashCheck: true, splitGrounding: false });
    // The split grounding graph (bench/eval/split_grounding.py), when the folder has it: K/V cached per image too.
    const split = await ModelRuntime.open(dir, { batchSize: 8, imageCacheSize: 256, skipHashCheck: true });
    // warm the sessions on one query so none pays first-run allocation in the measurement
    for (const rt of [cached, perQuery, split]) await rt.explainSamples(queries.slice(0, 1));
    const load0 = os.loadavg()[0];
    const base = await timed(perQuery, queries, 8);
    const ours = await timed(cached, queries, 64);
    const oursSplit = split.usesSplitGrounding ? await timed(split, queries, 64) : undefined;
    const differ = (res: BatchItem[]): number => res.filter((r, i) => {
      const b = base.results[i];
      return 'error' in r || 'error' in b || r.point.x !== b.point.x || r.point.y !== b.point.y;
    }).length;
    rows.push({
      config: name, queries: queries.length, images, phrasesPerImage: queries.length / images,
      perQuery: { s: base.s, qps: queries.length / base.s, encoderImages: perQuery.stats.imagesEncoded - 1 },
      cached: { s: ours.s, qps: queries.length / ours.s, encoderImages: cached.stats.imagesEncoded - 1 },
      speedup: base.s / ours.s, differentPoints: differ(ours.results),
      split: oursSplit && {
        s: oursSplit.s, qps: queries.length / oursSplit.s, speedup: base.s / oursSplit.s, differentPoints: differ(oursSplit.results),
      },
      loadavg: [load0, os.loadavg()[0]],
    });
    for (const rt of [cached, perQuery, split]) await rt.dispose();
  }
  mkdirSync(path.join(ROOT, 'bench/out'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench/out/eval.json'), JSON.stringify(rows, null, 1));
  console.log('| config | queries / images (phrases per image) | per-query full forward: s, queries/s, images encoded | cached pipeline: s, queries/s, images encoded | speed-up | cached + split grounding: s, queries/s | speed-up | queries with a different point | load avg |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows as any[]) {
    console.log(`| ${r.config} | ${r.queries} / ${r.images} (${r.phrasesPerImage.toFixed(1)}) | ${r.perQuery.s.toFixed(1)}, ${r.perQuery.qps.toFixed(1)}, ${r.perQuery.encoderImages} | ` +
      `${r.cached.s.toFixed(1)}, ${r.cached.qps.toFixed(1)}, ${r.cached.encoderImages} | **${r.speedup.toFixed(1)}×** | ` +
      `${r.split ? `${r.split.s.toFixed(1)}, ${r.split.qps.toFixed(1)} | **${r.split.speedup.toFixed(1)}×**` : 'n/a (no split) | –'} | ` +
      `${r.differentPoints}${r.split ? ` / ${r.split.differentPoints}` : ''} | ${r.loadavg.map((v: number) => v.toFixed(1)).join('→')} |`);
  }
}

if (require.main === module) void main();
