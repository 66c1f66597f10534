// Loading an evaluation report (`amc eval --out`, `python -m amc_trainer eval --out`; README "Evaluation reports")
// into a viewer (issue 15 item 3): the report must be for the open model and dataset file (checkReportMatches);
// its rows are matched to the dataset's samples by id and their results go into the MetricStore, marked as from
// the report, so nothing is recomputed. No vscode import (unit-tested).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dataset } from '../core/datasets/dataset';
import { checkReportMatches } from '../core/evalReportSchema';
import { HIT, InsightTable, NOT_SCORED, phraseKey } from '../core/insights';
import { readReportInto } from '../core/reportReader';
import { EMPTY_ROW, type MetricStore, type SavedRow } from './metricStore';

/** The report the viewer of `<name>.<ext>` loads when it opens: `<name>.amc-eval.json` beside it, else this one. */
export const REPORT_BESIDE_DATASET = 'amc-eval-report.json';

/** Candidate report files beside a dataset file, in the order they are tried. */
export function reportCandidates(datasetFile: string): string[] {
  const dir = path.dirname(datasetFile);
  const base = path.basename(datasetFile).replace(/\.(jsonl?|json\.gz|txt|csv|tsv|pth|p|pkl)$/i, '');
  return [path.join(dir, `${base}.amc-eval.json`), path.join(dir, REPORT_BESIDE_DATASET)];
}

/** The first report beside the dataset that exists as a regular file, or undefined. */
export async function findReportBeside(datasetFile: string): Promise<string | undefined> {
  for (const file of reportCandidates(datasetFile)) {
    const st = await fs.promises.stat(file).catch(() => undefined);
    if (st?.isFile()) return file;
  }
  return undefined;
}

/** A report that is not for this viewer, or cannot be read: `message` names the file and the reason. */
export class ReportRefused extends Error {
  override name = 'ReportRefused';
}

export interface ReportLoadResult {
  file: string;
  /** Report rows read. */
  rows: number;
  /** Rows whose results were written into the store (scored or not scored). */
  loaded: number;
  scored: number;
}

export interface ReportLoadOptions {
  /**
   * Called as rows arrive (after the first chunk of the file, then about every PROGRESS_MS): `loaded` rows of the report
   * are in the store so far. The viewer redraws its list then, so the first rows have their results before the
   * whole report is read.
   */
  onProgress?: (loaded: number) => void;
  /** Bytes of the report read at a time (default 1 MB). */
  chunkBytes?: number;
}

const PROGRESS_MS = 1000;
const MAP_PAGE = 5000;
const LOAD_CHUNK_BYTES = 1 << 20;

/**
 * Reads `file` and, when its header names this model (grounding.onnx sha256) and this dataset file (name and size),
 * writes every row's results into `store` for the sample with the same id, as the rows are read (streaming: a
 * 1 M-row report's first rows are in the store long before its last). Throws ReportRefused with the reason
 * (another model or file, a row id the dataset lacks, a phrase that differs, a malformed row); then the rows it
 * had written are put back as they were, so a refused report leaves the store as it found it.
 */
export async function loadReportInto(
  file: string, dataset: Dataset, store: MetricStore, model: { name: string; sha256: string }, opts: ReportLoadOptions = {},
): Promise<ReportLoadResult> {
  const datasetSize = (await fs.promises.stat(dataset.file)).size;
  const check = (meta: Record<string, unknown>): void => {
    const mismatch = checkReportMatches(meta, { modelName: model.name, modelSha256: model.sha256, datasetFile: dataset.file, datasetSize });
    if (mismatch) throw new ReportRefused(`${file}: ${mismatch}`);
  };
  // Ids → sample indices (the report lists only boxed samples, maybe of one split: matched by id, not position).
  // The map grows a dataset page at a time while the report is read, as far as the rows read so far need: a report
  // in dataset order (as both writers write it) has its first rows in the store after the first pages.
  await dataset.complete.catch(() => undefined);
  const indexOf = new Map<string, number>();
  const phraseAt: string[] = [];
  const total = dataset.count();
  let mapped = 0;
  const mapUntil = async (id: string): Promise<number | undefined> => {
    for (let index = indexOf.get(id); ; index = indexOf.get(id)) {
      if (index !== undefined || mapped >= total) return index;
      for (const s of await dataset.page(mapped, MAP_PAGE)) {
        if (!indexOf.has(s.id)) { indexOf.set(s.id, s.index); phraseAt[s.index] = s.phrase; }
      }
      mapped += MAP_PAGE;
    }
  };

  const table = new InsightTable();
  const base = path.basename(file);
  // What a refusal midway must undo: rows that had results before (saved), and rows that had none (fresh).
  const saved: { index: number; row: SavedRow }[] = [];
  let fresh = new Int32Array(1024), nFresh = 0;
  // Rows wait here only when the header did not come before "samples" (then it is checked at the end).
  const waiting: { r: number; index: number; score: number; why?: { error: string; reason?: string } }[] = [];
  let live = false, loaded = 0, scored = 0, lastProgress = Date.now();
  const put = (r: number, index: number, score: number, why?: { error: string; reason?: string }): void => {
    if (store.has(index)) saved.push({ index, row: store.save(index) });
    else {
      if (nFresh === fresh.length) { const bigger = new Int32Array(2 * nFresh); bigger.set(fresh); fresh = bigger; }
      fresh[nFresh++] = index;
    }
    loaded++;
    if (table.status[r] === NOT_SCORED) {
      // The row's own error and reason, as the list and the insights show them for rows explained here.
      const w = why ?? { error: 'not scored' };
      store.setError(index, `${w.error} (not scored in the evaluation report ${base})`, w.reason ?? w.error, true);
      return;
    }
    scored++;
    const split = table.splits.values[table.split[r]];
    store.set(index, { score, lMean: table.lMean[r], lMax: table.lMax[r], hit: table.status[r] === HIT },
      split === '(none)' ? undefined : split, { x: table.px[r], y: table.py[r] }, true);
  };
  // Rows read, not yet matched: handled before each read of the next chunk (matching may page the dataset).
  let batch: { r: number; id: string; score: number; why?: { error: string; reason?: string } }[] = [];
  const handleBatch = async (): Promise<void> => {
    const rows = batch;
    batch = [];
    for (const { r, id, score, why } of rows) {
      const index = indexOf.get(id) ?? await mapUntil(id);
      if (index === undefined) {
        throw new ReportRefused(`${file}: samples[${r}] has id ${JSON.stringify(id)}, which ${path.basename(dataset.file)} does not contain`);
      }
      // The table keeps phrases in their pre_caption form: compare in that form.
      const theirs = table.phraseText(table.phrase[r]);
      if (phraseKey(phraseAt[index]) !== theirs) {
        throw new ReportRefused(`${file}: samples[${r}] (id ${JSON.stringify(id)}) has the phrase ${JSON.stringify(theirs)}, ` +
          `but ${path.basename(dataset.file)} has ${JSON.stringify(phraseAt[index])} there`);
      }
      if (!live) { waiting.push({ r, index, score, ...(why ? { why } : {}) }); continue; }
      put(r, index, score, why);
    }
    if (live && opts.onProgress && loaded > 0 && (!progressed || Date.now() - lastProgress > PROGRESS_MS)) {
      progressed = true;
      lastProgress = Date.now();
      opts.onProgress(loaded);
    }
  };
  let progressed = false;
  try {
    let meta: Record<string, unknown>;
    try {
      ({ meta } = await readReportInto(file, table, {
        onSamples: (header) => { if ('model' in header || 'dataset' in header) { check(header); live = true; } },
        onRow: (r, id, score, why) => {
          if (id === undefined) throw new ReportRefused(`${file}: samples[${r}] has no "id"`);
          batch.push({ r, id, score, ...(why ? { why } : {}) });
        },
        beforeRead: handleBatch,
        // 1 MB reads (~2,000 rows): the first rows reach the store after the first of them.
        chunkBytes: opts.chunkBytes ?? LOAD_CHUNK_BYTES,
      }));
      await handleBatch();
    } catch (err) {
      throw err instanceof ReportRefused ? err : new ReportRefused(err instanceof Error ? err.message : String(err));
    }
    if (!live) {
      check(meta);
      for (const w of waiting) put(w.r, w.index, w.score, w.why);
    }
  } catch (err) {
    // Refused midway: the rows written so far go back to what they were.
    for (let k = saved.length - 1; k >= 0; k--) store.restore(saved[k].index, saved[k].row);
    for (let k = 0; k < nFresh; k++) store.restore(fresh[k], EMPTY_ROW);
    throw err;
  }
  return { file, rows: table.size, loaded, scored };
}
