// Extension entry: creates the shared output channel, the one viewer registry and the one engine host, and lets
// each feature register itself with what it needs of them (issue 17 item 1: owned here, no module globals). Every
// host object (commands, providers, status items, watchers) goes into context.subscriptions, so deactivation
// disposes everything. Features add exactly one `registerX(context, …)` line below.
import * as vscode from 'vscode';
import { createOutputChannel, releaseOutputChannel } from './output';
import { registerAnnotationViewer, type ViewerTestHooks } from './editor/register';
import { ViewerRegistry } from './editor/registry';
import { EngineHost } from './editor/engineHost';
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
  /**
   * Only under the extension-host test harness (tasks/index.ts testHooksEnabled): what the model status-bar item shows;
   * the viewer's hooks (answer the "Choose image folder…" dialog).
   */
  readonly testHooks?: { modelStatus(): ModelStatusView & { visible: boolean }; viewer: ViewerTestHooks };
}

export function activate(context: vscode.ExtensionContext): AmcExtensionApi {
  const output = createOutputChannel();
  context.subscriptions.push(output, { dispose: releaseOutputChannel });
  output.info(`AMC Grounding Lens ${context.extension.packageJSON.version} activated (workspace trusted: ${vscode.workspace.isTrusted})`);

  // The open viewers (custom editors, Explain panels) and the inference engines, shared by every feature below.
  const registry = new ViewerRegistry();
  const engines = new EngineHost(context.extensionPath, (line) => output.info(line), context.workspaceState);
  context.subscriptions.push(registry, engines);

  // --- feature registrations (one line each) ---
  const viewerHooks = registerAnnotationViewer(context, { registry, engines });
  registerExplainCommand(context, { registry, engines });
  registerEvaluateCommand(context, registry);
  registerCompareCommand(context, engines);
  registerUseCheckpointCommand(context);
  registerOpenReportCommand(context, registry);
  registerFlickrSplitOpen(context);
  const fineTune = registerFineTune(context, engines);
  const modelStatus = registerModelStatus(context, engines);

  return {
    extensionPath: context.extensionPath, output, fineTune,
    ...(testHooksEnabled(context) && viewerHooks ? { testHooks: { modelStatus, viewer: viewerHooks } } : {}),
  };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
