// The `amc` CLI run as a child process, from the same esbuild bundle the package ships (bin: out/cli.js).
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { amc as runAmc, buildCli, ROOT } from './helpers';

const VG = path.join(ROOT, 'test', 'fixtures', 'datasets', 'vg');
const BAD = path.join(ROOT, 'test', 'fixtures', 'datasets', 'bad');

const amc = (...args: string[]) => runAmc(args, { timeout: 60_000 });

describe('amc CLI', function () {
  this.timeout(120_000);

  before(() => buildCli());

  it('samples --json prints one JSON line per query with image, size, phrase, caption, xyxy boxes, split, ids', () => {
    const r = amc('samples', path.join(VG, 'region_descriptions.json'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 6);
    assert.deepEqual(lines[0], {
      index: 0, id: '1382', image: path.join(VG, 'VG_100K', '1.jpg'), width: 64, height: 48,
      phrase: 'the clock is green in colour', caption: 'the clock is green in colour', boxes: [[10, 5, 40, 25]],
      split: null, ids: { image_id: 1, region_id: 1382 },
    });
    assert.equal(lines[4].width, null); // image 3 has no size in image_data.json
  });

  it('samples --limit, --start and --image-root', () => {
    const r = amc('samples', path.join(VG, 'amc_vg.json'), '--json', '--start', '1', '--limit', '2', '--image-root', '/imgs');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { index: number; image: string; phrase: string });
    assert.deepEqual(lines.map((l) => [l.index, l.image, l.phrase]), [
      [1, '/imgs/VG_100K_2/2.jpg', 'green street-sign'], [2, '/imgs/VG_100K_2/2.jpg', 'Street sign.'],
    ]);
  });

  it('samples without --json prints tab-separated lines', () => {
    const r = amc('samples', path.join(VG, 'region_descriptions.json'), '--limit', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '0\t-\t1\t"the clock is green in colour"\t[10,5,40,25]\n');
  });

  it('samples --split on a file without that split prints nothing and says which splits exist', () => {
    const r = amc('samples', path.join(VG, 'region_descriptions.json'), '--split', 'val');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no samples in split 'val' \(splits in this file: none\)/);
  });

  it('samples --split keeps only that split (Flickr30k info-ground fixture, split from the file name)', () => {
    const file = path.join(ROOT, 'test', 'fixtures', 'datasets', 'flickr', 'infoground', 'sentences_val.json');
    const val = amc('samples', file, '--split', 'val', '--json');
    assert.equal(val.code, 0, val.stderr);
    const lines = val.stdout.trim().split('\n').map((l) => JSON.parse(l) as { split: string });
    assert.ok(lines.length > 0);
    assert.ok(lines.every((l) => l.split === 'val'));
    const test = amc('samples', file, '--split', 'test');
    assert.equal(test.stdout, '');
    assert.match(test.stderr, /no samples in split 'test' \(splits in this file: val\)/);
  });

  it('lint: exit 0 on a clean file', () => {
    const r = amc('lint', path.join(VG, 'region_descriptions.json'));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /6 samples: 0 error\(s\), 0 warning\(s\)/);
  });

  it('lint: exit 1 with file:entry: lines when there are errors', () => {
    const file = path.join(VG, 'problems', 'region_descriptions.json');
    const r = amc('lint', file);
    assert.equal(r.code, 1);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 5);
    assert.ok(lines.includes(`${file}:image 10, region 2: error: box [10, 5, 10, 25] of phrase "zero width box" covers no pixel of the 64x48 image (clamped and truncated: [10, 5, 10, 25]) [degenerate-box]`));
    assert.ok(lines.some((l) => l.startsWith(`${file}:image 11, region 4: error: image file `) && l.endsWith('[missing-image]')));
    assert.match(r.stderr, /5 samples: 3 error\(s\), 2 warning\(s\)/);
  });

  it('lint --no-image-check and --json', () => {
    const r = amc('lint', path.join(VG, 'problems', 'region_descriptions.json'), '--no-image-check', '--json');
    assert.equal(r.code, 1);
    const problems = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { code: string; entry: string; file: string });
    assert.deepEqual(problems.map((p) => p.code).sort(), ['box-outside-image', 'box-outside-image', 'degenerate-box', 'duplicate-id']);
  });

  it('lint: truncated JSON and a box with NaN are errors naming file and entry (exit 1)', () => {
    const truncated = path.join(BAD, 'vg_truncated.json');
    const r = amc('lint', truncated, '--no-image-check');
    assert.equal(r.code, 1);
    assert.equal(r.stdout.trim(), `${truncated}:image entry [1] starting at byte 120, byte 221: error: the file ends at byte 221 (line 1, column 222): `
      + 'file ends inside a string (truncated JSON); the 1 region before that point is shown [unreadable-file]');
    assert.match(r.stderr, /^1 samples: 1 error\(s\)/m);
    const nan = path.join(BAD, 'vg_nan_box.json');
    const n = amc('lint', nan, '--no-image-check');
    assert.equal(n.code, 1);
    assert.match(n.stdout, new RegExp(`^${nan.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:image 8, region 21 at byte 14: error: region contains NaN`));
    assert.match(n.stderr, /^0 samples, 1 bad entry skipped: 1 error\(s\)/m);
  });

  it('samples: bad entries are skipped and said on stderr, never silently dropped', () => {
    const r = amc('samples', path.join(BAD, 'vg_missing_phrase.json'));
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim().split('\n').length, 1);
    assert.match(r.stderr, /^1 bad entry skipped \(unreadable; `amc lint .*vg_missing_phrase\.json` lists them\)$/m);
  });

  it('a 0-byte file, a non-annotation file and bad usage: one clear line on stderr, exit 2', () => {
    const empty = amc('samples', path.join(BAD, 'empty.json'));
    assert.equal(empty.code, 2);
    assert.equal(empty.stderr.trim().split('\n').length, 1);
    assert.match(empty.stderr, /^amc samples: .*empty\.json: the file is empty \(0 bytes\); expected one of: /);
    const text = amc('lint', path.join(BAD, 'not_json.txt'));
    assert.equal(text.code, 2);
    assert.equal(text.stderr.trim().split('\n').length, 1);
    assert.match(text.stderr, /not_json\.txt: cannot tell the dataset format/);
    const usage = amc('samples', path.join(VG, 'amc_vg.json'), '--limit', 'many');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^amc samples: --limit must be a non-negative integer, got 'many'\nusage: amc samples FILE/);
    assert.equal(amc('frobnicate').code, 2);
    assert.match(amc('frobnicate').stderr, /unknown command 'frobnicate' \(commands: samples, lint/);
    assert.equal(amc('samples').code, 2);
    assert.equal(amc('samples', 'x', '--bogus').code, 2);
  });

  it('--help lists the commands; CMD --help prints its usage', () => {
    const help = amc('--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /samples .*\n\s+lint /);
    const usage = amc('lint', '--help');
    assert.equal(usage.code, 0);
    assert.match(usage.stdout, /^usage: amc lint FILE/);
  });
});
