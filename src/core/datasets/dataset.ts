// The one interface every dataset reader implements. Readers live beside this file, one per format family;
// `index.ts` (format detection + open) picks one. Pure TypeScript with node:fs only: no vscode.
import type { DatasetFormat, Problem, Sample } from '../types';
import { BoundedReadError } from '../boundedRead';
import type { PhraseIndex } from '../phraseIndex';

export interface OpenOptions {
  /** Folder images are resolved against; default: the reader's rule for its format (see README). */
  imageRoot?: string;
  /** For RefCOCO ALBEF JSON: the refs(unc).p to join with; default: looked up next to the file. */
  refsFile?: string;
  /** For RefCOCO pickles: the instances.json; default: next to the pickle. For raw VG: image_data.json. */
  companionFile?: string;
  /** Progress while indexing large files: bytes read of total. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
  /** Abort indexing (closing an editor). */
  signal?: AbortSignal;
  /**
   * Build the phrase search index (src/core/phraseIndex.ts) while indexing, for the viewer's text filter: the
   * byte-scan readers (VG, AMC VG) honour it; other formats are small and are searched by paging.
   */
  phraseIndex?: boolean;
  /** Cap for each side file a dataset names (instances.json, image_data.json, Annotations/*.xml); default DEFAULT_MAX_FILE_BYTES. */
  maxFileBytes?: number;
}

/** An opened dataset. Samples are served by index in pages; a reader never has to hold the whole file. */
export interface Dataset {
  readonly format: DatasetFormat;
  readonly file: string;
  /** Samples indexed so far; grows while `complete` is pending (large files), final afterwards. */
  count(): number;
  /** Resolves when indexing is finished (rejects with a ReaderError if the file is bad). */
  readonly complete: Promise<void>;
  /**
   * Samples [start, start+limit) in index order. Waits only until those indices are indexed (so the first
   * page of a 700 MB file is served while indexing continues); returns fewer at the end.
   */
  page(start: number, limit: number): Promise<Sample[]>;
  /**
   * Large files indexed in the background: hold the indexing (at its next yield) until `until` settles, so the
   * viewer's first explanation gets the cores (bench/open-gradcam). Pages already indexed are still served; pages
   * beyond wait. Absent: the reader indexes at open, nothing to hold.
   */
  pauseIndexing?(until: Promise<unknown>): void;
  /** Problems found so far (bad boxes, entries skipped with a reason, ...). */
  problems(): Problem[];
  /**
   * Entries skipped because they cannot be read (each one is an 'unreadable-entry' problem); they are not in
   * count(). Absent: the reader skips none.
   */
  badEntries?(): number;
  /**
   * The phrase index built while indexing (OpenOptions.phraseIndex), searchable over rows [0, count()) as it grows;
   * absent or undefined: the viewer builds one by paging.
   */
  phraseIndex?(): PhraseIndex | undefined;
  /** Distinct splits present, in first-seen order. */
  splits(): string[];
  /** Release file handles and stop indexing. */
  close(): Promise<void>;
}

/** A file that cannot be read as the expected format: names the file and the entry. */
export class ReaderError extends Error {
  /** Where reading stopped, when the file could be read only up to there (truncated or malformed JSON). */
  stoppedAt?: { byteOffset: number; line: number; column: number };
  constructor(readonly file: string, readonly entry: string | undefined, message: string) {
    super(`${file}${entry ? ` (${entry})` : ''}: ${message}`);
    this.name = 'ReaderError';
  }
}

/** A refused or failed bounded read (src/core/boundedRead.ts) as a ReaderError naming the same file; other errors unchanged. */
export function asReaderError(err: unknown): unknown {
  if (err instanceof BoundedReadError) return new ReaderError(err.file, undefined, err.message.slice(err.file.length + 2));
  return err;
}
