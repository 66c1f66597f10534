// An in-memory Dataset for the formats whose annotations fit in memory (Flickr30k Entities, RefCOCO):
// a loader appends one compact record per sample (e.g. "ref 12, sentence 2"), pages are built from the
// records on request and served as soon as their indices exist, and `complete` settles when the loader
// ends. Records instead of Sample objects keep 150k RefCOCO+ or 430k Flickr30k train queries small in
// memory. Also the small helpers those readers share (image roots, box checks).
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { DatasetFormat, Problem, Sample } from '../types';
import type { Dataset, OpenOptions } from './dataset';

/** What a loader sees: add records (their index is their position) and problems; `stopped` once closed or aborted. */
export interface DatasetSink<R> {
  /** `split` is the record's sample split, for `splits()` without building the sample. */
  add(record: R, split?: string): void;
  problem(problem: Problem): void;
  readonly stopped: boolean;
}

/** Problem codes of entries a reader skipped (so they are counted as bad entries, never silently dropped). */
export const SKIPPED_ENTRY_CODES: ReadonlySet<string> = new Set([
  'unreadable-entry', 'bad-annotation-file', 'missing-annotation', 'missing-ref', 'missing-image-entry', 'invalid-box',
]);

/** Builds the Sample of a record; called on every `page`, so it should be cheap and pure. */
export type Materialize<R> = (record: R, index: number) => Sample;

export class LoadedDataset<R> implements Dataset, DatasetSink<R> {
  readonly complete: Promise<void>;
  private readonly records: R[] = [];
  private readonly problemList: Problem[] = [];
  private readonly splitSeen = new Set<string>();
  private readonly splitOrder: string[] = [];
  private waiters: Array<() => void> = [];
  private finished = false;
  private failure: unknown = undefined;
  private closed = false;
  private resolveComplete!: () => void;
  private rejectComplete!: (err: unknown) => void;

  constructor(readonly format: DatasetFormat, readonly file: string, private readonly materialize: Materialize<R>,
    private readonly signal?: AbortSignal) {
    this.complete = new Promise<void>((resolve, reject) => { this.resolveComplete = resolve; this.rejectComplete = reject; });
    // A failure is reported through `complete`; nobody having awaited it must not crash the process.
    this.complete.catch(() => undefined);
  }

  /**
   * Run `load` in the background and return at once; pages become available as the loader adds samples.
   * A throw from `load` rejects `complete` (samples added before it stay readable).
   */
  static start<R>(format: DatasetFormat, file: string, opts: OpenOptions, materialize: Materialize<R>,
    load: (sink: DatasetSink<R>) => Promise<void>): LoadedDataset<R> {
    const ds = new LoadedDataset(format, file, materialize, opts.signal);
    void (async () => {
      try {
        await load(ds);
        if (ds.signal?.aborted && !ds.closed) throw ds.signal.reason ?? new Error('indexing aborted');
        ds.finish();
      } catch (err) {
        if (!ds.closed) ds.fail(err);
      }
    })();
    return ds;
  }

  /** A dataset whose records are all known already. */
  static of<R>(format: DatasetFormat, file: string, materialize: Materialize<R>, records: Array<{ record: R; split?: string }>,
    problems: Problem[]): LoadedDataset<R> {
    const ds = new LoadedDataset(format, file, materialize);
    for (const r of records) ds.add(r.record, r.split);
    for (const p of problems) ds.problem(p);
    ds.finish();
    return ds;
  }

  get stopped(): boolean { return this.closed || !!this.signal?.aborted; }

  add(record: R, split?: string): void {
    if (this.closed) return; // a loader finishing its current entry after close()
    if (this.finished) throw new Error('LoadedDataset.add after the dataset was finished');
    this.records.push(record);
    if (split !== undefined && !this.splitSeen.has(split)) {
      this.splitSeen.add(split);
      this.splitOrder.push(split);
    }
    if (this.waiters.length) this.wake();
  }

  problem(problem: Problem): void { this.problemList.push(problem); }

  private finish(): void {
    this.finished = true;
    this.resolveComplete();
    this.wake();
  }

  private fail(err: unknown): void {
    this.finished = true;
    this.failure = err;
    this.rejectComplete(err);
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }

  count(): number { return this.records.length; }

  async page(start: number, limit: number): Promise<Sample[]> {
    if (!Number.isInteger(start) || start < 0 || !Number.isInteger(limit) || limit < 0) {
      throw new RangeError(`page(${start}, ${limit}): start and limit must be non-negative integers`);
    }
    const end = start + limit;
    while (!this.finished && this.records.length < end) await new Promise<void>((r) => this.waiters.push(r));
    if (this.failure !== undefined && this.records.length < end && !this.closed) throw this.failure;
    const out: Sample[] = [];
    for (let i = start; i < Math.min(end, this.records.length); i++) out.push(this.materialize(this.records[i], i));
    return out;
  }

  problems(): Problem[] { return this.problemList.slice(); }

  /** Entries skipped because they cannot be read: the problems whose code says an entry or file was skipped. */
  badEntries(): number { return this.problemList.filter((p) => SKIPPED_ENTRY_CODES.has(p.code)).length; }

  splits(): string[] { return this.splitOrder.slice(); }

  async close(): Promise<void> {
    this.closed = true;
    if (!this.finished) {
      // The loader checks `stopped` between entries; settle now so nobody waits on a closed dataset.
      this.finish();
    }
  }
}

/**
 * The image root to use: `explicit` if given; else the first candidate folder that holds `probe` (a path
 * relative to the root, e.g. the first sample's image); else the first candidate folder that exists;
 * else `fallback`.
 */
export function chooseImageRoot(explicit: string | undefined, candidates: string[], probe: string | undefined, fallback: string): string {
  if (explicit) return path.resolve(explicit);
  if (probe && !path.isAbsolute(probe)) {
    for (const c of candidates) if (existsSync(path.join(c, probe))) return c;
  }
  for (const c of candidates) if (isDirectory(c)) return c;
  return fallback;
}

export function isDirectory(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

export function isFile(p: string): boolean {
  try { return statSync(p).isFile(); } catch { return false; }
}

/** `image` as written in a file: absolute paths stay, relative ones are joined to the root (os.path.join). */
export function resolveImage(root: string, image: string): string {
  return path.isAbsolute(image) ? image : path.join(root, image);
}

/** A box as four finite numbers, or why it is not one. */
export function checkBox(value: unknown): { box: [number, number, number, number] } | { error: string } {
  if (!Array.isArray(value) || value.length !== 4) return { error: `box ${show(value)} is not a list of 4 numbers` };
  for (const v of value) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return { error: `box ${show(value)} has a non-finite or non-numeric coordinate (${show(v)})` };
  }
  return { box: value as [number, number, number, number] };
}

/** Short printable form of a value for messages (NaN stays NaN, strings quoted, long values cut). */
export function show(value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `__${v}__` : v))
    ?.replace(/"__(NaN|Infinity|-Infinity)__"/g, '$1') ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
