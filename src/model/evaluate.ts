// Dataset-wide pointing-game evaluation (docs/reference.md §4): every boxed query of a dataset through the engine, in pages,
// with progress, cancellation that keeps what was computed, and the JSON report `amc eval` writes.
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { Dataset } from '../core/datasets/dataset';
import { REPORT_SCHEMA, REPORT_SCHEMA_VERSION, type ReportDataset, type ReportModel } from '../core/evalReportSchema';
import { accuracyBySplit, type SplitAccuracy } from '../core/math/pointing';
import { formatAccuracy, groupNotScored, scoredSummary, type NotScoredGroup } from '../core/notScored';
import type { BoxXYXY, Sample } from '../core/types';
import type { InferenceEngine, SampleExplanation } from './engine';
import { errorMessage } from '../core/errors';

export interface EvalOptions {
  split?: string;
  limit?: number;
  /** Samples per engine request (the engine batches inside it); default 64. */
  pageSize?: number;
  /** How many worst samples the report lists (default 20). */
  worst?: number;
  signal?: AbortSignal;
  onProgress?: (p: EvalProgress) => void;
  /** Called with every finished sample (the demo renders panels from these). */
  onSample?: (row: EvalRow, sample: Sample, result: SampleExplanation | undefined) => void | Promise<void>;
}

export interface EvalProgress { done: number; total: number; errors: number; elapsedS: number; }

export interface EvalRow {
  index: number;
  id: string;
  split: string | null;
  image: string;
  phrase: string;
  boxes: BoxXYXY[];
  /** Original image size in pixels (box area fractions, the image border in `amc insights`); absent when unknown. */
  width?: number;
  height?: number;
  hit?: boolean;
  point?: { x: number; y: number };
  score?: number;
  itmProbability?: number;
  lMean?: number;
  lMax?: number;
  total?: number;
  maskEmpty?: boolean;
  /** Why this query was not scored, naming the file or entry (absent when it was scored). */
  error?: string;
  /** The short cause of `error`, the key of {@link EvalReport.notScored} ("image not found"). */
  reason?: string;
}

/** The report `amc eval --out` writes: schema 1 of src/core/evalReportSchema.ts (README "Evaluation reports"). */
export interface EvalReport {
  schema: typeof REPORT_SCHEMA;
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  writer: 'amc eval';
  /** The card's name and grounding.onnx sha256 (checkpointSha256 null: the ONNX graphs ran), and where it ran. */
  model: ReportModel & { dir: string; provider: string; providerNote?: string };
  dataset: ReportDataset;
  /** The annotation file (absolute path) and its format, as before the schema (the HTML report shows them). */
  file: string;
  format: string;
  split: string | null;
  started: string;
  finished: string;
  interrupted: boolean;
  durationS: number;
  samplesPerS: number;
  /**
   * queries: selected; evaluated: scored; errors = notScored: reached but not scored (listed in `notScored` and as
   * rows with `error`); queries − evaluated − notScored were not reached (interrupted).
   */
  counts: { queries: number; evaluated: number; errors: number; notScored: number; skippedNoBox: number };
  /** The not-scored queries grouped by reason, most frequent first. */
  notScored: NotScoredGroup[];
  /** "scored 6 of 10; 4 not scored: image not found (3), ..." (the line printed beside the accuracy). */
  summary: string;
  /** Set when an engine failure (not a bad query) stopped the run; the rows before it are kept. */
  stoppedBy?: string;
  /** Accuracy over the scored queries; NaN (null in the JSON) where none was scored. */
  accuracy: SplitAccuracy[];
  worstRule: string;
  worst: EvalRow[];
  samples: EvalRow[];
}

/** A dataset with nothing to score (no query with a box, or none in the split asked for). */
export class NothingToEvaluateError extends Error {
  constructor(message: string) { super(message); this.name = 'NothingToEvaluateError'; }
}

const WORST_RULE = 'misses first, then by L_max (descending), then by total AMC loss';

function worstOrder(a: EvalRow, b: EvalRow): number {
  if (a.hit !== b.hit) return a.hit ? 1 : -1;
  return (b.lMax ?? 0) - (a.lMax ?? 0) || (b.total ?? 0) - (a.total ?? 0) || a.index - b.index;
}

/** Read the queries to evaluate: boxed samples of the split, up to limit. Samples without a box are counted. */
export async function selectQueries(
  ds: Dataset, split?: string, limit = Infinity,
): Promise<{ queries: Sample[]; skippedNoBox: number; seen: number }> {
  const queries: Sample[] = [];
  let skippedNoBox = 0, seen = 0, start = 0;
  const PAGE = 2000;
  for (;;) {
    const page = await ds.page(start, PAGE);
    for (const s of page) {
      seen++;
      if (split !== undefined && s.split !== split) continue;
      if (!s.boxes.length) { skippedNoBox++; continue; }
      if (queries.length < limit) queries.push(s);
    }
    start += page.length;
    if (page.length < PAGE || queries.length >= limit) break;
  }
  if (queries.length < limit) await ds.complete; // read to the end: surface a file that ends badly
  if (!queries.length) {
    const where = split !== undefined ? ` in split '${split}' (splits in this file: ${ds.splits().join(', ') || 'none'})` : '';
    throw new NothingToEvaluateError(
      `${ds.file}: no boxed queries to evaluate${where}: ${seen} sample(s) read, ${skippedNoBox} without a box`);
  }
  return { queries, skippedNoBox, seen };
}

export async function evaluateDataset(engine: InferenceEngine, ds: Dataset, opts: EvalOptions = {}): Promise<EvalReport> {
  const started = new Date();
  const t0 = performance.now();
  const { queries, skippedNoBox } = await selectQueries(ds, opts.split, opts.limit ?? Infinity);
  // The report names the file by name and size (evalReportSchema.ts); an in-memory set has no file: null.
  const datasetSize = await stat(ds.file).then((st) => st.size, () => null);
  const pageSize = Math.max(1, opts.pageSize ?? 64);
  const rows: EvalRow[] = [];
  let errors = 0, interrupted = false;
  let stoppedBy: string | undefined;
  const elapsed = (): number => (performance.now() - t0) / 1000;

  for (let start = 0; start < queries.length; start += pageSize) {
    if (opts.signal?.aborted) { interrupted = true; break; }
    const page = queries.slice(start, start + pageSize);
    let results;
    try {
      results = await engine.explainBatch(page, opts.signal);
    } catch (e) {
      if ((e as Error).name === 'AbortError') { interrupted = true; break; }
      // The engine itself failed (worker crashed, ...): keep every finished row and say why the run stopped.
      stoppedBy = errorMessage(e);
      interrupted = true;
      break;
    }
    for (let i = 0; i < page.length; i++) {
      const s = page[i], r = results[i];
      const row: EvalRow = { index: s.index, id: s.id, split: s.split ?? null, image: s.image, phrase: s.phrase, boxes: s.boxes };
      if ('error' in r) {
        if (s.width && s.height) Object.assign(row, { width: s.width, height: s.height });
        row.error = r.error;
        row.reason = r.reason;
        errors++;
      } else {
        Object.assign(row, {
          width: r.width, height: r.height, hit: r.hit, point: r.point, score: r.score, itmProbability: r.itmProbability,
          lMean: r.lMean, lMax: r.lMax, total: r.total, maskEmpty: r.maskEmpty,
        });
      }
      rows.push(row);
      await opts.onSample?.(row, s, 'error' in r ? undefined : r);
    }
    opts.onProgress?.({ done: rows.length, total: queries.length, errors, elapsedS: elapsed() });
  }

  const scored = rows.filter((r) => r.hit !== undefined);
  const notScored = groupNotScored(rows.filter((r) => r.error !== undefined).map((r) => r.reason ?? 'cannot be explained'));
  const durationS = elapsed();
  return {
    schema: REPORT_SCHEMA,
    schemaVersion: REPORT_SCHEMA_VERSION,
    writer: 'amc eval',
    model: {
      name: engine.card.name, cardSha256: engine.card.files.grounding.sha256, checkpointSha256: null,
      dir: engine.modelDir, provider: engine.provider, providerNote: engine.providerNote,
    },
    dataset: { file: path.basename(ds.file), size: datasetSize, format: ds.format, path: ds.file },
    file: ds.file,
    format: ds.format,
    split: opts.split ?? null,
    started: started.toISOString(),
    finished: new Date().toISOString(),
    interrupted,
    durationS,
    samplesPerS: rows.length / Math.max(durationS, 1e-9),
    counts: { queries: queries.length, evaluated: scored.length, errors, notScored: errors, skippedNoBox },
    notScored,
    summary: scoredSummary(scored.length, rows.length, notScored),
    ...(stoppedBy !== undefined ? { stoppedBy } : {}),
    // Accuracy over the queries that were scored (not-scored ones are listed and counted, not counted as misses).
    accuracy: accuracyBySplit(scored.map((r) => ({ split: r.split ?? undefined, hit: r.hit! }))),
    worstRule: WORST_RULE,
    worst: [...scored].sort(worstOrder).slice(0, opts.worst ?? 20),
    samples: rows,
  };
}

/** "[####......] 120/500 24% · 12.3 samples/s · ETA 0:31" */
export function progressLine(p: EvalProgress, width = 30): string {
  const frac = p.total ? p.done / p.total : 1;
  const filled = Math.round(frac * width);
  const rate = p.elapsedS > 0 ? p.done / p.elapsedS : 0;
  const eta = rate > 0 ? (p.total - p.done) / rate : NaN;
  const fmt = (s: number): string => (Number.isFinite(s) ? `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}` : '?');
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total} ${(frac * 100).toFixed(0)}% · ` +
    `${rate.toFixed(1)} samples/s · ETA ${fmt(eta)}${p.errors ? ` · ${p.errors} not scored` : ''}`;
}

/** The accuracy table printed at the end of `amc eval` / `amc demo`. */
export function accuracyTable(acc: SplitAccuracy[]): string {
  const lines = ['split        hits / queries   accuracy'];
  for (const a of acc) lines.push(`${a.split.padEnd(12)} ${String(a.hits).padStart(5)} / ${String(a.total).padEnd(7)}  ${formatAccuracy(a.accuracy)}`);
  return lines.join('\n');
}
