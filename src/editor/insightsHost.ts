// The viewer's insights (issue 15 item 2): the breakdowns of src/core/insights.ts over the rows this viewer has
// results for (explained, evaluated or loaded from a report), and the exact sample indices behind one bar or bin,
// so a click in the panel filters the list on the host. Only the aggregated numbers go to the webview, never the
// dataset. No vscode import (unit-tested, used by the Chromium test host).
import type { Dataset } from '../core/datasets/dataset';
import { readImageHeader } from '../core/imageHeader';
import {
  AREA_BUCKETS, AREA_UNKNOWN, HIT, InsightTable, MISS, NO_IMAGE, NOT_SCORED, computeInsights, onBorder, unionArea,
  type Insights, type MissLocation,
} from '../core/insights';
import type { InsightSelection } from '../shared/protocol';
export { describeSelection } from '../shared/insightLabels';
import type { MetricStore } from './metricStore';

/** An InsightTable of a viewer's settled rows; row r of the table is dataset sample `indices[r]`. */
export interface ViewerTable {
  table: InsightTable;
  indices: Int32Array;
  /** Rows with no image size (neither in the dataset nor from the image's header): their GT area is unknown. */
  noImageSize: number;
}

const PAGE = 2000;

/**
 * Image sizes read from the files' headers (src/core/imageHeader.ts: a few bytes, no decoding), remembered by
 * path, for samples whose annotation format gives none (AMC VG JSON): the GT-area breakdown needs them.
 * undefined: the file is missing, unreadable or not an image this reader knows.
 */
export class ImageSizes {
  private readonly known = new Map<string, Promise<{ width: number; height: number } | undefined>>();
  constructor(private readonly maxBytes?: number) {}

  get(file: string): Promise<{ width: number; height: number } | undefined> {
    let size = this.known.get(file);
    if (!size) {
      size = readImageHeader(file, this.maxBytes !== undefined ? { maxBytes: this.maxBytes } : {})
        .then((h) => ('error' in h ? undefined : { width: h.width, height: h.height }), () => undefined);
      this.known.set(file, size);
    }
    return size;
  }
}

/**
 * The rows of `dataset` that `store` has results for (metrics or an error), in dataset order, as an InsightTable:
 * the phrase, split, image, boxes and size from the dataset (the size from the image's header via `sizes` when the
 * dataset gives none), hit / point / L_mean / L_max from the store.
 */
export async function tableFromStore(dataset: Dataset, store: MetricStore, signal?: AbortSignal, sizes?: ImageSizes): Promise<ViewerTable> {
  const settled = store.settledIndices();
  const table = new InsightTable();
  const indices: number[] = [];
  let noImageSize = 0;
  // Consecutive runs of settled indices are read a page at a time (an evaluation settles every row).
  for (let i = 0; i < settled.length;) {
    if (signal?.aborted) throw new Error('cancelled');
    let j = i;
    while (j + 1 < settled.length && settled[j + 1] === settled[j] + 1 && j + 1 - i < PAGE) j++;
    const page = await dataset.page(settled[i], settled[j] - settled[i] + 1);
    // Sizes of the page's images the dataset does not give, read from their headers (all at once).
    const headerSizes = sizes ? await Promise.all(page.map((s) => (s.width && s.height ? undefined : sizes.get(s.image)))) : [];
    for (const [k, s] of page.entries()) {
      const m = store.get(s.index);
      const point = store.point(s.index);
      const size = s.width && s.height ? { width: s.width, height: s.height } : headerSizes[k];
      if (!size) noImageSize++;
      const base = { phrase: s.phrase, split: s.split ?? null, image: s.image, boxes: s.boxes, width: size?.width, height: size?.height };
      if (m && point) table.add({ ...base, hit: m.hit, point, lMean: m.lMean, lMax: m.lMax });
      else if (m) table.add({ ...base, lMean: m.lMean, lMax: m.lMax, error: 'no point recorded' });
      else table.add({ ...base, error: store.errorReason(s.index) ?? store.error(s.index) ?? 'not scored' });
      indices.push(s.index);
    }
    i = j + 1;
  }
  return { table, indices: Int32Array.from(indices), noImageSize };
}

/** The breakdowns of a viewer table (words shown in the panel: at most `maxWords`, worst first). */
export function viewerInsights(t: ViewerTable, minCount: number, maxWords = 40): Insights {
  const all = computeInsights(t.table, { minCount, bins: 20 });
  return { ...all, byWord: { ...all.byWord, words: all.byWord.words.slice(0, maxWords) } };
}

/**
 * The comparison model's breakdowns drawn beside the current model's (`current`): its L_mean / L_max histograms
 * on the current model's bins (values outside them counted as `outside`), and its rates of exactly the words the
 * current model's chart lists, however often they occur in the comparison's results.
 */
export function comparisonInsights(t: ViewerTable, current: Insights): Insights {
  const h = current.histograms;
  const all = computeInsights(t.table, {
    minCount: 1, bins: h.bins, histogramEdges: { lMean: h.lMean.edges, lMax: h.lMax.edges },
  });
  const byKey = new Map(all.byWord.words.map((w) => [w.key, w]));
  const words = current.byWord.words.map((w) => byKey.get(w.key)).filter((w): w is NonNullable<typeof w> => w !== undefined);
  return { ...all, byWord: { ...all.byWord, minCount: current.byWord.minCount, words } };
}

/** Where the point of a miss landed (as computeInsights' missTarget counts it), per table row; '' for hits. */
function missLocations(t: InsightTable): string[] {
  const out = new Array<string>(t.size).fill('');
  const byImage = new Map<number, number[]>();
  for (let r = 0; r < t.size; r++) {
    const key = t.image[r] === NO_IMAGE ? -1 - r : t.image[r];
    const list = byImage.get(key);
    if (list) list.push(r); else byImage.set(key, [r]);
  }
  for (const rows of byImage.values()) {
    for (const r of rows) {
      if (t.status[r] !== MISS) continue;
      const x = t.px[r], y = t.py[r];
      // Inside any GT box of any query on the same image: "other box" (the hit rule: strictly inside).
      let inside = false;
      for (const o of rows) {
        for (let b = t.boxStart[o]; b < t.boxStart[o + 1] && !inside; b += 4) {
          inside = x > t.boxes[b] && x < t.boxes[b + 2] && y > t.boxes[b + 1] && y < t.boxes[b + 3];
        }
        if (inside) break;
      }
      let where: MissLocation;
      if (inside) where = 'other-box';
      else if (Number.isNaN(t.width[r]) || Number.isNaN(t.height[r])) where = 'size-unknown';
      else where = onBorder(x, y, t.width[r], t.height[r]) ? 'border' : 'background';
      out[r] = where;
    }
  }
  return out;
}

/** The bucket key of table row r for a rate breakdown (the keys computeInsights gives its rates). */
function bucketKey(t: InsightTable, r: number, breakdown: 'length' | 'area' | 'boxes' | 'split'): string {
  switch (breakdown) {
    case 'split': return t.splits.values[t.split[r]];
    case 'length': { const n = t.phraseLength[t.phrase[r]]; return n >= 10 ? '10+' : String(n); }
    case 'boxes': { const n = (t.boxStart[r + 1] - t.boxStart[r]) / 4; return n >= 5 ? '5+' : String(n); }
    case 'area': {
      const w = t.width[r], h = t.height[r];
      if (Number.isNaN(w) || Number.isNaN(h)) return AREA_UNKNOWN;
      const frac = unionArea(t.boxes, t.boxStart[r], t.boxStart[r + 1], w, h) / (w * h);
      let bucket = 0;
      while (frac >= AREA_BUCKETS[bucket].below) bucket++;
      return AREA_BUCKETS[bucket].key;
    }
  }
}

/** The bin of a histogram value (edges as computeInsights gives them; the last bin includes its upper edge), or -1. */
function binOf(edges: readonly number[], v: number): number {
  const bins = edges.length - 1;
  if (bins < 1 || !Number.isFinite(v) || v < edges[0] || v > edges[bins]) return -1;
  for (let b = 0; b < bins; b++) if (v < edges[b + 1]) return b;
  return bins - 1;
}

/**
 * The dataset indices (ascending) behind one bar or bin of the panel: rows of the bucket `selection.key` whose
 * outcome matches ('all' = every scored row, the bar's n). Histogram bins are chosen by index with the edges the
 * panel drew (`insights`), so the list holds exactly the rows counted in that bin.
 */
export function selectionIndices(t: ViewerTable, selection: InsightSelection, insights: Insights): Int32Array {
  const { table } = t;
  const outcomeOk = (r: number): boolean => {
    const s = table.status[r];
    if (s === NOT_SCORED) return false;
    return selection.outcome === 'all' || (selection.outcome === 'hits' ? s === HIT : s === MISS);
  };
  let member: (r: number) => boolean;
  switch (selection.breakdown) {
    case 'word': {
      const word = table.words.ids.get(selection.key);
      if (word === undefined) return new Int32Array(0);
      member = (r) => {
        const p = table.phrase[r];
        for (let i = table.phraseWordStart[p]; i < table.phraseWordStart[p + 1]; i++) if (table.phraseWords[i] === word) return true;
        return false;
      };
      break;
    }
    case 'length': case 'area': case 'boxes': case 'split': {
      const by = selection.breakdown;
      member = (r) => bucketKey(table, r, by) === selection.key;
      break;
    }
    case 'missTarget': {
      const where = missLocations(table);
      member = (r) => where[r] === selection.key;
      break;
    }
    case 'lMean': case 'lMax': {
      const bin = Number(selection.key);
      const edges = insights.histograms[selection.breakdown].edges;
      const values = selection.breakdown === 'lMean' ? table.lMean : table.lMax;
      member = (r) => binOf(edges, values[r]) === bin;
      break;
    }
  }
  const out: number[] = [];
  for (let r = 0; r < table.size; r++) if (outcomeOk(r) && member(r)) out.push(t.indices[r]);
  return Int32Array.from(out);
}

