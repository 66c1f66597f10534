// "AMC: Fine-tune" inside a real VS Code: the task runs the bundled trainer on the bundled synthetic data
// (1 epoch, to completion: events, checkpoint, export, model switched), a run cancelled mid-epoch leaves its
// checkpoint, preflight failures are reported (no torch, bad inputs, Restricted Mode).
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ViewerState } from '../../../src/editor/registry';
import type { EvaluationSummary } from '../../../src/shared/protocol';
import type { AmcTaskDefinition } from '../../../src/tasks/definition';
import type { FineTuneCommandResult } from '../../../src/tasks/index';
import type { RunResult, SwitchQuestion } from '../../../src/tasks/run';
import type { TrainerEvent } from '../../../src/tasks/events';
import { activateAmc, report, samplesDir, waitFor, workspaceDir } from './helpers';

const SYSTEM_PYTHON = process.env.AMC_PYTHON || '/usr/bin/python3';

/** Runs a definition as a task and resolves with the run's result (and every event it saw). */
async function runTask(
  definition: AmcTaskDefinition, onEvent?: (e: TrainerEvent, execution: vscode.TaskExecution) => void,
): Promise<{ result: RunResult; events: TrainerEvent[] }> {
  const { api } = await activateAmc();
  const events: TrainerEvent[] = [];
  let execution: vscode.TaskExecution | undefined;
  let runId: number | undefined;
  const subs = [
    api.fineTune.onDidStartRun((r) => { if (r.definition.output === definition.output) runId = r.id; }),
    api.fineTune.onDidReceiveEvent(({ id, event }) => {
      if (id !== runId) return;
      events.push(event);
      if (onEvent && execution) onEvent(event, execution);
    }),
  ];
  try {
    const finished = new Promise<RunResult>((resolve) => {
      subs.push(api.fineTune.onDidFinishRun((r) => { if (r.id === runId) resolve(r); }));
    });
    execution = await vscode.tasks.executeTask(api.fineTune.createTask(definition));
    const result = await finished;
    return { result, events };
  } finally {
    subs.forEach((s) => s.dispose());
  }
}

/** A real interpreter without torch: the first `python3` on PATH when it lacks torch (pyenv here), else the system Python with -S. */
function pythonWithoutTorch(dir: string): string {
  let onPath = '';
  try { onPath = execFileSync('sh', ['-c', 'command -v python3'], { encoding: 'utf8' }).trim(); } catch { /* none on PATH */ }
  if (onPath && spawnSync(onPath, ['-c', 'import torch'], { stdio: 'ignore' }).status === 1) return onPath;
  const wrapper = path.join(dir, 'python-no-torch');
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ${SYSTEM_PYTHON} -S "$@"\n`, { mode: 0o755 });
  return wrapper;
}

describe('AMC: Fine-tune task', function () {
  this.timeout(15 * 60_000);
  let dataset: string;
  let ws: string;

  before(async () => {
    const { api } = await activateAmc();
    dataset = path.join(samplesDir(api.extensionPath), 'vg_train.json');
    ws = workspaceDir();
    assert.ok(fs.existsSync(dataset), `bundled sample data missing: ${dataset}`);
  });

  afterEach(async () => {
    await vscode.workspace.getConfiguration('amc').update('pythonPath', undefined, vscode.ConfigurationTarget.Workspace);
  });

  it('runs 1 epoch from the current (bundled) model to completion, exports, judges it on held-out data, and switches amc.modelPath', async () => {
    const output = path.join(ws, '.amc', 'runs', 'complete');
    // A viewer open before the run: after the switch it must compare the new model with the previous one.
    const { api } = await activateAmc();
    const viewed = vscode.Uri.file(path.join(samplesDir(api.extensionPath), 'vg_val.json'));
    const viewerStates = async () => (await vscode.commands.executeCommand<ViewerState[]>('amc.viewerState')) ?? [];
    const viewerOf = async () => (await viewerStates()).find((v) => v.kind === 'dataset' && v.file === viewed.fsPath);
    await vscode.commands.executeCommand('vscode.openWith', viewed, 'amc.annotationViewer');
    const before = await waitFor('the viewer’s first explanation', async () => { const v = await viewerOf(); return v?.lastShown?.index === 0 ? v : undefined; }, 120_000);
    const modelBefore = before.model as { dir?: string; name?: string };
    assert.ok(modelBefore?.dir, `model before: ${JSON.stringify(before.model)}`);
    // The switch question (asked only when the new model is worse on a held-out split): answered "switch" here.
    const questions: SwitchQuestion[] = [];
    api.fineTune.testHooks!.answerSwitchQuestion(async (q) => { questions.push(q); return 'switch'; });
    const t0 = Date.now();
    const { result, events } = await runTask({ type: 'amc', dataset, epochs: 1, batchSize: 8, output, exportAndUse: true });
    const wall = (Date.now() - t0) / 1000;
    report(`      fine-tune task wall time (1 epoch, train + export): ${wall.toFixed(1)} s; trainer wall_s ${
      (events.find((e) => e.event === 'done') as { wall_s?: number } | undefined)?.wall_s}`);
    assert.equal(result.status, 'finished', JSON.stringify({ problems: result.problems, errors: events.filter((e) => e.event === 'error') }));
    const kinds = new Set(events.map((e) => e.event));
    for (const k of ['step', 'epoch', 'checkpoint', 'done'] as const) assert.ok(kinds.has(k), `no "${k}" event (saw ${[...kinds]})`);
    assert.ok(result.python?.torchVersion, 'the interpreter used has torch');
    assert.ok(result.checkpoint && fs.existsSync(result.checkpoint), `checkpoint ${result.checkpoint}`);
    assert.ok(fs.existsSync(path.join(output, 'checkpoint_00.pth')));
    // Started from the bundled model's shipped checkpoint (its card's source_checkpoint), not from scratch.
    const bundledCheckpoint = path.join(api.extensionPath, 'models', 'amc-small-synthetic', 'checkpoint.pth');
    assert.equal(result.run?.initSource, 'current-model');
    assert.equal(result.run?.init, bundledCheckpoint);
    // The model folder is named after the dataset and the date; its card points back at the run's checkpoint.
    const modelDir = result.exportedModel!;
    assert.equal(path.dirname(modelDir), output);
    assert.match(path.basename(modelDir), /^vg_train-\d{4}-\d{2}-\d{2}-\d{4}$/);
    const card = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
    assert.equal(card.source_checkpoint.file, result.checkpoint);
    assert.match(card.source_checkpoint.sha256, /^[0-9a-f]{64}$/);
    // Judged against the previous model on the held-out split of the training data (vg_val.json beside it).
    assert.ok(result.heldOut, `held-out comparison: ${result.heldOutError}`);
    assert.equal(result.heldOut.file, path.join(path.dirname(dataset), 'vg_val.json'));
    const worse = result.heldOut.deltas.filter((d) => d.split !== 'all' && d.currentHits < d.comparisonHits);
    report(`      held-out vg_val.json, bundled → fine-tuned: ${result.heldOut.deltas.map((d) => `${d.split} ${d.comparisonHits}/${d.comparisonTotal} → ${d.currentHits}/${d.currentTotal} (${d.deltaPts >= 0 ? '+' : ''}${d.deltaPts.toFixed(1)} pts)`).join(', ')}; decision: ${result.switchDecision}`);
    if (worse.length) {
      assert.equal(result.switchDecision, 'switched-after-asking');
      assert.equal(questions.length, 1, 'asked once');
      for (const d of worse) assert.ok(questions[0].detail.includes(`${d.split}: `), questions[0].detail);
    } else {
      assert.equal(result.switchDecision, 'switched', 'not worse on any split: switched without asking');
      assert.equal(questions.length, 0);
    }
    for (const f of ['model.json', 'image_encoder.onnx', 'grounding.onnx']) assert.ok(fs.existsSync(path.join(modelDir, f)), `${f} exported`);
    assert.equal(vscode.workspace.getConfiguration('amc').get('modelPath'), modelDir, 'amc.modelPath switched to the new model');
    fs.writeFileSync(path.join(ws, 'fine-tune-timing.json'), JSON.stringify({ wallSeconds: wall, events: events.length }));

    // The open viewer re-explained its sample with the new model, beside the previous model's map.
    const compared = await waitFor('the viewer to show the new and the previous model side by side', async () => {
      const v = await viewerOf();
      return v?.comparison && !('error' in v.comparison.model) && (v.model as { dir?: string })?.dir === modelDir
        && v.lastShown?.index === 0 && v.lastShown.comparison?.metrics.L_max ? v : undefined;
    }, 120_000);
    assert.equal(compared.comparison!.role, 'previous');
    assert.equal(compared.comparison!.dir, modelBefore.dir, 'the comparison model is the model used before the switch');
    assert.equal(result.previousModel, '', 'amc.modelPath was empty before: the bundled default model');
    const shown = compared.lastShown!;
    for (const m of [shown.metrics, shown.comparison!.metrics]) {
      assert.match(m['L_mean'], /^\d+\.\d{4}$/, JSON.stringify(shown));
      assert.match(m['L_max'], /^\d+\.\d{4}$/);
      assert.match(m['hit'], /hit|miss/);
    }
    assert.equal(shown.comparison!.label, 'previous');
    // "AMC: Evaluate pointing game" on that viewer evaluates both and reports the per-split delta.
    const summary = await vscode.commands.executeCommand<EvaluationSummary>('amc.evaluatePointingGame', viewed);
    assert.ok(summary?.finished && summary.comparison, `summary: ${JSON.stringify(summary)}`);
    assert.equal(summary.comparison.role, 'previous');
    assert.deepEqual(summary.comparison.deltas.map((d) => d.split), summary.bySplit.map((a) => a.split));
    const comparisonSplits = summary.comparison.bySplit;
    for (const d of summary.comparison.deltas) {
      const cur = summary.bySplit.find((a) => a.split === d.split)!;
      const prev = comparisonSplits.find((a) => a.split === d.split)!;
      assert.equal(cur.total, prev.total, `${d.split}: both models scored every query`);
      assert.ok(Math.abs(d.deltaPts - (cur.accuracy - prev.accuracy) * 100) < 1e-9, `${d.split}: ${JSON.stringify(d)}`);
    }
    const evaluated = (await viewerOf())!;
    assert.deepEqual(evaluated.evaluation?.comparison?.deltas, summary.comparison.deltas);
    report(`      after the switch: ${summary.comparison.deltas.map((d) => `${d.split} ${(d.comparison * 100).toFixed(1)}% → ${(d.current * 100).toFixed(1)}% (${d.deltaPts >= 0 ? '+' : ''}${d.deltaPts.toFixed(1)} pts)`).join(', ')}`);

    await vscode.workspace.getConfiguration('amc').update('modelPath', undefined, vscode.ConfigurationTarget.Workspace);
    // Back on the previous (default) model: it is the current one again, so nothing is compared.
    await waitFor('the comparison to end once the previous model is current again', async () => {
      const v = await viewerOf();
      return v && v.comparison === null ? v : undefined;
    }, 60_000);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('a fine-tune that is worse on held-out data is not switched to without asking; kept, it stays available as the comparison', async () => {
    const output = path.join(ws, '.amc', 'runs', 'worse');
    const { api } = await activateAmc();
    const modelPathBefore = vscode.workspace.getConfiguration('amc').get('modelPath');
    const questions: SwitchQuestion[] = [];
    api.fineTune.testHooks!.answerSwitchQuestion(async (q) => { questions.push(q); return 'keep'; });
    // From scratch, one short epoch: far below the bundled model on vg_val.json.
    const { result } = await runTask({ type: 'amc', dataset, init: '', epochs: 1, batchSize: 8, output, exportAndUse: true });
    assert.equal(result.status, 'finished', JSON.stringify(result.problems));
    assert.equal(result.run?.initSource, 'scratch');
    assert.ok(result.heldOut, `held-out comparison: ${result.heldOutError}`);
    report(`      from scratch, held-out: ${result.heldOut.deltas.map((d) => `${d.split} ${(d.comparison * 100).toFixed(1)}% → ${(d.current * 100).toFixed(1)}%`).join(', ')}; decision: ${result.switchDecision}`);
    assert.equal(questions.length, 1, 'the user was asked');
    assert.match(questions[0].message, /worse on/);
    assert.match(questions[0].detail, /pts/);
    assert.equal(result.switchDecision, 'kept');
    assert.equal(vscode.workspace.getConfiguration('amc').get('modelPath'), modelPathBefore, 'amc.modelPath unchanged');
    // The comparison stays available: viewers now show the new model beside the current one.
    const viewed = vscode.Uri.file(path.join(samplesDir(api.extensionPath), 'vg_val.json'));
    await vscode.commands.executeCommand('vscode.openWith', viewed, 'amc.annotationViewer');
    await waitFor('the viewer to compare with the kept fine-tuned model', async () => {
      const v = ((await vscode.commands.executeCommand<ViewerState[]>('amc.viewerState')) ?? []).find((x) => x.kind === 'dataset' && x.file === viewed.fsPath);
      return v?.comparison && v.comparison.dir === result.exportedModel ? v : undefined;
    }, 120_000);
    await vscode.commands.executeCommand('amc.compareModels', 'off');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('the command refuses a file the trainer cannot read before asking anything', async () => {
    const { api } = await activateAmc();
    const file = vscode.Uri.file(path.join(samplesDir(api.extensionPath), 'refcoco+_test.json'));
    const res = await vscode.commands.executeCommand<FineTuneCommandResult>('amc.fineTune', file);
    assert.equal(res.ok, false);
    assert.ok('problems' in res, JSON.stringify(res));
    assert.match(res.problems[0].message, /refcoco\+_test\.json is refcoco-albef; the trainer reads amc-vg or vg-regions/);
  });

  it('cancelling mid-epoch stops the trainer after it saves a checkpoint', async () => {
    const output = path.join(ws, '.amc', 'runs', 'cancelled');
    let terminated = false;
    const { result, events } = await runTask(
      { type: 'amc', dataset, epochs: 3, batchSize: 4, output, extraArgs: ['--log_every', '1'] },
      (e, execution) => {
        // After the first optimizer step: the trainer's signal handler is installed and the epoch is under way.
        if (e.event === 'step' && !terminated) { terminated = true; execution.terminate(); }
      });
    assert.ok(terminated, 'the run never reached a step');
    assert.equal(result.status, 'interrupted', JSON.stringify(result.problems));
    const ckpt = events.find((e) => e.event === 'checkpoint');
    assert.ok(ckpt && ckpt.event === 'checkpoint' && ckpt.reason === 'signal', `checkpoint event: ${JSON.stringify(ckpt)}`);
    const done = events.find((e) => e.event === 'done');
    assert.ok(done && done.event === 'done' && done.status === 'interrupted' && done.signal === 'SIGTERM');
    assert.ok(fs.existsSync(path.join(output, 'last.pth')), 'last.pth written on cancel');
    assert.ok(done.step < 3 * Math.floor(119 / 4), 'stopped before the end');
  });

  it('preflight: an interpreter without torch is reported with its version and how to install torch', async () => {
    const python = pythonWithoutTorch(ws);
    await vscode.workspace.getConfiguration('amc').update('pythonPath', python, vscode.ConfigurationTarget.Workspace);
    const { result, events } = await runTask({ type: 'amc', dataset, epochs: 1, output: path.join(ws, '.amc', 'runs', 'no-torch') });
    assert.equal(result.status, 'preflight-failed');
    assert.equal(events.length, 0, 'the trainer never started');
    const p = result.problems.find((x) => x.code === 'no-torch');
    assert.ok(p, JSON.stringify(result.problems));
    assert.match(p.message, /Python 3\.\d+\.\d+ at .* has no PyTorch/);
    assert.match(p.message, /pip install torch/);
  });

  it('preflight: unreadable dataset, unwritable output and CUDA asked without a GPU are all reported; errors reach Problems', async () => {
    const missing = path.join(ws, 'no-such-train.json');
    const { result } = await runTask({ type: 'amc', dataset: missing, epochs: 1, gpus: 1, output: '/proc/amc-not-writable' });
    assert.equal(result.status, 'preflight-failed');
    const codes = result.problems.map((p) => p.code).sort();
    const cuda = result.python?.cudaAvailable;
    assert.deepEqual(codes, cuda ? ['dataset-unreadable', 'output-not-writable'] : ['cuda-unavailable', 'dataset-unreadable', 'output-not-writable']);
    // The $amc-trainer problem matcher turns the task's error lines into diagnostics on the named file.
    const diags = await waitFor('a diagnostic on the missing dataset', () => {
      const d = vscode.languages.getDiagnostics(vscode.Uri.file(missing));
      return d.length ? d : undefined;
    }, 20_000);
    assert.match(diags[0].message, /does not exist/);
  });

  it('preflight: a trainer error event lands in the Problems panel on the file it names', async () => {
    const broken = path.join(ws, 'broken_train.json');
    fs.writeFileSync(broken, '[{"image": "VG_100K/2.jpg", "caption": "a red circle", "bbox": [[1, 2, 3]]');
    const { result, events } = await runTask({ type: 'amc', dataset: broken, imageRoot: samplesDir((await activateAmc()).api.extensionPath),
      epochs: 1, output: path.join(ws, '.amc', 'runs', 'broken') });
    assert.equal(result.status, 'failed');
    const err = events.find((e) => e.event === 'error');
    assert.ok(err, 'the trainer reported an error event');
    const diags = await waitFor('a diagnostic on the broken dataset', () => {
      const d = vscode.languages.getDiagnostics(vscode.Uri.file(broken));
      return d.length ? d : undefined;
    }, 20_000);
    assert.equal(diags[0].severity, vscode.DiagnosticSeverity.Error);
  });

  it('the command saves the task to .vscode/tasks.json when asked, and it resolves through the provider', async () => {
    const output = path.join(ws, '.amc', 'runs', 'saved');
    const { api } = await activateAmc();
    const finished = new Promise<RunResult>((resolve) => {
      const sub = api.fineTune.onDidFinishRun((r) => { if (r.definition.output === output) { sub.dispose(); resolve(r); } });
    });
    // Preflight fails fast on purpose (dataset missing): this test is about saving and re-running.
    const res = await vscode.commands.executeCommand<FineTuneCommandResult>('amc.fineTune', {
      dataset: path.join(ws, 'missing-for-save.json'), epochs: 1, output, interactive: false, saveToTasksJson: true,
    });
    assert.ok(res.ok, JSON.stringify(res));
    await finished;
    const tasksJson = JSON.parse(fs.readFileSync(path.join(ws, '.vscode', 'tasks.json'), 'utf8'));
    const saved = tasksJson.tasks.find((t: { type: string; output?: string }) => t.type === 'amc' && t.output === output);
    assert.ok(saved, JSON.stringify(tasksJson));
    assert.equal(saved.dataset, 'missing-for-save.json', 'paths inside the workspace are saved relative');
    assert.deepEqual(saved.problemMatcher, ['$amc-trainer']);
    const tasks = await vscode.tasks.fetchTasks({ type: 'amc' });
    assert.ok(tasks.some((t) => (t.definition as AmcTaskDefinition).output === output), 'the saved task is listed');
  });
});

describe('AMC: Fine-tune in Restricted Mode', () => {
  it('[untrusted] refuses with the Restricted Mode message and runs no interpreter', async () => {
    const { api } = await activateAmc();
    assert.equal(vscode.workspace.isTrusted, false);
    const res = await vscode.commands.executeCommand<FineTuneCommandResult>('amc.fineTune', {
      dataset: path.join(samplesDir(api.extensionPath), 'vg_train.json'), epochs: 1, interactive: false,
    });
    assert.equal(res.ok, false);
    assert.ok('problems' in res);
    assert.deepEqual(res.problems.map((p) => p.code), ['untrusted']);
    assert.match(res.problems[0].message, /Restricted Mode/);
    assert.equal(api.fineTune !== undefined, true);
  });
});
