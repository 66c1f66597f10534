// "AMC: Evaluate pointing game": runs the pointing game (docs/reference.md §4.1) over the dataset of the active viewer (or the
// file given / picked), with a cancellable progress notification; results fill the viewer's metric columns and
// its per-split accuracy table. Returns the summary (used by the extension-host tests).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { VIEW_TYPE_ANY_FILE } from '../editor/annotationEditor';
import { evaluateWithProgress } from '../editor/evaluationProgress';
import type { LiveViewer, ViewerRegistry } from '../editor/registry';
import { outputChannel } from '../output';
import { formatDeltaPts } from '../shared/comparison';
import { formatAccuracy, scoredSummary } from '../core/notScored';
import type { EvaluationSummary } from '../shared/protocol';
import { errorMessage } from '../core/errors';

/** How long "Evaluate" waits for the viewer it opened to resolve (the file's first page read). */
const VIEWER_OPEN_TIMEOUT_MS = 60_000;

async function viewerToEvaluate(registry: ViewerRegistry, uri?: vscode.Uri): Promise<LiveViewer | undefined> {
  const open = registry.viewerFor(uri?.fsPath);
  if (open) return open;
  let target = uri;
  if (!target) {
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false, openLabel: 'Evaluate', title: 'AMC: pick an annotation file to evaluate',
      filters: { 'Annotation files': ['json', 'p', 'txt'] },
    });
    target = picked?.[0];
    if (!target) return undefined;
  }
  // Listen first, then open: the registry fires onDidOpenViewer when the editor resolved.
  const opened = registry.waitForViewer(target.fsPath, VIEWER_OPEN_TIMEOUT_MS);
  opened.catch(() => undefined);   // a failed openWith below is the error to report
  // The generic view type matches every annotation file (*.json, *.p, *.txt); the default one only known names.
  await vscode.commands.executeCommand('vscode.openWith', target, VIEW_TYPE_ANY_FILE);
  return opened;
}

export function registerEvaluateCommand(context: vscode.ExtensionContext, registry: ViewerRegistry): void {
  context.subscriptions.push(vscode.commands.registerCommand('amc.evaluatePointingGame', async (uri?: vscode.Uri): Promise<EvaluationSummary | undefined> => {
    let viewer: LiveViewer | undefined;
    try {
      viewer = await viewerToEvaluate(registry, uri instanceof vscode.Uri ? uri : undefined);
    } catch (err) {
      void vscode.window.showErrorMessage(`AMC: ${errorMessage(err)}`);
      return undefined;
    }
    if (!viewer) return undefined;
    try {
      const summary = await evaluateWithProgress(viewer, (line) => outputChannel().info(line));
      const pct = (v: number) => formatAccuracy(v);
      const lines = summary.comparison
        // With a comparison model: previous → current (delta) per split.
        ? summary.comparison.deltas.map((d) => `${d.split} ${pct(d.comparison)} → ${pct(d.current)} (${formatDeltaPts(d.deltaPts)})`)
        : summary.bySplit.map((a) => `${a.split} ${pct(a.accuracy)} (${a.hits}/${a.total})`);
      // Beside the accuracy: how many queries it leaves out and why (an accuracy never hides its not-scored queries).
      const scored = summary.bySplit.find((a) => a.split === 'all')?.total ?? 0;
      const counted = scoredSummary(scored, scored + summary.errors, summary.notScored ?? (summary.errors ? [{ reason: 'cannot be explained', count: summary.errors }] : []));
      const text = `AMC pointing game on ${path.basename(viewer.file)}${summary.cancelled ? ' (cancelled, partial)' : ''}`
        + `${summary.comparison ? `, ${summary.comparison.role} model ${summary.comparison.model.name} → current` : ''}: ${lines.join(' · ')} (${counted})`;
      void (summary.errors ? vscode.window.showWarningMessage(text) : vscode.window.showInformationMessage(text));
      return summary;
    } catch (err) {
      void vscode.window.showErrorMessage(`AMC: pointing game failed: ${errorMessage(err)}`);
      return undefined;
    }
  }));
}
