// Fine-tuning from the model in use (issue 13 items 3 and 4), the parts without VS Code: where the current model's
// checkpoint is (the card's `source_checkpoint`), which files the trainer can read, the held-out file a fine-tune
// is judged on, the new model folder's name, and whether "export and use" may switch without asking.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import * as path from 'node:path';
import type { SplitDelta } from '../shared/protocol';
import { checkRegularFile, readRegularFileSync } from './boundedRead';
import { errorMessage } from './errors';
import type { DatasetFormat } from './types';

/** The formats `amc_trainer train` reads (trainer/amc_trainer/data.py detect_train_format). */
export const TRAINABLE_FORMATS: readonly DatasetFormat[] = ['amc-vg', 'vg-regions'];

export function isTrainableFormat(format: DatasetFormat): boolean {
  return TRAINABLE_FORMATS.includes(format);
}

/** The card's `source_checkpoint`: the checkpoint its graphs were exported from. */
export interface SourceCheckpoint { file: string; sha256?: string; }

export type CurrentCheckpoint = { checkpoint: string; sha256?: string } | { none: string };

/**
 * The checkpoint of the model in `modelDir`: `source_checkpoint.file` from model.json, relative to the folder
 * (a bare name when it ships beside the card). `{none}` says why there is none, naming the file.
 */
export async function sourceCheckpointOf(modelDir: string): Promise<CurrentCheckpoint> {
  const cardFile = path.join(modelDir, 'model.json');
  let card: unknown;
  try {
    card = JSON.parse(readRegularFileSync(cardFile, { maxBytes: 16 * 1024 * 1024, what: 'model card' }).toString('utf8'));
  } catch (err) {
    return { none: `${cardFile}: ${errorMessage(err)}` };
  }
  const ref = (card as { source_checkpoint?: unknown } | null)?.source_checkpoint;
  if (ref === undefined || ref === null) return { none: `${cardFile} records no source_checkpoint (the model was exported without one)` };
  const file = (ref as { file?: unknown }).file;
  const sha = (ref as { sha256?: unknown }).sha256;
  if (typeof file !== 'string' || !file.trim() || (sha !== undefined && typeof sha !== 'string')) {
    return { none: `${cardFile}: source_checkpoint must be {"file": "<path>", "sha256": "<hex>"}, got ${JSON.stringify(ref)}` };
  }
  const checkpoint = path.resolve(modelDir, file);
  try {
    await checkRegularFile(checkpoint, { what: 'checkpoint' });
  } catch (err) {
    return { none: `${cardFile}: its source_checkpoint ${checkpoint} cannot be used: ${errorMessage(err)}` };
  }
  return typeof sha === 'string' ? { checkpoint, sha256: sha } : { checkpoint };
}

/** sha256 of a file, streamed (a checkpoint is tens of MB). */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (c) => h.update(c)).on('error', reject).on('end', () => resolve(h.digest('hex')));
  });
}

/**
 * The held-out file beside a training file: `vg_train.json` → `vg_val.json` (the synthetic set's and the AMC
 * layout's naming), else `…test…`. Undefined when the name has no "train" or no such file exists.
 */
export function heldOutFileFor(dataset: string, exists: (f: string) => boolean = existsSync): string | undefined {
  const dir = path.dirname(dataset), base = path.basename(dataset);
  if (!/train/i.test(base)) return undefined;
  for (const replacement of ['val', 'test']) {
    const candidate = path.join(dir, base.replace(/train/i, replacement));
    if (exists(candidate)) return candidate;
  }
  return undefined;
}

/** The new model folder's name: the dataset's name and the date, e.g. `vg_train-2026-12-03-1012`. */
export function modelFolderName(dataset: string, now: Date): string {
  const stem = path.basename(dataset).replace(/\.[^.]+$/, '').replace(/[^\w.-]+/g, '_') || 'dataset';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${stem}-${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}`;
}

/** The folder an exported model goes to: beside the run's checkpoints, named after the dataset and the date. */
export function exportDirFor(checkpoint: string, dataset: string, now = new Date(), exists: (f: string) => boolean = existsSync): string {
  const parent = path.dirname(checkpoint);
  return path.join(parent, freeFolderName(parent, modelFolderName(dataset, now), exists));
}

/** A folder name not taken yet: `name`, `name-2`, `name-3`, … */
export function freeFolderName(parent: string, name: string, exists: (f: string) => boolean = existsSync): string {
  let candidate = name;
  for (let i = 2; exists(path.join(parent, candidate)); i++) candidate = `${name}-${i}`;
  return candidate;
}

/**
 * After a fine-tune: switch to the new model by itself only when it is not worse on any split of the held-out
 * data (fewer hits where both scored the same queries, else a lower accuracy); otherwise ask. A split that one
 * model could not score at all is "unknown", which also asks. `deltas` are new (current) − old (comparison).
 */
export type SwitchDecision =
  | { kind: 'switch'; deltas: SplitDelta[] }
  | { kind: 'ask'; deltas: SplitDelta[]; worse: SplitDelta[]; unknown: SplitDelta[]; reason: string };

export function decideSwitch(deltas: readonly SplitDelta[]): SwitchDecision {
  const all = deltas.filter((d) => d.split === 'all');
  const perSplit = deltas.filter((d) => d.split !== 'all');
  const judged = perSplit.length ? perSplit : all;
  if (!judged.length) return { kind: 'ask', deltas: [...deltas], worse: [], unknown: [], reason: 'the held-out data gave no split to compare' };
  const unknown = judged.filter((d) => !Number.isFinite(d.current) || !Number.isFinite(d.comparison));
  const worse = judged.filter((d) => Number.isFinite(d.current) && Number.isFinite(d.comparison) && (
    d.currentTotal === d.comparisonTotal ? d.currentHits < d.comparisonHits : d.current < d.comparison));
  if (!worse.length && !unknown.length) return { kind: 'switch', deltas: [...deltas] };
  const parts: string[] = [];
  if (worse.length) parts.push(`worse on ${worse.map((d) => d.split).join(', ')}`);
  if (unknown.length) parts.push(`not scored on ${unknown.map((d) => d.split).join(', ')}`);
  return { kind: 'ask', deltas: [...deltas], worse, unknown, reason: `the new model is ${parts.join(' and ')}` };
}

/** "val: 68.4 % → 61.2 % (−7.2 pts, 80/117 → 72/117)" per split, old → new. */
export function describeDeltas(deltas: readonly SplitDelta[]): string[] {
  const pct = (a: number) => (Number.isFinite(a) ? `${(a * 100).toFixed(1)} %` : '–');
  const pts = (d: SplitDelta) => {
    if (!Number.isFinite(d.deltaPts)) return '–';
    const r = Number(d.deltaPts.toFixed(1));
    return r === 0 ? '±0.0 pts' : `${r > 0 ? '+' : '−'}${Math.abs(r).toFixed(1)} pts`;
  };
  return deltas.map((d) => `${d.split}: ${pct(d.comparison)} → ${pct(d.current)} (${pts(d)}, `
    + `${d.comparisonHits}/${d.comparisonTotal} → ${d.currentHits}/${d.currentTotal})`);
}

/**
 * GPU counts the wizard offers: CPU always; 1, 2, 4, 8 … up to what the interpreter's torch sees (and that count
 * itself); nothing but the CPU when torch sees no GPU. The amc.trainer.gpus setting comes first when offered.
 */
export function gpuChoices(cudaDevices: number, settingGpus: number): number[] {
  const n = Math.max(0, Math.floor(cudaDevices));
  const counts = new Set<number>([0]);
  for (let k = 1; k <= n; k *= 2) counts.add(k);
  if (n > 0) counts.add(n);
  const list = [...counts].sort((a, b) => a - b);
  return list.includes(settingGpus) ? [settingGpus, ...list.filter((k) => k !== settingGpus)] : list;
}

/** The run summary shown before it starts (one line per setting). */
export interface RunSummaryInput {
  dataset: string; format: string; startFrom: string; epochs?: number; gpus: number; python: string;
  output: string; modelFolder: string; heldOut?: string; exportAndUse: boolean;
}

export function runSummaryLines(r: RunSummaryInput): string[] {
  return [
    `Training data: ${r.dataset} (${r.format})`,
    `Start from: ${r.startFrom}`,
    `Epochs: ${r.epochs ?? 'the config\'s'}`,
    `Where: ${r.gpus === 0 ? 'CPU' : r.gpus === 1 ? '1 GPU' : `${r.gpus} GPUs (torchrun)`} with ${r.python}`,
    `Checkpoints: ${r.output}`,
    `New model folder: ${r.modelFolder}`,
    r.heldOut ? `Judged on: ${r.heldOut} (previous vs new model, per split)` : 'Judged on: no held-out file found beside the training data',
    r.exportAndUse ? 'Afterwards: export and use it if it is not worse on any split (otherwise you are asked)'
      : 'Afterwards: you are offered to export and use it',
  ];
}
