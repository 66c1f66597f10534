// Flickr30k Entities readers (raw Sentences/Annotations and info-ground JSON) against fixtures in the
// public schemas. Expected queries were computed by the reference code (info-ground's
// flickr30k_entities_utils.py + AMC's query rule + ALBEF's pre_caption, in scripts/gen-dataset-fixtures.py).
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ReaderError } from '../../../../src/core/datasets/dataset';
import { openFlickrRaw, parseFlickrSentences } from '../../../../src/core/datasets/flickr';
import { openFlickrInfoground } from '../../../../src/core/datasets/flickrInfoground';
import type { Sample } from '../../../../src/core/types';

const FIX = path.join(__dirname, '..', '..', '..', 'fixtures', 'datasets', 'flickr');
const ENT = path.join(FIX, 'flickr30k_entities');
const IG = path.join(FIX, 'infoground');

interface ExpectedQuery {
  image_id: string; sentence: number; phrase_id: string; phrase: string; caption: string; boxes: number[][]; width: number; height: number;
}
const expectedQueries = (split: string) => JSON.parse(readFileSync(path.join(FIX, `expected_queries_${split}.json`), 'utf8')) as ExpectedQuery[];

async function all(ds: { complete: Promise<void>; count(): number; page(s: number, l: number): Promise<Sample[]> }): Promise<Sample[]> {
  await ds.complete;
  return ds.page(0, ds.count());
}

function asQuery(s: Sample): ExpectedQuery {
  return {
    image_id: s.imageId, sentence: s.ids.sentence as number, phrase_id: String(s.ids.phrase_id), phrase: s.phrase, caption: s.caption,
    boxes: s.boxes, width: s.width!, height: s.height!,
  };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try { await p; } catch (e) { return e as Error; }
  throw new Error('expected a rejection');
}

let tmp: string;
beforeEach(() => { tmp = mkdtempSync(path.join(tmpdir(), 'amc-flickr-')); });
afterEach(() => { rmSync(tmp, { recursive: true, force: true }); });

describe('Flickr30k Entities raw: Sentences/*.txt + Annotations/*.xml', () => {
  it('val.txt: one query per boxed phrase occurrence, exactly the reference queries', async () => {
    const ds = await openFlickrRaw(path.join(ENT, 'val.txt'), {});
    const samples = await all(ds);
    assert.deepEqual(samples.map(asQuery), expectedQueries('val'));
    assert.equal(ds.format, 'flickr-raw');
    assert.deepEqual(ds.splits(), ['val']);
    assert.ok(samples.every((s, i) => s.index === i && s.hitRule === 'xyxy' && s.split === 'val'));
    assert.equal(new Set(samples.map((s) => s.id)).size, samples.length, 'ids are unique');
  });

  it('several <name> per object, union of boxes, XML 1-based → 0-based, sourceBoxes as in the file', async () => {
    const samples = await all(await openFlickrRaw(path.join(ENT, 'val.txt'), {}));
    const guys = samples.find((s) => s.phrase === 'Two young guys')!;
    assert.deepEqual(guys.boxes, [[50, 60, 210, 330], [300, 20, 380, 90]]);
    assert.deepEqual(guys.sourceBoxes, [[51, 61, 211, 331], [301, 21, 381, 91]]);
    const men = samples.find((s) => s.phrase === 'Two men' && s.imageId === '1000092795')!;
    assert.deepEqual(men.boxes, guys.boxes, 'EN#6 names the same two objects');
    assert.equal(guys.width, 500);
    assert.equal(guys.height, 333);
    assert.deepEqual(guys.ids, { image_id: '1000092795', sentence: 0, phrase_id: '1', first_word_index: 0, phrase_type: 'people' });
    const hats = samples.find((s) => s.phrase === 'hard-hats')!;
    assert.equal(hats.ids.phrase_type, 'clothing/other');
    assert.equal(hats.caption, 'hard hats');
  });

  it('skips EN#0, scene-only and nobndbox phrases (counted), warns about a phrase no object names', async () => {
    const ds = await openFlickrRaw(path.join(ENT, 'val.txt'), {});
    const samples = await all(ds);
    assert.ok(!samples.some((s) => ['0', '4', '5', '9', '138'].includes(String(s.ids.phrase_id))));
    assert.deepEqual(ds.skipped(), { notVisual: 1, sceneOnly: 4, noBox: 1, unannotated: 1, badBox: 0 });
    const problems = ds.problems();
    assert.equal(problems.length, 1);
    assert.equal(problems[0].severity, 'warning');
    assert.equal(problems[0].code, 'phrase-without-object');
    assert.ok(problems[0].message.includes(path.join(ENT, 'Annotations', '10002456.xml')), problems[0].message);
    assert.ok(problems[0].message.includes('EN#9'), problems[0].message);
  });

  it('source location: the Sentences file and its 1-based line (CRLF file too)', async () => {
    const samples = await all(await openFlickrRaw(path.join(ENT, 'val.txt'), {}));
    const workers = samples.find((s) => s.phrase === 'Workers')!;
    assert.equal(workers.source.file, path.join(ENT, 'Sentences', '10002456.txt'));
    assert.equal(workers.source.line, 2);
    assert.match(workers.source.entry, /image 10002456, sentence 2/);
  });

  it('image paths: default root flickr30k-images/ beside the entities folder; opts.imageRoot wins', async () => {
    const [first] = await (await openFlickrRaw(path.join(ENT, 'val.txt'), {})).page(0, 1);
    assert.equal(first.image, path.join(FIX, 'flickr30k-images', '1000092795.jpg'));
    const [other] = await (await openFlickrRaw(path.join(ENT, 'val.txt'), { imageRoot: '/data/f30k' })).page(0, 1);
    assert.equal(other.image, '/data/f30k/1000092795.jpg');
  });

  it('test.txt gives split "test"; a single Sentences/{id}.txt takes the split of the split file listing it', async () => {
    const test = await all(await openFlickrRaw(path.join(ENT, 'test.txt'), {}));
    assert.deepEqual(test.map(asQuery), expectedQueries('test'));
    assert.ok(test.every((s) => s.split === 'test'));
    const single = await all(await openFlickrRaw(path.join(ENT, 'Sentences', '1007129816.txt'), {}));
    assert.deepEqual(single.map(asQuery), expectedQueries('test'));
    assert.ok(single.every((s) => s.split === 'test'));
  });

  it('pages are served by index and the count is final after complete', async () => {
    const ds = await openFlickrRaw(path.join(ENT, 'val.txt'), {});
    const page = await ds.page(3, 4);
    await ds.complete;
    const everything = await ds.page(0, ds.count());
    assert.deepEqual(page, everything.slice(3, 7));
    assert.deepEqual(await ds.page(ds.count() - 1, 10), everything.slice(-1));
    assert.equal(ds.count(), expectedQueries('val').length);
  });

  it('finds Sentences/ and Annotations/ in an annotations/ folder beside the split file', async () => {
    cpSync(path.join(ENT, 'Sentences'), path.join(tmp, 'annotations', 'Sentences'), { recursive: true });
    cpSync(path.join(ENT, 'Annotations'), path.join(tmp, 'annotations', 'Annotations'), { recursive: true });
    writeFileSync(path.join(tmp, 'val.txt'), '1000092795 10002456\n');
    const samples = await all(await openFlickrRaw(path.join(tmp, 'val.txt'), {}));
    assert.deepEqual(samples.map(asQuery), expectedQueries('val'));
  });

  it('a split file listing "{id}.jpg", and a sentence file outside Sentences/ with its XML beside it', async () => {
    cpSync(path.join(ENT, 'Sentences'), path.join(tmp, 'Sentences'), { recursive: true });
    cpSync(path.join(ENT, 'Annotations'), path.join(tmp, 'Annotations'), { recursive: true });
    writeFileSync(path.join(tmp, 'val.txt'), '1000092795.jpg\n10002456.jpg\n');
    assert.deepEqual((await all(await openFlickrRaw(path.join(tmp, 'val.txt'), {}))).map(asQuery), expectedQueries('val'));
    const loose = path.join(tmp, 'elsewhere', 'loose');
    cpSync(path.join(ENT, 'Sentences', '1007129816.txt'), path.join(loose, '1007129816.txt'));
    cpSync(path.join(ENT, 'Annotations', '1007129816.xml'), path.join(loose, '1007129816.xml'));
    assert.deepEqual((await all(await openFlickrRaw(path.join(loose, '1007129816.txt'), {}))).map(asQuery), expectedQueries('test'));
    rmSync(path.join(loose, '1007129816.xml'));
    assert.match((await rejection(openFlickrRaw(path.join(loose, '1007129816.txt'), {}))).message, /cannot find the annotation 1007129816\.xml of this sentence file/);
  });

  it('close() while indexing stops the loader and settles complete; an aborted signal rejects complete', async () => {
    const ds = await openFlickrRaw(path.join(ENT, 'val.txt'), {});
    await ds.close();
    await ds.complete;
    assert.ok(ds.count() <= expectedQueries('val').length);
    const controller = new AbortController();
    controller.abort(new Error('editor closed'));
    const aborted = await openFlickrRaw(path.join(ENT, 'val.txt'), { signal: controller.signal });
    assert.equal((await rejection(aborted.complete)).message, 'editor closed');
    assert.equal(aborted.count(), 0);
  });

  it('onProgress counts images read', async () => {
    const calls: Array<[number, number]> = [];
    await (await openFlickrRaw(path.join(ENT, 'val.txt'), { onProgress: (a, b) => calls.push([a, b]) })).complete;
    assert.deepEqual(calls, [[1, 2], [2, 2]]);
  });

  it('parseFlickrSentences mirrors info-ground on the bracket syntax', () => {
    const { sentences, unterminated } = parseFlickrSentences('[/EN#18/people A man] in [/EN#19/clothing/other an orange hat] .\n\n[/EN#0/notvisual it] [/EN#5/x open');
    assert.deepEqual(sentences[0], {
      sentence: 'A man in an orange hat .', line: 1,
      phrases: [
        { first_word_index: 0, phrase: 'A man', phrase_id: '18', phrase_type: ['people'] },
        { first_word_index: 3, phrase: 'an orange hat', phrase_id: '19', phrase_type: ['clothing', 'other'] },
      ],
    });
    assert.equal(sentences[1].line, 3);
    assert.deepEqual(sentences[1].phrases.map((p) => p.phrase_id), ['0']);
    assert.deepEqual(unterminated, [3]);
  });
});

describe('Flickr30k Entities raw: bad input', () => {
  function copyEntities(): string {
    const dir = path.join(tmp, 'flickr30k_entities');
    cpSync(ENT, dir, { recursive: true });
    return dir;
  }

  it('XML <bndbox> without <ymax>: error naming the file and the object; only its phrases are skipped', async () => {
    const dir = copyEntities();
    const xmlFile = path.join(dir, 'Annotations', '1000092795.xml');
    writeFileSync(xmlFile, readFileSync(xmlFile, 'utf8').replace('<ymax>331</ymax>', ''));
    const ds = await openFlickrRaw(path.join(dir, 'val.txt'), {});
    const samples = await all(ds);
    const errors = ds.problems().filter((p) => p.severity === 'error');
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, 'invalid-box');
    assert.equal(errors[0].location.file, xmlFile);
    assert.equal(errors[0].location.entry, 'object 1 (<name> 1, 6)');
    assert.equal(errors[0].message, 'object 1 (<name> 1, 6): <bndbox> is unreadable (<ymax> missing); the queries of phrase 1, 6 are skipped');
    assert.ok(!samples.some((s) => s.imageId === '1000092795' && ['1', '6'].includes(String(s.ids.phrase_id))));
    assert.ok(samples.some((s) => s.imageId === '1000092795' && s.ids.phrase_id === '2'));
    assert.equal(ds.skipped().badBox, 5);
  });

  it('XML box with NaN: error naming file, object and value', async () => {
    const dir = copyEntities();
    const xmlFile = path.join(dir, 'Annotations', '1007129816.xml');
    writeFileSync(xmlFile, readFileSync(xmlFile, 'utf8').replace('<xmin>150</xmin>', '<xmin>NaN</xmin>'));
    const ds = await openFlickrRaw(path.join(dir, 'test.txt'), {});
    const samples = await all(ds);
    const [err] = ds.problems();
    assert.equal(err.location.file, xmlFile);
    assert.match(err.message, /^object 2 \(<name> 11\): <bndbox> is unreadable \(<xmin> is "NaN"\)/);
    assert.deepEqual(samples.map((s) => s.ids.phrase_id), ['10', '12', '13']);
  });

  it('malformed XML (cut short): error with file, line and column; the image is skipped', async () => {
    const dir = copyEntities();
    const xmlFile = path.join(dir, 'Annotations', '10002456.xml');
    const xml = readFileSync(xmlFile, 'utf8');
    writeFileSync(xmlFile, xml.slice(0, xml.length / 2));
    const ds = await openFlickrRaw(path.join(dir, 'val.txt'), {});
    const samples = await all(ds);
    const [err] = ds.problems();
    assert.equal(err.code, 'bad-annotation-file');
    assert.equal(err.location.file, xmlFile);
    assert.match(err.location.entry, /line \d+, column \d+/);
    assert.match(err.message, /^malformed XML: .*; the queries of image 10002456 are skipped$/);
    assert.ok(samples.length > 0 && samples.every((s) => s.imageId === '1000092795'));
  });

  it('missing Annotations/{id}.xml: error naming the file; other images still read', async () => {
    const dir = copyEntities();
    rmSync(path.join(dir, 'Annotations', '10002456.xml'));
    const ds = await openFlickrRaw(path.join(dir, 'val.txt'), {});
    const samples = await all(ds);
    const [err] = ds.problems();
    assert.equal(err.code, 'missing-annotation');
    assert.ok(err.message.includes(path.join(dir, 'Annotations', '10002456.xml')), err.message);
    assert.ok(samples.every((s) => s.imageId === '1000092795'));
  });

  it('0-byte split file, a split file that is not ids, no Sentences/ folder: rejected naming the file', async () => {
    const empty = path.join(tmp, 'val.txt');
    writeFileSync(empty, '');
    const e1 = await rejection(openFlickrRaw(empty, {}));
    assert.ok(e1 instanceof ReaderError);
    assert.equal(e1.message, `${empty}: the file is empty (0 bytes); expected a Flickr30k Entities split file (image ids) or Sentences/{id}.txt`);
    const json = path.join(tmp, 'train.txt');
    writeFileSync(json, '1000092795\n{"images": []}\n');
    const e2 = await rejection(openFlickrRaw(json, {}));
    assert.match(e2.message, /train\.txt \(line 2\): "\{"images":" is not an image id/);
    writeFileSync(json, '1000092795\n');
    const e3 = await rejection(openFlickrRaw(json, {}));
    assert.match(e3.message, /cannot find the Sentences\/ and Annotations\/ folders/);
  });
});

describe('Flickr30k Entities info-ground JSON pair', () => {
  it('either file of the pair opens the same queries as the raw files', async () => {
    const raw = await all(await openFlickrRaw(path.join(ENT, 'val.txt'), {}));
    for (const name of ['bounding_boxes_val.json', 'sentences_val.json']) {
      const ds = await openFlickrInfoground(path.join(IG, name), {});
      const samples = await all(ds);
      assert.equal(ds.format, 'flickr-infoground');
      assert.deepEqual(samples.map(asQuery), expectedQueries('val'), name);
      const strip = (s: Sample) => ({ ...s, image: path.basename(s.image), source: undefined, sourceBoxes: undefined });
      assert.deepEqual(samples.map(strip), raw.map(strip), name);
      assert.ok(samples.every((s) => s.split === 'val' && s.hitRule === 'xyxy'));
      assert.deepEqual(samples[0].sourceBoxes, samples[0].boxes, 'info-ground stores 0-based boxes');
      assert.deepEqual(ds.skipped(), { notVisual: 1, sceneOnly: 4, noBox: 1, unannotated: 1, badBox: 0 });
    }
  });

  it('keeps the file order of image ids (JSON.parse would sort "10002456" before "1000092795")', async () => {
    const samples = await all(await openFlickrInfoground(path.join(IG, 'sentences_val.json'), {}));
    assert.equal(samples[0].imageId, '1000092795');
    const offset = samples[0].source.byteOffset!;
    assert.equal(readFileSync(path.join(IG, 'sentences_val.json')).toString('utf8', offset, offset + 12), '"1000092795"');
  });

  it('test split from the file name; image root option', async () => {
    const samples = await all(await openFlickrInfoground(path.join(IG, 'sentences_test.json'), { imageRoot: '/img' }));
    assert.deepEqual(samples.map(asQuery), expectedQueries('test'));
    assert.ok(samples.every((s) => s.split === 'test' && s.image === '/img/1007129816.jpg'));
  });

  function copyPair(): { boxes: string; sentences: string } {
    const boxes = path.join(tmp, 'bounding_boxes_val.json');
    const sentences = path.join(tmp, 'sentences_val.json');
    cpSync(path.join(IG, 'bounding_boxes_val.json'), boxes);
    cpSync(path.join(IG, 'sentences_val.json'), sentences);
    return { boxes, sentences };
  }

  it('truncated JSON: rejected naming the file, the entry it ends in and "truncated"', async () => {
    const { sentences } = copyPair();
    const text = readFileSync(sentences, 'utf8');
    writeFileSync(sentences, text.slice(0, Math.floor(text.length * 0.8)));
    const err = await rejection(openFlickrInfoground(sentences, {}));
    assert.ok(err instanceof ReaderError);
    assert.ok(err.message.startsWith(`${sentences} (entry "10002456" at byte `), err.message);
    assert.match(err.message, /truncated/);
  });

  it('a syntax error names file, entry, line and column', async () => {
    const { boxes } = copyPair();
    writeFileSync(boxes, readFileSync(boxes, 'utf8').replace('"scene": ["138"]', '"scene": ["138",]'));
    const err = await rejection(openFlickrInfoground(boxes, {}));
    assert.match(err.message, /bounding_boxes_val\.json \(entry "10002456", line 1, column \d+\): invalid JSON/);
  });

  it('wrong schema: rejected naming the file (and the entry when it is one entry)', async () => {
    const { boxes, sentences } = copyPair();
    writeFileSync(boxes, JSON.stringify([{ image: 'a.jpg', caption: 'x', bbox: [[1, 2, 3, 4]] }]));
    const e1 = await rejection(openFlickrInfoground(boxes, {}));
    assert.match(e1.message, /bounding_boxes_val\.json: expected a JSON object keyed by image id/);
    const good = JSON.parse(readFileSync(path.join(IG, 'bounding_boxes_val.json'), 'utf8'));
    good['10002456'].boxes = [[1, 2, 3, 4]];
    writeFileSync(boxes, JSON.stringify(good));
    // One image entry of the wrong schema is skipped and reported (issue 12 item 5); the other images open.
    const ds = await openFlickrInfoground(sentences, {});
    const samples = await all(ds);
    assert.equal(ds.badEntries?.(), 1);
    const bad = ds.problems().filter((p) => p.code === 'unreadable-entry');
    assert.equal(bad.length, 1);
    assert.equal(bad[0].location.file, boxes);
    assert.equal(bad[0].location.entry, 'image 10002456');
    assert.match(bad[0].message, /^expected \{"boxes"/);
    assert.ok(samples.length > 0 && !samples.some((s) => s.imageId === '10002456'));
  });

  it('a box with NaN (as Python json.dump writes it): error naming file, image and phrase; that phrase skipped', async () => {
    const { boxes } = copyPair();
    writeFileSync(boxes, readFileSync(boxes, 'utf8').replace('"2": [[79, 61, 149, 109]]', '"2": [[79, NaN, 149, 109]]'));
    const ds = await openFlickrInfoground(boxes, {});
    const samples = await all(ds);
    const [err] = ds.problems().filter((p) => p.severity === 'error');
    assert.equal(err.code, 'invalid-box');
    assert.equal(err.location.file, boxes);
    assert.equal(err.location.entry, 'image 1000092795, boxes["2"]');
    assert.ok(err.message.startsWith('image 1000092795, boxes["2"]: box [79,NaN,149,109] has a non-finite'), err.message);
    assert.ok(!samples.some((s) => s.imageId === '1000092795' && s.ids.phrase_id === '2'));
    assert.equal(samples.length, expectedQueries('val').length - 1);
  });

  it('0-byte file and a missing companion: rejected naming the file', async () => {
    const { boxes, sentences } = copyPair();
    writeFileSync(sentences, '');
    const e1 = await rejection(openFlickrInfoground(sentences, {}));
    assert.ok(e1.message.startsWith(`${sentences}: the file is empty (0 bytes)`), e1.message);
    rmSync(sentences);
    const e2 = await rejection(openFlickrInfoground(boxes, {}));
    assert.match(e2.message, /needs sentences_val\.json beside it/);
  });

  it('an image of the sentences file missing from the boxes file is an error problem', async () => {
    const { boxes, sentences } = copyPair();
    const good = JSON.parse(readFileSync(boxes, 'utf8'));
    delete good['10002456'];
    writeFileSync(boxes, JSON.stringify(good));
    const ds = await openFlickrInfoground(sentences, {});
    const samples = await all(ds);
    assert.ok(samples.every((s) => s.imageId === '1000092795'));
    const [err] = ds.problems().filter((p) => p.severity === 'error');
    assert.equal(err.code, 'missing-annotation');
    assert.match(err.message, /image 10002456/);
  });
});
