// Annotation checks shared by the readers (per served sample), `amc lint` and the editor's Problems view.
// Pure TypeScript + node:fs: no vscode.
import { statSync } from 'node:fs';
import type { Problem, Sample, SourceLocation } from './types';
import { BoundedReadError, DEFAULT_MAX_FILE_BYTES } from './boundedRead';
import { readImageHeader, type ImageHeader } from './imageHeader';
import type { Dataset } from './datasets/dataset';
import { ReaderError } from './datasets/dataset';
import { errorMessage } from './errors';

/** Problem codes and what each means. Severity 'error' makes `amc lint` exit 1. */
export const PROBLEM_CODES = {
  'degenerate-box': 'error: after the reference clamp + int() the box covers no pixel, so its mask is empty (docs/reference.md §2)',
  'box-outside-image': 'warning: the box reaches outside the image; the reference clamps it (docs/reference.md §2)',
  'no-boxes': 'error: the phrase has no box, so it cannot be scored or trained on',
  'missing-image': 'error: the image file does not exist under the image root',
  'unreadable-image': 'error: the image path is not a regular file (FIFO, device, folder), is over the size cap or cannot be read',
  'undecodable-image': 'error: the image file exists but its header does not parse as PNG, JPEG, GIF, BMP or WebP',
  'duplicate-id': 'error: two entries share an id',
  'unreadable-entry': 'error: the entry does not match the format schema',
  'unreadable-file': 'error: the file cannot be read to the end (e.g. truncated JSON)',
  'empty-caption-list': 'warning: the entry lists no caption, so it yields no sample',
} as const;
export type ProblemCode = keyof typeof PROBLEM_CODES;

export function problem(code: ProblemCode, message: string, location: SourceLocation): Problem {
  return { severity: PROBLEM_CODES[code].startsWith('error') ? 'error' : 'warning', code, message, location };
}

/** The sample named in a message; built only when there is a problem (lint checks millions of samples). */
function where(sample: Sample): string {
  return `phrase ${JSON.stringify(sample.phrase)}`;
}

function fmt(box: readonly number[]): string {
  return `[${box.join(', ')}]`;
}

/**
 * Box checks for one sample, exactly in the reference's terms (docs/reference.md §2 step 3): x1 ∈ [0, w−1], y1 ∈ [0, h−1],
 * x2 ∈ [1, w], y2 ∈ [1, h], then int() truncation; the mask is empty when x1 >= x2 or y1 >= y2. Without a known
 * image size only the raw coordinates can be checked.
 */
export function sampleProblems(sample: Sample): Problem[] {
  const out: Problem[] = [];
  if (sample.boxes.length === 0) {
    out.push(problem('no-boxes', `${where(sample)} has no box`, sample.source));
    return out;
  }
  const { width: w, height: h } = sample;
  for (const box of sample.boxes) {
    const [x1, y1, x2, y2] = box;
    if (w !== undefined && h !== undefined) {
      if (x1 >= w || y1 >= h || x2 <= 0 || y2 <= 0) {
        out.push(problem('box-outside-image', `box ${fmt(box)} of ${where(sample)} lies entirely outside the ${w}x${h} image ` +
          '(the reference clamps it onto the edge row/column)', sample.source));
      } else if (x1 < 0 || y1 < 0 || x2 > w || y2 > h) {
        out.push(problem('box-outside-image', `box ${fmt(box)} of ${where(sample)} reaches outside the ${w}x${h} image`, sample.source));
      }
      const cx1 = Math.trunc(clamp(x1, 0, w - 1)), cy1 = Math.trunc(clamp(y1, 0, h - 1));
      const cx2 = Math.trunc(clamp(x2, 1, w)), cy2 = Math.trunc(clamp(y2, 1, h));
      if (cx1 >= cx2 || cy1 >= cy2) {
        out.push(problem('degenerate-box', `box ${fmt(box)} of ${where(sample)} covers no pixel of the ${w}x${h} image ` +
          `(clamped and truncated: ${fmt([cx1, cy1, cx2, cy2])})`, sample.source));
      }
    } else if (x2 <= x1 || y2 <= y1 || x2 <= 0 || y2 <= 0) {
      out.push(problem('degenerate-box', `box ${fmt(box)} of ${where(sample)} covers no pixel (x2 <= x1, y2 <= y1 or entirely left of/above the image)`, sample.source));
    }
  }
  return out;
}

/** A ReaderError's message without the "file (entry): " prefix, which a Problem carries in its location. */
function bareMessage(err: ReaderError): string {
  const prefix = `${err.file}${err.entry ? ` (${err.entry})` : ''}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

export interface LintOptions {
  /** Check every image: exists, is a regular file, its header parses (one small bounded read per distinct image). Default true. */
  checkImages?: boolean;
  /** Samples read per page. */
  pageSize?: number;
  onProgress?: (samplesDone: number, samplesKnown: number) => void;
  signal?: AbortSignal;
  /** Image size from the file when the annotation states none; default: the header parser (imageHeader.ts). */
  imageSize?: (file: string) => Promise<ImageHeader>;
  /** Size cap for one image file (CLI --max-file-mb, setting amc.maxFileMB); default DEFAULT_MAX_FILE_BYTES. */
  maxFileBytes?: number;
}

export interface LintReport {
  problems: Problem[];
  /** Samples checked (bad entries excluded: they were skipped by the reader). */
  samples: number;
  errors: number;
  warnings: number;
  /** Entries the reader skipped as unreadable (each one is an 'unreadable-entry' problem). */
  badEntries: number;
}

/** Codes sampleProblems gives: lint computes them itself for every sample. */
const SAMPLE_CODES: ReadonlySet<string> = new Set<ProblemCode>(['degenerate-box', 'box-outside-image', 'no-boxes']);

/**
 * Whether a file does not exist, found without an exception: a rejected open per missing image made two Error
 * objects with their stacks, which outlived the young generation (a 5.4 M-region file whose 108 k images are
 * elsewhere: lint peak 641 -> 468 MB, 42 -> 26 s). Any other error is left to the read, which names it.
 */
function certainlyMissing(file: string): boolean {
  try { return statSync(file, { throwIfNoEntry: false }) === undefined; } catch { return false; }
}

/** What lint learnt about one image file. */
type CheckedImage = { width: number; height: number } | { problem: Problem };
type ImageState = CheckedImage | 'unchecked';

/**
 * Read every sample of a dataset and report its problems: unreadable entries (each one named, the rest still
 * checked), bad boxes, phrases without boxes, duplicate ids, missing, unreadable and undecodable images, boxes outside
 * the image (with the size from the image header when the format has none), and the reader's own problems. The one
 * routine behind `amc lint` and the viewer's Problems panel. Yields to the event loop after every page; `signal` stops it.
 */
export async function lintDataset(ds: Dataset, options: LintOptions = {}): Promise<LintReport> {
  const pageSize = options.pageSize ?? 2000;
  const problems: Problem[] = [];
  const seen = new Set<string>();
  const add = (p: Problem): void => {
    const key = `${p.code}\u0000${p.location.entry}\u0000${p.message}`;
    if (!seen.has(key)) { seen.add(key); problems.push(p); }
  };
  const ids = new IdTracker();
  // AMC VG sample ids are positions (entry:caption), unique by construction; other formats carry source ids.
  const trackIds = ds.format !== 'amc-vg';
  if (trackIds) ids.reserve(ds.count());
  const checkImages = options.checkImages ?? true;
  const maxBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const imageSize = options.imageSize ?? ((file: string) => readImageHeader(file, { maxBytes }));
  // A host's own imageSize decides for itself what a missing file is.
  const ownReader = options.imageSize === undefined;
  const images = new Map<string, ImageState>();
  let fileError: unknown;
  ds.complete.catch((err: unknown) => { fileError = err; });

  /** Each image not seen before: exists, regular, header parses (32 at a time); problems in the order given. */
  async function checkImageFiles(todo: readonly { image: string; source: SourceLocation }[]): Promise<void> {
    const CONCURRENCY = 32;
    for (let k = 0; k < todo.length; k += CONCURRENCY) {
      const states = await Promise.all(todo.slice(k, k + CONCURRENCY).map(async ({ image, source }): Promise<CheckedImage> => {
        if (ownReader && certainlyMissing(image)) return { problem: problem('missing-image', `image file ${image} does not exist`, source) };
        try {
          const header = await imageSize(image);
          return 'error' in header
            ? { problem: problem('undecodable-image', `image file ${image} cannot be decoded: ${header.error}`, source) }
            : { width: header.width, height: header.height };
        } catch (err) {
          return err instanceof BoundedReadError && err.reason === 'missing'
            ? { problem: problem('missing-image', `image file ${image} does not exist`, source) }
            : { problem: problem('unreadable-image', `image file ${errorMessage(err)}`, source) };
        }
      }));
      states.forEach((state, i) => {
        if ('problem' in state) add(state.problem);
        images.set(todo[k + i].image, state);
      });
    }
  }

  function checkOne(s: Sample): void {
    let checked = s;
    if (checkImages && (s.width === undefined || s.height === undefined)) {
      const state = images.get(s.image);
      if (state && state !== 'unchecked' && 'width' in state) checked = { ...s, width: state.width, height: state.height };
    }
    for (const p of sampleProblems(checked)) add(p);
    if (trackIds) ids.add(s.id, s.index);
  }

  /** A page's images not seen before (their sizes may be needed), then its samples. */
  async function checkPage(page: Sample[]): Promise<void> {
    if (checkImages) {
      const todo: { image: string; source: SourceLocation }[] = [];
      for (const s of page) if (!images.has(s.image)) { images.set(s.image, 'unchecked'); todo.push({ image: s.image, source: s.source }); }
      await checkImageFiles(todo);
    }
    for (const s of page) checkOne(s);
  }

  let index = 0;
  let samples = 0;
  for (;;) {
    if (options.signal?.aborted) throw new Error('lint aborted');
    let page: Sample[];
    try {
      page = await ds.page(index, pageSize);
    } catch (err) {
      if (!(err instanceof ReaderError)) throw err;
      if (index >= ds.count()) { fileError = err; break; } // the index itself failed here
      page = [];
      // Find the unreadable entries of this page one by one; keep the readable ones.
      const end = Math.min(index + pageSize, ds.count());
      for (let i = index; i < end; i++) {
        try {
          page.push(...await ds.page(i, 1));
        } catch (one) {
          if (!(one instanceof ReaderError)) throw one;
          add(problem('unreadable-entry', bareMessage(one), { file: one.file, entry: one.entry ?? `sample ${i}` }));
        }
      }
      index = end;
      await checkPage(page);
      samples = index;
      options.onProgress?.(index, ds.count());
      await new Promise<void>((resolve) => setImmediate(resolve));
      continue;
    }
    await checkPage(page);
    index += page.length;
    samples = index;
    options.onProgress?.(index, ds.count());
    if (page.length < pageSize) break;
    // Run beside the viewer: give the event loop back between pages (the list and the pages stay responsive).
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  try { await ds.complete; } catch (err) { fileError ??= err; }
  if (fileError !== undefined) {
    const err = fileError as Error;
    const location: SourceLocation = err instanceof ReaderError
      ? { file: err.file, entry: err.entry ?? 'file', ...(err.stoppedAt ? { byteOffset: err.stoppedAt.byteOffset } : {}) }
      : { file: ds.file, entry: 'file' };
    add(problem('unreadable-file', err instanceof ReaderError ? bareMessage(err) : err.message, location));
  }

  for (const [id, indices] of ids.duplicates()) {
    const located = await Promise.all(indices.map(async (i) => (await ds.page(i, 1).catch(() => []))[0]?.source.entry ?? `sample ${i}`));
    add(problem('duplicate-id', `id ${JSON.stringify(id)} is used by ${indices.length} entries: ${located.join('; ')}`,
      { file: ds.file, entry: located[0] }));
  }

  // The reader's own per-sample box checks cover only the samples it served, without an image size from the header:
  // every sample was checked above, so only its other problems (skipped entries, duplicate images, ...) are added.
  for (const p of ds.problems()) if (!SAMPLE_CODES.has(p.code)) add(p);

  let errors = 0, warnings = 0;
  for (const p of problems) (p.severity === 'error' ? errors++ : warnings++);
  return { problems, samples, errors, warnings, badEntries: ds.badEntries?.() ?? 0 };
}

/**
 * Finds repeated sample ids without a Map of millions of strings: integer ids (VG region ids) go into a typed array
 * that is sorted once (32-bit while every id fits, which halves it for the 5.4 M ids of Visual Genome: ~65 MB in
 * all instead of ~140 MB); other ids into a Map.
 */
export class IdTracker {
  private numeric: Uint32Array | Float64Array = new Uint32Array(1024);
  private sampleIndex = new Uint32Array(1024);
  private numericCount = 0;
  private readonly textual = new Map<string, number[]>();

  /** Room for `n` integer ids, allocated once (a dataset that knows its count: no doubling and its garbage). */
  reserve(n: number): void {
    if (n > this.numeric.length) this.resize(n);
  }

  add(id: string, index: number): void {
    const n = /^(0|[1-9]\d{0,14})$/.test(id) ? Number(id) : NaN;
    if (Number.isNaN(n)) {
      const list = this.textual.get(id);
      if (list) list.push(index); else this.textual.set(id, [index]);
      return;
    }
    if (this.numericCount === this.numeric.length) this.resize(this.numeric.length * 2);
    if (n > 0xffffffff && this.numeric instanceof Uint32Array) this.numeric = Float64Array.from(this.numeric);
    this.numeric[this.numericCount] = n;
    this.sampleIndex[this.numericCount] = index;
    this.numericCount++;
  }

  private resize(size: number): void {
    const ids = this.numeric instanceof Uint32Array ? new Uint32Array(size) : new Float64Array(size);
    ids.set(this.numeric.subarray(0, this.numericCount));
    this.numeric = ids;
    const indices = new Uint32Array(size);
    indices.set(this.sampleIndex.subarray(0, this.numericCount));
    this.sampleIndex = indices;
  }

  /** Each repeated id with the sample indices that use it. */
  duplicates(): [string, number[]][] {
    const out: [string, number[]][] = [];
    for (const [id, list] of this.textual) if (list.length > 1) out.push([id, list]);
    const sorted = this.numeric.slice(0, this.numericCount).sort();
    const repeated = new Set<number>();
    for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) repeated.add(sorted[i]);
    if (repeated.size) {
      const where = new Map<number, number[]>();
      for (let i = 0; i < this.numericCount; i++) {
        const v = this.numeric[i];
        if (repeated.has(v)) {
          const list = where.get(v);
          if (list) list.push(this.sampleIndex[i]); else where.set(v, [this.sampleIndex[i]]);
        }
      }
      for (const [v, list] of where) out.push([String(v), list]);
    }
    return out;
  }
}
