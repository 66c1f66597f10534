// Format detection from content (first 64 KB), never from the file name alone.
import { strict as assert } from 'node:assert';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { detectFormat, detectFormatFromHead, FORMAT_DESCRIPTIONS, isFlickrSplitFile } from '../../../../src/core/datasets/detect';
import { ReaderError } from '../../../../src/core/datasets/dataset';
import type { DatasetFormat } from '../../../../src/core/types';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'fixtures', 'datasets');
const WORK = path.join(__dirname, '..', '..', '..', '.work', 'detect');

const heads: [string, DatasetFormat, string | Buffer][] = [
  ['VG regions, "regions" first (as the real file)', 'vg-regions',
    '[{"regions": [{"region_id": 1382, "width": 82, "height": 139, "image_id": 1, "phrase": "the clock", "y": 57, "x": 421}], "id": 1}]'],
  ['VG regions, "id" first', 'vg-regions', '[\n  {"id": 1, "regions": []}\n]'],
  ['AMC VG', 'amc-vg', '[{"image": "VG_100K/1.jpg", "caption": "white cat", "bbox": [[1, 2, 3, 4]]}]'],
  ['AMC VG, caption list', 'amc-vg', '\ufeff[{"caption": ["a", "b"], "bbox": [], "image": "x.jpg"}]'],
  ['ALBEF RefCOCO', 'refcoco-albef', '[{"image": "/coco/COCO_train2014_000000000123.jpg", "text": "man in red", "ref_id": 4567}]'],
  ['info-ground boxes', 'flickr-infoground',
    '{"1000092795": {"boxes": {"1": [[50, 60, 210, 330]]}, "scene": ["5"], "nobox": ["7"], "width": 500, "height": 333, "depth": 3}}'],
  ['info-ground sentences', 'flickr-infoground',
    '{"1000092795": [{"sentence": "Two young guys", "phrases": [{"first_word_index": 0, "phrase": "Two young guys", "phrase_id": "1", "phrase_type": ["people"]}]}]}'],
  ['pickle protocol 2', 'refcoco-pickle', Buffer.from([0x80, 0x02, 0x5d, 0x71, 0x00, 0x28, 0x7d, 0x71, 0x01])],
  ['pickle protocol 0', 'refcoco-pickle', '(lp0\n(dp1\nS\'split\'\np2\nS\'val\'\n'],
  ['pickle protocol 1', 'refcoco-pickle', Buffer.from(']q\x00(}q\x01(U\x05split', 'latin1')],
  ['Flickr Sentences txt', 'flickr-raw', '[/EN#18/people A man] in [/EN#19/clothing an orange hat] starring at something .\n'],
  ['Flickr split file', 'flickr-raw', '1000092795\n10002456\n1000268201\n'],
];

describe('detectFormatFromHead', () => {
  for (const [name, format, content] of heads) {
    it(`${name} -> ${format}`, () => {
      const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
      assert.equal(detectFormatFromHead(bytes, '/x/data.bin', bytes.length), format);
    });
  }

  it('detects from a head cut mid-file (64 KB of a larger VG file)', () => {
    const region = '{"region_id": 1, "width": 1, "height": 1, "image_id": 1, "phrase": "p", "y": 0, "x": 0}';
    const big = Buffer.from(`[{"regions": [${Array(2000).fill(region).join(', ')}], "id": 1}]`);
    assert.equal(detectFormatFromHead(big.subarray(0, 65536), '/x/r.json', big.length), 'vg-regions');
  });

  const rejects: [string, string | Buffer, RegExp][] = [
    ['0-byte file', '', /empty \(0 bytes\)/],
    ['whitespace only', '  \n\t ', /only whitespace/],
    ['VG image_data.json', '[{"width": 800, "url": "https://x/VG_100K/1.jpg", "height": 600, "image_id": 1, "coco_id": null}]', /image_data\.json/],
    ['COCO instances.json', '{"images": [{"id": 1}], "annotations": [], "categories": []}', /instances\.json/],
    ['captions without boxes', '[{"image": "a.jpg", "caption": "a dog"}]', /without boxes/],
    ['empty list', '[]', /empty/],
    ['list of numbers', '[1, 2, 3]', /does not hold objects/],
    ['unknown keys', '[{"file": "a.jpg", "label": 3}]', /"file", "label"/],
    ['Flickr XML', '<annotation>\n<filename>1.jpg</filename>\n</annotation>', /Annotations\/\{id\}\.xml/],
    ['binary', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x00, 0x01]), /binary/],
    ['plain text', 'hello world\n', /neither JSON/],
    ['broken JSON of no known shape', '{"a": [}', /not valid JSON/],
  ];
  for (const [name, content, pattern] of rejects) {
    it(`rejects ${name} with a message naming the file and listing the formats`, () => {
      const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
      assert.throws(() => detectFormatFromHead(bytes, '/data/some-file.json', bytes.length), (err: unknown) => {
        assert.ok(err instanceof ReaderError);
        assert.match(err.message, /^\/data\/some-file\.json: /);
        assert.match(err.message, pattern);
        for (const description of Object.values(FORMAT_DESCRIPTIONS)) assert.ok(err.message.includes(description));
        return true;
      });
    });
  }
});

describe('detectFormat (files)', () => {
  before(() => mkdirSync(WORK, { recursive: true }));

  it('isFlickrSplitFile: a split file with Sentences/ beside it; never another .txt (issue 14 item 8)', async () => {
    const entities = path.join(FIXTURES, 'flickr', 'flickr30k_entities');
    assert.equal(await isFlickrSplitFile(path.join(entities, 'test.txt')), true);
    assert.equal(await isFlickrSplitFile(path.join(entities, 'val.txt')), true);
    assert.equal(await isFlickrSplitFile(path.join(entities, 'Sentences', '10002456.txt')), false, 'a Sentences file');
    const lone = path.join(WORK, 'lone');
    rmSync(lone, { recursive: true, force: true });
    mkdirSync(path.join(lone, 'notes'), { recursive: true });
    writeFileSync(path.join(lone, 'test.txt'), '1000092795\n10002456\n');
    assert.equal(await isFlickrSplitFile(path.join(lone, 'test.txt')), false, 'ids but no Sentences/ beside them');
    mkdirSync(path.join(lone, 'Sentences'), { recursive: true });
    writeFileSync(path.join(lone, 'notes.txt'), 'shopping list\n2 eggs\n');
    assert.equal(await isFlickrSplitFile(path.join(lone, 'notes.txt')), false, 'an ordinary text file');
    assert.equal(await isFlickrSplitFile(path.join(lone, 'test.txt')), true);
    assert.equal(await isFlickrSplitFile(path.join(lone, 'missing.txt')), false);
    assert.equal(await isFlickrSplitFile(path.join(entities, '..', 'expected_queries_test.json')), false, 'not .txt');
  });

  it('classifies the committed VG fixtures by content', async () => {
    assert.equal(await detectFormat(path.join(FIXTURES, 'vg', 'region_descriptions.json')), 'vg-regions');
    assert.equal(await detectFormat(path.join(FIXTURES, 'vg', 'amc_vg.json')), 'amc-vg');
  });

  it('ignores a misleading file name', async () => {
    const file = path.join(WORK, 'refs(unc).p');
    writeFileSync(file, '[{"image": "x.jpg", "caption": "c", "bbox": [[0, 0, 1, 1]]}]');
    assert.equal(await detectFormat(file), 'amc-vg');
  });

  it('rejects a 0-byte file and a missing file, naming the file', async () => {
    const empty = path.join(FIXTURES, 'bad', 'empty.json');
    await assert.rejects(detectFormat(empty), (err: Error) => err instanceof ReaderError && err.message.startsWith(`${empty}: the file is empty`));
    const missing = path.join(WORK, 'does-not-exist.json');
    await assert.rejects(detectFormat(missing), (err: Error) => err instanceof ReaderError && err.message.includes(missing) && /ENOENT/.test(err.message));
  });
});
