// "AMC: Open evaluation report…" (amc.openEvaluationReport, issue 15 item 3): loads a report written by
// `amc eval --out` or `python -m amc_trainer eval --out` into the open viewer of its dataset, so the rows get
// their results without recomputation. A report for another model or another dataset file is refused with the
// reason (notification and output channel). Tests pass the report path (a string or a Uri); resolves with what
// was loaded, or with { refused } naming the reason.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import type { LiveViewer, ViewerRegistry } from '../editor/registry';
import { ReportRefused, type ReportLoadResult } from '../editor/reportLoad';
import { outputChannel } from '../output';

export const OPEN_REPORT_COMMAND = 'amc.openEvaluationReport';

export type OpenReportResult = (ReportLoadResult & { dataset: string }) | { refused: string } | undefined;

/** Loads `file` into the viewer it belongs to; the viewers of a dataset named like the report are tried first. */
export async function loadReportIntoViewers(file: string, viewers: readonly LiveViewer[]): Promise<OpenReportResult> {
  const datasetViewers = viewers.filter((v) => v.kind === 'dataset');
  if (!datasetViewers.length) {
    return { refused: `${file}: open the dataset the report was computed on in the AMC viewer first, then load the report` };
  }
  const stem = path.basename(file).replace(/\.amc-eval\.json$/i, '');
  const named = (v: LiveViewer) => path.basename(v.file).replace(/\.[^.]+$/, '') === stem;
  const ordered = [...datasetViewers.filter(named), ...datasetViewers.filter((v) => !named(v))];
  const reasons: string[] = [];
  for (const v of ordered) {
    if (!v.session) { reasons.push(`${v.file} could not be opened: ${v.openError}`); continue; }
    try {
      return { ...(await v.session.loadReport(file)), dataset: v.file };
    } catch (err) {
      if (!(err instanceof ReportRefused)) throw err;
      reasons.push(err.message);
    }
  }
  // One viewer: its reason; several: each one's, so the user sees why none matched.
  return { refused: reasons.length === 1 ? reasons[0] : `no open viewer matches the report: ${reasons.join(' · ')}` };
}

export function registerOpenReportCommand(context: vscode.ExtensionContext, registry: ViewerRegistry): void {
  context.subscriptions.push(vscode.commands.registerCommand(OPEN_REPORT_COMMAND, async (arg?: unknown): Promise<OpenReportResult> => {
    let file: string | undefined;
    if (typeof arg === 'string' && arg.trim()) file = path.resolve(arg.trim());
    else if (arg instanceof vscode.Uri) file = arg.fsPath;
    else {
      const picked = await vscode.window.showOpenDialog({
        canSelectMany: false, openLabel: 'Load report', title: 'AMC: evaluation report (amc eval --out)', filters: { 'Evaluation report': ['json'] },
      });
      file = picked?.[0]?.fsPath;
    }
    if (!file) return undefined;
    const log = outputChannel();
    let result: OpenReportResult;
    try { result = await loadReportIntoViewers(file, registry.all()); } catch (err) { result = { refused: `${file}: ${errorMessage(err)}` }; }
    if (result && 'refused' in result) {
      log.warn(`report refused: ${result.refused}`);
      void vscode.window.showWarningMessage(`AMC: evaluation report not loaded: ${result.refused}`);
    } else if (result) {
      log.info(`report ${file}: ${result.loaded} rows (${result.scored} scored) loaded into the viewer of ${result.dataset}`);
      void vscode.window.showInformationMessage(`AMC: loaded ${result.loaded} results from ${path.basename(file)} into ${path.basename(result.dataset)}.`);
    }
    return result;
  }));
}
