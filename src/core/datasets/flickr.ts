// Flickr30k Entities, raw public format (docs/reference.md §5.4): Sentences/{id}.txt bracket syntax + Annotations/{id}.xml
// (VOC-like, 1-based), opened from a split file (val.txt) or from one Sentences/{id}.txt.
//
// Queries follow the reference evaluation (docs/reference.md §4.3): one per phrase occurrence in each sentence whose
// phrase_id has at least one box; its boxes (union) are the XML values minus 1 (0-based, as info-ground's
// flickr30k_entities_utils.py writes them, docs/reference.md §5.3); hit rule xyxy; caption = pre_caption(phrase, 50).
// Phrases that are not visual (EN#0), scene-only or marked nobndbox are skipped as the reference skips them;
// they are counted in `skipped()`, not reported as problems, because they are the normal protocol.
// A phrase id that no <object> names is reported as a warning, an unreadable box as an error (query skipped).
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { existsSync } from 'node:fs';
import { BoundedReadError, readRegularFile, readRegularFileSync } from '../boundedRead';
import * as path from 'node:path';
import { preCaption } from '../text';
import type { BoxXYXY, Problem, Sample, SourceLocation } from '../types';
import { ReaderError, asReaderError, type Dataset, type OpenOptions } from './dataset';
import { LoadedDataset, chooseImageRoot, isDirectory, isFile, resolveImage, type DatasetSink } from './loadedDataset';

/** Word limit of pre_caption for Flickr30k queries (docs/reference.md §4.3). */
export const FLICKR_MAX_WORDS = 50;

/** One phrase of a sentence, as info-ground's get_sentence_data returns it (docs/reference.md §5.3 `phrases`). */
export interface FlickrPhrase {
  first_word_index: number;
  phrase: string;
  phrase_id: string;
  phrase_type: string[];
}

export interface FlickrSentence {
  sentence: string;
  phrases: FlickrPhrase[];
  line: number; // 1-based line in Sentences/{id}.txt (0 when read from info-ground JSON)
}

/** Boxes of one image, keyed by phrase id, as info-ground's get_annotations returns them (docs/reference.md §5.3). */
export interface FlickrAnnotation {
  boxes: Map<string, BoxXYXY[]>;        // 0-based xyxy, as the evaluation uses them
  sourceBoxes: Map<string, number[][]>; // exactly as stored (XML: 1-based; info-ground JSON: 0-based)
  scene: Set<string>;
  nobox: Set<string>;
  /** Phrase ids whose box could not be read: their queries are skipped (a problem was reported). */
  broken: Set<string>;
  width?: number;
  height?: number;
}

/** Phrases a reader left out, by reason (the reference protocol leaves them out too, docs/reference.md §4.3). */
export interface FlickrSkipCounts {
  notVisual: number;   // EN#0
  sceneOnly: number;   // <scene>1 and no box
  noBox: number;       // <nobndbox>1 and no box
  unannotated: number; // no <object> names the phrase id (also a warning problem)
  badBox: number;      // the phrase's box could not be read (also an error problem)
}

export interface FlickrDataset extends Dataset {
  /** Phrase occurrences that produced no query, by reason; final once `complete` resolves. */
  skipped(): FlickrSkipCounts;
}

/**
 * Sentence parsing exactly as info-ground's `get_sentence_data` (flickr30k_entities_utils.py): tokens split
 * on whitespace, `[/EN#id/type...` opens a phrase, a token ending in `]` closes it, the phrase text is its
 * tokens joined by one space, `first_word_index` counts words outside the bracket markup.
 */
export function parseFlickrSentences(text: string): { sentences: FlickrSentence[]; unterminated: number[] } {
  const sentences: FlickrSentence[] = [];
  const unterminated: number[] = [];
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  lines.forEach((line, lineIndex) => {
    if (!line) return; // `if not sentence: continue`
    const firstWord: number[] = [];
    const phraseTexts: string[] = [];
    const phraseIds: string[] = [];
    const phraseTypes: string[][] = [];
    const words: string[] = [];
    let current: string[] = [];
    let inPhrase = false;
    for (let token of line.split(/\s+/).filter((t) => t.length > 0)) {
      if (inPhrase) {
        if (token.endsWith(']')) {
          inPhrase = false;
          token = token.slice(0, -1);
          current.push(token);
          phraseTexts.push(current.join(' '));
          current = [];
        } else {
          current.push(token);
        }
        words.push(token);
      } else if (token.startsWith('[')) {
        inPhrase = true;
        firstWord.push(words.length);
        const parts = token.split('/');
        phraseIds.push((parts[1] ?? '').slice(3));
        phraseTypes.push(parts.slice(2));
      } else {
        words.push(token);
      }
    }
    if (inPhrase) unterminated.push(lineIndex + 1);
    const n = Math.min(firstWord.length, phraseTexts.length); // Python's zip stops at the shortest
    const phrases: FlickrPhrase[] = [];
    for (let i = 0; i < n; i++) {
      phrases.push({ first_word_index: firstWord[i], phrase: phraseTexts[i], phrase_id: phraseIds[i], phrase_type: phraseTypes[i] });
    }
    sentences.push({ sentence: words.join(' '), phrases, line: lineIndex + 1 });
  });
  return { sentences, unterminated };
}

const xmlParser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false, // keep text: "12" vs "" vs "NaN" must be told apart
  isArray: (name) => name === 'object' || name === 'name' || name === 'bndbox',
});

type XmlNode = Record<string, unknown>;
const BOX_CHILDREN = ['xmin', 'ymin', 'xmax', 'ymax'] as const;

/**
 * Read Annotations/{id}.xml as info-ground's `get_annotations` does: every <name> of an <object> with a
 * <bndbox> gets that box minus 1; objects without one add their names to `nobox` / `scene` when those flags
 * are > 0. Throws ReaderError for XML that cannot be parsed; a box with a missing or non-numeric child is
 * reported as an error problem naming the object, and its phrase ids are marked broken.
 */
export function parseFlickrAnnotation(xml: string, file: string, report: (p: Problem) => void): FlickrAnnotation {
  if (xml.trim().length === 0) throw new ReaderError(file, undefined, 'the annotation file is empty; expected Flickr30k Entities XML');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new ReaderError(file, `line ${valid.err.line}, column ${valid.err.col}`, `malformed XML: ${valid.err.msg}`);
  const doc = xmlParser.parse(xml) as XmlNode;
  const root = doc.annotation;
  if (!isNode(root)) throw new ReaderError(file, undefined, 'no <annotation> root element; expected Flickr30k Entities XML (Annotations/{id}.xml)');
  const ann: FlickrAnnotation = { boxes: new Map(), sourceBoxes: new Map(), scene: new Set(), nobox: new Set(), broken: new Set() };
  const size = root.size;
  if (isNode(size)) {
    const w = Number(size.width);
    const h = Number(size.height);
    if (Number.isFinite(w) && w > 0 && Number.isFinite(h) && h > 0) { ann.width = w; ann.height = h; }
  }
  if (ann.width === undefined) {
    report({ severity: 'warning', code: 'missing-size', message: `<size> has no valid <width>/<height>; image size unknown until the image is read`, location: { file, entry: '<size>' } });
  }
  const objects = Array.isArray(root.object) ? root.object : [];
  objects.forEach((obj: unknown, k: number) => {
    const names = isNode(obj) && Array.isArray(obj.name) ? obj.name.map((n) => String(n).trim()) : [];
    const entry = `object ${k + 1} (<name> ${names.join(', ') || 'missing'})`;
    if (!isNode(obj) || names.length === 0) {
      report({ severity: 'warning', code: 'object-without-name', message: `${entry} has no <name>; it grounds no phrase`, location: { file, entry } });
      return;
    }
    const bndboxes = Array.isArray(obj.bndbox) ? obj.bndbox : [];
    if (bndboxes.length > 0) {
      const bnd = bndboxes[0];
      const values: number[] = [];
      const missing: string[] = [];
      for (const child of BOX_CHILDREN) {
        const raw = isNode(bnd) ? bnd[child] : undefined;
        const text = typeof raw === 'string' ? raw.trim() : '';
        const v = text === '' ? NaN : Number(text);
        if (!Number.isFinite(v)) missing.push(text === '' ? `<${child}> missing` : `<${child}> is "${text}"`);
        values.push(v);
      }
      if (missing.length > 0) {
        for (const n of names) ann.broken.add(n);
        report({
          severity: 'error', code: 'invalid-box',
          message: `${entry}: <bndbox> is unreadable (${missing.join(', ')}); the queries of phrase ${names.join(', ')} are skipped`,
          location: { file, entry },
        });
        return;
      }
      const box: BoxXYXY = [values[0] - 1, values[1] - 1, values[2] - 1, values[3] - 1]; // 1-based → 0-based (docs/reference.md §5.3)
      for (const n of names) {
        push(ann.boxes, n, box);
        push(ann.sourceBoxes, n, values.slice());
      }
    } else {
      if (flag(obj.nobndbox) > 0) for (const n of names) ann.nobox.add(n);
      if (flag(obj.scene) > 0) for (const n of names) ann.scene.add(n);
    }
  });
  return ann;
}

/** A ReaderError's message without its "file (entry): " prefix, which a Problem carries in its location. */
function bareMessage(err: ReaderError): string {
  const prefix = `${err.file}${err.entry ? ` (${err.entry})` : ''}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

function flag(v: unknown): number {
  const n = Number(typeof v === 'string' ? v.trim() : v);
  return Number.isFinite(n) ? n : 0;
}

function isNode(v: unknown): v is XmlNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value); else map.set(key, [value]);
}

export function emptySkipCounts(): FlickrSkipCounts {
  return { notVisual: 0, sceneOnly: 0, noBox: 0, unannotated: 0, badBox: 0 };
}

/** Where a Flickr image's queries come from, for samples and messages. */
export interface FlickrImageContext {
  imageId: string;
  image: string;            // resolved image path
  split?: string;
  sentencesFile: string;
  annotationFile: string;
  sentencesByteOffset?: number;
}

/** One image's parsed annotations, shared by its queries. */
export interface FlickrImageData {
  ctx: FlickrImageContext;
  sentences: FlickrSentence[];
  ann: FlickrAnnotation;
}

/** A query as the dataset stores it: image, sentence index, phrase index (the Sample is built on demand). */
export interface FlickrQuery { img: FlickrImageData; s: number; p: number }

/**
 * The queries of one image (docs/reference.md §4.3): every phrase occurrence whose id has boxes, in sentence order.
 * Shared by the raw and the info-ground readers so both give the same samples for the same data.
 */
export function flickrImageQueries(img: FlickrImageData, skipped: FlickrSkipCounts, report: (p: Problem) => void): FlickrQuery[] {
  const { ctx, sentences, ann } = img;
  const out: FlickrQuery[] = [];
  const warnedUnannotated = new Set<string>();
  sentences.forEach((sent, s) => {
    sent.phrases.forEach((ph, p) => {
      const id = ph.phrase_id;
      const boxes = ann.boxes.get(id);
      if (ann.broken.has(id)) { skipped.badBox++; return; }
      if (!boxes || boxes.length === 0) {
        if (id === '0') skipped.notVisual++;
        else if (ann.scene.has(id)) skipped.sceneOnly++;
        else if (ann.nobox.has(id)) skipped.noBox++;
        else {
          skipped.unannotated++;
          if (!warnedUnannotated.has(id)) {
            warnedUnannotated.add(id);
            report({ severity: 'warning', code: 'phrase-without-object', message: `phrase EN#${id} "${ph.phrase}" has no box and no scene/nobndbox flag: no object in ${ctx.annotationFile} is named ${id}; skipped`, location: flickrLocation(img, s, p) });
          }
        }
        return;
      }
      out.push({ img, s, p });
    });
  });
  return out;
}

function flickrLocation(img: FlickrImageData, s: number, p: number): SourceLocation {
  const sent = img.sentences[s];
  const ph = sent.phrases[p];
  return {
    file: img.ctx.sentencesFile,
    entry: `image ${img.ctx.imageId}, sentence ${s + 1}, phrase ${p + 1} (EN#${ph.phrase_id} "${ph.phrase}")`,
    ...(sent.line > 0 ? { line: sent.line } : {}),
    ...(img.ctx.sentencesByteOffset !== undefined ? { byteOffset: img.ctx.sentencesByteOffset } : {}),
  };
}

/** The Sample of a stored query (caption = pre_caption(phrase, 50), docs/reference.md §4.3). */
export function flickrSample(q: FlickrQuery, index: number): Sample {
  const { ctx, sentences, ann } = q.img;
  const ph = sentences[q.s].phrases[q.p];
  const id = ph.phrase_id;
  return {
    index,
    id: `${ctx.imageId}/${q.s}/${q.p}`,
    image: ctx.image,
    imageId: ctx.imageId,
    ...(ann.width !== undefined ? { width: ann.width, height: ann.height } : {}),
    phrase: ph.phrase,
    caption: preCaption(ph.phrase, FLICKR_MAX_WORDS),
    boxes: (ann.boxes.get(id) ?? []).map((b) => [...b] as BoxXYXY),
    sourceBoxes: (ann.sourceBoxes.get(id) ?? []).map((b) => [...b]),
    hitRule: 'xyxy',
    ...(ctx.split !== undefined ? { split: ctx.split } : {}),
    ids: { image_id: ctx.imageId, sentence: q.s, phrase_id: id, first_word_index: ph.first_word_index, phrase_type: ph.phrase_type.join('/') },
    source: flickrLocation(q.img, q.s, q.p),
  };
}

/** Folders where Flickr30k images usually sit, relative to the annotation root (most specific first). */
export function flickrImageRootCandidates(...dirs: string[]): string[] {
  const names = ['flickr30k-images', 'flickr30k_images', 'Images', 'images'];
  const out: string[] = [];
  for (const d of dirs) for (const n of names) out.push(path.join(d, n), path.join(d, '..', n));
  return [...new Set(out.map((p) => path.resolve(p)))];
}

const IMAGE_ID = /^[A-Za-z0-9_-]+$/;
const MAX_TEXT_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Open Flickr30k Entities raw annotations. `file` is a split file (`val.txt`: whitespace-separated image
 * ids, `.jpg` suffix tolerated) with `Sentences/` and `Annotations/` beside it, in an `annotations/` or
 * `flickr30k_entities/` folder beside it, or in its parent; or one sentence file `{id}.txt` (recognised by
 * its `[/EN#` phrases or its `Sentences/` folder) with `{id}.xml` in `../Annotations/` or beside it.
 * Images: `{imageRoot}/{id}.jpg`, default root `flickr30k-images/` (or `flickr30k_images/`, `Images/`)
 * beside the annotation root or its parent, else the file's folder. The split is the split file's name (`val`);
 * for one sentence file, the name of the train/val/test.txt beside the annotation root that lists the id. Images are read in
 * the background;
 * `onProgress` counts images (done, total), not bytes, for this directory format.
 */
export async function openFlickrRaw(file: string, opts: OpenOptions): Promise<FlickrDataset> {
  const abs = path.resolve(file);
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(abs, { what: 'Flickr30k Entities split or sentence file (train.txt is ~330 kB)', maxBytes: MAX_TEXT_FILE_BYTES });
  } catch (err) {
    if (err instanceof BoundedReadError && err.reason === 'not-regular') throw new ReaderError(abs, undefined, `not a regular file: open a split file (val.txt) or a Sentences/{id}.txt (${err.message.slice(abs.length + 2)})`);
    throw asReaderError(err);
  }
  if (bytes.length === 0) throw new ReaderError(abs, undefined, 'the file is empty (0 bytes); expected a Flickr30k Entities split file (image ids) or Sentences/{id}.txt');

  // Two folders hold everything: Sentences/{id}.txt and Annotations/{id}.xml.
  let sentencesDir: string;
  let annotationsDir: string;
  let ids: string[];
  let split: string | undefined;
  const dir = path.dirname(abs);
  const text = bytes.toString('utf8');
  if (text.includes('[/EN#') || path.basename(dir) === 'Sentences') {
    // One Sentences/{id}.txt: its XML is in ../Annotations/ (the public layout) or beside it.
    sentencesDir = dir;
    ids = [path.basename(abs).replace(/\.txt$/, '')];
    const candidates = [path.join(dir, '..', 'Annotations'), path.join(dir, 'Annotations'), dir].map((c) => path.resolve(c));
    const found = candidates.find((c) => existsSync(path.join(c, `${ids[0]}.xml`))); // any kind: a FIFO is refused by name when read
    if (!found) {
      throw new ReaderError(abs, undefined, `cannot find the annotation ${ids[0]}.xml of this sentence file; looked in ${candidates.join(', ')}`);
    }
    annotationsDir = found;
    split = await splitListing(ids[0], [path.dirname(found), path.dirname(path.dirname(found))]);
  } else {
    ids = [];
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      for (const token of lines[i].split(/\s+/).filter((t) => t.length > 0)) {
        const id = token.replace(/\.jpg$/i, ''); // some copies list file names
        if (!IMAGE_ID.test(id)) {
          throw new ReaderError(abs, `line ${i + 1}`, `"${token.slice(0, 40)}" is not an image id; expected a Flickr30k Entities split file (whitespace-separated image ids such as 1000092795)`);
        }
        ids.push(id);
      }
    }
    if (ids.length === 0) throw new ReaderError(abs, undefined, 'the split file lists no image ids');
    const candidates = [dir, path.join(dir, 'annotations'), path.join(dir, 'flickr30k_entities'), path.join(dir, 'flickr30k_entities', 'annotations'), path.dirname(dir), path.join(path.dirname(dir), 'annotations')];
    const found = candidates.find((c) => isDirectory(path.join(c, 'Sentences')) && isDirectory(path.join(c, 'Annotations')));
    if (!found) {
      throw new ReaderError(abs, undefined, `cannot find the Sentences/ and Annotations/ folders of Flickr30k Entities; looked in ${candidates.join(', ')}`);
    }
    sentencesDir = path.join(found, 'Sentences');
    annotationsDir = path.join(found, 'Annotations');
    split = path.basename(abs).replace(/\.[^.]*$/, '');
  }
  const root = path.dirname(annotationsDir);
  const imageRoot = chooseImageRoot(opts.imageRoot, flickrImageRootCandidates(root, path.dirname(abs)), `${ids[0]}.jpg`, path.dirname(abs));
  const skipped = emptySkipCounts();

  const ds = LoadedDataset.start('flickr-raw', abs, opts, flickrSample, async (sink: DatasetSink<FlickrQuery>) => {
    const seen = new Set<string>();
    let sliceStart = performance.now();
    for (let i = 0; i < ids.length && !sink.stopped; i++) {
      // Two small files per image, read synchronously (a promise read costs ~10x the CPU); give the event loop
      // back every ~15 ms so pages and other work are served while a 30k-image split is read.
      if (performance.now() - sliceStart > 15) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
      const imageId = ids[i];
      if (seen.has(imageId)) {
        sink.problem({ severity: 'warning', code: 'duplicate-id', message: `image id ${imageId} is listed more than once; read once`, location: { file: abs, entry: `image ${imageId}` } });
        continue;
      }
      seen.add(imageId);
      const files = { sentencesFile: path.join(sentencesDir, `${imageId}.txt`), annotationFile: path.join(annotationsDir, `${imageId}.xml`) };
      for (const q of readFlickrImage(files, imageId, imageRoot, split, skipped, (p) => sink.problem(p))) sink.add(q, split);
      opts.onProgress?.(i + 1, ids.length);
    }
  });
  return Object.assign(ds, { skipped: () => ({ ...skipped }) });
}

/** The split (train/val/test) whose split file in one of `dirs` lists `imageId`, if any. */
async function splitListing(imageId: string, dirs: string[]): Promise<string | undefined> {
  for (const dir of dirs) {
    for (const name of ['train', 'val', 'test']) {
      const file = path.join(dir, `${name}.txt`);
      if (!isFile(file)) continue;
      const text = (await readRegularFile(file, { what: 'split file', maxBytes: MAX_TEXT_FILE_BYTES }).catch(() => Buffer.alloc(0))).toString('utf8');
      if (text.split(/\s+/).some((t) => t === imageId || t === `${imageId}.jpg`)) return name;
    }
  }
  return undefined;
}

function readFlickrImage({ sentencesFile, annotationFile }: { sentencesFile: string; annotationFile: string }, imageId: string,
  imageRoot: string, split: string | undefined, skipped: FlickrSkipCounts, report: (p: Problem) => void): FlickrQuery[] {
  let sentencesText: string;
  let xml: string;
  try {
    // Regular files under the cap only: a FIFO, device or folder named like {id}.xml is refused at once, not read.
    sentencesText = readRegularFileSync(sentencesFile, { what: 'Sentences file', maxBytes: MAX_TEXT_FILE_BYTES }).toString('utf8');
    xml = readRegularFileSync(annotationFile, { what: 'Annotations XML', maxBytes: MAX_TEXT_FILE_BYTES }).toString('utf8');
  } catch (err) {
    if (!(err instanceof BoundedReadError)) throw err;
    const why = err.reason === 'missing' ? 'not found' : err.message.slice(err.file.length + 2);
    report({ severity: 'error', code: 'missing-annotation', message: `cannot read ${err.file} (${why}); the queries of image ${imageId} are skipped`, location: { file: err.file, entry: `image ${imageId}` } });
    return [];
  }
  let ann: FlickrAnnotation;
  try {
    ann = parseFlickrAnnotation(xml, annotationFile, report);
  } catch (err) {
    if (!(err instanceof ReaderError)) throw err;
    report({ severity: 'error', code: 'bad-annotation-file', message: `${bareMessage(err)}; the queries of image ${imageId} are skipped`, location: { file: annotationFile, entry: err.entry ?? `image ${imageId}` } });
    return [];
  }
  const { sentences, unterminated } = parseFlickrSentences(sentencesText);
  for (const line of unterminated) {
    report({ severity: 'warning', code: 'unterminated-phrase', message: `line ${line} opens a [/EN#...] phrase that is never closed with "]"; that phrase is dropped`, location: { file: sentencesFile, entry: `image ${imageId}`, line } });
  }
  const ctx = { imageId, image: resolveImage(imageRoot, `${imageId}.jpg`), split, sentencesFile, annotationFile };
  return flickrImageQueries({ ctx, sentences, ann }, skipped, report);
}
