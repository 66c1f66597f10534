// "AMC: Fine-tune": the `amc` task provider, the command that asks for what is missing (and can save the
// task to .vscode/tasks.json), the status bar item, and the events the rest of the extension can follow.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { getSettings } from '../config';
import { type AmcTaskDefinition, TASK_TYPE, validateDefinition } from './definition';
import type { TrainerEvent } from './events';
import { preflight, type PreflightProblem } from './preflight';
import { FineTuneTerminal, type RunEvents, type RunResult } from './run';

export const FINE_TUNE_COMMAND = 'amc.fineTune';
export const PROBLEM_MATCHER = '$amc-trainer';

/** What the extension exposes about fine-tuning (tests follow runs through it). */
export interface FineTuneApi {
  readonly onDidStartRun: vscode.Event<{ id: number; definition: AmcTaskDefinition }>;
  readonly onDidReceiveEvent: vscode.Event<{ id: number; event: TrainerEvent }>;
  readonly onDidFinishRun: vscode.Event<RunResult>;
  /** The vscode.Task for a definition (what the provider resolves and the command runs). */
  createTask(definition: AmcTaskDefinition, folder?: vscode.WorkspaceFolder): vscode.Task;
}

/** Arguments of the `amc.fineTune` command: any part of a definition, plus how to behave. */
export interface FineTuneCommandArgs {
  dataset?: string; imageRoot?: string; init?: string; config?: string; epochs?: number; batchSize?: number;
  gpus?: number; output?: string; resume?: boolean; amcWeights?: [number, number]; amcMargins?: [number, number];
  exportAndUse?: boolean; extraArgs?: string[];
  interactive?: boolean;   // default true: ask for what is missing; false: use defaults, never prompt
  saveToTasksJson?: boolean;
}

export type FineTuneCommandResult =
  | { ok: true; execution: vscode.TaskExecution; definition: AmcTaskDefinition; saved: boolean }
  | { ok: false; problems: PreflightProblem[] } | { ok: false; cancelled: true };

export function registerFineTune(context: vscode.ExtensionContext): FineTuneApi {
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
        const t = new FineTuneTerminal(merged, typeof scope === 'object' ? scope : undefined, context, events, statusBar);
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
    (args?: FineTuneCommandArgs | vscode.Uri) => fineTuneCommand(args instanceof vscode.Uri ? { dataset: args.fsPath } : args ?? {}, createTask, context)));

  return {
    onDidStartRun: events.onStarted.event,
    onDidReceiveEvent: events.onEvent.event,
    onDidFinishRun: events.onFinished.event,
    createTask,
  };
}

/** Annotation files the trainer reads (spec §5.1 AMC VG JSON, raw VG region_descriptions.json). */
async function trainingFileChoices(): Promise<vscode.Uri[]> {
  const found = await vscode.workspace.findFiles('**/{*train*.json,region_descriptions.json}', '**/{node_modules,.amc,.git}/**', 50);
  const active = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const activeUri = active && typeof active === 'object' && 'uri' in active ? (active as { uri: vscode.Uri }).uri : undefined;
  const list = activeUri && activeUri.fsPath.endsWith('.json') ? [activeUri, ...found] : found;
  return list.filter((u, i) => list.findIndex((v) => v.fsPath === u.fsPath) === i);
}

async function askDataset(): Promise<string | undefined> {
  const browse = '$(folder-opened) Browse…';
  const files = await trainingFileChoices();
  const items: vscode.QuickPickItem[] = [
    ...files.map((u) => ({ label: path.basename(u.fsPath), description: vscode.workspace.asRelativePath(u), detail: u.fsPath })),
    { label: browse, alwaysShow: true },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'AMC: Fine-tune (1/3) — training data', placeHolder: 'AMC VG JSON or VG region_descriptions.json' });
  if (!pick) return undefined;
  if (pick.label !== browse) return pick.detail;
  const chosen = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Annotations': ['json'] }, title: 'Training annotations' });
  return chosen?.[0]?.fsPath;
}

async function fineTuneCommand(
  args: FineTuneCommandArgs, createTask: FineTuneApi['createTask'], context: vscode.ExtensionContext,
): Promise<FineTuneCommandResult> {
  // Restricted Mode: say so before asking anything (the preflight's message, so it reads the same everywhere).
  if (!vscode.workspace.isTrusted) {
    const check = await preflight({
      trusted: false, trainerRoot: path.join(context.extensionPath, 'trainer'), candidates: [],
      run: { dataset: '', imageRoot: '', gpus: 0, output: '', resume: false, exportAndUse: false, extraArgs: [] },
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
  if (!dataset && interactive) dataset = await askDataset();
  if (!dataset) {
    if (!interactive) return { ok: false, problems: [{ code: 'dataset-unreadable', message: 'no dataset given' }] };
    return { ok: false, cancelled: true };
  }
  let epochs = given.epochs;
  if (epochs === undefined && interactive) {
    const v = await vscode.window.showInputBox({
      title: 'AMC: Fine-tune (2/3) — epochs', value: '1', prompt: 'Passes over the training data',
      validateInput: (s) => (/^[1-9]\d*$/.test(s.trim()) ? undefined : 'a whole number ≥ 1'),
    });
    if (v === undefined) return { ok: false, cancelled: true };
    epochs = Number(v);
  }
  let gpus = given.gpus;
  if (gpus === undefined && interactive) {
    const items = [0, 1, 2, 4, 8].map((n) => ({
      label: n === 0 ? 'CPU' : n === 1 ? '1 GPU' : `${n} GPUs (torchrun)`, n,
      description: n === settings.trainerGpus ? 'amc.trainer.gpus' : undefined,
    }));
    items.sort((a, b) => (a.n === settings.trainerGpus ? -1 : b.n === settings.trainerGpus ? 1 : 0));
    const pick = await vscode.window.showQuickPick(items, { title: 'AMC: Fine-tune (3/3) — where to train' });
    if (!pick) return { ok: false, cancelled: true };
    gpus = pick.n;
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
  if (saveToTasksJson === undefined && interactive && folder) {
    const run = 'Run';
    const runSave = 'Run and save to .vscode/tasks.json';
    const pick = await vscode.window.showQuickPick([run, runSave], { title: 'AMC: Fine-tune' });
    if (!pick) return { ok: false, cancelled: true };
    save = pick === runSave;
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
