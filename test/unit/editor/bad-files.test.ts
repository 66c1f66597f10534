// Issue 12 item 5: one bad entry never makes a file unopenable. Each fixture of test/fixtures/datasets/bad is opened
// the way the custom editor opens it (openDataset, the first page of 200, a ViewerSession) and the webview's requests
// are answered: the readable samples are listed, the bad entries are counted (never silently dropped), and a truncated
// file says where it ends and stops "reading…".
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { openDataset } from '../../../src/core/datasets/index';
import type { Dataset } from '../../../src/core/datasets/dataset';
import { MetricStore } from '../../../src/editor/metricStore';
import { ViewerSession } from '../../../src/editor/viewerSession';
import { RequestClient, type EventMap, type HostToWebview } from '../../../src/shared/protocol';

const BAD = path.join(__dirname, '..', '..', 'fixtures', 'datasets', 'bad');

async function openAsTheEditorDoes(file: string) {
  const dataset: Dataset = await openDataset(file);
  await dataset.page(0, 200); // annotationEditor.openCustomDocument: used to throw here ("the editor could not be opened")
  const events: HostToWebview[] = [];
  const session = new ViewerSession({
    mode: 'dataset', title: path.basename(file), dataset,
    getExplainer: async () => { throw new Error('no model in this test'); },
    metricStoreFor: () => new MetricStore(),
    imageUri: () => undefined, imageProblem: async () => undefined, savePng: async () => null, colormap: 'jet',
    post: (m) => { events.push(m); client.receive(JSON.parse(JSON.stringify(m))); },
  });
  const client = new RequestClient((m) => session.receive(JSON.parse(JSON.stringify(m))));
  const progress = () => events.filter((m) => m.kind === 'event' && m.event === 'datasetProgress').map((m) => (m as unknown as { data: EventMap['datasetProgress'] }).data);
  return { dataset, session, client, progress };
}

async function settled(progress: () => EventMap['datasetProgress'][]): Promise<EventMap['datasetProgress']> {
  for (let i = 0; i < 100; i++) {
    const last = progress().at(-1);
    if (last && (last.indexingComplete || last.error)) return last;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`indexing never finished: ${JSON.stringify(progress().at(-1))}`);
}

describe('viewer host: files with bad entries or a truncated end open (issue 12 item 5)', () => {
  const cases: Array<{ name: string; count: number; bad: number; phrases: string[] }> = [
    { name: 'vg_nan_box.json', count: 0, bad: 1, phrases: [] },
    { name: 'vg_null_box.json', count: 0, bad: 1, phrases: [] },
    { name: 'vg_string_box.json', count: 0, bad: 1, phrases: [] },
    { name: 'vg_missing_phrase.json', count: 1, bad: 1, phrases: ['fine'] },
    { name: 'vg_no_image_id.json', count: 0, bad: 1, phrases: [] },
    { name: 'amc_vg_nan_box.json', count: 1, bad: 1, phrases: ['fine'] },
    { name: 'amc_vg_bad_caption.json', count: 0, bad: 1, phrases: [] },
  ];
  for (const c of cases) {
    it(`${c.name}: opens, lists the ${c.count} readable sample(s), counts ${c.bad} bad entry`, async () => {
      const { dataset, session, client, progress } = await openAsTheEditorDoes(path.join(BAD, c.name));
      try {
        const init = await client.request('ready', {});
        const done = await settled(progress);
        assert.equal(done.error, undefined);
        assert.equal(done.count, c.count);
        assert.equal(done.badEntries, c.bad, 'the bad entry is counted, not dropped');
        assert.equal(done.stoppedEarly, undefined);
        assert.ok(init.badEntries === undefined || init.badEntries === c.bad);
        const { viewId } = await client.request('setView', { query: { sortKey: 'index', sortDirection: 'asc', text: '', split: null, missesOnly: false } });
        const { rows } = await client.request('getRows', { viewId, start: 0, limit: 50 });
        assert.deepEqual(rows.map((r) => r.phrase), c.phrases);
      } finally { session.dispose(); await dataset.close(); }
    });
  }

  for (const [name, where, unit] of [['vg_truncated.json', /the file ends at byte 221 \(line 1, column 222\)/, 'region'], ['amc_vg_truncated.json', /the file ends at byte 122 \(line 1, column 123\)/, 'sample']] as const) {
    it(`${name}: shows the entry before the cut, says where the file ends, and stops "reading…"`, async () => {
      const { dataset, session, client, progress } = await openAsTheEditorDoes(path.join(BAD, name));
      try {
        await client.request('ready', {});
        const done = await settled(progress);
        assert.equal(done.indexingComplete, true, 'not "(reading…)" forever');
        assert.equal(done.error, undefined);
        assert.match(done.stoppedEarly ?? '', where);
        assert.match(done.stoppedEarly ?? '', new RegExp(`the 1 ${unit} before that point is shown`));
        const again = await client.request('ready', {}); // a webview that reloads gets the same state
        assert.equal(again.stoppedEarly, done.stoppedEarly);
        assert.equal(again.indexingComplete, true);
        const { viewId } = await client.request('setView', { query: { sortKey: 'index', sortDirection: 'asc', text: 'fine', split: null, missesOnly: false } });
        const { rows } = await client.request('getRows', { viewId, start: 0, limit: 50 });
        assert.deepEqual(rows.map((r) => r.phrase), ['fine'], 'search works on the readable part');
      } finally { session.dispose(); await dataset.close(); }
    });
  }
});

describe('viewer host: the status line counts what the Problems panel holds', () => {
  it('after the whole-file lint, problemCount is its count (not the reader\'s partial list)', async () => {
    const { dataset, session, client, progress } = await openAsTheEditorDoes(path.join(BAD, 'vg_missing_phrase.json'));
    try {
      await client.request('ready', {});
      await settled(progress);
      session.setProblemCount(7);
      assert.equal(progress().at(-1)?.problemCount, 7);
      assert.equal((await client.request('ready', {})).problemCount, 7);
    } finally { session.dispose(); await dataset.close(); }
  });
});
