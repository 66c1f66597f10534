// Turning a PyTorch checkpoint (ALBEF.pth, AMC best_*.pth in either key set, our own) into a model folder: runs
// the trainer's exporter (`python -m amc_trainer export`, which reads the architecture off the tensor shapes and
// refuses what matches none), relays its JSON-lines progress, checks the written graphs against the PyTorch
// fixture the exporter wrote (the bound of trainer/tests/test_export.py), and only then moves the folder into
// place. Shared by `amc import` and "AMC: Use a PyTorch checkpoint…"; no vscode import.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkRegularFile, BoundedReadError } from '../core/boundedRead';
import { exportCommand } from '../tasks/definition';
import { LineSplitter } from '../tasks/events';
import { AbortError, ModelRuntime } from './runtime';

/** The exporter's tests compare ONNX with PyTorch at this relative error (trainer/tests/test_export.py TOL). */
export const PARITY_TOLERANCE = 1e-4;

export type ImportEvent =
  | { event: 'progress'; stage: string; fraction: number }
  | { event: 'architecture'; layout: string; source: string; config: Record<string, unknown> }
  | { event: 'keys'; missing: string[]; unexpected: string[] }
  | { event: 'error'; message: string }
  | { event: 'done'; out: string; itm_trained: boolean };

export interface ImportOptions {
  python: string;
  /** The folder holding the amc_trainer package. */
  trainerRoot: string;
  checkpoint: string;
  /** Model folder to write; default next to the checkpoint (defaultImportDir). Must not exist or be empty. */
  outDir?: string;
  imageRes?: 256 | 384;
  /** small | base | a JSON ModelConfig / trainer config file. */
  config?: string;
  signal?: AbortSignal;
  onEvent?: (e: ImportEvent) => void;
  /** Every stderr line of the exporter (torch's tracer warnings included), for a log. */
  onLog?: (line: string) => void;
}

export interface ImportResult {
  outDir: string;
  layout: string;
  architectureSource: string;
  config: Record<string, unknown>;
  missing: string[];
  unexpected: string[];
  itmTrained: boolean;
  /** Largest relative error of any fixture output, ONNX vs PyTorch. */
  parityError: number;
  seconds: number;
}

/** A refusal the user can act on (bad checkpoint, architecture, folder); the message names the file. */
export class ImportError extends Error {
  override name = 'ImportError';
}

/** `<dir>/<checkpoint name without extension>-onnx`. */
export function defaultImportDir(checkpoint: string): string {
  const abs = path.resolve(checkpoint);
  return path.join(path.dirname(abs), `${path.parse(abs).name}-onnx`);
}

const STAGE_WORDS: Record<string, string> = {
  load: 'reading the checkpoint', image_encoder: 'exporting the image encoder', grounding: 'exporting the grounding graph',
  fixture: 'writing the PyTorch fixture', verify: 'checking the graphs against PyTorch',
};

/** "exporting the grounding graph" for a stage name; unknown stages as they are. */
export function stageWords(stage: string): string {
  return STAGE_WORDS[stage] ?? stage;
}

function parseEvent(line: string): ImportEvent | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(text) as { event?: unknown };
    return v && typeof v.event === 'string' ? (v as ImportEvent) : undefined;
  } catch {
    return undefined;
  }
}

function isEmptyDir(dir: string): boolean {
  return statSync(dir).isDirectory() && readdirSync(dir).length === 0;
}

export async function importCheckpoint(opts: ImportOptions): Promise<ImportResult> {
  const t0 = performance.now();
  const checkpoint = path.resolve(opts.checkpoint);
  try {
    await checkRegularFile(checkpoint, { what: 'checkpoint', maxBytes: Number.MAX_SAFE_INTEGER });
  } catch (e) {
    if (e instanceof BoundedReadError) throw new ImportError(e.message);
    throw e;
  }
  const outDir = path.resolve(opts.outDir ?? defaultImportDir(checkpoint));
  if (existsSync(outDir) && !isEmptyDir(outDir)) {
    throw new ImportError(`${outDir}: already exists and is not empty; choose another folder (--out) or remove it`);
  }
  // The exporter writes into a staging folder beside the target; a cancelled or failed import leaves nothing.
  const staging = mkdtempSync(path.join(path.dirname(outDir), `.${path.basename(outDir)}.partial-`));
  const emit = opts.onEvent ?? (() => undefined);
  let architecture: Extract<ImportEvent, { event: 'architecture' }> | undefined;
  let keys: Extract<ImportEvent, { event: 'keys' }> | undefined;
  let done: Extract<ImportEvent, { event: 'done' }> | undefined;
  let errorMessage: string | undefined;
  const stderrTail: string[] = [];
  let lastStderrLine = ''; // a Python traceback's last line says what went wrong
  try {
    const spec = exportCommand(opts.python, checkpoint, staging, opts.trainerRoot, process.env);
    spec.args.push('--name', path.basename(outDir));
    if (opts.config) spec.args.push('--config', /^(small|base)$/.test(opts.config) ? opts.config : path.resolve(opts.config));
    if (opts.imageRes) spec.args.push('--image-res', String(opts.imageRes));
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
      const out = new LineSplitter(), err = new LineSplitter();
      const onLine = (line: string): void => {
        const ev = parseEvent(line);
        if (!ev) return;
        if (ev.event === 'architecture') architecture = ev;
        else if (ev.event === 'keys') keys = ev;
        else if (ev.event === 'done') done = ev;
        else if (ev.event === 'error') errorMessage = ev.message;
        emit(ev);
      };
      const onErr = (line: string): void => {
        opts.onLog?.(line);
        if (line.startsWith('export: ')) stderrTail.push(line.slice('export: '.length));
        if (line.trim()) lastStderrLine = line.trim();
      };
      child.stdout.setEncoding('utf8');
      child.stderr.setEncoding('utf8');
      child.stdout.on('data', (c: string) => out.push(c).forEach(onLine));
      child.stderr.on('data', (c: string) => err.push(c).forEach(onErr));
      const abort = (): void => { child.kill('SIGKILL'); };
      opts.signal?.addEventListener('abort', abort, { once: true });
      child.once('error', (e) => {
        opts.signal?.removeEventListener('abort', abort);
        reject(new ImportError(`cannot start ${opts.python}: ${e.message}`));
      });
      child.once('close', (c) => {
        opts.signal?.removeEventListener('abort', abort);
        out.flush().forEach(onLine);
        err.flush().forEach(onErr);
        resolve(c);
      });
    });
    if (opts.signal?.aborted) throw new AbortError();
    if (code !== 0 || !done) {
      const why = errorMessage ?? (stderrTail.length ? stderrTail.join('; ')
        : `the exporter exited with code ${code}${lastStderrLine ? ` (${lastStderrLine})` : ''}`);
      throw new ImportError(why.includes(checkpoint) ? why : `${checkpoint}: ${why}`);
    }
    emit({ event: 'progress', stage: 'verify', fraction: 0.95 });
    const parityError = await verifyAgainstFixture(staging, opts.signal);
    if (existsSync(outDir)) rmdirSync(outDir); // empty (checked above)
    renameSync(staging, outDir);
    return {
      outDir, layout: architecture?.layout ?? '', architectureSource: architecture?.source ?? '', config: architecture?.config ?? {},
      missing: keys?.missing ?? [], unexpected: keys?.unexpected ?? [], itmTrained: done.itm_trained === true, parityError,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    if (existsSync(staging)) rmSync(staging, { recursive: true, force: true });
  }
}

interface Fixture {
  images_png_base64: string[]; phrases: string[]; input_ids: number[][]; attention_mask: number[][];
  itm_logits: number[][]; gradcam: number[][][]; token_gradcam: number[][][][];
}

/** max |actual − expected| / max |expected| (trainer/tests/onnx_helpers.py rel_err); `scale` overrides the divisor. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, scale = 0): number {
  let worst = 0;
  if (!scale) for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  return worst / (scale > 0 ? scale : 1);
}

/**
 * Runs the exported graphs (the engine's own code path) on fixture.json's images and phrases and compares the ITM
 * logits, GradCAM and per-token maps with the PyTorch numbers stored there. Returns the largest relative error;
 * throws ImportError naming the output that exceeds PARITY_TOLERANCE.
 */
export async function verifyAgainstFixture(modelDir: string, signal?: AbortSignal): Promise<number> {
  const fixtureFile = path.join(modelDir, 'fixture.json');
  const fx = JSON.parse(readFileSync(fixtureFile, 'utf8')) as Fixture;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'amc-import-fixture-'));
  const rt = await ModelRuntime.open(modelDir, { provider: 'cpu' });
  let worst = 0;
  const logitScale = Math.max(...fx.itm_logits.flat().map(Math.abs)); // rel_err over the whole itm_logits array
  try {
    for (let i = 0; i < fx.phrases.length; i++) {
      if (signal?.aborted) throw new AbortError();
      const image = path.join(tmp, `fixture-${i}.png`);
      writeFileSync(image, Buffer.from(fx.images_png_base64[i], 'base64'));
      const r = await rt.explain(image, fx.phrases[i], signal);
      const n = fx.attention_mask[i].reduce((a, b) => a + b, 0);
      const T = fx.input_ids[i].length;
      // The fixture ran the phrases as one padded batch: its map is divided by T, the engine's by this phrase's n.
      const checks: [string, ArrayLike<number>, ArrayLike<number>, number][] = [
        ['ITM logits', [r.score], [fx.itm_logits[i][1]], logitScale],
        ['GradCAM', r.gradcam, fx.gradcam[i].flat().map((v) => v * (T / n)), 0],
      ];
      for (let t = 0; t < n; t++) checks.push([`token ${t} GradCAM`, r.tokenGradcam[t], fx.token_gradcam[i][t].flat(), 0]);
      for (const [what, actual, expected, scale] of checks) {
        const err = relativeError(actual, expected, scale);
        worst = Math.max(worst, err);
        if (!(err <= PARITY_TOLERANCE)) {
          throw new ImportError(`${fixtureFile}: the exported graphs disagree with PyTorch on "${fx.phrases[i]}" (${what}: relative error ` +
            `${err.toExponential(2)} > ${PARITY_TOLERANCE})`);
        }
      }
    }
  } finally {
    await rt.dispose();
    rmSync(tmp, { recursive: true, force: true });
  }
  return worst;
}
