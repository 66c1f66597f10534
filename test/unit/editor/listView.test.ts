// The text filter while a large file is still being read (issue 14 item 4): the reader's phrase index answers at once
// from the rows indexed so far, and the view grows to the full answer as indexing goes on.
import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { openDataset } from '../../../src/core/datasets/index';
import { buildView, GrowingFilterView } from '../../../src/editor/listView';
import { MetricStore } from '../../../src/editor/metricStore';
import { ViewerSession } from '../../../src/editor/viewerSession';
import { DEFAULT_QUERY, RequestClient, type EventMap, type ViewQuery } from '../../../src/shared/protocol';

const WORK = path.join(__dirname, '..', '..', '.work', 'listview');
const WORDS = ['Tree', 'white shirt', 'man wearing a hat', 'zebra', 'sky', 'caf\u00e9 table'];

function writeVg(file: string, images: number, perImage: number): string[] {
  const phrases: string[] = [];
  const entries: string[] = [];
  for (let img = 0; img < images; img++) {
    const regions: string[] = [];
    for (let r = 0; r < perImage; r++) {
      const phrase = `${WORDS[(img * 7 + r) % WORDS.length]} ${img}`;
      phrases.push(phrase);
      regions.push(JSON.stringify({ region_id: img * 100 + r, width: 5, height: 5, image_id: img + 1, phrase, y: 1, x: 1 }));
    }
    entries.push(`{"regions": [${regions.join(', ')}], "id": ${img + 1}}`);
  }
  writeFileSync(file, `[${entries.join(', ')}]`);
  return phrases;
}

const query = (q: Partial<ViewQuery>): ViewQuery => ({ ...DEFAULT_QUERY, ...q });
const rows = (v: { total(): number; indexAt(p: number): number }) => Array.from({ length: v.total() }, (_, p) => v.indexAt(p));

describe('text filter during indexing (GrowingFilterView)', () => {
  let file: string;
  let phrases: string[];
  before(() => {
    mkdirSync(WORK, { recursive: true });
    file = path.join(WORK, 'region_descriptions.json');
    phrases = writeVg(file, 4000, 10);
  });

  it('the first query answers before the file is read, then grows to exactly the full answer', async () => {
    const ds = await openDataset(file, { phraseIndex: true, chunkBytes: 16 << 10 } as never);
    const store = new MetricStore();
    const expected = phrases.flatMap((p, i) => (p.toLowerCase().includes('zebra') ? [i] : []));
    const view = await buildView(ds, store, query({ text: 'ZEBRA' }), new AbortController().signal);
    assert.ok(view instanceof GrowingFilterView, 'answered from the rows indexed so far');
    assert.ok(view.total() < expected.length, `partial at first: ${view.total()} of ${expected.length}`);
    assert.deepEqual(rows(view), expected.slice(0, view.total()), 'the first rows are the first matches');
    let grew = 0;
    while (!ds.phraseIndex?.()?.complete) {
      await new Promise((r) => setTimeout(r, 5));
      if (view.extend()) grew++;
    }
    await ds.complete;
    view.extend();
    assert.ok(grew > 0, 'it grew while indexing');
    assert.deepEqual(rows(view), expected);
    // Once the file is read, queries answer in full at once (a plain view).
    const later = await buildView(ds, store, query({ text: 'café' }), new AbortController().signal);
    assert.ok(!(later instanceof GrowingFilterView));
    assert.deepEqual(rows(later), phrases.flatMap((p, i) => (p.includes('café') ? [i] : [])));
    await ds.close();
  });

  it('a metric sort during indexing waits for every match, reporting the running count', async () => {
    const ds = await openDataset(file, { phraseIndex: true, chunkBytes: 16 << 10 } as never);
    const store = new MetricStore();
    const reports: number[] = [];
    const view = await buildView(ds, store, query({ text: 'shirt', sortKey: 'lMax', sortDirection: 'desc' }), new AbortController().signal,
      (p) => reports.push(p.matches));
    const expected = phrases.flatMap((p, i) => (p.includes('shirt') ? [i] : []));
    assert.deepEqual(rows(view), expected);
    assert.equal(view.uncomputed, expected.length);
    assert.ok(reports.length > 0 && reports.every((m, k) => k === 0 || m >= reports[k - 1]), `running counts ${reports.join(',')}`);
    await ds.close();
  });

  it('the viewer session answers at once with growing: true, then sends the growing count until complete', async () => {
    const ds = await openDataset(file, { phraseIndex: true, chunkBytes: 16 << 10 } as never);
    const progress: EventMap['filterProgress'][] = [];
    const session = new ViewerSession({
      mode: 'dataset', title: 'vg', dataset: ds, getExplainer: async () => { throw new Error('no model'); },
      metricStoreFor: () => new MetricStore(), imageUri: () => undefined, imageProblem: async () => undefined,
      savePng: async () => null, colormap: 'jet', post: (m) => client.receive(JSON.parse(JSON.stringify(m))),
    });
    const client = new RequestClient((m) => session.receive(JSON.parse(JSON.stringify(m))));
    client.on('filterProgress', (p) => progress.push(p));
    await client.request('ready', {});
    const expected = phrases.filter((p) => p.toLowerCase().includes('man wearing')).length;
    const view = await client.request('setView', { query: query({ text: 'man wearing' }) });
    assert.equal(view.growing, true);
    assert.ok(view.total < expected);
    await ds.complete;
    const last = await new Promise<EventMap['filterProgress']>((resolve) => {
      const poll = setInterval(() => { const p = progress.at(-1); if (p?.complete) { clearInterval(poll); resolve(p); } }, 20);
    });
    assert.equal(last.viewId, view.viewId);
    assert.equal(last.matches, expected);
    const rowsAtEnd = await client.request('getRows', { viewId: view.viewId, start: expected - 2, limit: 10 });
    assert.equal(rowsAtEnd.total, expected);
    assert.equal(rowsAtEnd.rows.length, 2);
    session.dispose();
    await ds.close();
  });
});
