// "AMC: Explain phrase": pick an image (explorer context menu, the active image editor, the image an active
// annotation viewer shows (offered first, with "Choose another image…"), or a file dialog), type
// a phrase, and see where the model looks: a panel with the same side-by-side view as the annotation viewer
// (image | box mask (empty: a typed phrase has no box; draw one to score it) | GradCAM with the pointing point).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { preCaption } from '../core/text';
import type { EngineHost } from '../editor/engineHost';
import { savePng } from '../editor/exportFiles';
import { makeNonce, renderWebviewHtml } from '../editor/html';
import { MemoryDataset, phraseSample } from '../editor/memoryDataset';
import type { ViewerRegistry } from '../editor/registry';
import { testHooksEnabled } from '../editor/testHooks';
import { ViewerSession } from '../editor/viewerSession';
import { getSettings } from '../config';
import { outputChannel } from '../output';
import { errorMessage } from '../core/errors';

export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'bmp', 'gif', 'webp', 'tif', 'tiff'];

/** What the command resolves with (the extension-host tests read it). */
export interface ExplainCommandResult {
  image: string;
  phrase: string;
  score: number;
  itmProbability: number;
  grid: number;
  width: number;
  height: number;
  point: { x: number; y: number };
  tokens: string[];
  panel: vscode.WebviewPanel;
}

function activeImage(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputCustom && input.viewType === 'imagePreview.previewEditor') return input.uri;
  if (input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom) {
    const ext = path.extname(input.uri.fsPath).slice(1).toLowerCase();
    if (IMAGE_EXTENSIONS.includes(ext)) return input.uri;
  }
  return undefined;
}

/** The image the active annotation viewer shows, if the command runs from one. */
async function viewerImage(registry: ViewerRegistry): Promise<vscode.Uri | undefined> {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (!(input instanceof vscode.TabInputCustom) || input.viewType !== 'amc.annotationViewer') return undefined;
  const live = registry.datasetViewers(input.uri.fsPath)[0];
  const image = await live?.session?.shownImage();
  return image ? vscode.Uri.file(image) : undefined;
}

/** Run from a viewer: its current image first, any other image second (issue 14 item 8). */
async function offerViewerImage(image: vscode.Uri): Promise<vscode.Uri | undefined> {
  const current = { label: path.basename(image.fsPath), description: 'the image shown in the viewer', detail: image.fsPath };
  const other = { label: 'Choose another image…', description: '', detail: undefined };
  const choice = await vscode.window.showQuickPick([current, other], { title: 'AMC: Explain phrase on which image?' });
  if (!choice) return undefined;
  return choice === current ? image : pickImage();
}

async function pickImage(): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: false, openLabel: 'Explain', title: 'AMC: pick an image to explain a phrase on', filters: { Images: IMAGE_EXTENSIONS },
  });
  return picked?.[0];
}

export function registerExplainCommand(context: vscode.ExtensionContext, host: { registry: ViewerRegistry; engines: EngineHost }): void {
  const { registry, engines } = host;
  context.subscriptions.push(vscode.commands.registerCommand('amc.explainPhrase', async (uriArg?: unknown, phraseArg?: unknown): Promise<ExplainCommandResult | undefined> => {
    let imageUri = (uriArg instanceof vscode.Uri ? uriArg : undefined) ?? activeImage();
    if (!imageUri) { const shown = await viewerImage(registry); imageUri = shown ? await offerViewerImage(shown) : await pickImage(); }
    if (!imageUri) return undefined;
    const image = imageUri.fsPath;
    const phrase = typeof phraseArg === 'string' && phraseArg.trim() ? phraseArg.trim() : await vscode.window.showInputBox({
      title: `AMC: Explain phrase on ${path.basename(image)}`, prompt: 'Where does the model look for this phrase?', placeHolder: 'e.g. the red circle on the left',
      validateInput: (v) => (v.trim() ? undefined : 'Type a phrase'),
    });
    if (!phrase?.trim()) return undefined;

    const ext = context.extensionUri;
    const panel = vscode.window.createWebviewPanel('amc.explainPanel', `AMC: “${phrase}”`, vscode.ViewColumn.Beside, {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(ext, 'out'), vscode.Uri.joinPath(ext, 'media'), vscode.Uri.file(path.dirname(image))],
    });
    const dataset = new MemoryDataset(image, 'amc-vg', [phraseSample(image, phrase, preCaption(phrase))]);
    const session = new ViewerSession({
      mode: 'single', title: `${path.basename(image)}: ${phrase}`, dataset,
      getExplainer: () => engines.explainer(),
      metricStoreFor: (key) => engines.metricStore(key, `phrase:${image}\n${phrase}`),
      imageUri: (p) => (path.resolve(p) === path.resolve(image) ? panel.webview.asWebviewUri(vscode.Uri.file(p)).toString() : undefined),
      imageProblem: async (p) => { try { await vscode.workspace.fs.stat(vscode.Uri.file(p)); return undefined; } catch { return `Image not found: ${p}`; } },
      savePng: (name, png) => savePng(path.dirname(image), name, png),
      colormap: getSettings().colormap,
      testHooks: testHooksEnabled(context.extensionMode),
      post: (m) => { void panel.webview.postMessage(m); },
    });
    const registration = registry.add({ kind: 'single', file: image, session });
    panel.webview.onDidReceiveMessage((m) => session.receive(m));
    panel.onDidDispose(() => { session.dispose(); registration.dispose(); });
    panel.webview.html = renderWebviewHtml({
      cspSource: panel.webview.cspSource, nonce: makeNonce(), title: `AMC: ${phrase}`,
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(ext, 'out', 'webview.js')).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(ext, 'out', 'webview.css')).toString(),
    });

    try {
      const { engine } = await engines.explainer();
      const r = await engine.explain(image, phrase);
      outputChannel().info(`explain: “${phrase}” on ${image}: score ${r.score.toFixed(3)}, point (${r.point.x}, ${r.point.y})`);
      return {
        image, phrase, score: r.score, itmProbability: r.itmProbability, grid: r.grid, width: r.width, height: r.height,
        point: { ...r.point }, tokens: [...r.tokens], panel,
      };
    } catch (err) {
      // The panel shows the same error in place; the notification says it once more for palette users.
      void vscode.window.showErrorMessage(`AMC: could not explain “${phrase}” on ${path.basename(image)}: ${errorMessage(err)}`);
      return undefined;
    }
  }));
}
