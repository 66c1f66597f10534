// The AMC Visual Genome training JSON (docs/reference.md §5.1, read by AMC dataset/caption_dataset.py):
// [{"image": path relative to image_root, "caption": str | [str], "bbox": [[x1, y1, x2, y2], ...]}].
// One Sample per (entry, caption) with all of the entry's boxes (the trainer draws one box per step; the
// viewer and the pointing game use the union). Indexed by the byte scanner like the raw VG file, because the
// authors' files are large too.
import { type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import type { BoxXYXY, Problem, Sample } from '../types';
import { preCaption } from '../text';
import { problem } from '../lint';
import { PhraseIndex } from '../phraseIndex';
import { ReaderError, type Dataset } from './dataset';
import {
  ChunkWindow, GrowableColumn, JsonScanError, MAX_ENTRY_BYTES, parseElement, readRange, type ScanOpenOptions,
} from './jsonScan';
import { IndexedJsonDataset, openIndexedJson, type IndexedJsonIndexer } from './indexedJson';
import { resolveImage, show } from './loadedDataset';

export async function openAmcVg(file: string, opts: ScanOpenOptions = {}): Promise<Dataset> {
  const opened = await openIndexedJson(file, 'expected an AMC VG JSON list [{"image", "caption", "bbox"}]');
  return new AmcVgDataset(opened.file, opened.size, opts);
}

/** Why a parsed entry cannot give samples (docs/reference.md §5.1 schema), or undefined when it can. */
export function entryError(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return `the entry is ${show(e)}, expected an object {"image", "caption", "bbox"}`;
  const entry = e as Record<string, unknown>;
  if (typeof entry.image !== 'string' || entry.image === '') return `"image" is ${show(entry.image)}, expected a path string`;
  const captions = entry.caption;
  if (Array.isArray(captions)) {
    const k = captions.findIndex((c) => typeof c !== 'string');
    if (k >= 0) return `caption ${k} is ${show(captions[k])}, expected a string`;
  } else if (typeof captions !== 'string') {
    return `"caption" is ${show(captions)}, expected a string or a list of strings`;
  }
  if (!Array.isArray(entry.bbox)) return `"bbox" is ${show(entry.bbox)}, expected a list of [x1, y1, x2, y2] boxes`;
  for (let k = 0; k < entry.bbox.length; k++) {
    const b: unknown = entry.bbox[k];
    if (Array.isArray(b) && Array.isArray(b[0])) return `bbox[${k}] is a nested list of boxes ${show(b)}; AMC's reader fails on these too (docs/reference.md §2, undefined \`boxes\`)`;
    if (!Array.isArray(b) || b.length !== 4) return `bbox[${k}] is ${show(b)}, expected [x1, y1, x2, y2]`;
    for (const v of b as unknown[]) if (typeof v !== 'number' || !Number.isFinite(v)) return `bbox[${k}] ${show(b)} has ${show(v)}, expected finite numbers`;
  }
  return undefined;
}

/**
 * Records each entry's byte range and how many captions it has (one sample per caption). Every entry is parsed and
 * checked while indexing (bytes from the ChunkWindow): a bad entry is skipped, counted in `badEntries` and reported
 * as an 'unreadable-entry' problem, so it never makes the file unopenable or a page fail.
 */
class AmcIndexer implements IndexedJsonIndexer {
  readonly entryStart: GrowableColumn;
  readonly entryLength = new GrowableColumn();
  readonly sampleEntry = new GrowableColumn();
  readonly sampleCaption = new GrowableColumn();
  readonly problems: Problem[] = [];
  readonly window = new ChunkWindow();
  badEntries = 0;
  private entryOrdinal = -1;
  private inEntry = false;
  private entryOffset = 0;
  private entryIsObject = true;

  constructor(private readonly file: string, wideOffsets: boolean, private readonly phrases?: PhraseIndex,
    private readonly split?: string) {
    this.entryStart = new GrowableColumn(wideOffsets);
  }

  describe(offset: number): string {
    return this.inEntry ? `entry [${this.entryOrdinal}] starting at byte ${this.entryOffset}, byte ${offset}` : `byte ${offset}`;
  }

  private bad(offset: number, why: string): void {
    this.badEntries++;
    this.problems.push(problem('unreadable-entry', `${why}; the entry is skipped`, { file: this.file, entry: `entry [${this.entryOrdinal}]`, byteOffset: offset }));
  }

  open(isObject: boolean, depth: number, offset: number): void {
    if (depth === 1) {
      if (isObject) throw new JsonScanError(offset, 'expected a JSON list of entries [{"image", "caption", "bbox"}], found an object');
    } else if (depth === 2) {
      this.entryOrdinal++;
      this.inEntry = true;
      this.entryOffset = offset;
      this.entryIsObject = isObject;
      this.window.keepFrom = offset;
    }
  }

  close(_isObject: boolean, depth: number, offset: number): void {
    if (depth !== 2) return;
    this.inEntry = false;
    this.window.keepFrom = -1;
    if (!this.entryIsObject) { this.bad(this.entryOffset, `entry [${this.entryOrdinal}] is a list, expected an object {"image", "caption", "bbox"}`); return; }
    const bytes = this.window.bytes(this.entryOffset, offset + 1);
    if (!bytes) { this.bad(this.entryOffset, `the entry is larger than ${MAX_ENTRY_BYTES >> 20} MB`); return; }
    // The entry is parsed whole here (the image path and captions are read as UTF-8 by the page read).
    const parsed = parseElement(bytes.toString('utf8'));
    const why = parsed.error ? `entry ${parsed.error}` : entryError(parsed.value);
    if (why !== undefined) { this.bad(this.entryOffset, why); return; }
    const captions = (parsed.value as Record<string, unknown>).caption;
    const n = Array.isArray(captions) ? captions.length : 1;
    if (n === 0) {
      this.problems.push(problem('empty-caption-list', `entry [${this.entryOrdinal}] has an empty "caption" list`,
        { file: this.file, entry: `entry [${this.entryOrdinal}]`, byteOffset: this.entryOffset }));
    }
    const entry = this.entryStart.length;
    this.entryStart.push(this.entryOffset);
    this.entryLength.push(offset + 1 - this.entryOffset);
    for (let c = 0; c < n; c++) {
      this.sampleEntry.push(entry);
      this.sampleCaption.push(c);
      this.phrases?.push(Array.isArray(captions) ? captions[c] as string : captions as string, this.split);
    }
  }

  key(): void { /* keys are read by JSON.parse per entry */ }

  scalar(depth: number, raw: string, offset: number): void {
    if (depth === 0) throw new JsonScanError(offset, `expected a JSON list of entries, found ${raw.slice(0, 40)}`);
    if (depth === 1) {
      this.entryOrdinal++;
      this.bad(offset, `entry [${this.entryOrdinal}] is ${raw.slice(0, 40)}, expected an object`);
    }
  }

  get committed(): number { return this.sampleEntry.length; }
}

class AmcVgDataset extends IndexedJsonDataset<AmcIndexer> {
  readonly format = 'amc-vg' as const;
  private readonly imageRoot: string;
  /** The format has no split field: like the trainer's reader (data.split_from_name), take it from the file
   *  name (vg_val.json → val); none for names without one (AMC's vg_descriptions.json). */
  private readonly split: string | undefined;

  constructor(file: string, size: number, opts: ScanOpenOptions) {
    const split = splitFromFileName(file);
    const phrases = opts.phraseIndex ? new PhraseIndex(size >= 2 ** 32) : undefined;
    super(file, new AmcIndexer(file, size >= 2 ** 32, phrases, split), opts,
      { depths: { eventDepth: 2, keyDepth: 1, scalarDepth: 1 }, unit: ['sample', 'samples'] }, phrases);
    this.split = split;
    // AMC joins `image` to the config's image_root with os.path.join; default: the annotation file's folder.
    this.imageRoot = path.resolve(opts.imageRoot ?? path.dirname(file));
  }

  protected async read(handle: FileHandle, start: number, end: number): Promise<Sample[]> {
    const ix = this.indexer;
    const firstEntry = ix.sampleEntry.get(start), lastEntry = ix.sampleEntry.get(end - 1);
    const byteStart = ix.entryStart.get(firstEntry);
    const bytes = await readRange(handle, byteStart, ix.entryStart.get(lastEntry) + ix.entryLength.get(lastEntry));
    const samples: Sample[] = [];
    let parsedEntry = -1;
    let value: Record<string, unknown> = {};
    for (let i = start; i < end; i++) {
      const entry = ix.sampleEntry.get(i);
      const offset = ix.entryStart.get(entry);
      if (entry !== parsedEntry) {
        const parsed = parseElement(bytes.toString('utf8', offset - byteStart, offset - byteStart + ix.entryLength.get(entry)));
        if (parsed.error) throw new ReaderError(this.file, `entry [${entry}] at byte ${offset}`, `entry ${parsed.error}`);
        value = parsed.value as Record<string, unknown>;
        parsedEntry = entry;
      }
      samples.push(this.toSample(i, value, entry, ix.sampleCaption.get(i), offset));
    }
    return samples;
  }

  private toSample(index: number, e: Record<string, unknown>, entry: number, captionIndex: number, byteOffset: number): Sample {
    const where = `entry [${entry}] at byte ${byteOffset}`;
    const fail = (message: string): never => { throw new ReaderError(this.file, where, message); };
    if (typeof e.image !== 'string' || e.image === '') fail(`"image" is ${show(e.image)}, expected a path string`);
    const captions = e.caption;
    const phrase = typeof captions === 'string' ? captions : Array.isArray(captions) ? captions[captionIndex] : undefined;
    if (typeof phrase !== 'string') {
      fail(Array.isArray(captions) ? `caption ${captionIndex} is ${show(phrase)}, expected a string`
        : `"caption" is ${show(captions)}, expected a string or a list of strings`);
    }
    if (!Array.isArray(e.bbox)) fail(`"bbox" is ${show(e.bbox)}, expected a list of [x1, y1, x2, y2] boxes`);
    const boxes: BoxXYXY[] = [];
    (e.bbox as unknown[]).forEach((b, k) => {
      if (Array.isArray(b) && Array.isArray(b[0])) {
        fail(`bbox[${k}] is a nested list of boxes ${show(b)}; AMC's reader fails on these too (docs/reference.md §2, undefined \`boxes\`)`);
      }
      if (!Array.isArray(b) || b.length !== 4) fail(`bbox[${k}] is ${show(b)}, expected [x1, y1, x2, y2]`);
      for (const v of b as unknown[]) {
        if (typeof v !== 'number' || !Number.isFinite(v)) fail(`bbox[${k}] ${show(b)} has ${show(v)}, expected finite numbers`);
      }
      boxes.push([...(b as number[])] as BoxXYXY);
    });
    const image = e.image as string;
    const many = Array.isArray(captions);
    const sample: Sample = {
      index,
      id: many ? `${entry}:${captionIndex}` : String(entry),
      image: resolveImage(this.imageRoot, image),
      imageId: image,
      phrase: phrase as string,
      caption: preCaption(phrase as string),
      boxes,
      sourceBoxes: boxes.map((b) => [...b]),
      hitRule: 'xyxy',
      split: this.split,
      ids: many ? { entry, caption: captionIndex } : { entry },
      source: { file: this.file, entry: many ? `entry [${entry}] caption ${captionIndex}` : `entry [${entry}]`, byteOffset },
    };
    return this.served(sample);
  }

  splits(): string[] { return this.split ? [this.split] : []; }
}

/** A split word delimited by start/end, '_', '-' or '.' in the base name, as the trainer's `split_from_name`. */
export function splitFromFileName(file: string): string | undefined {
  return /(?:^|[_\-.])(train|val|test|testA|testB)(?:[_\-.]|$)/.exec(path.basename(file))?.[1];
}
