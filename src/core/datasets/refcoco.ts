// RefCOCO / RefCOCO+ / RefCOCOg: the REFER files `refs(unc).p` (+ COCO `instances.json`) and ALBEF's
// grounding JSON `[{image, text, ref_id}]` joined to them (docs/reference.md §4.2, §5.2, §5.4).
//
// Ground truth as the reference evaluation takes it (docs/reference.md §4.2): the box is the annotation's xywh from
// instances.json (`refer.refToAnn[ref_id]['bbox']`), kept in `sourceBoxes` and turned into xyxy
// [x, y, x+w, y+h] for `boxes`, with the xywh strict-inside hit rule; width/height and the image file come
// from instances.json `images` (the ref's own `file_name` carries an annotation suffix and names no file);
// the split is the ref's. Captions use pre_caption with max_words 30 as RefCOCO+ evaluation does.
// The pickle is read by ./pickle.ts, which executes nothing.
import { existsSync } from 'node:fs';
import { readRegularFile } from '../boundedRead';
import * as path from 'node:path';
import { preCaption } from '../text';
import type { BoxXYXY, Problem, Sample, SourceLocation } from '../types';
import { ReaderError, asReaderError, type Dataset, type OpenOptions } from './dataset';
import { entryLabel, readJsonFile } from './jsonFile';
import { LoadedDataset, checkBox, chooseImageRoot, resolveImage, show } from './loadedDataset';
import { parsePickle, type PickleDict, type PickleValue } from './pickle';

/** Word limit of pre_caption in RefCOCO+ evaluation (docs/reference.md §4.2). */
export const REFCOCO_MAX_WORDS = 30;

/** Refs file names of the REFER datasets: unc (RefCOCO, RefCOCO+), umd / google (RefCOCOg), berkeley (RefCLEF). */
export const REFS_FILE_NAMES = ['refs(unc).p', 'refs(umd).p', 'refs(google).p', 'refs(berkeley).p'];

export interface RefSentence { sent_id: number | string; sent: string }

/** One ref with what the readers need from instances.json already joined. */
export interface JoinedRef {
  ref_id: number;
  ann_id: number;
  image_id: number;
  category_id?: number;
  split?: string;
  sentences: RefSentence[];
  index: number; // position in the refs list, for messages
}

export interface CocoImage { file_name: string; width?: number; height?: number }

/** refs + the parts of instances.json they point to. */
export interface RefsIndex {
  refsFile: string;
  instancesFile: string;
  refs: JoinedRef[];
  refsById: Map<number, JoinedRef>;
  images: Map<number, CocoImage>;
  annBoxes: Map<number, unknown>; // raw `bbox` per annotation id, checked where used
  /** Refs and instances entries skipped as unreadable ('unreadable-entry'), each named. */
  problems: Problem[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const EXPECT_REFS = 'a REFER refs pickle: a list of {ref_id, ann_id, image_id, split, sentences: [{sent_id, sent}]}';
const EXPECT_INSTANCES = 'COCO instances.json: {"images": [{id, file_name, width, height}], "annotations": [{id, image_id, bbox: [x,y,w,h]}]}';
const EXPECT_ALBEF = 'ALBEF RefCOCO JSON: [{"image": str, "text": str, "ref_id": int}]';

function field(d: PickleDict, key: string): PickleValue | undefined {
  return d.get(key);
}

/**
 * Read a refs pickle and its instances.json (default: beside the pickle). Both are read only when they are regular
 * files under `maxFileBytes` (boundedRead.ts): a FIFO, a device or a folder in their place is refused at once.
 */
export async function loadRefs(refsFile: string, instancesFile?: string, maxFileBytes?: number): Promise<RefsIndex> {
  const refsAbs = path.resolve(refsFile);
  let bytes: Buffer;
  try { bytes = await readRegularFile(refsAbs, { what: 'refs pickle', maxBytes: maxFileBytes }); } catch (err) { throw asReaderError(err); }
  const value = parsePickle(bytes, refsAbs);
  if (!Array.isArray(value)) throw new ReaderError(refsAbs, undefined, `expected ${EXPECT_REFS}, found ${describe(value)}`);
  // One bad ref is skipped and reported (never the whole file refused): 'unreadable-entry' problems in `problems`.
  const problems: Problem[] = [];
  const skip = (err: unknown): undefined => {
    if (!(err instanceof ReaderError)) throw err;
    problems.push({ severity: 'error', code: 'unreadable-entry', message: `${err.message.slice(err.file.length + (err.entry ? err.entry.length + 5 : 2))}; skipped`, location: { file: err.file, entry: err.entry ?? 'file' } });
    return undefined;
  };
  const refs: JoinedRef[] = value
    .map((r, i) => { try { return readRef(r, i, refsAbs); } catch (err) { return skip(err); } })
    .filter((r): r is JoinedRef => r !== undefined);
  const refsById = new Map<number, JoinedRef>();
  for (const r of refs) refsById.set(r.ref_id, r); // a repeated ref_id keeps the last, as refer's dict does

  const instAbs = path.resolve(instancesFile ?? path.join(path.dirname(refsAbs), 'instances.json'));
  if (!existsSync(instAbs)) { // exists (any kind): a FIFO or folder in its place is refused by name below, not "not found"
    throw new ReaderError(refsAbs, undefined, `the refs need COCO instances.json for boxes and image sizes; not found at ${instAbs} (set companionFile)`);
  }
  const inst = (await readJsonFile(instAbs, EXPECT_INSTANCES, { what: 'instances.json', maxBytes: maxFileBytes })).value;
  if (!isObj(inst) || !Array.isArray(inst.images) || !Array.isArray(inst.annotations)) {
    throw new ReaderError(instAbs, undefined, `expected ${EXPECT_INSTANCES}, found ${isObj(inst) ? `an object with keys ${Object.keys(inst).slice(0, 6).join(', ')}` : show(inst)}`);
  }
  const images = new Map<number, CocoImage>();
  inst.images.forEach((img, i) => {
    if (!isObj(img) || typeof img.id !== 'number' || typeof img.file_name !== 'string') {
      skip(new ReaderError(instAbs, `images[${i}]`, `expected {id: int, file_name: str, width, height}, found ${show(img)}`));
      return;
    }
    images.set(img.id, {
      file_name: img.file_name,
      ...(typeof img.width === 'number' && typeof img.height === 'number' ? { width: img.width, height: img.height } : {}),
    });
  });
  const annBoxes = new Map<number, unknown>();
  inst.annotations.forEach((a, i) => {
    if (!isObj(a) || typeof a.id !== 'number') { skip(new ReaderError(instAbs, `annotations[${i}]`, `expected {id: int, image_id, bbox: [x,y,w,h]}, found ${show(a)}`)); return; }
    annBoxes.set(a.id, a.bbox);
  });
  return { refsFile: refsAbs, instancesFile: instAbs, refs, refsById, images, annBoxes, problems };
}

function readRef(r: PickleValue, i: number, file: string): JoinedRef {
  if (!(r instanceof Map)) throw new ReaderError(file, `refs[${i}]`, `expected a dict, found ${describe(r)}; expected ${EXPECT_REFS}`);
  const refId = field(r, 'ref_id');
  const entry = typeof refId === 'number' ? `refs[${i}] (ref_id ${refId})` : `refs[${i}]`;
  const num = (key: string): number => {
    const v = field(r, key);
    if (typeof v !== 'number') throw new ReaderError(file, entry, `'${key}' should be an int, found ${describe(v)}; expected ${EXPECT_REFS}`);
    return v;
  };
  const sentences = field(r, 'sentences');
  if (!Array.isArray(sentences)) throw new ReaderError(file, entry, `'sentences' should be a list, found ${describe(sentences)}`);
  const split = field(r, 'split');
  const category = field(r, 'category_id');
  return {
    ref_id: num('ref_id'),
    ann_id: num('ann_id'),
    image_id: num('image_id'),
    ...(typeof category === 'number' ? { category_id: category } : {}),
    ...(typeof split === 'string' ? { split } : {}),
    index: i,
    sentences: sentences.map((s, j) => {
      if (!(s instanceof Map)) throw new ReaderError(file, `${entry}, sentences[${j}]`, `expected a dict {sent_id, sent, raw, tokens}, found ${describe(s)}`);
      const sent = field(s, 'sent') ?? field(s, 'raw');
      if (typeof sent !== 'string') throw new ReaderError(file, `${entry}, sentences[${j}]`, `'sent' should be a string, found ${describe(sent)}`);
      const sentId = field(s, 'sent_id');
      return { sent, sent_id: typeof sentId === 'number' || typeof sentId === 'string' ? sentId : `${i}.${j}` };
    }),
  };
}

function describe(v: PickleValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v instanceof Map) return 'a dict';
  if (v instanceof Set) return 'a set';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** The ground truth of a ref: xywh box → xyxy, image entry; or the problem that prevents it. */
function refTruth(index: RefsIndex, ref: JoinedRef): Truth | Problem {
  const location = { file: index.refsFile, entry: `ref_id ${ref.ref_id} (refs[${ref.index}])` };
  const image = index.images.get(ref.image_id);
  if (!image) {
    return { severity: 'error', code: 'missing-image-entry', message: `ref_id ${ref.ref_id} needs image ${ref.image_id}, which ${index.instancesFile} does not list; its sentences are skipped`, location };
  }
  if (!index.annBoxes.has(ref.ann_id)) {
    return { severity: 'error', code: 'missing-annotation', message: `ref_id ${ref.ref_id} needs annotation ${ref.ann_id}, which ${index.instancesFile} does not list; its sentences are skipped`, location };
  }
  const checked = checkBox(index.annBoxes.get(ref.ann_id));
  if ('error' in checked) {
    return { severity: 'error', code: 'invalid-box', message: `annotation ${ref.ann_id} (ref_id ${ref.ref_id}): ${checked.error}; its sentences are skipped`, location: { file: index.instancesFile, entry: `annotation id ${ref.ann_id}` } };
  }
  const [x, y, w, h] = checked.box;
  return { box: [x, y, x + w, y + h], source: [x, y, w, h], image };
}

export function cocoImageRootCandidates(...dirs: string[]): string[] {
  const rel = ['images', 'train2014', path.join('images', 'train2014'), path.join('images', 'mscoco', 'images', 'train2014'), path.join('coco', 'train2014')];
  const out: string[] = [];
  for (const d of dirs) for (const r of rel) out.push(path.join(d, r), path.join(d, '..', r));
  return [...new Set(out.map((p) => path.resolve(p)))];
}

/**
 * Open `refs(unc).p` (or umd/google): one sample per sentence of each ref, in refs order. instances.json:
 * `opts.companionFile` or beside the pickle. Images: `{imageRoot}/{file_name from instances.json}`, default
 * root `images/` or `train2014/` (or `images/train2014/`) beside the pickle or its parent, else its folder.
 */
export async function openRefcocoPickle(file: string, opts: OpenOptions): Promise<Dataset> {
  const index = await loadRefs(file, opts.companionFile, opts.maxFileBytes);
  const dir = path.dirname(index.refsFile);
  const firstImage = index.refs.length ? index.images.get(index.refs[0].image_id)?.file_name : undefined;
  const imageRoot = chooseImageRoot(opts.imageRoot, cocoImageRootCandidates(dir), firstImage, dir);
  const records: Array<{ record: RefSentenceRecord; split?: string }> = [];
  const problems: Problem[] = [...index.problems];
  for (const ref of index.refs) {
    const truth = refTruth(index, ref);
    if ('severity' in truth) { problems.push(truth); continue; }
    if (ref.sentences.length === 0) {
      problems.push({ severity: 'warning', code: 'ref-without-sentences', message: `ref_id ${ref.ref_id} has no sentences, so it yields no sample`, location: { file: index.refsFile, entry: `ref_id ${ref.ref_id} (refs[${ref.index}])` } });
      continue;
    }
    const image = resolveImage(imageRoot, truth.image.file_name);
    // Plain literals, not `{...shared, s}`: V8 gave each spread copy its own hidden class (~400 B a record).
    for (let s = 0; s < ref.sentences.length; s++) {
      records.push({ record: { ref, truth, image, refsFile: index.refsFile, s }, split: ref.split });
    }
  }
  return LoadedDataset.of('refcoco-pickle', index.refsFile, refSentenceSample, records, problems);
}

interface Truth { box: BoxXYXY; source: number[]; image: CocoImage }

/** A stored sample of the refs reader: a ref, its ground truth, and which of its sentences. */
interface RefSentenceRecord { ref: JoinedRef; truth: Truth; image: string; refsFile: string; s: number }

function refSentenceSample(r: RefSentenceRecord, index: number): Sample {
  const { ref, truth } = r;
  const sent = ref.sentences[r.s];
  return {
    index,
    id: `${ref.ref_id}/${sent.sent_id}`,
    image: r.image,
    imageId: String(ref.image_id),
    ...(truth.image.width !== undefined ? { width: truth.image.width, height: truth.image.height } : {}),
    phrase: sent.sent,
    caption: preCaption(sent.sent, REFCOCO_MAX_WORDS),
    boxes: [[...truth.box]],
    sourceBoxes: [[...truth.source]],
    hitRule: 'xywh',
    ...(ref.split !== undefined ? { split: ref.split } : {}),
    ids: {
      ref_id: ref.ref_id, ann_id: ref.ann_id, image_id: ref.image_id, sent_id: sent.sent_id,
      ...(ref.category_id !== undefined ? { category_id: ref.category_id } : {}),
    },
    source: { file: r.refsFile, entry: `ref_id ${ref.ref_id}, sent_id ${sent.sent_id}` },
  };
}

/** Where an ALBEF JSON's refs file is looked for when `opts.refsFile` is not given (docs/reference.md §5.2). */
export function refsFileCandidates(albefFile: string): string[] {
  const dir = path.dirname(path.resolve(albefFile));
  const prefix = /^(refcoco\+|refcocog|refcoco|refclef)/i.exec(path.basename(albefFile))?.[1]?.toLowerCase();
  const datasets = prefix ? [prefix] : ['refcoco+', 'refcoco', 'refcocog', 'refclef'];
  const folders = [dir];
  for (const d of datasets) folders.push(path.join(dir, d), path.join(dir, '..', d), path.join(dir, 'data', d), path.join(dir, '..', 'data', d));
  const out: string[] = [];
  for (const f of folders) for (const n of REFS_FILE_NAMES) out.push(path.resolve(f, n));
  return [...new Set(out)];
}

/**
 * Open ALBEF's grounding JSON (`refcoco+_val.json`: `[{image, text, ref_id}]`), joining every entry to its
 * ref for box, split and image size. Refs: `opts.refsFile`, else the first of `refsFileCandidates(file)`
 * that exists; instances.json: `opts.companionFile` or beside the refs. `image` is used as written when
 * absolute, else joined to the image root (default: the first of `images/`, `train2014/`, ... beside the
 * JSON or the refs that holds the first image, else the JSON's folder). An entry whose ref_id is not in the
 * refs is reported as an error problem naming it and skipped.
 */
export async function openRefcocoAlbef(file: string, opts: OpenOptions): Promise<Dataset> {
  const abs = path.resolve(file);
  const doc = await readJsonFile(abs, EXPECT_ALBEF);
  if (!Array.isArray(doc.value)) {
    throw new ReaderError(abs, undefined, `expected ${EXPECT_ALBEF}, found ${isObj(doc.value) ? `an object with keys ${Object.keys(doc.value).slice(0, 6).join(', ')}` : show(doc.value)}`);
  }
  // A malformed entry is skipped and reported (counted as a bad entry), never the whole file refused.
  const skippedEntries: Problem[] = [];
  const entries = doc.value.flatMap((e, i): AlbefEntry[] => {
    const label = doc.entries[i] ? entryLabel(doc.entries[i]) : `[${i}]`;
    if (!isObj(e) || typeof e.image !== 'string' || typeof e.text !== 'string' || typeof e.ref_id !== 'number') {
      skippedEntries.push({ severity: 'error', code: 'unreadable-entry', message: `expected {"image": str, "text": str, "ref_id": int}, found ${show(e)}; skipped`,
        location: { file: abs, entry: `entry ${label}`, ...(doc.entries[i] ? { byteOffset: doc.entries[i].offset } : {}) } });
      return [];
    }
    const entry: AlbefEntry = { image: e.image, text: e.text, ref_id: e.ref_id, label };
    if (typeof e.split === 'string') entry.split = e.split; // RefCLEF files carry it (docs/reference.md §5.2)
    if (doc.entries[i]) entry.offset = doc.entries[i].offset;
    return [entry];
  });
  let refsFile = opts.refsFile ? path.resolve(opts.refsFile) : undefined;
  if (!refsFile) {
    const candidates = refsFileCandidates(abs);
    refsFile = candidates.find((c) => existsSync(c)); // any kind: loadRefs refuses a non-regular one by name
    if (!refsFile) {
      throw new ReaderError(abs, undefined, `ALBEF JSON holds no boxes: it needs the REFER refs file to join ref_id to; looked for ${candidates.map((c) => path.relative(path.dirname(abs), c)).join(', ')} (set refsFile)`);
    }
  }
  const index = await loadRefs(refsFile, opts.companionFile, opts.maxFileBytes);
  const dir = path.dirname(abs);
  const firstRelative = entries.find((e) => !path.isAbsolute(e.image))?.image;
  const imageRoot = chooseImageRoot(
    opts.imageRoot, [dir, ...cocoImageRootCandidates(dir, path.dirname(index.refsFile))], firstRelative, dir);
  opts.onProgress?.(doc.bytes, doc.bytes);

  const records: Array<{ record: AlbefRecord; split?: string }> = [];
  const problems: Problem[] = [...index.problems, ...skippedEntries];
  const refProblemReported = new Set<number>();
  entries.forEach((e, i) => {
    const ref = index.refsById.get(e.ref_id);
    if (!ref) {
      problems.push({ severity: 'error', code: 'missing-ref', message: `ref_id ${e.ref_id} is not in ${index.refsFile}; entry skipped`, location: albefLocation(abs, e) });
      return;
    }
    const truth = refTruth(index, ref);
    if ('severity' in truth) {
      if (!refProblemReported.has(ref.ref_id)) { refProblemReported.add(ref.ref_id); problems.push(truth); }
      return;
    }
    records.push({ record: { file: abs, entry: e, i, ref, truth, imageRoot }, split: ref.split ?? e.split });
  });
  return LoadedDataset.of('refcoco-albef', abs, albefSample, records, problems);
}

interface AlbefEntry { image: string; text: string; ref_id: number; split?: string; label: string; offset?: number }

/** A stored sample of the ALBEF reader: the JSON entry and the ref it joins to. */
interface AlbefRecord { file: string; entry: AlbefEntry; i: number; ref: JoinedRef; truth: Truth; imageRoot: string }

function albefLocation(file: string, e: AlbefEntry): SourceLocation {
  return { file, entry: `entry ${e.label} (ref_id ${e.ref_id})`, ...(e.offset !== undefined ? { byteOffset: e.offset } : {}) };
}

function albefSample(r: AlbefRecord, index: number): Sample {
  const { entry: e, ref, truth } = r;
  const split = ref.split ?? e.split;
  return {
    index,
    id: `${r.i}:${e.ref_id}`,
    image: resolveImage(r.imageRoot, e.image),
    imageId: String(ref.image_id),
    ...(truth.image.width !== undefined ? { width: truth.image.width, height: truth.image.height } : {}),
    phrase: e.text,
    caption: preCaption(e.text, REFCOCO_MAX_WORDS),
    boxes: [[...truth.box]],
    sourceBoxes: [[...truth.source]],
    hitRule: 'xywh',
    ...(split !== undefined ? { split } : {}),
    ids: { ref_id: ref.ref_id, ann_id: ref.ann_id, image_id: ref.image_id, entry: r.i },
    source: albefLocation(r.file, e),
  };
}
