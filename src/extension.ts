// Extension entry: creates the shared output channel and lets each feature register itself. Every host
// object (commands, providers, status items, watchers) goes into context.subscriptions, so deactivation
// disposes everything. Features add exactly one `registerX(context)` line below.
import * as vscode from 'vscode';
import { createOutputChannel, releaseOutputChannel } from './output';
import { registerAnnotationViewer } from './editor/register';
import { registerExplainCommand } from './commands/explain';
import { registerEvaluateCommand } from './commands/evaluate';
import { registerCompareCommand } from './commands/compare';
import { type FineTuneApi, registerFineTune, testHooksEnabled } from './tasks';
import { registerModelStatus } from './editor/modelStatusBar';
import type { ModelStatusView } from './core/modelStatus';
import { registerUseCheckpointCommand } from './commands/useCheckpoint';
import { registerOpenReportCommand } from './commands/openReport';
import { registerFlickrSplitOpen } from './editor/flickrSplitOpen';

/** What `activate` returns (vscode.extensions.getExtension(...).exports): used by the extension-host tests. */
export interface AmcExtensionApi {
  readonly extensionPath: string;
  readonly output: vscode.LogOutputChannel;
  readonly fineTune: FineTuneApi;
  /** Only under the extension-host test harness (tasks/index.ts testHooksEnabled): what the model status-bar item shows. */
  readonly testHooks?: { modelStatus(): ModelStatusView & { visible: boolean } };
}

export function activate(context: vscode.ExtensionContext): AmcExtensionApi {
  const output = createOutputChannel();
  context.subscriptions.push(output, { dispose: releaseOutputChannel });
  output.info(`AMC Grounding Lens ${context.extension.packageJSON.version} activated (workspace trusted: ${vscode.workspace.isTrusted})`);

  // --- feature registrations (one line each) ---
  registerAnnotationViewer(context);
  registerExplainCommand(context);
  registerEvaluateCommand(context);
  registerCompareCommand(context);
  registerUseCheckpointCommand(context);
  registerOpenReportCommand(context);
  registerFlickrSplitOpen(context);
  const fineTune = registerFineTune(context);
  const modelStatus = registerModelStatus(context);

  return {
    extensionPath: context.extensionPath, output, fineTune,
    ...(testHooksEnabled(context) ? { testHooks: { modelStatus } } : {}),
  };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
