// Where the viewer's exports go: "Export PNG" writes the figure the webview drew to the file a save dialog chose;
// "Export table as CSV" asks where (the session streams the rows there). Both dialogs start beside `folder`.
import * as path from 'node:path';
import * as vscode from 'vscode';

/** Saves `png` where the user chooses; the path, or null when they cancelled. */
export async function savePng(folder: string, suggestedName: string, png: Uint8Array): Promise<string | null> {
  const defaultUri = vscode.Uri.file(path.join(folder, suggestedName));
  const target = await vscode.window.showSaveDialog({ defaultUri, filters: { 'PNG image': ['png'] } });
  if (!target) return null;
  await vscode.workspace.fs.writeFile(target, png);
  return target.fsPath;
}

/** The CSV file the user chooses (a local file: the session writes it with node:fs), or null. */
export async function chooseCsvPath(folder: string, suggestedName: string): Promise<string | null> {
  const defaultUri = vscode.Uri.file(path.join(folder, suggestedName));
  const target = await vscode.window.showSaveDialog({ defaultUri, filters: { 'CSV table': ['csv'] } });
  return target?.scheme === 'file' ? target.fsPath : null;
}
