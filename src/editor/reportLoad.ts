// Loading an evaluation report (`amc eval --out`, `python -m amc_trainer eval --out`; README "Evaluation reports")
// into a viewer (issue 15 item 3): the report must be for the open model and dataset file (checkReportMatches);
// its rows are matched to the dataset's samples by id and their results go into the MetricStore, marked as from
// the report, so nothing is recomputed. No vscode import (unit-tested).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Dataset } from '../core/datasets/dataset';
import { checkReportMatches } from '../core/evalReportSchema';
import { HIT, InsightTable, NOT_SCORED, phraseWords } from '../core/insights';
import { readReportInto } from '../core/reportReader';
import type { MetricStore } from './metricStore';

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

/**
 * Reads `file` and, when its header names this model (grounding.onnx sha256) and this dataset file (name and size),
 * writes every row's results into `store` for the sample with the same id. Throws ReportRefused with the reason
 * (another model or file, a row id the dataset lacks, a phrase that differs) before touching the store.
 */
export async function loadReportInto(
  file: string, dataset: Dataset, store: MetricStore, model: { name: string; sha256: string },
): Promise<ReportLoadResult> {
  const table = new InsightTable();
  const ids: (string | undefined)[] = [];
  const scores: number[] = [];
  // Each not-scored row's own error and reason (the table keeps only counts of them).
  const notScored = new Map<number, { error: string; reason?: string }>();
  let meta: Record<string, unknown>;
  try {
    ({ meta } = await readReportInto(file, table, {
      onRow: (r, id, score, why) => { ids[r] = id; scores[r] = score; if (why) notScored.set(r, why); },
    }));
  } catch (err) {
    throw new ReportRefused(err instanceof Error ? err.message : String(err));
  }
  const datasetSize = (await fs.promises.stat(dataset.file)).size;
  const mismatch = checkReportMatches(meta, { modelName: model.name, modelSha256: model.sha256, datasetFile: dataset.file, datasetSize });
  if (mismatch) throw new ReportRefused(`${file}: ${mismatch}`);

  // Ids → sample indices (the report lists only boxed samples, maybe of one split: matched by id, not position).
  await dataset.complete.catch(() => undefined);
  const wanted = new Map<string, number>();
  ids.forEach((id, r) => {
    if (id === undefined) throw new ReportRefused(`${file}: samples[${r}] has no "id"`);
    wanted.set(id, -1);
  });
  const phraseOf = new Map<string, string>();
  for (let start = 0, total = dataset.count(); start < total; start += 5000) {
    for (const s of await dataset.page(start, 5000)) {
      if (wanted.get(s.id) === -1) { wanted.set(s.id, s.index); phraseOf.set(s.id, s.phrase); }
    }
  }
  const targets = new Int32Array(table.size);
  for (let r = 0; r < table.size; r++) {
    const id = ids[r]!;
    const index = wanted.get(id)!;
    if (index < 0) throw new ReportRefused(`${file}: samples[${r}] has id ${JSON.stringify(id)}, which ${path.basename(dataset.file)} does not contain`);
    // The table keeps phrases in their pre_caption form: compare in that form.
    const ours = phraseWords(phraseOf.get(id)!).join(' ');
    if (ours !== table.phrases[table.phrase[r]]) {
      throw new ReportRefused(`${file}: samples[${r}] (id ${JSON.stringify(id)}) has the phrase ${JSON.stringify(table.phrases[table.phrase[r]])}, ` +
        `but ${path.basename(dataset.file)} has ${JSON.stringify(phraseOf.get(id))} there`);
    }
    targets[r] = index;
  }

  let scored = 0;
  for (let r = 0; r < table.size; r++) {
    const split = table.splits.values[table.split[r]];
    const status = table.status[r];
    if (status === NOT_SCORED) {
      // The row's own error and reason, as the list and the insights show them for rows explained here.
      const why = notScored.get(r) ?? { error: 'not scored' };
      store.setError(targets[r], `${why.error} (not scored in the evaluation report ${path.basename(file)})`, why.reason ?? why.error, true);
      continue;
    }
    scored++;
    store.set(targets[r], { score: scores[r], lMean: table.lMean[r], lMax: table.lMax[r], hit: status === HIT },
      split === '(none)' ? undefined : split, { x: table.px[r], y: table.py[r] }, true);
  }
  return { file, rows: table.size, loaded: table.size, scored };
}
