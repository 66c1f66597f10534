// Issue 12 item 5 inside a real VS Code: the viewer's Problems entries are amc lint's for the whole file, a file with a
// bad entry opens, and the entries live in their own collection, so the fine-tune task's problem matcher (owner 'amc')
// does not empty them.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { openDataset } from '../../../src/core/datasets/index';
import { lintDataset } from '../../../src/core/lint';
import type { ViewerState } from '../../../src/editor/registry';
import type { RunResult } from '../../../src/tasks/run';
import { activateAmc, repoDir, samplesDir, waitFor, workspaceDir } from './helpers';

async function lintCount(file: string): Promise<number> {
  const ds = await openDataset(file);
  try { return (await lintDataset(ds)).problems.filter((p) => p.location.file === file).length; } finally { await ds.close(); }
}

describe('viewer Problems panel (own collection, whole file)', function () {
  this.timeout(180_000);
  let repo: string;
  before(async () => { repo = repoDir((await activateAmc()).api.extensionPath); });
  afterEach(async () => { await vscode.commands.executeCommand('workbench.action.closeAllEditors'); });

  it('a file with a bad entry opens; Problems holds what amc lint finds, the bad entry included', async () => {
    const file = path.join(repo, 'test', 'fixtures', 'datasets', 'bad', 'vg_missing_phrase.json');
    const uri = vscode.Uri.file(file);
    await vscode.commands.executeCommand('vscode.openWith', uri, 'amc.annotationViewer.anyFile');
    const state = await waitFor('the viewer session of vg_missing_phrase.json', async () =>
      ((await vscode.commands.executeCommand<ViewerState[]>('amc.viewerState')) ?? []).find((s) => s.file === file), 30_000);
    assert.equal(state.count, 1, 'the readable region is listed');
    const expected = await lintCount(file);
    const diags = await waitFor('the lint entries', () => { const d = vscode.languages.getDiagnostics(uri); return d.length === expected ? d : undefined; }, 30_000);
    assert.ok(diags.some((d) => d.code === 'unreadable-entry' && /image 7, region 12 at byte 110: "phrase" is undefined/.test(d.message)), JSON.stringify(diags.map((d) => d.message)));
  });

  it('the problems of the whole file, as many as amc lint finds (vg/problems)', async () => {
    const file = path.join(repo, 'test', 'fixtures', 'datasets', 'vg', 'problems', 'region_descriptions.json');
    const uri = vscode.Uri.file(file);
    const expected = await lintCount(file);
    assert.ok(expected > 0);
    await vscode.commands.executeCommand('vscode.openWith', uri, 'amc.annotationViewer');
    await waitFor(`${expected} diagnostics`, () => (vscode.languages.getDiagnostics(uri).length === expected ? true : undefined), 30_000);
  });

  it('survive the fine-tune task\'s problem matcher (owner "amc")', async () => {
    const { api } = await activateAmc();
    const { ext } = await activateAmc();
    const owners = (ext.packageJSON.contributes.problemMatchers as { owner: string }[]).map((m) => m.owner);
    const { VIEWER_DIAGNOSTICS_NAME } = await import('../../../src/editor/diagnostics');
    assert.ok(!owners.includes(VIEWER_DIAGNOSTICS_NAME), `the viewer's collection ${VIEWER_DIAGNOSTICS_NAME} differs from the matcher owners ${owners.join(', ')}`);

    // Fine-tuning on the very file the viewer shows: the trainer's error line names it, and the $amc-trainer matcher
    // (owner "amc") sets its markers on that file — which replaced the viewer's when both used the name "amc".
    const ws = workspaceDir();
    const file = path.join(ws, 'broken_for_diagnostics.json');
    fs.writeFileSync(file, '[{"image": "VG_100K/1.jpg", "caption": "a red circle", "bbox": [[1, 2, 30, 40]]}, {"image": "VG_100K/2.jpg", "caption": "cut", "bbox": [[1, 2, 3]]');
    const uri = vscode.Uri.file(file);
    await vscode.commands.executeCommand('vscode.openWith', uri, 'amc.annotationViewer.anyFile');
    const viewerEntries = await waitFor('the viewer\'s diagnostics', () => { const d = vscode.languages.getDiagnostics(uri).filter((x) => x.source === 'AMC'); return d.length ? d : undefined; }, 30_000);

    const output = path.join(ws, '.amc', 'runs', 'diagnostics');
    let runId: number | undefined;
    const subs: vscode.Disposable[] = [api.fineTune.onDidStartRun((r) => { if (r.definition.output === output) runId = r.id; })];
    const finished = new Promise<RunResult>(
      (resolve) => subs.push(api.fineTune.onDidFinishRun((r) => { if (r.id === runId) resolve(r); })));
    try {
      await vscode.tasks.executeTask(api.fineTune.createTask({ type: 'amc', dataset: file, imageRoot: samplesDir(api.extensionPath), epochs: 1, output }));
      assert.notEqual((await finished).status, 'succeeded');
    } finally { subs.forEach((s) => s.dispose()); }
    await waitFor('the matcher\'s diagnostic on the dataset', () => (vscode.languages.getDiagnostics(uri).some((d) => d.source === 'AMC trainer') ? true : undefined), 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    const after = vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'AMC');
    assert.deepEqual(after.map((d) => d.message).sort(), viewerEntries.map((d) => d.message).sort(), 'the viewer\'s Problems entries are still there');
  });
});
