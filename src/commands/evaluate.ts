// "AMC: Evaluate pointing game": runs the pointing game (docs/reference.md §4.1) over the dataset of the active viewer (or the
// file given / picked), with a cancellable progress notification; results fill the viewer's metric columns and
// its per-split accuracy table. Returns the summary (used by the extension-host tests).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { annotationViewer, VIEW_TYPE_ANY_FILE, type OpenViewer } from '../editor/annotationEditor';
import { formatDeltaPts } from '../shared/comparison';
import { formatAccuracy, scoredSummary } from '../core/notScored';
import type { EvaluationSummary } from '../shared/protocol';
import { errorMessage } from '../core/errors';

async function viewerToEvaluate(uri?: vscode.Uri): Promise<OpenViewer | undefined> {
  const provider = annotationViewer();
  if (!provider) throw new Error('the annotation viewer is not registered');
  const open = provider.viewerFor(uri);
  if (open && (!uri || open.document.uri.toString() === uri.toString())) return open;
  let target = uri;
  if (!target) {
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false, openLabel: 'Evaluate', title: 'AMC: pick an annotation file to evaluate',
      filters: { 'Annotation files': ['json', 'p', 'txt'] },
    });
    target = picked?.[0];
    if (!target) return undefined;
  }
  // The generic view type matches every annotation file (*.json, *.p, *.txt); the default one only known names.
  await vscode.commands.executeCommand('vscode.openWith', target, VIEW_TYPE_ANY_FILE);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const v = provider.viewerFor(target);
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the viewer for ${target.fsPath} did not open`);
}

export function registerEvaluateCommand(context: vscode.ExtensionContext): void {
  context.subscriptions.push(vscode.commands.registerCommand('amc.evaluatePointingGame', async (uri?: vscode.Uri): Promise<EvaluationSummary | undefined> => {
    let viewer: OpenViewer | undefined;
    try {
      viewer = await viewerToEvaluate(uri instanceof vscode.Uri ? uri : undefined);
    } catch (err) {
      void vscode.window.showErrorMessage(`AMC: ${errorMessage(err)}`);
      return undefined;
    }
    if (!viewer) return undefined;
    const provider = annotationViewer()!;
    try {
      const summary = await provider.evaluate(viewer);
      const pct = (v: number) => formatAccuracy(v);
      const lines = summary.comparison
        // With a comparison model: previous → current (delta) per split.
        ? summary.comparison.deltas.map((d) => `${d.split} ${pct(d.comparison)} → ${pct(d.current)} (${formatDeltaPts(d.deltaPts)})`)
        : summary.bySplit.map((a) => `${a.split} ${pct(a.accuracy)} (${a.hits}/${a.total})`);
      // Beside the accuracy: how many queries it leaves out and why (an accuracy never hides its not-scored queries).
      const scored = summary.bySplit.find((a) => a.split === 'all')?.total ?? 0;
      const counted = scoredSummary(scored, scored + summary.errors, summary.notScored ?? (summary.errors ? [{ reason: 'cannot be explained', count: summary.errors }] : []));
      const text = `AMC pointing game on ${path.basename(viewer.document.uri.fsPath)}${summary.cancelled ? ' (cancelled, partial)' : ''}`
        + `${summary.comparison ? `, ${summary.comparison.role} model ${summary.comparison.model.name} → current` : ''}: ${lines.join(' · ')} (${counted})`;
      void (summary.errors ? vscode.window.showWarningMessage(text) : vscode.window.showInformationMessage(text));
      return summary;
    } catch (err) {
      void vscode.window.showErrorMessage(`AMC: pointing game failed: ${errorMessage(err)}`);
      return undefined;
    }
  }));
}
