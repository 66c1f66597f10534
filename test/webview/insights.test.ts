// The Insights panel in real Chromium (issue 15 items 2 and 3): an evaluation report is loaded into the viewer of
// its dataset (the real report reader, the real host session), the panel draws the breakdowns, a click on a bar or
// a histogram bin filters the sample list to exactly the expected rows, everything is reachable by keyboard, and
// light / dark screenshots are taken (README's picture with AMC_UPDATE_SCREENSHOTS=1).
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { openDataset } from '../../src/core/datasets/index';
import type { Dataset } from '../../src/core/datasets/dataset';
import type { Sample } from '../../src/core/types';
import { engineExplainer, type Explainer } from '../../src/editor/explainer';
import { InferenceEngine } from '../../src/model/engine';
import { writeSceneDataset, type SceneFixture } from './fixtures';
import { ROOT, TestViewer } from './host';

const TINY_MODEL = path.join(ROOT, 'test', 'fixtures', 'model', 'tiny');
const SCREENSHOTS = process.env.AMC_UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'media', 'screenshots') : path.join(ROOT, 'test', '.work', 'screenshots');
const TEST_SCREENSHOTS = path.join(ROOT, 'test', '.work', 'screenshots');

let fixture: SceneFixture;
let engine: InferenceEngine;
let explainer: Explainer;
let samples: Sample[];
const viewers: TestViewer[] = [];

/**
 * The report's verdicts, chosen by hand: "… box on the left" phrases miss (point on the image border, L_max 0.9),
 * green phrases miss inside the other rectangle of their image (L_max 0.5), everything else hits (L_max 0.1); the
 * sample whose image is missing is not scored.
 */
function verdict(s: Sample): { hit: boolean; lMax: number; point: { x: number; y: number } } | undefined {
  if (s.index === fixture.missingImageIndex) return undefined;
  const [x1, y1, x2, y2] = s.boxes[0];
  if (s.phrase.includes('on the left')) return { hit: false, lMax: 0.9, point: { x: 0, y: 0 } };
  if (s.phrase.includes('green')) {
    const other = samples.find((o) => o.image === s.image && o.boxes[0][0] !== x1)!.boxes[0];
    return { hit: false, lMax: 0.5, point: { x: (other[0] + other[2]) / 2, y: (other[1] + other[3]) / 2 } };
  }
  return { hit: true, lMax: 0.1, point: { x: (x1 + x2) / 2, y: (y1 + y2) / 2 } };
}

function writeReport(modelSha: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'amc-insights-report-'));
  const rows = samples.map((s) => {
    const v = verdict(s);
    const base = { id: s.id, image: s.image, phrase: s.phrase, split: s.split ?? null, boxes: s.boxes, width: s.width, height: s.height };
    return v ? { ...base, point: v.point, hit: v.hit, lMean: v.lMax / 2, lMax: v.lMax, score: v.hit ? 2 : -1 }
      : { ...base, error: `${s.image}: image not found`, reason: 'image not found' };
  });
  const file = path.join(dir, 'vg_scenes.amc-eval.json');
  writeFileSync(file, JSON.stringify({
    schema: 'amc-eval-report', schemaVersion: 1, writer: 'amc eval',
    model: { name: engine.card.name, cardSha256: modelSha, checkpointSha256: null },
    dataset: { file: path.basename(fixture.file), size: statSync(fixture.file).size, format: 'amc-vg' }, samples: rows,
  }));
  return file;
}

async function listedIndices(viewer: TestViewer): Promise<number[]> {
  return viewer.page.$$eval('.list-rows .list-row:not([hidden])', (rows) =>
    rows.map((r) => Number(r.children[1]?.textContent)).filter((n) => Number.isInteger(n)).sort((a, b) => a - b));
}

async function waitForList(viewer: TestViewer, expected: number[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  let got: number[] = [];
  while (Date.now() < deadline) {
    got = await listedIndices(viewer);
    if (JSON.stringify(got) === JSON.stringify(expected)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  const rows = await viewer.page.$$eval('.list-rows .list-row:not([hidden])', (rs) => rs.map((r) => `${(r as HTMLElement).dataset.position}:${r.textContent}`));
  assert.deepEqual(got, expected, `the list does not show exactly the rows of the bar (host: ${JSON.stringify(viewer.session?.lastInsightFilter)}; rows ${rows.join(' | ')})`);
}

/**
 * The tiny model with its engine refusing every explanation, as when the report's images are not on this machine:
 * the selected row is not recomputed, so the list keeps the report's hand-chosen verdicts.
 */
function withoutImages(): Explainer {
  const refuse = async (): Promise<never> => { throw new Error('images of this report are not on this machine'); };
  return { ...explainer, engine: { explain: refuse, explainSample: refuse, explainBatch: refuse } };
}

async function openWithReport(): Promise<{ viewer: TestViewer; dataset: Dataset }> {
  const dataset = await openDataset(fixture.file);
  const offline = withoutImages();
  const viewer = await TestViewer.open({
    dataset, explainer: async () => offline, imageRoots: [fixture.dir], viewport: { width: 1500, height: 900 },
  });
  viewers.push(viewer);
  await viewer.page.waitForSelector('.list-rows .list-row');
  await viewer.session!.loadReport(writeReport(explainer.modelSha256!));
  await viewer.page.waitForSelector('.insights-bar');
  return { viewer, dataset };
}

describe('webview: Insights panel', function () {
  this.timeout(120_000);
  before(async function () {
    this.timeout(60_000);
    fixture = await writeSceneDataset();
    engine = await InferenceEngine.open(TINY_MODEL, { provider: 'cpu' });
    explainer = engineExplainer(engine); // the model info exactly as the extension builds it (ITM note included)
    const ds = await openDataset(fixture.file);
    await ds.complete;
    samples = await ds.page(0, ds.count());
    await ds.close();
    mkdirSync(SCREENSHOTS, { recursive: true });
    mkdirSync(TEST_SCREENSHOTS, { recursive: true });
  });
  after(async () => { for (const v of viewers.splice(0)) await v.close(); });

  it('a loaded report fills the list; the panel draws the counts; a click on a bar filters the list to exactly its rows', async () => {
    const { viewer } = await openWithReport();
    // The list shows the report's results without recomputation (hit column filled, no model call needed).
    const hitCells = await viewer.page.$$eval('.list-rows .list-row:not([hidden])', (rows) => rows.map((r) => r.children[4]?.textContent ?? ''));
    assert.ok(hitCells.filter((c) => c === '✓' || c === '✗').length >= 20, `hit column: ${hitCells.join(' ')}`);
    const status = await viewer.page.textContent('.insights-status');
    const scored = samples.length - 1;
    assert.match(status ?? '', new RegExp(`${scored} scored queries of ${samples.length} with results \\(1 not scored\\) · ${samples.length} from the report`));

    // "square" bar: its aria-label gives the numbers.
    const squares = samples.filter((s) => s.phrase.split(' ').includes('square') && verdict(s));
    const squareHits = squares.filter((s) => verdict(s)!.hit);
    const label = await viewer.page.getAttribute('button.insights-bar[data-breakdown="word"][data-key="square"]', 'aria-label');
    assert.match(label ?? '', new RegExp(`^word square: ${squareHits.length} of ${squares.length} hit, [0-9.]+ %, 95 % interval [0-9.]+ % to [0-9.]+ %\\. Show these ${squares.length} queries$`));

    // "square" misses: exactly the green squares.
    const expected = squares.filter((s) => !verdict(s)!.hit).map((s) => s.index).sort((a, b) => a - b);
    assert.ok(expected.length > 0);
    await viewer.page.click('button.insights-misses[data-breakdown="word"][data-key="square"]');
    await waitForList(viewer, expected);
    assert.deepEqual(viewer.session!.lastInsightFilter?.indices, expected);
    assert.match(await viewer.page.textContent('.insights-filter') ?? '', /List filtered to word “square” · misses/);
    assert.equal(await viewer.page.getAttribute('button.insights-misses[data-key="square"]', 'aria-pressed'), 'true');

    // Miss targets: "in another GT box" = the green rows (this reader gives no image size: the rest is "size unknown").
    await viewer.page.click('button.insights-bar[data-breakdown="missTarget"][data-key="other-box"]');
    await waitForList(viewer, samples.filter((s) => s.phrase.includes('green') && !s.phrase.includes('on the left')).map((s) => s.index));

    // Histogram: the last L_max bin's misses are the rows with L_max 0.9 (the largest value).
    await viewer.page.click('button.hist-part.miss[data-breakdown="lMax"][data-key="19"]');
    await waitForList(viewer, samples.filter((s) => verdict(s)?.lMax === 0.9).map((s) => s.index));

    // Clear: the whole dataset again.
    await viewer.page.click('.insights-clear');
    const deadline = Date.now() + 10_000;
    while ((await listedIndices(viewer)).length < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual((await listedIndices(viewer)).slice(0, 3), [0, 1, 2]);
    assert.equal(viewer.session!.lastInsightFilter, undefined);
    assert.deepEqual(viewer.consoleErrors.filter((e) => !/Failed to load resource.*404/.test(e)), []);
  });

  it('is keyboard accessible: tabs with arrows, bars as buttons with Up / Down and Enter', async () => {
    const { viewer } = await openWithReport();
    const page = viewer.page;
    assert.equal(await page.getAttribute('[role="tab"][aria-selected="true"]', 'id'), 'amc-tab-insights');
    await page.focus('#amc-tab-insights');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await page.getAttribute('[role="tab"][aria-selected="true"]', 'id'), 'amc-tab-detail');
    assert.equal(await page.isVisible('.insights-bar'), false);
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'amc-tab-insights');
    // Every bar and bin is a button with a label that states its numbers.
    const unlabelled = await page.$$eval('.insights button', (bs) => bs.filter((b) => !/\d/.test(b.getAttribute('aria-label') ?? b.textContent ?? '')).map((b) => b.outerHTML.slice(0, 80)));
    assert.deepEqual(unlabelled.filter((h) => !h.includes('insights-clear')), []);
    // This file has no splits: no split chart (issue 14 item 4: no "(none)" split row).
    assert.equal(await page.$('.insights-chart[data-breakdown="split"]'), null);
    // Box-count chart: focus its first bar, move down, Enter filters to those rows.
    const boxBars = await page.$$eval('.insights-chart[data-breakdown="boxes"] button:not([disabled])', (bs) => bs.map((b) => (b as HTMLElement).dataset.key! + '|' + (b as HTMLElement).dataset.outcome));
    await page.focus('.insights-chart[data-breakdown="boxes"] button.insights-bar');
    await page.keyboard.press('ArrowDown');
    const focused = await page.evaluate(() => { const b = document.activeElement as HTMLElement; return `${b.dataset.key}|${b.dataset.outcome}`; });
    assert.equal(focused, boxBars[1]);
    await page.keyboard.press('Enter');
    const [boxes, outcome] = focused.split('|');
    const expected = samples.filter((s) => String(s.boxes.length) === boxes && verdict(s) && (outcome === 'all' || !verdict(s)!.hit)).map((s) => s.index);
    await waitForList(viewer, expected);

    await viewer.setTheme('light');
    await page.screenshot({ path: path.join(TEST_SCREENSHOTS, 'insights-light.png') });
    await viewer.setTheme('dark');
    await page.screenshot({ path: path.join(TEST_SCREENSHOTS, 'insights-dark.png') });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'insights-panel.png') });
    // The fixture's one missing image answers 404 when its row is shown.
    assert.deepEqual(viewer.consoleErrors.filter((e) => !/Failed to load resource.*404/.test(e)), []);
  });

  it('with a comparison model every chart shows both models and the delta (histograms on the current bins)', async () => {
    const { viewer } = await openWithReport();
    const page = viewer.page;
    // Model B, by hand: every square hits with L_max 0.3; otherwise as the report's verdicts. Its engine is the tiny
    // model's (real result objects) with those numbers put in.
    const verdictB = (s: Sample): ReturnType<typeof verdict> => {
      const v = verdict(s);
      if (!v || !s.phrase.split(' ').includes('square')) return v;
      const [x1, y1, x2, y2] = s.boxes[0];
      return { hit: true, lMax: 0.3, point: { x: (x1 + x2) / 2, y: (y1 + y2) / 2 } };
    };
    const modelB: Explainer = {
      ...explainer, modelKey: `${explainer.modelKey}#model-b`, info: { ...explainer.info, name: 'model-b' },
      engine: {
        ...explainer.engine,
        explainBatch: async (batch, signal) => (await explainer.engine.explainBatch(batch, signal)).map((r, k) => {
          const v = verdictB(batch[k]);
          return v && !('error' in r) ? { ...r, hit: v.hit, lMax: v.lMax, lMean: v.lMax / 2, point: v.point } : r;
        }),
      },
    };
    await viewer.setComparison({ role: 'chosen', dir: path.join(tmpdir(), 'model-b'), explainer: async () => modelB });
    await viewer.session!.evaluate(() => undefined, new AbortController().signal);
    await page.waitForSelector('.insights-chart[data-breakdown="lMax"] .hist-slot', { timeout: 10_000 });

    // The current model's L_max bins: 0.1 … 0.9 in 20 equal bins; model B's 0.3 falls in a bin the current leaves empty.
    const scoredA = samples.filter((s) => verdict(s)), scoredB = samples.filter((s) => verdictB(s));
    // The store keeps float32 losses: bins as the host draws them (20 equal bins from the smallest to the largest).
    const lo = Math.fround(0.1), width = (Math.fround(0.9) - lo) / 20;
    const binOf = (v: number): number => { let b = 0; while (b < 19 && Math.fround(v) >= lo + (b + 1) * width) b++; return b; };
    const count = (rows: Sample[], f: (s: Sample) => ReturnType<typeof verdict>, bin: number, hit: boolean): number =>
      rows.filter((s) => f(s)!.hit === hit && binOf(f(s)!.lMax) === bin).length;
    const squaresB = count(scoredB, verdictB, binOf(0.3), true);
    assert.ok(squaresB > 0);
    const label = (bin: number, outcome: string): Promise<string | null> =>
      page.getAttribute(`.insights-chart[data-breakdown="lMax"] button.hist-part[data-key="${bin}"][data-outcome="${outcome}"]`, 'aria-label');
    // The panel refreshes at most once a second while results arrive: wait for the one after the evaluation.
    const want = new RegExp(`: 0 hits; comparison model ${squaresB} hits, delta −${squaresB}\\. Show them$`);
    for (const deadline = Date.now() + 10_000; !want.test(await label(binOf(0.3), 'hits') ?? '') && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(await label(binOf(0.3), 'hits') ?? '', want);
    const hitsA = count(scoredA, verdict, 0, true), hitsB = count(scoredB, verdictB, 0, true);
    assert.ok(hitsA > hitsB);
    assert.match(await label(0, 'hits') ?? '', new RegExp(`: ${hitsA} hits; comparison model ${hitsB} hits, delta \\+${hitsA - hitsB}\\.`));
    // Every bin of both histograms: a comparison column and a Δ; the table of numbers holds both models per bin.
    for (const h of ['lMean', 'lMax']) {
      const chart = `.insights-chart[data-breakdown="${h}"]`;
      assert.equal(await page.$$eval(`${chart} .hist-slot .hist-bin.comparison`, (e) => e.length), 20, h);
      assert.equal(await page.$$eval(`${chart} .hist-deltas .insights-delta`, (e) => e.length), 20, h);
      assert.equal(await page.$$eval(`${chart} .hist-table tr`, (e) => e.length), 21, h);
    }
    const row = await page.$$eval('.insights-chart[data-breakdown="lMax"] .hist-table tr', (trs, bin) =>
      [...trs[(bin as number) + 1].children].map((c) => c.textContent), binOf(0.3));
    assert.deepEqual(row.slice(1), ['0', '0', String(squaresB), '0', `−${squaresB}`, '±0']);

    // Bars: the word "square" states model B's rate and the delta; miss targets give B's count and Δ.
    const squares = scoredA.filter((s) => s.phrase.split(' ').includes('square'));
    const squareLabel = await page.getAttribute('button.insights-bar[data-breakdown="word"][data-key="square"]', 'aria-label');
    assert.match(squareLabel ?? '', new RegExp(`; comparison model 100\\.0 % \\(${squares.length} of ${squares.length}\\), delta −[0-9.]+ pts\\.`));
    const inBoxA = scoredA.filter((s) => s.phrase.includes('green') && !s.phrase.includes('on the left')).length;
    const inBoxB = scoredB.filter((s) => verdictB(s)!.lMax === 0.5).length;
    const missesB = scoredB.filter((s) => !verdictB(s)!.hit).length;
    assert.ok(inBoxB < inBoxA);
    const otherBox = await page.getAttribute('button.insights-bar[data-breakdown="missTarget"][data-key="other-box"]', 'aria-label');
    assert.match(otherBox ?? '', new RegExp(`: ${inBoxA} of \\d+ \\([0-9.]+ %\\); comparison model ${inBoxB} of ${missesB} \\([0-9.]+ %\\), ` +
      `delta \\+${inBoxA - inBoxB} misses\\.`));
    assert.equal(await page.$$eval('.insights-chart[data-breakdown="missTarget"] .bar-fill.comparison', (e) => e.length) > 0, true);
    assert.equal(await page.$$eval('.insights-chart[data-breakdown="missTarget"] .insights-delta', (e) => e.length) > 0, true);

    // Keyboard: the table opens from its summary with Enter (after the panel's last refresh, which redraws it closed).
    await new Promise((r) => setTimeout(r, 1500));
    await page.focus('.insights-chart[data-breakdown="lMax"] .hist-table summary');
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'SUMMARY');
    await page.keyboard.press('Enter');
    assert.equal(await page.$eval('.insights-chart[data-breakdown="lMax"] .hist-table', (d) => (d as HTMLDetailsElement).open), true);
    await viewer.setTheme('dark');
    await page.screenshot({ path: path.join(TEST_SCREENSHOTS, 'insights-comparison.png') });
    assert.deepEqual(viewer.consoleErrors.filter((e) => !/Failed to load resource.*404/.test(e)), []);
  });

  it('a report for another model is refused with the reason, and the list keeps no result from it', async () => {
    const dataset = await openDataset(fixture.file);
    const viewer = await TestViewer.open({ dataset, explainer: async () => explainer, imageRoots: [fixture.dir] });
    viewers.push(viewer);
    await viewer.page.waitForSelector('.list-rows .list-row');
    await assert.rejects(viewer.session!.loadReport(writeReport('0'.repeat(64))), /the report was computed with model .* not with the open model/);
    assert.equal(viewer.session!.metrics.computedCount, 0);
  });
});
