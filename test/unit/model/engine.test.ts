// The inference engine on real onnxruntime with real exported graphs: parity with the exporter's PyTorch
// fixture, batching that changes no number, the embedding cache, cancellation, the worker keeping the caller's
// event loop free, and every kind of bad input named in issue 4.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import type { Sample } from '../../../src/core/types';
import { InferenceEngine, defaultModelDir } from '../../../src/model/engine';
import { ModelRuntime } from '../../../src/model/runtime';
import { openSession, ProviderError } from '../../../src/model/session';

const root = path.resolve(__dirname, '../../..');
const tinyDir = path.join(root, 'test/fixtures/model/tiny');

interface Fixture {
  images_png_base64: string[]; phrases: string[]; input_ids: number[][]; attention_mask: number[][];
  itm_logits: number[][]; gradcam: number[][][]; token_gradcam: number[][][][];
}

function tmpDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'amc-engine-'));
}

function writeFixtureImages(dir: string, fx: Fixture): string[] {
  return fx.images_png_base64.map((b64, i) => {
    const f = path.join(dir, `fixture-${i}.png`);
    writeFileSync(f, Buffer.from(b64, 'base64'));
    return f;
  });
}

async function noiseImage(file: string, width: number, height: number, seed: number): Promise<void> {
  const px = Buffer.alloc(width * height * 3);
  let s = seed >>> 0;
  for (let i = 0; i < px.length; i++) { s = (s * 1664525 + 1013904223) >>> 0; px[i] = s >>> 24; }
  await sharp(px, { raw: { width, height, channels: 3 } }).png().toFile(file);
}

function sample(index: number, image: string, phrase: string, boxes: [number, number, number, number][], split = 'test'): Sample {
  return {
    index, id: `s${index}`, image, imageId: path.basename(image), phrase, caption: phrase.toLowerCase(), boxes,
    sourceBoxes: boxes, hitRule: 'xyxy', split, ids: {}, source: { file: '/data/ann.json', entry: `[${index}]` },
  };
}

/** |a − b| ≤ tol·max(1, |b|max): absolute for O(1) values, relative for tiny GradCAM values. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): number {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0, worst = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  const rel = worst / Math.max(scale, 1e-30);
  assert.ok(worst <= tol || rel <= tol, `${what}: max |diff| ${worst.toExponential(2)} (relative ${rel.toExponential(2)}) > ${tol}`);
  return rel;
}

/** Every model folder the repository ships plus the tiny test model: parity must hold for each. */
const parityModels = [tinyDir, defaultModelDir(root)].filter((d) => existsSync(path.join(d, 'model.json')));

describe('model engine: parity with the exporter fixture (PyTorch) ≤ 1e-4', function () {
  this.timeout(120_000);
  for (const dir of parityModels) {
    it(`${path.relative(root, dir)}: ITM logits, raw GradCAM and per-token maps`, async () => {
      const fx = JSON.parse(readFileSync(path.join(dir, 'fixture.json'), 'utf8')) as Fixture;
      const tmp = tmpDir();
      const images = writeFixtureImages(tmp, fx);
      const rt = await ModelRuntime.open(dir);
      try {
        for (let i = 0; i < fx.phrases.length; i++) {
          const r = await rt.explain(images[i], fx.phrases[i]);
          const n = fx.attention_mask[i].reduce((a, b) => a + b, 0);
          const T = fx.input_ids[i].length;
          assert.deepEqual(r.tokens.length, n, 'token count');
          assertClose([r.score], [fx.itm_logits[i][1]], 1e-4, `${fx.phrases[i]} ITM logit`);
          // The fixture ran the phrases as one padded batch: its map is divided by T, ours by this phrase's n.
          assertClose(r.gradcam, fx.gradcam[i].flat().map((v) => v * (T / n)), 1e-4, `${fx.phrases[i]} gradcam`);
          for (let t = 0; t < n; t++) assertClose(r.tokenGradcam[t], fx.token_gradcam[i][t].flat(), 1e-4, `${fx.phrases[i]} token ${t}`);
          const p = Math.exp(fx.itm_logits[i][1]) / (Math.exp(fx.itm_logits[i][0]) + Math.exp(fx.itm_logits[i][1]));
          assert.ok(Math.abs(r.itmProbability - p) < 1e-5);
        }
      } finally {
        await rt.dispose();
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  }
});

describe('model engine: worker, batching, cache, cancellation', function () {
  this.timeout(120_000);
  let tmp: string;
  let engine: InferenceEngine;
  let imgA: string, imgB: string, imgACopy: string;

  before(async () => {
    tmp = tmpDir();
    imgA = path.join(tmp, 'a.png'); imgB = path.join(tmp, 'b.png'); imgACopy = path.join(tmp, 'a-copy.png');
    await noiseImage(imgA, 120, 90, 1);
    await noiseImage(imgB, 77, 131, 2);
    copyFileSync(imgA, imgACopy);
    engine = await InferenceEngine.open(tinyDir, { provider: 'auto', batchSize: 4, imageCacheSize: 8 });
  });
  after(async () => {
    await engine?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('opens with the card, reports the provider and why CUDA was not used', () => {
    assert.equal(engine.card.grid, 4);
    assert.equal(engine.card.name, 'tiny-random-test');
    if (engine.provider === 'cpu') assert.match(engine.providerNote ?? '', /CUDA/);
  });

  it('explain: point in original pixels, g×g map, one map per token', async () => {
    const r = await engine.explain(imgB, 'a red circle');
    assert.equal(r.width, 77); assert.equal(r.height, 131);
    assert.equal(r.gradcam.length, 16);
    assert.deepEqual(r.tokens, ['[CLS]', 'a', 'red', 'circle']);
    assert.equal(r.tokenGradcam.length, 4);
    assert.ok(r.point.x >= 0 && r.point.x < 77 && r.point.y >= 0 && r.point.y < 131);
    assert.ok(r.gradcam.some((v) => v > 0), 'map is not all zero');
  });

  it('a batch gives the same numbers as one sample at a time (padding undone)', async () => {
    const phrases = ['a red circle', 'the small blue square on the left of the big green triangle', 'star', 'the yellow star', 'green'];
    const samples = phrases.map((p, i) => sample(i, i % 2 ? imgB : imgA, p, [[10, 10, 60, 60]]));
    const batch = await engine.explainBatch(samples);
    for (let i = 0; i < samples.length; i++) {
      const one = await engine.explainSample(samples[i]);
      const b = batch[i];
      assert.ok(!('error' in b));
      assert.ok(Math.abs(b.score - one.score) < 1e-4);
      assertClose(b.gradcam, one.gradcam, 1e-5, `sample ${i} gradcam`);
      assert.deepEqual(b.point, one.point);
      assert.equal(b.hit, one.hit);
      assert.ok(Math.abs(b.lMax - one.lMax) < 1e-5);
    }
  });

  it('encodes each image once: further phrases and a byte-identical copy hit the cache; a changed file does not', async () => {
    const fresh = await InferenceEngine.open(tinyDir, { imageCacheSize: 4 });
    try {
      await fresh.explain(imgA, 'red');
      await fresh.explain(imgA, 'blue');
      await fresh.explain(imgACopy, 'green');
      let st = await fresh.stats();
      assert.equal(st.imagesEncoded, 1);
      assert.equal(st.phrasesGrounded, 3);
      await noiseImage(imgACopy, 120, 90, 3); // new content under the copied name
      await fresh.explain(imgACopy, 'green');
      st = await fresh.stats();
      assert.equal(st.imagesEncoded, 2);
      // A batch of 6 phrases over 2 images runs the encoder on only the new image.
      const batch = ['a', 'b', 'c'].flatMap((p, i) => [sample(i, imgA, `${p} circle`, [[0, 0, 5, 5]]), sample(i + 3, imgB, `${p} square`, [[0, 0, 5, 5]])]);
      await fresh.explainBatch(batch);
      st = await fresh.stats();
      assert.equal(st.imagesEncoded, 3);
    } finally {
      await fresh.dispose();
    }
  });

  it('sample results carry hit, L_mean, L_max from src/core on the sample boxes', async () => {
    const r = await engine.explainSample(sample(0, imgA, 'a red circle', [[0, 0, 120, 90]]));
    // the whole image is the box: the point is inside unless it lies on the border row/column
    const onBorder = r.point.x === 0 || r.point.y === 0;
    assert.equal(r.hit, !onBorder);
    assert.ok(r.lMean >= 0 && r.lMax >= 0);
    assert.ok(Math.abs(r.total - (0.2 * r.lMean + 0.8 * r.lMax)) < 1e-9);
    const empty = await engine.explainSample(sample(1, imgA, 'a red circle', [[50, 50, 50, 80]]));
    assert.equal(empty.maskEmpty, true);
    assert.equal(empty.hit, false);
  });

  it('cancels a queued request at once and a running batch at its next graph run', async () => {
    const many = Array.from({ length: 40 }, (_, i) => sample(i, i % 2 ? imgA : imgB, `phrase number ${i}`, [[1, 1, 9, 9]]));
    const controller = new AbortController();
    const running = engine.explainBatch(many);
    const queued = engine.explain(imgA, 'queued phrase', controller.signal);
    controller.abort();
    await assert.rejects(queued, (e: Error) => e.name === 'AbortError');
    await running; // the first request is unaffected

    const c2 = new AbortController();
    const big = engine.explainBatch(many, c2.signal);
    setTimeout(() => c2.abort(), 1);
    await assert.rejects(big, (e: Error) => e.name === 'AbortError');
    // the engine still works afterwards
    assert.equal((await engine.explain(imgA, 'still works')).grid, 4);
  });

  it('a single explain overtakes queued dataset pages (but not the running one)', async () => {
    const page = (k: number): Sample[] => Array.from({ length: 16 }, (_, i) => sample(i, i % 2 ? imgA : imgB, `page ${k} phrase ${i}`, [[1, 1, 9, 9]]));
    const order: string[] = [];
    const running = engine.explainBatch(page(1)).then(() => order.push('page1'));
    const queued = engine.explainBatch(page(2)).then(() => order.push('page2'));
    const single = engine.explain(imgA, 'the interactive phrase').then(() => order.push('explain'));
    await Promise.all([running, queued, single]);
    assert.deepEqual(order, ['page1', 'explain', 'page2']);
  });

  it("never blocks the caller's event loop while a long batch runs", async () => {
    const many = Array.from({ length: 128 }, (_, i) => sample(i, imgB, `a long enough phrase about shape ${i}`, [[1, 1, 9, 9]]));
    let ticks = 0, worstGap = 0, last = Date.now();
    const timer = setInterval(() => { const now = Date.now(); worstGap = Math.max(worstGap, now - last); last = now; ticks++; }, 5);
    const t0 = Date.now();
    await engine.explainBatch(many);
    const elapsed = Date.now() - t0;
    clearInterval(timer);
    // Relative bounds, so a loaded CI machine does not fail it: run on this thread, the batch would be one gap
    // as long as the whole call and (almost) no ticks.
    assert.ok(ticks >= Math.floor(elapsed / 100), `only ${ticks} timer ticks in ${elapsed} ms`);
    assert.ok(worstGap < Math.max(elapsed / 3, 50), `event loop stalled for ${worstGap} ms of ${elapsed} ms`);
  });
});

describe('model engine: bad input', function () {
  this.timeout(120_000);
  let tmp: string;
  let engine: InferenceEngine;
  before(async () => {
    tmp = tmpDir();
    engine = await InferenceEngine.open(tinyDir);
  });
  after(async () => {
    await engine?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('missing image: names the file', async () => {
    const f = path.join(tmp, 'nope.jpg');
    await assert.rejects(engine.explain(f, 'a cat'), (e: Error) => e.message.includes(f) && /not found/.test(e.message));
  });

  it('0-byte image: names the file and says it is empty', async () => {
    const f = path.join(tmp, 'empty.png');
    writeFileSync(f, '');
    await assert.rejects(engine.explain(f, 'a cat'), (e: Error) => e.message.includes(f) && /empty \(0 bytes\)/.test(e.message));
  });

  it('unreadable image (not an image, truncated, a folder): names the file', async () => {
    const text = path.join(tmp, 'notes.jpg');
    writeFileSync(text, 'this is not a jpeg at all');
    await assert.rejects(engine.explain(text, 'a cat'), (e: Error) => e.message.startsWith(text) && /not a readable image|cannot decode/.test(e.message));
    const good = path.join(tmp, 'good.jpg');
    await noiseImage(path.join(tmp, 'src.png'), 64, 64, 5);
    await sharp(path.join(tmp, 'src.png')).jpeg().toFile(good);
    const bytes = readFileSync(good);
    const truncated = path.join(tmp, 'truncated.jpg');
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 3)));
    await assert.rejects(engine.explain(truncated, 'a cat'), (e: Error) => e.message.startsWith(truncated));
    const folder = path.join(tmp, 'folder.png');
    mkdirSync(folder);
    await assert.rejects(engine.explain(folder, 'a cat'), (e: Error) => e.message.includes(folder) && /folder/.test(e.message));
  });

  it('huge image: refused by the pixel limit with the size in the message', async () => {
    const f = path.join(tmp, 'big.png');
    await sharp({ create: { width: 3000, height: 2000, channels: 3, background: '#808080' } }).png().toFile(f);
    const strict = await InferenceEngine.open(tinyDir, { maxPixels: 1_000_000 });
    try {
      await assert.rejects(strict.explain(f, 'grey'), (e: Error) => e.message.includes(f) && /3000×2000/.test(e.message) && /limit/.test(e.message));
    } finally {
      await strict.dispose();
    }
  });

  it('phrase that tokenizes to nothing; phrase longer than the training length runs whole (docs/reference.md §4.2), beyond the position table is refused', async () => {
    const img = path.join(tmp, 'ok.png');
    await noiseImage(img, 40, 40, 9);
    await assert.rejects(engine.explain(img, '?!...'), (e: Error) => /no words left/.test(e.message));
    const long = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    const r = await engine.explain(img, long);
    assert.ok(r.tokens.length > 25, `${r.tokens.length} tokens`);
    assert.equal(r.tokenGradcam.length, r.tokens.length);
    // the graph takes the whole position table: [CLS] + 511 wordpieces runs, one more is refused (letters of an
    // unknown word are one wordpiece each: 'qzxv…' of n letters is n wordpieces)
    const pieces = (n: number): string => 'qzxv'.repeat(25).slice(0, n);
    const at512 = [100, 100, 100, 100, 100, 11].map(pieces).join(' ');
    assert.equal((await engine.tokenize(at512)).ids.length, 512);
    const full = await engine.explain(img, at512);
    assert.equal(full.tokens.length, 512);
    assert.ok(full.gradcam.every(Number.isFinite));
    await assert.rejects(engine.explain(img, `${at512}q`), (e: Error) => /513 tokens.*at most 512 \(its text position table/.test(e.message));
  });

  it('a batch reports bad samples by entry and still explains the good ones', async () => {
    const img = path.join(tmp, 'ok2.png');
    await noiseImage(img, 40, 40, 10);
    const res = await engine.explainBatch([
      sample(0, img, 'red', [[0, 0, 10, 10]]),
      sample(1, path.join(tmp, 'missing.png'), 'red', [[0, 0, 10, 10]]),
      sample(2, img, '...', [[0, 0, 10, 10]]),
    ]);
    assert.ok(!('error' in res[0]));
    assert.ok('error' in res[1] && res[1].error.includes('/data/ann.json ([1])') && /not found/.test(res[1].error));
    assert.ok('error' in res[1] && res[1].reason === 'image not found');
    assert.ok('error' in res[2] && /no words left/.test(res[2].error) && res[2].reason === 'phrase has no words after cleaning');
  });

  it('model folder without a card', async () => {
    const dir = path.join(tmp, 'no-card');
    cpSync(tinyDir, dir, { recursive: true });
    rmSync(path.join(dir, 'model.json'));
    await assert.rejects(InferenceEngine.open(dir), (e: Error) => e.name === 'ModelCardError' && e.message.includes(path.join(dir, 'model.json')) && /not found/.test(e.message));
    await assert.rejects(InferenceEngine.open(path.join(tmp, 'no-such-model')), /model folder not found/);
  });

  function cardVariant(name: string, edit: (card: Record<string, any>) => void): string {
    const dir = path.join(tmp, name);
    cpSync(tinyDir, dir, { recursive: true });
    const file = path.join(dir, 'model.json');
    const card = JSON.parse(readFileSync(file, 'utf8'));
    edit(card);
    writeFileSync(file, JSON.stringify(card));
    return dir;
  }

  it('card/ONNX mismatch: grid, output names, dtypes, contract version, sha256 are each named', async () => {
    const cases: [string, (c: Record<string, any>) => void, RegExp][] = [
      ['grid', (c) => { c.image_size = 128; c.grid = 8; c.config.image_res = 128; },
        /image_encoder\.onnx input "image" has shape \[\w+,3,64,64\], the engine needs \[\?,3,128,128\]/],
      ['output-name', (c) => { c.outputs['grounding.onnx'][1].name = 'cam'; }, /grounding\.onnx has no output "cam" \(the card records it/],
      ['dtype', (c) => { c.inputs['grounding.onnx'][1].dtype = 'int32'; }, /grounding\.onnx input "input_ids" is int64, the card records int32/],
      ['width', (c) => { c.config.vision_width = 48; }, /"image_embeds" has shape \[\w+,17,32\], the engine needs \[\?,17,48\]/],
      ['contract', (c) => { c.contract_version = 2; }, /contract_version is 2/],
      ['sha', (c) => { c.sha256['grounding.onnx'] = '0'.repeat(64); }, /grounding\.onnx has sha256 [0-9a-f]{12}…, the card records 000000000000…/],
      ['sep', (c) => { c.add_sep = true; }, /add_sep is true/],
      ['resampling', (c) => { c.resampling = 'area'; }, /resampling "area" is not one of/],
    ];
    for (const [name, edit, expected] of cases) {
      const dir = cardVariant(name, edit);
      await assert.rejects(InferenceEngine.open(dir), (e: Error) => {
        assert.match(e.message, expected, `case ${name}: ${e.message}`);
        assert.ok(e.message.includes(path.join(dir, 'model.json')), `case ${name} names the card file`);
        return true;
      });
    }
  });

  it('CUDA requested without its libraries: clear error under "cuda", CPU fallback with the reason under "auto"', async () => {
    const graph = path.join(tinyDir, 'image_encoder.onnx');
    let cudaWorks = false;
    try {
      const s = await openSession(graph, { provider: 'cuda' });
      cudaWorks = s.provider === 'cuda';
      await s.session.release();
    } catch (e) {
      assert.ok(e instanceof ProviderError);
      assert.match((e as Error).message, /CUDA was requested \(provider "cuda"\) but cannot be used: .*ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node/);
    }
    const auto = await openSession(graph, { provider: 'auto' });
    assert.equal(auto.provider, cudaWorks ? 'cuda' : 'cpu');
    if (!cudaWorks) {
      // Plain words for headers and reports; onnxruntime's own text kept apart for --verbose / the output channel.
      assert.equal(auto.providerNote, 'CPU — CUDA provider not installed');
      assert.match(auto.providerDetail ?? '', /Failed to load shared library/);
    }
    await auto.session.release();
    if (!cudaWorks) await assert.rejects(InferenceEngine.open(tinyDir, { provider: 'cuda' }), (e: Error) => e.name === 'ProviderError');
  });
});

describe('model engine: split grounding graph (image-only frontier cached per image)', function () {
  this.timeout(120_000);
  let tmp: string;
  let dir: string;
  before(() => {
    tmp = tmpDir();
    dir = path.join(tmp, 'tiny-split');
    cpSync(tinyDir, dir, { recursive: true });
    const r = spawnSync(process.env.AMC_PYTHON || '/usr/bin/python3', [path.join(root, 'bench/eval/split_grounding.py'), dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('gives the same numbers as the whole grounding graph, and the fixture', async () => {
    const fx = JSON.parse(readFileSync(path.join(dir, 'fixture.json'), 'utf8')) as Fixture;
    const images = writeFixtureImages(tmp, fx);
    const whole = await ModelRuntime.open(dir, { splitGrounding: false });
    const split = await ModelRuntime.open(dir);
    try {
      assert.equal(split.usesSplitGrounding, true);
      assert.equal(whole.usesSplitGrounding, false);
      const samples = fx.phrases.flatMap((p, i) => [sample(2 * i, images[i], p, [[1, 1, 30, 30]]), sample(2 * i + 1, images[i], `the other ${p}`, [[1, 1, 30, 30]])]);
      const a = await whole.explainSamples(samples);
      const b = await split.explainSamples(samples);
      for (let i = 0; i < samples.length; i++) {
        const x = a[i], y = b[i];
        assert.ok(!('error' in x) && !('error' in y));
        assert.ok(Math.abs(x.score - y.score) < 1e-5);
        assertClose(y.gradcam, x.gradcam, 1e-5, `sample ${i}`);
        assert.deepEqual(y.point, x.point);
      }
      const r = await split.explain(images[0], fx.phrases[0]);
      assertClose([r.score], [fx.itm_logits[0][1]], 1e-4, 'fixture ITM logit through the split graphs');
    } finally {
      await whole.dispose();
      await split.dispose();
    }
  });

  it('refuses split graphs cut from another grounding.onnx', async () => {
    const file = path.join(dir, 'grounding_split.json');
    const meta = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...meta, source_sha256: 'f'.repeat(64) }));
    try {
      await assert.rejects(ModelRuntime.open(dir), (e: Error) => e.name === 'ModelCardError' && /was cut from a grounding\.onnx with sha256 ffffffffffff/.test(e.message));
    } finally {
      writeFileSync(file, JSON.stringify(meta));
    }
  });
});
