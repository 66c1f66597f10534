// The annotation viewer inside a real VS Code: every bundled format opens in the custom editor and its webview
// draws the first sample's explanation (read back through `amc.viewerState`, which reports what the webview
// itself displayed), Problems gets the readers' problems, "AMC: Explain phrase" explains a bundled image, and
// "AMC: Evaluate pointing game" scores the bundled sample data.
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EvaluationSummary } from '../../../src/shared/protocol';
import type { ViewerState } from '../../../src/editor/registry';
import { activateAmc, repoDir, samplesDir, waitFor, workspaceDir } from './helpers';

const ITM_NOTE = 'ITM head not trained for this model — only the GradCAM is meaningful';

const FORMATS: Array<{ format: string; file: string; viewType: string }> = [
  { format: 'vg-regions', file: 'region_descriptions.json', viewType: 'amc.annotationViewer' },
  { format: 'amc-vg', file: 'vg_val.json', viewType: 'amc.annotationViewer' },
  { format: 'flickr-raw', file: 'flickr30k/val.txt', viewType: 'amc.annotationViewer.anyFile' },
  { format: 'flickr-infoground', file: 'flickr30k/bounding_boxes_val.json', viewType: 'amc.annotationViewer' },
  { format: 'refcoco-pickle', file: 'refcoco+/refs(unc).p', viewType: 'amc.annotationViewer' },
  { format: 'refcoco-albef', file: 'refcoco+_val.json', viewType: 'amc.annotationViewer' },
];

async function states(): Promise<ViewerState[]> {
  return (await vscode.commands.executeCommand<ViewerState[]>('amc.viewerState')) ?? [];
}

let samples: string;
let repo: string;
let model = 'bundled default';
/** Measured numbers, written to test/.work/viewer-timings.json (console output of the host is not forwarded). */
const timings: Record<string, unknown> = {};

describe('annotation viewer (custom editor)', function () {
  this.timeout(180_000);

  before(async () => {
    const { api } = await activateAmc();
    repo = repoDir(api.extensionPath);
    samples = samplesDir(api.extensionPath);
    // The bundled default model when it is there; until it lands, the tiny random model the engine tests use.
    if (!existsSync(path.join(repo, 'models', 'amc-small-synthetic', 'model.json'))) {
      const tiny = path.join(repo, 'test', 'fixtures', 'model', 'tiny');
      await vscode.workspace.getConfiguration('amc').update('modelPath', tiny, vscode.ConfigurationTarget.Global);
      model = tiny;
    }
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    if (model !== 'bundled default') await vscode.workspace.getConfiguration('amc').update('modelPath', undefined, vscode.ConfigurationTarget.Global);
    const dir = path.join(repo, 'test', '.work');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'viewer-timings.json'), JSON.stringify({ model, ...timings }, null, 2));
  });

  for (const { format, file, viewType } of FORMATS) {
    it(`opens ${file} (${format}) and the webview shows the first sample's metrics`, async () => {
      const uri = vscode.Uri.file(path.join(samples, file));
      const opened = Date.now();
      await vscode.commands.executeCommand('vscode.openWith', uri, viewType);
      const state = await waitFor(`the first explanation of ${file} in the webview`, async () => {
        const s = (await states()).find((v) => v.kind === 'dataset' && v.file === uri.fsPath);
        return s?.lastShown && s.lastShown.index === 0 && s.lastShown.image !== 'loading' ? s : undefined;
      }, 120_000);
      assert.equal(state.lastShown!.image, 'loaded', 'the image pane did not draw the image (webview resource roots / CORS)');
      assert.equal(state.format, format);
      assert.ok(state.count > 0);
      const m = state.lastShown!.metrics;
      // The bundled model trains the AMC loss alone (card itm_trained: false): its ITM score means nothing (issue 13 item 5)
      assert.equal(m['ITM'], ITM_NOTE, `ITM note shown: ${JSON.stringify(m)}`);
      assert.equal(m['ITM score'], undefined);
      assert.equal(m['ITM probability'], undefined);
      assert.match(m['L_mean'], /^\d+\.\d{4}$/);
      assert.match(m['L_max'], /^\d+\.\d{4}$/);
      assert.match(m['hit'], /hit|miss/);
      timings[file] = { samples: state.count, openWithToShownMs: Date.now() - opened, sessionToShownMs: state.firstShownMs };
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    });
  }

  it('grants the webview the user\'s folders only, never the folders an annotation file lists (issue 12 item 3)', async () => {
    const dir = path.join(workspaceDir(), 'issue12-roots');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'hostile.json');
    const ssh = path.join(os.homedir(), '.ssh', 'id_rsa');
    writeFileSync(file, JSON.stringify([
      { image: '/etc/hostname', caption: 'the host name', bbox: [[0, 0, 1, 1]] },
      { image: ssh, caption: 'a key', bbox: [[0, 0, 1, 1]] },
    ]));
    const uri = vscode.Uri.file(file);
    await vscode.commands.executeCommand('vscode.openWith', uri, 'amc.annotationViewer.anyFile');
    const state = await waitFor('the hostile file in the viewer', async () => (await states()).find((v) => v.kind === 'dataset' && v.file === file && v.localResourceRoots));
    const roots = state.localResourceRoots!;
    const { api } = await activateAmc();
    const expected = [path.join(api.extensionPath, 'out'), path.join(api.extensionPath, 'media'), ...vscode.workspace.workspaceFolders!.map((f) => f.uri.fsPath), dir];
    assert.deepEqual([...roots].sort(), [...new Set(expected)].sort(), `localResourceRoots: ${JSON.stringify(roots)}`);
    for (const forbidden of ['/etc', '/', path.dirname(ssh), os.homedir()]) assert.ok(!roots.includes(forbidden), `the webview may read ${forbidden}`);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('Choose image folder…: both viewers of a file whose images live elsewhere show them at once afterwards (issue 14 item 6)', async () => {
    // A file whose relative image paths (VG_100K/1.jpg) do not resolve beside it: the images are in samples/synthetic.
    const dir = path.join(workspaceDir(), 'issue14-elsewhere');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'scenes.json');
    writeFileSync(file, JSON.stringify([
      { image: 'VG_100K/1.jpg', caption: 'a blue circle', bbox: [[349, 191, 389, 232]] },
      { image: 'VG_100K/1.jpg', caption: 'a purple diamond', bbox: [[154, 10, 241, 118]] },
    ]));
    const uri = vscode.Uri.file(file);
    const viewersOf = async () => (await states()).filter((v) => v.kind === 'dataset' && v.file === file);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand('vscode.openWith', uri, 'amc.annotationViewer.anyFile', vscode.ViewColumn.One);
    await vscode.commands.executeCommand('vscode.openWith', uri, 'amc.annotationViewer.anyFile', vscode.ViewColumn.Two);
    const before = await waitFor('two viewers saying the images were not found', async () => {
      const v = await viewersOf();
      return v.length === 2 && v.every((s) => s.missingImage) ? v : undefined;
    }, 60_000);
    assert.equal(before[0].missingImage, path.join(dir, 'VG_100K', '1.jpg'));
    // The folder dialog cannot be driven from the extension host (code-server shows its own quick-input dialog in
    // the browser): the test hook answers it, at that boundary only; the rest is the banner's own path.
    const { api } = await activateAmc();
    const asked: string[] = [];
    api.testHooks!.viewer.answerImageFolderDialog(async ({ datasetFile }) => { asked.push(datasetFile); return samples; });
    try {
      const chosen = await vscode.commands.executeCommand<string | null>('amc.chooseImageFolder', uri);
      assert.equal(chosen, samples);
      assert.deepEqual(asked, [file]);
      assert.equal(vscode.workspace.getConfiguration('amc').get<Record<string, string>>('imageRoots')?.[file], samples, 'saved in amc.imageRoots');
      const after = await waitFor('both viewers to draw the image they now find', async () => {
        const v = await viewersOf();
        return v.length === 2 && v.every((s) => !s.missingImage && s.lastShown?.image === 'loaded') ? v : undefined;
      }, 120_000);
      for (const s of after) {
        assert.ok(s.localResourceRoots!.includes(samples), `the chosen folder is not a resource root: ${JSON.stringify(s.localResourceRoots)}`);
        assert.match(s.lastShown!.metrics['L_max'], /^\d+\.\d{4}$/, 'the GradCAM of the current sample is drawn again');
      }
      // The setting is the other way the banner names: removing the entry by hand reloads both viewers without it.
      await vscode.workspace.getConfiguration('amc').update('imageRoots', undefined, vscode.ConfigurationTarget.Workspace);
      await waitFor('both viewers to lose the images with the setting', async () => {
        const v = await viewersOf();
        return v.length === 2 && v.every((s) => s.missingImage && !s.localResourceRoots!.includes(samples)) ? v : undefined;
      }, 60_000);
    } finally {
      api.testHooks!.viewer.answerImageFolderDialog(undefined);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await vscode.workspace.getConfiguration('amc').update('imageRoots', undefined, vscode.ConfigurationTarget.Workspace);
      await vscode.workspace.getConfiguration('amc').update('imageRoots', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  it('puts the readers\' problems in the Problems panel', async () => {
    const uri = vscode.Uri.file(path.join(repo, 'test', 'fixtures', 'datasets', 'vg', 'problems', 'amc_vg.json'));
    await vscode.commands.executeCommand('vscode.openWith', uri, 'amc.annotationViewer.anyFile');
    const diagnostics = await waitFor('diagnostics for amc_vg.json', () => {
      const d = vscode.languages.getDiagnostics(uri);
      return d.length ? d : undefined;
    }, 30_000);
    assert.ok(diagnostics.some((d) => d.source === 'AMC' && /empty "caption" list/.test(d.message)), JSON.stringify(diagnostics.map((d) => d.message)));
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('AMC: Explain phrase explains a bundled image in a panel', async () => {
    const image = vscode.Uri.file(path.join(samples, 'VG_100K', '1.jpg'));
    type Explained = { score: number; width: number; height: number; point: { x: number; y: number }; tokens: string[] };
    const result = await vscode.commands.executeCommand<Explained>(
      'amc.explainPhrase', image, 'a blue circle');
    assert.ok(result, 'the command returned no result');
    assert.ok(Number.isFinite(result.score));
    assert.ok(result.width > 0 && result.height > 0);
    assert.ok(result.point.x >= 0 && result.point.x < result.width && result.point.y >= 0 && result.point.y < result.height);
    assert.deepEqual(result.tokens.slice(0, 1), ['[CLS]']);
    const shown = await waitFor('the Explain phrase panel to draw', async () =>
      (await states()).find((s) => s.kind === 'single' && s.file === image.fsPath && s.lastShown?.phrase === 'a blue circle' && s.lastShown.image === 'loaded'), 60_000);
    assert.equal(shown.lastShown!.metrics['ITM'], ITM_NOTE);
    assert.equal(shown.lastShown!.metrics['ITM score'], undefined);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('AMC: Evaluate pointing game scores samples/synthetic and reports accuracy per split', async () => {
    const uri = vscode.Uri.file(path.join(samples, 'vg_val.json'));
    const summary = await vscode.commands.executeCommand<EvaluationSummary>('amc.evaluatePointingGame', uri);
    assert.ok(summary, 'the command returned no summary');
    assert.equal(summary.finished, true);
    assert.equal(summary.done, summary.total);
    const all = summary.bySplit.find((a) => a.split === 'all')!;
    assert.equal(all.total + summary.errors, summary.total);
    assert.equal(all.accuracy, all.hits / all.total);
    assert.ok(all.accuracy >= 0 && all.accuracy <= 1);
    const state = (await states()).find((s) => s.kind === 'dataset' && s.file === uri.fsPath)!;
    assert.equal(state.computedCount, summary.total);   // every sample computed (errors included)
    assert.deepEqual(state.evaluation?.bySplit, summary.bySplit);
    timings['evaluate vg_val.json'] = summary.bySplit;
  });

  it('AMC: Compare with another model… refuses a bad folder clearly, compares with a good one, and turns off', async () => {
    const uri = vscode.Uri.file(path.join(samples, 'vg_val.json'));
    // One viewer of the file (the evaluation above may have opened one in the background that never drew).
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await waitFor('the previous viewers to close', async () => ((await states()).some((s) => s.file === uri.fsPath) ? undefined : true), 30_000);
    await vscode.commands.executeCommand('vscode.openWith', uri, 'amc.annotationViewer');
    const viewer = async () => (await states()).find((s) => s.kind === 'dataset' && s.file === uri.fsPath);
    await waitFor('the viewer of vg_val.json', async () => ((await viewer())?.lastShown ? true : undefined), 120_000);
    type Result = { ok: true; comparison: { role: string; dir: string; name: string } | null } | { ok: false; error: string };
    // Not a model folder: a message naming it, the comparison unchanged, the host still answering.
    const bad = path.join(repo, 'test', 'fixtures', 'datasets');
    const refused = await vscode.commands.executeCommand<Result>('amc.compareModels', bad);
    assert.equal(refused.ok, false, JSON.stringify(refused));
    assert.ok(!refused.ok && refused.error.includes(bad), `error names the folder: ${JSON.stringify(refused)}`);
    assert.match((refused as { error: string }).error, /comparison model .* could not be opened: .*model\.json/);
    const missing = await vscode.commands.executeCommand<Result>('amc.compareModels', '/nonexistent/amc-model');
    assert.ok(!missing.ok && missing.error.includes('/nonexistent/amc-model'), JSON.stringify(missing));
    assert.ok((await viewer())?.comparison == null, 'a refused folder does not become the comparison');
    // A real model (the tiny test model): the open viewer shows its map beside the current one.
    const tiny = path.join(repo, 'test', 'fixtures', 'model', 'tiny');
    const set = await vscode.commands.executeCommand<Result>('amc.compareModels', tiny);
    assert.ok(set.ok && set.comparison && set.comparison.dir === tiny && set.comparison.role === 'chosen', JSON.stringify(set));
    const compared = await waitFor('the viewer to draw the comparison model', async () => {
      const v = await viewer();
      return v?.comparison && v.lastShown?.comparison?.metrics.L_max ? v : undefined;
    }, 60_000);
    assert.equal(compared.comparison!.dir, tiny);
    assert.equal((compared.comparison!.model as { name: string }).name, 'tiny-random-test');
    assert.match(compared.lastShown!.comparison!.metrics['L_max'], /^\d+\.\d{4}$/);
    assert.equal(compared.lastShown!.comparison!.label, 'comparison');
    // A bad folder now leaves the working comparison alone: evaluating still uses (and reports) the tiny model.
    const again = await vscode.commands.executeCommand<Result>('amc.compareModels', bad);
    assert.equal(again.ok, false);
    const summary = await vscode.commands.executeCommand<EvaluationSummary>('amc.evaluatePointingGame', uri);
    assert.ok(summary?.finished && summary.comparison, JSON.stringify(summary));
    assert.equal(summary.comparison.model.name, 'tiny-random-test');
    assert.equal(summary.comparison.errors, 0);
    const prevAll = summary.comparison.bySplit.find((a) => a.split === 'all')!, curAll = summary.bySplit.find((a) => a.split === 'all')!;
    assert.equal(prevAll.total, curAll.total);
    const dAll = summary.comparison.deltas.find((d) => d.split === 'all')!;
    assert.ok(Math.abs(dAll.deltaPts - (curAll.accuracy - prevAll.accuracy) * 100) < 1e-9, JSON.stringify(dAll));
    // Off (null, as a keybinding would pass it).
    const off = await vscode.commands.executeCommand<Result>('amc.compareModels', null);
    assert.deepEqual(off, { ok: true, comparison: null });
    await waitFor('the viewer to stop comparing', async () => ((await viewer())?.comparison === null ? true : undefined), 30_000);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});

describe('annotation viewer in Restricted Mode', function () {
  this.timeout(120_000);

  it('[untrusted] issue 12 item 3: a workspace\'s amc.imageRoots grants the webview nothing, the user\'s does', async () => {
    assert.equal(vscode.workspace.isTrusted, false);
    await activateAmc();
    const dir = path.join(workspaceDir(), 'issue12-restricted');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'hostile.json');
    writeFileSync(file, JSON.stringify([{ image: '/etc/hostname', caption: 'the host name', bbox: [[0, 0, 1, 1]] }]));
    const chosen = mkdtempSync(path.join(os.tmpdir(), 'amc-user-root-'));
    const config = () => vscode.workspace.getConfiguration('amc');
    const rootsOf = async () => {
      await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(file), 'amc.annotationViewer.anyFile');
      const s = await waitFor('the viewer of hostile.json', async () => (await states()).find((v) => v.kind === 'dataset' && v.file === file && v.localResourceRoots));
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await waitFor('the viewer to close', async () => ((await states()).some((v) => v.file === file) ? undefined : true));
      return s.localResourceRoots!;
    };
    try {
      // The data's say-so (a settings.json shipped in the folder): ignored in Restricted Mode.
      await config().update('imageRoots', { [file]: '/etc' }, vscode.ConfigurationTarget.Workspace);
      assert.ok(!(await rootsOf()).includes('/etc'), 'a workspace setting granted /etc in Restricted Mode');
      // The user's choice (user settings): counts.
      await config().update('imageRoots', { [file]: chosen }, vscode.ConfigurationTarget.Global);
      const roots = await rootsOf();
      assert.ok(roots.includes(chosen), `the user's image folder is not granted: ${JSON.stringify(roots)}`);
      assert.ok(!roots.includes('/etc'));
    } finally {
      await config().update('imageRoots', undefined, vscode.ConfigurationTarget.Workspace);
      await config().update('imageRoots', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});
