// Shared helpers for the extension-host suite (imported by *.test.ts; bundled into each).
import * as vscode from 'vscode';
import * as path from 'node:path';
import Mocha from 'mocha';
import type { AmcExtensionApi } from '../../../src/extension';

export const EXTENSION_ID = 'amc-grounding-lens.amc-grounding-lens';

/** The activated extension's API (activates it if needed). */
export async function activateAmc(): Promise<{ ext: vscode.Extension<AmcExtensionApi>; api: AmcExtensionApi }> {
  const ext = vscode.extensions.getExtension<AmcExtensionApi>(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not installed in this VS Code`);
  const api = await ext.activate();
  return { ext, api };
}

/** The workspace folder the harness opened (a fresh temp folder per run). */
export function workspaceDir(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('the harness opened no workspace folder');
  return folder.uri.fsPath;
}

/** The repository checkout (for bundled samples and the trainer when the extension runs from a .vsix). */
export function repoDir(extensionPath: string): string {
  return process.env.AMC_REPO ?? extensionPath;
}

export function samplesDir(extensionPath: string): string {
  return path.join(repoDir(extensionPath), 'samples', 'synthetic');
}

/** Polls `check` until it returns a value (not undefined) or the time runs out. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A line in the suite's output (the harness shows it; plain console.log from a test may not reach it, since
 * the extension host owns `console`). Uses the reporter's log function, which index.ts points at the bridge.
 */
export function report(...args: unknown[]): void {
  (Mocha.reporters.Base as unknown as { consoleLog: (...a: unknown[]) => void }).consoleLog(...args);
}
