// Registers the annotation viewer (both view types) and the shared inference engine.
import * as vscode from 'vscode';
import { outputChannel } from '../output';
import { AnnotationViewerProvider, setRegistered } from './annotationEditor';
import { EngineHost } from './engineHost';
import { viewerStates } from './registry';
import { testHooksEnabled } from './testHooks';

export function registerAnnotationViewer(context: vscode.ExtensionContext): void {
  const log = (line: string) => outputChannel().info(line);
  const engines = new EngineHost(context.extensionPath, log, context.workspaceState);
  context.subscriptions.push(engines);
  setRegistered(AnnotationViewerProvider.register(context, engines, log), engines);
  // Test hook, not in the palette: what each open viewer last drew (the extension-host tests).
  if (testHooksEnabled(context.extensionMode)) {
    context.subscriptions.push(vscode.commands.registerCommand('amc.viewerState', () => viewerStates()));
  }
}
