// Custom read-only editor `amc.annotationViewer`: opens any annotation file the readers know, shows it in the
// viewer webview, publishes the readers' problems to the Problems panel, and finds (or asks once for) the image
// root. The webview may read only the extension's out/ and media/ folders and the image roots the user granted
// (imageRoots.ts: never folders an annotation file names).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { OPEN_REPORT_COMMAND } from '../commands/openReport';
import { findReportBeside } from './reportLoad';
import { getSettings, onSettingsChanged, setImageRoot } from '../config';
import type { Dataset } from '../core/datasets/dataset';
import { openDataset } from '../core/datasets/index';
import type { Sample } from '../core/types';
import { METHOD_NAMES, RequestError, RequestServer, type EvaluationSummary, type RequestHandlers } from '../shared/protocol';
import type { EngineHost } from './engineHost';
import { makeNonce, renderWebviewHtml } from './html';
import { formatDeltaPts } from '../shared/comparison';
import { ViewerDiagnostics } from './diagnostics';
import { ImageAccess, viewerImageRoots } from './imageRoots';
import { offsetsToPositions } from './positions';
import { testHooksEnabled } from './testHooks';
import { liveViewers, type LiveViewer } from './registry';
import { ViewerSession } from './viewerSession';
import { errorMessage } from '../core/errors';

export const VIEW_TYPE = 'amc.annotationViewer';
/** Same viewer, offered through "Open With…" for any .json / .p file (priority "option"). */
export const VIEW_TYPE_ANY_FILE = 'amc.annotationViewer.anyFile';

export class AnnotationDocument implements vscode.CustomDocument {
  /** Which images the webviews of this document may load; "Allow this folder" adds to it until the document closes. */
  readonly imageAccess: ImageAccess;
  /** Errors + warnings the whole-file lint found (the Problems panel), once it finished. */
  problemCount: number | undefined;
  constructor(readonly uri: vscode.Uri, public dataset: Dataset | undefined, public openError: string | undefined, imageRoots: string[],
    private readonly onDispose?: (doc: AnnotationDocument) => void) {
    this.imageAccess = new ImageAccess(imageRoots);
  }
  get imageRoots(): string[] { return this.imageAccess.roots(); }
  dispose(): void { this.onDispose?.(this); void this.dataset?.close(); }
}

/** The roots the user granted for a dataset file: workspace folders, its folder, amc.imageRoots (never the data's). */
function grantedRoots(file: string, dataset: Dataset | undefined, chosen: string | undefined): string[] {
  const workspaceFolders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
  return viewerImageRoots({ workspaceFolders, datasetFile: file, format: dataset?.format, chosen });
}

export interface OpenViewer { document: AnnotationDocument; panel: vscode.WebviewPanel; session?: ViewerSession; live?: LiveViewer; }


export class AnnotationViewerProvider implements vscode.CustomReadonlyEditorProvider<AnnotationDocument> {
  private readonly viewers = new Set<OpenViewer>();
  private lastActive: OpenViewer | undefined;
  private readonly imageChecks = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly engines: EngineHost,
    private readonly diagnostics: ViewerDiagnostics,
    private readonly log: (line: string) => void,
  ) {
    context.subscriptions.push(
      engines.onDidChangeModel(() => { for (const v of this.viewers) void v.session?.modelChanged(); }),
      engines.onDidChangeComparison(() => { for (const v of this.viewers) void v.session?.comparisonChanged(); }),
    );
  }

  static register(context: vscode.ExtensionContext, engines: EngineHost, log: (line: string) => void): AnnotationViewerProvider {
    const diagnostics = new ViewerDiagnostics(log);
    const provider = new AnnotationViewerProvider(context, engines, diagnostics, log);
    const options = { supportsMultipleEditorsPerDocument: true, webviewOptions: { retainContextWhenHidden: false } };
    context.subscriptions.push(
      diagnostics,
      vscode.window.registerCustomEditorProvider(VIEW_TYPE, provider, options),
      vscode.window.registerCustomEditorProvider(VIEW_TYPE_ANY_FILE, provider, options),
      onSettingsChanged(['imageRoots'], () => provider.imageChecks.clear()),
    );
    return provider;
  }

  /** The viewer of `uri` (any, when undefined: the active one, else the last one focused). */
  viewerFor(uri?: vscode.Uri): OpenViewer | undefined {
    const all = [...this.viewers];
    if (uri) return all.find((v) => v.panel.active && v.document.uri.toString() === uri.toString()) ?? all.find((v) => v.document.uri.toString() === uri.toString());
    return all.find((v) => v.panel.active) ?? (this.lastActive && this.viewers.has(this.lastActive) ? this.lastActive : all[all.length - 1]);
  }

  async openCustomDocument(uri: vscode.Uri): Promise<AnnotationDocument> {
    const file = uri.fsPath;
    const configured = getSettings().imageRoots[file];
    const t0 = Date.now();
    let dataset: Dataset;
    try {
      dataset = await openDataset(file, { imageRoot: configured });
    } catch (err) {
      const message = errorMessage(err);
      this.log(`viewer: could not open ${file}: ${message}`);
      this.diagnostics.openFailed(uri, message);
      return new AnnotationDocument(uri, undefined, message, grantedRoots(file, undefined, configured));
    }
    // The viewer will need the model: start loading it now, while the first page is read and the webview boots.
    this.engines.explainer().catch(() => undefined);   // a failure is logged by the engine host and shown by the viewer
    // A file readable only in part still opens: the first samples may be all there is (the session says where it stops).
    const first = await dataset.page(0, 200).catch(() => [] as Sample[]);
    const doc = new AnnotationDocument(uri, dataset, undefined, grantedRoots(file, dataset, configured), (d) => { if (d.dataset) this.diagnostics.cancel(d.dataset.file); });
    this.log(`viewer: opened ${file} as ${dataset.format} in ${Date.now() - t0} ms; image roots ${doc.imageRoots.join(', ')}`);
    this.publishProblems(doc);
    if (!configured) void this.askForImageRoot(doc, first);
    return doc;
  }

  async resolveCustomEditor(document: AnnotationDocument, panel: vscode.WebviewPanel): Promise<void> {
    const viewer: OpenViewer = { document, panel };
    this.viewers.add(viewer);
    this.lastActive = viewer;
    panel.onDidChangeViewState(() => { if (panel.active) this.lastActive = viewer; });
    panel.onDidDispose(() => {
      viewer.session?.dispose();
      if (viewer.live) liveViewers.delete(viewer.live);
      this.viewers.delete(viewer);
    });
    panel.webview.onDidReceiveMessage((m) => this.receive(viewer, m));
    this.attach(viewer);
  }

  private receiveFallback = new WeakMap<OpenViewer, RequestServer>();
  private receive(viewer: OpenViewer, message: unknown): void {
    if (viewer.session) viewer.session.receive(message);
    else this.receiveFallback.get(viewer)?.receive(message);
  }

  /** (Re)build the session and the page; called again when the image root changes. */
  private attach(viewer: OpenViewer): void {
    const { document, panel } = viewer;
    viewer.session?.dispose();
    viewer.session = undefined;
    if (viewer.live) liveViewers.delete(viewer.live);
    const ext = this.context.extensionUri;
    panel.webview.options = this.webviewOptions(document);
    const post = (m: unknown) => { void panel.webview.postMessage(m); };
    const title = path.basename(document.uri.fsPath);
    if (!document.dataset) {
      const failure = async () => { throw new RequestError(`${document.uri.fsPath}: ${document.openError}`); };
      const handlers = Object.fromEntries(METHOD_NAMES.map((m) => [m, failure])) as unknown as RequestHandlers;
      this.receiveFallback.set(viewer, new RequestServer(handlers, post));
    } else {
      const dataset = document.dataset;
      viewer.session = new ViewerSession({
        mode: 'dataset', title, dataset,
        getExplainer: () => this.engines.explainer(),
        metricStoreFor: (key) => this.engines.metricStore(key, dataset.file),
        getComparison: () => this.engines.comparison(),
        imageUri: (p) => this.webviewUri(panel, document, p),
        allowImageFolder: (p) => this.allowImageFolder(document, p),
        imageProblem: (p) => this.imageProblem(p, document),
        savePng: (name, png) => savePng(path.dirname(document.uri.fsPath), name, png),
        chooseCsvPath: (name) => chooseCsvPath(path.dirname(document.uri.fsPath), name),
        revealSource: (s) => revealSource(s),
        startEvaluation: () => { void vscode.commands.executeCommand('amc.evaluatePointingGame', document.uri); },
        colormap: getSettings().colormap,
        post,
        testHooks: testHooksEnabled(this.context.extensionMode),
        onFirstShown: (ms, shown) => this.log(`viewer: first explanation (“${shown.phrase}”) shown ${ms} ms after opening ${document.uri.fsPath}`),
      });
      if (document.problemCount !== undefined) viewer.session.setProblemCount(document.problemCount);
      viewer.live = {
        kind: 'dataset', file: document.uri.fsPath, session: viewer.session,
        localResourceRoots: () => (panel.webview.options.localResourceRoots ?? []).map((u) => u.fsPath),
      };
      liveViewers.add(viewer.live);
      // A report beside the dataset (<name>.amc-eval.json or amc-eval-report.json, README "Evaluation reports") loads on open.
      void findReportBeside(dataset.file).then((report) => { if (report) void vscode.commands.executeCommand(OPEN_REPORT_COMMAND, report); });
    }
    panel.webview.html = renderWebviewHtml({
      cspSource: panel.webview.cspSource,
      nonce: makeNonce(),
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(ext, 'out', 'webview.js')).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(ext, 'out', 'webview.css')).toString(),
      title,
    });
  }

  /** localResourceRoots: the extension's out/ and media/ (the page's script and style) and the granted image roots. */
  private webviewOptions(document: AnnotationDocument): vscode.WebviewOptions {
    const ext = this.context.extensionUri;
    return {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(ext, 'out'), vscode.Uri.joinPath(ext, 'media'), ...document.imageRoots.map((r) => vscode.Uri.file(r))],
    };
  }

  private webviewUri(panel: vscode.WebviewPanel, document: AnnotationDocument, file: string): string | undefined {
    const resolved = path.resolve(file);
    return document.imageAccess.allows(resolved) ? panel.webview.asWebviewUri(vscode.Uri.file(resolved)).toString() : undefined;
  }

  /**
   * "Allow this folder" (the user clicked it on an image outside the roots): the image's folder joins the roots of
   * this document's viewers until it closes; not saved (amc.imageRoots is the folder relative paths resolve
   * against, a different thing). New options reload each page, which restores its selection.
   */
  private allowImageFolder(document: AnnotationDocument, image: string): string {
    const folder = document.imageAccess.allowFolderOf(image);
    this.log(`viewer: image folder ${folder} allowed for ${document.uri.fsPath} (this session)`);
    for (const v of this.viewers) if (v.document === document) v.panel.webview.options = this.webviewOptions(document);
    return folder;
  }

  private imageProblem(file: string, document: AnnotationDocument): Promise<string | undefined> {
    let check = this.imageChecks.get(file);
    if (!check) {
      check = fs.promises.stat(file).then(
        (st) => (st.isFile() ? undefined : `${file} is not a file`),
        () => `Image not found: ${file}. Set the image folder of ${path.basename(document.uri.fsPath)} (setting amc.imageRoots, or reopen the file to be asked).`,
      );
      this.imageChecks.set(file, check);
      if (this.imageChecks.size > 10_000) this.imageChecks.delete(this.imageChecks.keys().next().value as string);
    }
    return check;
  }

  /** Asked once per dataset file when none of the first images exist and no root is configured. */
  private async askForImageRoot(doc: AnnotationDocument, first: readonly Sample[]): Promise<void> {
    const file = doc.uri.fsPath;
    const probe = first.slice(0, 20);
    if (!probe.length || probe.some((s) => fs.existsSync(s.image))) return;
    const askedKey = `amc.imageRootAsked:${file}`;
    if (this.context.workspaceState.get<boolean>(askedKey)) return;
    await this.context.workspaceState.update(askedKey, true);
    const choice = await vscode.window.showWarningMessage(
      `The images of ${path.basename(file)} were not found (the first is expected at ${probe[0].image}).`, 'Choose image folder…', 'Not now');
    if (choice !== 'Choose image folder…') return;
    const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use as image folder', defaultUri: vscode.Uri.file(path.dirname(file)) });
    if (!picked?.[0]) return;
    await setImageRoot(file, picked[0].fsPath);
    await this.reopen(doc, picked[0].fsPath);
  }

  private async reopen(doc: AnnotationDocument, imageRoot: string): Promise<void> {
    const old = doc.dataset;
    try {
      doc.dataset = await openDataset(doc.uri.fsPath, { imageRoot });
      doc.openError = undefined;
      doc.imageAccess.setGranted(grantedRoots(doc.uri.fsPath, doc.dataset, imageRoot));
    } catch (err) {
      void vscode.window.showErrorMessage(`Could not reopen ${doc.uri.fsPath}: ${errorMessage(err)}`);
      return;
    }
    this.imageChecks.clear();
    doc.problemCount = undefined;
    for (const v of this.viewers) if (v.document === doc) this.attach(v);
    this.publishProblems(doc); // image paths changed: missing-image findings too
    void old?.close();
  }

  /** Whole-file lint into Problems (background); then the viewers' status lines count what the panel holds. */
  private publishProblems(doc: AnnotationDocument): void {
    const dataset = doc.dataset;
    if (!dataset) return;
    void this.diagnostics.publish(dataset).then((result) => {
      if (!result || doc.dataset !== dataset) return;
      doc.problemCount = result.report.errors + result.report.warnings;
      for (const v of this.viewers) if (v.document === doc) v.session?.setProblemCount(result.report.errors + result.report.warnings);
    });
  }

  /** The pointing game over a viewer's dataset with a cancellable progress notification and an ETA. */
  async evaluate(viewer: OpenViewer): Promise<EvaluationSummary> {
    const session = viewer.session;
    if (!session) throw new Error(`${viewer.document.uri.fsPath} could not be opened: ${viewer.document.openError}`);
    const name = path.basename(viewer.document.uri.fsPath);
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `AMC: pointing game on ${name}`, cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        const t0 = Date.now();
        let reported = 0;
        const result = await session.evaluate((s) => {
          const fraction = s.total ? s.done / s.total : 1;
          const elapsed = (Date.now() - t0) / 1000;
          const eta = s.done > 0 ? (elapsed / s.done) * (s.total - s.done) : NaN;
          const all = s.bySplit.find((a) => a.split === 'all');
          const delta = s.comparison?.deltas.find((d) => d.split === 'all');
          progress.report({
            increment: fraction * 100 - reported,
            message: `${s.done}/${s.total}${Number.isFinite(eta) ? ` · ETA ${formatDuration(eta)}` : ''}${all && all.total ? ` · accuracy ${(all.accuracy * 100).toFixed(1)}%` : ''}`
              + `${delta ? ` (${formatDeltaPts(delta.deltaPts)} vs ${s.comparison!.role === 'previous' ? 'previous' : 'comparison'})` : ''}`,
          });
          reported = fraction * 100;
        }, abort.signal);
        this.log(`viewer: pointing game on ${viewer.document.uri.fsPath}: ${result.bySplit.map((a) => `${a.split} ${(a.accuracy * 100).toFixed(2)}% (${a.hits}/${a.total})`).join(', ')}${result.cancelled ? ' (cancelled)' : ''} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        if (result.comparison) {
          this.log(`viewer: compared with ${result.comparison.role} model ${result.comparison.model.name} (${result.comparison.model.dir}): `
            + result.comparison.deltas.map((d) => `${d.split} ${(d.comparison * 100).toFixed(2)}% → ${(d.current * 100).toFixed(2)}% (${formatDeltaPts(d.deltaPts, 2)})`).join(', '));
        }
        return result;
      });
  }
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const m = Math.floor(seconds / 60), s = Math.round(seconds % 60);
  if (m < 60) return `${m} min ${s} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

async function savePng(folder: string, suggestedName: string, png: Uint8Array): Promise<string | null> {
  const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(folder, suggestedName)), filters: { 'PNG image': ['png'] } });
  if (!target) return null;
  await vscode.workspace.fs.writeFile(target, png);
  return target.fsPath;
}

async function chooseCsvPath(folder: string, suggestedName: string): Promise<string | null> {
  const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(folder, suggestedName)), filters: { 'CSV table': ['csv'] } });
  return target?.scheme === 'file' ? target.fsPath : null;
}

async function revealSource(sample: Sample): Promise<boolean> {
  const loc = sample.source;
  if (/\.p$/i.test(loc.file)) return false;   // a pickle is binary: nothing to show as text
  let position = new vscode.Position(0, 0);
  if (loc.line !== undefined) position = new vscode.Position(loc.line - 1, 0);
  else if (loc.byteOffset !== undefined) {
    const p = (await offsetsToPositions(loc.file, [loc.byteOffset])).get(loc.byteOffset);
    if (p) position = new vscode.Position(p.line, p.column);
  }
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(loc.file));
  await vscode.window.showTextDocument(doc, { selection: new vscode.Range(position, position), preview: true, viewColumn: vscode.ViewColumn.Beside });
  return true;
}

let registered: AnnotationViewerProvider | undefined;
let sharedEngines: EngineHost | undefined;

/** The provider registered by registerAnnotationViewer (commands use it). */
export function annotationViewer(): AnnotationViewerProvider | undefined { return registered; }
export function engineHost(): EngineHost | undefined { return sharedEngines; }

export function setRegistered(provider: AnnotationViewerProvider, engines: EngineHost): void {
  registered = provider;
  sharedEngines = engines;
}
