// Dataset format detection from a file's first bytes (content first; the name is never required).
// JSON heads are walked with the byte scanner, so a 700 MB file costs one 64 KB read.
import { BoundedReadError, openRegularFile } from '../boundedRead';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { DatasetFormat } from '../types';
import { ReaderError } from './dataset';
import { JsonScanError, JsonScanner, type ScanHandler } from './jsonScan';

/** What each format looks like, for messages that list what was expected. */
export const FORMAT_DESCRIPTIONS: Record<DatasetFormat, string> = {
  'vg-regions': 'Visual Genome region_descriptions.json ([{"id", "regions": [{"region_id", "phrase", "x", "y", "width", "height"}]}])',
  'amc-vg': 'AMC VG JSON ([{"image", "caption", "bbox": [[x1, y1, x2, y2]]}])',
  'refcoco-albef': 'ALBEF RefCOCO JSON ([{"image", "text", "ref_id"}])',
  'flickr-infoground': 'info-ground Flickr30k bounding_boxes_{split}.json ({id: {"boxes", "scene", "nobox", "width", "height"}}) or sentences_{split}.json ({id: [{"sentence", "phrases"}]})',
  'refcoco-pickle': 'RefCOCO refs(unc).p (Python pickle, protocol 0-2)',
  'flickr-raw': 'Flickr30k Entities split file (image ids, one per line) or Sentences/{id}.txt ("[/EN#..." phrases)',
};

export const HEAD_BYTES = 64 * 1024;

function expected(): string {
  return `expected one of: ${Object.values(FORMAT_DESCRIPTIONS).join('; ')}`;
}

/** Detect the format of `file` from its first 64 KB. Throws a ReaderError naming the file and what was expected. */
export async function detectFormat(file: string): Promise<DatasetFormat> {
  const absolute = path.resolve(file);
  let handle, size;
  try {
    // Non-blocking open + fstat (boundedRead.ts): a FIFO or device is refused at once instead of hanging the open.
    // No size cap: this is the file the user opened, and only its head is read here.
    ({ handle, size } = await openRegularFile(absolute, { what: 'annotation file', maxBytes: Number.POSITIVE_INFINITY }));
  } catch (err) {
    if (err instanceof BoundedReadError && err.reason === 'missing') throw new ReaderError(absolute, undefined, 'cannot open the file (ENOENT: not found)');
    if (err instanceof BoundedReadError && err.reason === 'not-regular' && /directory/.test(err.message)) {
      throw new ReaderError(absolute, undefined, `is a folder; open an annotation file: ${expected()}`);
    }
    throw err instanceof BoundedReadError ? new ReaderError(absolute, undefined, err.message.slice(absolute.length + 2)) : err;
  }
  try {
    const st = { size };
    const head = Buffer.alloc(Math.min(HEAD_BYTES, st.size));
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return detectFormatFromHead(head.subarray(0, bytesRead), absolute, st.size);
  } finally {
    await handle.close();
  }
}

/**
 * A Flickr30k Entities split file (`train.txt` / `val.txt` / `test.txt`: image ids, one per line) with its `Sentences/`
 * folder beside it, told by content: the viewer opens these when they are opened as text (src/editor/flickrSplitOpen.ts).
 * False for every other file, and for any file that cannot be read.
 */
export async function isFlickrSplitFile(file: string): Promise<boolean> {
  if (path.extname(file).toLowerCase() !== '.txt') return false;
  try {
    if (!(await stat(path.join(path.dirname(file), 'Sentences'))).isDirectory()) return false;
    if (await detectFormat(file) !== 'flickr-raw') return false;
    // flickr-raw is also a Sentences/{id}.txt ("[/EN#..." lines): a split file starts with an image id.
    const { handle } = await openRegularFile(file, { what: 'annotation file', maxBytes: Number.POSITIVE_INFINITY });
    try {
      const head = Buffer.alloc(64);
      const { bytesRead } = await handle.read(head, 0, head.length, 0);
      return /^\ufeff?\s*\d/.test(head.subarray(0, bytesRead).toString('utf8'));
    } finally {
      await handle.close();
    }
  } catch {
    return false;
  }
}

/** Collects the keys of the first container at each depth of a JSON head, and the first value's kind. */
class HeadProbe implements ScanHandler {
  top: 'object' | 'array' | 'scalar' | undefined;
  /** keys of the first object met at each depth (depth 2 = first element / first value of the top level) */
  readonly keys = new Map<number, Set<string>>();
  /** kind of the first container opened at each depth */
  readonly kinds = new Map<number, 'object' | 'array'>();
  private readonly closedAt = new Set<number>();
  topClosedEmpty = false;
  private topElements = 0;

  open(isObject: boolean, depth: number): void {
    if (depth === 2) this.topElements++;
    if (depth === 1) this.top = isObject ? 'object' : 'array';
    if (!this.kinds.has(depth)) this.kinds.set(depth, isObject ? 'object' : 'array');
  }

  close(_isObject: boolean, depth: number): void {
    if (depth === 1 && this.topElements === 0) this.topClosedEmpty = true;
    this.closedAt.add(depth);
  }

  key(depth: number, name: string): void {
    // only the first object at each depth: stop adding once that object closed
    if (this.closedAt.has(depth)) return;
    let set = this.keys.get(depth);
    if (!set) this.keys.set(depth, (set = new Set()));
    set.add(name);
  }

  scalar(depth: number): void {
    if (depth === 0) this.top = 'scalar';
    if (depth === 1) this.topElements++;
  }

  has(depth: number, ...names: string[]): boolean {
    const set = this.keys.get(depth);
    return !!set && names.every((n) => set.has(n));
  }

  any(depth: number, ...names: string[]): boolean {
    const set = this.keys.get(depth);
    return !!set && names.some((n) => set.has(n));
  }

  list(depth: number): string {
    return [...(this.keys.get(depth) ?? [])].map((k) => JSON.stringify(k)).join(', ') || 'no keys';
  }
}

/** Pure detection from the head bytes (exported for tests). `totalSize` tells whether the head is the whole file. */
export function detectFormatFromHead(head: Uint8Array, file: string, totalSize: number = head.length): DatasetFormat {
  const fail = (why: string): never => { throw new ReaderError(file, undefined, `cannot tell the dataset format: ${why}; ${expected()}`); };
  if (totalSize === 0 || head.length === 0) {
    throw new ReaderError(file, undefined, `the file is empty (0 bytes); ${expected()}`);
  }
  const b0 = head[0], b1 = head.length > 1 ? head[1] : -1;
  // Pickles: protocol 2+ starts with PROTO (0x80, version); protocols 0/1 (Python 2's default) start with
  // MARK '(' + LIST/DICT/TUPLE, or EMPTY_LIST ']' / EMPTY_DICT '}' followed by a memo PUT ('p', 'q') or MARK.
  if (b0 === 0x80 && b1 >= 2 && b1 <= 5) return 'refcoco-pickle';
  if (b0 === 0x28 && (b1 === 0x6c || b1 === 0x64 || b1 === 0x74 || b1 === 0x28)) return 'refcoco-pickle';
  if ((b0 === 0x5d || b0 === 0x7d) && (b1 === 0x71 || b1 === 0x70 || b1 === 0x28 || b1 === 0x72)) return 'refcoco-pickle';

  let start = 0;
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) start = 3; // UTF-8 BOM
  while (start < head.length && (head[start] === 0x20 || head[start] === 0x0a || head[start] === 0x0d || head[start] === 0x09)) start++;
  if (start === head.length) {
    if (head.length === totalSize) fail('the file holds only whitespace');
    fail('the first 64 KB are whitespace');
  }
  const first = head[start];
  const text = Buffer.from(head).toString('utf8');
  if (/^\ufeff?\s*\[\/EN#/.test(text)) return 'flickr-raw'; // Sentences/{id}.txt lines start with '[' too
  if (first === 0x5b || first === 0x7b) return detectJson(head.subarray(start), totalSize === head.length, fail);

  if (text.includes('[/EN#')) return 'flickr-raw';
  if (/<annotation[\s>]/.test(text)) {
    fail('this looks like a Flickr30k Entities Annotations/{id}.xml; open the split file (val.txt) or a Sentences/{id}.txt instead');
  }
  // A split file: whitespace-separated image ids (the last line may be cut by the 64 KB head).
  let tokens = text.split(/\s+/).filter((t) => t.length > 0);
  if (head.length < totalSize && tokens.length > 1) tokens = tokens.slice(0, -1);
  if (tokens.length > 0 && tokens.every((t) => /^\d+(\.jpg)?$/.test(t))) return 'flickr-raw';
  if (head.subarray(0, Math.min(head.length, 512)).some((c) => c === 0)) fail('it is a binary file and not a Python pickle of protocol 0-2');
  return fail(`it is neither JSON, a pickle, nor a Flickr30k text file (starts with ${JSON.stringify(text.slice(0, 40))})`);
}

function detectJson(head: Uint8Array, whole: boolean, failWith: (why: string) => never): DatasetFormat {
  const probe = new HeadProbe();
  let invalid = '';
  const fail = (why: string): never => failWith(`${why}${invalid}`);
  const scanner = new JsonScanner(probe, { eventDepth: 4, keyDepth: 4, scalarDepth: 1 });
  try {
    scanner.push(head, 0);
    if (whole) scanner.finish();
  } catch (err) {
    if (!(err instanceof JsonScanError)) throw err;
    // Use what was seen before the error; the reader reports the exact place later.
    invalid = `; also, it is not valid JSON (${err.message} at byte ${err.offset})`;
    if (!probe.top || (whole && probe.keys.size === 0)) failWith(`it is not valid JSON (${err.message} at byte ${err.offset})`);
  }
  if (probe.top === 'array') {
    if (probe.topClosedEmpty) fail('the JSON list is empty');
    if (probe.kinds.get(2) !== 'object') fail('the JSON list does not hold objects');
    if (probe.any(2, 'regions')) return 'vg-regions';
    if (probe.has(2, 'image', 'caption', 'bbox')) return 'amc-vg';
    if (probe.has(2, 'text', 'ref_id') || probe.has(2, 'image', 'ref_id')) return 'refcoco-albef';
    if (probe.any(2, 'image_id') && probe.any(2, 'url', 'coco_id', 'flickr_id')) {
      fail('this is Visual Genome image_data.json (image sizes); open region_descriptions.json, it finds image_data.json beside it');
    }
    if (probe.has(2, 'image', 'caption')) fail('these are captions without boxes ({"image", "caption"}), not grounding annotations');
    fail(`the first list entry has ${probe.list(2)}`);
  }
  if (probe.top === 'object') {
    if (probe.any(1, 'images', 'annotations', 'categories')) {
      fail('this is a COCO instances.json; open refs(unc).p (it finds instances.json beside it) or an ALBEF RefCOCO JSON');
    }
    const firstValue = probe.kinds.get(2);
    if (firstValue === 'object' && probe.any(2, 'boxes', 'scene', 'nobox')) return 'flickr-infoground';
    if (firstValue === 'array' && (probe.any(3, 'sentence', 'phrases'))) return 'flickr-infoground';
    if (firstValue === 'array' && probe.kinds.get(3) === undefined && whole) fail('the first image has an empty sentence list');
    fail(`a JSON object whose first value has ${firstValue === 'array' ? probe.list(3) : probe.list(2)}`);
  }
  return fail('the JSON value is not a list or an object');
}
