// Registers the annotation viewer (both view types) with the registry and engine host src/extension.ts created,
// the "Choose image folder…" prompt, and the `amc.viewerState` test hook.
import * as vscode from 'vscode';
import { outputChannel } from '../output';
import { AnnotationViewerProvider } from './annotationEditor';
import type { EngineHost } from './engineHost';
import { ImageFolderPrompt, type FolderPicker } from './imageFolderPrompt';
import type { ViewerRegistry } from './registry';
import { testHooksEnabled } from './testHooks';

/** Test hooks of the viewer (only under the extension-host tests): answer the image-folder dialog. */
export interface ViewerTestHooks { answerImageFolderDialog(picker: FolderPicker | undefined): void; }

export function registerAnnotationViewer(
  context: vscode.ExtensionContext, host: { registry: ViewerRegistry; engines: EngineHost },
): ViewerTestHooks | undefined {
  const log = (line: string) => outputChannel().info(line);
  const imageFolders = new ImageFolderPrompt(log);
  AnnotationViewerProvider.register(context, { ...host, imageFolders, log });
  if (!testHooksEnabled(context.extensionMode)) return undefined;
  // Test hook, not in the palette: what each open viewer last drew (the extension-host tests).
  context.subscriptions.push(vscode.commands.registerCommand('amc.viewerState', () => host.registry.states()));
  return { answerImageFolderDialog: (picker) => imageFolders.answerDialogForTests(picker) };
}
