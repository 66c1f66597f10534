// `amc explain`, `amc eval` and `amc demo` run as child processes from an esbuild bundle built like the shipped
// one (out/cli.js + out/worker.js), on the tiny exported test model and the bundled synthetic set; plus the
// agreement of `amc eval` with the trainer's PyTorch evaluation, sample for sample.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { checkReportMatches, validateEvalReport } from '../../../src/core/evalReportSchema';
import type { EvalReport } from '../../../src/model/evaluate';
import {
  amc as runAmc, amcChild, BUNDLED_MODEL as BUNDLED, buildCli, ROOT, svgPng, SYNTH, cliSuite, TINY_MODEL as TINY,
  TORCH_PYTHON as python,
} from './helpers';

const FLICKR_TEST = path.join(SYNTH, 'flickr30k', 'bounding_boxes_test.json');
const REFCOCO_TEST = path.join(SYNTH, 'refcoco+_test.json');
const amc = (...args: string[]) => runAmc(args);

describe('amc explain / eval / demo', function () {
  this.timeout(180_000);
  const tmp = cliSuite('amc-cli-');
  let scene: string;
  let tinyItm: string; // the tiny model with a card that says its ITM head was trained

  before(async () => {
    scene = await svgPng(path.join(tmp(), 'scene.png'), '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200">' +
      '<rect width="300" height="200" fill="#285aa0"/><circle cx="80" cy="90" r="50" fill="#dc1e1e"/>' +
      '<rect x="180" y="90" width="100" height="90" fill="#f0dc28"/></svg>');
    tinyItm = path.join(tmp(), 'tiny-itm');
    cpSync(TINY, tinyItm, { recursive: true });
    const card = JSON.parse(readFileSync(path.join(tinyItm, 'model.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(tinyItm, 'model.json'), JSON.stringify({ ...card, itm_trained: true }));
  });

  it('explain writes the side-by-side figure and prints score and point', async () => {
    const out = path.join(tmp(), 'fig.png');
    const r = amc('explain', scene, 'a red circle', '--model', tinyItm, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^score -?\d+\.\d{4} \(ITM match logit; p = \d\.\d{4}\)$/m);
    assert.match(r.stdout, /^point \(\d+, \d+\) in 300×200 px$/m);
    assert.match(r.stdout, /^tokens \[CLS\] a red circle$/m);
    // The provider is said once, in plain words; onnxruntime's raw loader text only under --verbose.
    assert.match(r.stdout, /^model tiny-random-test on (CPU — CUDA provider not installed|cuda)$/m);
    assert.doesNotMatch(r.stdout + r.stderr, /OrtSessionOptionsAppendExecutionProvider/);
    const meta = await sharp(out).metadata();
    assert.equal(meta.format, 'png');
    // two 320-px-high panels of a 3:2 image side by side, plus header and token strip
    assert.ok(meta.width! >= 2 * 480 && meta.height! > 320 + 96, `${meta.width}×${meta.height}`);
  });

  it('explain --json gives the raw map, per-token maps and the point', () => {
    const r = amc('explain', scene, 'the yellow square', '--model', TINY, '--out', path.join(tmp(), 'fig2.png'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.grid, 4);
    assert.equal(j.gradcam.length, 16);
    assert.deepEqual(j.tokens, ['[CLS]', 'the', 'yellow', 'square']);
    assert.equal(j.tokenGradcam.length, 4);
    assert.ok(j.point.x >= 0 && j.point.x < 300 && j.point.y >= 0 && j.point.y < 200);
    // the tiny card does not say whether its ITM head was trained: no score, and why
    assert.equal(j.score, null);
    assert.equal(j.itmProbability, null);
    assert.match(j.itmNote, /does not say whether the ITM head was trained/);
  });

  it('explain shows no ITM score for a model whose ITM head was not trained (the bundled model), and says why', () => {
    const r = amc('explain', scene, 'a red circle', '--model', BUNDLED, '--out', path.join(tmp(), 'fig-bundled.png'));
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /p = |ITM match logit|^score -?\d/m);
    assert.match(r.stdout, /^score not shown: ITM head not trained for this model — only the GradCAM is meaningful$/m);
    assert.match(r.stdout, /^point \(\d+, \d+\) in 300×200 px$/m);
    const j = JSON.parse(amc('explain', scene, 'a red circle', '--model', BUNDLED, '--out', path.join(tmp(), 'fig-b2.png'), '--json').stdout);
    assert.equal(j.score, null);
    assert.match(j.itmNote, /^ITM head not trained/);
  });

  it('explain: bad input exits 2 with a message naming what is wrong', () => {
    const missing = path.join(tmp(), 'missing.jpg');
    let r = amc('explain', missing, 'a cat', '--model', TINY);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: image file not found`));
    r = amc('explain', scene, '?!', '--model', TINY);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no words left after cleaning/);
    r = amc('explain', scene, 'x', '--model', path.join(tmp(), 'nomodel'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /model folder not found/);
    r = amc('explain', scene, 'x', '--model', TINY, '--provider', 'cuda');
    if (r.code !== 0) assert.match(r.stderr, /CUDA was requested/);
    r = amc('explain', scene);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /expected IMAGE and "PHRASE"/);
  });

  it('eval writes a JSON report: every sample with hit, point, L_mean, L_max, score; accuracy per split; K worst', () => {
    const out = path.join(tmp(), 'report.json');
    const r = amc('eval', REFCOCO_TEST, '--model', TINY, '--out', out, '--worst', '5', '--batch', '4');
    assert.equal(r.code, 0, r.stderr);
    const text = readFileSync(out, 'utf8');
    const rep = JSON.parse(text) as EvalReport;
    assert.equal(rep.interrupted, false);
    assert.equal(rep.samples.length, rep.counts.queries);
    // The layout both writers use (docs/reference.md §8): indented, each sample compact on a line of its own.
    const lines = text.split('\n');
    const first = lines.indexOf(' "samples": [') + 1;
    assert.ok(first > 0 && lines[0] === '{' && lines[1].startsWith(' "'), 'header indented by one space');
    assert.deepEqual(lines.slice(first, first + rep.samples.length).map((l) => JSON.parse(l.replace(/,$/, '')) as unknown), rep.samples);
    assert.equal(lines[first + rep.samples.length], ' ]');
    // Each sample's floats with at most 9 significant digits, the float32 round-trip precision (docs/reference.md §8).
    const floats = lines.slice(first, first + rep.samples.length).flatMap((l) =>
      [...l.matchAll(/"(?:score|itmProbability|lMean|lMax|total)":-?([\d.]+)(?:e|,|\})/g)].map((m) => m[1].replace('.', '').replace(/^0+/, '')));
    assert.ok(floats.length >= 4 * rep.samples.length && floats.every((d) => d.length <= 9), floats.find((d) => d.length > 9));
    assert.ok(rep.samples.length >= 10);
    for (const s of rep.samples) {
      assert.equal(typeof s.hit, 'boolean');
      assert.ok(Number.isInteger(s.point!.x) && Number.isInteger(s.point!.y));
      for (const k of ['lMean', 'lMax', 'score'] as const) assert.ok(Number.isFinite(s[k]), `${k} of ${s.id}`);
    }
    assert.deepEqual(rep.accuracy.map((a) => a.split).sort(), ['all', 'testA', 'testB']);
    const all = rep.accuracy.find((a) => a.split === 'all')!;
    assert.equal(all.total, rep.samples.length);
    assert.equal(all.hits, rep.samples.filter((s) => s.hit).length);
    assert.equal(rep.worst.length, 5);
    assert.match(r.stdout, /^testA\s+\d+ \/ \d+\s+\d+\.\d\d%$/m);
    assert.ok(r.stdout.includes(`report ${out}`));
  });

  it('eval of a file without splits prints and reports the all row alone, no "(none)" row (issue 14 item 4)', () => {
    const out = path.join(tmp(), 'report-vg.json');
    const r = amc('eval', path.join(SYNTH, 'region_descriptions.json'), '--model', TINY, '--out', out, '--limit', '4');
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(readFileSync(out, 'utf8')) as EvalReport;
    assert.deepEqual(rep.accuracy.map((a) => [a.split, a.total]), [['all', 4]]);
    assert.match(r.stdout, /^all\s+\d+ \/ 4\s+\d+\.\d\d%$/m);
    assert.doesNotMatch(r.stdout, /\(none\)/);
  });

  it('eval --split and --limit', () => {
    const out = path.join(tmp(), 'report-a.json');
    let r = amc('eval', REFCOCO_TEST, '--model', TINY, '--out', out, '--split', 'testA', '--limit', '3');
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(readFileSync(out, 'utf8')) as EvalReport;
    assert.equal(rep.samples.length, 3);
    assert.ok(rep.samples.every((s) => s.split === 'testA'));
    r = amc('eval', REFCOCO_TEST, '--model', TINY, '--out', out, '--split', 'nope');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no boxed queries to evaluate in split 'nope' \(splits in this file: test[AB], test[AB]\)/);
  });

  it('eval of a file with no boxed queries exits 2 and says so', () => {
    const file = path.join(tmp(), 'nobox.json');
    writeFileSync(file, JSON.stringify([{ image: 'a.jpg', caption: 'a cat', bbox: [] }, { image: 'b.jpg', caption: 'a dog', bbox: [] }]));
    const r = amc('eval', file, '--model', TINY, '--out', path.join(tmp(), 'nobox-report.json'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nobox\.json: no boxed queries to evaluate: 2 sample\(s\) read, 2 without a box/);
    assert.ok(!existsSync(path.join(tmp(), 'nobox-report.json')));
  });

  it('Ctrl-C (SIGINT) during eval keeps the partial report', async () => {
    // 400 queries over the synthetic images: long enough to interrupt after the first page
    const entries = JSON.parse(readFileSync(path.join(SYNTH, 'vg_test.json'), 'utf8')) as unknown[];
    const many = Array.from({ length: 400 }, (_, i) => entries[i % entries.length]);
    const file = path.join(tmp(), 'many.json');
    writeFileSync(file, JSON.stringify(many));
    const out = path.join(tmp(), 'partial.json');
    try {
      const { code, stdout, stderr } = await amcChild(['eval', file, '--image-root', SYNTH, '--model', TINY, '--out', out, '--batch', '1'],
        { interrupt: { when: /\d+\/400/, signal: 'SIGINT' } });
      assert.equal(code, 130, stderr);
      const rep = JSON.parse(readFileSync(out, 'utf8')) as EvalReport;
      assert.equal(rep.interrupted, true);
      assert.ok(rep.samples.length > 0 && rep.samples.length < 400, `${rep.samples.length} samples`);
      assert.match(stdout, /INTERRUPTED: partial report/);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('demo writes an HTML report (image | box mask | GradCAM per sample, accuracy per split) and prints its path', () => {
    const out = path.join(tmp(), 'demo');
    const r = amc('demo', '--model', TINY, '--out', out, '--limit', '4');
    assert.equal(r.code, 0, r.stderr);
    const html = path.join(out, 'index.html');
    assert.ok(r.stdout.trim().endsWith(`report ${html}`));
    const text = readFileSync(html, 'utf8');
    assert.match(text, /pointing-game accuracy/);
    assert.match(text, /<td>testA<\/td>|<td>testB<\/td>/);
    const imgs = [...text.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(imgs.length, 2 * 4 * 3); // two sets × 4 samples × (image, mask, GradCAM)
    for (const src of imgs) assert.ok(existsSync(path.join(out, src)), src);
    assert.ok(imgs.some((s) => s.endsWith('-mask.png')) && imgs.some((s) => s.endsWith('-gradcam.png')));
    // the tiny card does not say whether ITM was trained: no score per sample, and the reason at the top
    assert.doesNotMatch(text, /<p class="metrics">score /);
    assert.match(text, /ITM scores are not shown:<\/b> the model card does not say whether the ITM head was trained/);
  });

  it('demo shows per-sample ITM scores only for a model whose ITM head was trained', () => {
    const out = path.join(tmp(), 'demo-itm');
    const r = amc('demo', '--model', tinyItm, '--out', out, '--limit', '2');
    assert.equal(r.code, 0, r.stderr);
    const text = readFileSync(path.join(out, 'index.html'), 'utf8');
    assert.match(text, /<p class="metrics">score -?\d/);
    assert.doesNotMatch(text, /ITM scores are not shown/);
  });
});

describe('agreement: amc eval vs the trainer PyTorch eval (tiny model, synthetic test sets)', function () {
  this.timeout(300_000);
  before(() => buildCli());

  it('both write report schema 1 (valid for the TS and the Python validator, matching the tiny card and the file); same hit and score for every query, same point up to a one-pixel near-tie, lMean/lMax within 1e-4', () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'amc-agree-'));
    try {
      const card = JSON.parse(readFileSync(path.join(TINY, 'model.json'), 'utf8')) as { name: string; sha256: Record<string, string> };
      for (const f of [FLICKR_TEST, REFCOCO_TEST]) {
        const ourFile = path.join(tmp, `ts-${path.basename(f)}.json`);
        const refFile = path.join(tmp, `py-${path.basename(f)}.json`);
        const r = amc('eval', f, '--model', TINY, '--out', ourFile);
        assert.equal(r.code, 0, r.stderr);
        const py = spawnSync(python, ['-m', 'amc_trainer', 'eval', '--checkpoint', path.join(ROOT, 'test/fixtures/model/tiny.pth'),
          '--data', f, '--out', refFile, '--card', TINY, '--batch-size', '8', '--device', 'cpu'],
        { cwd: path.join(ROOT, 'trainer'), encoding: 'utf8', timeout: 240_000 });
        assert.equal(py.status, 0, py.stderr);
        const ourReport = JSON.parse(readFileSync(ourFile, 'utf8')) as EvalReport;
        const refReport = JSON.parse(readFileSync(refFile, 'utf8')) as EvalReport;
        // One schema: both validate with the TypeScript validator and with the trainer's.
        for (const [file, rep] of [[ourFile, ourReport], [refFile, refReport]] as const) {
          assert.deepEqual(validateEvalReport(rep), [], file);
          const check = spawnSync(python, ['-c', 'import sys, json\nfrom amc_trainer.eval_report import validate_report\n' +
            'print(json.dumps(validate_report(json.load(open(sys.argv[1])))))', file], { cwd: path.join(ROOT, 'trainer'), encoding: 'utf8' });
          assert.equal(check.status, 0, check.stderr);
          assert.deepEqual(JSON.parse(check.stdout), [], `python validate_report ${file}`);
          // Both name the tiny model by its card and the annotation file by name and size.
          assert.equal(checkReportMatches(rep, { modelName: card.name, modelSha256: card.sha256['grounding.onnx'], datasetFile: f, datasetSize: statSync(f).size }), null, file);
        }
        assert.equal(refReport.model.name, card.name);
        assert.match(String(refReport.model.checkpointSha256), /^[0-9a-f]{64}$/);
        assert.equal(refReport.dataset.format, ourReport.dataset.format);
        const ours = ourReport.samples, ref = refReport.samples;
        assert.equal(ours.length, ref.length, `${f}: query count`);
        // Same hit for every query. The point may move by one pixel on a near-tie of the upsampled map (onnxruntime
        // and PyTorch sum in different orders, ~1e-7 relative; src/model/README.md "Agreement"), never further.
        const differ = ours.filter((o, i) => o.id !== ref[i].id || o.hit !== ref[i].hit || Math.abs(o.point!.x - ref[i].point!.x) > 1 ||
          Math.abs(o.point!.y - ref[i].point!.y) > 1 || Math.abs(o.score! - ref[i].score!) > 1e-3 || o.split !== ref[i].split);
        assert.deepEqual(differ.map((d) => d.id), [], `${f}: ${differ.length} of ${ours.length} queries differ`);
        const exact = ours.filter((o, i) => o.point!.x === ref[i].point!.x && o.point!.y === ref[i].point!.y).length;
        assert.ok(exact >= 0.8 * ours.length, `${f}: only ${exact} of ${ours.length} points identical`);
        // The training losses at batch size 1 on the query's box(es), computed by both sides (docs/reference.md §2).
        const worst = Math.max(...ours.map((o, i) => Math.max(Math.abs(o.lMean! - ref[i].lMean!), Math.abs(o.lMax! - ref[i].lMax!))));
        assert.ok(worst <= 1e-4, `${f}: lMean/lMax differ by up to ${worst}`);
        assert.ok(new Set(ref.map((q) => q.lMax)).size > 1, `${f}: the losses vary from query to query`);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
