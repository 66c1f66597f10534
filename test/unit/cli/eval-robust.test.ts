// `amc eval` / `amc explain` on hostile and broken inputs, run as child processes from a bundle built like the
// shipped one: images that are devices, FIFOs, folders or over the size cap are refused within seconds and
// reported as not scored with their reason; an accuracy never hides the queries it leaves out (exit 1); --out is
// checked before any compute; SIGTERM/SIGHUP keep the partial report; --threads is range-checked; phrases longer
// than the training length run (docs/reference.md §4.2: evaluation does not truncate); a vocabulary that is not the model's is
// refused.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { validateEvalReport } from '../../../src/core/evalReportSchema';
import type { EvalReport } from '../../../src/model/evaluate';
import { amc, amcChild, BUNDLED_MODEL as BUNDLED, svgPng, SYNTH, cliSuite, TINY_MODEL as TINY } from './helpers';

/** A VG-style annotation file (one query per image path, absolute paths, one box each). */
function vgFile(file: string, images: string[], phrase = 'the red circle'): string {
  writeFileSync(file, JSON.stringify(images.map((image) => ({ image, caption: phrase, bbox: [[30, 40, 100, 100]] }))));
  return file;
}

describe('amc eval / explain on hostile and broken inputs', function () {
  this.timeout(240_000);
  const tmp = cliSuite('amc-robust-');
  let good: string;

  before(async () => {
    good = await svgPng(path.join(tmp(), 'good.png'), '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200">' +
      '<rect width="300" height="200" fill="#285aa0"/><circle cx="80" cy="90" r="50" fill="#dc1e1e"/></svg>');
  });

  it('images that are /dev/zero, /dev/urandom, a FIFO, a folder or over --max-file-mb: refused within seconds, each listed as not scored with its reason, exit 1', () => {
    const fifo = path.join(tmp(), 'pipe.jpg');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const folder = path.join(tmp(), 'folder.jpg');
    mkdirSync(folder);
    const big = path.join(tmp(), 'big.jpg');
    writeFileSync(big, '');
    truncateSync(big, 2 * 1024 * 1024 + 1); // a regular file over the 1 MB cap asked for below
    const images = [good, '/dev/zero', '/dev/urandom', fifo, folder, big];
    const file = vgFile(path.join(tmp(), 'hostile.json'), images);
    const out = path.join(tmp(), 'hostile-report.json');
    const r = amc(['eval', file, '--model', TINY, '--out', out, '--max-file-mb', '1'], { timeout: 60_000 });
    assert.notEqual(r.code, null, `killed after ${r.seconds} s (hung or ran away): ${r.stderr.slice(-500)}`);
    assert.ok(r.seconds < 30, `took ${r.seconds} s`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^scored 1 of 6; 5 not scored: /m);
    assert.match(r.stdout, /image is a character device \(2\)/);
    assert.match(r.stdout, /image is a FIFO \(named pipe\) \(1\)/);
    assert.match(r.stdout, /image is a directory \(1\)/);
    assert.match(r.stdout, /image over the size limit \(1\)/);
    const rep = JSON.parse(readFileSync(out, 'utf8')) as EvalReport;
    assert.equal(rep.counts.evaluated, 1);
    assert.equal(rep.counts.notScored, 5);
    assert.deepEqual(rep.notScored.map((g) => g.count).reduce((a, b) => a + b, 0), 5);
    for (const row of rep.samples.slice(1)) {
      assert.ok(row.error?.includes(row.image), `${row.image}: the message names the file: ${row.error}`);
      assert.ok(row.reason, `${row.image} has a reason`);
      assert.equal(row.hit, undefined);
    }
    assert.match(rep.samples[5].error!, /over the 1\.0 MB limit/);
    // every refused image named on stderr
    for (const image of images.slice(1)) assert.ok(r.stderr.includes(`not scored: `) && r.stderr.includes(image), `${image} on stderr`);
  });

  it('explain on /dev/zero: refused at once naming the file, exit 2', () => {
    const r = amc(['explain', '/dev/zero', 'a cat', '--model', TINY], { timeout: 30_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /\/dev\/zero: the image is a character device, not a regular file; refused/);
  });

  it('7 bad images of 11: "scored 4 of 11; 7 not scored" beside the accuracy, exit 1 (was "4/4 100 %", exit 0)', () => {
    const images = [
      ...Array.from({ length: 4 }, () => good),
      ...Array.from({ length: 6 }, (_, i) => path.join(tmp(), `missing-${i}.jpg`)),
      '/dev/zero',
    ];
    const out = path.join(tmp(), 'seven-report.json');
    const r = amc(['eval', vgFile(path.join(tmp(), 'seven.json'), images), '--model', TINY, '--out', out]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^scored 4 of 11; 7 not scored: image not found \(6\), image is a character device \(1\)$/m);
    const rep = JSON.parse(readFileSync(out, 'utf8')) as EvalReport;
    assert.deepEqual(rep.notScored, [{ reason: 'image not found', count: 6 }, { reason: 'image is a character device', count: 1 }]);
    // the not-scored rows are schema-1 rows (error and reason, no point/hit/losses)
    assert.deepEqual(validateEvalReport(rep), []);
    assert.equal(rep.summary, 'scored 4 of 11; 7 not scored: image not found (6), image is a character device (1)');
  });

  it('all images missing: accuracy "—" (not NaN), "scored 0 of 3", exit 1 (was "0/0 NaN %", exit 0)', () => {
    const images = [0, 1, 2].map((i) => path.join(tmp(), `gone-${i}.jpg`));
    const out = path.join(tmp(), 'none-report.json');
    const r = amc(['eval', vgFile(path.join(tmp(), 'none.json'), images), '--model', TINY, '--out', out]);
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stdout, /NaN/);
    assert.match(r.stdout, /^all\s+0 \/ 0\s+—$/m);
    assert.match(r.stdout, /^scored 0 of 3; 3 not scored: image not found \(3\)$/m);
    assert.match(r.stderr, new RegExp(`not scored: .*gone-0\\.jpg: image file not found`));
  });

  it('--out in a missing folder or naming a folder: refused before any compute, exit 2', () => {
    const file = vgFile(path.join(tmp(), 'one.json'), [good]);
    const missing = path.join(tmp(), 'no-such-folder', 'report.json');
    let r = amc(['eval', file, '--model', TINY, '--out', missing]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`--out ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the folder .*no-such-folder does not exist`));
    assert.doesNotMatch(r.stderr, /\d+\/\d+ \d+%/, 'no progress: nothing was computed');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    r = amc(['eval', file, '--model', TINY, '--out', tmp()]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /is a folder; give a file name for the JSON report/);
  });

  for (const [signal, code] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    it(`${signal} during eval writes the partial report marked interrupted (exit ${code})`, async () => {
      const entries = JSON.parse(readFileSync(path.join(SYNTH, 'vg_test.json'), 'utf8')) as unknown[];
      const file = path.join(tmp(), `many-${signal}.json`);
      writeFileSync(file, JSON.stringify(Array.from({ length: 400 }, (_, i) => entries[i % entries.length])));
      const out = path.join(tmp(), `partial-${signal}.json`);
      const { code: exit, stdout, stderr } = await amcChild(['eval', file, '--image-root', SYNTH, '--model', TINY, '--out', out, '--batch', '1'],
        { interrupt: { when: /\d+\/400/, signal } });
      assert.equal(exit, code, stderr);
      const rep = JSON.parse(readFileSync(out, 'utf8')) as EvalReport;
      assert.equal(rep.interrupted, true);
      assert.ok(rep.samples.length > 0 && rep.samples.length < 400, `${rep.samples.length} samples`);
      assert.match(stdout, /INTERRUPTED: partial report/);
      assert.match(stderr, new RegExp(`interrupted \\(${signal}\\)`));
    });
  }

  it('--threads -1 and --threads 1024: one clear line naming the flag and the range, exit 2 (not "ambiguous", no hang)', () => {
    const file = vgFile(path.join(tmp(), 'threads.json'), [good]);
    for (const value of ['-1', '1024', 'x']) {
      const r = amc(['eval', file, '--model', TINY, '--out', path.join(tmp(), 't.json'), '--threads', value], { timeout: 30_000 });
      assert.equal(r.code, 2, `--threads ${value}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /ambiguous/);
      assert.match(r.stderr, new RegExp(`--threads must be 0 \\(onnxruntime chooses\\) or 1\\.\\.\\d+ .*got '${value}'`));
    }
    const r = amc(['explain', good, 'a red circle', '--model', TINY, '--out', path.join(tmp(), 'th.png'), '--threads=-1'], { timeout: 30_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--threads must be 0 \(onnxruntime chooses\) or 1\.\.\d+/);
    const ok = amc(['explain', good, 'a red circle', '--model', TINY, '--out', path.join(tmp(), 'th.png'), '--threads', '2'], { timeout: 60_000 });
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('a 40-word phrase on the bundled model (max_text_length 25) is explained whole, as the reference evaluation does', () => {
    const phrase = Array.from({ length: 40 }, (_, i) => ['the', 'red', 'circle', 'on', 'left', 'of', 'a', 'blue', 'square', 'big'][i % 10]).join(' ');
    const r = amc(['explain', good, phrase, '--model', BUNDLED, '--out', path.join(tmp(), 'long.png'), '--json'], { timeout: 90_000 });
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { tokens: string[]; tokenGradcam: number[][]; gradcam: number[] };
    assert.equal(j.tokens.length, 41, 'the whole phrase: [CLS] + 40 wordpieces, not cut to 25');
    assert.equal(j.tokenGradcam.length, 41);
    assert.ok(j.gradcam.every(Number.isFinite));
  });

  it('a phrase beyond the position table (512) is refused naming the limit', () => {
    // 50 words (pre_caption's max) of ~100 letters: hundreds of wordpieces
    const word = 'qzxv'.repeat(24);
    const phrase = Array.from({ length: 50 }, () => word).join(' ');
    const r = amc(['explain', good, phrase, '--model', TINY, '--out', path.join(tmp(), 'too-long.png')], { timeout: 60_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /tokens \(\[CLS\] \+ \d+ wordpieces\); the model takes at most 512 \(its text position table, config\.max_position in model\.json\)/);
  });

  it('a vocab.txt that differs from the exported one is refused naming the file and both hashes; a card without vocab_sha256 gets a note', () => {
    const dir = path.join(tmp(), 'shuffled-model');
    mkdirSync(dir);
    for (const f of readdirSync(BUNDLED)) copyFileSync(path.join(BUNDLED, f), path.join(dir, f));
    const vocabFile = path.join(dir, 'vocab.txt');
    const lines = readFileSync(vocabFile, 'utf8').split('\n');
    const a = lines.indexOf('red'), b = lines.indexOf('blue');
    assert.ok(a > 0 && b > 0);
    [lines[a], lines[b]] = [lines[b], lines[a]];
    writeFileSync(vocabFile, lines.join('\n'));
    const card = JSON.parse(readFileSync(path.join(BUNDLED, 'model.json'), 'utf8')) as Record<string, unknown>;
    const shuffledSha = spawnSync('sha256sum', [vocabFile], { encoding: 'utf8' }).stdout.split(' ')[0];
    let r = amc(['explain', good, 'the red circle', '--model', dir, '--out', path.join(tmp(), 'v.png')]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(vocabFile), r.stderr);
    assert.ok(r.stderr.includes(shuffledSha) && r.stderr.includes(String(card.vocab_sha256)), r.stderr);
    // an older card without the field: accepted, with a note saying the vocabulary cannot be checked
    delete card.vocab_sha256;
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify(card, null, 2));
    copyFileSync(path.join(BUNDLED, 'vocab.txt'), vocabFile);
    r = amc(['explain', good, 'the red circle', '--model', dir, '--out', path.join(tmp(), 'v.png')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /note: .*model\.json: the card records no vocab_sha256/);
    assert.ok(existsSync(path.join(tmp(), 'v.png')));
  });
});
