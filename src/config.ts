// Typed access to the extension's settings (package.json `contributes.configuration`). Every reader of a
// setting goes through here, so a renamed key or a changed default is one edit.
import * as vscode from 'vscode';
import { clampThreadsSetting } from './core/threads';

export const SECTION = 'amc';

export type ExecutionProviderSetting = 'auto' | 'cuda' | 'cpu';
export type ColormapSetting = 'jet' | 'viridis';

export interface AmcSettings {
  /** Folder of an exported model (model.json + two ONNX graphs); '' = the bundled default model. */
  modelPath: string;
  executionProvider: ExecutionProviderSetting;
  /** onnxruntime intra-op threads; 0 = onnxruntime's default; clamped to 0..4 × cores (at most 64). */
  threads: number;
  /** Why `threads` differs from the raw setting (out of range, not a number), for the output channel. */
  threadsWarning?: string;
  /** Largest image file the engine reads, in MB (at least 1; default 256). */
  maxFileMB: number;
  /** Interpreter for the bundled trainer; '' = Python extension's interpreter, else one discovered with torch. */
  pythonPath: string;
  /** Annotation file (absolute path) → folder its image paths are resolved against. */
  imageRoots: Record<string, string>;
  colormap: ColormapSetting;
  /** GPUs for fine-tuning: 0 = CPU, 1 = one GPU, N > 1 = `torchrun --nproc_per_node=N`. */
  trainerGpus: number;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  return typeof value === 'string' && (allowed as readonly string[]).includes(value) ? (value as T) : fallback;
}

function nonNegativeInt(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : fallback;
}

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  }
  return out;
}

/** All settings, validated: a hand-edited settings.json with a wrong type falls back to the default. */
export function getSettings(scope?: vscode.ConfigurationScope): AmcSettings {
  const c = vscode.workspace.getConfiguration(SECTION, scope);
  const threads = clampThreadsSetting(c.get('threads'));
  const maxFileMB = c.get('maxFileMB');
  return {
    modelPath: (c.get<string>('modelPath') ?? '').trim(),
    executionProvider: oneOf(c.get('executionProvider'), ['auto', 'cuda', 'cpu'] as const, 'auto'),
    threads: threads.threads,
    ...(threads.warning ? { threadsWarning: threads.warning } : {}),
    maxFileMB: typeof maxFileMB === 'number' && Number.isFinite(maxFileMB) && maxFileMB >= 1 ? Math.floor(maxFileMB) : 256,
    pythonPath: (c.get<string>('pythonPath') ?? '').trim(),
    imageRoots: stringRecord(c.get('imageRoots')),
    colormap: oneOf(c.get('colormap'), ['jet', 'viridis'] as const, 'jet'),
    trainerGpus: nonNegativeInt(c.get('trainer.gpus'), 0),
  };
}

/** Where a write goes: the workspace when one is open (a model belongs to a project), else the user's settings. */
function defaultTarget(): vscode.ConfigurationTarget {
  return vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
}

export async function setModelPath(modelDir: string, target = defaultTarget()): Promise<void> {
  await vscode.workspace.getConfiguration(SECTION).update('modelPath', modelDir, target);
}

/**
 * Remember the image root of one dataset file (issue 5: asked once, remembered per dataset). In Restricted Mode
 * the workspace's value of this setting is ignored (package.json restrictedConfigurations: a cloned repository
 * must not grant the viewer folders), so the user's choice goes to the user settings there.
 */
export async function setImageRoot(datasetFile: string, imageRoot: string,
  target = vscode.workspace.isTrusted ? defaultTarget() : vscode.ConfigurationTarget.Global): Promise<void> {
  const c = vscode.workspace.getConfiguration(SECTION);
  const roots = { ...stringRecord(c.get('imageRoots')), [datasetFile]: imageRoot };
  await c.update('imageRoots', roots, target);
}

/** Calls `listener` when any of the given keys (without the `amc.` prefix) changes; dispose to stop. */
export function onSettingsChanged(keys: readonly string[], listener: () => void): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((e) => {
    if (keys.some((k) => e.affectsConfiguration(`${SECTION}.${k}`))) listener();
  });
}
