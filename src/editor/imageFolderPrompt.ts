// "Choose image folder…" (issue 14 item 6): the missing-images banner's button asks for the folder a file's images
// are in, saves it (amc.imageRoots, src/config.ts setImageRoot) and reloads the document, which refreshes every
// viewer of that file at once (AnnotationDocument fires 'dataset'; each viewer rebuilds its session and page).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { setImageRoot } from '../config';
import { errorMessage } from '../core/errors';
import type { AnnotationDocument } from './annotationDocument';

/** Asks for a folder (the open dialog); undefined when the user cancelled. */
export type FolderPicker = (request: { datasetFile: string; defaultFolder: string }) => Promise<string | undefined>;

const openDialog: FolderPicker = async ({ datasetFile, defaultFolder }) => {
  const picked = await vscode.window.showOpenDialog({
    canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: 'Use as image folder',
    title: `AMC: the folder the images of ${path.basename(datasetFile)} are in`, defaultUri: vscode.Uri.file(defaultFolder),
  });
  return picked?.[0]?.fsPath;
};

export class ImageFolderPrompt {
  private picker: FolderPicker = openDialog;

  constructor(private readonly log: (line: string) => void) {}

  /** Test hook (extension-host tests, AmcExtensionApi.testHooks): answers the dialog instead of the user. */
  answerDialogForTests(picker: FolderPicker | undefined): void { this.picker = picker ?? openDialog; }

  /** Asks, saves and reloads `document`; resolves with the folder, or null when the user cancelled. */
  async choose(document: AnnotationDocument): Promise<string | null> {
    const file = document.file;
    const folder = await this.picker({ datasetFile: file, defaultFolder: document.imageRoot ?? path.dirname(file) });
    if (!folder) return null;
    // Reload first: the settings change that setImageRoot fires then finds the document already on this folder.
    const reloaded = document.reload(folder);
    reloaded.catch(() => undefined);   // awaited below; this only keeps a failed save from leaving it unhandled
    await setImageRoot(file, folder);
    try {
      await reloaded;
    } catch (err) {
      throw new Error(`could not reopen ${file} with the images in ${folder}: ${errorMessage(err)}`);
    }
    this.log(`viewer: image folder of ${file} set to ${folder} (amc.imageRoots)${document.missingImages ? `; still not found: ${document.missingImages.image}` : ''}`);
    return folder;
  }
}
