// Flickr30k Entities split files open in the viewer by content (issue 14 item 8): test.txt opened as text (as a
// double-click in the Explorer does) ends in the AMC viewer with its samples; an ordinary .txt stays a text editor.
import * as assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ViewerState } from '../../../src/editor/registry';
import { activateAmc, repoDir, waitFor, workspaceDir } from './helpers';

async function states(): Promise<ViewerState[]> {
  return (await vscode.commands.executeCommand<ViewerState[]>('amc.viewerState')) ?? [];
}

function tabsOf(uri: vscode.Uri): vscode.Tab[] {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => {
    const input = t.input as { uri?: vscode.Uri } | undefined;
    return input?.uri?.toString() === uri.toString();
  });
}

describe('Flickr30k split files open in the viewer by content', function () {
  this.timeout(120_000);
  let repo: string;
  before(async () => { repo = repoDir((await activateAmc()).api.extensionPath); });
  afterEach(() => vscode.commands.executeCommand('workbench.action.closeAllEditors'));

  it('Flickr split test.txt opened as text is reopened in the viewer with its samples', async () => {
    const uri = vscode.Uri.file(path.join(repo, 'test', 'fixtures', 'datasets', 'flickr', 'flickr30k_entities', 'test.txt'));
    await vscode.window.showTextDocument(uri, { preview: false });
    const state = await waitFor('test.txt in the AMC viewer', async () =>
      (await states()).find((s) => s.kind === 'dataset' && s.file === uri.fsPath && s.count > 0), 60_000);
    assert.equal(state.format, 'flickr-raw');
    const tabs = await waitFor('the text tab closed', () => {
      const t = tabsOf(uri);
      return t.length === 1 ? t : undefined;
    });
    assert.ok(tabs[0].input instanceof vscode.TabInputCustom, `the tab left is ${JSON.stringify(tabs[0].input)}`);
    assert.equal((tabs[0].input as vscode.TabInputCustom).viewType, 'amc.annotationViewer.anyFile');
  });

  it('Flickr split: an ordinary .txt (even beside Sentences/) and ids without Sentences/ stay text editors', async () => {
    const dir = path.join(workspaceDir(), 'flickr-like');
    mkdirSync(path.join(dir, 'Sentences'), { recursive: true });
    mkdirSync(path.join(dir, 'elsewhere'), { recursive: true });
    const notes = path.join(dir, 'notes.txt');
    const ids = path.join(dir, 'elsewhere', 'test.txt');
    writeFileSync(notes, 'shopping list\n2 eggs\n');
    writeFileSync(ids, '1000092795\n10002456\n');
    for (const file of [notes, ids]) {
      const uri = vscode.Uri.file(file);
      await vscode.window.showTextDocument(uri, { preview: false });
      await new Promise((r) => setTimeout(r, 3000)); // the check is a stat and a 64 KB read: long done by now
      const tabs = tabsOf(uri);
      assert.equal(tabs.length, 1, file);
      assert.ok(tabs[0].input instanceof vscode.TabInputText, `${file} left as ${JSON.stringify(tabs[0].input)}`);
      assert.equal((await states()).find((s) => s.file === file), undefined);
    }
  });

  it('Flickr split: the setting amc.openFlickrSplitFilesInViewer off keeps a split file as text', async () => {
    const config = vscode.workspace.getConfiguration('amc');
    await config.update('openFlickrSplitFilesInViewer', false, vscode.ConfigurationTarget.Global);
    try {
      const uri = vscode.Uri.file(path.join(repo, 'test', 'fixtures', 'datasets', 'flickr', 'flickr30k_entities', 'val.txt'));
      await vscode.window.showTextDocument(uri, { preview: false });
      await new Promise((r) => setTimeout(r, 3000));
      const tabs = tabsOf(uri);
      assert.equal(tabs.length, 1);
      assert.ok(tabs[0].input instanceof vscode.TabInputText);
    } finally {
      await config.update('openFlickrSplitFilesInViewer', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});
