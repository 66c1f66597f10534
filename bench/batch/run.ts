// bench (c): batch 8 vs batch 1 in the cached pipeline, same weights and queries (Flickr-style synthetic set):
// end to end (images encoded once each, then every phrase grounded) and the grounding graph alone (all images
// already cached, the cost of every further phrase).
//   npx tsx bench/batch/run.ts [--configs small,base] [--model-root bench/out/models]
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ModelRuntime } from '../../src/model/runtime';
import { flickrQueries, modelBenchOptions } from '../eval/run';

const ROOT = path.resolve(__dirname, '..', '..');

async function main(): Promise<void> {
  const { configs, modelRoot } = modelBenchOptions();
  const rows: Record<string, any>[] = [];
  for (const name of configs) {
    const queries = await flickrQueries(['test']);
    const dir = path.join(modelRoot, name, 'model');
    const result: Record<string, any> = {
      config: name, queries: queries.length, images: new Set(queries.map((q) => q.image)).size, loadavg: os.loadavg()[0],
    };
    for (const batch of [1, 8]) {
      const rt = await ModelRuntime.open(dir, { batchSize: batch, imageCacheSize: 256, skipHashCheck: true });
      await rt.explainSamples(queries.slice(0, 1)); // warm-up (encodes one image)
      const check = (rs: Awaited<ReturnType<ModelRuntime['explainSamples']>>): void => {
        const failed = rs.find((r) => 'error' in r);
        if (failed) throw new Error(`benchmark query failed: ${(failed as { error: string }).error}`);
      };
      let t0 = performance.now();
      check(await rt.explainSamples(queries));
      const endToEnd = (performance.now() - t0) / 1000;
      t0 = performance.now();
      check(await rt.explainSamples(queries)); // every image cached now: grounding only
      const groundingOnly = (performance.now() - t0) / 1000;
      result[`b${batch}`] = { endToEndS: endToEnd, endToEndQps: queries.length / endToEnd, groundingS: groundingOnly, groundingQps: queries.length / groundingOnly,
        encoderRuns: rt.stats.encoderRuns, groundingRuns: rt.stats.groundingRuns };
      await rt.dispose();
    }
    rows.push(result);
  }
  mkdirSync(path.join(ROOT, 'bench/out'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench/out/batch.json'), JSON.stringify(rows, null, 1));
  console.log('| config | queries / images | end to end, batch 1 → 8 (queries/s) | grounding only, batch 1 → 8 (queries/s) | load avg |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.config} | ${r.queries} / ${r.images} | ${r.b1.endToEndQps.toFixed(1)} → ${r.b8.endToEndQps.toFixed(1)} (${(r.b8.endToEndQps / r.b1.endToEndQps).toFixed(2)}×) | ` +
      `${r.b1.groundingQps.toFixed(1)} → ${r.b8.groundingQps.toFixed(1)} (${(r.b8.groundingQps / r.b1.groundingQps).toFixed(2)}×) | ${r.loadavg.toFixed(1)} |`);
  }
}

if (require.main === module) void main();
