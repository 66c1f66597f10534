// The ordered list the webview pages through, built on the host so that sorting and filtering millions of rows
// never crosses the message channel. A view maps a list position to a dataset index. No vscode import.
import type { Dataset } from '../core/datasets/dataset';
import type { ViewQuery } from '../shared/protocol';
import type { MetricStore } from './metricStore';

export interface ListView {
  /** Rows in the view now (the identity view grows while a large file is still indexing). */
  total(): number;
  indexAt(position: number): number;
  /** Whether positions map to consecutive dataset indices (lets getRows read one page). */
  readonly contiguous: boolean;
  /**
   * For metric sorts and "misses only": how many rows the text/split filters admit that were not computed yet
   * (misses only cannot show them; a metric sort puts them after the sorted rows).
   */
  uncomputed?: number;
}

/** Dataset order, no filter: nothing to store, even for 5 million rows. */
export class IdentityView implements ListView {
  readonly contiguous = true;
  constructor(private readonly dataset: Dataset) {}
  total(): number { return this.dataset.count(); }
  indexAt(position: number): number { return position; }
}

export class ArrayView implements ListView {
  readonly contiguous = false;
  uncomputed?: number;
  constructor(private readonly indices: Int32Array) {}
  total(): number { return this.indices.length; }
  indexAt(position: number): number { return this.indices[position]; }
}

/**
 * Sorted computed rows first, then every uncomputed row in dataset order, without materialising the
 * uncomputed part: the k-th uncomputed index is found by binary search over the sorted computed indices.
 */
export class SortedThenRestView implements ListView {
  readonly contiguous = false;
  uncomputed?: number;
  constructor(private readonly sorted: Int32Array, private readonly computedAscending: Int32Array, private readonly count: () => number) {}
  total(): number { return Math.max(this.count(), this.sorted.length); }
  indexAt(position: number): number {
    if (position < this.sorted.length) return this.sorted[position];
    return kthMissing(this.computedAscending, position - this.sorted.length);
  }
}

/** The k-th (0-based) non-negative integer not in `present` (ascending, distinct). */
export function kthMissing(present: Int32Array, k: number): number {
  // Find the number m of present values that are < answer: answer = k + m, and m is the largest count with
  // present[m-1] < k + m (present[j] - j is non-decreasing, so binary search on it).
  let lo = 0, hi = present.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (present[mid] - mid <= k) lo = mid + 1; else hi = mid;
  }
  return k + lo;
}

function sortByMetric(indices: Int32Array, store: MetricStore, query: ViewQuery): Int32Array {
  if (query.sortKey === 'index') return indices;
  const key = query.sortKey;
  const sign = query.sortDirection === 'asc' ? 1 : -1;
  const values = new Float64Array(indices.length);
  for (let i = 0; i < indices.length; i++) values[i] = store.value(indices[i], key);
  const order = new Int32Array(indices.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  // Ties keep dataset order so the list is stable across re-sorts.
  order.sort((a, b) => (values[a] - values[b]) * sign || indices[a] - indices[b]);
  const out = new Int32Array(indices.length);
  for (let i = 0; i < order.length; i++) out[i] = indices[order[i]];
  return out;
}

const SCAN_PAGE = 5000;

/**
 * Every phrase of a dataset, lower-cased, in one UTF-8 buffer ('\n' after each) with its start offsets, and each
 * row's split id: a text filter is then Buffer.indexOf over memory (memchr-fast) instead of re-reading and
 * re-parsing the file page by page for every keystroke (issue 14 item 4). Built once per dataset, on the first
 * filter, by the same page scan the filter did before.
 */
export class PhraseIndex {
  private constructor(readonly text: Buffer, readonly starts: Uint32Array | Float64Array, readonly splitIds: Uint16Array, readonly splitNames: string[]) {}

  get count(): number { return this.splitIds.length; }

  /** `onPage`: each page's lower-cased phrases and splits as they are read (queries waiting count their matches). */
  static async build(dataset: Dataset, signal: AbortSignal, onPage?: (page: IndexedPage) => void): Promise<PhraseIndex> {
    await dataset.complete.catch(() => undefined); // a file readable in part: index what was read
    const total = dataset.count();
    const chunks: Buffer[] = [];
    let bytes = 0;
    const starts: number[] = [];
    const splitIds = new Uint16Array(total);
    const splitNames: string[] = [];
    const splitId = new Map<string, number>();
    for (let start = 0; start < total; start += SCAN_PAGE) {
      if (signal.aborted) throw new Error('cancelled');
      const page = await dataset.page(start, SCAN_PAGE);
      // One string per page, one Buffer per page: few allocations for millions of phrases.
      const lowered = page.map((s) => s.phrase.toLowerCase().replace(/\n/g, ' '));
      const buf = Buffer.from(`${lowered.join('\n')}\n`, 'utf8');
      let offset = bytes;
      for (let k = 0; k < page.length; k++) {
        const s = page[k];
        starts.push(offset);
        offset += Buffer.byteLength(lowered[k], 'utf8') + 1;
        const name = s.split ?? '';
        let id = splitId.get(name);
        if (id === undefined) { id = splitNames.length; splitNames.push(name); splitId.set(name, id); }
        splitIds[s.index] = id;
      }
      chunks.push(buf);
      bytes += buf.length;
      onPage?.({ lowered, splits: page.map((x) => x.split ?? ''), indices: page.map((x) => x.index), scanned: Math.min(total, start + SCAN_PAGE), total });
      await new Promise((r) => setImmediate(r));
    }
    const packed = bytes < 2 ** 32 ? Uint32Array.from(starts) : Float64Array.from(starts);
    return new PhraseIndex(Buffer.concat(chunks, bytes), packed, splitIds, splitNames);
  }

  /** Row of a byte offset in `text` (binary search over the starts). */
  private rowAt(offset: number): number {
    let lo = 0, hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.starts[mid] <= offset) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /** Rows whose phrase contains `needle` (lower-case) and whose split is `split` (null: any), ascending. */
  matches(needle: string, split: string | null, keep: (index: number) => boolean = () => true): number[] {
    const splitWanted = split === null ? -1 : this.splitNames.indexOf(split);
    if (split !== null && splitWanted < 0) return [];
    const out: number[] = [];
    if (!needle) {
      for (let i = 0; i < this.count; i++) if ((splitWanted < 0 || this.splitIds[i] === splitWanted) && keep(i)) out.push(i);
      return out;
    }
    const pattern = Buffer.from(needle, 'utf8');
    let from = 0;
    for (;;) {
      const at = this.text.indexOf(pattern, from);
      if (at < 0) break;
      const row = this.rowAt(at);
      // Continue after this row: one match per row.
      from = row + 1 < this.starts.length ? this.starts[row + 1] : this.text.length;
      if (at + pattern.length >= from) continue;   // runs over the '\n' into the next phrase: not inside this one
      if ((splitWanted < 0 || this.splitIds[row] === splitWanted) && keep(row)) out.push(row);
    }
    return out;
  }
}

/** One page of an index build, as read. */
export interface IndexedPage { lowered: string[]; splits: string[]; indices: number[]; scanned: number; total: number; }

const phraseIndexes = new WeakMap<Dataset, { index: Promise<PhraseIndex>; listeners: Set<(page: IndexedPage) => void> }>();

/**
 * The dataset's phrase index, built on first use and shared by every view (and viewer) of that dataset. While it
 * is being built, `onPage` sees every page read from then on (until the returned promise settles).
 */
export async function phraseIndexOf(dataset: Dataset, onPage?: (page: IndexedPage) => void): Promise<PhraseIndex> {
  let entry = phraseIndexes.get(dataset);
  if (!entry) {
    const listeners = new Set<(page: IndexedPage) => void>();
    // Not tied to one query: typing on while it builds must not restart it.
    const index = PhraseIndex.build(dataset, new AbortController().signal, (page) => { for (const l of listeners) l(page); });
    entry = { index, listeners };
    index.catch(() => phraseIndexes.delete(dataset));
    phraseIndexes.set(dataset, entry);
  }
  if (onPage) entry.listeners.add(onPage);
  try { return await entry.index; } finally { if (onPage) entry.listeners.delete(onPage); }
}

/**
 * Builds the view for a query. Text/split filters search the dataset's phrase index (built on the first filter,
 * after indexing finished); `signal` aborts when the user typed again.
 */
export async function buildView(dataset: Dataset, store: MetricStore, query: ViewQuery, signal: AbortSignal,
  onProgress?: (progress: { scanned: number; total: number; matches: number; from: number }) => void, only?: Int32Array): Promise<ListView> {
  const filtersSamples = query.text.trim() !== '' || query.split !== null;
  const metricSort = query.sortKey !== 'index';
  if (only) return new ArrayView(await filterOnly(dataset, store, query, only, signal));
  if (!filtersSamples && !metricSort && !query.missesOnly) return new IdentityView(dataset);

  if (!filtersSamples) {
    const computed = store.computedIndices();
    const view = query.missesOnly
      ? new ArrayView(sortByMetric(computed.filter((i) => store.isMiss(i)), store, query))
      : new SortedThenRestView(sortByMetric(computed, store, query), computed, () => dataset.count());
    view.uncomputed = Math.max(0, dataset.count() - store.computedCount);
    return view;
  }

  await dataset.complete.catch(() => undefined); // a file readable in part: search what was read (the viewer says where it stops)
  const needle = query.text.trim().toLowerCase();
  // While the index is built (the file's first filter), the pages read so far give a running match count.
  let seen = 0, from: number | undefined;
  const index = await phraseIndexOf(dataset, onProgress && ((page) => {
    if (signal.aborted) return;
    from ??= page.scanned - page.lowered.length;
    for (let k = 0; k < page.lowered.length; k++) {
      if ((query.split === null || page.splits[k] === query.split) && (!needle || page.lowered[k].includes(needle))
        && (!query.missesOnly || store.isMiss(page.indices[k]))) seen++;
    }
    onProgress({ scanned: page.scanned, total: page.total, matches: seen, from: from ?? 0 });
  }));
  if (signal.aborted) throw new Error('cancelled');
  let uncomputed = 0;
  const matches = index.matches(needle, query.split, (i) => {
    if (!store.has(i)) uncomputed++;
    return !query.missesOnly || store.isMiss(i);
  });
  const filtered = Int32Array.from(matches);
  const counted = (v: ArrayView) => { if (metricSort || query.missesOnly) v.uncomputed = uncomputed; return v; };
  if (!metricSort) return counted(new ArrayView(filtered));
  const computed = filtered.filter((i) => store.hasMetrics(i));
  const rest = filtered.filter((i) => !store.hasMetrics(i));
  const out = new Int32Array(filtered.length);
  out.set(sortByMetric(computed, store, query));
  out.set(rest, computed.length);
  return counted(new ArrayView(out));
}

/**
 * The view restricted to an explicit set of sample indices (ascending; an Insights bar's rows), with the query's
 * text, split and misses filters and its sort applied to them. Reads only the samples in the set.
 */
async function filterOnly(dataset: Dataset, store: MetricStore, query: ViewQuery, only: Int32Array, signal: AbortSignal): Promise<Int32Array> {
  let kept = query.missesOnly ? only.filter((i) => store.isMiss(i)) : only;
  const needle = query.text.trim().toLowerCase();
  if (needle !== '' || query.split !== null) {
    const matches: number[] = [];
    for (let i = 0; i < kept.length;) {
      if (signal.aborted) throw new Error('cancelled');
      let j = i;
      while (j + 1 < kept.length && kept[j + 1] === kept[j] + 1 && j + 1 - i < SCAN_PAGE) j++;
      for (const s of await dataset.page(kept[i], kept[j] - kept[i] + 1)) {
        if (query.split !== null && (s.split ?? '') !== query.split) continue;
        if (needle && !s.phrase.toLowerCase().includes(needle)) continue;
        matches.push(s.index);
      }
      i = j + 1;
    }
    kept = Int32Array.from(matches);
  }
  if (query.sortKey === 'index') return kept;
  const computed = kept.filter((i) => store.hasMetrics(i));
  const rest = kept.filter((i) => !store.hasMetrics(i));
  const out = new Int32Array(kept.length);
  out.set(sortByMetric(computed, store, query));
  out.set(rest, computed.length);
  return out;
}
