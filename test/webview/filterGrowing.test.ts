// The text filter on a file still being read (issue 14 item 4), in real Chromium: the list shows the first matches at
// once with "… matching rows so far" in the status line, and grows to the full answer and the final count when the
// reader has indexed the rest.
import * as assert from 'node:assert/strict';
import type { Dataset } from '../../src/core/datasets/dataset';
import { PhraseIndex } from '../../src/core/phraseIndex';
import type { Problem, Sample } from '../../src/core/types';
import { closeBrowser, TestViewer } from './host';

/** A dataset whose reader indexes in steps the test releases, filling its phrase index as the VG reader does. */
class StagedDataset implements Dataset {
  readonly format = 'vg-regions' as const;
  readonly file = '/data/vg/region_descriptions.json';
  readonly complete: Promise<void>;
  private visible = 0;
  private readonly index = new PhraseIndex();
  private finish!: () => void;
  constructor(private readonly samples: Sample[]) {
    this.complete = new Promise((r) => { this.finish = r; });
  }
  /** Index rows up to `n`; `last`: the file is read. */
  release(n: number, last = false): void {
    for (let i = this.visible; i < n; i++) this.index.push(this.samples[i].phrase);
    this.visible = n;
    if (last) { this.index.complete = true; this.finish(); }
  }
  count(): number { return this.visible; }
  phraseIndex(): PhraseIndex { return this.index; }
  async page(start: number, limit: number): Promise<Sample[]> { return this.samples.slice(start, Math.min(this.visible, start + limit)); }
  problems(): Problem[] { return []; }
  splits(): string[] { return []; }
  async close(): Promise<void> { /* nothing held */ }
}

function sample(i: number): Sample {
  const phrase = i % 10 === 3 ? `a zebra ${i}` : `a tree ${i}`;
  return {
    index: i, id: String(i), image: `/data/vg/VG_100K/${i}.jpg`, imageId: String(i), phrase, caption: phrase,
    boxes: [[0, 0, 4, 4]], sourceBoxes: [[0, 0, 4, 4]], hitRule: 'xyxy', ids: {}, source: { file: '/data/vg/region_descriptions.json', entry: `[${i}]` },
  };
}

describe('viewer webview: boot while the file is being read', () => {
  after(async () => { await closeBrowser(); });

  it('asks for no rows of a view that does not exist yet while the list grows before setView is answered', async () => {
    const ds = new StagedDataset(Array.from({ length: 3000 }, (_, i) => sample(i)));
    ds.release(500);
    // The host answers setView late (busy indexing); meanwhile its progress events grow the list (every 300 ms).
    const viewer = await TestViewer.open({
      dataset: ds, explainer: async () => { throw new Error('no model in this test'); }, imageRoots: [], requestDelayMs: { setView: 2000 },
    });
    try {
      for (const n of [1000, 1500, 2000]) {
        await new Promise((r) => setTimeout(r, 400));
        ds.release(n);
      }
      await viewer.page.waitForFunction(() => document.querySelector('.list-row[aria-rowindex="2"] .c-phrase')?.textContent === 'a tree 0',
        null, { timeout: 15_000 });
      const early = viewer.requests('getRows').filter((m) => (m.params as { viewId: number }).viewId < 0);
      assert.equal(early.length, 0, `${early.length} getRows request(s) for view -1 (refused by the host, asked again)`);
      assert.ok(viewer.requests('getRows').length > 0, viewer.sent.map((m) => ('method' in m ? m.method : m.kind)).join(' '));
    } finally { await viewer.close(); }
  });
});

describe('viewer webview: text filter while the file is being read', () => {
  const viewers: TestViewer[] = [];
  afterEach(async () => { for (const v of viewers.splice(0)) await v.close(); });
  after(async () => { await closeBrowser(); });

  it('shows the first matches at once, says the count is running, then grows to the full list and count', async () => {
    const ds = new StagedDataset(Array.from({ length: 3000 }, (_, i) => sample(i)));
    ds.release(500);
    const viewer = await TestViewer.open({ dataset: ds, explainer: async () => { throw new Error('no model in this test'); }, imageRoots: [] });
    viewers.push(viewer);
    await viewer.page.waitForSelector('.list-row[aria-rowindex="2"] .c-phrase:not(:empty)');
    await viewer.page.fill('vscode-text-field[aria-label="Search phrases (/)"] input', 'zebra');
    await viewer.page.waitForFunction(() => /50 matching rows so far \(searching as the file is read/.test(document.querySelector('.status-line')?.textContent ?? ''),
      null, { timeout: 10_000 });
    const phrases = () => viewer.page.$$eval('.list-rows .list-row:not([hidden]) .c-phrase', (c) => c.map((x) => x.textContent ?? ''));
    await viewer.page.waitForFunction(() => document.querySelector('.list-rows .list-row:not([hidden]) .c-phrase')?.textContent === 'a zebra 3');
    assert.ok((await phrases()).every((p) => p.includes('zebra')));
    ds.release(2000);
    await viewer.page.waitForFunction(() => /200 matching rows so far/.test(document.querySelector('.status-line')?.textContent ?? ''), null, { timeout: 10_000 });
    ds.release(3000, true);
    await viewer.page.waitForFunction(() => /· 300 matching rows(?! so far)/.test(document.querySelector('.status-line')?.textContent ?? ''), null, { timeout: 10_000 });
    assert.equal(await viewer.page.getAttribute('.list', 'aria-rowcount'), '301'); // 300 rows + the header
  });
});
