// Visual Genome region_descriptions.json and AMC VG JSON readers: committed fixtures written to the real
// schemas (docs/reference.md §5.1, §5.4), bad inputs rejected with file + entry, and the lint checks.
import { strict as assert } from 'node:assert';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { openDataset } from '../../../../src/core/datasets/index';
import { isPlainValidRegion, openVgRegions, regionError } from '../../../../src/core/datasets/vg';
import { openAmcVg, splitFromFileName } from '../../../../src/core/datasets/amcVg';
import { ReaderError, type Dataset } from '../../../../src/core/datasets/dataset';
import type { Problem } from '../../../../src/core/types';
import { tmpdir } from 'node:os';
import { lintDataset } from '../../../../src/core/lint';

const VG = path.join(__dirname, '..', '..', '..', 'fixtures', 'datasets', 'vg');
const BAD = path.join(__dirname, '..', '..', '..', 'fixtures', 'datasets', 'bad');
const WORK = path.join(__dirname, '..', '..', '..', '.work', 'datasets-vg');

async function all(ds: Dataset) {
  await ds.complete;
  return ds.page(0, ds.count() + 10);
}

describe('VG region_descriptions.json reader', () => {
  const file = path.join(VG, 'region_descriptions.json');
  let ds: Dataset;
  before(async () => { ds = await openDataset(file); });
  after(() => ds.close());

  it('yields one sample per region, boxes [x, y, x+w, y+h] (docs/reference.md §5.4), hit rule xyxy', async () => {
    const samples = await all(ds);
    assert.equal(ds.format, 'vg-regions');
    assert.equal(samples.length, 6); // image 4 has an empty region list
    assert.deepEqual(samples.map((s) => s.id), ['1382', '1383', '1384', '2001', '3001', '3002']);
    const first = samples[0];
    assert.deepEqual(first.boxes, [[10, 5, 40, 25]]);
    assert.deepEqual(first.sourceBoxes, [[10, 5, 30, 20]]);
    assert.equal(first.hitRule, 'xyxy');
    assert.deepEqual(first.ids, { image_id: 1, region_id: 1382 });
    assert.equal(first.imageId, '1');
    assert.equal(first.source.file, file);
    assert.equal(first.source.entry, 'image 1, region 1382');
    assert.equal(samples[3].boxes[0].join(), [4, 3, 14.5, 10.25].join()); // fractional sizes kept
  });

  it('keeps the phrase exactly (escapes decoded) and adds the pre_caption form', async () => {
    const [, second, third, , , sixth] = await all(ds);
    assert.equal(second.phrase, 'Man\'s "red" hat - left/right, café!');
    assert.equal(second.caption, 'mans red hat left right café');
    assert.equal(third.caption, 'a person on\ta bench');
    assert.equal(sixth.phrase, 'edge\\corner');
  });

  it('takes sizes and the VG_100K / VG_100K_2 folder from image_data.json, else finds the image on disk', async () => {
    const samples = await all(ds);
    assert.equal(samples[0].image, path.join(VG, 'VG_100K', '1.jpg'));
    assert.deepEqual([samples[0].width, samples[0].height], [64, 48]);
    assert.equal(samples[3].image, path.join(VG, 'VG_100K_2', '2.jpg'));
    // image 3 is not in image_data.json: no size, and the file is found in VG_100K_2
    assert.equal(samples[4].image, path.join(VG, 'VG_100K_2', '3.jpg'));
    assert.equal(samples[4].width, undefined);
  });

  it('serves any page by index, and short pages at the end', async () => {
    await ds.complete;
    const page = await ds.page(2, 3);
    assert.deepEqual(page.map((s) => [s.index, s.id]), [[2, '1384'], [3, '2001'], [4, '3001']]);
    assert.equal((await ds.page(5, 100)).length, 1);
    assert.deepEqual(await ds.page(6, 10), []);
  });

  it('resolves images against --image-root when given', async () => {
    const other = await openVgRegions(file, { imageRoot: '/data/vg', companionFile: path.join(VG, 'image_data.json') });
    const [s] = await other.page(0, 1);
    assert.equal(s.image, path.join('/data/vg', 'VG_100K', '1.jpg'));
    await other.close();
  });

  it('finds sizes when image_data.json lists the images in another order than the region file', async () => {
    const dir = path.join(WORK, 'shuffled');
    mkdirSync(dir, { recursive: true });
    copyFileSync(file, path.join(dir, 'region_descriptions.json'));
    const entries = JSON.parse(readFileSync(path.join(VG, 'image_data.json'), 'utf8')) as unknown[];
    writeFileSync(path.join(dir, 'image_data.json'), JSON.stringify(entries.reverse()));
    const shuffled = await openVgRegions(path.join(dir, 'region_descriptions.json'));
    await shuffled.complete;
    const samples = await shuffled.page(0, 10);
    assert.deepEqual(samples.map((s) => [s.imageId, s.width ?? null, s.height ?? null, path.basename(path.dirname(s.image))]), [
      ['1', 64, 48, 'VG_100K'], ['1', 64, 48, 'VG_100K'], ['1', 64, 48, 'VG_100K'], ['2', 40, 30, 'VG_100K_2'],
      ['3', null, null, 'VG_100K'], ['3', null, null, 'VG_100K'], // no image files in this folder: the default folder
    ]);
    await shuffled.close();
  });

  it('a broken image_data.json is named in the error of the pages that need it', async () => {
    const dir = path.join(WORK, 'bad-image-data');
    mkdirSync(dir, { recursive: true });
    copyFileSync(file, path.join(dir, 'region_descriptions.json'));
    const companion = path.join(dir, 'image_data.json');
    writeFileSync(companion, '[{"width": 64, "url": "https://x/VG_100K/1.jpg", "height": 48, "image_id": 1}, {"width": 4');
    const ds = await openVgRegions(path.join(dir, 'region_descriptions.json'));
    await ds.complete;
    assert.equal((await ds.page(0, 1))[0].width, 64); // entry 0 is complete and matches image 1
    await assert.rejects(ds.page(3, 1), (err: ReaderError) => err.file === companion && /truncated JSON/.test(err.message));
    await ds.close();
  });

  it('lints clean (images exist, boxes inside)', async () => {
    const report = await lintDataset(ds);
    assert.deepEqual(report.problems, []);
    assert.equal(report.samples, 6);
  });
});

describe('AMC VG JSON reader', () => {
  const file = path.join(VG, 'amc_vg.json');

  it('yields one sample per (entry, caption) with all the entry\'s boxes', async () => {
    const ds = await openDataset(file);
    const samples = await all(ds);
    assert.equal(ds.format, 'amc-vg');
    assert.deepEqual(samples.map((s) => s.id), ['0', '1:0', '1:1', '2']);
    assert.deepEqual(samples[1].boxes, [[4, 3, 14.5, 10.25], [20, 2, 38, 28]]);
    assert.deepEqual(samples[2].boxes, samples[1].boxes);
    assert.equal(samples[1].phrase, 'green street-sign');
    assert.equal(samples[1].caption, 'green street sign');
    assert.equal(samples[2].caption, 'street sign');
    assert.equal(samples[3].phrase, 'a "quoted" square \u2013 [nested] {braces}');
    assert.equal(samples[0].image, path.join(VG, 'VG_100K', '1.jpg'));
    assert.equal(samples[0].hitRule, 'xyxy');
    assert.deepEqual(samples[2].ids, { entry: 1, caption: 1 });
    assert.equal(samples[2].source.entry, 'entry [1] caption 1');
    const report = await lintDataset(ds);
    assert.deepEqual(report.problems, []);
    await ds.close();
  });

  it('takes the split from the file name as the trainer does (vg_val.json → val), none otherwise', async () => {
    assert.equal(splitFromFileName('/d/vg_val.json'), 'val');
    assert.equal(splitFromFileName('refcoco+_testA.json'), 'testA');
    assert.equal(splitFromFileName('vg_descriptions.json'), undefined);
    assert.equal(splitFromFileName('/val/contest.json'), undefined);
    mkdirSync(WORK, { recursive: true });
    const named = path.join(WORK, 'vg_test.json');
    writeFileSync(named, JSON.stringify([{ image: 'a.jpg', caption: 'c', bbox: [[0, 0, 2, 2]] }]));
    const ds = await openAmcVg(named);
    assert.equal((await ds.page(0, 1))[0].split, 'test');
    assert.deepEqual(ds.splits(), ['test']);
    await ds.close();
    const unnamed = await openAmcVg(file);
    assert.equal((await unnamed.page(0, 1))[0].split, undefined);
    await unnamed.close();
  });

  it('joins relative image paths to the image root and keeps absolute ones (os.path.join semantics)', async () => {
    const ds = await openAmcVg(file, { imageRoot: '/elsewhere' });
    const [s] = await ds.page(0, 1);
    assert.equal(s.image, path.join('/elsewhere', 'VG_100K', '1.jpg'));
    await ds.close();
    mkdirSync(WORK, { recursive: true });
    const absolute = path.join(WORK, 'amc_absolute.json');
    writeFileSync(absolute, JSON.stringify([{ image: '/data/vg/VG_100K/7.jpg', caption: 'c', bbox: [[0, 0, 2, 2]] }]));
    const other = await openAmcVg(absolute, { imageRoot: '/elsewhere' });
    assert.equal((await other.page(0, 1))[0].image, '/data/vg/VG_100K/7.jpg');
    await other.close();
  });
});

describe('lint problems', () => {
  it('VG: box outside the image, degenerate box, duplicate region id, missing image', async () => {
    const file = path.join(VG, 'problems', 'region_descriptions.json');
    const ds = await openDataset(file);
    const report = await lintDataset(ds);
    await ds.close();
    const found = report.problems.map((p) => `${p.severity} ${p.code} ${p.location.entry}`).sort();
    assert.deepEqual(found, [
      'error degenerate-box image 10, region 2',
      'error duplicate-id image 10, region 1',
      'error missing-image image 11, region 4',
      'warning box-outside-image image 10, region 1',
      'warning box-outside-image image 10, region 3',
    ]);
    assert.equal(report.errors, 3);
    assert.ok(report.problems.every((p) => p.location.file === file));
    const outside = report.problems.find((p) => p.location.entry === 'image 10, region 3');
    assert.match(outside!.message, /entirely outside the 64x48 image/);
  });

  it('VG: an image id listed twice', async () => {
    mkdirSync(WORK, { recursive: true });
    const file = path.join(WORK, 'duplicate_image.json');
    const region = (id: number) => ({ region_id: id, width: 2, height: 2, image_id: 5, phrase: `r${id}`, y: 0, x: 0 });
    writeFileSync(file, JSON.stringify([{ regions: [region(1)], id: 5 }, { regions: [region(2)], id: 5 }]));
    const ds = await openDataset(file);
    const report = await lintDataset(ds, { checkImages: false });
    await ds.close();
    assert.deepEqual(report.problems.map((p) => [p.code, p.location.entry, p.message]), [
      ['duplicate-id', 'image 5', 'image id 5 appears more than once'],
    ]);
  });

  it('AMC VG: nested box lists are refused with the reason (the reference fails on them too)', async () => {
    mkdirSync(WORK, { recursive: true });
    const file = path.join(WORK, 'nested_boxes.json');
    writeFileSync(file, JSON.stringify([{ image: 'a.jpg', caption: 'c', bbox: [[[1, 2, 3, 4]]] }]));
    const ds = await openAmcVg(file);
    await ds.complete;
    assert.equal(ds.count(), 0);
    assert.equal(ds.badEntries?.(), 1);
    const [p] = ds.problems();
    assert.ok(p.location.file === file && p.location.entry === 'entry [0]' && p.location.byteOffset === 1 && /bbox\[0\] is a nested list of boxes/.test(p.message), JSON.stringify(p));
    await ds.close();
  });

  it('AMC VG: phrase with no boxes, empty caption list, upside-down box', async () => {
    const ds = await openDataset(path.join(VG, 'problems', 'amc_vg.json'));
    const report = await lintDataset(ds);
    await ds.close();
    const found = report.problems.map((p) => `${p.severity} ${p.code} ${p.location.entry}`).sort();
    assert.deepEqual(found, [
      'error degenerate-box entry [2]',
      'error no-boxes entry [0]',
      'warning empty-caption-list entry [1]',
    ]);
  });
});

describe('bad inputs name the file and the entry', () => {
  /** Issue 12 item 5: a bad entry is skipped while indexing, counted and reported by name; the rest opens. */
  async function skipped(
    name: string, open: (f: string, o: object) => Promise<Dataset> = openDataset,
  ): Promise<{ ds: Dataset; problem: Problem }> {
    const file = path.join(BAD, name);
    const ds = await open(file, {});
    await ds.complete;
    for (let i = 0; i < ds.count(); i++) await ds.page(i, 1); // every served index is readable
    assert.equal(ds.badEntries?.(), 1, `${name}: one bad entry counted`);
    const bad = ds.problems().filter((p) => p.code === 'unreadable-entry');
    assert.equal(bad.length, 1, `${name}: ${JSON.stringify(ds.problems())}`);
    assert.equal(bad[0].location.file, file);
    assert.equal(bad[0].severity, 'error');
    await ds.close();
    return { ds, problem: bad[0] };
  }

  it('truncated VG JSON: complete rejects saying where the file ends (byte, line); the regions before stay readable', async () => {
    const file = path.join(BAD, 'vg_truncated.json');
    const ds = await openVgRegions(file);
    await assert.rejects(ds.complete, (err: ReaderError) =>
      err.entry === 'image entry [1] starting at byte 120, byte 221' && /the file ends at byte 221 \(line 1, column 222\): .*truncated JSON.*; the 1 region before that point is shown/.test(err.message)
      && err.stoppedAt?.byteOffset === 221 && err.stoppedAt.line === 1);
    assert.equal(ds.count(), 1);
    assert.equal((await ds.page(0, 1))[0].phrase, 'fine');
    await assert.rejects(ds.page(1, 1), /truncated JSON/);
    await ds.close();
  });

  it('truncated AMC VG JSON', async () => {
    const file = path.join(BAD, 'amc_vg_truncated.json');
    const ds = await openAmcVg(file);
    await assert.rejects(ds.complete, (err: ReaderError) => err.entry === 'entry [1] starting at byte 72, byte 122'
      && /the file ends at byte 122 \(line 1, column 123\): file ends inside a string \(truncated JSON\); the 1 sample before that point is shown/.test(err.message));
    assert.equal(ds.count(), 1);
    assert.equal((await ds.page(0, 1))[0].phrase, 'fine');
    await ds.close();
  });

  it('region without "phrase": skipped and reported, the other region of the image is served', async () => {
    const { ds, problem } = await skipped('vg_missing_phrase.json');
    assert.equal(ds.count(), 1);
    assert.equal(problem.location.entry, 'image 7, region 12 at byte 110');
    assert.equal(problem.location.byteOffset, 110);
    assert.match(problem.message, /"phrase" is undefined, expected a string; the region is skipped/);
  });

  it('box with NaN (as Python json.dump writes it), in VG and AMC VG: skipped and reported', async () => {
    const vg = await skipped('vg_nan_box.json');
    assert.equal(vg.ds.count(), 0);
    assert.equal(vg.problem.location.entry, 'image 8, region 21 at byte 14');
    assert.match(vg.problem.message, /contains NaN, which is not valid JSON/);
    const amc = await skipped('amc_vg_nan_box.json');
    assert.equal(amc.ds.count(), 1, 'the good entry before it is served');
    assert.equal(amc.problem.location.entry, 'entry [1]');
    assert.equal(amc.problem.location.byteOffset, 72);
    assert.match(amc.problem.message, /contains NaN/);
  });

  it('box coordinate null or a string: skipped and reported', async () => {
    assert.match((await skipped('vg_null_box.json')).problem.message, /^"x" is null, expected a finite number/);
    assert.equal((await skipped('vg_null_box.json')).problem.location.entry, 'image 9, region 31 at byte 14');
    assert.match((await skipped('vg_string_box.json')).problem.message, /^"y" is "12", expected a finite number/);
  });

  it('caption of the wrong type; image entry without an id: skipped and reported', async () => {
    const caption = await skipped('amc_vg_bad_caption.json');
    assert.equal(caption.problem.location.entry, 'entry [0]');
    assert.match(caption.problem.message, /"caption" is 42/);
    const noId = await skipped('vg_no_image_id.json');
    assert.equal(noId.problem.location.entry, 'image entry [0]');
    assert.match(noId.problem.message, /image entry \[0\] has no "id"; its 1 region\(s\) are skipped/);
  });

  it('a bad region in the middle of a file split into many chunks: good regions on both sides served', async () => {
    const good = (id: number) => ({ region_id: id, image_id: 1, phrase: `p${id}`, x: 1, y: 2, width: 3, height: 4 });
    const regions = [good(1), good(2), { ...good(3), x: null }, good(4)];
    const text = JSON.stringify([{ id: 1, regions }, { id: 2, regions: [good(5)] }]);
    const file = path.join(tmpdir(), `amc-chunked-${process.pid}.json`);
    writeFileSync(file, text);
    try {
      const ds = await openVgRegions(file, { chunkBytes: 7 }); // regions span many chunks
      await ds.complete;
      assert.deepEqual((await ds.page(0, 10)).map((s) => s.phrase), ['p1', 'p2', 'p4', 'p5']);
      assert.equal(ds.badEntries?.(), 1);
      assert.equal(ds.problems()[0].location.entry, `image 1, region 3 at byte ${text.indexOf('{"region_id":3')}`);
      await ds.close();
    } finally { rmSync(file, { force: true }); }
  });

  it('0-byte file and non-JSON, even when the format is forced', async () => {
    const empty = path.join(BAD, 'empty.json');
    await assert.rejects(openVgRegions(empty), (err: ReaderError) => err.message === `${empty}: the file is empty (0 bytes); expected a VG region_descriptions.json list`);
    await assert.rejects(openAmcVg(empty), /the file is empty \(0 bytes\)/);
    await assert.rejects(openDataset(empty), /the file is empty \(0 bytes\)/);
    const ds = await openVgRegions(path.join(BAD, 'not_json.txt'));
    await assert.rejects(ds.complete, /\(byte 0\): expected a JSON list of images, found This/);
    await ds.close();
  });

  it('lint reports each unreadable entry and keeps checking the others', async () => {
    const ds = await openDataset(path.join(BAD, 'vg_missing_phrase.json'));
    const report = await lintDataset(ds, { checkImages: false });
    await ds.close();
    assert.equal(report.samples, 1);
    assert.equal(report.badEntries, 1);
    assert.deepEqual(report.problems.map((p) => [p.code, p.location.entry]), [['unreadable-entry', 'image 7, region 12 at byte 110']]);
  });
});

describe('isPlainValidRegion: the fast index-time check never accepts what the exact check rejects', () => {
  const exact = (text: string): boolean => {
    try { return regionError(JSON.parse(text)) === undefined; } catch { return false; }
  };
  const fast = (text: string): boolean => isPlainValidRegion(Buffer.from(text, 'utf8'));
  const base = '{"region_id": 1, "width": 30, "height": 20, "image_id": 7, "phrase": "a \\"red\\" ball \\u00e9", "y": 5, "x": 10.5}';

  it('hand-written cases agree with JSON.parse + regionError (or fall back to it)', () => {
    const cases = [
      base, base.replace('"x": 10.5', '"x": NaN'), base.replace('"x": 10.5', '"x": null'), base.replace('"y": 5', '"y": "5"'),
      base.replace('"y": 5', '"y": 1e400'), base.replace('"y": 5', '"y": 5e2'), base.replace('"phrase"', '"phrase_"'),
      base.replace('"region_id": 1', '"region_id": null, "id": 3'), base.replace('"region_id": 1', '"region_id": null'),
      base.replace('"x": 10.5', '"x": null, "x": 1'), base.replace('"x": 10.5', '"x": 1, "x": null'), base.replace('"width"', '"wid\\u0074h"'),
      base.replace('"y": 5', '"y": [5]'), base.replace('"y": 5', '"y": -0'), base.replace('"y": 5', '"y": 05'), base.replace('"y": 5', '"y": 5.'),
      `${base} x`, ` \n${base}\n `, base.replace('"phrase": "', '"phrase": "\t'), base.replace('}', ',}'), '{}', '[]',
    ];
    for (const text of cases) {
      if (fast(text)) assert.ok(exact(text), `fast accepted what JSON.parse + regionError reject: ${text}`);
      if (text === base) assert.ok(fast(text), 'the common shape takes the fast path');
    }
  });

  it('random one-byte mutations: never accepted by the fast check when the exact check rejects them', () => {
    let seed = 12345;
    const random = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
    const alphabet = '{}[]",:\\ -+.eE0123456789nulNaIfty\tx';
    let fastAccepted = 0;
    for (let k = 0; k < 20_000; k++) {
      const at = Math.floor(random() * base.length);
      const text = base.slice(0, at) + alphabet[Math.floor(random() * alphabet.length)] + base.slice(at + (random() < 0.5 ? 1 : 0));
      if (fast(text)) { fastAccepted++; assert.ok(exact(text), `fast accepted what JSON.parse + regionError reject: ${text}`); }
    }
    assert.ok(fastAccepted > 1000, `the fast path was exercised (${fastAccepted})`);
  });
});
