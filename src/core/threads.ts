// The range of onnxruntime intra-op thread counts accepted from `--threads` and `amc.threads`. No onnxruntime
// import: the extension's settings code uses it without loading the runtime.
import { availableParallelism } from 'node:os';

/** Never more intra-op threads than this, however many cores: each thread is a spinning OS thread per session. */
export const THREADS_CAP = 64;

/**
 * The largest intra-op thread count accepted (`--threads`, `amc.threads`): 4 × the cores available, at most
 * {@link THREADS_CAP}. Far more threads than cores only contend (1024 threads made a run hang).
 */
export function maxThreads(cores = availableParallelism()): number {
  return Math.max(1, Math.min(THREADS_CAP, 4 * cores));
}

/** "0 (onnxruntime chooses) or 1..N": the accepted range in words, for messages. */
export function threadsRange(max = maxThreads()): string {
  return `0 (onnxruntime chooses) or 1..${max} (4 × the ${availableParallelism()} cores here, at most ${THREADS_CAP})`;
}

/** Why `threads` is not an accepted intra-op thread count, or undefined when it is. */
export function threadsProblem(threads: number, max = maxThreads()): string | undefined {
  return Number.isInteger(threads) && threads >= 0 && threads <= max ? undefined : `threads must be ${threadsRange(max)}, got ${threads}`;
}

/**
 * The setting `amc.threads` made usable: out-of-range values are clamped into 0..maxThreads() (a settings file is
 * not a command line to refuse), with a warning for the output channel naming the setting and the range.
 */
export function clampThreadsSetting(value: unknown, max = maxThreads()): { threads: number; warning?: string } {
  if (value === undefined || value === null) return { threads: 0 };
  const n = typeof value === 'number' && Number.isFinite(value) ? Math.floor(value) : NaN;
  if (Number.isNaN(n)) return { threads: 0, warning: `amc.threads is ${JSON.stringify(value)}, not a number; using 0 (onnxruntime chooses). Accepted: ${threadsRange(max)}` };
  const threads = Math.min(Math.max(n, 0), max);
  return threads === value ? { threads } : { threads, warning: `amc.threads is ${String(value)}; accepted: ${threadsRange(max)}; using ${threads}` };
}
