// Shared setup of the CLI tests: the `amc` bundle built like the shipped one (once per mocha process), the CLI run
// as a child process (to its exit, or interrupted when its output says so), the folders they share and a temp
// folder per describe block.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as esbuild from 'esbuild';
import sharp from 'sharp';

export const ROOT = path.join(__dirname, '..', '..', '..');
export const TINY_MODEL = path.join(ROOT, 'test', 'fixtures', 'model', 'tiny');
export const BUNDLED_MODEL = path.join(ROOT, 'models', 'amc-small-synthetic');
export const SYNTH = path.join(ROOT, 'samples', 'synthetic');
export const TRAINER = path.join(ROOT, 'trainer');
/** The interpreter with torch (the `python3` first on PATH may have none). */
export const TORCH_PYTHON = process.env.AMC_PYTHON || '/usr/bin/python3';

const WORK = path.join(ROOT, 'test', '.work', 'cli-bundle');
/** The bundled CLI (out/cli.js as shipped), with its inference worker beside it. */
export const CLI = path.join(WORK, 'amc.js');

let built: Promise<void> | undefined;
/** As scripts/build.mjs: the CLI and the inference worker side by side; built once however many files ask. */
export function buildCli(): Promise<void> {
  built ??= (async () => {
    mkdirSync(WORK, { recursive: true });
    const common = {
      bundle: true, platform: 'node' as const, target: 'node20', format: 'cjs' as const,
      external: ['vscode', 'onnxruntime-node', 'sharp'], logLevel: 'silent' as const,
    };
    await Promise.all([
      esbuild.build({ ...common, entryPoints: [path.join(ROOT, 'src', 'cli', 'main.ts')], outfile: CLI, banner: { js: '#!/usr/bin/env node' } }),
      esbuild.build({ ...common, entryPoints: [path.join(ROOT, 'src', 'model', 'worker.ts')], outfile: path.join(WORK, 'worker.js') }),
    ]);
  })();
  return built;
}

export interface CliResult { code: number | null; stdout: string; stderr: string; seconds: number; }
export interface CliOptions { timeout?: number; env?: NodeJS.ProcessEnv; }

/** `amc ARGS` to its exit. A run past `timeout` is killed outright, so it shows as code null (a hang), not as an exit. */
export function amc(args: string[], { timeout = 120_000, env = process.env }: CliOptions = {}): CliResult {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout, env, killSignal: 'SIGKILL' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - t0) / 1000 };
}

/**
 * `amc ARGS` as a running child: resolves once its output is read, with the wall time from spawn to its exit (not to
 * the last output line). With `interrupt`,
 * sends `signal` once, as soon as stderr matches `when` (a Ctrl-C or a kill in the middle of the work).
 */
export function amcChild(args: string[], { env = process.env, interrupt }: {
  env?: NodeJS.ProcessEnv; interrupt?: { when: RegExp; signal: NodeJS.Signals };
} = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '', stderr = '', sent = false;
    child.stdout.on('data', (d) => { stdout += String(d); });
    child.stderr.on('data', (d) => {
      stderr += String(d);
      if (interrupt && !sent && interrupt.when.test(stderr)) { sent = true; child.kill(interrupt.signal); }
    });
    let exitedAt = 0;
    child.on('exit', () => { exitedAt = performance.now(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, seconds: ((exitedAt || performance.now()) - t0) / 1000 }));
  });
}

/**
 * The start of a CLI describe block (call it first): the bundle built and a fresh temp folder made before its tests,
 * the folder removed after. Returns the folder (read it inside hooks and tests).
 */
export function cliSuite(tmpPrefix: string): () => string {
  let dir: string | undefined;
  before(() => buildCli());
  before(() => { dir = mkdtempSync(path.join(os.tmpdir(), tmpPrefix)); });
  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });
  return () => {
    if (!dir) throw new Error('the temp folder is made in a before hook; read it inside hooks and tests');
    return dir;
  };
}

/** A PNG drawn from an SVG string (a scene with known shapes). */
export async function svgPng(file: string, svg: string): Promise<string> {
  await sharp(Buffer.from(svg)).png().toFile(file);
  return file;
}

/**
 * One of our small checkpoints, as trainer/tests make them: the trainer's tiny test model trained 2 steps on a
 * squares dataset in `dir` (trainer/tests/small_checkpoint.py). Returns `dir`/run/last.pth.
 */
export function trainSmallCheckpoint(dir: string): string {
  const r = spawnSync(TORCH_PYTHON, [path.join(TRAINER, 'tests', 'small_checkpoint.py'), dir], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`small_checkpoint.py failed (${r.status ?? r.signal}): ${r.stderr}`);
  return path.join(dir, 'run', 'last.pth');
}
