// The open/index/page/close cycle shared by the byte-scanner-indexed JSON readers (vg.ts, amcVg.ts): the file is
// scanned once in the background (jsonScan.ts) while an indexer records each sample's byte range and checks it;
// pages wait only for the samples they need and are read back with one positional read of their byte range; a
// file readable in part is served up to where it stops ("the file ends at byte N"); closing stops the scan.
import { type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { errorMessage } from '../errors';
import { sampleProblems } from '../lint';
import { PhraseIndex } from '../phraseIndex';
import type { DatasetFormat, Problem, Sample } from '../types';
import { ReaderError, type Dataset } from './dataset';
import {
  ChunkWindow, IndexProgress, JsonScanError, JsonScanner, openAnnotationFile, openAnnotationHandle, scanFile, stoppedError,
  type ScanDepths, type ScanHandler, type ScanOpenOptions,
} from './jsonScan';

/** The reader-specific half: structure events in, checked samples' byte ranges (and their phrases) out. */
export interface IndexedJsonIndexer extends ScanHandler {
  readonly window: ChunkWindow;
  /** Problems found while indexing (bad entries skipped, duplicate ids). */
  readonly problems: Problem[];
  /** Entries skipped because they cannot be read. */
  readonly badEntries: number;
  /** Samples that pages may serve (every one of them checked). */
  readonly committed: number;
  /** Where the scanner is, for error messages (the entry being read). */
  describe(offset: number): string;
}

/** Check the file, refuse an empty one with `emptyMessage`; returns the absolute path and the size. */
export async function openIndexedJson(file: string, emptyMessage: string): Promise<{ file: string; size: number }> {
  const absolute = path.resolve(file);
  const size = await openAnnotationFile(absolute);
  if (size === 0) throw new ReaderError(absolute, undefined, `the file is empty (0 bytes); ${emptyMessage}`);
  return { file: absolute, size };
}

export interface IndexedJsonShape {
  depths: ScanDepths;
  /** Singular and plural of what a sample is, for "the 12 regions before that point are shown". */
  unit: [string, string];
}

export abstract class IndexedJsonDataset<I extends IndexedJsonIndexer> implements Dataset {
  abstract readonly format: DatasetFormat;
  readonly complete: Promise<void>;
  protected readonly progress = new IndexProgress();
  private readonly servedProblems = new Map<number, Problem[]>();
  private readHandle: Promise<FileHandle> | undefined;
  private readonly abort = new AbortController();
  private closed = false;
  /** Set by pauseIndexing; the scan waits for it at its next yield (closing ends the wait). */
  private held: Promise<unknown> | undefined;

  /** `phrases`: filled by the indexer when the opener asked for it (OpenOptions.phraseIndex). */
  protected constructor(readonly file: string, protected readonly indexer: I, protected readonly opts: ScanOpenOptions,
    private readonly shape: IndexedJsonShape, private readonly phrases?: PhraseIndex) {
    this.readHandle = openAnnotationHandle(file); // opened now so the first page needs one read, not two
    this.readHandle.catch(() => undefined);
    // Started after the subclass constructor has run (its fields are used between chunks).
    this.complete = Promise.resolve().then(() => this.index());
    this.complete.catch(() => undefined); // reported through `complete`/`page`; never an unhandled rejection
  }

  /** Awaited between chunks before progress is published (VG: the image sizes the first page needs). */
  protected beforeStep(): Promise<unknown> | undefined { return undefined; }

  private async index(): Promise<void> {
    const indexer = this.indexer;
    const signal = this.opts.signal ? AbortSignal.any([this.opts.signal, this.abort.signal]) : this.abort.signal;
    const scanner = new JsonScanner(indexer, this.shape.depths);
    try {
      await scanFile(this.file, scanner, {
        signal, onProgress: this.opts.onProgress, chunkBytes: this.opts.chunkBytes, window: indexer.window, hold: () => this.held,
        afterChunk: async () => {
          const before = this.beforeStep();
          if (before) await before;
          await this.progress.step(indexer.committed);
        },
      });
      this.progress.publish(indexer.committed);
      this.progress.finish();
      this.phrasesDone();
    } catch (err) {
      if (this.closed) { this.progress.finish(); this.phrasesDone(); return; } // closing stops indexing; nothing went wrong
      const error = err instanceof JsonScanError
        ? await stoppedError(this.file, err, indexer.describe(err.offset), indexer.committed, this.shape.unit)
        : err instanceof ReaderError ? err : new ReaderError(this.file, undefined, errorMessage(err));
      this.progress.publish(indexer.committed);
      this.progress.finish(error);
      this.phrasesDone();
      throw error;
    }
  }

  /** The phrase index holds every row it will get (set after the last count is published). */
  private phrasesDone(): void { if (this.phrases) this.phrases.complete = true; }

  count(): number { return this.progress.committed; }

  pauseIndexing(until: Promise<unknown>): void {
    const closed = new Promise<void>((resolve) => this.abort.signal.addEventListener('abort', () => resolve(), { once: true }));
    const held: Promise<unknown> = Promise.race([until.catch(() => undefined), closed])
      .finally(() => { if (this.held === held) this.held = undefined; });
    this.held = held;
  }

  phraseIndex(): PhraseIndex | undefined { return this.phrases; }

  async page(start: number, limit: number): Promise<Sample[]> {
    if (!Number.isInteger(start) || start < 0 || !Number.isInteger(limit) || limit < 0) {
      throw new RangeError(`page(${start}, ${limit}): start and limit must be non-negative integers`);
    }
    if (this.closed) throw new ReaderError(this.file, undefined, 'the dataset was closed');
    await this.progress.waitFor(start + limit);
    return this.progress.serve(async () => {
      const end = Math.min(start + limit, this.progress.committed);
      if (end <= start) {
        if (this.progress.error && start >= this.progress.committed && limit > 0) throw this.progress.error;
        return [];
      }
      this.readHandle ??= openAnnotationHandle(this.file);
      return this.read(await this.readHandle, start, end);
    });
  }

  /** Samples [start, end), all indexed: one positional read of their byte range, then parse. */
  protected abstract read(handle: FileHandle, start: number, end: number): Promise<Sample[]>;

  /** A sample as served: its lint problems are kept for problems(). */
  protected served(sample: Sample): Sample {
    const found = sampleProblems(sample);
    if (found.length) this.servedProblems.set(sample.index, found);
    return sample;
  }

  problems(): Problem[] {
    return [...this.indexer.problems, ...[...this.servedProblems.values()].flat()];
  }

  badEntries(): number { return this.indexer.badEntries; }

  abstract splits(): string[];

  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    await this.complete.catch(() => undefined);
    if (this.readHandle) await this.readHandle.then((h) => h.close(), () => undefined);
    this.readHandle = undefined;
  }
}
