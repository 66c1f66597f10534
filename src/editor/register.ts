// Registers the annotation viewer (both view types) and the shared inference engine.
import * as vscode from 'vscode';
import { outputChannel } from '../output';
import { AnnotationViewerProvider, setRegistered } from './annotationEditor';
import { EngineHost } from './engineHost';

export function registerAnnotationViewer(context: vscode.ExtensionContext): void {
  const log = (line: string) => outputChannel().info(line);
  const engines = new EngineHost(context.extensionPath, log);
  context.subscriptions.push(engines);
  setRegistered(AnnotationViewerProvider.register(context, engines, log), engines);
}
