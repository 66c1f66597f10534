// The ordered list the webview pages through, built on the host so that sorting and filtering millions of rows
// never crosses the message channel. A view maps a list position to a dataset index. No vscode import.
import type { Dataset } from '../core/datasets/dataset';
import { PhraseIndex, searchForm } from '../core/phraseIndex';
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
  constructor(private readonly sorted: Int32Array, private readonly computedAscending: Int32Array,
    private readonly count: () => number) {}
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
 * Rows of a text/split filter found in the part of the file indexed so far (the reader builds its phrase index while
 * it reads the file): shown at once, and `extend()` searches what was indexed since, so the list and its count grow
 * until the file is read (issue 14 item 4: first results in well under a second, even on the first query).
 */
export class GrowingFilterView implements ListView {
  readonly contiguous = false;
  uncomputed?: number;
  private found: number[] = [];
  private searched = 0;
  private uncomputedSoFar = 0;

  constructor(private readonly dataset: Dataset, private readonly index: PhraseIndex, private readonly store: MetricStore,
    private readonly query: ViewQuery, private readonly trackUncomputed: boolean) {
    this.extend();
  }

  /** Rows searched so far (the dataset's count when the search last ran). */
  get scanned(): number { return this.searched; }

  /** The whole file is read and searched: the view will not grow any more. */
  get complete(): boolean { return this.index.complete && this.searched >= Math.min(this.dataset.count(), this.index.count); }

  total(): number { return this.found.length; }
  indexAt(position: number): number { return this.found[position]; }

  /** Search the rows indexed since the last call; true when new matches were found. */
  extend(): boolean {
    const upTo = Math.min(this.dataset.count(), this.index.count);
    if (upTo <= this.searched) return false;
    const before = this.found.length;
    const more = this.index.matches(this.query.text.trim(), this.query.split, (i) => {
      if (!this.store.has(i)) this.uncomputedSoFar++;
      return !this.query.missesOnly || this.store.isMiss(i);
    }, this.searched, upTo);
    for (const row of more) this.found.push(row);
    this.searched = upTo;
    if (this.trackUncomputed) this.uncomputed = this.uncomputedSoFar;
    return this.found.length > before;
  }
}

/** One page of a page-scan index build, as read. */
export interface IndexedPage { lowered: string[]; splits: string[]; indices: number[]; scanned: number; total: number; }

/**
 * A phrase index built by paging through a dataset whose reader builds none (the small formats), after indexing
 * finished. `onPage` sees each page as it is read (queries waiting count their matches).
 */
export async function buildPhraseIndex(dataset: Dataset, signal: AbortSignal,
  onPage?: (page: IndexedPage) => void): Promise<PhraseIndex> {
  await dataset.complete.catch(() => undefined); // a file readable in part: index what was read
  const total = dataset.count();
  const index = new PhraseIndex();
  for (let start = 0; start < total; start += SCAN_PAGE) {
    if (signal.aborted) throw new Error('cancelled');
    const page = await dataset.page(start, SCAN_PAGE);
    for (const s of page) index.push(s.phrase, s.split);
    onPage?.({
      lowered: page.map((s) => searchForm(s.phrase)), splits: page.map((x) => x.split ?? ''), indices: page.map((x) => x.index),
      scanned: Math.min(total, start + SCAN_PAGE), total,
    });
    await new Promise((r) => setImmediate(r));
  }
  return index;
}

const phraseIndexes = new WeakMap<Dataset, { index: Promise<PhraseIndex>; listeners: Set<(page: IndexedPage) => void> }>();

/**
 * The dataset's phrase index built by paging, on first use, shared by every view (and viewer) of that dataset. While
 * it is being built, `onPage` sees every page read from then on (until the returned promise settles).
 */
export async function phraseIndexOf(dataset: Dataset, onPage?: (page: IndexedPage) => void): Promise<PhraseIndex> {
  let entry = phraseIndexes.get(dataset);
  if (!entry) {
    const listeners = new Set<(page: IndexedPage) => void>();
    // Not tied to one query: typing on while it builds must not restart it.
    const index = buildPhraseIndex(dataset, new AbortController().signal, (page) => { for (const l of listeners) l(page); });
    entry = { index, listeners };
    index.catch(() => phraseIndexes.delete(dataset));
    phraseIndexes.set(dataset, entry);
  }
  if (onPage) entry.listeners.add(onPage);
  try { return await entry.index; } finally { if (onPage) entry.listeners.delete(onPage); }
}

export interface FilterProgress { scanned: number; total: number; matches: number; from: number }

/**
 * Builds the view for a query. Text/split filters search the dataset's phrase index: the reader's own, filled while
 * it reads the file (a query during indexing gets a {@link GrowingFilterView} at once), else one built by paging on
 * the first filter, after indexing finished. `signal` aborts when the user typed again.
 */
export async function buildView(dataset: Dataset, store: MetricStore, query: ViewQuery, signal: AbortSignal,
  onProgress?: (progress: FilterProgress) => void, only?: Int32Array): Promise<ListView> {
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

  const needle = query.text.trim();
  const live = dataset.phraseIndex?.();
  let index: PhraseIndex;
  if (live) {
    if (!metricSort && !live.complete) return new GrowingFilterView(dataset, live, store, query, query.missesOnly);
    // A metric sort needs every match: search as the file is read, reporting the running count.
    const growing = new GrowingFilterView(dataset, live, store, query, false);
    while (!live.complete) {
      if (signal.aborted) throw new Error('cancelled');
      growing.extend();
      onProgress?.({ scanned: growing.scanned, total: dataset.count(), matches: growing.total(), from: 0 });
      await new Promise((r) => setTimeout(r, 100));
    }
    index = live;
  } else {
    // While the index is built (the file's first filter), the pages read so far give a running match count.
    let seen = 0, from: number | undefined;
    const form = searchForm(needle);
    index = await phraseIndexOf(dataset, onProgress && ((page) => {
      if (signal.aborted) return;
      from ??= page.scanned - page.lowered.length;
      for (let k = 0; k < page.lowered.length; k++) {
        if ((query.split === null || page.splits[k] === query.split) && (!form || page.lowered[k].includes(form))
          && (!query.missesOnly || store.isMiss(page.indices[k]))) seen++;
      }
      onProgress({ scanned: page.scanned, total: page.total, matches: seen, from: from ?? 0 });
    }));
  }
  if (signal.aborted) throw new Error('cancelled');
  let uncomputed = 0;
  const matches = index.matches(needle, query.split, (i) => {
    if (!store.has(i)) uncomputed++;
    return !query.missesOnly || store.isMiss(i);
  }, 0, dataset.count());
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
async function filterOnly(dataset: Dataset, store: MetricStore, query: ViewQuery, only: Int32Array,
  signal: AbortSignal): Promise<Int32Array> {
  let kept = query.missesOnly ? only.filter((i) => store.isMiss(i)) : only;
  const needle = searchForm(query.text.trim());
  if (needle !== '' || query.split !== null) {
    const matches: number[] = [];
    for (let i = 0; i < kept.length;) {
      if (signal.aborted) throw new Error('cancelled');
      let j = i;
      while (j + 1 < kept.length && kept[j + 1] === kept[j] + 1 && j + 1 - i < SCAN_PAGE) j++;
      for (const s of await dataset.page(kept[i], kept[j] - kept[i] + 1)) {
        if (query.split !== null && (s.split ?? '') !== query.split) continue;
        if (needle && !searchForm(s.phrase).includes(needle)) continue;
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
