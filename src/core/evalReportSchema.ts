// The evaluation report schema that `amc eval --out` and `python -m amc_trainer eval --out` both write
// (README "Evaluation reports", docs/reference.md §8): a versioned header naming the model and the dataset file, and
// one row per query with the same field names and types in both writers. Pure: validation and the check that a
// report belongs to a model and a dataset file (the viewer refuses a report for another model or file with this
// reason). trainer/amc_trainer/evaluate.py `validate_report` is the Python twin of validateEvalReport.

export const REPORT_SCHEMA = 'amc-eval-report';
export const REPORT_SCHEMA_VERSION = 1;

/** The model a report was computed with. */
export interface ReportModel {
  /** The model card's `name` (null: the Python evaluator was given no `--card`). */
  name: string | null;
  /**
   * sha256 of grounding.onnx as the card records it (`model.json` "sha256"["grounding.onnx"], lowercase hex): the
   * identity of an exported model. null when the writer had no card (Python without `--card`).
   */
  cardSha256: string | null;
  /** sha256 of the PyTorch checkpoint file the Python evaluator ran (null from `amc eval`: it runs ONNX graphs). */
  checkpointSha256: string | null;
}

/** The annotation file a report was computed on. */
export interface ReportDataset {
  /** Base name of the annotation file ("refcoco+_test.json"). */
  file: string;
  /** Its size in bytes when the report was written; null when the samples came from no file (an in-memory set). */
  size: number | null;
  /** The reader's format name (src/core/types.ts DatasetFormat). */
  format: string;
  /** The absolute path the writer read (informative: a report moves between machines; matching uses file + size). */
  path?: string;
}

export interface ReportHeader {
  schema: typeof REPORT_SCHEMA;
  schemaVersion: number;
  /** "amc eval" or "python -m amc_trainer eval". */
  writer: string;
  model: ReportModel;
  dataset: ReportDataset;
}

/** One query of a report. Scored rows have point/hit/lMean/lMax/score; not-scored rows have error and reason. */
export interface ReportRow {
  id: string;
  image: string;
  phrase: string;
  split: string | null;
  /** Ground-truth boxes [x1, y1, x2, y2] in original-image pixels. */
  boxes: [number, number, number, number][];
  width?: number;
  height?: number;
  /** The pointing-game point in original-image pixels (integers; docs/reference.md §4.1). */
  point?: { x: number; y: number };
  hit?: boolean;
  /** The training losses at batch size 1 on this sample's box(es) (docs/reference.md §2; src/core/math/amc.ts sampleLosses). */
  lMean?: number;
  lMax?: number;
  /** The raw ITM match logit. */
  score?: number;
  error?: string;
  reason?: string;
}

/** What the viewer has open: the model it runs and the dataset file it shows. */
export interface ReportTarget {
  modelName: string;
  /** sha256 of grounding.onnx as the open model's card records it. */
  modelSha256: string;
  /** Base name (or path: only the base name is compared) of the open annotation file. */
  datasetFile: string;
  datasetSize: number;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const SHA256 = /^[0-9a-f]{64}$/;
const baseName = (p: string): string => p.split(/[\\/]/).pop() ?? p;
const short = (sha: string): string => `${sha.slice(0, 12)}…`;

/**
 * Problems of a report header (everything but "samples"), each naming the field; [] when it is a valid schema-1
 * header. A report without "schema" was written before the schema existed (see describeLegacyReport).
 */
export function validateReportHeader(header: unknown): string[] {
  if (!isObject(header)) return ['the report is not a JSON object'];
  const problems: string[] = [];
  if (header.schema !== REPORT_SCHEMA) {
    return [header.schema === undefined
      ? 'no "schema": not an evaluation report of schema 1 (written before the schema, or by another tool)'
      : `"schema" is ${JSON.stringify(header.schema)}, expected "${REPORT_SCHEMA}"`];
  }
  if (header.schemaVersion !== REPORT_SCHEMA_VERSION) {
    return [typeof header.schemaVersion === 'number' && header.schemaVersion > REPORT_SCHEMA_VERSION
      ? `"schemaVersion" ${header.schemaVersion} is newer than this version reads (${REPORT_SCHEMA_VERSION}): update the extension`
      : `"schemaVersion" must be ${REPORT_SCHEMA_VERSION}, got ${JSON.stringify(header.schemaVersion)}`];
  }
  if (typeof header.writer !== 'string') problems.push('"writer" must be a string');
  const m = header.model;
  if (!isObject(m)) problems.push('"model" must be an object {name, cardSha256, checkpointSha256}');
  else {
    if (m.name !== null && typeof m.name !== 'string') problems.push('"model.name" must be a string or null');
    for (const k of ['cardSha256', 'checkpointSha256']) {
      if (m[k] !== null && !(typeof m[k] === 'string' && SHA256.test(m[k] as string))) {
        problems.push(`"model.${k}" must be 64 lowercase hex digits or null, got ${JSON.stringify(m[k])}`);
      }
    }
    if (m.cardSha256 === null && m.checkpointSha256 === null) problems.push('"model" names neither a card sha256 nor a checkpoint sha256');
  }
  const d = header.dataset;
  if (!isObject(d)) problems.push('"dataset" must be an object {file, size, format}');
  else {
    if (typeof d.file !== 'string' || !d.file || /[\\/]/.test(d.file)) problems.push('"dataset.file" must be a file name (no folder)');
    if (!(d.size === null || (Number.isSafeInteger(d.size) && (d.size as number) >= 0))) problems.push('"dataset.size" must be a byte count');
    if (typeof d.format !== 'string') problems.push('"dataset.format" must be a string');
    if (d.path !== undefined && typeof d.path !== 'string') problems.push('"dataset.path" must be a string');
  }
  return problems;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Problems of one row, each prefixed with `samples[i]`; [] when valid. */
export function validateReportRow(row: unknown, i: number): string[] {
  const at = `samples[${i}]`;
  if (!isObject(row)) return [`${at}: must be an object`];
  const problems: string[] = [];
  const need = (ok: boolean, what: string): void => { if (!ok) problems.push(`${at}.${what}`); };
  need(typeof row.id === 'string', 'id must be a string');
  need(typeof row.image === 'string', 'image must be a string');
  need(typeof row.phrase === 'string', 'phrase must be a string');
  need(row.split === null || typeof row.split === 'string', 'split must be a string or null');
  need(Array.isArray(row.boxes) && row.boxes.every((b) => Array.isArray(b) && b.length === 4 && b.every(finite)),
    'boxes must be an array of [x1, y1, x2, y2]');
  for (const k of ['width', 'height']) need(row[k] === undefined || (Number.isInteger(row[k]) && (row[k] as number) > 0), `${k} must be a positive integer`);
  const notScored = row.error !== undefined;
  if (notScored) {
    need(typeof row.error === 'string' && row.error !== '', 'error must be a message');
    need(typeof row.reason === 'string' && row.reason !== '', 'reason must be a short cause (a not-scored row has both error and reason)');
    for (const k of ['hit', 'point', 'lMean', 'lMax', 'score']) need(row[k] === undefined, `${k} must be absent on a not-scored row`);
  } else {
    const p = row.point;
    need(isObject(p) && Number.isInteger(p.x) && Number.isInteger(p.y), 'point must be {x, y} in integer pixels');
    need(typeof row.hit === 'boolean', 'hit must be true or false');
    for (const k of ['lMean', 'lMax', 'score']) need(finite(row[k]), `${k} must be a finite number`);
    for (const k of ['lMean', 'lMax']) need(!finite(row[k]) || (row[k] as number) >= 0, `${k} must be ≥ 0 (a hinge)`);
    need(row.reason === undefined, 'reason without an error');
  }
  return problems;
}

/** Every problem of a whole parsed report (header and rows), at most `limit` (default 20). [] when valid. */
export function validateEvalReport(report: unknown, limit = 20): string[] {
  const problems = validateReportHeader(report);
  if (problems.length || !isObject(report)) return problems;
  if (!Array.isArray(report.samples)) return ['"samples" must be an array'];
  for (let i = 0; i < report.samples.length && problems.length < limit; i++) problems.push(...validateReportRow(report.samples[i], i));
  return problems.slice(0, limit);
}

/**
 * Why a report does not belong to the open model and dataset file, or null when it does. The model is compared by
 * the card's grounding.onnx sha256 (a model re-exported under the same name is another model); the dataset file by
 * its base name and size in bytes (the report moves between machines, so not by path).
 */
export function checkReportMatches(header: unknown, target: ReportTarget): string | null {
  const problems = validateReportHeader(header);
  if (problems.length) return `not a readable evaluation report: ${problems.join('; ')}`;
  const { model, dataset } = header as unknown as ReportHeader;
  const ours = `${target.modelName} (grounding.onnx sha256 ${short(target.modelSha256)})`;
  if (model.cardSha256 === null) {
    return `the report names no model card (written by ${(header as Json).writer as string} from checkpoint sha256 ` +
      `${short(model.checkpointSha256 ?? '')} without --card), so it cannot be matched to ${ours}`;
  }
  if (model.cardSha256 !== target.modelSha256.toLowerCase()) {
    return `the report was computed with model ${model.name ?? '(unnamed)'} (grounding.onnx sha256 ${short(model.cardSha256)}), ` +
      `not with the open model ${ours}`;
  }
  const file = baseName(target.datasetFile);
  if (dataset.file !== file) return `the report is for the dataset file ${dataset.file}, not ${file}`;
  if (dataset.size === null) return `the report records no size for ${dataset.file} (its samples did not come from a file)`;
  if (dataset.size !== target.datasetSize) {
    return `the report is for ${dataset.file} of ${dataset.size} bytes; this ${file} has ${target.datasetSize} bytes (changed since the evaluation?)`;
  }
  return null;
}
