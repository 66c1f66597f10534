// "AMC: Open evaluation report…" inside a real VS Code (issue 15 item 3): a report for the open model and the
// bundled vg_val.json loads into its viewer (the rows get their results, marked as from the report; the viewer's
// state says so), and a report of another model is refused with the reason.
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { openDataset } from '../../../src/core/datasets/index';
import type { ViewerState } from '../../../src/editor/registry';
import { activateAmc, samplesDir, waitFor } from './helpers';

async function states(): Promise<ViewerState[]> {
  return (await vscode.commands.executeCommand<ViewerState[]>('amc.viewerState')) ?? [];
}

/** A schema-1 report of `datasetFile` naming the model card sha256 `sha`: every boxed sample, hit on even indices. */
async function writeReport(datasetFile: string, modelName: string, sha: string): Promise<{ file: string; rows: number }> {
  const ds = await openDataset(datasetFile);
  await ds.complete;
  const samples = (await ds.page(0, ds.count())).filter((s) => s.boxes.length > 0);
  await ds.close();
  const rows = samples.map((s) => {
    const [x1, y1, x2, y2] = s.boxes[0];
    const hit = s.index % 2 === 0;
    return {
      id: s.id, image: s.image, phrase: s.phrase, split: s.split ?? null, boxes: s.boxes,
      point: hit ? { x: Math.round((x1 + x2) / 2), y: Math.round((y1 + y2) / 2) } : { x: 0, y: 0 }, hit, lMean: 0.3, lMax: 0.6, score: 1.5,
    };
  });
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'amc-open-report-')), 'vg_val.amc-eval.json');
  writeFileSync(file, JSON.stringify({
    schema: 'amc-eval-report', schemaVersion: 1, writer: 'amc eval', model: { name: modelName, cardSha256: sha, checkpointSha256: null },
    dataset: { file: path.basename(datasetFile), size: statSync(datasetFile).size, format: 'amc-vg' }, samples: rows,
  }));
  return { file, rows: rows.length };
}

describe('evaluation report into the viewer (AMC: Open evaluation report…)', function () {
  this.timeout(180_000);
  let datasetFile: string;
  let modelDir: string;
  let modelName: string;

  before(async () => {
    const { api } = await activateAmc();
    datasetFile = path.join(samplesDir(api.extensionPath), 'vg_val.json');
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(datasetFile), 'amc.annotationViewer');
    const state = await waitFor('the viewer with its model', async () =>
      (await states()).find((s) => s.file === datasetFile && s.model && !('error' in s.model) && s.count > 0), 90_000);
    const model = state.model as { name: string; dir?: string };
    modelDir = model.dir!;
    modelName = model.name;
  });
  after(async () => { await vscode.commands.executeCommand('workbench.action.closeAllEditors'); });

  it('loads a report for the open model and file: the rows have their results, marked as from the report', async () => {
    const card = JSON.parse(readFileSync(path.join(modelDir, 'model.json'), 'utf8')) as { sha256: Record<string, string> };
    const { file, rows } = await writeReport(datasetFile, modelName, card.sha256['grounding.onnx'].toLowerCase());
    const result = await vscode.commands.executeCommand<{ loaded?: number; refused?: string }>('amc.openEvaluationReport', file);
    assert.equal(result?.refused, undefined, result?.refused);
    assert.equal(result?.loaded, rows);
    const state = (await states()).find((s) => s.file === datasetFile)!;
    assert.deepEqual(state.report, { file, rows, scored: rows });
    assert.ok(state.fromReportCount >= rows - 1, `fromReportCount ${state.fromReportCount} of ${rows}`);   // the shown row may be recomputed
    assert.ok(state.computedCount >= rows);
  });

  it('refuses a report of another model with the reason', async () => {
    const { file } = await writeReport(datasetFile, 'someone-else', 'ab'.repeat(32));
    const result = await vscode.commands.executeCommand<{ refused?: string }>('amc.openEvaluationReport', file);
    assert.match(result?.refused ?? '', /the report was computed with model someone-else .* not with the open model/);
  });
});
