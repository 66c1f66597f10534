// "AMC: Use a PyTorch checkpoint…" (amc.useCheckpoint): exports ALBEF.pth / AMC best_*.pth / our checkpoints with
// the bundled trainer (src/model/importCheckpoint.ts), in a cancellable progress notification, then switches
// amc.modelPath to the new folder. Without an argument it asks for the checkpoint and where the model goes; tests
// pass the checkpoint path (or { checkpoint, out?, imageRes?, config? }) to skip the dialogs.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { getSettings, setModelPath } from '../config';
import { PREVIOUS_MODEL_KEY } from '../shared/comparison';
import { itmNote } from '../model/card';
import { defaultImportDir, ImportError, importCheckpoint, stageWords, type ImportResult } from '../model/importCheckpoint';
import { AbortError } from '../model/runtime';
import { outputChannel } from '../output';
import { chooseInterpreter, interpreterCandidates, MIN_TORCH } from '../tasks/python';
import { pythonExtensionInterpreter } from '../tasks/run';

export const USE_CHECKPOINT_COMMAND = 'amc.useCheckpoint';

export interface UseCheckpointArgs { checkpoint: string; out?: string; imageRes?: 256 | 384; config?: string }
export type UseCheckpointResult =
  | ({ ok: true; modelDir: string; previousModel: string } & Omit<ImportResult, 'outDir'>)
  | { ok: false; error: string };

function parseArg(arg: unknown): UseCheckpointArgs | undefined {
  if (typeof arg === 'string') return { checkpoint: arg };
  if (arg instanceof vscode.Uri) return { checkpoint: arg.fsPath };
  if (arg && typeof arg === 'object' && typeof (arg as UseCheckpointArgs).checkpoint === 'string') return arg as UseCheckpointArgs;
  return undefined;
}

async function ask(): Promise<UseCheckpointArgs | undefined> {
  const picked = await vscode.window.showOpenDialog({
    canSelectFiles: true, canSelectFolders: false, canSelectMany: false, openLabel: 'Use this checkpoint',
    title: 'AMC: PyTorch checkpoint (ALBEF.pth, AMC best_*.pth, or an amc_trainer checkpoint)',
    filters: { 'PyTorch checkpoint': ['pth', 'pt', 'bin', 'ckpt'], 'All files': ['*'] },
  });
  const checkpoint = picked?.[0]?.fsPath;
  if (!checkpoint) return undefined;
  const beside = defaultImportDir(checkpoint);
  const where = await vscode.window.showQuickPick([
    { label: 'Next to the checkpoint', description: beside, out: beside },
    { label: 'Choose a folder…', description: 'a new or empty folder for model.json and the ONNX graphs', out: '' },
  ], { title: 'AMC: where the exported model goes' });
  if (!where) return undefined;
  if (where.out) return { checkpoint, out: where.out };
  const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(beside), saveLabel: 'Export the model here', title: 'AMC: model folder to create' });
  return target ? { checkpoint, out: target.fsPath } : undefined;
}

export function registerUseCheckpointCommand(context: vscode.ExtensionContext): void {
  context.subscriptions.push(vscode.commands.registerCommand(USE_CHECKPOINT_COMMAND,
    async (arg?: unknown): Promise<UseCheckpointResult | undefined> => {
    const log = outputChannel();
    const fail = (error: string): UseCheckpointResult => {
      log.error(`use checkpoint: ${error}`);
      void vscode.window.showErrorMessage(`AMC: ${error}`);
      return { ok: false, error };
    };
    const args = parseArg(arg) ?? (arg === undefined ? await ask() : undefined);
    if (!args) return arg === undefined ? undefined : fail('Use a PyTorch checkpoint: expected a checkpoint path');
    const settings = getSettings();
    const { chosen, probes } = await chooseInterpreter(
      interpreterCandidates(settings.pythonPath, await pythonExtensionInterpreter(undefined)));
    if (!chosen) {
      return fail(`no Python with PyTorch ≥ ${MIN_TORCH.join('.')} found to export the checkpoint (tried ${probes.map((p) => p.candidate.path).join(', ')}); set amc.pythonPath`);
    }
    const python = chosen.executable ?? chosen.candidate.path;
    const name = path.basename(args.checkpoint);
    log.info(`use checkpoint: ${args.checkpoint} → ${args.out ?? defaultImportDir(args.checkpoint)} with ${python}`);
    let result: ImportResult;
    try {
      result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `AMC: exporting ${name}`, cancellable: true }, async (progress, token) => {
        const controller = new AbortController();
        const sub = token.onCancellationRequested(() => controller.abort());
        let done = 0;
        try {
          return await importCheckpoint({
            python, trainerRoot: path.join(context.extensionPath, 'trainer'), checkpoint: args.checkpoint, outDir: args.out,
            imageRes: args.imageRes, config: args.config, signal: controller.signal,
            onLog: (line) => log.trace(`exporter: ${line}`),
            onEvent: (ev) => {
              if (ev.event === 'progress') {
                const increment = Math.max(0, ev.fraction * 100 - done);
                done += increment;
                progress.report({ increment, message: `${stageWords(ev.stage)}…` });
              } else if (ev.event === 'architecture') {
                log.info(`use checkpoint: ${ev.layout}; architecture from ${ev.source}: ${JSON.stringify(ev.config)}`);
              } else if (ev.event === 'keys') {
                for (const k of ev.missing) log.warn(`use checkpoint: missing key ${k}`);
                for (const k of ev.unexpected) log.warn(`use checkpoint: unexpected key ${k} (not used by the model)`);
              } else if (ev.event === 'error') {
                log.error(`use checkpoint: ${ev.message}`);
              }
            },
          });
        } finally {
          sub.dispose();
        }
      });
    } catch (err) {
      if (err instanceof AbortError) {
        log.info(`use checkpoint: cancelled; nothing was written`);
        return { ok: false, error: 'cancelled' };
      }
      if (err instanceof ImportError) {
        log.show(true);
        return fail(`could not use ${name}: ${err.message}`);
      }
      throw err;
    }
    const previousModel = settings.modelPath;
    await context.workspaceState.update(PREVIOUS_MODEL_KEY, previousModel);
    await setModelPath(result.outDir);
    const note = itmNote({ itmTrained: result.itmTrained });
    log.info(`use checkpoint: graphs agree with PyTorch (largest relative error ${result.parityError.toExponential(1)}); ` +
      `amc.modelPath → ${result.outDir} (previous: ${previousModel || 'the bundled default model'}) in ${result.seconds.toFixed(0)} s`);
    const unexpected = result.unexpected.length ? ` ${result.unexpected.length} checkpoint keys were not used (listed in the output channel).` : '';
    void vscode.window.showInformationMessage(`AMC: now explaining with ${path.basename(result.outDir)} (${result.layout}).${unexpected}${note ? ` ${note}.` : ''}`);
    const { outDir, ...rest } = result;
    return { ok: true, modelDir: outDir, previousModel, ...rest };
  }));
}
