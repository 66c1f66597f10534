// The pointing game exactly as the reference evaluation (docs/reference.md §4.1): raw map → bicubic to the original size →
// first row-major argmax → strictly inside any ground-truth box.
import type { BoxXYXY, HitRule } from '../types';
import { upsampleBicubic, type MapArray } from './interpolate';

export interface Point { x: number; y: number; }

/** `(mask == mask.max()).nonzero()[0]`: the first maximum in row-major order (smallest y, then smallest x). */
export function argmaxFirst(map: MapArray, height: number, width: number): Point {
  if (map.length !== height * width || map.length === 0) throw new RangeError(`map has ${map.length} values, expected ${height}×${width}`);
  let best = 0;
  for (let i = 0; i < map.length; i++) {
    const v = map[i];
    if (Number.isNaN(v)) throw new RangeError(`map value at (${i % width}, ${Math.floor(i / width)}) is NaN`);
    if (v > map[best]) best = i;
  }
  return { x: best % width, y: Math.floor(best / width) };
}

/**
 * Strict-inside test over the union of boxes, written for the box format the benchmark stores (docs/reference.md §4):
 * 'xyxy' (Flickr30k): x > x1 && x < x2 && y > y1 && y < y2, boxes [x1,y1,x2,y2];
 * 'xywh' (RefCOCO+):  x > x && x < x + w && y > y && y < y + h, boxes [x,y,w,h].
 * A point on a box edge is a miss; there is no tolerance.
 */
export function isHit(point: Point, boxes: readonly (readonly number[])[], rule: HitRule = 'xyxy'): boolean {
  const { x, y } = point;
  for (const b of boxes) {
    const x2 = rule === 'xywh' ? b[0] + b[2] : b[2];
    const y2 = rule === 'xywh' ? b[1] + b[3] : b[3];
    if (x > b[0] && x < x2 && y > b[1] && y < y2) return true;
  }
  return false;
}

/** Upsample the raw g×g map bicubically to width×height, take the first argmax, test it against the boxes (xyxy). */
export function pointingGame(rawCam: MapArray, grid: number, width: number, height: number, boxes: readonly BoxXYXY[]):
    { point: Point; hit: boolean; heatmap: Float32Array } {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new RangeError(`image size must be positive integers, got ${width}×${height}`);
  }
  const heatmap = upsampleBicubic(rawCam, grid, grid, height, width);
  const point = argmaxFirst(heatmap, height, width);
  return { point, hit: isHit(point, boxes, 'xyxy'), heatmap };
}

export interface SplitAccuracy { split: string; hits: number; total: number; accuracy: number; }

/**
 * Accuracy = hits / queries per split (docs/reference.md §4.1 step 5), splits in first-seen order, then an 'all' row.
 * Samples without a split form a '(none)' row only beside named splits: a file without splits gets the 'all' row
 * alone (a '(none)' row would repeat it under a name that reads like a missing result).
 */
export function accuracyBySplit(rows: Iterable<{ split?: string | null; hit: boolean }>): SplitAccuracy[] {
  const bySplit = new Map<string, { hits: number; total: number }>();
  let hits = 0, total = 0;
  for (const r of rows) {
    const key = r.split ?? '(none)';
    const s = bySplit.get(key) ?? { hits: 0, total: 0 };
    s.total++; total++;
    if (r.hit) { s.hits++; hits++; }
    bySplit.set(key, s);
  }
  if (bySplit.size === 1) bySplit.delete('(none)');
  const out = [...bySplit].map(([split, s]) => ({ split, ...s, accuracy: s.hits / s.total }));
  out.push({ split: 'all', hits, total, accuracy: total ? hits / total : NaN });
  return out;
}
