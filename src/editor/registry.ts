// The open viewers of the extension (custom editors and Explain-phrase panels): one ViewerRegistry, created by
// src/extension.ts and handed to the editor provider, the commands and the fine-tune task provider (issue 17
// item 1, as vscode-hexeditor's extension.ts does with its registry). It fires events instead of being polled
// ("AMC: Evaluate pointing game" awaits the viewer it opened), and answers the `amc.viewerState` test hook: what
// each webview last drew and how long after opening. No vscode import (unit-tested); its events have the shape
// of vscode.Event.
import type { ComparisonInfo, EvaluationSummary, ModelInfo, ShownReport } from '../shared/protocol';
import type { ViewerSession } from './viewerSession';

export interface LiveViewer {
  readonly kind: 'dataset' | 'single';
  /** The dataset file (kind 'dataset') or the image (kind 'single'), absolute. */
  readonly file: string;
  /** The host half of the webview; undefined while there is none (the file could not be opened: `openError`). */
  readonly session: ViewerSession | undefined;
  /** Why the file could not be opened (then there is no session). */
  readonly openError?: string;
  /** Whether its editor or panel is the active one. */
  readonly active?: boolean;
  /** The webview's localResourceRoots now (file paths), for the tests of what the webview may read. */
  localResourceRoots?(): string[];
}

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
  /** The banner "images not found" (issue 14 item 6): the image it names; absent when the images were found. */
  missingImage?: string;
}

/** A listener subscription, as vscode.Disposable. */
export interface Subscription { dispose(): void; }
/** Subscribe to an event; the same call shape as vscode.Event<T>. */
export type ViewerEvent<T> = (listener: (e: T) => unknown, thisArgs?: unknown, disposables?: Subscription[]) => Subscription;

/** A minimal event emitter with vscode.EventEmitter's shape (this module has no vscode import). */
class Emitter<T> {
  private listeners = new Set<(e: T) => unknown>();
  readonly event: ViewerEvent<T> = (listener, thisArgs, disposables) => {
    const bound = (e: T) => listener.call(thisArgs, e);
    this.listeners.add(bound);
    const subscription = { dispose: () => { this.listeners.delete(bound); } };
    disposables?.push(subscription);
    return subscription;
  };
  fire(e: T): void { for (const l of [...this.listeners]) l(e); }
  dispose(): void { this.listeners.clear(); }
}

export class ViewerRegistry {
  private readonly viewers = new Set<LiveViewer>();
  private lastActive: LiveViewer | undefined;
  private readonly opened = new Emitter<LiveViewer>();
  private readonly closed = new Emitter<LiveViewer>();
  private readonly activeChanged = new Emitter<LiveViewer | undefined>();
  /** A viewer was added (its editor or panel resolved). */
  readonly onDidOpenViewer = this.opened.event;
  /** A viewer was removed (its editor or panel closed). */
  readonly onDidCloseViewer = this.closed.event;
  /** The viewer the user works in changed (undefined: the last one closed). */
  readonly onDidChangeActiveViewer = this.activeChanged.event;

  /** Adds a viewer and fires onDidOpenViewer; dispose the result when it closes (fires onDidCloseViewer). */
  add(viewer: LiveViewer): Subscription {
    this.viewers.add(viewer);
    this.opened.fire(viewer);
    this.setActive(viewer);
    return { dispose: () => this.remove(viewer) };
  }

  private remove(viewer: LiveViewer): void {
    if (!this.viewers.delete(viewer)) return;
    this.closed.fire(viewer);
    if (this.lastActive === viewer) {
      this.lastActive = undefined;
      this.activeChanged.fire(undefined);
    }
  }

  /** The user focused `viewer` (its panel became active). */
  setActive(viewer: LiveViewer): void {
    if (!this.viewers.has(viewer) || this.lastActive === viewer) return;
    this.lastActive = viewer;
    this.activeChanged.fire(viewer);
  }

  all(): LiveViewer[] { return [...this.viewers]; }

  /** The dataset viewers; those of `file` when given. */
  datasetViewers(file?: string): LiveViewer[] {
    return this.all().filter((v) => v.kind === 'dataset' && (file === undefined || v.file === file));
  }

  /**
   * The dataset viewer of `file` (the active one first), or without a file the one the user works in: the active
   * one, else the last one focused, else the last one opened.
   */
  viewerFor(file?: string): LiveViewer | undefined {
    const candidates = this.datasetViewers(file);
    const focused = this.lastActive && candidates.includes(this.lastActive) ? this.lastActive : undefined;
    return candidates.find((v) => v.active) ?? (file === undefined ? focused : undefined)
      ?? (file === undefined ? candidates[candidates.length - 1] : candidates[0]);
  }

  /**
   * Resolves with the dataset viewer of `file` as soon as one is open (now, or when onDidOpenViewer fires);
   * rejects after `timeoutMs` with a message naming the file. Subscribe before opening the editor.
   */
  waitForViewer(file: string, timeoutMs: number): Promise<LiveViewer> {
    const open = this.viewerFor(file);
    if (open) return Promise.resolve(open);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        subscription.dispose();
        const limit = timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`;
        reject(new Error(`the viewer for ${file} did not open within ${limit}`));
      }, timeoutMs);
      const subscription = this.onDidOpenViewer((v) => {
        if (v.kind !== 'dataset' || v.file !== file) return;
        clearTimeout(timer);
        subscription.dispose();
        resolve(v);
      });
    });
  }

  /** What each viewer with a session last drew (the `amc.viewerState` test hook). */
  states(): ViewerState[] {
    return this.all().flatMap((v) => (v.session ? [stateOf(v, v.session)] : []));
  }

  dispose(): void {
    this.viewers.clear();
    this.lastActive = undefined;
    this.opened.dispose();
    this.closed.dispose();
    this.activeChanged.dispose();
  }
}

function stateOf(viewer: LiveViewer, session: ViewerSession): ViewerState {
  const missing = session.missingImages;
  const report = session.loadedReport;
  return {
    kind: viewer.kind, file: viewer.file, format: session.dataset.format, count: session.dataset.count(),
    computedCount: session.metrics.computedCount, firstShownMs: session.firstShownMs, lastShown: session.lastShown,
    evaluation: session.lastEvaluation, model: session.lastModel, comparison: session.lastComparison,
    localResourceRoots: viewer.localResourceRoots?.(),
    report: report && { file: report.file, rows: report.rows, scored: report.scored },
    fromReportCount: countFromReport(session), insightFilter: session.lastInsightFilter,
    ...(missing ? { missingImage: missing.image } : {}),
  };
}

function countFromReport(session: ViewerSession): number {
  let n = 0;
  for (const i of session.metrics.settledIndices()) if (session.metrics.isFromReport(i)) n++;
  return n;
}
