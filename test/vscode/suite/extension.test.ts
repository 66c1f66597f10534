// The extension in a real VS Code: activation, its contributed settings, and the harness itself (a webview
// that runs script and answers, which is what the custom editor depends on).
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { activateAmc, samplesDir, waitFor } from './helpers';

describe('extension', () => {
  it('activates and exposes its API and output channel', async () => {
    const { ext, api } = await activateAmc();
    assert.equal(ext.isActive, true);
    assert.equal(api.output.name, 'AMC Grounding Lens');
    assert.equal(api.extensionPath, ext.extensionPath);
    assert.equal(ext.packageJSON.capabilities.untrustedWorkspaces.supported, 'limited');
    assert.equal(ext.packageJSON.capabilities.virtualWorkspaces, false);
  });

  it('contributes every documented setting with its default', async () => {
    await activateAmc();
    const c = vscode.workspace.getConfiguration('amc');
    const expected: Record<string, unknown> = {
      modelPath: '', executionProvider: 'auto', threads: 0, maxFileMB: 256, pythonPath: '', imageRoots: {}, colormap: 'jet', 'trainer.gpus': 0,
    };
    for (const [key, value] of Object.entries(expected)) {
      const info = c.inspect(key);
      assert.ok(info, `setting amc.${key} is not contributed`);
      assert.deepEqual(info.defaultValue, value, `default of amc.${key}`);
    }
  });

  it('registers the amc task type and its problem matcher', async () => {
    const { ext } = await activateAmc();
    const defs = ext.packageJSON.contributes.taskDefinitions as { type: string }[];
    assert.ok(defs.some((d) => d.type === 'amc'));
    const matchers = ext.packageJSON.contributes.problemMatchers as { name: string }[];
    assert.ok(matchers.some((m) => m.name === 'amc-trainer'));
  });

  it('runs webview script and receives its message (harness check: webviews work in this VS Code)', async () => {
    const panel = vscode.window.createWebviewPanel('amcHarnessCheck', 'harness check', vscode.ViewColumn.One, { enableScripts: true });
    try {
      const nonce = Math.random().toString(36).slice(2);
      let received: unknown;
      panel.webview.onDidReceiveMessage((m) => { received = m; });
      panel.webview.html = `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'nonce-${nonce}';"></head>
        <body><script nonce="${nonce}">const api = acquireVsCodeApi(); api.postMessage({ ready: true, ua: navigator.userAgent });</script></body></html>`;
      const msg = await waitFor('a message from the webview', () => received, 30_000) as { ready: boolean };
      assert.equal(msg.ready, true);
    } finally {
      panel.dispose();
    }
  });
});

describe('runtime modules', () => {
  // Resolved from the extension's own folder: in the .vsix pass this proves the package ships them.
  it('loads onnxruntime-node and sharp from the extension folder and runs them', async () => {
    const { ext } = await activateAmc();
    const requireFromExtension = createRequire(path.join(ext.extensionPath, 'package.json'));
    const ort = requireFromExtension('onnxruntime-node') as typeof import('onnxruntime-node');
    const t = new ort.Tensor('float32', new Float32Array([1, 2, 3, 4]), [2, 2]);
    assert.deepEqual(Array.from(t.data as Float32Array), [1, 2, 3, 4]);
    const sharp = requireFromExtension('sharp') as typeof import('sharp').default;
    const png = await sharp({ create: { width: 4, height: 3, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer();
    const meta = await sharp(png).metadata();
    assert.equal(meta.width, 4);
    assert.equal(meta.height, 3);
  });
});

describe('model status bar', () => {
  // The item shows the current model and, once it loaded, its execution provider; on the CPU the tooltip says why
  // in plain words. This machine runs onnxruntime-node's CPU build, so under "auto" CUDA is "not installed".
  it('shows the model name and provider; the tooltip gives the fallback reason without onnxruntime\'s raw text', async () => {
    const { api } = await activateAmc();
    const status = api.testHooks!.modelStatus;
    assert.ok(status().visible, 'the item is shown from activation');
    assert.match(status().text, /amc-small-synthetic/);
    const viewed = vscode.Uri.file(path.join(samplesDir(api.extensionPath), 'vg_val.json'));
    await vscode.commands.executeCommand('vscode.openWith', viewed, 'amc.annotationViewer');
    const loaded = await waitFor('the status bar to show the provider', () => (/ · (CPU|CUDA)$/.test(status().text) ? status() : undefined), 120_000);
    assert.equal(loaded.text, '$(symbol-misc) amc-small-synthetic · CPU');
    assert.match(loaded.tooltip, /CUDA provider not installed: see README › GPU/);
    assert.doesNotMatch(loaded.tooltip, /OrtSessionOptions|shared library|\.so/);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});

describe('restricted mode', () => {
  it('[untrusted] the harness opened this workspace untrusted and the extension still activates', async () => {
    assert.equal(vscode.workspace.isTrusted, false);
    const { ext } = await activateAmc();
    assert.equal(ext.isActive, true);
  });
});
