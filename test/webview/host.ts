// Test host for the viewer webview in real Chromium: serves the real HTML shell (src/editor/html.ts, with its CSP),
// and every resource — the built out/webview.js as well as images — through one resource route that emulates VS
// Code's localResourceRoots (the extension's out/ and media/ plus the viewer's ImageAccess roots, checked the way
// VS Code's resourceLoading.ts `containsResource` does), and connects the page to a real ViewerSession
// (src/editor/viewerSession.ts) through the real protocol module — the same host code the VS Code custom editor
// runs, minus the vscode API.
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Dataset } from '../../src/core/datasets/dataset';
import type { Explainer } from '../../src/editor/explainer';
import { makeNonce, renderWebviewHtml } from '../../src/editor/html';
import { ImageAccess, viewerImageRoots } from '../../src/editor/imageRoots';
import { MetricStore } from '../../src/editor/metricStore';
import { ViewerSession, type ComparisonSource, type ViewerSessionOptions } from '../../src/editor/viewerSession';
import { METHOD_NAMES, RequestError, RequestServer, type HostToWebview, type RequestHandlers, type WebviewToHost } from '../../src/shared/protocol';
import { THEMES, type ThemeName } from './themes';

export const ROOT = path.resolve(__dirname, '../..');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

let browser: Browser | undefined;
export async function sharedBrowser(): Promise<Browser> {
  browser ??= await chromium.launch({ executablePath: process.env.AMC_CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  return browser;
}
export async function closeBrowser(): Promise<void> { await browser?.close(); browser = undefined; }

export interface ViewerOptions {
  dataset?: Dataset;
  /** Instead of a dataset: the error the host answers every request with (a file that could not be opened). */
  openError?: string;
  explainer: () => Promise<Explainer>;
  /** A second model to compare with (what the EngineHost gives the custom editor); change it with setComparison. */
  comparison?: ComparisonSource | null;
  /**
   * Folders the user granted besides the dataset's own folder (what the editor takes from the workspace folders and
   * amc.imageRoots); the roots are computed by the editor's own viewerImageRoots.
   */
  imageRoots: string[];
  mode?: 'dataset' | 'single';
  theme?: ThemeName;
  viewport?: { width: number; height: number };
  /** The protocol version the page is told the host speaks (default: the real one; a test of the mismatch varies it). */
  protocolVersion?: number;
  /** The file's missing-images state and "Choose image folder…", as the editor's AnnotationDocument gives them. */
  missingImages?: ViewerSessionOptions['missingImages'];
  chooseImageFolder?: ViewerSessionOptions['chooseImageFolder'];
  /** Requests the host receives this many ms late, per method (a host busy indexing a large file). */
  requestDelayMs?: Partial<Record<string, number>>;
}

/** One viewer page plus its host session; records every message both ways for assertions. */
export class TestViewer {
  readonly sent: WebviewToHost[] = [];       // webview → host
  readonly received: HostToWebview[] = [];   // host → webview
  readonly consoleErrors: string[] = [];
  readonly saved: Buffer[] = [];
  /** CSV files written by "Export table as CSV"; set csvCancel to answer the save dialog with Cancel. */
  readonly csvFiles: string[] = [];
  csvCancel = false;
  session: ViewerSession | undefined;
  private fallback: RequestServer | undefined;
  private readonly stores = new Map<string, MetricStore>();
  private comparison: ComparisonSource | null;
  /** The viewer's image roots (the editor keeps one per document); the resource route reads them on every request. */
  readonly imageAccess: ImageAccess;
  /** Every resource request the page made and whether the emulated localResourceRoots let it through. */
  readonly resourceRequests: Array<{ file: string; allowed: boolean }> = [];

  private constructor(
    readonly page: Page, private readonly server: http.Server, readonly origin: string, private readonly opts: ViewerOptions,
  ) {
    this.comparison = opts.comparison ?? null;
    this.imageAccess = new ImageAccess(opts.dataset
      ? viewerImageRoots({ workspaceFolders: opts.imageRoots, datasetFile: opts.dataset.file, format: opts.dataset.format })
      : opts.imageRoots.map((r) => path.resolve(r)));
  }

  /** What VS Code's localResourceRoots would be: the extension's out/ and media/, then the image roots. */
  localResourceRoots(): string[] {
    return [path.join(ROOT, 'out'), path.join(ROOT, 'media'), ...this.imageAccess.roots()];
  }

  /** The URI the page uses for a file (what webview.asWebviewUri gives in VS Code: it checks nothing itself). */
  resourceUri(file: string): string {
    return `${this.origin}/vscode-resource${path.resolve(file).split('/').map(encodeURIComponent).join('/')}`;
  }

  /** Sets (or turns off) the comparison model and tells the session, as the EngineHost's event does. */
  async setComparison(comparison: ComparisonSource | null): Promise<void> {
    this.comparison = comparison;
    await this.session?.comparisonChanged();
  }

  static async open(opts: ViewerOptions): Promise<TestViewer> {
    const b = await sharedBrowser();
    const context = await b.newContext({ viewport: opts.viewport ?? { width: 1400, height: 820 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    let viewer: TestViewer | undefined;
    const server = http.createServer((req, res) => { void serve(req, res, viewer!); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    viewer = new TestViewer(page, server, origin, opts);
    page.on('console', (m) => { if (m.type() === 'error') viewer.consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => viewer.consoleErrors.push(`pageerror: ${e.message}`));
    await page.exposeBinding('__amcToHost', (_source, message: WebviewToHost) => viewer.fromWebview(message));
    // A string, not a function: tsx's keepNames helpers do not exist in the page.
    await page.addInitScript(`
      window.acquireVsCodeApi = () => ({
        postMessage: (m) => window.__amcToHost(m),
        getState: () => { const s = sessionStorage.getItem('amc-webview-state'); return s ? JSON.parse(s) : undefined; },
        setState: (s) => sessionStorage.setItem('amc-webview-state', JSON.stringify(s)),
      });`);
    viewer.attach();
    await page.goto(`${origin}/view.html`);
    if (opts.theme) await viewer.setTheme(opts.theme);
    return viewer;
  }

  /** A fresh host session for the page (also after a reload: VS Code recreates the page when a tab comes back). */
  private attach(): void {
    this.session?.dispose();
    this.session = undefined;
    const post = (m: HostToWebview) => {
      this.received.push(m);
      void this.page.evaluate((msg) => window.postMessage(msg, '*'), m).catch(() => { /* page closed */ });
    };
    if (!this.opts.dataset) {
      const failure = async () => { throw new RequestError(this.opts.openError ?? 'no dataset'); };
      this.fallback = new RequestServer(Object.fromEntries(METHOD_NAMES.map((m) => [m, failure])) as unknown as RequestHandlers, post);
      return;
    }
    const dataset = this.opts.dataset;
    this.session = new ViewerSession({
      mode: this.opts.mode ?? 'dataset', title: path.basename(dataset.file), dataset,
      getExplainer: this.opts.explainer,
      getComparison: () => this.comparison,
      metricStoreFor: (key) => { let s = this.stores.get(key); if (!s) { s = new MetricStore(); this.stores.set(key, s); } return s; },
      // As the editor: a URI only inside the roots; "Allow this folder" widens them and, as VS Code does when an
      // extension sets new webview options, reloads the page (which restores its selection from its saved state).
      imageUri: (p) => (this.imageAccess.allows(p) ? this.resourceUri(p) : undefined),
      allowImageFolder: (p) => {
        const folder = this.imageAccess.allowFolderOf(p);
        setImmediate(() => { void this.reloadPage().catch(() => { /* page closed */ }); });
        return folder;
      },
      imageProblem: async (p) => { try { await readFile(p); return undefined; } catch { return `Image not found: ${p}`; } },
      savePng: async (_name, png) => { this.saved.push(Buffer.from(png)); return `/saved/${this.saved.length}.png`; },
      // "Export table as CSV": the save dialog answers with a file in the work folder (null: the user cancels).
      chooseCsvPath: async (name) => {
        if (this.csvCancel) return null;
        mkdirSync(path.join(ROOT, 'test', '.work', 'csv'), { recursive: true });
        const file = path.join(ROOT, 'test', '.work', 'csv', `${Date.now()}-${name}`);
        this.csvFiles.push(file);
        return file;
      },
      colormap: 'jet',
      post,
      testHooks: true, // as under the extension tests: the webview reports what it drew (reportShown)
      missingImages: this.opts.missingImages,
      chooseImageFolder: this.opts.chooseImageFolder,
    });
  }

  private fromWebview(message: WebviewToHost): void {
    this.sent.push(message);
    const delay = message.kind === 'request' ? this.opts.requestDelayMs?.[message.method] : undefined;
    const deliver = () => { if (this.session) this.session.receive(message); else this.fallback?.receive(message); };
    if (delay) setTimeout(deliver, delay); else deliver();
  }

  async reload(): Promise<void> {
    this.attach();
    await this.reloadPage();
  }

  /** The page alone reloads, the host session stays (VS Code does this when the webview's options change). */
  private async reloadPage(): Promise<void> {
    this.reloads++;
    await this.page.reload();
    if (this.theme) await this.setTheme(this.theme);
  }
  reloads = 0;

  private theme: ThemeName | undefined;
  /** Sets the theme the way VS Code does: variables on <html>, a class on <body>. */
  async setTheme(name: ThemeName): Promise<void> {
    this.theme = name;
    const t = THEMES[name];
    await this.page.evaluate(({ vars, bodyClass }) => {
      const root = document.documentElement;
      for (const [k, v] of Object.entries(vars)) root.style.setProperty(k, v);
      document.body.classList.remove('vscode-light', 'vscode-dark', 'vscode-high-contrast');
      document.body.classList.add(bodyClass);
      window.dispatchEvent(new Event('resize'));
    }, t);
  }

  /** What the page's HTML says the host's protocol version is. */
  get pageProtocolVersion(): number | undefined { return this.opts.protocolVersion; }

  requests(method: string): Extract<WebviewToHost, { kind: 'request' }>[] {
    return this.sent.filter((m): m is Extract<WebviewToHost, { kind: 'request' }> => m.kind === 'request' && m.method === method);
  }

  async close(): Promise<void> {
    this.session?.dispose();
    await this.opts.dataset?.close();
    await this.page.context().close();
    await new Promise((r) => this.server.close(r));
  }
}

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg' };

/**
 * VS Code's rule for a webview resource (src/vs/workbench/contrib/webview/browser/resourceLoading.ts,
 * `containsResource`): the root itself is refused; otherwise the resource's path must be the root's path or
 * below it (`extUri.isEqualOrParent`, case-sensitive on Linux). Written out here rather than imported, so the
 * editor's own check (isInsideRoots) is tested against it, not with it.
 */
function vscodeContainsResource(root: string, resource: string): boolean {
  const r = root.replace(/\/+$/, '') || '/';
  if (resource === r) return false;
  return resource.startsWith(r === '/' ? '/' : `${r}/`);
}

async function serve(req: http.IncomingMessage, res: http.ServerResponse, viewer: TestViewer): Promise<void> {
  const url = new URL(req.url ?? '/', viewer.origin);
  const send = (status: number, body: string | Buffer, type = 'text/plain') => {
    res.writeHead(status, { 'Content-Type': type, 'Access-Control-Allow-Origin': '*' });
    res.end(body);
  };
  try {
    if (url.pathname === '/view.html') {
      const html = renderWebviewHtml({
        cspSource: viewer.origin, nonce: makeNonce(), title: 'viewer', protocolVersion: viewer.pageProtocolVersion,
        scriptUri: viewer.resourceUri(path.join(ROOT, 'out', 'webview.js')), styleUri: viewer.resourceUri(path.join(ROOT, 'out', 'webview.css')),
      });
      return send(200, html, 'text/html');
    }
    const prefix = '/vscode-resource/';
    if (url.pathname.startsWith(prefix)) {
      // The browser has already removed dot segments from the URL; a decoded '..' (or '/') inside a segment is refused.
      const segments = url.pathname.slice(prefix.length).split('/').map(decodeURIComponent);
      const file = `/${segments.join('/')}`;
      const allowed = !segments.some((x) => x === '..' || x === '.' || x.includes('/'))
        && viewer.localResourceRoots().some((root) => vscodeContainsResource(root, file));
      viewer.resourceRequests.push({ file, allowed });
      // VS Code answers a resource outside localResourceRoots with 401 and no content.
      if (!allowed) return send(401, 'outside localResourceRoots');
      return send(200, await readFile(file), TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream');
    }
    send(404, 'not found');
  } catch (err) {
    send(404, String(err));
  }
}
