// "AMC: Evaluate pointing game" in a viewer: the pointing game over its dataset (docs/reference.md §4.1) in a
// cancellable progress notification with an ETA and the running accuracy; the result goes to the output channel.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatDeltaPts } from '../shared/comparison';
import type { EvaluationSummary } from '../shared/protocol';
import type { LiveViewer } from './registry';

export async function evaluateWithProgress(viewer: LiveViewer, log: (line: string) => void): Promise<EvaluationSummary> {
  const session = viewer.session;
  if (!session) throw new Error(`${viewer.file} could not be opened: ${viewer.openError}`);
  const name = path.basename(viewer.file);
  const title = `AMC: pointing game on ${name}`;
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      const t0 = Date.now();
      let reported = 0;
      const result = await session.evaluate((s) => {
        const fraction = s.total ? s.done / s.total : 1;
        progress.report({ increment: fraction * 100 - reported, message: progressMessage(s, (Date.now() - t0) / 1000) });
        reported = fraction * 100;
      }, abort.signal);
      const seconds = ((Date.now() - t0) / 1000).toFixed(1);
      const splits = result.bySplit.map((a) => `${a.split} ${(a.accuracy * 100).toFixed(2)}% (${a.hits}/${a.total})`).join(', ');
      log(`viewer: pointing game on ${viewer.file}: ${splits}${result.cancelled ? ' (cancelled)' : ''} in ${seconds} s`);
      if (result.comparison) {
        const { role, model, deltas } = result.comparison;
        log(`viewer: compared with ${role} model ${model.name} (${model.dir}): `
          + deltas.map((d) => `${d.split} ${(d.comparison * 100).toFixed(2)}% → ${(d.current * 100).toFixed(2)}% (${formatDeltaPts(d.deltaPts, 2)})`).join(', '));
      }
      return result;
    });
}

/** "120/400 · ETA 2 min 3 s · accuracy 61.0% (+2.5 pts vs previous)". */
function progressMessage(s: EvaluationSummary, elapsedSeconds: number): string {
  const eta = s.done > 0 ? (elapsedSeconds / s.done) * (s.total - s.done) : NaN;
  const all = s.bySplit.find((a) => a.split === 'all');
  const delta = s.comparison?.deltas.find((d) => d.split === 'all');
  const versus = s.comparison?.role === 'previous' ? 'previous' : 'comparison';
  return `${s.done}/${s.total}${Number.isFinite(eta) ? ` · ETA ${formatDuration(eta)}` : ''}`
    + `${all && all.total ? ` · accuracy ${(all.accuracy * 100).toFixed(1)}%` : ''}`
    + `${delta ? ` (${formatDeltaPts(delta.deltaPts)} vs ${versus})` : ''}`;
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const m = Math.floor(seconds / 60), s = Math.round(seconds % 60);
  if (m < 60) return `${m} min ${s} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
