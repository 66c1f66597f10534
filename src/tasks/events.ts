// The trainer's JSON-lines progress protocol (trainer/amc_trainer/train.py docstring) and what the task
// shows for it. No vscode import: unit-tested in test/unit/tasks.
import * as path from 'node:path';

export interface StepEvent {
  event: 'step'; epoch: number; step: number; loss: number | null; itc?: number | null; itm?: number | null;
  mlm?: number | null; amc_mean?: number | null; amc_max?: number | null; lr?: number; samples_per_s?: number; eta_s?: number;
}
export interface EpochEvent { event: 'epoch'; epoch: number; steps: number; loss: number | null; wall_s: number }
export interface EvalEvent {
  event: 'eval'; epoch: number; accuracy?: number;
  splits?: Record<string, { n: number; hits: number; accuracy: number }>;
}
export interface CheckpointEvent { event: 'checkpoint'; path: string; epoch: number; step: number; reason: string }
export interface DoneEvent {
  event: 'done'; status: 'finished' | 'interrupted'; step: number; epochs: number; wall_s: number; checkpoint: string | null;
  signal?: string;
}
export interface ErrorEvent { event: 'error'; message: string; step?: number; epoch?: number; checkpoint?: string | null }
export type TrainerEvent = StepEvent | EpochEvent | EvalEvent | CheckpointEvent | DoneEvent | ErrorEvent;

const KNOWN = new Set(['step', 'epoch', 'eval', 'checkpoint', 'done', 'error']);

/** A stdout line → an event, or undefined for anything that is not one (the trainer's stdout is only events). */
export function parseEventLine(line: string): TrainerEvent | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  let value: unknown;
  try { value = JSON.parse(text); } catch { return undefined; }
  if (!value || typeof value !== 'object') return undefined;
  const ev = (value as { event?: unknown }).event;
  return typeof ev === 'string' && KNOWN.has(ev) ? (value as TrainerEvent) : undefined;
}

/** Splits a byte stream into lines (a chunk may end mid-line). */
export class LineSplitter {
  private rest = '';
  push(chunk: string): string[] {
    const text = this.rest + chunk;
    const lines = text.split(/\r?\n/);
    this.rest = lines.pop() ?? '';
    return lines;
  }
  flush(): string[] {
    const r = this.rest;
    this.rest = '';
    return r ? [r] : [];
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const num = (v: number | null | undefined, digits = 4) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

/** Running state of one run, folded from its events: what the notification and status bar show. */
export class RunProgress {
  epoch = 0;
  step = 0;
  loss: number | null = null;
  amcMean: number | null = null;
  amcMax: number | null = null;
  etaSeconds: number | undefined;
  lastCheckpoint: string | undefined;
  lastEval: EvalEvent | undefined;
  done: DoneEvent | undefined;
  errors: ErrorEvent[] = [];
  readonly seen = new Map<TrainerEvent['event'], number>();
  private readonly startedAt: number;

  constructor(readonly totalEpochs: number | undefined, now = Date.now()) {
    this.startedAt = now;
  }

  apply(e: TrainerEvent): void {
    this.seen.set(e.event, (this.seen.get(e.event) ?? 0) + 1);
    switch (e.event) {
      case 'step':
        this.epoch = e.epoch; this.step = e.step; this.loss = e.loss;
        this.amcMean = e.amc_mean ?? null; this.amcMax = e.amc_max ?? null; this.etaSeconds = e.eta_s;
        break;
      case 'epoch': this.epoch = e.epoch; this.loss = e.loss; break;
      case 'eval': this.lastEval = e; break;
      case 'checkpoint': this.lastCheckpoint = e.path; break;
      case 'done': this.done = e; if (e.checkpoint) this.lastCheckpoint = e.checkpoint; this.etaSeconds = 0; break;
      case 'error': this.errors.push(e); break;
    }
  }

  /** Fraction done in [0, 1], from elapsed time and the trainer's ETA (its steps-per-epoch is not announced). */
  fraction(now = Date.now()): number | undefined {
    if (this.done) return 1;
    if (this.etaSeconds === undefined) return undefined;
    const elapsed = (now - this.startedAt) / 1000;
    return elapsed + this.etaSeconds > 0 ? Math.min(1, elapsed / (elapsed + this.etaSeconds)) : undefined;
  }

  /** One line: "epoch 1/3 · step 40 · loss 1.2345 (L_mean 0.1000, L_max 0.3000) · ETA 2m 10s". */
  summary(): string {
    const parts = [`epoch ${this.epoch + 1}${this.totalEpochs ? `/${this.totalEpochs}` : ''}`, `step ${this.step}`];
    if (this.loss !== null) {
      const amc = this.amcMean !== null || this.amcMax !== null ? ` (L_mean ${num(this.amcMean)}, L_max ${num(this.amcMax)})` : '';
      parts.push(`loss ${num(this.loss)}${amc}`);
    }
    if (this.etaSeconds !== undefined && !this.done) parts.push(`ETA ${formatDuration(this.etaSeconds)}`);
    return parts.join(' · ');
  }
}

/** How an event reads in the task's terminal. */
export function describeEvent(e: TrainerEvent, progress: RunProgress): string {
  switch (e.event) {
    case 'step': return `step ${e.step}: ${progress.summary()}`;
    case 'epoch': return `epoch ${e.epoch + 1} finished: ${e.steps} steps, mean loss ${num(e.loss)}, ${formatDuration(e.wall_s)}`;
    case 'eval': {
      const splits = Object.entries(e.splits ?? {}).map(([s, v]) => `${s} ${(v.accuracy * 100).toFixed(2)}% (${v.hits}/${v.n})`);
      return `pointing game after epoch ${e.epoch + 1}: ${splits.join(', ') || 'no splits'}`;
    }
    case 'checkpoint': return `checkpoint (${e.reason}) at step ${e.step}: ${e.path}`;
    case 'done': return e.status === 'finished'
      ? `finished: ${e.step} steps in ${formatDuration(e.wall_s)}; checkpoint ${e.checkpoint ?? 'none'}`
      : `stopped${e.signal ? ` by ${e.signal}` : ''} at step ${e.step}; checkpoint ${e.checkpoint ?? 'none'}`;
    case 'error': return `error: ${e.message}`;
  }
}

/**
 * Which file an error is about, for the Problems panel: a message the trainer starts with "<path>: " names
 * it (config and reader errors do); "config: ..." is the config file; anything else is about the run on the
 * dataset. Relative paths in messages are relative to the trainer's working directory.
 */
export function errorFile(message: string, run: { dataset: string; config?: string }, cwd: string, exists: (p: string) => boolean): string {
  const m = /^(.+?): /.exec(message);
  if (m) {
    const candidate = path.resolve(cwd, m[1]);
    if (m[1] !== 'config' && exists(candidate)) return candidate;
    if ((m[1] === 'config' || m[1] === 'command line') && run.config) return run.config;
  }
  return run.dataset;
}

/** The line the `$amc-trainer` problem matcher (package.json) reads: `amc-trainer: error: FILE:LINE: message`. */
export function problemLine(severity: 'error' | 'warning', file: string, message: string, line = 1): string {
  return `amc-trainer: ${severity}: ${file}:${line}: ${message.replace(/\s*\n\s*/g, ' ')}`;
}
