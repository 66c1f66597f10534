// "AMC: Use a PyTorch checkpoint…" inside a real VS Code: one of our small checkpoints (2 training steps, generated
// here) is exported with progress, verified, switched to, and then explains an image in the Explain panel with the
// ITM score its card allows; a checkpoint of no known architecture is refused with the reason and changes nothing.
// (A base checkpoint goes through the same code in test/unit/cli/import.test.ts; a base export takes ~2 minutes.)
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { UseCheckpointResult } from '../../../src/commands/useCheckpoint';
import type { ViewerState } from '../../../src/editor/registry';
import { activateAmc, repoDir, samplesDir, waitFor, workspaceDir } from './helpers';

const SYSTEM_PYTHON = process.env.AMC_PYTHON || '/usr/bin/python3';

describe('AMC: Use a PyTorch checkpoint…', function () {
  this.timeout(10 * 60_000);
  let dir: string;
  let checkpoint: string;
  let trainer: string;

  before(async () => {
    const { api } = await activateAmc();
    trainer = path.join(repoDir(api.extensionPath), 'trainer');
    dir = path.join(workspaceDir(), '.amc', 'import-test');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    // one of our small checkpoints: the trainer's tiny test model, 2 steps (as trainer/tests do)
    const r = spawnSync(SYSTEM_PYTHON, [path.join(trainer, 'tests', 'small_checkpoint.py'), dir], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    checkpoint = path.join(dir, 'run', 'last.pth');
    await vscode.workspace.getConfiguration('amc').update('pythonPath', SYSTEM_PYTHON, vscode.ConfigurationTarget.Workspace);
  });

  after(async () => {
    const c = vscode.workspace.getConfiguration('amc');
    await c.update('modelPath', undefined, vscode.ConfigurationTarget.Workspace);
    await c.update('pythonPath', undefined, vscode.ConfigurationTarget.Workspace);
  });

  it('exports our small checkpoint next to it, switches amc.modelPath, and explains with it', async () => {
    const result = await vscode.commands.executeCommand<UseCheckpointResult>('amc.useCheckpoint', checkpoint);
    assert.ok(result && result.ok, JSON.stringify(result));
    assert.equal(result.modelDir, path.join(dir, 'run', 'last-onnx'));
    assert.match(result.layout, /amc_trainer checkpoint/);
    assert.deepEqual([result.missing, result.unexpected], [[], []]);
    assert.ok(result.parityError <= 1e-4, String(result.parityError));
    assert.equal(result.itmTrained, true);
    assert.equal(vscode.workspace.getConfiguration('amc').get('modelPath'), result.modelDir);

    const { api } = await activateAmc();
    const image = vscode.Uri.file(path.join(samplesDir(api.extensionPath), 'VG_100K', '1.jpg'));
    const explained = await vscode.commands.executeCommand<{ score: number; tokens: string[] }>('amc.explainPhrase', image, 'a red square');
    assert.ok(explained && Number.isFinite(explained.score));
    const shown = await waitFor('the Explain panel with the imported model', async () =>
      ((await vscode.commands.executeCommand<ViewerState[]>('amc.viewerState')) ?? []).find((s) => s.kind === 'single'
        && s.lastShown?.phrase === 'a red square' && s.lastShown.image === 'loaded'), 60_000);
    assert.equal((shown.model as { dir?: string }).dir, result.modelDir);
    // this checkpoint trained ITM (use_itm on), so its score is shown
    assert.equal(shown.lastShown!.metrics['ITM score'], explained.score.toFixed(3));
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('refuses a checkpoint of no known architecture, with the reason, and keeps the current model', async () => {
    const unknown = path.join(dir, 'unknown.pth');
    const r = spawnSync(SYSTEM_PYTHON, ['-c', `
import torch
from amc_trainer.checkpoint_io import read_checkpoint
torch.save({"model": read_checkpoint(${JSON.stringify(checkpoint)})["model"]}, ${JSON.stringify(unknown)})
`], { cwd: trainer, encoding: 'utf8', env: { ...process.env, PYTHONPATH: trainer } });
    assert.equal(r.status, 0, r.stderr);
    const before = vscode.workspace.getConfiguration('amc').get('modelPath');
    const result = await vscode.commands.executeCommand<UseCheckpointResult>('amc.useCheckpoint', { checkpoint: unknown, out: path.join(dir, 'unknown-model') });
    assert.ok(result && !result.ok);
    assert.match(result.error, /matches no known architecture/);
    assert.match(result.error, /vision_width 48 \(checkpoint\) vs 768/);
    assert.equal(fs.existsSync(path.join(dir, 'unknown-model')), false);
    assert.equal(vscode.workspace.getConfiguration('amc').get('modelPath'), before);
  });
});
