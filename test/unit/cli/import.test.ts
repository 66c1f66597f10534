// `amc import` as a child process from the bundled CLI: one of our small checkpoints (2 training steps) and a
// randomly initialised ALBEF-base checkpoint in AMC's evaluation key layout are imported, checked against PyTorch
// and explained with `amc explain --model`; unknown architectures and missing keys are refused by name; Ctrl-C
// leaves nothing behind. Checkpoints are generated here (trainer/tests/release_checkpoints.py), never committed.
// The other two base layouts (ALBEF pre-training, AMC full) are checked key for key on base shapes in
// trainer/tests/test_import_checkpoints.py: a base export takes ~2 minutes on this 2-core machine.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  amc as runAmc, amcChild, svgPng, cliSuite, TORCH_PYTHON as python, trainSmallCheckpoint, TRAINER,
} from './helpers';

const withPython = { ...process.env, AMC_PYTHON: python };
const amc = (args: string[], timeout = 180_000) => runAmc(args, { timeout, env: withPython });

function py(code: string, timeout = 300_000): string {
  const r = spawnSync(python, ['-c', code], { cwd: TRAINER, encoding: 'utf8', timeout, env: { ...process.env, PYTHONPATH: `${TRAINER}:${path.join(TRAINER, 'tests')}` } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('amc import', function () {
  this.timeout(900_000);
  const tmp = cliSuite('amc-import-');
  let scene: string;
  let small: string;

  before(async () => {
    scene = await svgPng(path.join(tmp(), 'scene.png'), '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200">' +
      '<rect width="300" height="200" fill="#808080"/><rect x="40" y="50" width="60" height="60" fill="#dc1e1e"/></svg>');
    small = trainSmallCheckpoint(tmp());
  });

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
    const e = amc(['explain', scene, 'a red square', '--model', dir, '--out', path.join(tmp(), 'small.png')]);
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /^score -?\d+\.\d{4} \(ITM match logit; p = \d\.\d{4}\)$/m);
    assert.match(e.stdout, /^model last-onnx on /m);
    // a second import into the same, now full, folder is refused without touching it
    const again = amc(['import', small]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /last-onnx: already exists and is not empty/);
  });

  it('refuses an architecture the shapes do not identify, and names every missing key', () => {
    const unknown = path.join(tmp(), 'unknown.pth');
    const holes = path.join(tmp(), 'holes.pth');
    py(`
import torch
from amc_trainer.checkpoint_io import read_checkpoint
ck = read_checkpoint(${JSON.stringify(small)})
torch.save({"model": ck["model"]}, ${JSON.stringify(unknown)})
state = dict(ck["model"]); del state["itm_head.weight"]; del state["text_proj.bias"]; state["stray.key"] = torch.zeros(1)
torch.save({"model": state, "model_config": ck["model_config"]}, ${JSON.stringify(holes)})
`);
    const r = amc(['import', unknown, '--out', path.join(tmp(), 'u')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /matches no known architecture/);
    assert.match(r.stderr, /base: .*vision_width 48 \(checkpoint\) vs 768/);
    assert.equal(existsSync(path.join(tmp(), 'u')), false);
    const h = amc(['import', holes, '--out', path.join(tmp(), 'h')]);
    assert.equal(h.code, 2, h.stderr);
    assert.match(h.stderr, /^import: missing key itm_head\.weight$/m);
    assert.match(h.stderr, /^import: missing key text_proj\.bias$/m);
    assert.match(h.stderr, /^import: unexpected key stray\.key/m);
    assert.equal(existsSync(path.join(tmp(), 'h')), false);
    const s = amc(['import', small, '--config', 'base', '--out', path.join(tmp(), 'b')]);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /do not match --config base: vision_width 48 \(checkpoint\) vs 768/);
  });

  describe('a base checkpoint (AMC evaluation key set, random weights)', () => {
    let base: string;
    before(() => {
      base = path.join(tmp(), 'best_refcoco.pth');
      const r = spawnSync(python, [path.join(TRAINER, 'tests', 'release_checkpoints.py'), 'amc-eval', base], { encoding: 'utf8', timeout: 300_000 });
      assert.equal(r.status, 0, r.stderr);
    });

    it('Ctrl-C stops the exporter and leaves no folder', async () => {
      const out = path.join(tmp(), 'cancelled');
      const { code, stderr } = await amcChild(['import', base, '--out', out],
        { env: withPython, interrupt: { when: /exporting the image encoder/, signal: 'SIGINT' } });
      assert.equal(code, 130, stderr);
      assert.match(stderr, /cancelled; nothing was written/);
      assert.equal(existsSync(out), false);
      assert.deepEqual(readdirSync(tmp()).filter((f) => f.includes('partial')), []);
    });

    it('is detected as base, exported, verified and explained', () => {
      const t0 = Date.now();
      const r = amc(['import', base], 900_000);
      const seconds = (Date.now() - t0) / 1000;
      assert.equal(r.code, 0, r.stderr);
      console.log(`      base import: ${seconds.toFixed(0)} s`);
      assert.match(r.stderr, /AMC evaluation keys/);
      assert.match(r.stderr, /architecture from 'base' architecture \(detected from the tensor shapes\): ViT 12×768, BERT 12×768 \(fusion at layer 6, GradCAM layer 8\), vocabulary 30522, 512 positions, 256 px/);
      const dir = path.join(tmp(), 'best_refcoco-onnx');
      const card = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(card.itm_trained, true); // an AMC release trains ITM
      assert.equal(card.gradcam_layer, 8);
      const e = amc(['explain', scene, 'a red square', '--model', dir, '--out', path.join(tmp(), 'base.png')], 300_000);
      assert.equal(e.code, 0, e.stderr);
      assert.match(e.stdout, /^point \(\d+, \d+\) in 300×200 px$/m);
    });
  });
});
