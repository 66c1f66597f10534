// Per-model metrics of every explained sample, stored column-wise so millions of rows stay small
// (13 bytes a row instead of an object each). No vscode import: unit-tested and used by the test host.
import type { RowMetrics } from '../shared/protocol';

const STATE_NONE = 0, STATE_HIT = 1, STATE_MISS = 2, STATE_ERROR = 3;

/** MetricStore.save: one row's columns as they were. */
export interface SavedRow {
  state: number; score: number; lMean: number; lMax: number; split: number; x: number; y: number; fromReport: number;
  error?: string; reason?: string;
}

/** A row with no results (restore it to forget a row). */
export const EMPTY_ROW: SavedRow = { state: STATE_NONE, score: 0, lMean: 0, lMax: 0, split: 0, x: NaN, y: NaN, fromReport: 0 };

export class MetricStore {
  private score = new Float32Array(0);
  private lMean = new Float32Array(0);
  private lMax = new Float32Array(0);
  private state = new Uint8Array(0);
  private splitOf = new Uint16Array(0);
  /** The pointing-game point (original-image pixels; NaN when not known), for the insights' miss targets. */
  private pointX = new Float32Array(0);
  private pointY = new Float32Array(0);
  /** 1 where the row's results were loaded from an evaluation report (not computed in this editor). */
  private fromReport = new Uint8Array(0);
  private readonly splitNames: string[] = [];
  private readonly errors = new Map<number, string>();
  /** Short cause per error row ("image not found"), for the grouped not-scored summary. */
  private readonly errorReasons = new Map<number, string>();
  private computed = 0;
  /** Bumped on every write; views built from an older version may be stale. */
  version = 0;

  get computedCount(): number { return this.computed; }

  private ensure(index: number): void {
    if (index < this.state.length) return;
    const size = Math.max(index + 1, Math.ceil(this.state.length * 1.5), 1024);
    const grow = <T extends Float32Array | Uint8Array | Uint16Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a);
      return b;
    };
    this.score = grow(this.score, (n) => new Float32Array(n));
    this.lMean = grow(this.lMean, (n) => new Float32Array(n));
    this.lMax = grow(this.lMax, (n) => new Float32Array(n));
    this.state = grow(this.state, (n) => new Uint8Array(n));
    this.splitOf = grow(this.splitOf, (n) => new Uint16Array(n));
    this.pointX = grow(this.pointX, (n) => new Float32Array(n).fill(NaN));
    this.pointY = grow(this.pointY, (n) => new Float32Array(n).fill(NaN));
    this.fromReport = grow(this.fromReport, (n) => new Uint8Array(n));
  }

  private splitId(split: string | undefined): number {
    const name = split ?? '';
    let id = this.splitNames.indexOf(name);
    if (id < 0) { id = this.splitNames.length; this.splitNames.push(name); }
    return id;
  }

  /** Records a row's results; `point` when known, `fromReport` when they were read from an evaluation report. */
  set(index: number, metrics: RowMetrics, split: string | undefined, point?: { x: number; y: number }, fromReport = false): void {
    this.ensure(index);
    this.pointX[index] = point ? point.x : NaN;
    this.pointY[index] = point ? point.y : NaN;
    this.fromReport[index] = fromReport ? 1 : 0;
    if (this.state[index] === STATE_NONE) this.computed++;
    this.errors.delete(index);
    this.errorReasons.delete(index);
    this.score[index] = metrics.score;
    this.lMean[index] = metrics.lMean;
    this.lMax[index] = metrics.lMax;
    this.state[index] = metrics.hit ? STATE_HIT : STATE_MISS;
    this.splitOf[index] = this.splitId(split);
    this.version++;
  }

  setError(index: number, message: string, reason?: string, fromReport = false): void {
    this.ensure(index);
    this.pointX[index] = NaN;
    this.pointY[index] = NaN;
    this.fromReport[index] = fromReport ? 1 : 0;
    if (this.state[index] === STATE_NONE) this.computed++;
    this.state[index] = STATE_ERROR;
    this.errors.set(index, message);
    if (reason) this.errorReasons.set(index, reason); else this.errorReasons.delete(index);
    this.version++;
  }

  /** Everything recorded for a row (restore puts it back): a report whose loading is refused midway undoes its rows. */
  save(index: number): SavedRow {
    this.ensure(index);
    return {
      state: this.state[index], score: this.score[index], lMean: this.lMean[index], lMax: this.lMax[index], split: this.splitOf[index],
      x: this.pointX[index], y: this.pointY[index], fromReport: this.fromReport[index],
      error: this.errors.get(index), reason: this.errorReasons.get(index),
    };
  }

  restore(index: number, row: SavedRow): void {
    this.ensure(index);
    if (this.state[index] === STATE_NONE && row.state !== STATE_NONE) this.computed++;
    if (this.state[index] !== STATE_NONE && row.state === STATE_NONE) this.computed--;
    this.state[index] = row.state; this.score[index] = row.score; this.lMean[index] = row.lMean; this.lMax[index] = row.lMax;
    this.splitOf[index] = row.split; this.pointX[index] = row.x; this.pointY[index] = row.y; this.fromReport[index] = row.fromReport;
    if (row.error !== undefined) this.errors.set(index, row.error); else this.errors.delete(index);
    if (row.reason !== undefined) this.errorReasons.set(index, row.reason); else this.errorReasons.delete(index);
    this.version++;
  }

  has(index: number): boolean { return index < this.state.length && this.state[index] !== STATE_NONE; }
  /** Computed with metrics (not an error). */
  hasMetrics(index: number): boolean {
    return index < this.state.length && (this.state[index] === STATE_HIT || this.state[index] === STATE_MISS);
  }
  isMiss(index: number): boolean { return index < this.state.length && this.state[index] === STATE_MISS; }
  error(index: number): string | undefined { return this.errors.get(index); }
  /** The short cause of an error row, when the engine gave one. */
  errorReason(index: number): string | undefined { return this.errorReasons.get(index); }

  /** The row's pointing-game point, when it was recorded. */
  point(index: number): { x: number; y: number } | undefined {
    if (!this.has(index) || Number.isNaN(this.pointX[index])) return undefined;
    return { x: this.pointX[index], y: this.pointY[index] };
  }

  /** Whether the row's results came from an evaluation report. */
  isFromReport(index: number): boolean { return index < this.fromReport.length && this.fromReport[index] === 1; }

  /** Indices computed (with metrics or an error), ascending. */
  settledIndices(): Int32Array {
    const out = new Int32Array(this.computed);
    let n = 0;
    for (let i = 0; i < this.state.length; i++) if (this.state[i] !== STATE_NONE) out[n++] = i;
    return out.subarray(0, n);
  }

  get(index: number): RowMetrics | undefined {
    if (!this.hasMetrics(index)) return undefined;
    return { score: this.score[index], lMean: this.lMean[index], lMax: this.lMax[index], hit: this.state[index] === STATE_HIT };
  }

  /** Numeric sort value of a computed row (hit: 1, miss: 0). */
  value(index: number, key: 'score' | 'lMean' | 'lMax' | 'hit'): number {
    switch (key) {
      case 'score': return this.score[index];
      case 'lMean': return this.lMean[index];
      case 'lMax': return this.lMax[index];
      case 'hit': return this.state[index] === STATE_HIT ? 1 : 0;
    }
  }

  /** Indices with metrics, ascending. */
  computedIndices(): Int32Array {
    const out = new Int32Array(this.computed);
    let n = 0;
    for (let i = 0; i < this.state.length; i++) if (this.state[i] === STATE_HIT || this.state[i] === STATE_MISS) out[n++] = i;
    return out.subarray(0, n);
  }

  /** (split, hit) of every computed row, for accuracyBySplit without building millions of objects at once. */
  *hitRows(): Generator<{ split?: string; hit: boolean }> {
    for (let i = 0; i < this.state.length; i++) {
      const s = this.state[i];
      if (s === STATE_HIT || s === STATE_MISS) {
        const name = this.splitNames[this.splitOf[i]];
        yield { split: name === '' ? undefined : name, hit: s === STATE_HIT };
      }
    }
  }
}
