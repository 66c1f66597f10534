// RefCOCO+ readers: REFER refs(unc).p (+ instances.json) and ALBEF's JSON joined to the refs. Expected
// values were computed in Python from `pickle.load(f, encoding='latin1')` + instances.json exactly as the
// refer API and the evaluation use them (scripts/gen-dataset-fixtures.py).
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ReaderError } from '../../../../src/core/datasets/dataset';
import { PickleError } from '../../../../src/core/datasets/pickle';
import { openRefcocoAlbef, openRefcocoPickle } from '../../../../src/core/datasets/refcoco';
import type { Sample } from '../../../../src/core/types';

const FIX = path.join(__dirname, '..', '..', '..', 'fixtures', 'datasets', 'refcoco');
const REFS = path.join(FIX, 'refcoco+', 'refs(unc).p');
const INSTANCES = path.join(FIX, 'refcoco+', 'instances.json');
const IMAGES = path.join(FIX, 'images', 'train2014');

interface ExpectedRef {
  ref_id: number; sent_id: number; phrase: string; caption: string; split: string; bbox: number[]; box: number[]; file_name: string;
  width: number; height: number;
}
interface ExpectedAlbef {
  entry: number; image: string; text: string; caption: string; ref_id: number; split: string; bbox: number[]; box: number[];
}
const expectedRefs = JSON.parse(readFileSync(path.join(FIX, 'expected_refs.json'), 'utf8')) as ExpectedRef[];
const expectedAlbef = JSON.parse(readFileSync(path.join(FIX, 'expected_albef.json'), 'utf8')) as Record<string, ExpectedAlbef[]>;

async function all(ds: { complete: Promise<void>; count(): number; page(s: number, l: number): Promise<Sample[]> }): Promise<Sample[]> {
  await ds.complete;
  return ds.page(0, ds.count());
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try { await p; } catch (e) { return e as Error; }
  throw new Error('expected a rejection');
}

const asRef = (s: Sample): ExpectedRef => ({
  ref_id: s.ids.ref_id as number, sent_id: s.ids.sent_id as number, phrase: s.phrase, caption: s.caption, split: s.split!,
  bbox: s.sourceBoxes[0], box: s.boxes[0], file_name: path.basename(s.image), width: s.width!, height: s.height!,
});

let tmp: string;
beforeEach(() => { tmp = mkdtempSync(path.join(tmpdir(), 'amc-refcoco-')); });
afterEach(() => { rmSync(tmp, { recursive: true, force: true }); });

describe('RefCOCO+ refs(unc).p + instances.json', () => {
  it('one sample per sentence of each ref, GT from the annotation xywh, sizes and file from instances.json', async () => {
    const ds = await openRefcocoPickle(REFS, {});
    const samples = await all(ds);
    assert.equal(ds.format, 'refcoco-pickle');
    assert.deepEqual(samples.map(asRef), expectedRefs);
    assert.deepEqual(ds.problems(), []);
    assert.ok(samples.every((s) => s.hitRule === 'xywh' && s.boxes.length === 1));
  });

  it('xywh → xyxy exactly [x, y, x+w, y+h]; the ref\'s own file_name (with ann suffix) is not used', async () => {
    const [first] = await (await openRefcocoPickle(REFS, {})).page(0, 1);
    assert.deepEqual(first.sourceBoxes, [[412.8, 157.61, 53.05, 138.01]]);
    assert.deepEqual(first.boxes, [[412.8, 157.61, 412.8 + 53.05, 157.61 + 138.01]]);
    assert.equal(first.image, path.join(IMAGES, 'COCO_train2014_000000000139.jpg'), 'default root images/train2014 found by the first image');
    assert.ok(!first.image.includes('_1001'));
    assert.deepEqual(first.ids, { ref_id: 10, ann_id: 1001, image_id: 139, sent_id: 100, category_id: 1 });
    assert.equal(first.imageId, '139');
    assert.equal(first.source.file, REFS);
    assert.equal(first.source.entry, 'ref_id 10, sent_id 100');
  });

  it('Python-2 strings: latin-1 byte str and unicode sentences; captions with max_words 30', async () => {
    const samples = await all(await openRefcocoPickle(REFS, {}));
    assert.equal(samples[1].phrase, 'guy on the left café');
    assert.equal(samples[2].phrase, 'woman with café style hat');
    assert.equal(samples.find((s) => s.ids.sent_id === 105)!.caption, 'the chair stool on the right');
  });

  it('splits from the refs in first-seen order', async () => {
    assert.deepEqual((await openRefcocoPickle(REFS, {})).splits(), ['val', 'testA', 'testB', 'train']);
  });

  it('a protocol-0 refs pickle (STRING opcodes) with instances.json given as companionFile reads the same', async () => {
    const p0 = await all(await openRefcocoPickle(path.join(FIX, 'pickle', 'refs_proto0.p'), { companionFile: INSTANCES, imageRoot: IMAGES }));
    assert.deepEqual(p0.map(asRef), expectedRefs);
  });

  it('missing instances.json: rejected naming where it was looked for', async () => {
    cpSync(REFS, path.join(tmp, 'refs(unc).p'));
    const err = await rejection(openRefcocoPickle(path.join(tmp, 'refs(unc).p'), {}));
    assert.ok(err instanceof ReaderError);
    assert.match(err.message, /the refs need COCO instances\.json for boxes and image sizes; not found at .*instances\.json/);
  });
});

describe('RefCOCO+ refs: bad input', () => {
  function copy(): { refs: string; instances: string } {
    const refs = path.join(tmp, 'refs(unc).p');
    const instances = path.join(tmp, 'instances.json');
    cpSync(REFS, refs);
    cpSync(INSTANCES, instances);
    return { refs, instances };
  }

  it('a refs pickle with GLOBAL (os.system via REDUCE): rejected with opcode, offset and file, nothing run', async () => {
    const { refs } = copy();
    cpSync(path.join(FIX, 'pickle', 'malicious_os_system_proto2.p'), refs);
    const err = await rejection(openRefcocoPickle(refs, {}));
    assert.ok(err instanceof PickleError);
    assert.equal(err.opcode, 'GLOBAL');
    assert.ok(err.message.startsWith(`${refs} (opcode GLOBAL at byte ${err.offset}): refusing opcode GLOBAL (posix.system)`), err.message);
    assert.equal(existsSync('/tmp/amc-pickle-fixture-was-executed'), false);
  });

  it('a truncated refs pickle and a 0-byte one: rejected naming the file', async () => {
    const { refs } = copy();
    const bytes = readFileSync(REFS);
    writeFileSync(refs, bytes.subarray(0, bytes.length - 40));
    const e1 = await rejection(openRefcocoPickle(refs, {}));
    assert.ok(e1.message.startsWith(refs) && /truncated/.test(e1.message), e1.message);
    writeFileSync(refs, '');
    const e2 = await rejection(openRefcocoPickle(refs, {}));
    assert.ok(e2.message.startsWith(refs) && /empty \(0 bytes\)/.test(e2.message), e2.message);
  });

  it('a ref of the wrong shape: skipped and reported naming the ref and field, counted as a bad entry (issue 12 item 5)', async () => {
    const { refs } = copy();
    // protocol 2: [ {'ref_id': 7, 'ann_id': 'x'} ] written by hand in Python-2 style
    writeFileSync(refs, Buffer.from('\x80\x02]q\x00}q\x01(U\x06ref_idq\x02K\x07U\x06ann_idq\x03U\x01xq\x04ua.', 'latin1'));
    const ds = await openRefcocoPickle(refs, {});
    assert.equal(ds.count(), 0);
    assert.equal(ds.badEntries?.(), 1);
    assert.deepEqual(ds.problems().map((p) => [p.code, p.location.file, p.location.entry, p.message]),
      [['unreadable-entry', refs, 'refs[0] (ref_id 7)', "'sentences' should be a list, found nothing; skipped"]]);
  });

  it('a ref with no sentences: a warning naming it, no sample', async () => {
    const { refs } = copy();
    // protocol 0 as Python 2 wrote it: [{'ref_id': 7, 'ann_id': 1001, 'image_id': 139, 'split': 'val', 'sentences': []}]
    writeFileSync(refs, "(lp0\n(dp1\nS'ref_id'\np2\nI7\nsS'ann_id'\np3\nI1001\nsS'image_id'\np4\nI139\nsS'split'\np5\nS'val'\np6\nsS'sentences'\np7\n(lp8\nsa.");
    const ds = await openRefcocoPickle(refs, {});
    assert.equal((await all(ds)).length, 0);
    assert.deepEqual(ds.problems().map((p) => [p.severity, p.code, p.message, p.location.entry]),
      [['warning', 'ref-without-sentences', 'ref_id 7 has no sentences, so it yields no sample', 'ref_id 7 (refs[0])']]);
  });

  it('instances.json without the ref\'s annotation: error naming ann id and ref_id; the ref is skipped', async () => {
    const { refs, instances } = copy();
    const inst = JSON.parse(readFileSync(instances, 'utf8'));
    inst.annotations = inst.annotations.filter((a: { id: number }) => a.id !== 1003);
    writeFileSync(instances, JSON.stringify(inst));
    const ds = await openRefcocoPickle(refs, {});
    const samples = await all(ds);
    assert.equal(samples.length, expectedRefs.length - 3);
    const [err] = ds.problems();
    assert.equal(err.code, 'missing-annotation');
    assert.equal(err.message, `ref_id 12 needs annotation 1003, which ${instances} does not list; its sentences are skipped`);
    assert.equal(err.location.file, refs);
    assert.equal(err.location.entry, 'ref_id 12 (refs[2])');
  });

  it('a bbox with NaN in instances.json (Python json.dump writes NaN): error naming the annotation', async () => {
    const { refs, instances } = copy();
    writeFileSync(instances, readFileSync(instances, 'utf8').replace('[384.43, 172.21, 15.12, 35.74]', '[384.43, NaN, 15.12, 35.74]'));
    const ds = await openRefcocoPickle(refs, {});
    const samples = await all(ds);
    assert.ok(!samples.some((s) => s.ids.ref_id === 11));
    const [err] = ds.problems();
    assert.equal(err.code, 'invalid-box');
    assert.equal(err.message, 'annotation 1002 (ref_id 11): box [384.43,NaN,15.12,35.74] has a non-finite or non-numeric coordinate (NaN); its sentences are skipped');
    assert.equal(err.location.file, instances);
    assert.equal(err.location.entry, 'annotation id 1002');
  });

  it('truncated or wrong-schema instances.json: rejected naming the file', async () => {
    const { refs, instances } = copy();
    const text = readFileSync(INSTANCES, 'utf8');
    writeFileSync(instances, text.slice(0, text.indexOf('"annotations"') + 40));
    const e1 = await rejection(openRefcocoPickle(refs, {}));
    assert.ok(e1.message.startsWith(`${instances} (entry "annotations" at byte `), e1.message);
    assert.match(e1.message, /truncated/);
    writeFileSync(instances, JSON.stringify({ images: {}, annotations: [] }));
    const e2 = await rejection(openRefcocoPickle(refs, {}));
    assert.match(e2.message, /instances\.json: expected COCO instances\.json/);
  });
});

describe('RefCOCO+ ALBEF JSON joined to refs', () => {
  const asAlbef = (s: Sample): ExpectedAlbef => ({
    entry: s.ids.entry as number, image: s.image, text: s.phrase, caption: s.caption, ref_id: s.ids.ref_id as number,
    split: s.split!, bbox: s.sourceBoxes[0], box: s.boxes[0],
  });

  it('refcoco+_val.json: refs found in refcoco+/, relative image paths resolved, box and split from the ref', async () => {
    const file = path.join(FIX, 'refcoco+_val.json');
    const ds = await openRefcocoAlbef(file, {});
    const samples = await all(ds);
    assert.equal(ds.format, 'refcoco-albef');
    const expected = expectedAlbef['refcoco+_val.json'].map((e) => ({ ...e, image: path.join(FIX, 'images', e.image) }));
    assert.deepEqual(samples.map(asAlbef), expected);
    assert.ok(existsSync(samples[0].image), 'default image root holds the image');
    assert.ok(samples.every((s) => s.hitRule === 'xywh' && s.width === 640 && s.height === 426));
    assert.equal(samples[0].source.byteOffset, 1);
    assert.deepEqual(ds.problems(), []);
  });

  it('albef/refcoco+_test_new_path.json: refs in ../refcoco+/, absolute paths kept, unknown ref_id reported', async () => {
    const file = path.join(FIX, 'albef', 'refcoco+_test_new_path.json');
    const ds = await openRefcocoAlbef(file, {});
    const samples = await all(ds);
    assert.deepEqual(samples.map(asAlbef), expectedAlbef['albef/refcoco+_test_new_path.json']);
    assert.deepEqual(ds.splits(), ['testA', 'testB']);
    const problems = ds.problems();
    assert.equal(problems.length, 1);
    assert.equal(problems[0].code, 'missing-ref');
    assert.equal(problems[0].message, `ref_id 999 is not in ${REFS}; entry skipped`);
    assert.equal(problems[0].location.file, file);
    assert.equal(problems[0].location.entry, 'entry [1] (ref_id 999)');
  });

  it('opts.refsFile, companionFile and imageRoot', async () => {
    const json = path.join(tmp, 'grounding.json');
    writeFileSync(json, JSON.stringify([{ image: 'a/b.jpg', text: 'Brown chair', ref_id: 12 }]));
    const [s] = await all(await openRefcocoAlbef(json, { refsFile: path.join(FIX, 'pickle', 'refs_proto0.p'), companionFile: INSTANCES, imageRoot: '/coco' }));
    assert.equal(s.image, '/coco/a/b.jpg');
    assert.deepEqual(s.sourceBoxes, [[13.0, 22.75, 535.98, 609.67]]);
    assert.equal(s.split, 'testB');
    assert.equal(s.caption, 'brown chair');
  });

  it('a UTF-8 BOM before the JSON is accepted; a syntax error after it is located by entry and line', async () => {
    const json = path.join(tmp, 'grounding.json');
    const opts = { refsFile: REFS };
    writeFileSync(json, '\ufeff' + JSON.stringify([{ image: 'a.jpg', text: 'brown chair', ref_id: 12 }]));
    assert.equal((await all(await openRefcocoAlbef(json, opts)))[0].ids.ref_id, 12);
    writeFileSync(json, '\ufeff[{"image": "a.jpg", "text": "x", "ref_id": 12},\n {"image": "b.jpg", "text": "y", "ref_id": 12,}]');
    const err = await rejection(openRefcocoAlbef(json, opts));
    assert.match(err.message, /grounding\.json \(entry \[1\], line 2, column \d+\): invalid JSON/);
  });

  it('no refs file nearby: rejected, listing where it looked', async () => {
    const json = path.join(tmp, 'refcoco+_val.json');
    writeFileSync(json, JSON.stringify([{ image: 'x.jpg', text: 't', ref_id: 1 }]));
    const err = await rejection(openRefcocoAlbef(json, {}));
    assert.ok(err.message.startsWith(`${json}: ALBEF JSON holds no boxes`), err.message);
    assert.ok(err.message.includes(path.join('refcoco+', 'refs(unc).p')) && err.message.includes(path.join('..', 'refcoco+', 'refs(unc).p')), err.message);
  });

  it('0-byte, truncated and wrong-schema ALBEF JSON: rejected naming the file and entry', async () => {
    mkdirSync(path.join(tmp, 'refcoco+'));
    cpSync(REFS, path.join(tmp, 'refcoco+', 'refs(unc).p'));
    cpSync(INSTANCES, path.join(tmp, 'refcoco+', 'instances.json'));
    const json = path.join(tmp, 'refcoco+_val.json');
    writeFileSync(json, '');
    assert.match((await rejection(openRefcocoAlbef(json, {}))).message, /refcoco\+_val\.json: the file is empty \(0 bytes\); expected ALBEF RefCOCO JSON/);
    const good = readFileSync(path.join(FIX, 'refcoco+_val.json'), 'utf8');
    writeFileSync(json, good.slice(0, good.length - 30));
    const truncated = await rejection(openRefcocoAlbef(json, {}));
    assert.ok(truncated.message.startsWith(`${json} (entry [1] at byte `), truncated.message);
    assert.match(truncated.message, /truncated/);
    writeFileSync(json, JSON.stringify([{ image: 'x.jpg', text: 'ok', ref_id: 10 }, { image: 'y.jpg', caption: 'VG style', bbox: [[1, 2, 3, 4]] }]));
    // One entry of the wrong schema is skipped and reported (issue 12 item 5); the file still opens.
    const schema = await openRefcocoAlbef(json, {});
    assert.equal(schema.badEntries?.(), 1);
    const bad = schema.problems().filter((p) => p.code === 'unreadable-entry');
    assert.equal(bad.length, 1);
    assert.equal(bad[0].location.entry, 'entry [1]');
    assert.match(bad[0].message, /^expected \{"image": str, "text": str, "ref_id": int\}, found .*; skipped$/);
    writeFileSync(json, JSON.stringify({ images: [], annotations: [] }));
    assert.match((await rejection(openRefcocoAlbef(json, {}))).message, /expected ALBEF RefCOCO JSON: \[\{"image": str, "text": str, "ref_id": int\}\], found an object with keys images, annotations/);
  });
});
