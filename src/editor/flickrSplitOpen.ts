// Flickr30k Entities split files (train.txt / val.txt / test.txt: image ids, one per line, beside Annotations/ and
// Sentences/) open in the AMC viewer by content, like the other formats (issue 14 item 8). A custom editor's selector
// can only match names, and "*.txt" cannot be the viewer's default, so a .txt opened as text is checked here (a stat
// of Sentences/ and a 64 KB head read, src/core/datasets/detect.ts isFlickrSplitFile) and, when it is a split file,
// reopened in the viewer in the same place. Only once per file per session: after "Reopen Editor With… > Text Editor"
// the file stays text. Setting `amc.openFlickrSplitFilesInViewer` (default on) turns this off.
import * as vscode from 'vscode';
import { isFlickrSplitFile } from '../core/datasets/detect';
import { errorMessage } from '../core/errors';
import { outputChannel } from '../output';

export const FLICKR_SPLIT_SETTING = 'openFlickrSplitFilesInViewer';
const VIEW_TYPE = 'amc.annotationViewer.anyFile';

function textTabOf(uri: vscode.Uri): vscode.Tab | undefined {
  for (const group of vscode.window.tabGroups.all) {
    for (const tab of group.tabs) {
      if (tab.input instanceof vscode.TabInputText && tab.input.uri.toString() === uri.toString()) return tab;
    }
  }
  return undefined;
}

export function registerFlickrSplitOpen(context: vscode.ExtensionContext): void {
  const seen = new Set<string>();
  const consider = async (tab: vscode.Tab): Promise<void> => {
    const input = tab.input;
    if (!(input instanceof vscode.TabInputText) || input.uri.scheme !== 'file' || !/\.txt$/i.test(input.uri.fsPath)) return;
    const key = input.uri.toString();
    if (seen.has(key) || !vscode.workspace.getConfiguration('amc').get<boolean>(FLICKR_SPLIT_SETTING, true)) return;
    seen.add(key);
    if (!await isFlickrSplitFile(input.uri.fsPath)) return;
    const column = tab.group.viewColumn;
    try {
      await vscode.commands.executeCommand('vscode.openWith', input.uri, VIEW_TYPE, { viewColumn: column, preview: tab.isPreview });
      const text = textTabOf(input.uri); // tab objects are snapshots: find the text tab again
      if (text) await vscode.window.tabGroups.close(text);
      outputChannel().info(`${input.uri.fsPath} is a Flickr30k Entities split file: opened in the AMC viewer `
        + `(setting amc.${FLICKR_SPLIT_SETTING}; "Reopen Editor With…" shows it as text)`);
    } catch (err) {
      outputChannel().warn(`could not open ${input.uri.fsPath} in the AMC viewer: ${errorMessage(err)}`);
    }
  };
  context.subscriptions.push(vscode.window.tabGroups.onDidChangeTabs((e) => {
    for (const tab of [...e.opened, ...e.changed]) void consider(tab);
  }));
  // The .txt whose opening activated the extension is open already.
  for (const group of vscode.window.tabGroups.all) if (group.activeTab) void consider(group.activeTab);
}
