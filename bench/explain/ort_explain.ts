// onnxruntime-node side of bench (a): one cold explain in a fresh process, the engine's own code path in-process
// (ModelRuntime: the worker adds one message hop, not measured here). Prints one JSON line like torch_explain.py.
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ModelRuntime } from '../../src/model/runtime';

async function main(): Promise<void> {
  const [modelDir, image, phrase, repeatArg] = process.argv.slice(2);
  const repeat = Number(repeatArg ?? 3);
  let t0 = performance.now();
  // Same cache-free conditions as the PyTorch side: every explain decodes, resizes and encodes the image.
  const rt = await ModelRuntime.open(path.resolve(modelDir), { imageCacheSize: 0, skipHashCheck: true });
  const loadS = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const r = await rt.explain(path.resolve(image), phrase);
  const firstS = (performance.now() - t0) / 1000;
  const warm: number[] = [];
  for (let i = 0; i < repeat; i++) {
    t0 = performance.now();
    await rt.explain(path.resolve(image), phrase);
    warm.push((performance.now() - t0) / 1000);
  }
  // The grounding graph alone (what every further phrase on a cached image costs).
  const cached = await ModelRuntime.open(path.resolve(modelDir), { skipHashCheck: true });
  await cached.explain(path.resolve(image), phrase);
  const groundingOnly: number[] = [];
  for (let i = 0; i < repeat; i++) {
    t0 = performance.now();
    await cached.explain(path.resolve(image), phrase);
    groundingOnly.push((performance.now() - t0) / 1000);
  }
  console.log(JSON.stringify({ load_s: loadS, first_s: firstS, warm_s: warm, cached_phrase_s: groundingOnly,
    score: r.score, point: [r.point.x, r.point.y], provider: rt.provider }));
  await rt.dispose();
  await cached.dispose();
}

void main();
