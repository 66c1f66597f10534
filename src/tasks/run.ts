// One fine-tuning run inside VS Code: the task's pseudoterminal (CustomExecution), the preflight, the
// trainer process and its JSON-lines events → terminal lines, a progress notification, the status bar item,
// problem-matcher lines; cancel → SIGTERM and wait for the trainer's checkpoint; then export + switch model.
import * as vscode from 'vscode';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { getSettings, setModelPath } from '../config';
import { outputChannel } from '../output';
import { engineHost } from '../editor/annotationEditor';
import { PREVIOUS_MODEL_KEY } from '../editor/comparison';
import {
  type AmcTaskDefinition, displayCommand, exportCommand, type ProcessSpec, type ResolvedRun, resolveRun, trainerCommand,
  validateDefinition,
} from './definition';
import { describeEvent, errorFile, LineSplitter, parseEventLine, problemLine, RunProgress, type TrainerEvent } from './events';
import { preflight, type PreflightProblem } from './preflight';
import { interpreterCandidates, type PythonProbe } from './python';

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
  exportedModel?: string;   // set when the run exported and switched amc.modelPath
  previousModel?: string;   // amc.modelPath before the switch ('' = bundled default)
  wallSeconds: number;
}

export interface RunEvents {
  readonly onEvent: vscode.EventEmitter<{ id: number; event: TrainerEvent }>;
  readonly onStarted: vscode.EventEmitter<{ id: number; definition: AmcTaskDefinition }>;
  readonly onFinished: vscode.EventEmitter<RunResult>;
}

/** Where the previous model is kept, so the viewer can compare before/after (workspaceState key). */
export { PREVIOUS_MODEL_KEY };

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
    outputChannel().warn(`Python extension present but its interpreter could not be read: ${(e as Error).message}`);
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
    const run = resolveRun(this.definition, {
      workspaceDir: this.folder?.uri.fsPath, trainerRoot, defaultGpus: settings.trainerGpus,
    });
    result.run = run;
    this.line(`${ESC.bold}AMC fine-tune${ESC.reset}: ${run.dataset}`);
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
          const exported = await exportAndUse(progress.lastCheckpoint, python, this.context, (t) => this.line(t));
          result.exportedModel = exported.modelDir;
          result.previousModel = exported.previousModel;
          this.line(switchedMessage(exported.modelDir, exported.previousModel));
          void vscode.window.showInformationMessage(switchedMessage(exported.modelDir, exported.previousModel));
        } catch (e) {
          this.line(`${ESC.red}${(e as Error).message}${ESC.reset}`);
          return end('failed', 1);
        }
      } else if (progress.lastCheckpoint) {
        void offerExport(progress.lastCheckpoint, python, this.context);
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

/** The folder an exported model goes to: next to the run's checkpoints. */
export function exportDirFor(checkpoint: string): string {
  return path.join(path.dirname(checkpoint), 'model');
}

/** Runs the exporter, validates its answer, and switches amc.modelPath (keeping the previous one). */
export async function exportAndUse(
  checkpoint: string, python: PythonProbe, context: vscode.ExtensionContext, log: (text: string) => void,
  token?: vscode.CancellationToken,
): Promise<{ modelDir: string; previousModel: string }> {
  const trainerRoot = path.join(context.extensionPath, 'trainer');
  const modelDir = exportDirFor(checkpoint);
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
  await context.workspaceState.update(PREVIOUS_MODEL_KEY, previousModel);
  // Open viewers compare the new model with the previous one side by side once the setting below switches.
  await engineHost()?.compareWithPreviousOnSwitch();
  await setModelPath(modelDir);
  log(`amc.modelPath → ${modelDir} (previous: ${previousModel || 'the bundled default model'})`);
  return { modelDir, previousModel };
}

/** The message after a switch: which model explains now, and that viewers compare it with the previous one. */
export function switchedMessage(modelDir: string, previousModel: string): string {
  return `Now explaining with the fine-tuned model ${modelDir}. Open viewers compare it side by side with the previous model `
    + `(${previousModel || 'the bundled default model'}); "AMC: Evaluate pointing game" shows the per-split delta. `
    + '"AMC: Compare with another model…" changes or turns off the comparison.';
}

/** After a finished run without `exportAndUse`: ask. */
async function offerExport(checkpoint: string, python: PythonProbe, context: vscode.ExtensionContext): Promise<void> {
  const action = 'Export to ONNX and use this model';
  const pick = await vscode.window.showInformationMessage(`AMC fine-tune finished: ${checkpoint}`, action);
  if (pick !== action) return;
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'AMC: exporting to ONNX', cancellable: true },
    async (_p, token) => {
      try {
        const { modelDir, previousModel } = await exportAndUse(checkpoint, python, context, (t) => outputChannel().info(t), token);
        void vscode.window.showInformationMessage(switchedMessage(modelDir, previousModel));
      } catch (e) {
        void vscode.window.showErrorMessage(`AMC: ${(e as Error).message}`);
      }
    });
}
