// Comparing two models on the same dataset (issue 6, "previous and new model side by side"): which folder the
// comparison model is, and the per-split pointing-game delta. Pure: no vscode import, no onnxruntime; used by the
// engine host, the viewer session, the webview and the unit tests (so no node:path either: callers resolve paths).
import type { SplitAccuracyPayload, SplitDelta } from './protocol';

/** Workspace state: amc.modelPath before the last fine-tune export switched it ('' = the bundled default model). */
export const PREVIOUS_MODEL_KEY = 'amc.previousModelPath';
/** Workspace state: the user's ComparisonChoice (default 'previous'). */
export const COMPARISON_CHOICE_KEY = 'amc.comparisonChoice';

/**
 * What the user asked to compare with. 'previous': the model amc.modelPath pointed to before the last fine-tune
 * export (workspace state `amc.previousModelPath`; '' = the bundled default model). 'folder': any model folder.
 */
export type ComparisonChoice = { kind: 'previous' } | { kind: 'folder'; dir: string } | { kind: 'off' };

export interface ResolvedComparison { dir: string; role: 'previous' | 'chosen'; }

/**
 * The comparison model's folder for a choice, or why there is none. The default choice is 'previous', which is
 * active only once a fine-tune export recorded a previous model (`previousModelPath` not undefined).
 * `resolve` makes a folder absolute (path.resolve on the host); the comparison is off when it is the current model.
 */
export function resolveComparison(
  choice: ComparisonChoice, previousModelPath: string | undefined, currentDir: string, defaultDir: string,
  resolve: (p: string) => string = (p) => p,
): ResolvedComparison | { none: string } {
  let resolved: ResolvedComparison;
  if (choice.kind === 'off') return { none: 'comparison is off' };
  if (choice.kind === 'previous') {
    if (previousModelPath === undefined) return { none: 'no previous model: a fine-tune export records one' };
    resolved = { dir: resolve(previousModelPath.trim() || defaultDir), role: 'previous' };
  } else {
    resolved = { dir: resolve(choice.dir), role: 'chosen' };
  }
  const same = (a: string, b: string) => a.replace(/[\\/]+$/, '') === b.replace(/[\\/]+$/, '');
  if (same(resolved.dir, resolve(currentDir))) return { none: `the comparison model ${resolved.dir} is the current model` };
  return resolved;
}

/** Parses the argument of `amc.compareModels` (tests and keybindings): a folder, 'previous', or null / 'off'. */
export function parseComparisonArg(arg: unknown): ComparisonChoice | undefined | { invalid: string } {
  if (arg === undefined) return undefined;   // no argument: ask the user
  if (arg === null || arg === 'off') return { kind: 'off' };
  if (arg === 'previous') return { kind: 'previous' };
  if (typeof arg === 'string' && arg.trim()) return { kind: 'folder', dir: arg.trim() };
  if (typeof arg === 'object' && arg !== null && typeof (arg as { fsPath?: unknown }).fsPath === 'string') {
    return { kind: 'folder', dir: (arg as { fsPath: string }).fsPath };
  }
  return { invalid: `expected a model folder path, 'previous', 'off' or null, got ${JSON.stringify(arg)}` };
}

/**
 * Per split, the current model's accuracy against the comparison model's, and the delta in percentage points
 * (current − comparison). Splits in the current model's order, then any only the comparison has; a split one
 * side has no query of gets NaN there and a NaN delta.
 */
export function splitDeltas(current: readonly SplitAccuracyPayload[], comparison: readonly SplitAccuracyPayload[]): SplitDelta[] {
  const byName = new Map(comparison.map((a) => [a.split, a]));
  const names = [...current.map((a) => a.split), ...comparison.map((a) => a.split).filter((s) => !current.some((c) => c.split === s))];
  const curByName = new Map(current.map((a) => [a.split, a]));
  return names.map((split) => {
    const c = curByName.get(split), p = byName.get(split);
    const cur = c && c.total > 0 ? c.accuracy : NaN;
    const prev = p && p.total > 0 ? p.accuracy : NaN;
    return {
      split,
      current: cur, currentHits: c?.hits ?? 0, currentTotal: c?.total ?? 0,
      comparison: prev, comparisonHits: p?.hits ?? 0, comparisonTotal: p?.total ?? 0,
      deltaPts: (cur - prev) * 100,
    };
  });
}

/** "+3.2 pts", "−1.0 pts", "±0.0 pts", or "–" when undefined. */
export function formatDeltaPts(pts: number, digits = 1): string {
  if (!Number.isFinite(pts)) return '–';
  const r = Number(pts.toFixed(digits));
  if (r === 0) return `±${(0).toFixed(digits)} pts`;
  return `${r > 0 ? '+' : '−'}${Math.abs(r).toFixed(digits)} pts`;
}
