// The status-bar item with the current model's name and execution provider (issue 13 item 6). Before the model is
// first loaded it shows the card's name; once the engine opened it adds CUDA / CPU and, on the CPU, why (tooltip).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { onSettingsChanged } from '../config';
import { modelStatusView, type ModelStatusState, type ModelStatusView } from '../core/modelStatus';
import { readRegularFileSync } from '../core/boundedRead';
import type { EngineHost } from './engineHost';

export const MODEL_STATUS_ID = 'amc.modelStatus';

function cardName(dir: string): string {
  try {
    const card = JSON.parse(readRegularFileSync(path.join(dir, 'model.json'), { maxBytes: 16 * 1024 * 1024, what: 'model card' }).toString('utf8'));
    if (typeof card?.name === 'string' && card.name) return card.name;
  } catch { /* the engine reports a bad card when it loads */ }
  return path.basename(dir);
}

/** Registers the item; returns a reader of what it shows (the extension-host tests read it in test mode). */
export function registerModelStatus(context: vscode.ExtensionContext, engines: EngineHost): () => ModelStatusView & { visible: boolean } {
  const item = vscode.window.createStatusBarItem(MODEL_STATUS_ID, vscode.StatusBarAlignment.Right, 100);
  item.name = 'AMC model';
  item.command = 'amc.compareModels';
  let visible = false;
  const show = (state: ModelStatusState) => {
    const view = modelStatusView(state);
    item.text = view.text;
    item.tooltip = `${view.tooltip}\nClick: compare with another model`;
    item.show();
    visible = true;
  };
  const notLoaded = () => {
    const dir = engines.modelDir();
    show({ kind: 'not-loaded', name: cardName(dir), dir });
  };
  context.subscriptions.push(engines.onDidChangeModelStatus(show));
  context.subscriptions.push(item, onSettingsChanged(['modelPath', 'executionProvider'], notLoaded));
  notLoaded();
  return () => ({ text: item.text, tooltip: typeof item.tooltip === 'string' ? item.tooltip : item.tooltip?.value ?? '', visible });
}
