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
 * Builds the view for a query. Text/split filters scan the samples page by page (after indexing finished),
 * yielding between pages and stopping when `signal` aborts (the user typed again).
 */
export async function buildView(dataset: Dataset, store: MetricStore, query: ViewQuery, signal: AbortSignal, only?: Int32Array): Promise<ListView> {
  const filtersSamples = query.text.trim() !== '' || query.split !== null;
  const metricSort = query.sortKey !== 'index';
  if (only) return new ArrayView(await filterOnly(dataset, store, query, only, signal));
  if (!filtersSamples && !metricSort && !query.missesOnly) return new IdentityView(dataset);

  if (!filtersSamples) {
    const computed = store.computedIndices();
    if (query.missesOnly) return new ArrayView(sortByMetric(computed.filter((i) => store.isMiss(i)), store, query));
    return new SortedThenRestView(sortByMetric(computed, store, query), computed, () => dataset.count());
  }

  await dataset.complete.catch(() => undefined); // a file readable in part: search what was read (the viewer says where it stops)
  const needle = query.text.trim().toLowerCase();
  const matches: number[] = [];
  const total = dataset.count();
  for (let start = 0; start < total; start += SCAN_PAGE) {
    if (signal.aborted) throw new Error('cancelled');
    const page = await dataset.page(start, SCAN_PAGE);
    for (const s of page) {
      if (query.split !== null && (s.split ?? '') !== query.split) continue;
      if (needle && !s.phrase.toLowerCase().includes(needle)) continue;
      if (query.missesOnly && !store.isMiss(s.index)) continue;
      matches.push(s.index);
    }
    await new Promise((r) => setImmediate(r));
  }
  const filtered = Int32Array.from(matches);
  if (!metricSort) return new ArrayView(filtered);
  const computed = filtered.filter((i) => store.hasMetrics(i));
  const rest = filtered.filter((i) => !store.hasMetrics(i));
  const out = new Int32Array(filtered.length);
  out.set(sortByMetric(computed, store, query));
  out.set(rest, computed.length);
  return new ArrayView(out);
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
