// One fine-tuning run inside VS Code: the task's pseudoterminal (CustomExecution), the preflight, the
// trainer process and its JSON-lines events → terminal lines, a progress notification, the status bar item,
// problem-matcher lines; cancel → SIGTERM and wait for the trainer's checkpoint; then export + switch model.
import * as vscode from 'vscode';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { getSettings, setModelPath } from '../config';
import { outputChannel } from '../output';
import type { EngineHost } from '../editor/engineHost';
import { PREVIOUS_MODEL_KEY } from '../shared/comparison';
import { decideSwitch, describeDeltas, exportDirFor, heldOutFileFor, sha256File, sourceCheckpointOf } from '../core/fineTunePlan';
import { defaultModelDir } from '../model/engine';
import { compareOnHeldOut, type HeldOutComparison } from './heldOut';
import {
  type AmcTaskDefinition, displayCommand, exportCommand, type ProcessSpec, type ResolvedRun, resolveRun, trainerCommand,
  validateDefinition,
} from './definition';
import { describeEvent, errorFile, LineSplitter, parseEventLine, problemLine, RunProgress, type TrainerEvent } from './events';
import { preflight, type PreflightProblem } from './preflight';
import { interpreterCandidates, type PythonProbe } from './python';
import { errorMessage } from '../core/errors';

export type RunStatus = 'finished' | 'interrupted' | 'failed' | 'preflight-failed';

/** What a run ended with (the API the tests and the "use this model" step read). */
export interface RunResult {
  id: number;
  definition: AmcTaskDefinition;
  run?: ResolvedRun;
  status: RunStatus;
  events: TrainerEvent[];
  problems: PreflightProblem[];
  python?: PythonProbe;
  checkpoint?: string;
  exitCode?: number | null;
  exportedModel?: string;   // set when the run exported (switched to it or not: see `switchDecision`)
  previousModel?: string;   // amc.modelPath before the export ('' = bundled default)
  /** Previous and new model on the held-out data (absent when it could not be evaluated: `heldOutError`). */
  heldOut?: HeldOutComparison;
  heldOutError?: string;
  /** 'switched': not worse on any split; otherwise the user was asked (`switchQuestion`) and chose. */
  switchDecision?: SwitchOutcome;
  switchQuestion?: SwitchQuestion;
  wallSeconds: number;
}

export interface RunEvents {
  readonly onEvent: vscode.EventEmitter<{ id: number; event: TrainerEvent }>;
  readonly onStarted: vscode.EventEmitter<{ id: number; definition: AmcTaskDefinition }>;
  readonly onFinished: vscode.EventEmitter<RunResult>;
}

/** Where the previous model is kept, so the viewer can compare before/after (workspaceState key). */
export { PREVIOUS_MODEL_KEY };

export type SwitchOutcome = 'switched' | 'switched-after-asking' | 'kept';

/** What the user is asked when the new model is worse (or could not be compared) on the held-out data. */
export interface SwitchQuestion { message: string; detail: string; deltas: HeldOutComparison['deltas']; }

export const SWITCH_ANYWAY = 'Switch to the new model';
export const KEEP_CURRENT = 'Keep the current model';

/** Asks with a modal; the extension-host tests answer through FineTuneApi.testHooks instead (test mode only). */
let askSwitch = async (q: SwitchQuestion): Promise<'switch' | 'keep'> => {
  const pick = await vscode.window.showWarningMessage(q.message, { modal: true, detail: q.detail }, SWITCH_ANYWAY, KEEP_CURRENT);
  return pick === SWITCH_ANYWAY ? 'switch' : 'keep';
};

/** Test mode only (registerFineTune checks ExtensionMode.Test): replaces the modal question. */
export function setSwitchPromptForTests(prompt: (q: SwitchQuestion) => Promise<'switch' | 'keep'>): void {
  askSwitch = prompt;
}

/** The model folder the fine-tune starts from by default: amc.modelPath, or the bundled model. */
export function currentModelDir(extensionPath: string): string {
  return getSettings().modelPath || defaultModelDir(extensionPath);
}

const GRACE_AFTER_SIGTERM_MS = 10 * 60_000; // a base-size step can take minutes on a CPU; the checkpoint matters

let nextRunId = 1;

/** The Python extension's selected interpreter, when it is installed (its API changed over time: try both). */
export async function pythonExtensionInterpreter(scope: vscode.Uri | undefined): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension('ms-python.python');
  if (!ext) return undefined;
  try {
    const api = (ext.isActive ? ext.exports : await ext.activate()) as {
      environments?: { getActiveEnvironmentPath(r?: vscode.Uri): { path: string } };
      settings?: { getExecutionDetails(r?: vscode.Uri): { execCommand?: string[] } };
    };
    const p = api.environments?.getActiveEnvironmentPath(scope)?.path ?? api.settings?.getExecutionDetails(scope)?.execCommand?.[0];
    return p || undefined;
  } catch (e) {
    outputChannel().warn(`Python extension present but its interpreter could not be read: ${errorMessage(e)}`);
    return undefined;
  }
}

function runProcess(spec: ProcessSpec): ChildProcess {
  // Own process group, so the last-resort SIGKILL reaches the workers and ranks it started too.
  return spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
}

function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    if (process.platform !== 'win32') process.kill(-child.pid, sig);
    else child.kill(sig);
  } catch { /* already gone */ }
}

const ESC = { red: '\x1b[31m', yellow: '\x1b[33m', green: '\x1b[32m', dim: '\x1b[2m', bold: '\x1b[1m', reset: '\x1b[0m' };

/**
 * The pseudoterminal of one `amc` task. Everything the run does is written here (so the task's problem
 * matcher sees the error lines) and mirrored to the output channel.
 */
export class FineTuneTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private child: ChildProcess | undefined;
  private cancelled = false;
  private closed = false;
  private readonly id = nextRunId++;
  private readonly cancelSource = new vscode.CancellationTokenSource();

  constructor(
    private readonly definition: AmcTaskDefinition,
    private readonly folder: vscode.WorkspaceFolder | undefined,
    private readonly context: vscode.ExtensionContext,
    private readonly events: RunEvents,
    private readonly statusBar: vscode.StatusBarItem,
    /** The extension's engine host: after an export, open viewers compare the new model with the previous one. */
    private readonly engines: EngineHost,
  ) {}

  open(): void {
    void this.execute().catch((e) => {
      this.line(`${ESC.red}internal error: ${(e as Error).stack ?? e}${ESC.reset}`);
      this.finish(1);
    });
  }

  /** The task was terminated (Terminate Task, the trash can) or the terminal closed. */
  close(): void {
    this.closed = true;
    this.cancel('the task was terminated');
  }

  handleInput(data: string): void {
    if (data === '\x03') this.cancel('Ctrl+C');
  }

  private cancel(why: string): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.cancelSource.cancel();
    if (this.child && this.child.exitCode === null) {
      this.line(`${ESC.yellow}${why}: asking the trainer to save a checkpoint and stop (SIGTERM)…${ESC.reset}`);
      this.statusBar.text = '$(sync~spin) AMC fine-tune: saving checkpoint…';
      // Only the trainer (or torchrun's agent, which forwards SIGTERM to every rank): its DataLoader workers
      // must live until the checkpoint is written, or the trainer dies of "DataLoader worker killed".
      this.child.kill('SIGTERM');
      const child = this.child;
      const timer = setTimeout(() => {
        this.line(`${ESC.red}the trainer did not stop within ${GRACE_AFTER_SIGTERM_MS / 1000} s; killing it${ESC.reset}`);
        signalGroup(child, 'SIGKILL');
      }, GRACE_AFTER_SIGTERM_MS);
      child.once('exit', () => clearTimeout(timer));
    }
  }

  private line(text: string): void {
    if (!this.closed) this.writeEmitter.fire(text.replace(/\r?\n/g, '\r\n') + '\r\n');
    // eslint-disable-next-line no-control-regex
    outputChannel().info(`[fine-tune ${this.id}] ${text.replace(/\x1b\[[0-9;]*m/g, '')}`);
  }

  private finish(code: number): void {
    this.cancelSource.dispose();
    if (!this.closed) this.closeEmitter.fire(code);
  }

  private async execute(): Promise<void> {
    const t0 = Date.now();
    const settings = getSettings(this.folder?.uri);
    const trainerRoot = path.join(this.context.extensionPath, 'trainer');
    const result: RunResult = { id: this.id, definition: this.definition, status: 'preflight-failed', events: [], problems: [], wallSeconds: 0 };
    const end = (status: RunStatus, code: number) => {
      result.status = status;
      result.wallSeconds = (Date.now() - t0) / 1000;
      this.events.onFinished.fire(result);
      this.finish(code);
    };
    this.events.onStarted.fire({ id: this.id, definition: this.definition });

    const shapeErrors = validateDefinition(this.definition);
    if (shapeErrors.length) {
      result.problems = shapeErrors.map((message) => ({ code: 'dataset-unreadable' as const, message: `task definition: ${message}` }));
      for (const p of result.problems) this.line(`${ESC.red}${p.message}${ESC.reset}`);
      void vscode.window.showErrorMessage(`AMC fine-tune: ${result.problems.map((p) => p.message).join(' ')}`);
      return end('preflight-failed', 1);
    }
    const startModel = currentModelDir(this.context.extensionPath);
    const currentCheckpoint = this.definition.init === undefined ? await sourceCheckpointOf(startModel) : undefined;
    const run = resolveRun(this.definition, {
      workspaceDir: this.folder?.uri.fsPath, trainerRoot, defaultGpus: settings.trainerGpus, currentCheckpoint,
    });
    result.run = run;
    this.line(`${ESC.bold}AMC fine-tune${ESC.reset}: ${run.dataset}`);
    if (run.initSource === 'current-model') this.line(`starting from the current model ${startModel} (checkpoint ${run.init})`);
    else if (run.initSource === 'given') this.line(`starting from the checkpoint ${run.init}`);
    else this.line(`${ESC.yellow}training from scratch${run.initNote ? `: the current model has no usable checkpoint (${run.initNote})` : ' ("init": "")'}${ESC.reset}`);
    if (run.initSource === 'current-model' && currentCheckpoint && 'sha256' in currentCheckpoint && currentCheckpoint.sha256) {
      const actual = await sha256File(run.init!);
      if (actual !== currentCheckpoint.sha256) {
        result.problems = [{ code: 'init-unreadable', file: run.init, message: `${run.init}: sha256 ${actual} differs from the model card's source_checkpoint (${currentCheckpoint.sha256}): it is not the checkpoint ${startModel} was exported from; give "init" explicitly` }];
        this.line(`${ESC.red}✗ ${result.problems[0].message}${ESC.reset}`);
        void vscode.window.showErrorMessage(`AMC fine-tune cannot start: ${result.problems[0].message}`);
        return end('preflight-failed', 1);
      }
    }
    this.line(`${ESC.dim}checking: workspace trust, dataset, output folder, Python and PyTorch…${ESC.reset}`);

    const candidates = vscode.workspace.isTrusted
      ? interpreterCandidates(settings.pythonPath, await pythonExtensionInterpreter(this.folder?.uri))
      : [];
    const check = await preflight({ trusted: vscode.workspace.isTrusted, run, trainerRoot, candidates });
    if (!check.ok) {
      result.problems = check.problems;
      for (const p of check.problems) {
        this.line(`${ESC.red}✗ ${p.message}${ESC.reset}`);
        if (p.file) this.line(problemLine('error', p.file, p.message));
      }
      void vscode.window.showErrorMessage(`AMC fine-tune cannot start: ${check.problems.map((p) => p.message).join(' ')}`);
      return end('preflight-failed', 1);
    }
    if (this.cancelled) return end('interrupted', 130);
    const python = check.python;
    result.python = python;
    this.line(`${ESC.green}✓${ESC.reset} Python ${python.pythonVersion} (${python.executable}), torch ${python.torchVersion}`
      + `${python.cudaAvailable ? `, ${python.cudaDevices} CUDA device(s)` : ', CPU'} [${python.candidate.source}]`);

    const spec = trainerCommand(python.executable ?? python.candidate.path, run, trainerRoot, process.env);
    this.line(`${ESC.dim}$ ${displayCommand(spec)}${ESC.reset}`);
    const progress = new RunProgress(run.epochs);
    const exitCode = await this.runTrainer(spec, run, progress, result);
    result.exitCode = exitCode;
    result.checkpoint = progress.lastCheckpoint;

    if (progress.done?.status === 'finished' && exitCode === 0) {
      this.statusBar.text = '$(check) AMC fine-tune finished';
      this.statusBar.tooltip = `Finished: ${progress.summary()}\nCheckpoint: ${progress.lastCheckpoint}`;
      if (run.exportAndUse && progress.lastCheckpoint) {
        try {
          const log = (t: string) => this.line(t);
          const exported = await exportAndUse(progress.lastCheckpoint, python, this.context, this.engines, log, planOf(run));
          Object.assign(result, {
            exportedModel: exported.modelDir, previousModel: exported.previousModel, switchDecision: exported.decision,
            ...(exported.heldOut ? { heldOut: exported.heldOut } : {}),
            ...(exported.heldOutError ? { heldOutError: exported.heldOutError } : {}),
            ...(exported.question ? { switchQuestion: exported.question } : {}),
          });
          const message = outcomeMessage(exported);
          this.line(message);
          void vscode.window.showInformationMessage(message);
        } catch (e) {
          this.line(`${ESC.red}${errorMessage(e)}${ESC.reset}`);
          return end('failed', 1);
        }
      } else if (progress.lastCheckpoint) {
        void offerExport(progress.lastCheckpoint, python, this.context, this.engines, planOf(run));
      }
      return end('finished', 0);
    }
    if (progress.done?.status === 'interrupted' || (this.cancelled && exitCode === 0)) {
      this.statusBar.text = '$(debug-stop) AMC fine-tune stopped';
      this.statusBar.tooltip = `Stopped; checkpoint: ${progress.lastCheckpoint ?? 'none'}. Re-run the task with "resume": true to continue.`;
      this.line(`${ESC.yellow}stopped; checkpoint ${progress.lastCheckpoint ?? 'none'} (re-run with "resume": true to continue)${ESC.reset}`);
      return end('interrupted', 0);
    }
    this.statusBar.text = '$(error) AMC fine-tune failed';
    this.statusBar.tooltip = progress.errors.map((e) => e.message).join('\n') || `trainer exit code ${exitCode}`;
    if (!progress.errors.length) this.line(problemLine('error', run.dataset, `the trainer exited with code ${exitCode} without an error event (see the output above)`));
    void vscode.window.showErrorMessage(`AMC fine-tune failed: ${progress.errors[0]?.message ?? `trainer exit code ${exitCode}`}`);
    return end(this.cancelled ? 'interrupted' : 'failed', exitCode ?? 1);
  }

  /** Runs the trainer with a progress notification; resolves with its exit code once it has exited. */
  private runTrainer(spec: ProcessSpec, run: ResolvedRun, progress: RunProgress, result: RunResult): Promise<number | null> {
    this.statusBar.text = '$(sync~spin) AMC fine-tune: starting…';
    this.statusBar.tooltip = `Fine-tuning on ${run.dataset}\nOutput: ${run.output}`;
    this.statusBar.show();
    return new Promise((resolve) => {
      const child = runProcess(spec);
      this.child = child;
      const out = new LineSplitter();
      const err = new LineSplitter();
      let report: ((p: { message?: string; increment?: number }) => void) | undefined;
      let reported = 0;
      const onEvent = (e: TrainerEvent) => {
        progress.apply(e);
        result.events.push(e);
        this.events.onEvent.fire({ id: this.id, event: e });
        const text = describeEvent(e, progress);
        if (e.event === 'error') {
          this.line(`${ESC.red}${text}${ESC.reset}`);
          this.line(problemLine('error', errorFile(e.message, run, spec.cwd, existsSync), e.message));
        } else {
          this.line(e.event === 'step' ? text : `${ESC.bold}${text}${ESC.reset}`);
        }
        if (!this.cancelled) this.statusBar.text = `$(sync~spin) AMC fine-tune: ${progress.summary()}`;
        const f = progress.fraction();
        if (report) {
          const pct = f === undefined ? 0 : Math.max(0, Math.round(f * 100) - reported);
          reported += pct;
          report({ message: progress.summary(), increment: pct });
        }
      };
      child.stdout!.setEncoding('utf8');
      child.stderr!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        for (const l of out.push(chunk)) {
          const e = parseEventLine(l);
          if (e) onEvent(e);
          else if (l.trim()) this.line(l);
        }
      });
      child.stderr!.on('data', (chunk: string) => {
        for (const l of err.push(chunk)) this.line(`${ESC.dim}${l}${ESC.reset}`);
      });
      void vscode.window.withProgress({
        location: vscode.ProgressLocation.Notification, title: 'AMC fine-tune', cancellable: true,
      }, (p, token) => {
        report = (x) => p.report(x);
        p.report({ message: `starting (${path.basename(run.dataset)})…` });
        token.onCancellationRequested(() => this.cancel('cancelled from the notification'));
        return new Promise<void>((done) => child.once('close', () => done()));
      });
      child.once('error', (e) => {
        this.line(`${ESC.red}could not start ${spec.command}: ${e.message}${ESC.reset}`);
        resolve(127);
      });
      child.once('close', (code, signal) => {
        for (const l of out.flush()) { const e = parseEventLine(l); if (e) onEvent(e); else this.line(l); }
        for (const l of err.flush()) this.line(`${ESC.dim}${l}${ESC.reset}`);
        this.line(`${ESC.dim}trainer exited with ${code ?? signal}${ESC.reset}`);
        resolve(code);
      });
    });
  }
}

/** Where a fine-tune's model is exported and how it is judged: from the resolved run. */
export interface ExportPlan { dataset: string; imageRoot: string; heldOut?: string; now?: Date; }

function planOf(run: ResolvedRun): ExportPlan {
  return { dataset: run.dataset, imageRoot: run.imageRoot, ...(run.heldOut ? { heldOut: run.heldOut } : {}) };
}

export { exportDirFor };

export interface ExportOutcome {
  modelDir: string;
  previousModel: string;
  decision: SwitchOutcome;
  heldOut?: HeldOutComparison;
  heldOutError?: string;
  question?: SwitchQuestion;
}

/**
 * Runs the exporter, evaluates the previous and the new model on the held-out data, and switches amc.modelPath
 * by itself only when the new model is not worse on any split; otherwise asks, showing the per-split delta. Not
 * switching keeps the new model as the comparison model, so open viewers show it beside the current one.
 */
export async function exportAndUse(
  checkpoint: string, python: PythonProbe, context: vscode.ExtensionContext, engines: EngineHost, log: (text: string) => void,
  plan: ExportPlan, token?: vscode.CancellationToken,
): Promise<ExportOutcome> {
  const trainerRoot = path.join(context.extensionPath, 'trainer');
  const modelDir = exportDirFor(checkpoint, plan.dataset, plan.now);
  const spec = exportCommand(python.executable ?? python.candidate.path, checkpoint, modelDir, trainerRoot, process.env);
  log(`exporting to ONNX: ${displayCommand(spec)}`);
  const code = await new Promise<number | null>((resolve) => {
    const child = runProcess(spec);
    const out = new LineSplitter();
    const err = new LineSplitter();
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => out.push(c).forEach((l) => log(l)));
    child.stderr!.on('data', (c: string) => err.push(c).forEach((l) => log(l)));
    token?.onCancellationRequested(() => signalGroup(child, 'SIGTERM'));
    child.once('error', (e) => { log(`could not start the exporter: ${e.message}`); resolve(127); });
    child.once('close', (c) => { [...out.flush(), ...err.flush()].forEach((l) => log(l)); resolve(c); });
  });
  if (code !== 0) throw new Error(`export failed (exit ${code}) for ${checkpoint}; see the lines above`);
  for (const f of ['model.json', 'image_encoder.onnx', 'grounding.onnx']) {
    if (!existsSync(path.join(modelDir, f))) throw new Error(`export finished but ${path.join(modelDir, f)} is missing`);
  }
  const previousModel = getSettings().modelPath;
  const previousDir = previousModel || defaultModelDir(context.extensionPath);

  // Judge the new model against the one in use on the held-out part of the training data.
  const outcome: ExportOutcome = { modelDir, previousModel, decision: 'kept' };
  const heldOutFile = plan.heldOut ?? heldOutFileFor(plan.dataset);
  if (heldOutFile) {
    log(`evaluating the previous model (${previousDir}) and the new one on the held-out file ${heldOutFile}…`);
    const s = getSettings();
    const abort = new AbortController();
    token?.onCancellationRequested(() => abort.abort());
    try {
      outcome.heldOut = await compareOnHeldOut(previousDir, modelDir, heldOutFile, plan.imageRoot,
        { provider: s.executionProvider, threads: s.threads || undefined, maxFileBytes: s.maxFileMB * 1024 * 1024 }, abort.signal);
      for (const line of describeDeltas(outcome.heldOut.deltas)) log(`  ${line}`);
    } catch (e) {
      outcome.heldOutError = `the held-out file ${heldOutFile} could not be evaluated: ${errorMessage(e)}`;
      log(outcome.heldOutError);
    }
  } else {
    outcome.heldOutError = `no held-out file beside ${plan.dataset} (…train… → …val…/…test…); give the task "heldOut"`;
    log(outcome.heldOutError);
  }
  const decision = outcome.heldOut
    ? decideSwitch(outcome.heldOut.deltas)
    : { kind: 'ask' as const, deltas: [], worse: [], unknown: [], reason: outcome.heldOutError! };
  let use = decision.kind === 'switch';
  if (decision.kind === 'ask') {
    outcome.question = {
      message: `The fine-tuned model was not switched to: ${decision.reason}. Switch to it anyway?`,
      detail: [
        outcome.heldOut ? `Pointing game on ${path.basename(outcome.heldOut.file)}, current → new:` : '',
        ...describeDeltas(decision.deltas),
        `New model: ${modelDir}`,
        `Either way "AMC: Compare with another model…" shows both side by side.`,
      ].filter(Boolean).join('\n'),
      deltas: decision.deltas,
    };
    log(`${outcome.question.message}\n${outcome.question.detail}`);
    use = (await askSwitch(outcome.question)) === 'switch';
    outcome.decision = use ? 'switched-after-asking' : 'kept';
  } else {
    outcome.decision = 'switched';
  }
  if (use) {
    await context.workspaceState.update(PREVIOUS_MODEL_KEY, previousModel);
    // Open viewers compare the new model with the previous one side by side once the setting below switches.
    await engines.compareWithPreviousOnSwitch();
    await setModelPath(modelDir);
    log(`amc.modelPath → ${modelDir} (previous: ${previousModel || 'the bundled default model'})`);
  } else {
    // Kept: the new model stays one command away, and open viewers show it beside the current one.
    const set = await engines.setComparison({ kind: 'folder', dir: modelDir });
    log(`kept amc.modelPath (${previousModel || 'the bundled default model'}); open viewers compare with the new model ${modelDir}`
      + (!set.ok ? ` (comparison not set: ${set.error})` : ''));
  }
  return outcome;
}

/** The message after an export: switched (and by how much it improved) or kept. */
export function outcomeMessage(o: ExportOutcome): string {
  const deltas = o.heldOut ? ` Held-out ${path.basename(o.heldOut.file)}, previous → new: ${describeDeltas(o.heldOut.deltas).join('; ')}.` : '';
  if (o.decision === 'kept') {
    return `Kept the current model; the fine-tuned model ${o.modelDir} is shown beside it in open viewers.${deltas} `
      + 'Set amc.modelPath to it, or use "AMC: Compare with another model…", to change.';
  }
  return switchedMessage(o.modelDir, o.previousModel) + deltas;
}

/** The message after a switch: which model explains now, and that viewers compare it with the previous one. */
export function switchedMessage(modelDir: string, previousModel: string): string {
  return `Now explaining with the fine-tuned model ${modelDir}. Open viewers compare it side by side with the previous model `
    + `(${previousModel || 'the bundled default model'}); "AMC: Evaluate pointing game" shows the per-split delta. `
    + '"AMC: Compare with another model…" changes or turns off the comparison.';
}

/** After a finished run without `exportAndUse`: ask. */
async function offerExport(
  checkpoint: string, python: PythonProbe, context: vscode.ExtensionContext, engines: EngineHost, plan: ExportPlan,
): Promise<void> {
  const action = 'Export to ONNX and use this model';
  const pick = await vscode.window.showInformationMessage(`AMC fine-tune finished: ${checkpoint}`, action);
  if (pick !== action) return;
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'AMC: exporting to ONNX', cancellable: true },
    async (_p, token) => {
      try {
        const outcome = await exportAndUse(checkpoint, python, context, engines, (t) => outputChannel().info(t), plan, token);
        void vscode.window.showInformationMessage(outcomeMessage(outcome));
      } catch (e) {
        void vscode.window.showErrorMessage(`AMC: ${errorMessage(e)}`);
      }
    });
}
