// `amc import` as a child process from the bundled CLI: one of our small checkpoints (2 training steps) and a
// randomly initialised ALBEF-base checkpoint in AMC's evaluation key layout are imported, checked against PyTorch
// and explained with `amc explain --model`; unknown architectures and missing keys are refused by name; Ctrl-C
// leaves nothing behind. Checkpoints are generated here (trainer/tests/release_checkpoints.py), never committed.
// The other two base layouts (ALBEF pre-training, AMC full) are checked key for key on base shapes in
// trainer/tests/test_import_checkpoints.py: a base export takes ~2 minutes on this 2-core machine.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import sharp from 'sharp';

const ROOT = path.join(__dirname, '..', '..', '..');
const WORK = path.join(ROOT, 'test', '.work', 'cli-import');
const CLI = path.join(WORK, 'amc.js');
const TRAINER = path.join(ROOT, 'trainer');
const python = process.env.AMC_PYTHON || '/usr/bin/python3';

function amc(args: string[], timeout = 180_000): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout, env: { ...process.env, AMC_PYTHON: python } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function py(code: string, timeout = 300_000): string {
  const r = spawnSync(python, ['-c', code], { cwd: TRAINER, encoding: 'utf8', timeout, env: { ...process.env, PYTHONPATH: `${TRAINER}:${path.join(TRAINER, 'tests')}` } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** One of our small checkpoints: the trainer's tiny test model trained 2 steps (as trainer/tests do). */
function trainSmallCheckpoint(dir: string): string {
  py(`
import subprocess, sys
from pathlib import Path
from train_helpers import make_squares_dataset, tiny_args, env
data = make_squares_dataset(Path(${JSON.stringify(dir)}) / "data", n_train=8, n_test=2)
out = Path(${JSON.stringify(dir)}) / "run"
subprocess.run([sys.executable, "-m", "amc_trainer", "train", *tiny_args(data, out, epochs=1, max_steps_per_epoch=2)],
               check=True, env=env(), stdout=subprocess.DEVNULL)
`);
  const ckpt = path.join(dir, 'run', 'last.pth');
  assert.ok(existsSync(ckpt), `training wrote no ${ckpt}`);
  return ckpt;
}

describe('amc import', function () {
  this.timeout(900_000);
  let tmp: string;
  let scene: string;
  let small: string;

  before(async () => {
    mkdirSync(WORK, { recursive: true });
    const common = {
      bundle: true, platform: 'node' as const, target: 'node20', format: 'cjs' as const,
      external: ['vscode', 'onnxruntime-node', 'sharp'], logLevel: 'silent' as const,
    };
    await esbuild.build({ ...common, entryPoints: [path.join(ROOT, 'src', 'cli', 'main.ts')], outfile: CLI, banner: { js: '#!/usr/bin/env node' } });
    await esbuild.build({ ...common, entryPoints: [path.join(ROOT, 'src', 'model', 'worker.ts')], outfile: path.join(WORK, 'worker.js') });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'amc-import-'));
    scene = path.join(tmp, 'scene.png');
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200"><rect width="300" height="200" fill="#808080"/>' +
      '<rect x="40" y="50" width="60" height="60" fill="#dc1e1e"/></svg>';
    await sharp(Buffer.from(svg)).png().toFile(scene);
    small = trainSmallCheckpoint(tmp);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('imports our small checkpoint next to it, verified against PyTorch, and explains with it', () => {
    const r = amc(['import', small]);
    assert.equal(r.code, 0, r.stderr);
    const dir = path.join(path.dirname(small), 'last-onnx');
    assert.equal(r.stdout, `${dir}\n`);
    assert.match(r.stderr, /amc_trainer checkpoint/);
    assert.match(r.stderr, /architecture from the checkpoint's model_config: ViT 1×48, BERT 2×48/);
    assert.match(r.stderr, /every checkpoint key maps onto the model; none missing/);
    assert.match(r.stderr, /exporting the grounding graph/);
    assert.match(r.stderr, /graphs agree with PyTorch on the fixture \(largest relative error/);
    const card = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(card.itm_trained, true); // tiny_args trains with the default recipe: use_itm on
    assert.deepEqual((card.source_checkpoint as { file: string }).file, small);
    assert.deepEqual((card.checkpoint_keys as { missing: string[] }).missing, []);
    assert.deepEqual(readdirSync(path.dirname(small)).filter((f) => f.includes('partial')), []);
    const e = amc(['explain', scene, 'a red square', '--model', dir, '--out', path.join(tmp, 'small.png')]);
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /^score -?\d+\.\d{4} \(ITM match logit; p = \d\.\d{4}\)$/m);
    assert.match(e.stdout, /^model last-onnx on /m);
    // a second import into the same, now full, folder is refused without touching it
    const again = amc(['import', small]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /last-onnx: already exists and is not empty/);
  });

  it('refuses an architecture the shapes do not identify, and names every missing key', () => {
    const unknown = path.join(tmp, 'unknown.pth');
    const holes = path.join(tmp, 'holes.pth');
    py(`
import torch
from amc_trainer.checkpoint_io import read_checkpoint
ck = read_checkpoint(${JSON.stringify(small)})
torch.save({"model": ck["model"]}, ${JSON.stringify(unknown)})
state = dict(ck["model"]); del state["itm_head.weight"]; del state["text_proj.bias"]; state["stray.key"] = torch.zeros(1)
torch.save({"model": state, "model_config": ck["model_config"]}, ${JSON.stringify(holes)})
`);
    const r = amc(['import', unknown, '--out', path.join(tmp, 'u')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /matches no known architecture/);
    assert.match(r.stderr, /base: .*vision_width 48 \(checkpoint\) vs 768/);
    assert.equal(existsSync(path.join(tmp, 'u')), false);
    const h = amc(['import', holes, '--out', path.join(tmp, 'h')]);
    assert.equal(h.code, 2, h.stderr);
    assert.match(h.stderr, /^import: missing key itm_head\.weight$/m);
    assert.match(h.stderr, /^import: missing key text_proj\.bias$/m);
    assert.match(h.stderr, /^import: unexpected key stray\.key/m);
    assert.equal(existsSync(path.join(tmp, 'h')), false);
    const s = amc(['import', small, '--config', 'base', '--out', path.join(tmp, 'b')]);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /do not match --config base: vision_width 48 \(checkpoint\) vs 768/);
  });

  describe('a base checkpoint (AMC evaluation key set, random weights)', () => {
    let base: string;
    before(() => {
      base = path.join(tmp, 'best_refcoco.pth');
      const r = spawnSync(python, [path.join(TRAINER, 'tests', 'release_checkpoints.py'), 'amc-eval', base], { encoding: 'utf8', timeout: 300_000 });
      assert.equal(r.status, 0, r.stderr);
    });

    it('Ctrl-C stops the exporter and leaves no folder', async () => {
      const out = path.join(tmp, 'cancelled');
      const child = spawn(process.execPath, [CLI, 'import', base, '--out', out], { env: { ...process.env, AMC_PYTHON: python } });
      let stderr = '';
      let interrupted = false;
      const code = await new Promise<number | null>((resolve) => {
        child.stderr.on('data', (c: Buffer) => {
          stderr += c.toString();
          if (!interrupted && /exporting the image encoder/.test(stderr)) { interrupted = true; child.kill('SIGINT'); }
        });
        child.once('close', resolve);
      });
      assert.equal(code, 130, stderr);
      assert.match(stderr, /cancelled; nothing was written/);
      assert.equal(existsSync(out), false);
      assert.deepEqual(readdirSync(tmp).filter((f) => f.includes('partial')), []);
    });

    it('is detected as base, exported, verified and explained', () => {
      const t0 = Date.now();
      const r = amc(['import', base], 900_000);
      const seconds = (Date.now() - t0) / 1000;
      assert.equal(r.code, 0, r.stderr);
      console.log(`      base import: ${seconds.toFixed(0)} s`);
      assert.match(r.stderr, /AMC evaluation keys/);
      assert.match(r.stderr, /architecture from 'base' architecture \(detected from the tensor shapes\): ViT 12×768, BERT 12×768 \(fusion at layer 6, GradCAM layer 8\), vocabulary 30522, 512 positions, 256 px/);
      const dir = path.join(tmp, 'best_refcoco-onnx');
      const card = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(card.itm_trained, true); // an AMC release trains ITM
      assert.equal(card.gradcam_layer, 8);
      const e = amc(['explain', scene, 'a red square', '--model', dir, '--out', path.join(tmp, 'base.png')], 300_000);
      assert.equal(e.code, 0, e.stderr);
      assert.match(e.stdout, /^point \(\d+, \d+\) in 300×200 px$/m);
    });
  });
});
