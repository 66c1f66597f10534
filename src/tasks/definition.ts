// The `amc` task definition (package.json `taskDefinitions`) and how it becomes a trainer command line.
// No vscode import: unit-tested in test/unit/tasks.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export const TASK_TYPE = 'amc';

/** One fine-tuning run, as written in .vscode/tasks.json. Paths may be relative to the workspace folder. */
export interface AmcTaskDefinition {
  type: typeof TASK_TYPE;
  dataset: string;          // training annotations (AMC VG JSON or VG region_descriptions.json)
  imageRoot?: string;       // default: the dataset file's folder
  init?: string;            // checkpoint to start from; default: the current model's (its card's source_checkpoint); "" = from scratch
  config?: string;          // trainer config JSON; default: the bundled small-synthetic config
  epochs?: number;
  batchSize?: number;
  gpus?: number;            // 0 = CPU, 1 = one GPU, N > 1 = torchrun --nproc_per_node=N; default amc.trainer.gpus
  output?: string;          // checkpoints folder; default .amc/runs/<timestamp>
  resume?: boolean;         // continue from <output>/last.pth
  amcWeights?: [number, number];
  amcMargins?: [number, number];
  exportAndUse?: boolean;   // after a finished run: export to ONNX and use it (asks first when it is worse on held-out data)
  heldOut?: string;         // annotations both models are evaluated on after the run; default: vg_train.json → vg_val.json beside it
  skipBadSamples?: boolean; // train without the samples the trainer's preflight finds broken (listed as warnings)
  extraArgs?: string[];     // further `--key value` trainer config overrides
  [key: string]: unknown;   // vscode.TaskDefinition allows more keys
}

/** A definition with every path absolute and every default filled in: what a run actually uses. */
export interface ResolvedRun {
  dataset: string;
  imageRoot: string;
  init?: string;
  /** Where `init` came from: the definition, the current model's card (the default), or none (from scratch). */
  initSource: 'given' | 'current-model' | 'scratch';
  /** Why a run without `init` starts from scratch although the definition did not ask for it. */
  initNote?: string;
  config?: string;          // undefined: the trainer's built-in defaults (the small model)
  epochs?: number;
  batchSize?: number;
  gpus: number;
  output: string;
  resume: boolean;
  amcWeights?: [number, number];
  amcMargins?: [number, number];
  exportAndUse: boolean;
  heldOut?: string;
  skipBadSamples: boolean;
  extraArgs: string[];
}

export interface ResolveContext {
  workspaceDir: string | undefined; // relative paths are resolved against it (else against the dataset's folder)
  trainerRoot: string;              // <extension>/trainer (the folder that holds the amc_trainer package)
  defaultGpus: number;              // amc.trainer.gpus
  now?: Date;                       // for the default output folder name
  exists?: (file: string) => boolean; // whether the bundled default config is there (default: fs.existsSync)
  /** The current model's checkpoint (fineTunePlan.sourceCheckpointOf), the default `init`; or why there is none. */
  currentCheckpoint?: { checkpoint: string } | { none: string };
}

export const DEFAULT_CONFIG = path.join('configs', 'small-synthetic.json');

/** Checks the shape of a definition from tasks.json; returns the messages for every bad key. */
export function validateDefinition(def: Record<string, unknown>): string[] {
  const errors: string[] = [];
  const str = (k: string, required = false) => {
    const v = def[k];
    if (v === undefined || v === '') { if (required) errors.push(`"${k}" is required (a file path)`); return; }
    if (typeof v !== 'string') errors.push(`"${k}" must be a string, got ${JSON.stringify(v)}`);
  };
  const int = (k: string, min: number) => {
    const v = def[k];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) errors.push(`"${k}" must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  };
  const pair = (k: string) => {
    const v = def[k];
    if (v === undefined) return;
    if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) {
      errors.push(`"${k}" must be two non-negative numbers [L_mean, L_max], got ${JSON.stringify(v)}`);
    }
  };
  str('dataset', true); str('imageRoot'); str('init'); str('config'); str('output'); str('heldOut');
  int('epochs', 1); int('batchSize', 1); int('gpus', 0);
  pair('amcWeights'); pair('amcMargins');
  for (const k of ['resume', 'exportAndUse', 'skipBadSamples']) {
    if (def[k] !== undefined && typeof def[k] !== 'boolean') errors.push(`"${k}" must be true or false`);
  }
  if (def.extraArgs !== undefined && (!Array.isArray(def.extraArgs) || !def.extraArgs.every((a) => typeof a === 'string'))) {
    errors.push('"extraArgs" must be a list of strings');
  }
  return errors;
}

function timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** The bundled config when the extension ships one; otherwise the trainer's own defaults apply. */
function defaultConfig(ctx: ResolveContext): string | undefined {
  const bundled = path.join(ctx.trainerRoot, DEFAULT_CONFIG);
  return (ctx.exists ?? existsSync)(bundled) ? bundled : undefined;
}

/** Absolute paths and defaults (docs/reference.md §2 weights/margins stay the trainer's own defaults unless overridden). */
export function resolveRun(def: AmcTaskDefinition, ctx: ResolveContext): ResolvedRun {
  const base = ctx.workspaceDir ?? process.cwd();
  const abs = (p: string) => path.resolve(base, p);
  const dataset = abs(def.dataset);
  const runsBase = ctx.workspaceDir ?? path.dirname(dataset);
  // init: given → that file; "" → from scratch; absent → the current model's checkpoint, when its card names one.
  const current = ctx.currentCheckpoint;
  const init = def.init ? { init: abs(def.init), initSource: 'given' as const }
    : def.init === undefined && current && 'checkpoint' in current ? { init: current.checkpoint, initSource: 'current-model' as const }
      : { initSource: 'scratch' as const, ...(def.init === undefined && current && 'none' in current ? { initNote: current.none } : {}) };
  return {
    dataset,
    imageRoot: def.imageRoot ? abs(def.imageRoot) : path.dirname(dataset),
    ...init,
    config: def.config ? abs(def.config) : defaultConfig(ctx),
    epochs: def.epochs,
    batchSize: def.batchSize,
    gpus: def.gpus ?? ctx.defaultGpus,
    output: def.output ? abs(def.output) : path.join(runsBase, '.amc', 'runs', timestamp(ctx.now ?? new Date())),
    resume: def.resume ?? false,
    amcWeights: def.amcWeights,
    amcMargins: def.amcMargins,
    exportAndUse: def.exportAndUse ?? false,
    ...(def.heldOut ? { heldOut: abs(def.heldOut) } : {}),
    skipBadSamples: def.skipBadSamples ?? false,
    extraArgs: def.extraArgs ?? [],
  };
}

export interface ProcessSpec {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

/**
 * The trainer's command line (trainer/amc_trainer/train.py): `python -m amc_trainer train`, or through
 * `python -m amc_trainer.torchrun` (torchrun with a launcher fix for Debian's torch) when gpus > 1.
 * gpus 0 pins the CPU; any GPU count asks for CUDA, so a missing GPU fails loudly instead of running slowly.
 */
export function trainerCommand(python: string, run: ResolvedRun, trainerRoot: string, baseEnv: NodeJS.ProcessEnv): ProcessSpec {
  const train = ['-m', 'amc_trainer', 'train', ...(run.config ? ['--config', run.config] : []), '--data', run.dataset,
    '--image-root', run.imageRoot, '--out', run.output];
  if (run.init) train.push('--init', run.init);
  if (run.resume) train.push('--resume');
  if (run.epochs !== undefined) train.push('--epochs', String(run.epochs));
  if (run.batchSize !== undefined) train.push('--batch_size', String(run.batchSize));
  if (run.amcWeights) train.push('--amc_weights', run.amcWeights.join(','));
  if (run.amcMargins) train.push('--amc_margins', run.amcMargins.join(','));
  if (run.skipBadSamples) train.push('--skip_bad_samples', 'true');
  train.push('--device', run.gpus > 0 ? 'cuda' : 'cpu', ...run.extraArgs);
  const args = run.gpus > 1
    ? ['-m', 'amc_trainer.torchrun', '--standalone', `--nproc_per_node=${run.gpus}`, ...train]
    : train;
  return { command: python, args, cwd: trainerRoot, env: trainerEnv(trainerRoot, baseEnv) };
}

export function exportCommand(
  python: string, checkpoint: string, outDir: string, trainerRoot: string, baseEnv: NodeJS.ProcessEnv,
): ProcessSpec {
  return {
    command: python,
    args: ['-m', 'amc_trainer', 'export', '--checkpoint', checkpoint, '--out', outDir, '--name', path.basename(outDir)],
    cwd: trainerRoot,
    env: trainerEnv(trainerRoot, baseEnv),
  };
}

function trainerEnv(trainerRoot: string, baseEnv: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(baseEnv)) if (v !== undefined) env[k] = v;
  env.PYTHONPATH = env.PYTHONPATH ? `${trainerRoot}${path.delimiter}${env.PYTHONPATH}` : trainerRoot;
  env.PYTHONUNBUFFERED = '1'; // events must arrive as they happen, not when a pipe buffer fills
  return env;
}

/** Shell-quoted command line, for the terminal and the log. */
export function displayCommand(spec: ProcessSpec): string {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return [spec.command, ...spec.args].map(q).join(' ');
}
