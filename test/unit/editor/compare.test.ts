// Comparing two models in the viewer (issue 6, item 4), host side: which folder the comparison model is, the
// command's argument, the per-split delta, and a real ViewerSession comparing two real engines (the bundled
// default model against the tiny test model, whose maps differ) — its answers, its evaluation of both models and
// its events when the comparison changes.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { openDataset } from '../../../src/core/datasets/index';
import { accuracyBySplit } from '../../../src/core/math/pointing';
import type { Sample } from '../../../src/core/types';
import { formatDeltaPts, parseComparisonArg, resolveComparison, splitDeltas } from '../../../src/shared/comparison';
import type { Explainer } from '../../../src/editor/explainer';
import { MemoryDataset } from '../../../src/editor/memoryDataset';
import { MetricStore } from '../../../src/editor/metricStore';
import { ViewerSession, type ComparisonSource } from '../../../src/editor/viewerSession';
import { InferenceEngine } from '../../../src/model/engine';
import { RemoteError, RequestClient, type EventMap, type HostToWebview } from '../../../src/shared/protocol';

const ROOT = path.resolve(__dirname, '../../..');
const TINY = path.join(ROOT, 'test', 'fixtures', 'model', 'tiny');
const DEFAULT = path.join(ROOT, 'models', 'amc-small-synthetic');

describe('model comparison: state and deltas', () => {
  const cur = '/ws/runs/a/model', def = '/ext/models/amc-small-synthetic';

  it('resolves the comparison folder from the choice and the previous model of the last export', () => {
    // No export yet: 'previous' (the default choice) compares with nothing.
    assert.match((resolveComparison({ kind: 'previous' }, undefined, cur, def) as { none: string }).none, /no previous model/);
    // '' = amc.modelPath was empty = the bundled default model.
    assert.deepEqual(resolveComparison({ kind: 'previous' }, '', cur, def), { dir: def, role: 'previous' });
    assert.deepEqual(resolveComparison({ kind: 'previous' }, '/ws/old', cur, def), { dir: '/ws/old', role: 'previous' });
    assert.deepEqual(resolveComparison({ kind: 'folder', dir: '/m/x' }, '/ws/old', cur, def), { dir: '/m/x', role: 'chosen' });
    assert.match((resolveComparison({ kind: 'off' }, '/ws/old', cur, def) as { none: string }).none, /off/);
    // The previous model is the current one again (the setting was switched back): nothing to compare.
    assert.match((resolveComparison({ kind: 'previous' }, '', def + '/', def) as { none: string }).none, /is the current model/);
    assert.match((resolveComparison({ kind: 'folder', dir: cur }, undefined, cur, def) as { none: string }).none, /is the current model/);
    // Paths go through the host's resolver (path.resolve there).
    assert.deepEqual(resolveComparison({ kind: 'folder', dir: 'rel/m' }, undefined, cur, def, (p) => path.resolve('/base', p)), { dir: '/base/rel/m', role: 'chosen' });
  });

  it('parses the command argument: folder, previous, off/null; refuses anything else', () => {
    assert.equal(parseComparisonArg(undefined), undefined);
    assert.deepEqual(parseComparisonArg(null), { kind: 'off' });
    assert.deepEqual(parseComparisonArg('off'), { kind: 'off' });
    assert.deepEqual(parseComparisonArg('previous'), { kind: 'previous' });
    assert.deepEqual(parseComparisonArg(' /m/x '), { kind: 'folder', dir: '/m/x' });
    assert.deepEqual(parseComparisonArg({ fsPath: '/m/y', scheme: 'file' }), { kind: 'folder', dir: '/m/y' });
    assert.match((parseComparisonArg(42) as { invalid: string }).invalid, /model folder path.*got 42/);
    assert.ok('invalid' in (parseComparisonArg('') as object));
  });

  it('computes the per-split delta in percentage points (current − comparison)', () => {
    const current = accuracyBySplit([
      { split: 'testA', hit: true }, { split: 'testA', hit: true }, { split: 'testA', hit: false }, { split: 'testB', hit: true },
    ]);
    const previous = accuracyBySplit([
      { split: 'testA', hit: true }, { split: 'testA', hit: false }, { split: 'testA', hit: false }, { split: 'testB', hit: true }, { split: 'val', hit: true },
    ]);
    const d = splitDeltas(current, previous);
    assert.deepEqual(d.map((x) => x.split), ['testA', 'testB', 'all', 'val']);
    const [a, b, all, val] = d;
    assert.ok(Math.abs(a.deltaPts - (2 / 3 - 1 / 3) * 100) < 1e-9);
    assert.deepEqual([a.currentHits, a.currentTotal, a.comparisonHits, a.comparisonTotal], [2, 3, 1, 3]);
    assert.equal(b.deltaPts, 0);
    assert.ok(Math.abs(all.deltaPts - (3 / 4 - 3 / 5) * 100) < 1e-9);
    assert.ok(Number.isNaN(val.current) && Number.isNaN(val.deltaPts), 'a split only one model has: no delta');
    assert.equal(val.comparison, 1);
    assert.equal(formatDeltaPts(a.deltaPts), '+33.3 pts');
    assert.equal(formatDeltaPts(-1), '−1.0 pts');
    assert.equal(formatDeltaPts(0.04), '±0.0 pts');
    assert.equal(formatDeltaPts(3.25, 2), '+3.25 pts');
    assert.equal(formatDeltaPts(NaN), '–');
  });
});

describe('model comparison: a viewer session with two real engines', function () {
  this.timeout(180_000);
  let current: InferenceEngine, previous: InferenceEngine;
  let samples: Sample[];
  const explainerOf = (e: InferenceEngine): Explainer => ({
    modelKey: `${e.modelDir}#${e.card.files.grounding.sha256}`,
    info: { name: e.card.name, provider: e.provider, grid: e.card.grid, dir: e.modelDir }, engine: e,
  });

  before(async () => {
    [current, previous] = await Promise.all([InferenceEngine.open(DEFAULT, { provider: 'cpu' }), InferenceEngine.open(TINY, { provider: 'cpu' })]);
    const ds = await openDataset(path.join(ROOT, 'samples', 'synthetic', 'refcoco+', 'refs(unc).p'));
    // A few samples of every split, so the per-split table has several rows.
    const all = await ds.page(0, 10_000);
    await ds.close();
    const bySplit = new Map<string, Sample[]>();
    for (const s of all) { const l = bySplit.get(s.split ?? '') ?? []; if (l.length < 4) l.push(s); bySplit.set(s.split ?? '', l); }
    samples = [...bySplit.values()].flat().map((s, i) => ({ ...s, index: i }));
  });
  after(async () => { await current?.dispose(); await previous?.dispose(); });

  function open(getComparison: () => ComparisonSource | null) {
    const events: HostToWebview[] = [];
    const stores = new Map<string, MetricStore>();
    const session = new ViewerSession({
      mode: 'dataset', title: 'refs', dataset: new MemoryDataset('/synthetic/refs(unc).p', 'refcoco-pickle', samples),
      getExplainer: async () => explainerOf(current), getComparison,
      metricStoreFor: (k) => { let s = stores.get(k); if (!s) { s = new MetricStore(); stores.set(k, s); } return s; },
      imageUri: () => undefined, imageProblem: async () => undefined, savePng: async () => null, colormap: 'jet',
      post: (m) => { events.push(m); client.receive(JSON.parse(JSON.stringify(m))); },
    });
    const client = new RequestClient((m) => session.receive(JSON.parse(JSON.stringify(m))));
    const eventsOf = <E extends keyof EventMap>(name: E) => events.filter((m) => m.kind === 'event' && m.event === name).map((m) => (m as unknown as { data: EventMap[E] }).data);
    return { session, client, eventsOf };
  }

  it('answers with both models’ explanations, evaluates both, and reports the per-split delta', async () => {
    let comparison: ComparisonSource | null = { role: 'previous', dir: previous.modelDir, explainer: async () => explainerOf(previous) };
    const { session, client, eventsOf } = open(() => comparison);
    const init = await client.request('ready', {});
    assert.deepEqual(init.comparison, { role: 'previous', dir: previous.modelDir, model: explainerOf(previous).info });

    // The comparison model's explanation of sample 1: the engine's own numbers for that sample.
    const s = samples[1];
    const [mine, theirs] = await Promise.all([client.request('explainSample', { index: 1 }), client.request('explainComparison', { index: 1 })]);
    const direct = await previous.explainSample(s);
    assert.equal(theirs.lMean, direct.lMean);
    assert.equal(theirs.lMax, direct.lMax);
    assert.equal(theirs.hit, direct.hit);
    assert.deepEqual(theirs.gradcam, Array.from(direct.gradcam));
    assert.equal(theirs.grid, previous.card.grid);
    assert.notEqual(mine.grid, theirs.grid, 'two different models (16×16 vs tiny grid)');
    const phrase = await client.request('explainComparison', { index: 1, phrase: 'the blue square' });
    assert.equal(phrase.index, null);
    assert.equal(phrase.phrase, 'the blue square');
    // The user's phrase is not scored against the sample's boxes (they belong to its own phrase; issue 14 item 5).
    assert.equal(phrase.lMax, undefined);
    assert.equal(phrase.hit, undefined);

    // The pointing game with both: deltas = current − comparison per split, both from independent evaluations.
    const summary = await session.evaluate(() => undefined, new AbortController().signal, 4);
    assert.ok(summary.finished && summary.comparison);
    const ownEval = async (e: InferenceEngine) => {
      const r = await e.explainBatch(samples);
      return accuracyBySplit(samples.map((x, k) => { const v = r[k]; if ('error' in v) throw new Error(v.error); return { split: x.split, hit: v.hit }; }));
    };
    const [expCur, expPrev] = await Promise.all([ownEval(current), ownEval(previous)]);
    assert.deepEqual(summary.bySplit.map((a) => [a.split, a.hits, a.total]), expCur.map((a) => [a.split, a.hits, a.total]));
    assert.deepEqual(summary.comparison.bySplit.map((a) => [a.split, a.hits, a.total]), expPrev.map((a) => [a.split, a.hits, a.total]));
    assert.equal(summary.comparison.deltas.length, expCur.length);
    for (const d of summary.comparison.deltas) {
      const c = expCur.find((a) => a.split === d.split)!, p = expPrev.find((a) => a.split === d.split)!;
      assert.ok(Math.abs(d.deltaPts - (c.accuracy - p.accuracy) * 100) < 1e-9, `${d.split}: ${d.deltaPts} vs ${(c.accuracy - p.accuracy) * 100}`);
    }
    assert.equal(summary.comparison.model.name, previous.card.name);

    // A second evaluation explains nothing again (both metric caches are per model).
    const calls: number[] = [];
    const batch = previous.explainBatch.bind(previous);
    previous.explainBatch = (xs, sig) => { calls.push(xs.length); return batch(xs, sig); };
    try { await session.evaluate(() => undefined, new AbortController().signal, 4); } finally { previous.explainBatch = batch; }
    assert.deepEqual(calls, []);

    // Comparison off: the webview is told, the evaluation loses its comparison half, the request is refused.
    comparison = null;
    await session.comparisonChanged();
    assert.deepEqual(eventsOf('comparisonChanged').at(-1), { comparison: null });
    assert.equal(eventsOf('evaluation').at(-1)?.comparison, undefined);
    assert.equal(session.lastComparison, null);
    await assert.rejects(client.request('explainComparison', { index: 0 }), (e: unknown) => e instanceof RemoteError && e.code === 'no-model');
    session.dispose();
  });

  it('a comparison folder that cannot be opened is reported with its name, the current model keeps working', async () => {
    const bad = '/nonexistent/amc-model';
    const { session, client } = open(() => ({ role: 'chosen', dir: bad, explainer: () => InferenceEngine.open(bad).then(explainerOf) }));
    const init = await client.request('ready', {});
    assert.equal(init.comparison?.role, 'chosen');
    assert.match((init.comparison?.model as { error: string }).error, /amc-model/);
    await assert.rejects(client.request('explainComparison', { index: 0 }), /amc-model/);
    const ok = await client.request('explainSample', { index: 0 });
    assert.equal(ok.grid, current.card.grid);
    // The evaluation leaves the broken comparison out instead of failing.
    const summary = await session.evaluate(() => undefined, new AbortController().signal, 8);
    assert.equal(summary.finished, true);
    assert.equal(summary.comparison, undefined);
    session.dispose();
  });
});
