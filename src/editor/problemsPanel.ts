// What the viewer puts in the Problems panel for one dataset: exactly `amc lint`'s findings (the same lintDataset
// routine) for the whole file, positioned (line/column from byte offsets), capped per file with a final
// "… and N more (run amc lint)" entry. Pure (no vscode): src/editor/diagnostics.ts turns entries into Diagnostics.
import type { Dataset } from '../core/datasets/dataset';
import { lintDataset, type LintOptions, type LintReport } from '../core/lint';
import type { Problem } from '../core/types';
import { offsetsToPositions } from './positions';

/** Entries shown per file at most; the rest are counted in one last entry (a Problems panel of 5 M rows helps nobody). */
export const MAX_PANEL_ENTRIES_PER_FILE = 1000;

export interface PanelEntry {
  /** 0-based position of the entry in its file. */
  line: number;
  column: number;
  /** Whole line for line-oriented formats, else one character. */
  endColumn: number;
  severity: 'error' | 'warning' | 'info';
  message: string;
  /** The problem code; 'more' for the cap's summary entry. */
  code: string;
}

export interface PanelFile {
  file: string;
  entries: PanelEntry[];
  /** Problems of this file beyond the cap, counted in the last entry. */
  omitted: { errors: number; warnings: number };
}

export interface PanelResult {
  files: PanelFile[];
  report: LintReport;
}

/** Without a first explanation on screen, the lint starts this long after the file opened (once it is indexed). */
export const LINT_START_FALLBACK_MS = 5000;

/**
 * When the viewer's whole-file lint may start: after the reader's indexing ended (`complete`, resolved or rejected)
 * AND after the first explanation was shown (`firstShown`) or `fallbackMs` passed since this call. On the 695 MB VG
 * file the lint started at open competed with the indexing and the first GradCAM for the 2 cores (bench/open-gradcam).
 */
export async function lintStartGate(complete: Promise<unknown>, firstShown: Promise<unknown>,
  fallbackMs: number = LINT_START_FALLBACK_MS): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const fallback = new Promise<void>((resolve) => { timer = setTimeout(resolve, fallbackMs); });
  try {
    await Promise.all([complete.catch(() => undefined), Promise.race([firstShown.catch(() => undefined), fallback])]);
  } finally { clearTimeout(timer); }
}

/**
 * Lints the whole dataset (in the background: lintDataset yields between pages; `signal` cancels it) and lays the
 * problems out per file for the Problems panel, `cap` entries per file plus one "… and N more" entry. `startAfter`:
 * no page is read before it settles (the viewer passes lintStartGate).
 */
export async function computeProblemsPanel(ds: Dataset,
  options: LintOptions & { cap?: number; startAfter?: Promise<unknown> } = {}): Promise<PanelResult> {
  const cap = options.cap ?? MAX_PANEL_ENTRIES_PER_FILE;
  if (options.startAfter) await options.startAfter.catch(() => undefined);
  if (options.signal?.aborted) throw new Error('cancelled');
  const report = await lintDataset(ds, options);
  const byFile = new Map<string, Problem[]>();
  for (const p of report.problems) {
    const list = byFile.get(p.location.file);
    if (list) list.push(p); else byFile.set(p.location.file, [p]);
  }
  const files: PanelFile[] = [];
  for (const [file, all] of byFile) {
    // Errors first, so the cap never hides an error behind warnings.
    const ordered = [...all.filter((p) => p.severity === 'error'), ...all.filter((p) => p.severity !== 'error')];
    const shown = ordered.slice(0, cap);
    const rest = ordered.slice(cap);
    const offsets = shown
      .filter((p) => p.location.line === undefined && p.location.byteOffset !== undefined)
      .map((p) => p.location.byteOffset!);
    let positions = new Map<number, { line: number; column: number }>();
    if (offsets.length) { try { positions = await offsetsToPositions(file, offsets); } catch { /* file gone or not text: line 0 */ } }
    if (options.signal?.aborted) throw new Error('cancelled');
    const entries: PanelEntry[] = shown.map((p) => {
      const pos = p.location.line !== undefined ? { line: p.location.line - 1, column: 0 }
        : p.location.byteOffset !== undefined ? positions.get(p.location.byteOffset) ?? { line: 0, column: 0 } : { line: 0, column: 0 };
      return {
        line: pos.line, column: pos.column, endColumn: p.location.line !== undefined ? 10_000 : pos.column + 1,
        severity: p.severity, code: p.code,
        message: p.location.entry ? `${p.location.entry}: ${p.message}` : p.message,
      };
    });
    const omitted = { errors: rest.filter((p) => p.severity === 'error').length, warnings: rest.filter((p) => p.severity !== 'error').length };
    if (rest.length) {
      entries.push({
        line: 0, column: 0, endColumn: 1, severity: 'info', code: 'more',
        message: `… and ${rest.length.toLocaleString('en-US')} more (${omitted.errors.toLocaleString('en-US')} error(s), `
          + `${omitted.warnings.toLocaleString('en-US')} warning(s)): run amc lint ${JSON.stringify(ds.file)} for the full list`,
      });
    }
    files.push({ file, entries, omitted });
  }
  return { files, report };
}

/** Errors and warnings a panel stands for (shown entries + the counts in each "… and N more" entry), per problem code. */
export function panelCounts(result: PanelResult): { errors: number; warnings: number } {
  let errors = 0, warnings = 0;
  for (const f of result.files) {
    for (const e of f.entries) { if (e.severity === 'error') errors++; else if (e.severity === 'warning') warnings++; }
    errors += f.omitted.errors;
    warnings += f.omitted.warnings;
  }
  return { errors, warnings };
}
