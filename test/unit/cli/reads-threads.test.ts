// Image reads of dataset-named paths go through the bounded reader (regular files under a cap; sharp never opens a
// path itself), the --threads / amc.threads range, the not-scored summary line, and the card's vocab_sha256.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { joinNegativeValues, maxFileBytesOption, threadsOption } from '../../../src/cli/options';
import { formatAccuracy, groupNotScored, scoredSummary } from '../../../src/core/notScored';
import { clampThreadsSetting, maxThreads, threadsProblem, THREADS_CAP } from '../../../src/core/threads';
import { MemoryDataset } from '../../../src/editor/memoryDataset';
import { parseModelCard } from '../../../src/model/card';
import { evaluateDataset } from '../../../src/model/evaluate';
import { ImageError, readImageBytes, storedSize } from '../../../src/model/image';
import { BertTokenizer } from '../../../src/model/tokenizer';

const ROOT = path.join(__dirname, '..', '..', '..');

/** Resolves to the error (or 'resolved') and how long it took; fails after `ms` instead of hanging. */
async function settle<T>(p: Promise<T>, ms = 3000): Promise<{ error?: unknown; seconds: number }> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms); });
  try {
    await Promise.race([p, timeout]);
    return { seconds: (performance.now() - t0) / 1000 };
  } catch (error) {
    return { error, seconds: (performance.now() - t0) / 1000 };
  } finally {
    clearTimeout(timer);
  }
}

describe('image reads are bounded and only of regular files', function () {
  this.timeout(20_000);
  let tmp: string;
  let fifo: string;
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'amc-reads-'));
    fifo = path.join(tmp, 'pipe.png');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const cases: [string, () => string, RegExp, string, number?][] = [
    ['/dev/zero', () => '/dev/zero', /the image is a character device, not a regular file; refused/, 'image is a character device'],
    ['/dev/urandom', () => '/dev/urandom', /the image is a character device, not a regular file; refused/, 'image is a character device'],
    ['a FIFO', () => fifo, /the image is a FIFO \(named pipe\), not a regular file; refused/, 'image is a FIFO (named pipe)'],
    ['a folder', () => { const d = path.join(tmp, 'dir.png'); mkdirSync(d, { recursive: true }); return d; }, /the image is a directory/, 'image is a directory'],
    ['a file over the cap', () => { const f = path.join(tmp, 'big.png'); writeFileSync(f, ''); truncateSync(f, 3 << 20); return f; },
      /the image is 3\.0 MB, over the 1\.0 MB limit; refused/, 'image over the size limit', 1 << 20],
    ['a missing file', () => path.join(tmp, 'nope.png'), /image file not found/, 'image not found'],
  ];
  for (const [name, make, message, reason, cap] of cases) {
    it(`${name}: refused within a second with the file and the reason`, async () => {
      const file = make();
      const r = await settle(readImageBytes(file, cap));
      assert.ok(r.error instanceof ImageError, `expected an ImageError, got ${String(r.error)}`);
      assert.ok(r.seconds < 1, `${r.seconds} s`);
      const e = r.error as ImageError;
      assert.ok(e.message.startsWith(`${file}: `), e.message);
      assert.match(e.message, message);
      assert.equal(e.reason, reason);
    });
  }

  it('storedSize (EXIF orientation probe) reads through the bounded reader: a FIFO or device returns at once', async () => {
    for (const file of [fifo, '/dev/zero']) {
      const t0 = performance.now();
      const r = await Promise.race([storedSize(file), new Promise((res) => setTimeout(() => res('hung'), 3000))]);
      assert.equal(r, undefined, `${file}: ${String(r)}`);
      assert.ok(performance.now() - t0 < 1000);
    }
    const png = path.join(tmp, 'ok.png');
    await sharp({ create: { width: 30, height: 20, channels: 3, background: '#123456' } }).png().toFile(png);
    assert.deepEqual(await storedSize(png), { width: 30, height: 20, orientation: 1 });
  });

  it('a regular image under the cap is read whole', async () => {
    const png = path.join(tmp, 'ok2.png');
    await sharp({ create: { width: 30, height: 20, channels: 3, background: '#654321' } }).png().toFile(png);
    assert.deepEqual(await readImageBytes(png, 1 << 20), readFileSync(png));
  });
});

describe('threads range (--threads, amc.threads)', () => {
  it('0..4 × cores, at most 64', () => {
    assert.equal(maxThreads(1), 4);
    assert.equal(maxThreads(2), 8);
    assert.equal(maxThreads(16), 64);
    assert.equal(maxThreads(256), THREADS_CAP);
    assert.equal(threadsProblem(0, 8), undefined);
    assert.equal(threadsProblem(8, 8), undefined);
    for (const bad of [-1, 9, 1024, 1.5, NaN]) assert.match(threadsProblem(bad, 8)!, /threads must be 0 \(onnxruntime chooses\) or 1\.\.8/);
  });

  it('CLI: --threads -1 reaches the range check instead of parseArgs\' "ambiguous" error; values outside are usage errors', () => {
    assert.deepEqual(joinNegativeValues(['f.json', '--threads', '-1', '--limit', '3'], ['threads']), ['f.json', '--threads=-1', '--limit', '3']);
    assert.deepEqual(joinNegativeValues(['--threads', '4', '--json'], ['threads']), ['--threads', '4', '--json']);
    assert.equal(threadsOption(undefined), undefined);
    assert.equal(threadsOption('0'), 0);
    assert.equal(threadsOption(String(maxThreads())), maxThreads());
    for (const bad of ['-1', String(maxThreads() + 1), '1024', 'two', '']) {
      assert.throws(() => threadsOption(bad), (e: Error) => e.name === 'UsageError' && /^--threads must be 0 \(onnxruntime chooses\) or 1\.\.\d+/.test(e.message) && e.message.includes(`got '${bad}'`));
    }
  });

  it('setting: out-of-range values are clamped with a warning naming amc.threads and the range', () => {
    assert.deepEqual(clampThreadsSetting(undefined, 8), { threads: 0 });
    assert.deepEqual(clampThreadsSetting(4, 8), { threads: 4 });
    const high = clampThreadsSetting(1024, 8);
    assert.equal(high.threads, 8);
    assert.match(high.warning!, /amc\.threads is 1024; accepted: 0 \(onnxruntime chooses\) or 1\.\.8/);
    assert.equal(clampThreadsSetting(-1, 8).threads, 0);
    assert.match(clampThreadsSetting(-1, 8).warning!, /amc\.threads is -1/);
    assert.equal(clampThreadsSetting('many', 8).threads, 0);
  });

  it('--max-file-mb: whole MB, at least 1', () => {
    assert.equal(maxFileBytesOption(undefined), 256 * 1024 * 1024);
    assert.equal(maxFileBytesOption('3'), 3 * 1024 * 1024);
    for (const bad of ['0', '-5', '1.5', 'x']) assert.throws(() => maxFileBytesOption(bad), /--max-file-mb must be a whole number of MB, at least 1/);
  });

  it('package.json: amc.maxFileMB and amc.threads are settings a Restricted-Mode workspace cannot set', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const props = pkg.contributes.configuration.properties;
    assert.equal(props['amc.maxFileMB'].default, 256);
    assert.equal(props['amc.maxFileMB'].minimum, 1);
    assert.ok(props['amc.maxFileMB'].markdownDescription);
    assert.equal(props['amc.threads'].maximum, THREADS_CAP);
    const restricted: string[] = pkg.capabilities.untrustedWorkspaces.restrictedConfigurations;
    for (const key of ['amc.threads', 'amc.maxFileMB', 'amc.modelPath', 'amc.pythonPath']) assert.ok(restricted.includes(key), key);
  });
});

describe('not-scored summary', () => {
  it('groups by reason, most frequent first, and puts the counts beside the accuracy', () => {
    const groups = groupNotScored(['image not found', 'image is a character device', 'image not found', 'image not found']);
    assert.deepEqual(groups, [{ reason: 'image not found', count: 3 }, { reason: 'image is a character device', count: 1 }]);
    assert.equal(scoredSummary(6, 10, groups), 'scored 6 of 10; 4 not scored: image not found (3), image is a character device (1)');
    assert.equal(scoredSummary(10, 10, []), 'scored 10 of 10');
    assert.equal(formatAccuracy(NaN), '—');
    assert.equal(formatAccuracy(0.5), '50.00%');
  });
});

describe('model card: vocab_sha256 and the position table', () => {
  const card = JSON.parse(readFileSync(path.join(ROOT, 'models', 'amc-small-synthetic', 'model.json'), 'utf8')) as Record<string, unknown>;

  it('the bundled card records the sha256 of its vocab.txt and its position table', () => {
    const parsed = parseModelCard(card, 'model.json');
    const actual = spawnSync('sha256sum', [path.join(ROOT, 'models', 'amc-small-synthetic', 'vocab.txt')], { encoding: 'utf8' }).stdout.split(' ')[0];
    assert.equal(parsed.vocabSha256, actual);
    assert.equal(parsed.maxTextLength, 25);
    assert.equal(parsed.maxPositions, 512);
    assert.deepEqual(parsed.warnings, []);
  });

  it('a malformed vocab_sha256 is a card problem; a missing one is accepted with a warning', () => {
    assert.throws(() => parseModelCard({ ...card, vocab_sha256: 'ABC' }, 'm.json'), /vocab_sha256 must be 64 lowercase hex digits/);
    const { vocab_sha256: _, ...older } = card;
    const parsed = parseModelCard(older, 'm.json');
    assert.equal(parsed.vocabSha256, undefined);
    assert.match(parsed.warnings.join('\n'), /m\.json: the card records no vocab_sha256/);
  });

  it('the tokenizer takes phrases up to the position table, not the training length', () => {
    const vocab = readFileSync(path.join(ROOT, 'models', 'amc-small-synthetic', 'vocab.txt'), 'utf8').split('\n').filter((l, i, a) => i < a.length - 1 || l);
    const tok = new BertTokenizer(vocab, { maxLength: 8, maxPositions: 12 });
    assert.equal(tok.encodePhrase('one two three four five six seven eight nine ten eleven').ids.length, 12);
    assert.throws(() => tok.encodePhrase('one two three four five six seven eight nine ten eleven twelve'), /13 tokens .* at most 12 \(its text position table/);
    // training truncation is unchanged
    assert.equal(tok.encodeCaptionTruncated('one two three four five six seven eight nine ten').ids.length, 8);
  });
});

describe('evaluateDataset keeps finished work', () => {
  it('an engine failure mid-run keeps the rows already scored and says why it stopped', async () => {
    const samples = Array.from({ length: 6 }, (_, i) => ({
      index: i, id: `s${i}`, image: `/img/${i}.png`, imageId: String(i), phrase: 'x', caption: 'x', boxes: [[0, 0, 4, 4]] as [number, number, number, number][],
      sourceBoxes: [[0, 0, 4, 4]] as [number, number, number, number][], hitRule: 'xyxy' as const, split: 'test', ids: {}, source: { file: '/d.json', entry: `[${i}]` },
    }));
    let calls = 0;
    const engine = {
      card: { name: 'fake', files: { grounding: { sha256: 'a'.repeat(64) } } }, modelDir: '/m', provider: 'cpu', providerNote: undefined,
      explainBatch: async (page: typeof samples) => {
        if (calls++ > 0) throw new Error('inference worker crashed: out of memory');
        return page.map((s) => (s.index === 1 ? { error: `/d.json ([1]): /img/1.png: image file not found`, reason: 'image not found' }
          : { hit: true, point: { x: 1, y: 1 }, score: 1, itmProbability: 0.7, lMean: 0, lMax: 0, total: 0, maskEmpty: false }));
      },
    };
    const report = await evaluateDataset(engine as never, new MemoryDataset('/d.json', 'amc-vg', samples), { pageSize: 3 });
    assert.equal(report.samples.length, 3);
    assert.equal(report.interrupted, true);
    assert.equal(report.stoppedBy, 'inference worker crashed: out of memory');
    assert.equal(report.summary, 'scored 2 of 3; 1 not scored: image not found (1)');
    assert.equal(report.counts.queries, 6);
  });
});
