// Live viewer sessions (custom editors and Explain-phrase panels), for the `amc.viewerState` command: what each
// webview last drew and how long after opening, so the extension-host tests (and a user debugging a slow model)
// can read it without scraping the webview. No vscode import.
import type { ComparisonInfo, EvaluationSummary, ModelInfo, ShownReport } from '../shared/protocol';
import type { ViewerSession } from './viewerSession';

export interface LiveViewer {
  kind: 'dataset' | 'single'; file: string; session: ViewerSession;
  /** The webview's localResourceRoots now (file paths), for the tests of what the webview may read. */
  localResourceRoots?(): string[];
}

export const liveViewers = new Set<LiveViewer>();

export interface ViewerState {
  kind: 'dataset' | 'single';
  file: string;
  format: string;
  count: number;
  computedCount: number;
  firstShownMs?: number;
  lastShown?: ShownReport;
  evaluation?: EvaluationSummary;
  /** The current model as last reported to the webview. */
  model?: ModelInfo | { error: string };
  /** The comparison model as last reported to the webview (null: none; absent: not looked up yet). */
  comparison?: ComparisonInfo | null;
  /** The webview's localResourceRoots (file paths), where the viewer reports them. */
  localResourceRoots?: string[];
  /** The evaluation report loaded into the viewer: its file and how many of its rows filled the list. */
  report?: { file: string; rows: number; scored: number };
  /** Rows whose results came from a report. */
  fromReportCount: number;
  /** The Insights filter on the list: what it is and the sample indices it holds. */
  insightFilter?: { label: string; indices: number[] };
}

export function viewerStates(): ViewerState[] {
  return [...liveViewers].map(({ kind, file, session, localResourceRoots }) => ({
    kind, file, format: session.dataset.format, count: session.dataset.count(), computedCount: session.metrics.computedCount,
    firstShownMs: session.firstShownMs, lastShown: session.lastShown, evaluation: session.lastEvaluation,
    model: session.lastModel, comparison: session.lastComparison, localResourceRoots: localResourceRoots?.(),
    report: session.loadedReport && { file: session.loadedReport.file, rows: session.loadedReport.rows, scored: session.loadedReport.scored },
    fromReportCount: countFromReport(session), insightFilter: session.lastInsightFilter,
  }));
}

function countFromReport(session: ViewerSession): number {
  let n = 0;
  for (const i of session.metrics.settledIndices()) if (session.metrics.isFromReport(i)) n++;
  return n;
}
