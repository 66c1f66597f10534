// "AMC: Compare with another model…" (amc.compareModels): sets the second model open viewers show beside the
// current one (issue 6). Without an argument it asks: the previous model (recorded by the last fine-tune export),
// the bundled default model, any model folder (open dialog), or off. Tests pass the choice instead: a model
// folder path, 'previous', or null / 'off'. Resolves with what the comparison is now, or the error (also shown).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseComparisonArg, PREVIOUS_MODEL_KEY, type ComparisonChoice } from '../shared/comparison';
import type { EngineHost, SetComparisonResult } from '../editor/engineHost';
import { defaultModelDir } from '../model/engine';
import { errorMessage } from '../core/errors';

export const COMPARE_COMMAND = 'amc.compareModels';

async function ask(context: vscode.ExtensionContext): Promise<ComparisonChoice | undefined> {
  const previous = context.workspaceState.get<string>(PREVIOUS_MODEL_KEY);
  type Item = vscode.QuickPickItem & { choice?: ComparisonChoice; browse?: boolean };
  const items: Item[] = [];
  if (previous !== undefined) {
    items.push({ label: 'Previous model', description: previous || 'the bundled default model', detail: 'amc.modelPath before the last fine-tune export', choice: { kind: 'previous' } });
  }
  items.push(
    { label: 'Bundled default model', description: defaultModelDir(context.extensionPath), choice: { kind: 'folder', dir: defaultModelDir(context.extensionPath) } },
    { label: 'Choose a model folder…', detail: 'a folder with model.json, image_encoder.onnx, grounding.onnx and vocab.txt', browse: true },
    { label: 'Turn comparison off', choice: { kind: 'off' } },
  );
  const pick = await vscode.window.showQuickPick(items, { title: 'AMC: Compare with another model', placeHolder: 'The model to show beside the current one' });
  if (!pick) return undefined;
  if (!pick.browse) return pick.choice;
  const folder = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: 'Compare with this model', title: 'AMC: model folder to compare with' });
  return folder?.[0] ? { kind: 'folder', dir: folder[0].fsPath } : undefined;
}

export function registerCompareCommand(context: vscode.ExtensionContext, engines: EngineHost): void {
  context.subscriptions.push(vscode.commands.registerCommand(COMPARE_COMMAND,
    async (arg?: unknown): Promise<SetComparisonResult | undefined> => {
    const parsed = parseComparisonArg(arg);
    if (parsed && 'invalid' in parsed) {
      void vscode.window.showErrorMessage(`AMC: Compare with another model: ${parsed.invalid}`);
      return { ok: false, error: parsed.invalid };
    }
    let choice = parsed;
    if (!choice) {
      try { choice = await ask(context); } catch (err) {
        const error = errorMessage(err);
        void vscode.window.showErrorMessage(`AMC: ${error}`);
        return { ok: false, error };
      }
    }
    if (!choice) return undefined;   // the user cancelled
    if (choice.kind === 'folder') choice = { kind: 'folder', dir: path.resolve(choice.dir) };
    let result: SetComparisonResult;
    try { result = await engines.setComparison(choice); } catch (err) {
      result = { ok: false, error: errorMessage(err) };
    }
    if (!result.ok) void vscode.window.showErrorMessage(`AMC: ${result.error}`);
    else if (result.comparison) {
      void vscode.window.showInformationMessage(`AMC: open viewers show ${result.comparison.role === 'previous' ? 'the previous model' : 'the model'} `
        + `${result.comparison.name} (${result.comparison.dir}) beside the current one.`);
    } else void vscode.window.showInformationMessage('AMC: model comparison is off.');
    return result;
  }));
}
