// Flickr30k Entities in info-ground's JSON pair (docs/reference.md §5.3): bounding_boxes_{split}.json +
// sentences_{split}.json, boxes already 0-based xyxy. Queries as in the reference evaluation (docs/reference.md §4.3):
// every phrase whose phrase_id is in the image's `boxes`, union of those boxes, hit rule xyxy,
// caption = pre_caption(phrase, 50). Same query rules and sample shape as the raw reader (flickr.ts).
import * as path from 'node:path';
import type { BoxXYXY, Problem } from '../types';
import { ReaderError, type OpenOptions } from './dataset';
import {
  emptySkipCounts, flickrImageQueries, flickrImageRootCandidates, flickrSample,
  type FlickrAnnotation, type FlickrDataset, type FlickrQuery, type FlickrSentence,
} from './flickr';
import { MAX_WHOLE_JSON_BYTES, readJsonFile, type JsonDocument } from './jsonFile';
import { existsSync } from 'node:fs';
import { LoadedDataset, checkBox, chooseImageRoot, resolveImage, show } from './loadedDataset';

const NAME = /^(bounding_boxes|sentences)_(.+)\.json$/;
const EXPECT_BOXES = 'info-ground bounding_boxes_{split}.json: {image_id: {"boxes": {phrase_id: [[x1,y1,x2,y2], ...]}, "scene": [...], "nobox": [...], "width", "height"}}';
const EXPECT_SENTENCES = 'info-ground sentences_{split}.json: {image_id: [{"sentence": str, "phrases": [{"first_word_index", "phrase", "phrase_id", "phrase_type"}]}]}';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Open the info-ground pair from either file. The other file is `opts.companionFile` or the sibling with
 * the other prefix and the same split (`sentences_val.json` ↔ `bounding_boxes_val.json`); which one was
 * opened is decided from the content when the name does not say. Split: from the file name. Images:
 * `{imageRoot}/{id}.jpg`, default root `flickr30k-images/` (or `flickr30k_images/`, `Images/`) beside the
 * files or their parent, else the files' folder. Image order: the sentences file's order.
 */
export async function openFlickrInfoground(file: string, opts: OpenOptions): Promise<FlickrDataset> {
  const abs = path.resolve(file);
  const opened = await readJsonFile(abs, `${EXPECT_SENTENCES}, or ${EXPECT_BOXES}`);
  if (!isObj(opened.value)) {
    throw new ReaderError(abs, undefined, `expected a JSON object keyed by image id (info-ground ${NAME.source}), found ${Array.isArray(opened.value) ? 'an array' : typeof opened.value}`);
  }
  const m = NAME.exec(path.basename(abs));
  let kind: 'boxes' | 'sentences';
  if (m) kind = m[1] === 'bounding_boxes' ? 'boxes' : 'sentences';
  else {
    const first = Object.values(opened.value)[0];
    kind = Array.isArray(first) ? 'sentences' : 'boxes';
  }
  const split = m?.[2];
  let companion = opts.companionFile ? path.resolve(opts.companionFile) : undefined;
  if (!companion) {
    if (!split) {
      throw new ReaderError(abs, undefined, `cannot find the other file of the info-ground pair: the name is not bounding_boxes_{split}.json / sentences_{split}.json; set companionFile`);
    }
    companion = path.join(path.dirname(abs), `${kind === 'boxes' ? 'sentences' : 'bounding_boxes'}_${split}.json`);
    if (!existsSync(companion)) throw new ReaderError(abs, undefined, `the info-ground pair needs ${path.basename(companion)} beside it (looked for ${companion})`);
  }
  const other = await readJsonFile(companion, kind === 'boxes' ? EXPECT_SENTENCES : EXPECT_BOXES,
    { what: `info-ground ${path.basename(companion)}`, maxBytes: Math.max(opts.maxFileBytes ?? 0, MAX_WHOLE_JSON_BYTES) });
  const sentencesDoc = kind === 'sentences' ? opened : other;
  const boxesDoc = kind === 'boxes' ? opened : other;
  const sentencesFile = kind === 'sentences' ? abs : companion;
  const boxesFile = kind === 'boxes' ? abs : companion;
  if (!isObj(sentencesDoc.value)) throw new ReaderError(sentencesFile, undefined, `expected ${EXPECT_SENTENCES}`);
  if (!isObj(boxesDoc.value)) throw new ReaderError(boxesFile, undefined, `expected ${EXPECT_BOXES}`);
  opts.onProgress?.(opened.bytes + other.bytes, opened.bytes + other.bytes);

  const sentencesById = sentencesDoc.value;
  const boxesById = boxesDoc.value;
  const boxOffsets = offsetsByKey(boxesDoc);
  const images = orderedKeys(sentencesDoc);
  const imageRoot = chooseImageRoot(opts.imageRoot, flickrImageRootCandidates(path.dirname(abs)), images[0] ? `${images[0].key}.jpg` : undefined, path.dirname(abs));
  const skipped = emptySkipCounts();
  const queries: Array<{ record: FlickrQuery; split?: string }> = [];
  const problems: Problem[] = [];
  const report = (p: Problem) => problems.push(p);

  for (const { key: imageId, offset } of images) {
    const rawAnn = boxesById[imageId];
    if (rawAnn === undefined) {
      report({ severity: 'error', code: 'missing-annotation', message: `image ${imageId} of ${sentencesFile} has no entry here; its queries are skipped`, location: { file: boxesFile, entry: `image ${imageId}` } });
      continue;
    }
    let sentences: FlickrSentence[];
    let ann: FlickrAnnotation;
    try {
      sentences = readSentences(sentencesById[imageId], sentencesFile, imageId);
      ann = readAnnotation(rawAnn, boxesFile, imageId, boxOffsets.get(imageId), report);
    } catch (err) {
      // One malformed image entry is skipped and reported (a bad entry), never the whole pair refused.
      if (!(err instanceof ReaderError)) throw err;
      const byteOffset = err.file === boxesFile ? boxOffsets.get(imageId) : offset;
      report({ severity: 'error', code: 'unreadable-entry', message: `${err.message.slice(err.file.length + (err.entry ? err.entry.length + 5 : 2))}; the queries of image ${imageId} are skipped`,
        location: { file: err.file, entry: err.entry ?? `image ${imageId}`, ...(byteOffset !== undefined ? { byteOffset } : {}) } });
      continue;
    }
    const ctx = {
      imageId, image: resolveImage(imageRoot, `${imageId}.jpg`), split, sentencesFile, annotationFile: boxesFile,
      ...(offset !== undefined ? { sentencesByteOffset: offset } : {}),
    };
    for (const q of flickrImageQueries({ ctx, sentences, ann }, skipped, report)) queries.push({ record: q, split });
  }
  const ds = LoadedDataset.of('flickr-infoground', abs, flickrSample, queries, problems);
  return Object.assign(ds, { skipped: () => ({ ...skipped }) });
}

/**
 * Top-level keys in file order with their byte offsets (JSON.parse itself puts integer-like keys such as
 * Flickr ids first, sorted). A key written twice appears once, where JSON.parse keeps its last value.
 */
function orderedKeys(doc: JsonDocument): { key: string; offset?: number }[] {
  const seen = new Set<string>();
  const out: { key: string; offset?: number }[] = [];
  for (const e of doc.entries) {
    if (e.key === undefined || seen.has(e.key)) continue;
    seen.add(e.key);
    out.push({ key: e.key, offset: e.offset });
  }
  for (const key of Object.keys(doc.value as Obj)) if (!seen.has(key)) out.push({ key }); // scanner could not decode a key
  return out;
}

function offsetsByKey(doc: JsonDocument): Map<string, number> {
  return new Map(doc.entries.filter((e) => e.key !== undefined).map((e) => [e.key!, e.offset]));
}

function readSentences(value: unknown, file: string, imageId: string): FlickrSentence[] {
  if (!Array.isArray(value)) throw new ReaderError(file, `image ${imageId}`, `expected a list of sentences, found ${show(value)}; expected ${EXPECT_SENTENCES}`);
  return value.map((s, i) => {
    const entry = `image ${imageId}, sentence ${i + 1}`;
    if (!isObj(s) || !Array.isArray(s.phrases)) throw new ReaderError(file, entry, `expected {"sentence", "phrases": [...]}, found ${show(s)}`);
    return {
      sentence: typeof s.sentence === 'string' ? s.sentence : '',
      line: 0,
      phrases: s.phrases.map((p, j) => {
        if (!isObj(p) || typeof p.phrase !== 'string' || (typeof p.phrase_id !== 'string' && typeof p.phrase_id !== 'number')) {
          throw new ReaderError(file, `${entry}, phrase ${j + 1}`, `expected {"phrase": str, "phrase_id": str, ...}, found ${show(p)}`);
        }
        return {
          phrase: p.phrase,
          phrase_id: String(p.phrase_id),
          first_word_index: typeof p.first_word_index === 'number' ? p.first_word_index : -1,
          phrase_type: Array.isArray(p.phrase_type) ? p.phrase_type.map(String) : [],
        };
      }),
    };
  });
}

function readAnnotation(
  value: unknown, file: string, imageId: string, byteOffset: number | undefined, report: (p: Problem) => void,
): FlickrAnnotation {
  if (!isObj(value) || !isObj(value.boxes)) {
    throw new ReaderError(file, `image ${imageId}`, `expected {"boxes": {phrase_id: [[x1,y1,x2,y2], ...]}, ...}, found ${show(value)}`);
  }
  const ann: FlickrAnnotation = {
    boxes: new Map(), sourceBoxes: new Map(), broken: new Set(),
    scene: new Set(Array.isArray(value.scene) ? value.scene.map(String) : []),
    nobox: new Set(Array.isArray(value.nobox) ? value.nobox.map(String) : []),
  };
  if (typeof value.width === 'number' && typeof value.height === 'number') { ann.width = value.width; ann.height = value.height; }
  for (const [phraseId, list] of Object.entries(value.boxes)) {
    const entry = `image ${imageId}, boxes[${JSON.stringify(phraseId)}]`;
    const location = { file, entry, ...(byteOffset !== undefined ? { byteOffset } : {}) };
    if (!Array.isArray(list)) {
      throw new ReaderError(file, entry, `expected a list of [x1,y1,x2,y2] boxes, found ${show(list)}`);
    }
    const boxes: BoxXYXY[] = [];
    let bad: string | undefined;
    for (const b of list) {
      const checked = checkBox(b);
      if ('error' in checked) { bad = checked.error; break; }
      boxes.push([...checked.box]);
    }
    if (bad !== undefined) {
      ann.broken.add(phraseId);
      report({ severity: 'error', code: 'invalid-box', message: `${entry}: ${bad}; the queries of phrase ${phraseId} are skipped`, location });
      continue;
    }
    ann.boxes.set(phraseId, boxes);
    ann.sourceBoxes.set(phraseId, boxes.map((b) => [...b]));
  }
  return ann;
}
