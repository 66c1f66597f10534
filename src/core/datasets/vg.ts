// Visual Genome raw `region_descriptions.json` (docs/reference.md §5.4): a JSON list over images
// `{"id", "regions": [{"region_id", "image_id", "phrase", "x", "y", "width", "height"}]}`, one Sample per region.
// The real file is ~700 MB (5.4M regions), too big for JSON.parse, so it is indexed by the byte scanner: the
// byte range of every region is kept in typed-array columns and pages are read back with positional reads.
import { access, type FileHandle } from 'node:fs/promises';
import { errorMessage } from '../errors';
import { BoundedReadError, DEFAULT_MAX_FILE_BYTES, openRegularFile } from '../boundedRead';
import * as path from 'node:path';
import type { BoxXYXY, Problem, Sample } from '../types';
import { preCaption } from '../text';
import { problem } from '../lint';
import { PhraseIndex } from '../phraseIndex';
import { ReaderError, type Dataset } from './dataset';
import {
  ChunkWindow, GrowableColumn, IndexProgress, JsonScanError, MAX_ENTRY_BYTES, JsonScanner, parseElement, readRange, SlicedScan,
  type ScanHandler, type ScanOpenOptions,
} from './jsonScan';
import { IndexedJsonDataset, openIndexedJson, type IndexedJsonIndexer } from './indexedJson';
import { show } from './loadedDataset';

interface ImageInfo { width?: number; height?: number; relPath?: string }

const VG_FOLDER = /\/(VG_100K(?:_2)?)\/[^/]*$/;

/**
 * image_data.json ([{"image_id", "width", "height", "url", ...}], 15 MB for 108k images). Decoding and parsing it
 * whole costs ~400 ms of CPU here, most of the time to the first page, so it is indexed like the region file
 * (byte offsets per entry, a small first read, the rest in the background) and read entry by entry: entry k
 * normally describes the k-th image of region_descriptions.json (both lists are in image-id order); each lookup
 * checks the id, and the first mismatch builds a full id table once the file is loaded.
 */
class ImageData implements ScanHandler {
  private readonly start = new GrowableColumn();
  private readonly length = new GrowableColumn();
  private entryOpen = 0;
  private table: Map<string, ImageInfo> | undefined;
  private readonly cache = new Map<number, ImageInfo | undefined>();
  private readonly progress = new IndexProgress();
  /** Settles when the whole file is read and indexed (rejects with a ReaderError naming it if it is bad). */
  readonly loaded: Promise<void>;

  constructor(private readonly handle: FileHandle, private readonly bytes: Buffer, private readonly file: string) {
    this.loaded = this.load();
    this.loaded.catch(() => undefined);
  }

  private async load(): Promise<void> {
    const scanner = new JsonScanner(this, { eventDepth: 2, keyDepth: 1, scalarDepth: 1 });
    const sliced = new SlicedScan(); // 15 MB on the real VG: scanned in slices, so the host stays responsive
    try {
      const first = Math.min(this.bytes.length, 256 << 10);
      for (const [from, to] of [[0, first], [first, this.bytes.length]]) {
        if (to > from) {
          await readRange(this.handle, from, to, this.bytes, from);
          await sliced.push(scanner, this.bytes.subarray(from, to), from, { atYield: () => { this.progress.publish(this.start.length); } });
          this.progress.publish(this.start.length);
        }
      }
      scanner.finish();
      this.progress.finish();
    } catch (err) {
      const error = err instanceof JsonScanError ? new ReaderError(this.file, `byte ${err.offset}`, err.message)
        : err instanceof ReaderError ? err : new ReaderError(this.file, undefined, errorMessage(err));
      this.progress.finish(error);
      throw error;
    } finally {
      await this.handle.close();
    }
  }

  open(isObject: boolean, depth: number, offset: number): void {
    if (depth === 1 && isObject) throw new JsonScanError(offset, 'expected a JSON list of {"image_id", "width", "height", "url"}');
    if (depth === 2) {
      if (!isObject) throw new JsonScanError(offset, `entry [${this.start.length}] is a list, expected an object`);
      this.entryOpen = offset;
    }
  }

  close(_isObject: boolean, depth: number, offset: number): void {
    if (depth === 2) { this.start.push(this.entryOpen); this.length.push(offset + 1 - this.entryOpen); }
  }

  key(): void { /* keys are read by JSON.parse per entry */ }

  scalar(depth: number, raw: string, offset: number): void {
    throw new JsonScanError(offset, depth === 0 ? 'expected a JSON list' : `entry [${this.start.length}] is ${raw.slice(0, 40)}, expected an object`);
  }

  private entry(k: number): { id: string; info: ImageInfo } {
    const at = this.start.get(k);
    const parsed = parseElement(this.bytes.toString('utf8', at, at + this.length.get(k)));
    if (parsed.error) throw new ReaderError(this.file, `entry [${k}] at byte ${at}`, `entry ${parsed.error}`);
    const e = parsed.value as Record<string, unknown>;
    const id = e.image_id ?? e.id;
    if (typeof id !== 'number' && typeof id !== 'string') throw new ReaderError(this.file, `entry [${k}] at byte ${at}`, 'entry has no "image_id"');
    const folder = typeof e.url === 'string' ? VG_FOLDER.exec(e.url)?.[1] : undefined;
    return {
      id: String(id),
      info: {
        width: typeof e.width === 'number' && Number.isFinite(e.width) ? e.width : undefined,
        height: typeof e.height === 'number' && Number.isFinite(e.height) ? e.height : undefined,
        relPath: folder ? `${folder}/${id}.jpg` : undefined,
      },
    };
  }

  /** Size and folder of the `ordinal`-th image of the region file, whose id is `imageId`. */
  async get(ordinal: number, imageId: string): Promise<ImageInfo | undefined> {
    if (!this.table) {
      if (this.cache.has(ordinal)) return this.cache.get(ordinal);
      await this.progress.waitFor(ordinal + 1);
      if (ordinal < this.start.length) {
        const { id, info } = this.entry(ordinal);
        if (id === imageId) {
          if (this.cache.size > 4096) this.cache.clear();
          this.cache.set(ordinal, info);
          return info;
        }
      }
      await this.loaded;
      const built = this.table as Map<string, ImageInfo> | undefined; // a concurrent lookup may have built it
      if (built) return built.get(imageId);
      this.table = new Map();
      for (let k = 0; k < this.start.length; k++) {
        const { id, info } = this.entry(k);
        this.table.set(id, info);
      }
      this.cache.clear();
    }
    return this.table.get(imageId);
  }
}

/** Open a VG region_descriptions.json. Returns at once; `page()` serves regions while indexing continues. */
export async function openVgRegions(file: string, opts: ScanOpenOptions = {}): Promise<Dataset> {
  const opened = await openIndexedJson(file, 'expected a VG region_descriptions.json list');
  return new VgRegionsDataset(opened.file, opened.size, opts);
}

/** Why a parsed region cannot be a sample (the schema of docs/reference.md §5.4), or undefined when it can. */
export function regionError(r: unknown): string | undefined {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return `the region is ${show(r)}, expected an object`;
  const region = r as Record<string, unknown>;
  const regionId = region.region_id ?? region.id;
  if (typeof regionId !== 'number' && typeof regionId !== 'string') return `region has no "region_id" (got ${show(regionId)})`;
  if (typeof region.phrase !== 'string') return `"phrase" is ${show(region.phrase)}, expected a string`;
  for (const k of ['x', 'y', 'width', 'height'] as const) {
    const v = region[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) return `"${k}" is ${show(v)}, expected a finite number`;
  }
  return undefined;
}

const KIND_NONE = 0, KIND_STRING = 1, KIND_NUMBER = 2, KIND_NULL = 3;
const KEYS = ['x', 'y', 'width', 'height', 'phrase', 'region_id', 'id'].map((k) => Buffer.from(k, 'latin1'));

function skipSpace(b: Uint8Array, i: number, n: number): number {
  while (i < n && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
  return i;
}

function isHex(h: number): boolean {
  return (h >= 0x30 && h <= 0x39) || (h >= 0x41 && h <= 0x46) || (h >= 0x61 && h <= 0x66);
}

/** Index of the key bytes b[from, to) in KEYS, or -1. */
function keyIndex(b: Uint8Array, from: number, to: number): number {
  const len = to - from;
  for (let k = 0; k < KEYS.length; k++) {
    const key = KEYS[k];
    if (key.length !== len) continue;
    let same = true;
    for (let j = 0; j < len; j++) if (b[from + j] !== key[j]) { same = false; break; }
    if (same) return k;
  }
  return -1;
}

/**
 * True only when `bytes` is a flat JSON object that JSON.parse accepts and regionError passes (numbers x, y, width,
 * height without exponent, so finite; a string phrase; a number or string region_id, else id). A byte walk that builds
 * no strings or objects, several times cheaper than JSON.parse on VG regions; anything it is unsure of (escaped keys,
 * nested values, exponents, true/false) returns false and gets the exact check instead.
 */
export function isPlainValidRegion(b: Uint8Array, from = 0, to = b.length, phrase?: { from: number; to: number }): boolean {
  const n = to;
  const kinds = [KIND_NONE, KIND_NONE, KIND_NONE, KIND_NONE, KIND_NONE, KIND_NONE, KIND_NONE];
  let i = skipSpace(b, from, n);
  if (b[i] !== 0x7b) return false;
  i = skipSpace(b, i + 1, n);
  if (b[i] === 0x7d) return false; // {}: no fields
  for (;;) {
    i = skipSpace(b, i, n);
    if (b[i] !== 0x22) return false;
    const keyStart = ++i;
    while (i < n && b[i] !== 0x22) { if (b[i] === 0x5c || b[i] < 0x20) return false; i++; }
    if (i >= n) return false;
    const keyEnd = i;
    i = skipSpace(b, i + 1, n);
    if (b[i] !== 0x3a) return false;
    i = skipSpace(b, i + 1, n);
    let kind: number;
    const c = b[i];
    const valueStart = i + 1;
    if (c === 0x22) {
      i++;
      while (i < n && b[i] !== 0x22) {
        const d = b[i];
        if (d < 0x20) return false;
        if (d === 0x5c) {
          const e = b[i + 1];
          if (e === 0x75) {
            if (!isHex(b[i + 2]) || !isHex(b[i + 3]) || !isHex(b[i + 4]) || !isHex(b[i + 5])) return false;
            i += 6;
          } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
            i += 2;
          } else return false;
        } else i++;
      }
      if (i >= n) return false;
      i++;
      kind = KIND_STRING;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      if (c === 0x2d) i++;
      const intStart = i;
      if (b[i] === 0x30) i++;
      else { while (i < n && b[i] >= 0x30 && b[i] <= 0x39) i++; }
      if (i === intStart || i - intStart > 300) return false;
      if (b[i] === 0x2e) {
        const frac = ++i;
        while (i < n && b[i] >= 0x30 && b[i] <= 0x39) i++;
        if (i === frac) return false;
      }
      kind = KIND_NUMBER; // an exponent (e/E) falls to the exact check below: the next byte is not , } or space
    } else if (c === 0x6e && b[i + 1] === 0x75 && b[i + 2] === 0x6c && b[i + 3] === 0x6c) {
      i += 4;
      kind = KIND_NULL;
    } else {
      return false; // nested value, true/false, NaN, junk: the exact check decides
    }
    const k = keyIndex(b, keyStart, keyEnd);
    if (k >= 0) kinds[k] = kind;
    if (k === 4 && phrase && kind === KIND_STRING) { phrase.from = valueStart; phrase.to = i - 1; }
    i = skipSpace(b, i, n);
    if (b[i] === 0x2c) { i++; continue; }
    if (b[i] !== 0x7d) return false;
    if (skipSpace(b, i + 1, n) !== n) return false;
    break;
  }
  const idKind = kinds[5] === KIND_NONE || kinds[5] === KIND_NULL ? kinds[6] : kinds[5];
  return kinds[0] === KIND_NUMBER && kinds[1] === KIND_NUMBER && kinds[2] === KIND_NUMBER && kinds[3] === KIND_NUMBER
    && kinds[4] === KIND_STRING && (idKind === KIND_NUMBER || idKind === KIND_STRING);
}

/** A bad region of the image entry being read, reported once the image's id is known (VG writes "id" last). */
interface PendingBadRegion { offset: number; regionId?: string; why: string }

/**
 * Records byte ranges of regions (depth 4 objects inside an image's "regions" list) and each image's id. Every
 * region is checked while indexing (its bytes come from the ChunkWindow): a bad region or a bad image entry is
 * skipped, counted in `badEntries` and reported as an 'unreadable-entry' problem, so one bad entry never makes
 * the file unopenable and no page ever fails on it.
 */
class VgIndexer implements IndexedJsonIndexer {
  readonly regionStart: GrowableColumn;
  readonly regionLength = new GrowableColumn();
  readonly imageFirstRegion = new GrowableColumn();
  readonly imageIdRaw: string[] = [];
  readonly problems: Problem[] = [];
  readonly window = new ChunkWindow();
  committedRegions = 0;
  badEntries = 0;
  private readonly seenImageIds = new Set<string>();
  // The image entry being read.
  private imageOrdinal = -1;
  private inImage = false;
  private imageOffset = 0;
  private imageFirst = 0;
  private imageKey: string | undefined;
  private imageId: string | undefined;
  private imageBad: string | undefined;
  private sawRegions = false;
  private inRegions = false;
  private regionOpen = 0;
  private regionBad: string | undefined;
  private pendingBad: PendingBadRegion[] = [];

  private readonly phraseAt = { from: 0, to: 0 };

  constructor(private readonly file: string, wideOffsets: boolean, private readonly phrases?: PhraseIndex) {
    this.regionStart = new GrowableColumn(wideOffsets);
  }

  get committed(): number { return this.committedRegions; }

  /** Where the scanner is, for error messages: the image entry being read, if any. */
  describe(offset: number): string {
    if (this.inImage) {
      return `image entry [${this.imageOrdinal}]${this.imageId !== undefined ? ` (id ${this.imageId})` : ''} starting at byte ${this.imageOffset}, byte ${offset}`;
    }
    return `byte ${offset}`;
  }

  private bad(entry: string, byteOffset: number, message: string): void {
    this.badEntries++;
    this.problems.push(problem('unreadable-entry', message, { file: this.file, entry, byteOffset }));
  }

  open(isObject: boolean, depth: number, offset: number): void {
    if (depth === 1) {
      if (isObject) throw new JsonScanError(offset, 'expected a JSON list of images ([{"id", "regions": [...]}, ...]), found an object');
    } else if (depth === 2) {
      this.imageOrdinal++;
      this.inImage = true;
      this.imageOffset = offset;
      this.imageFirst = this.regionLength.length;
      this.imageKey = undefined;
      this.imageId = undefined;
      this.imageBad = isObject ? undefined : 'is a list, expected an object {"id", "regions"}';
      this.sawRegions = false;
      this.pendingBad = [];
    } else if (this.imageBad !== undefined) {
      // inside an image entry already known to be bad: nothing of it is indexed
    } else if (depth === 3) {
      if (this.imageKey === 'regions') {
        if (isObject) this.imageBad = '"regions" is an object, expected a list of regions';
        else { this.inRegions = true; this.sawRegions = true; }
      }
    } else if (depth === 4 && this.inRegions) {
      this.regionOpen = offset;
      this.regionBad = isObject ? undefined : 'the region is a list, expected an object';
      this.window.keepFrom = offset;
    }
  }

  close(_isObject: boolean, depth: number, offset: number): void {
    if (depth === 4) {
      if (this.inRegions && this.imageBad === undefined) this.checkRegion(offset);
    } else if (depth === 3) {
      this.inRegions = false;
    } else if (depth === 2) {
      this.closeImage(offset);
    }
  }

  /** The region that just closed at `offset`: indexed when it is a valid region, else remembered as bad. */
  private checkRegion(offset: number): void {
    this.window.keepFrom = -1;
    const start = this.regionOpen;
    let why = this.regionBad;
    let regionId: string | undefined;
    let phrase: string | undefined;
    let located: Uint8Array | undefined;
    let plain = false;
    if (why === undefined) {
      located = this.window.locate(start, offset + 1);
      if (!located) why = `the region is larger than ${MAX_ENTRY_BYTES >> 20} MB`;
      else if (isPlainValidRegion(located, this.window.from, this.window.to, this.phrases && this.phraseAt)) plain = true;
      else {
        const bytes = Buffer.from(located.buffer, located.byteOffset + this.window.from, this.window.to - this.window.from);
        // Not the common flat shape (or something is wrong): the exact check, JSON.parse + regionError.
        // latin1: JSON.parse accepts exactly the same bytes as with utf8 (only string contents differ, and only types
        // are checked here); the page read decodes the region as UTF-8.
        const text = bytes.toString('latin1');
        const parsed = parseElement(text);
        if (parsed.error) {
          why = `region ${parsed.error}`;
          regionId = /"region_id"\s*:\s*(\d+)/.exec(text)?.[1];
        } else {
          why = regionError(parsed.value);
          const r = parsed.value as Record<string, unknown>;
          const id = r.region_id ?? r.id;
          if (typeof id === 'number' || typeof id === 'string') regionId = String(id);
          // The phrase as the page read decodes it (UTF-8), for the search index.
          if (why === undefined && this.phrases) phrase = (JSON.parse(bytes.toString('utf8')) as { phrase: string }).phrase;
        }
      }
    }
    if (why !== undefined) { this.pendingBad.push({ offset: start, regionId, why }); return; }
    this.regionStart.push(start);
    this.regionLength.push(offset + 1 - start);
    if (!this.phrases) return;
    if (phrase !== undefined) this.phrases.push(phrase);
    else if (plain && located) {
      const from = this.phraseAt.from, to = this.phraseAt.to;
      // isPlainValidRegion checked the escapes, so this never fails; a failure would shift every later row.
      if (!this.phrases.pushJsonString(located, from, to)) this.phrases.push('');
    }
  }

  private closeImage(offset: number): void {
    this.inImage = false;
    const label = `image entry [${this.imageOrdinal}]${this.imageId !== undefined ? ` (id ${this.imageId})` : ''}`;
    let why = this.imageBad;
    if (why === undefined && this.imageId === undefined) why = 'has no "id"';
    if (why === undefined && !this.sawRegions) why = 'has no "regions" list';
    if (why !== undefined) {
      const regions = this.regionLength.length - this.imageFirst + this.pendingBad.length;
      this.regionStart.truncate(this.imageFirst);
      this.regionLength.truncate(this.imageFirst);
      this.phrases?.truncate(this.imageFirst);
      this.bad(label, this.imageOffset, `${label} ${why}; ${regions ? `its ${regions} region(s) are` : 'it is'} skipped`);
      this.pendingBad = [];
      return;
    }
    const imageId = this.imageId!;
    for (const b of this.pendingBad) {
      this.bad(`image ${imageId}, ${b.regionId !== undefined ? `region ${b.regionId}` : 'a region'} at byte ${b.offset}`, b.offset, `${b.why}; the region is skipped`);
    }
    this.pendingBad = [];
    if (this.seenImageIds.has(imageId)) {
      this.problems.push(problem('duplicate-id', `image id ${imageId} appears more than once`,
        { file: this.file, entry: `image ${imageId}`, byteOffset: this.imageOffset }));
    } else {
      this.seenImageIds.add(imageId);
    }
    this.imageFirstRegion.push(this.imageFirst);
    this.imageIdRaw.push(imageId);
    this.committedRegions = this.regionLength.length; // an image's regions are served once its "id" is known
    void offset;
  }

  key(depth: number, name: string): void {
    if (depth === 2) this.imageKey = name;
  }

  scalar(depth: number, raw: string, offset: number): void {
    if (depth === 0) throw new JsonScanError(offset, `expected a JSON list of images, found ${raw.slice(0, 40)}`);
    if (depth === 1) {
      this.imageOrdinal++;
      this.bad(`image entry [${this.imageOrdinal}]`, offset, `image entry [${this.imageOrdinal}] is ${raw.slice(0, 40)}, expected an object; skipped`);
      return;
    }
    if (this.imageBad !== undefined) return;
    if (depth === 2 && (this.imageKey === 'id' || (this.imageKey === 'image_id' && this.imageId === undefined))) {
      const value = parseElement(raw);
      if (typeof value.value !== 'number' && typeof value.value !== 'string') this.imageBad = `has "id" ${raw.slice(0, 40)}, expected a number or string`;
      else this.imageId = String(value.value);
    } else if (depth === 2 && this.imageKey === 'regions') {
      this.imageBad = `has "regions" ${raw.slice(0, 40)}, expected a list`;
    } else if (depth === 3 && this.inRegions) {
      this.pendingBad.push({ offset, why: `the region is ${raw.slice(0, 40)}, expected an object` });
    }
  }
}

class VgRegionsDataset extends IndexedJsonDataset<VgIndexer> {
  readonly format = 'vg-regions' as const;
  private readonly imageRoot: string;
  private readonly imageInfo: Promise<ImageData | undefined>;
  private readonly imagePaths = new Map<string, Promise<string>>();

  constructor(file: string, size: number, opts: ScanOpenOptions) {
    const phrases = opts.phraseIndex ? new PhraseIndex(size >= 2 ** 32) : undefined;
    super(file, new VgIndexer(file, size >= 2 ** 32, phrases), opts,
      { depths: { eventDepth: 4, keyDepth: 3, scalarDepth: 3 }, unit: ['region', 'regions'] }, phrases);
    this.imageRoot = path.resolve(opts.imageRoot ?? path.dirname(file));
    this.imageInfo = this.loadImageData();
    this.imageInfo.catch(() => undefined);
  }

  /** Sizes first: the first page needs them, and both compete for the one JS thread. */
  protected override beforeStep(): Promise<unknown> { return this.imageInfo.catch(() => undefined); }

  /** image_data.json (companion or next to the file): sizes and the VG_100K / VG_100K_2 folder from each url. */
  private async loadImageData(): Promise<ImageData | undefined> {
    const companion = this.opts.companionFile ?? path.join(path.dirname(this.file), 'image_data.json');
    let handle: FileHandle;
    let size: number;
    try {
      // Named by the dataset's folder, not chosen by the user: a regular file under the cap only (boundedRead.ts).
      ({ handle, size } = await openRegularFile(companion, { what: 'image_data.json', maxBytes: this.opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES }));
    } catch (err) {
      if (err instanceof BoundedReadError && err.reason === 'missing' && !this.opts.companionFile) return undefined;
      if (err instanceof BoundedReadError) throw new ReaderError(companion, undefined, err.reason === 'missing' ? 'image_data.json not found' : err.message.slice(companion.length + 2));
      throw err;
    }
    // Two reads in all (readFile would take ~30 separate 512 KB reads for VG's 15 MB file).
    return new ImageData(handle, Buffer.allocUnsafe(size), companion);
  }

  /** Images live in VG_100K/ or VG_100K_2/: take the folder from image_data's url, else look (once per image). */
  private imagePath(imageId: string, info: ImageInfo | undefined): Promise<string> {
    if (info?.relPath) return Promise.resolve(path.join(this.imageRoot, info.relPath));
    let found = this.imagePaths.get(imageId);
    if (!found) {
      const first = path.join(this.imageRoot, 'VG_100K', `${imageId}.jpg`);
      const second = path.join(this.imageRoot, 'VG_100K_2', `${imageId}.jpg`);
      found = access(first).then(() => first, () => access(second).then(() => second, () => first));
      this.imagePaths.set(imageId, found);
    }
    return found;
  }

  protected async read(handle: FileHandle, start: number, end: number): Promise<Sample[]> {
    const indexer = this.indexer;
    const info = await this.imageInfo;
    const byteStart = indexer.regionStart.get(start);
    const byteEnd = indexer.regionStart.get(end - 1) + indexer.regionLength.get(end - 1);
    const bytes = await readRange(handle, byteStart, byteEnd);

    const samples: Sample[] = [];
    let image = indexer.imageFirstRegion.findLastAtMost(start);
    while (image + 1 < indexer.imageFirstRegion.length && indexer.imageFirstRegion.get(image + 1) <= start) image++;
    for (let i = start; i < end; i++) {
      while (image + 1 < indexer.imageFirstRegion.length && indexer.imageFirstRegion.get(image + 1) <= i) image++;
      const imageId = indexer.imageIdRaw[image];
      const offset = indexer.regionStart.get(i);
      const text = bytes.toString('utf8', offset - byteStart, offset - byteStart + indexer.regionLength.get(i));
      const imageInfo = await info?.get(image, imageId);
      samples.push(this.toSample(i, text, imageId, offset, imageInfo, await this.imagePath(imageId, imageInfo)));
    }
    return samples;
  }

  private toSample(index: number, text: string, imageId: string, byteOffset: number, info: ImageInfo | undefined, image: string): Sample {
    const parsed = parseElement(text);
    const where = (regionId?: string | number): string =>
      `image ${imageId}, ${regionId !== undefined ? `region ${regionId}` : `region #${index}`} at byte ${byteOffset}`;
    if (parsed.error) throw new ReaderError(this.file, where(/"region_id"\s*:\s*(\d+)/.exec(text)?.[1]), `region ${parsed.error}`);
    const r = parsed.value as Record<string, unknown>;
    const regionId = r.region_id ?? r.id;
    // The index pass skipped every region regionError rejects; this guards a file changed since.
    const why = regionError(r);
    if (why !== undefined || (typeof regionId !== 'number' && typeof regionId !== 'string') || typeof r.phrase !== 'string') {
      throw new ReaderError(this.file, where(typeof regionId === 'number' || typeof regionId === 'string' ? regionId : undefined), why ?? 'not a region');
    }
    const x = r.x as number, y = r.y as number, w = r.width as number, h = r.height as number;
    // docs/reference.md §5.4: xywh -> xyxy as [x, y, x+width, y+height]. Whether AMC's preprocessing used +w or +w−1 is
    // unknown upstream (its VG JSON is not public); +w is the plain reading of VG's top-left + size.
    const box: BoxXYXY = [x, y, x + w, y + h];
    const sample: Sample = {
      index,
      id: String(regionId),
      image,
      imageId,
      width: info?.width,
      height: info?.height,
      phrase: r.phrase,
      caption: preCaption(r.phrase),
      boxes: [box],
      sourceBoxes: [[x, y, w, h]],
      hitRule: 'xyxy',
      ids: { image_id: /^\d+$/.test(imageId) ? Number(imageId) : imageId, region_id: regionId },
      source: { file: this.file, entry: `image ${imageId}, region ${regionId}`, byteOffset },
    };
    return this.served(sample);
  }

  splits(): string[] { return []; }
}
