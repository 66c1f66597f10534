// "AMC: Fine-tune": the `amc` task provider, the command that asks for what is missing (and can save the
// task to .vscode/tasks.json), the status bar item, and the events the rest of the extension can follow.
import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import type { EngineHost } from '../editor/engineHost';
import * as path from 'node:path';
import { getSettings } from '../config';
import { type AmcTaskDefinition, TASK_TYPE, validateDefinition } from './definition';
import type { TrainerEvent } from './events';
import { preflight, type PreflightProblem } from './preflight';
import { currentModelDir, FineTuneTerminal, pythonExtensionInterpreter, type RunEvents, type RunResult, setSwitchPromptForTests, type SwitchQuestion } from './run';
import { detectFormat } from '../core/datasets';
import { gpuChoices, heldOutFileFor, isTrainableFormat, modelFolderName, runSummaryLines, sourceCheckpointOf, TRAINABLE_FORMATS } from '../core/fineTunePlan';
import type { DatasetFormat } from '../core/types';
import { resolveRun } from './definition';
import { chooseInterpreter, interpreterCandidates } from './python';

export const FINE_TUNE_COMMAND = 'amc.fineTune';
export const PROBLEM_MATCHER = '$amc-trainer';

/** What the extension exposes about fine-tuning (tests follow runs through it). */
export interface FineTuneApi {
  readonly onDidStartRun: vscode.Event<{ id: number; definition: AmcTaskDefinition }>;
  readonly onDidReceiveEvent: vscode.Event<{ id: number; event: TrainerEvent }>;
  readonly onDidFinishRun: vscode.Event<RunResult>;
  /** The vscode.Task for a definition (what the provider resolves and the command runs). */
  createTask(definition: AmcTaskDefinition, folder?: vscode.WorkspaceFolder): vscode.Task;
  /** Only under the extension-host test harness (testHooksEnabled): answers the "switch to a worse model?" question. */
  readonly testHooks?: { answerSwitchQuestion(answer: (q: SwitchQuestion) => Promise<'switch' | 'keep'>): void };
}

/** Arguments of the `amc.fineTune` command: any part of a definition, plus how to behave. */
export interface FineTuneCommandArgs {
  dataset?: string; imageRoot?: string; init?: string; heldOut?: string; skipBadSamples?: boolean; config?: string;
  epochs?: number; batchSize?: number;
  gpus?: number; output?: string; resume?: boolean; amcWeights?: [number, number]; amcMargins?: [number, number];
  exportAndUse?: boolean; extraArgs?: string[];
  interactive?: boolean;   // default true: ask for what is missing; false: use defaults, never prompt
  saveToTasksJson?: boolean;
}

/**
 * Test hooks (answers to modal questions, what a status-bar item shows) exist only under the extension-host test
 * harness: a development extension in test mode, or the installed .vsix that scripts/vscode-test.mjs starts with
 * AMC_TEST_HOOKS=1.
 */
export function testHooksEnabled(context: vscode.ExtensionContext): boolean {
  return context.extensionMode === vscode.ExtensionMode.Test || process.env.AMC_TEST_HOOKS === '1';
}

export type FineTuneCommandResult =
  | { ok: true; execution: vscode.TaskExecution; definition: AmcTaskDefinition; saved: boolean }
  | { ok: false; problems: PreflightProblem[] } | { ok: false; cancelled: true };

/** `engines`: the extension's engine host (src/extension.ts), told when a run's export switches or compares models. */
export function registerFineTune(context: vscode.ExtensionContext, engines: EngineHost): FineTuneApi {
  const events: RunEvents = {
    onEvent: new vscode.EventEmitter(), onStarted: new vscode.EventEmitter(), onFinished: new vscode.EventEmitter(),
  };
  const statusBar = vscode.window.createStatusBarItem('amc.fineTune.status', vscode.StatusBarAlignment.Left, 10);
  statusBar.name = 'AMC fine-tune';
  statusBar.command = 'workbench.action.tasks.showTasks';
  const terminals = new Set<FineTuneTerminal>();
  context.subscriptions.push(events.onEvent, events.onStarted, events.onFinished, statusBar, {
    // Deactivation (window closing): stop running trainers the way cancel does, so they checkpoint.
    dispose: () => terminals.forEach((t) => t.close()),
  });

  const createTask = (definition: AmcTaskDefinition, folder?: vscode.WorkspaceFolder): vscode.Task => {
    const scope = folder ?? vscode.workspace.workspaceFolders?.[0] ?? vscode.TaskScope.Workspace;
    const task = new vscode.Task(definition, scope, `Fine-tune on ${path.basename(definition.dataset || 'dataset')}`, 'amc',
      new vscode.CustomExecution(async (resolved) => {
        // VS Code hands back the definition with variables resolved; keep keys it may not carry over.
        const merged = { ...definition, ...(resolved as AmcTaskDefinition) };
        const t = new FineTuneTerminal(merged, typeof scope === 'object' ? scope : undefined, context, events, statusBar, engines);
        terminals.add(t);
        t.onDidClose(() => terminals.delete(t));
        return t;
      }), [PROBLEM_MATCHER]);
    task.detail = `AMC fine-tune: ${definition.dataset}`;
    task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, panel: vscode.TaskPanelKind.Dedicated, clear: true };
    return task;
  };

  context.subscriptions.push(vscode.tasks.registerTaskProvider(TASK_TYPE, {
    // Runs are configured per dataset by the command (or by hand in tasks.json); nothing to auto-detect.
    provideTasks: () => [],
    resolveTask: (task) => {
      const def = task.definition as AmcTaskDefinition;
      const folder = typeof task.scope === 'object' ? task.scope : undefined;
      return createTask(def, folder);
    },
  }));

  context.subscriptions.push(vscode.commands.registerCommand(FINE_TUNE_COMMAND,
    // From the explorer / editor title menus the argument is the clicked file: that is the dataset.
    (args?: FineTuneCommandArgs | vscode.Uri) =>
      fineTuneCommand(args instanceof vscode.Uri ? { dataset: args.fsPath } : args ?? {}, createTask, context)));

  return {
    onDidStartRun: events.onStarted.event,
    onDidReceiveEvent: events.onEvent.event,
    onDidFinishRun: events.onFinished.event,
    createTask,
    ...(testHooksEnabled(context) ? { testHooks: { answerSwitchQuestion: setSwitchPromptForTests } } : {}),
  };
}

/** Annotation files in the workspace (and the active editor's) that the trainer reads, detected by content. */
async function trainingFileChoices(): Promise<{ uri: vscode.Uri; format: DatasetFormat }[]> {
  const found = await vscode.workspace.findFiles('**/*.json', '**/{node_modules,.amc,.git,.vscode,.vscode-test}/**', 300);
  const active = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const activeUri = active && typeof active === 'object' && 'uri' in active ? (active as { uri: vscode.Uri }).uri : undefined;
  const list = activeUri && activeUri.fsPath.endsWith('.json') ? [activeUri, ...found] : found;
  const unique = list.filter((u, i) => list.findIndex((v) => v.fsPath === u.fsPath) === i);
  const detected = await Promise.all(unique.map(async (uri) => {
    try { return { uri, format: await detectFormat(uri.fsPath) }; } catch { return undefined; }
  }));
  return detected.filter((d): d is { uri: vscode.Uri; format: DatasetFormat } => !!d && isTrainableFormat(d.format));
}

const STEPS = 5;

async function askDataset(): Promise<{ file: string; format: DatasetFormat } | undefined> {
  const browse = '$(folder-opened) Browse…';
  const files = await trainingFileChoices();
  const items: (vscode.QuickPickItem & { format?: DatasetFormat })[] = [
    ...files.map(({ uri, format }) => ({ label: path.basename(uri.fsPath), description: `${vscode.workspace.asRelativePath(uri)} · ${format}`, detail: uri.fsPath, format })),
    { label: browse, alwaysShow: true },
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: `AMC: Fine-tune (1/${STEPS}) — training data`,
    placeHolder: files.length ? `Files the trainer reads (${TRAINABLE_FORMATS.join(', ')})` : 'No AMC VG JSON or VG region_descriptions.json in the workspace: browse',
  });
  if (!pick) return undefined;
  if (pick.label !== browse) return { file: pick.detail!, format: pick.format! };
  const chosen = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Annotations': ['json'] }, title: 'Training annotations' });
  if (!chosen?.[0]) return undefined;
  const file = chosen[0].fsPath;
  let format: DatasetFormat;
  try { format = await detectFormat(file); } catch (e) {
    void vscode.window.showErrorMessage(`AMC fine-tune: ${errorMessage(e)}`);
    return undefined;
  }
  if (!isTrainableFormat(format)) {
    void vscode.window.showErrorMessage(`AMC fine-tune: ${file} is ${format}; the trainer reads AMC VG JSON or VG region_descriptions.json (evaluate other formats with "AMC: Evaluate pointing game").`);
    return undefined;
  }
  return { file, format };
}

/** "start from": undefined init = the current model's checkpoint (the task default), "" = scratch, else a file. */
async function askStart(extensionPath: string): Promise<{ init: string | undefined; label: string } | 'cancel'> {
  const modelDir = currentModelDir(extensionPath);
  const current = await sourceCheckpointOf(modelDir);
  type Item = vscode.QuickPickItem & { choice: 'current' | 'file' | 'scratch' };
  const items: Item[] = [];
  if ('checkpoint' in current) {
    items.push({ label: `The current model (${path.basename(modelDir)})`, description: current.checkpoint, detail: 'fine-tune the model the viewers use now', choice: 'current' });
  }
  items.push(
    { label: 'A checkpoint…', detail: 'our checkpoint_XX.pth / last.pth, ALBEF.pth or AMC best_*.pth', choice: 'file' },
    { label: 'From scratch', detail: 'random weights (needs far more data and epochs)', choice: 'scratch' },
  );
  const pick = await vscode.window.showQuickPick(items, {
    title: `AMC: Fine-tune (2/${STEPS}) — start from`,
    placeHolder: 'checkpoint' in current ? 'Start from' : `The current model has no checkpoint (${current.none})`,
  });
  if (!pick) return 'cancel';
  if (pick.choice === 'current') return { init: undefined, label: `the current model ${modelDir} (${(current as { checkpoint: string }).checkpoint})` };
  if (pick.choice === 'scratch') return { init: '', label: 'scratch (random weights)' };
  const chosen = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'PyTorch checkpoints': ['pth', 'pt', 'bin'] }, title: 'Checkpoint to start from' });
  if (!chosen?.[0]) return 'cancel';
  return { init: chosen[0].fsPath, label: chosen[0].fsPath };
}

async function fineTuneCommand(
  args: FineTuneCommandArgs, createTask: FineTuneApi['createTask'], context: vscode.ExtensionContext,
): Promise<FineTuneCommandResult> {
  // Restricted Mode: say so before asking anything (the preflight's message, so it reads the same everywhere).
  if (!vscode.workspace.isTrusted) {
    const check = await preflight({
      trusted: false, trainerRoot: path.join(context.extensionPath, 'trainer'), candidates: [],
      run: { dataset: '', imageRoot: '', initSource: 'scratch', gpus: 0, output: '', resume: false, exportAndUse: false, skipBadSamples: false, extraArgs: [] },
    });
    const problems = check.ok ? [] : check.problems;
    void vscode.window.showErrorMessage(`AMC fine-tune: ${problems.map((p) => p.message).join(' ')}`, 'Manage Workspace Trust')
      .then((a) => { if (a) void vscode.commands.executeCommand('workbench.trust.manage'); });
    return { ok: false, problems };
  }
  const interactive = args.interactive ?? true;
  const folder = vscode.workspace.workspaceFolders?.[0];
  const { interactive: _i, saveToTasksJson, ...given } = args;
  const settings = getSettings(folder?.uri);

  let dataset = given.dataset;
  let format: string | undefined;
  if (!dataset && interactive) {
    const picked = await askDataset();
    dataset = picked?.file;
    format = picked?.format;
  }
  if (!dataset) {
    if (!interactive) return { ok: false, problems: [{ code: 'dataset-unreadable', message: 'no dataset given' }] };
    return { ok: false, cancelled: true };
  }
  if (interactive && format === undefined) {
    // Given by the explorer / editor menu: say now, not after the preflight, when the trainer cannot read it.
    try { format = await detectFormat(path.resolve(folder?.uri.fsPath ?? '', dataset)); } catch { /* the preflight names the problem */ }
    if (format !== undefined && !isTrainableFormat(format as DatasetFormat)) {
      const message = `${dataset} is ${format}; the trainer reads ${TRAINABLE_FORMATS.join(' or ')} (AMC VG JSON, VG region_descriptions.json)`;
      void vscode.window.showErrorMessage(`AMC fine-tune: ${message}`);
      return { ok: false, problems: [{ code: 'dataset-unreadable', file: dataset, message }] };
    }
  }
  let startLabel: string | undefined;
  if (!('init' in given) && interactive) {
    const start = await askStart(context.extensionPath);
    if (start === 'cancel') return { ok: false, cancelled: true };
    if (start.init !== undefined) given.init = start.init;
    startLabel = start.label;
  }
  let epochs = given.epochs;
  if (epochs === undefined && interactive) {
    const v = await vscode.window.showInputBox({
      title: `AMC: Fine-tune (3/${STEPS}) — epochs`, value: '1', prompt: 'Passes over the training data',
      validateInput: (s) => (/^[1-9]\d*$/.test(s.trim()) ? undefined : 'a whole number ≥ 1'),
    });
    if (v === undefined) return { ok: false, cancelled: true };
    epochs = Number(v);
  }
  let gpus = given.gpus;
  let pythonLabel = 'the interpreter the run finds';
  if (gpus === undefined && interactive) {
    // Offer GPU counts only when the interpreter the run will use has a torch that sees GPUs.
    const choice = await chooseInterpreter(interpreterCandidates(settings.pythonPath, await pythonExtensionInterpreter(folder?.uri)));
    const devices = choice.chosen?.cudaAvailable ? choice.chosen.cudaDevices ?? 0 : 0;
    pythonLabel = choice.chosen ? `Python ${choice.chosen.pythonVersion} (${choice.chosen.executable}), torch ${choice.chosen.torchVersion}, ${devices} GPU(s)`
      : 'no interpreter with PyTorch found (the run lists what it tried)';
    const counts = gpuChoices(devices, settings.trainerGpus);
    if (counts.length === 1) {
      gpus = 0;
    } else {
      const items = counts.map((n) => ({
        label: n === 0 ? 'CPU' : n === 1 ? '1 GPU' : `${n} GPUs (torchrun)`, n,
        description: n === settings.trainerGpus ? 'amc.trainer.gpus' : undefined,
      }));
      const pick = await vscode.window.showQuickPick(items, { title: `AMC: Fine-tune (4/${STEPS}) — where to train`, placeHolder: `torch sees ${devices} GPU(s)` });
      if (!pick) return { ok: false, cancelled: true };
      gpus = pick.n;
    }
  }
  const rel = (p: string) => (folder && path.isAbsolute(p) && !path.relative(folder.uri.fsPath, p).startsWith('..') ? path.relative(folder.uri.fsPath, p) : p);
  const definition: AmcTaskDefinition = { ...(given as object), type: 'amc', dataset: rel(dataset) } as AmcTaskDefinition;
  if (epochs !== undefined) definition.epochs = epochs;
  if (gpus !== undefined) definition.gpus = gpus;
  const errors = validateDefinition(definition);
  if (errors.length) {
    const problems = errors.map((message) => ({ code: 'dataset-unreadable' as const, message: `task definition: ${message}` }));
    void vscode.window.showErrorMessage(`AMC fine-tune: ${errors.join('; ')}`);
    return { ok: false, problems };
  }

  let save = saveToTasksJson ?? false;
  if (interactive) {
    // The run as it will happen, before it starts.
    const resolved = resolveRun(definition, { workspaceDir: folder?.uri.fsPath, trainerRoot: path.join(context.extensionPath, 'trainer'), defaultGpus: settings.trainerGpus });
    const lines = runSummaryLines({
      dataset: resolved.dataset, format: format ?? 'format checked when the run starts',
      startFrom: startLabel ?? (resolved.init ? resolved.init : definition.init === '' ? 'scratch (random weights)' : 'the current model'),
      epochs: resolved.epochs, gpus: resolved.gpus, python: pythonLabel, output: resolved.output,
      modelFolder: path.join(resolved.output, modelFolderName(resolved.dataset, new Date())),
      heldOut: resolved.heldOut ?? heldOutFileFor(resolved.dataset), exportAndUse: resolved.exportAndUse,
    });
    const start = 'Start';
    const startSave = 'Start and save to .vscode/tasks.json';
    const buttons = folder && saveToTasksJson === undefined ? [start, startSave] : [start];
    const pick = await vscode.window.showInformationMessage(`AMC: Fine-tune (${STEPS}/${STEPS}) — start this run?`, { modal: true, detail: lines.join('\n') }, ...buttons);
    if (!pick) return { ok: false, cancelled: true };
    if (saveToTasksJson === undefined) save = pick === startSave;
  }
  if (save && folder) await saveTask(definition, folder);
  const execution = await vscode.tasks.executeTask(createTask(definition, folder));
  return { ok: true, execution, definition, saved: save && !!folder };
}

/** Appends the task to the folder's tasks.json (through the settings API, which keeps the file's other tasks). */
async function saveTask(definition: AmcTaskDefinition, folder: vscode.WorkspaceFolder): Promise<void> {
  const config = vscode.workspace.getConfiguration('tasks', folder.uri);
  const tasks = [...(config.get<unknown[]>('tasks') ?? [])];
  tasks.push({ ...definition, label: `AMC: fine-tune on ${path.basename(definition.dataset)}`, problemMatcher: [PROBLEM_MATCHER] });
  if (config.get('version') === undefined) await config.update('version', '2.0.0', vscode.ConfigurationTarget.WorkspaceFolder);
  await config.update('tasks', tasks, vscode.ConfigurationTarget.WorkspaceFolder);
}
