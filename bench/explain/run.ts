// bench (a): one cold explain, onnxruntime-node (this project's engine code) vs PyTorch eager (the trainer's
// code), on the same weights, image and phrase, each in a fresh process, small and base configs at 256 px.
//   /usr/bin/python3 bench/explain/make_models.py      # once: seeded random weights, checkpoint + ONNX export
//   npx tsx bench/explain/run.ts [--configs small,base] [--repeat 3] [--rounds 2]
// Writes bench/out/explain.json and prints a Markdown table. FLOPs are counted analytically (see flops()).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const python = process.env.AMC_PYTHON || '/usr/bin/python3';
const image = path.join(ROOT, 'samples/synthetic/flickr30k/flickr30k-images/8.jpg');
const phrase = 'the small cyan diamond';

interface Cfg {
  image_res: number; patch_size: number; vision_width: number; vision_depth: number; vision_mlp_dim: number;
  text_width: number; text_layers: number; text_intermediate: number; fusion_layer: number; gradcam_layer: number;
}

/** Multiply-add FLOPs (2 per MAC) of one explain with T text tokens: ViT forward, text forward, backward to the GradCAM layer. */
export function flops(c: Cfg, T: number): { vit: number; text: number; backward: number; total: number } {
  const N = (c.image_res / c.patch_size) ** 2, n = N + 1, d = c.vision_width, m = c.vision_mlp_dim;
  const vit = 2 * N * d * 3 * c.patch_size ** 2 + c.vision_depth * (2 * n * d * 3 * d + 4 * n * n * d + 2 * n * d * d + 4 * n * d * m);
  const dt = c.text_width, mt = c.text_intermediate;
  const selfLayer = 2 * T * dt * 3 * dt + 4 * T * T * dt + 2 * T * dt * dt + 4 * T * dt * mt;
  const crossQO = 4 * T * dt * dt + 4 * T * n * dt; // query + output projections, scores and weighted sum
  const crossKV = 2 * 2 * n * d * dt;               // keys and values of the n image tokens
  let text = 0, backward = 0;
  for (let l = 0; l < c.text_layers; l++) {
    const cross = l >= c.fusion_layer ? crossQO + crossKV : 0;
    text += selfLayer + cross;
    // input-gradients only (no weight gradients), from the top down to the GradCAM layer's attention probs
    if (l >= c.gradcam_layer) backward += selfLayer + (l >= c.fusion_layer ? crossQO : 0);
  }
  return { vit, text, backward, total: vit + text + backward };
}

function runJson(cmd: string, args: string[]): Record<string, any> {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT, maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function main(): void {
  const args = process.argv.slice(2);
  const configs = (args.includes('--configs') ? args[args.indexOf('--configs') + 1] : 'small,base').split(',');
  const repeat = args.includes('--repeat') ? args[args.indexOf('--repeat') + 1] : '3';
  const rounds = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 2;
  const rows: Record<string, any>[] = [];
  for (const name of configs) {
    const dir = path.join(ROOT, 'bench/out/models', name);
    const card = JSON.parse(readFileSync(path.join(dir, 'model/model.json'), 'utf8'));
    const load = os.loadavg()[0];
    // The machine is shared: alternate fresh processes so both sides see the same background load, take medians.
    const ortRuns: Record<string, any>[] = [], torchRuns: Record<string, any>[] = [];
    for (let round = 0; round < rounds; round++) {
      ortRuns.push(runJson(process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, 'ort_explain.ts'), path.join(dir, 'model'), image, phrase, repeat]));
      torchRuns.push(runJson(python, [path.join(__dirname, 'torch_explain.py'), '--checkpoint', path.join(dir, 'checkpoint.pth'), '--image', image, '--phrase', phrase, '--repeat', repeat]));
    }
    const merge = (runs: Record<string, any>[]): Record<string, any> => ({
      ...runs[0], load_s: median(runs.map((r) => r.load_s)), first_s: median(runs.map((r) => r.first_s)),
      warm_s: runs.flatMap((r) => r.warm_s), cached_phrase_s: runs.flatMap((r) => r.cached_phrase_s ?? []),
      matmul_gflops: median(runs.map((r) => r.matmul_gflops ?? 0)), runs,
    });
    const ort = merge(ortRuns), torch = merge(torchRuns);
    const f = flops(card.config, 5); // [CLS] the small cyan diamond
    rows.push({
      config: name, rounds, loadavg: [load, os.loadavg()[0]], flops: f, ort, torch,
      same_point: ort.point.join() === torch.point.join(), score_diff: Math.abs(ort.score - torch.score),
    });
  }
  mkdirSync(path.join(ROOT, 'bench/out'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench/out/explain.json'), JSON.stringify(rows, null, 1));
  const s = (v: number): string => v.toFixed(3);
  console.log('| config | GFLOP (ViT + text + backward) | load ORT / torch (s) | cold explain ORT / torch (s, median of rounds) | warm explain ORT / torch (s, median) | further phrase, cached image, ORT (s) | warm ORT GFLOP/s | torch matmul peak GFLOP/s | same point, |Δscore| | load avg |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const g = r.flops;
    const warmOrt = median(r.ort.warm_s), warmTorch = median(r.torch.warm_s);
    console.log(`| ${r.config} | ${(g.total / 1e9).toFixed(2)} (${(g.vit / 1e9).toFixed(2)} + ${(g.text / 1e9).toFixed(2)} + ${(g.backward / 1e9).toFixed(3)}) | ` +
      `${s(r.ort.load_s)} / ${s(r.torch.load_s)} | ${s(r.ort.first_s)} / ${s(r.torch.first_s)} | ${s(warmOrt)} / ${s(warmTorch)} | ${s(median(r.ort.cached_phrase_s))} | ` +
      `${(g.total / warmOrt / 1e9).toFixed(1)} | ${r.torch.matmul_gflops.toFixed(1)} | ${r.same_point ? 'yes' : 'NO'}, ${r.score_diff.toExponential(1)} | ${r.loadavg.map((v: number) => v.toFixed(1)).join('→')} |`);
  }
}

main();
