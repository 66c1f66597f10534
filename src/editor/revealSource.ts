// "Show in file": opens a sample's annotation entry in a text editor beside the viewer, at its line or byte offset.
import * as vscode from 'vscode';
import type { Sample } from '../core/types';
import { offsetsToPositions } from './positions';

/** Shows the entry; false when there is no text to show (a pickle is binary). */
export async function revealSource(sample: Sample): Promise<boolean> {
  const loc = sample.source;
  if (/\.p$/i.test(loc.file)) return false;   // a pickle is binary: nothing to show as text
  let position = new vscode.Position(0, 0);
  if (loc.line !== undefined) position = new vscode.Position(loc.line - 1, 0);
  else if (loc.byteOffset !== undefined) {
    const p = (await offsetsToPositions(loc.file, [loc.byteOffset])).get(loc.byteOffset);
    if (p) position = new vscode.Position(p.line, p.column);
  }
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(loc.file));
  const selection = new vscode.Range(position, position);
  await vscode.window.showTextDocument(doc, { selection, preview: true, viewColumn: vscode.ViewColumn.Beside });
  return true;
}
