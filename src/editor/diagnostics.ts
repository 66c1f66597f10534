// The annotation viewer's Problems panel entries. They live in a DiagnosticCollection of their own ('amc-viewer'):
// the fine-tune task's problem matcher owns 'amc', and VS Code clears an owner's diagnostics when its task runs, so
// sharing that name emptied the panel. The entries are computed by computeProblemsPanel (the `amc lint` routine over
// the whole file) in the background, one run per dataset file, cancelled when its document closes or a newer run starts.
import * as vscode from 'vscode';
import type { Dataset } from '../core/datasets/dataset';
import { computeProblemsPanel, type PanelEntry, type PanelResult } from './problemsPanel';
import { errorMessage } from '../core/errors';

/** The collection name; must differ from the `owner` of every problem matcher in package.json. */
export const VIEWER_DIAGNOSTICS_NAME = 'amc-viewer';

const SEVERITY: Record<PanelEntry['severity'], vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  info: vscode.DiagnosticSeverity.Information,
};

export class ViewerDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection(VIEWER_DIAGNOSTICS_NAME);
  /** Per dataset file: the running lint and the files it last published to (a dataset may name side files). */
  private readonly runs = new Map<string, { abort: AbortController; done: Promise<PanelResult | undefined> }>();
  private readonly publishedTo = new Map<string, vscode.Uri[]>();

  constructor(private readonly log: (line: string) => void) {}

  /** A file that could not be opened at all: one error on its first line. */
  openFailed(uri: vscode.Uri, message: string): void {
    this.collection.set(uri, [new vscode.Diagnostic(new vscode.Range(0, 0, 0, 1), message, vscode.DiagnosticSeverity.Error)]);
  }

  /**
   * Lints the whole dataset in the background (once `startAfter` settled) and publishes what it finds; resolves with
   * the result (undefined: cancelled).
   */
  publish(ds: Dataset, startAfter?: Promise<unknown>): Promise<PanelResult | undefined> {
    this.cancel(ds.file);
    const abort = new AbortController();
    const t0 = Date.now();
    const done = computeProblemsPanel(ds, { signal: abort.signal, startAfter }).then((result) => {
      if (abort.signal.aborted) return undefined;
      this.clearFiles(ds.file);
      this.collection.delete(vscode.Uri.file(ds.file)); // an earlier "could not be opened" entry, if any
      const uris: vscode.Uri[] = [];
      for (const f of result.files) {
        const uri = vscode.Uri.file(f.file);
        uris.push(uri);
        this.collection.set(uri, f.entries.map(toDiagnostic));
      }
      this.publishedTo.set(ds.file, uris);
      const { report } = result;
      this.log(`viewer: lint of ${ds.file}: ${report.samples} samples, ${report.badEntries} bad entries skipped, ${report.errors} error(s), `
        + `${report.warnings} warning(s), ${Date.now() - t0} ms after the open`);
      return result;
    }, (err: unknown) => {
      if (!abort.signal.aborted) this.log(`viewer: lint of ${ds.file} failed: ${errorMessage(err)}`);
      return undefined;
    }).finally(() => { if (this.runs.get(ds.file)?.abort === abort) this.runs.delete(ds.file); });
    this.runs.set(ds.file, { abort, done });
    return done;
  }

  /** Stops the background lint of `file` (its document closed); what was published stays. */
  cancel(file: string): void {
    this.runs.get(file)?.abort.abort();
    this.runs.delete(file);
  }

  private clearFiles(file: string): void {
    for (const uri of this.publishedTo.get(file) ?? []) this.collection.delete(uri);
    this.publishedTo.delete(file);
  }

  dispose(): void {
    for (const run of this.runs.values()) run.abort.abort();
    this.runs.clear();
    this.collection.dispose();
  }
}

function toDiagnostic(e: PanelEntry): vscode.Diagnostic {
  const d = new vscode.Diagnostic(new vscode.Range(e.line, e.column, e.line, e.endColumn), e.message, SEVERITY[e.severity]);
  d.source = 'AMC';
  if (e.code !== 'more') d.code = e.code;
  return d;
}
