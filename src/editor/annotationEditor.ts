// Custom read-only editor `amc.annotationViewer`: the provider alone (resolve, webview setup, message wiring). The
// document (annotationDocument.ts) owns the dataset, its lint and its missing-images state and fires onDidChange;
// each panel listens and rebuilds or updates its ViewerSession. The webview may read only the extension's out/ and
// media/ folders and the image roots the user granted (imageRoots.ts: never folders an annotation file names).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { OPEN_REPORT_COMMAND } from '../commands/openReport';
import { getSettings } from '../config';
import { errorMessage } from '../core/errors';
import { METHOD_NAMES, RequestError, RequestServer, type RequestHandlers } from '../shared/protocol';
import { AnnotationDocument, type AnnotationDocumentChange } from './annotationDocument';
import { ViewerDiagnostics } from './diagnostics';
import type { EngineHost } from './engineHost';
import { chooseCsvPath, savePng } from './exportFiles';
import { makeNonce, renderWebviewHtml } from './html';
import type { ImageFolderPrompt } from './imageFolderPrompt';
import type { LiveViewer, ViewerRegistry } from './registry';
import { findReportBeside } from './reportLoad';
import { revealSource } from './revealSource';
import { testHooksEnabled } from './testHooks';
import { ViewerSession } from './viewerSession';

export const VIEW_TYPE = 'amc.annotationViewer';
/** Same viewer, offered through "Open With…" for any .json / .p file (priority "option"). */
export const VIEW_TYPE_ANY_FILE = 'amc.annotationViewer.anyFile';
/** "AMC: Choose image folder…" for the active viewer (or the file given): what the missing-images banner's button does. */
export const CHOOSE_IMAGE_FOLDER_COMMAND = 'amc.chooseImageFolder';

/** One webview panel of an AnnotationDocument, as the registry lists it. */
class DatasetViewer implements LiveViewer {
  readonly kind = 'dataset';
  session: ViewerSession | undefined;
  /** Answers every request with the open error when the file could not be opened (no session). */
  fallback: RequestServer | undefined;
  constructor(readonly document: AnnotationDocument, readonly panel: vscode.WebviewPanel) {}
  get file(): string { return this.document.file; }
  get openError(): string | undefined { return this.document.openError; }
  get active(): boolean { return this.panel.active; }
  localResourceRoots(): string[] { return (this.panel.webview.options.localResourceRoots ?? []).map((u) => u.fsPath); }
  receive(message: unknown): void { (this.session ?? this.fallback)?.receive(message); }
}

/** What the provider is handed by src/extension.ts (through register.ts). */
export interface AnnotationViewerServices {
  registry: ViewerRegistry;
  engines: EngineHost;
  imageFolders: ImageFolderPrompt;
  log(line: string): void;
}

export class AnnotationViewerProvider implements vscode.CustomReadonlyEditorProvider<AnnotationDocument> {
  private readonly diagnostics: ViewerDiagnostics;

  private constructor(private readonly context: vscode.ExtensionContext, private readonly services: AnnotationViewerServices) {
    this.diagnostics = new ViewerDiagnostics(services.log);
    const { engines } = services;
    context.subscriptions.push(
      this.diagnostics,
      engines.onDidChangeModel(() => { for (const v of this.viewers()) void v.session?.modelChanged(); }),
      engines.onDidChangeComparison(() => { for (const v of this.viewers()) void v.session?.comparisonChanged(); }),
    );
  }

  static register(context: vscode.ExtensionContext, services: AnnotationViewerServices): AnnotationViewerProvider {
    const provider = new AnnotationViewerProvider(context, services);
    const options = { supportsMultipleEditorsPerDocument: true, webviewOptions: { retainContextWhenHidden: false } };
    context.subscriptions.push(
      vscode.window.registerCustomEditorProvider(VIEW_TYPE, provider, options),
      vscode.window.registerCustomEditorProvider(VIEW_TYPE_ANY_FILE, provider, options),
      vscode.commands.registerCommand(CHOOSE_IMAGE_FOLDER_COMMAND, (uri?: unknown) => provider.chooseImageFolder(uri)),
    );
    return provider;
  }

  /** The command: resolves with the folder chosen, or null (cancelled, no viewer, or an error, which is shown). */
  private async chooseImageFolder(uri: unknown): Promise<string | null> {
    const file = uri instanceof vscode.Uri ? uri.fsPath : undefined;
    const viewer = this.services.registry.viewerFor(file);
    if (!(viewer instanceof DatasetViewer)) {
      void vscode.window.showErrorMessage(`AMC: open ${file ?? 'an annotation file'} in the AMC viewer first, then choose its image folder.`);
      return null;
    }
    try {
      return await this.services.imageFolders.choose(viewer.document);
    } catch (err) {
      void vscode.window.showErrorMessage(`AMC: ${errorMessage(err)}`);
      return null;
    }
  }

  /** The open panels of this provider (of `document` when given). */
  private viewers(document?: AnnotationDocument): DatasetViewer[] {
    return this.services.registry.datasetViewers()
      .filter((v): v is DatasetViewer => v instanceof DatasetViewer && (!document || v.document === document));
  }

  openCustomDocument(uri: vscode.Uri): Promise<AnnotationDocument> {
    // The viewer will need the model: start loading it now, while the file is read and the webview boots.
    this.services.engines.explainer().catch(() => undefined);   // a failure is logged by the engine host and shown by the viewer
    return AnnotationDocument.open(uri, { diagnostics: this.diagnostics, log: this.services.log });
  }

  async resolveCustomEditor(document: AnnotationDocument, panel: vscode.WebviewPanel): Promise<void> {
    const viewer = new DatasetViewer(document, panel);
    this.attach(viewer);
    const { registry } = this.services;
    const registration = registry.add(viewer);
    const subscriptions = [
      registration,
      panel.onDidChangeViewState(() => { if (panel.active) registry.setActive(viewer); }),
      panel.webview.onDidReceiveMessage((m) => viewer.receive(m)),
      document.onDidChange((change) => this.documentChanged(viewer, change)),
    ];
    panel.onDidDispose(() => {
      viewer.session?.dispose();
      viewer.fallback?.dispose();
      for (const d of subscriptions) d.dispose();
    });
  }

  private documentChanged(viewer: DatasetViewer, change: AnnotationDocumentChange): void {
    if (change === 'dataset') this.attach(viewer);   // reloaded (image folder): new session, roots and page
    else if (change === 'problems' && viewer.document.problemCount !== undefined) viewer.session?.setProblemCount(viewer.document.problemCount);
    else if (change === 'missingImages') viewer.session?.missingImagesChanged();
  }

  /** (Re)build the session and the page; called again when the document reloads. */
  private attach(viewer: DatasetViewer): void {
    const { document, panel } = viewer;
    viewer.session?.dispose();
    viewer.fallback?.dispose();
    viewer.session = viewer.fallback = undefined;
    panel.webview.options = this.webviewOptions(document);
    const post = (m: unknown) => { void panel.webview.postMessage(m); };
    const title = path.basename(document.file);
    const dataset = document.dataset;
    if (!dataset) {
      const failure = async () => { throw new RequestError(`${document.file}: ${document.openError}`); };
      viewer.fallback = new RequestServer(Object.fromEntries(METHOD_NAMES.map((m) => [m, failure])) as unknown as RequestHandlers, post);
    } else {
      const { engines, log } = this.services;
      const folder = path.dirname(document.file);
      viewer.session = new ViewerSession({
        mode: 'dataset', title, dataset,
        getExplainer: () => engines.explainer(),
        metricStoreFor: (key) => engines.metricStore(key, dataset.file),
        getComparison: () => engines.comparison(),
        imageUri: (p) => this.webviewUri(panel, document, p),
        allowImageFolder: (p) => this.allowImageFolder(document, p),
        imageProblem: (p) => document.imageProblem(p),
        missingImages: () => document.missingImages,
        chooseImageFolder: () => this.services.imageFolders.choose(document),
        savePng: (name, png) => savePng(folder, name, png),
        chooseCsvPath: (name) => chooseCsvPath(folder, name),
        revealSource: (s) => revealSource(s),
        startEvaluation: () => { void vscode.commands.executeCommand('amc.evaluatePointingGame', document.uri); },
        colormap: getSettings().colormap,
        post,
        testHooks: testHooksEnabled(this.context.extensionMode),
        onExplanationSent: () => document.explanationSent(),
        onFirstShown: (ms, shown) => log(`viewer: first explanation (“${shown.phrase}”) shown ${ms} ms after opening ${document.file}`),
      });
      if (document.problemCount !== undefined) viewer.session.setProblemCount(document.problemCount);
      // A report beside the dataset (<name>.amc-eval.json or amc-eval-report.json, README "Evaluation reports") loads on open.
      void findReportBeside(dataset.file).then((report) => {
        if (report) void vscode.commands.executeCommand(OPEN_REPORT_COMMAND, report);
      });
    }
    const ext = this.context.extensionUri;
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
    const roots = [vscode.Uri.joinPath(ext, 'out'), vscode.Uri.joinPath(ext, 'media'), ...document.imageRoots.map((r) => vscode.Uri.file(r))];
    return { enableScripts: true, localResourceRoots: roots };
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
    this.services.log(`viewer: image folder ${folder} allowed for ${document.file} (this session)`);
    for (const v of this.viewers(document)) v.panel.webview.options = this.webviewOptions(document);
    return folder;
  }
}
