// The viewer's Insights panel on the host (issue 15 items 2 and 3): the InsightTable built from a viewer's
// MetricStore, the exact sample indices behind a bar or bin (the list filter), the session's getInsights and
// insight-filtered setView, and loading an evaluation report into the store (refused for another model or file).
import * as assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Sample } from '../../../src/core/types';
import { ImageSizes, selectionIndices, tableFromStore, viewerInsights } from '../../../src/editor/insightsHost';
import { MemoryDataset } from '../../../src/editor/memoryDataset';
import { MetricStore } from '../../../src/editor/metricStore';
import { findReportBeside, loadReportInto, reportCandidates } from '../../../src/editor/reportLoad';
import { ViewerSession } from '../../../src/editor/viewerSession';
import type { Explainer } from '../../../src/editor/explainer';
import { DEFAULT_QUERY, RequestClient, type InsightSelection } from '../../../src/shared/protocol';

// Images are 100×100; every sample's GT box is [10, 10, 30, 30] (4 % of the image) unless given.
function sample(i: number, phrase: string,
  opts: { image?: string; boxes?: [number, number, number, number][]; split?: string } = {}): Sample {
  const boxes = opts.boxes ?? [[10, 10, 30, 30]];
  return {
    index: i, id: `q${i}`, image: opts.image ?? `/img/${i}.jpg`, imageId: String(i), phrase, caption: phrase, boxes,
    sourceBoxes: boxes, hitRule: 'xyxy', split: opts.split ?? 'test', ids: {}, source: { file: '/d.json', entry: `[${i}]` },
    width: 100, height: 100,
  };
}

const SAMPLES = [
  sample(0, 'the red triangle'),
  sample(1, 'a triangle', { image: '/img/shared.jpg', boxes: [[10, 10, 30, 30]] }),
  sample(2, 'blue circle', { image: '/img/shared.jpg', boxes: [[50, 50, 90, 90]] }),
  sample(3, 'the triangle on the left'),
  sample(4, 'green square', { split: 'val' }),
  sample(5, 'triangle'),        // not computed: never in a breakdown
  sample(6, 'big triangle'),    // an error row: not scored
];

/** Hit at (20, 20) inside the box; misses at given points. lMean = index / 10 so histogram bins are predictable. */
function filledStore(): MetricStore {
  const store = new MetricStore();
  const hit = (i: number) => store.set(i, { score: i, lMean: i / 10, lMax: i / 10 + 0.05, hit: true }, SAMPLES[i].split, { x: 20, y: 20 });
  const miss = (i: number, x: number, y: number) =>
    store.set(i, { score: i, lMean: i / 10, lMax: i / 10 + 0.05, hit: false }, SAMPLES[i].split, { x, y });
  hit(0);
  miss(1, 70, 70);   // lands inside "blue circle"'s box on the same image: other-box
  miss(2, 20, 20);   // lands inside "a triangle"'s box: other-box
  miss(3, 50, 50);   // background
  miss(4, 1, 50);    // on the border
  store.setError(6, '/img/6.jpg: image not found', 'image not found');
  return store;
}

const select = (breakdown: InsightSelection['breakdown'], key: string, outcome: InsightSelection['outcome']): InsightSelection => ({ breakdown, key, outcome });

describe('viewer insights (host)', () => {
  it('builds the table from the settled rows only, in dataset order, with points from the store', async () => {
    const ds = new MemoryDataset('/d.json', 'amc-vg', SAMPLES);
    const t = await tableFromStore(ds, filledStore());
    assert.deepEqual(Array.from(t.indices), [0, 1, 2, 3, 4, 6]);
    const ins = viewerInsights(t, 1);
    assert.equal(ins.rows, 6);
    assert.equal(ins.scored, 5);
    assert.equal(ins.hits, 1);
    assert.equal(ins.notScored, 1);
    const triangle = ins.byWord.words.find((w) => w.key === 'triangle')!;
    assert.deepEqual([triangle.queries, triangle.hits, triangle.notScored], [3, 1, 1]);
    assert.deepEqual(ins.missTarget.counts, { 'other-box': 2, border: 1, background: 1, 'size-unknown': 0 });
  });

  it('samples without an image size (AMC VG) get it from the image header; the rows still without one are counted', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'amc-insight-sizes-'));
    // A PNG header is enough: signature, IHDR length and type, width, height (200×100 here).
    const png = Buffer.alloc(33);
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).copy(png);
    png.write('IHDR', 12, 'latin1');
    png.writeUInt32BE(200, 16);
    png.writeUInt32BE(100, 20);
    writeFileSync(path.join(dir, 'a.png'), png);
    const unsized = SAMPLES.map((s) => ({ ...s, width: undefined, height: undefined, image: path.join(dir, s.index === 3 ? 'missing.png' : 'a.png') }));
    const ds = new MemoryDataset('/d.json', 'amc-vg', unsized);
    const t = await tableFromStore(ds, filledStore(), undefined, new ImageSizes());
    assert.equal(t.noImageSize, 1);   // sample 3's image does not exist
    // Box [10, 10, 30, 30] of 200×100 = 2 % ("1–5%"), sample 2's [50, 50, 90, 90] 8 %; sample 3 is "size unknown".
    const area = Object.fromEntries(viewerInsights(t, 1).byArea.map((r) => [r.key, r.queries + r.notScored]));
    assert.deepEqual([area['1–5%'], area['5–10%'], area['size unknown']], [4, 1, 1]);
    assert.deepEqual(Array.from(selectionIndices(t, select('area', 'size unknown', 'all'), viewerInsights(t, 1))), [3]);
  });

  it('the indices behind a bar are exactly the rows it counts', async () => {
    const ds = new MemoryDataset('/d.json', 'amc-vg', SAMPLES);
    const t = await tableFromStore(ds, filledStore());
    const ins = viewerInsights(t, 1);
    const idx = (s: InsightSelection) => Array.from(selectionIndices(t, s, ins));
    assert.deepEqual(idx(select('word', 'triangle', 'misses')), [1, 3]);
    assert.deepEqual(idx(select('word', 'triangle', 'hits')), [0]);
    assert.deepEqual(idx(select('word', 'triangle', 'all')), [0, 1, 3], 'the error row 6 and the uncomputed row 5 are not in the bar');
    assert.deepEqual(idx(select('word', 'nonexistent', 'all')), []);
    assert.deepEqual(idx(select('split', 'val', 'all')), [4]);
    assert.deepEqual(idx(select('length', '2', 'all')), [1, 2, 4]);
    assert.deepEqual(idx(select('boxes', '1', 'misses')), [1, 2, 3, 4]);
    assert.deepEqual(idx(select('area', '1–5%', 'all')), [0, 1, 3, 4]);
    assert.deepEqual(idx(select('area', '10–25%', 'misses')), [2]);
    assert.deepEqual(idx(select('missTarget', 'other-box', 'misses')), [1, 2]);
    assert.deepEqual(idx(select('missTarget', 'border', 'misses')), [4]);
    assert.deepEqual(idx(select('missTarget', 'background', 'misses')), [3]);
    // Each bar's count equals the number of indices behind it, for every rate of every breakdown.
    for (const [breakdown, rates] of [['length', ins.byLength], ['area', ins.byArea], ['boxes', ins.byBoxes], ['split', ins.bySplit], ['word', ins.byWord.words]] as const) {
      for (const r of rates) {
        assert.equal(idx(select(breakdown, r.key, 'all')).length, r.queries, `${breakdown} ${r.key}`);
        assert.equal(idx(select(breakdown, r.key, 'hits')).length, r.hits, `${breakdown} ${r.key} hits`);
      }
    }
    // Histogram bins: the rows counted in bin b are the rows behind it.
    for (const h of ['lMean', 'lMax'] as const) {
      ins.histograms[h].hits.forEach((n, b) => assert.equal(idx(select(h, String(b), 'hits')).length, n, `${h} bin ${b} hits`));
      ins.histograms[h].misses.forEach((n, b) => assert.equal(idx(select(h, String(b), 'misses')).length, n, `${h} bin ${b} misses`));
    }
    assert.deepEqual(idx(select('lMean', '19', 'misses')), [4], 'the last bin holds the largest value (0.4)');
  });

  it('the session filters the list to an Insights bar and answers getInsights with both models', async () => {
    const ds = new MemoryDataset('/d.json', 'amc-vg', SAMPLES);
    const current = filledStore();
    const other = new MetricStore();
    for (const i of [0, 1, 2, 3, 4]) other.set(i, { score: 0, lMean: 0.1, lMax: 0.2, hit: true }, SAMPLES[i].split, { x: 20, y: 20 });
    const explainer = (name: string): Explainer => ({ modelKey: name, info: { name, provider: 'cpu', grid: 24 }, engine: {} as never, modelSha256: 'a'.repeat(64) });
    const stores: Record<string, MetricStore> = { current, previous: other };
    const session = new ViewerSession({
      mode: 'dataset', title: 'd', dataset: ds, getExplainer: async () => explainer('current'), metricStoreFor: (k) => stores[k],
      getComparison: () => ({ role: 'previous', dir: '/models/prev', explainer: async () => explainer('previous') }),
      imageUri: () => undefined, imageProblem: async () => undefined, savePng: async () => null, colormap: 'jet',
      post: (m) => client.receive(JSON.parse(JSON.stringify(m))),
    });
    const client = new RequestClient((m) => session.receive(JSON.parse(JSON.stringify(m))));
    await client.request('ready', {});
    const result = await client.request('getInsights', { minCount: 1 });
    assert.equal(result.rows, 6);
    assert.equal(result.current?.hits, 1);
    assert.equal(result.comparison?.model, 'previous');
    assert.equal(result.comparison?.insights.hits, 5);
    const { viewId, total } = await client.request('setView', { query: { ...DEFAULT_QUERY, insight: select('word', 'triangle', 'misses') } });
    assert.equal(total, 2);
    const rows = await client.request('getRows', { viewId, start: 0, limit: 10 });
    assert.deepEqual(rows.rows.map((r) => r.phrase), ['a triangle', 'the triangle on the left']);
    assert.equal(session.lastInsightFilter?.label, 'word “triangle” · misses');
    // Combined with the text search, and cleared with insight: null.
    assert.equal((await client.request('setView', { query: { ...DEFAULT_QUERY, text: 'left', insight: select('word', 'triangle', 'misses') } })).total, 1);
    assert.equal((await client.request('setView', { query: { ...DEFAULT_QUERY, insight: null } })).total, SAMPLES.length);
    await assert.rejects(client.request('setView', { query: { ...DEFAULT_QUERY, insight: { breakdown: 'colour', key: 'x', outcome: 'all' } as never } }), /insight must be/);
    session.dispose();
  });
});

describe('evaluation report into the viewer', () => {
  const SHA = 'ab'.repeat(32);
  function setup(): { dir: string; ds: MemoryDataset; report: (header: object, rows: object[]) => string } {
    const dir = mkdtempSync(path.join(tmpdir(), 'amc-report-load-'));
    const datasetFile = path.join(dir, 'refs.json');
    writeFileSync(datasetFile, '[1234567890]');   // 12 bytes: the size the header must name
    const ds = new MemoryDataset(datasetFile, 'amc-vg', SAMPLES.map((s) => ({ ...s, source: { file: datasetFile, entry: s.source.entry } })));
    const report = (header: object, rows: object[]) => {
      const file = path.join(dir, 'refs.amc-eval.json');
      writeFileSync(file, JSON.stringify({ ...header, samples: rows }));
      return file;
    };
    return { dir, ds, report };
  }
  const header = (over: object = {}) => ({
    schema: 'amc-eval-report', schemaVersion: 1, writer: 'amc eval',
    model: { name: 'amc-test', cardSha256: SHA, checkpointSha256: null },
    dataset: { file: 'refs.json', size: 12, format: 'amc-vg' }, ...over,
  });
  const row = (i: number, hit: boolean, point: [number, number], extra: object = {}) => ({
    id: `q${i}`, image: SAMPLES[i].image, phrase: SAMPLES[i].phrase, split: SAMPLES[i].split, boxes: SAMPLES[i].boxes,
    width: 100, height: 100, point: { x: point[0], y: point[1] }, hit, lMean: 0.25, lMax: 0.5, score: 3.5, ...extra,
  });

  it('fills the store by id, marked as from the report, without recomputation', async () => {
    const { ds, report } = setup();
    const file = report(header(), [row(3, false, [50, 50]), row(0, true, [20, 20]), { ...row(6, false, [0, 0]), hit: undefined, point: undefined, error: 'image not found', reason: 'image not found' }]);
    const store = new MetricStore();
    const r = await loadReportInto(file, ds, store, { name: 'amc-test', sha256: SHA });
    assert.deepEqual([r.rows, r.scored], [3, 2]);
    assert.deepEqual(store.get(3), { score: 3.5, lMean: 0.25, lMax: 0.5, hit: false });
    assert.deepEqual(store.point(3), { x: 50, y: 50 });
    assert.equal(store.get(0)?.hit, true);
    assert.ok(store.isFromReport(0) && store.isFromReport(3) && store.isFromReport(6));
    assert.match(store.error(6) ?? '', /not scored in the evaluation report refs\.amc-eval\.json/);
    assert.equal(store.has(1), false);
    const t = await tableFromStore(ds, store);
    assert.deepEqual(Array.from(selectionIndices(t, select('missTarget', 'background', 'misses'), viewerInsights(t, 1))), [3]);
  });

  it('not-scored rows keep the report\'s own error and reason (list and insights), not a generic one', async () => {
    const { ds, report } = setup();
    const failed = (i: number, error: string, reason: string) =>
      ({ ...row(i, false, [0, 0]), hit: undefined, point: undefined, error, reason });
    const file = report(header(), [row(0, true, [20, 20]), failed(3, '/img/3.jpg: image not found', 'image not found'),
      failed(6, '/img/6.jpg: 9000×9000 pixels, more than the limit', 'image too large')]);
    const store = new MetricStore();
    await loadReportInto(file, ds, store, { name: 'amc-test', sha256: SHA });
    assert.equal(store.errorReason(3), 'image not found');
    assert.equal(store.errorReason(6), 'image too large');
    assert.match(store.error(6) ?? '', /^\/img\/6\.jpg: 9000×9000 pixels, more than the limit \(not scored in the evaluation report refs\.amc-eval\.json\)$/);
    const insights = viewerInsights(await tableFromStore(ds, store), 1);
    assert.deepEqual(insights.notScoredReasons, [{ reason: 'image not found', count: 1 }, { reason: 'image too large', count: 1 }]);
  });

  it('streams: the first rows are in the store while the rest of the report is still being read', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'amc-report-stream-'));
    const datasetFile = path.join(dir, 'big.json');
    writeFileSync(datasetFile, '[1234567890]');
    const many = Array.from({ length: 5000 }, (_, i) => sample(i, i % 2 ? 'a red triangle' : 'blue circle'));
    const ds = new MemoryDataset(datasetFile, 'amc-vg', many);
    const file = path.join(dir, 'big.amc-eval.json');
    const rows = many.map((s) => ({ id: s.id, image: s.image, phrase: s.phrase, split: s.split, boxes: s.boxes, point: { x: 20, y: 20 },
      hit: true, lMean: 0.1, lMax: 0.2, score: 1 }));
    writeFileSync(file, JSON.stringify({ ...header({ dataset: { file: 'big.json', size: 12, format: 'amc-vg' } }), samples: rows }, null, 1));
    const store = new MetricStore();
    const seen: { loaded: number; first: boolean; last: boolean }[] = [];
    const r = await loadReportInto(file, ds, store, { name: 'amc-test', sha256: SHA }, {
      chunkBytes: 64 << 10,
      onProgress: (loaded) => seen.push({ loaded, first: store.has(0) && store.has(loaded - 1), last: store.has(4999) }),
    });
    assert.equal(r.loaded, 5000);
    assert.ok(seen.length > 0 && seen[0].loaded < 5000, JSON.stringify(seen));
    assert.deepEqual({ ...seen[0], loaded: 0 }, { loaded: 0, first: true, last: false });
  });

  it('a report refused midway puts the rows it had written back as they were', async () => {
    const { ds, report } = setup();
    const store = new MetricStore();
    store.set(0, { score: -1, lMean: 0.5, lMax: 0.75, hit: false }, 'test', { x: 1, y: 2 });
    const file = report(header(), [row(0, true, [20, 20]), row(3, true, [20, 20]), { ...row(4, true, [20, 20]), id: 'q99' }]);
    await assert.rejects(loadReportInto(file, ds, store, { name: 'amc-test', sha256: SHA }), /samples\[2\] has id "q99"/);
    assert.deepEqual(store.get(0), { score: -1, lMean: 0.5, lMax: 0.75, hit: false });
    assert.deepEqual(store.point(0), { x: 1, y: 2 });
    assert.equal(store.isFromReport(0), false);
    assert.equal(store.has(3), false);
    assert.equal(store.computedCount, 1);
  });

  it('refuses a report of another model, another file, or rows the dataset lacks, with the reason, leaving the store alone', async () => {
    const { ds, report } = setup();
    const store = new MetricStore();
    const load = (file: string) => loadReportInto(file, ds, store, { name: 'amc-test', sha256: SHA });
    await assert.rejects(load(report(header({ model: { name: 'other', cardSha256: 'cd'.repeat(32), checkpointSha256: null } }), [row(0, true, [20, 20])])),
      /refs\.amc-eval\.json: the report was computed with model other .* not with the open model amc-test/);
    await assert.rejects(load(report(header({ dataset: { file: 'refs.json', size: 13, format: 'amc-vg' } }), [row(0, true, [20, 20])])),
      /the report is for refs\.json of 13 bytes; this refs\.json has 12 bytes/);
    await assert.rejects(load(report(header({ dataset: { file: 'train.json', size: 12, format: 'amc-vg' } }), [row(0, true, [20, 20])])),
      /the report is for the dataset file train\.json, not refs\.json/);
    await assert.rejects(load(report(header(), [row(0, true, [20, 20]), { ...row(1, true, [20, 20]), id: 'q99' }])),
      /samples\[1\] has id "q99", which refs\.json does not contain/);
    await assert.rejects(load(report(header(), [{ ...row(0, true, [20, 20]), phrase: 'a square' }])),
      /samples\[0\] \(id "q0"\) has the phrase "a square", but refs\.json has "the red triangle"/);
    assert.equal(store.computedCount, 0);
  });

  it('finds <dataset name>.amc-eval.json, then amc-eval-report.json, beside the dataset', async () => {
    const { dir } = setup();
    assert.deepEqual(reportCandidates(path.join(dir, 'refs.json')), [path.join(dir, 'refs.amc-eval.json'), path.join(dir, 'amc-eval-report.json')]);
    assert.equal(await findReportBeside(path.join(dir, 'refs.json')), undefined);
    writeFileSync(path.join(dir, 'amc-eval-report.json'), '{}');
    assert.equal(await findReportBeside(path.join(dir, 'refs.json')), path.join(dir, 'amc-eval-report.json'));
    writeFileSync(path.join(dir, 'refs.amc-eval.json'), '{}');
    assert.equal(await findReportBeside(path.join(dir, 'refs.json')), path.join(dir, 'refs.amc-eval.json'));
  });

  it('a row loaded from a report is still explained on demand; when it cannot be, it keeps the report\'s results', async () => {
    const { ds, report } = setup();
    const file = report(header(), [row(0, true, [20, 20]), row(3, false, [50, 50])]);
    let explained = 0;
    const fakeResult = (s: Sample) => ({
      score: 9, itmProbability: 0.9, grid: 2, gradcam: new Float32Array(4), tokens: [], tokenGradcam: [], width: 100, height: 100,
      point: { x: 21, y: 21 }, hit: true, lMean: 0.1, lMax: 0.2, total: 0.3, maskEmpty: false, index: s.index,
    });
    const engine = {
      explain: async () => { throw new Error('unused'); },
      explainSample: async (s: Sample) => { explained++; if (s.index === 3) throw new Error('/img/3.jpg: image not found'); return fakeResult(s); },
      explainBatch: async () => { throw new Error('a report row must not be recomputed in a batch'); },
    };
    const store = new MetricStore();
    const session = new ViewerSession({
      mode: 'dataset', title: 'd', dataset: ds, metricStoreFor: () => store,
      getExplainer: async () => ({ modelKey: 'm', info: { name: 'amc-test', provider: 'cpu', grid: 2 }, engine: engine as never, modelSha256: SHA }),
      imageUri: () => undefined, imageProblem: async () => undefined, savePng: async () => null, colormap: 'jet', post: () => undefined,
    });
    const client = new RequestClient((m) => session.receive(JSON.parse(JSON.stringify(m))));
    (session as unknown as { opts: { post: (m: unknown) => void } }).opts.post = (m) => client.receive(JSON.parse(JSON.stringify(m)));
    await client.request('ready', {});
    await session.loadReport(file);
    assert.deepEqual(await client.request('computeRows', { indices: [0, 3] }), { queued: 0 }, 'report rows are not queued for computation');
    const payload = await client.request('explainSample', { index: 0 });
    assert.equal(payload.score, 9);
    assert.equal(explained, 1);
    assert.equal(store.isFromReport(0), false, 'explained here: the fresh numbers replace the report\'s');
    await assert.rejects(client.request('explainSample', { index: 3 }), /image not found/);
    assert.deepEqual(store.get(3), { score: 3.5, lMean: 0.25, lMax: 0.5, hit: false });
    assert.ok(store.isFromReport(3));
    session.dispose();
  });
});
