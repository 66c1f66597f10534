// Extension entry: creates the shared output channel and lets each feature register itself. Every host
// object (commands, providers, status items, watchers) goes into context.subscriptions, so deactivation
// disposes everything. Features add exactly one `registerX(context)` line below.
import * as vscode from 'vscode';
import { createOutputChannel, releaseOutputChannel } from './output';
import { registerAnnotationViewer } from './editor/register';
import { registerExplainCommand } from './commands/explain';
import { registerEvaluateCommand } from './commands/evaluate';
import { registerCompareCommand } from './commands/compare';
import { registerOpenReportCommand } from './commands/openReport';
import { type FineTuneApi, registerFineTune } from './tasks';

/** What `activate` returns (vscode.extensions.getExtension(...).exports): used by the extension-host tests. */
export interface AmcExtensionApi {
  readonly extensionPath: string;
  readonly output: vscode.LogOutputChannel;
  readonly fineTune: FineTuneApi;
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
  registerOpenReportCommand(context);
  const fineTune = registerFineTune(context);

  return { extensionPath: context.extensionPath, output, fineTune };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
