// Breakdowns of src/core/insights.ts against small cases computed by hand, and the streaming report reader of
// src/core/reportReader.ts against JSON.parse (tiny read chunks, so rows and numbers straddle chunk boundaries).
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  areaBucket, computeInsights, InsightTable, onBorder, phraseWords, unionArea, wilsonInterval, type InsightRow, type Rate,
} from '../../../src/core/insights';
import { readReportInto, ReportReadError } from '../../../src/core/reportReader';

const table = (rows: InsightRow[]): InsightTable => {
  const t = new InsightTable();
  for (const r of rows) t.add(r);
  return t;
};
const hit = (phrase: string, extra: Partial<InsightRow> = {}): InsightRow =>
  ({ phrase, boxes: [[10, 10, 20, 20]], width: 100, height: 100, hit: true, point: { x: 15, y: 15 }, ...extra });
const miss = (phrase: string, extra: Partial<InsightRow> = {}): InsightRow =>
  ({ phrase, boxes: [[10, 10, 20, 20]], width: 100, height: 100, hit: false, point: { x: 50, y: 50 }, ...extra });
const failed = (phrase: string, extra: Partial<InsightRow> = {}): InsightRow =>
  ({ phrase, boxes: [[10, 10, 20, 20]], width: 100, height: 100, error: 'image file not found', ...extra });
const counts = (rates: Rate[]): Record<string, [number, number, number]> =>
  Object.fromEntries(rates.map((r) => [r.key, [r.hits, r.queries, r.notScored]]));

describe('insights: breakdowns (hand-computed cases)', () => {
  it('Wilson 95 % interval', () => {
    const [lo, hi] = wilsonInterval(8, 10);
    assert.ok(Math.abs(lo - 0.4902) < 1e-4 && Math.abs(hi - 0.9433) < 1e-4, `${lo} ${hi}`);
    const [lo0, hi0] = wilsonInterval(0, 5); // z²/(n + z²)
    assert.equal(lo0, 0);
    assert.ok(Math.abs(hi0 - 3.8415 / 8.8415) < 1e-4);
    assert.deepEqual(wilsonInterval(5, 5).map((v) => +v.toFixed(4)), [+(5 / 8.8415).toFixed(4), 1]);
    assert.ok(wilsonInterval(0, 0).every(Number.isNaN));
  });

  it('histograms on given edges (a comparison model on the current model\'s bins): same bins as its own, the rest outside', () => {
    const rows = [0.1, 0.25, 0.5, 0.5, 0.9, 1.3, -1].map((v, k) => (k % 2 ? hit('a', { lMax: v }) : miss('a', { lMax: v })));
    const t = table([...rows, failed('a', { lMax: 0.5 }), hit('a')]);
    const own = computeInsights(t, { bins: 4 }).histograms.lMax;
    assert.deepEqual(computeInsights(t, { bins: 4, histogramEdges: { lMax: own.edges } }).histograms.lMax, { ...own, outside: 0 });
    const on = computeInsights(t, { histogramEdges: { lMax: [0, 0.25, 0.5, 1] } }).histograms.lMax;
    // 0.1 miss → bin 0; 0.25 hit → 1; 0.5 miss, 0.5 hit → 2; 0.9 miss → 2; 1.3 and -1 outside; one scored without L_max
    assert.deepEqual([on.hits, on.misses, on.outside, on.missing], [[0, 1, 1], [1, 0, 2], 2, 1]);
    const one = computeInsights(table([hit('a', { lMax: 0.4 }), miss('a', { lMax: 0.4 })]), { bins: 3 }).histograms.lMax;
    assert.deepEqual(computeInsights(table([miss('a', { lMax: 0.4 })]), { histogramEdges: { lMax: one.edges } }).histograms.lMax.misses, one.misses.map((n) => n && 1));
  });

  it('every row keeps its boxes past the first few thousand (boxStart grows with the rows)', () => {
    const rows = Array.from({ length: 5000 }, (_, k) => (k % 2 ? hit('a b', { boxes: [[10, 10, 20, 20], [30, 30, 40, 40]] }) : miss('a b')));
    const t = table(rows);
    const byBoxes = counts(computeInsights(t).byBoxes);
    assert.deepEqual([byBoxes['1'], byBoxes['2']], [[0, 2500, 0], [2500, 2500, 0]]);
    assert.deepEqual(Array.from(t.boxes.subarray(t.boxStart[4999], t.boxStart[5000])), [10, 10, 20, 20, 30, 30, 40, 40]);
  });

  it('not-scored rows (an error, or no hit) are counted apart, never as misses', () => {
    const i = computeInsights(table([hit('a cat'), miss('a cat'), failed('a cat'), { phrase: 'a cat', boxes: [[0, 0, 1, 1]] }]));
    assert.deepEqual([i.rows, i.scored, i.hits, i.notScored], [4, 2, 1, 2]);
    assert.equal(i.overall.accuracy, 0.5);
    assert.deepEqual(i.notScoredReasons, [{ reason: 'image file not found', count: 1 }, { reason: 'no hit', count: 1 }]);
    assert.equal(i.missTarget.misses, 1);
    assert.deepEqual(i.bySplit, [], 'a report without splits has no split breakdown (no "(none)" row)');
  });

  it('by word: pre_caption words, each counted once per phrase, words in ≥ N scored phrases, worst first', () => {
    const rows = [
      hit('the red circle'), miss('the blue circle'), hit('a red square'), miss('The Red, square!'),
      failed('the red thing'), hit('the the dog'),
    ];
    const i = computeInsights(table(rows), { minCount: 2 });
    // 50 % each for the/circle/square: more queries first, then alphabetical; red 67 % last
    assert.deepEqual(i.byWord.words.map((w) => [w.key, w.hits, w.queries, w.notScored]), [
      ['the', 2, 4, 1], ['circle', 1, 2, 0], ['square', 1, 2, 0], ['red', 2, 3, 1],
    ]);
    assert.deepEqual(i.byWord.words.map((w) => w.key), ['the', 'circle', 'square', 'red']);
    assert.equal(i.byWord.wordsTotal, 8); // the red circle blue a square thing dog
    assert.deepEqual(computeInsights(table(rows), { minCount: 5 }).byWord.words, []);
    const every = computeInsights(table(rows), { minCount: 0 }).byWord.words;
    assert.equal(every.length, 8);
    assert.deepEqual([every[0].key, every.at(-1)!.key, every.at(-1)!.queries, every.at(-1)!.notScored], ['blue', 'thing', 0, 1]);
    assert.deepEqual(phraseWords('  The  <person> left-of / it\'s'), ['the', 'person', 'left', 'of', 'its']);
  });

  it('by phrase length in words (0 when pre_caption leaves nothing, 10+ at the end)', () => {
    const long = Array.from({ length: 12 }, (_, k) => `w${k}`).join(' ');
    const i = computeInsights(table([hit('a dog'), miss('a big dog'), hit(long), miss('?!'), failed('one')]));
    const c = counts(i.byLength);
    assert.deepEqual(c['0'], [0, 1, 0]);
    assert.deepEqual(c['1'], [0, 0, 1]);
    assert.deepEqual(c['2'], [1, 1, 0]);
    assert.deepEqual(c['3'], [0, 1, 0]);
    assert.deepEqual(c['10+'], [1, 1, 0]);
    assert.deepEqual(i.byLength.map((r) => r.key), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10+']);
  });

  it('by GT area: union of the boxes clipped to the image, as a fraction; buckets; size unknown apart', () => {
    assert.equal(unionArea([0, 0, 20, 20, 10, 10, 30, 30], 0, 8, 100, 100), 700);
    assert.equal(unionArea([90, 90, 120, 120], 0, 4, 100, 100), 100);
    assert.equal(unionArea([0, 0, 10, 10, 0, 0, 10, 10, 5, 5, 6, 6], 0, 12, 100, 100), 100); // repeats and nesting
    assert.equal(unionArea([5, 5, 5, 9], 0, 4, 100, 100), 0);
    assert.deepEqual([0.0099, 0.01, 0.049, 0.05, 0.1, 0.2499, 0.25, 0.5, 1].map(areaBucket),
      ['<1%', '1–5%', '1–5%', '5–10%', '10–25%', '10–25%', '25–50%', '≥50%', '≥50%']);
    const i = computeInsights(table([
      hit('a', { boxes: [[0, 0, 5, 5]] }),                      // 0.25 %
      miss('b', { boxes: [[0, 0, 10, 10]] }),                   // 1 % exactly: 1–5 %
      hit('c', { boxes: [[0, 0, 20, 20], [10, 10, 30, 30]] }),  // 7 %
      miss('d', { boxes: [[90, 90, 120, 120]] }),               // clipped: 1 %
      hit('e', { boxes: [[0, 0, 50, 100]] }),                   // 50 %
      hit('f', { width: undefined, height: undefined }),
      failed('g', { boxes: [[0, 0, 60, 60]] }),                 // 36 %, not scored
    ]));
    assert.deepEqual(counts(i.byArea), {
      '<1%': [1, 1, 0], '1–5%': [0, 2, 0], '5–10%': [1, 1, 0], '10–25%': [0, 0, 0], '25–50%': [0, 0, 1], '≥50%': [1, 1, 0],
      'size unknown': [1, 1, 0],
    });
  });

  it('by number of GT boxes and by split (first-seen order, null as "(none)")', () => {
    const b = [10, 10, 20, 20];
    const i = computeInsights(table([
      hit('a', { boxes: [b], split: 'test' }), miss('b', { boxes: [b, b], split: 'val' }),
      hit('c', { boxes: [b, b, b, b, b, b], split: 'test' }), failed('d', { split: null }), hit('e', { boxes: [b, b] }),
    ]));
    assert.deepEqual(counts(i.byBoxes), { 1: [1, 1, 1], 2: [1, 2, 0], 3: [0, 0, 0], 4: [0, 0, 0], '5+': [1, 1, 0] });
    assert.deepEqual(i.byBoxes.map((r) => r.key), ['1', '2', '3', '4', '5+']);
    assert.deepEqual(i.bySplit.map((r) => [r.key, r.hits, r.queries, r.notScored]), [['test', 2, 2, 0], ['val', 0, 1, 0], ['(none)', 1, 1, 1]]);
  });

  it('sums counted where the rows were read (precount, appendParts of counted parts) equal counting them at the end', () => {
    const b = [10, 10, 20, 20];
    // Image i1 has rows in both parts (and between them), i2 only in the first, i3 only in the second: misses
    // land in other queries' boxes (confusions) and several phrases point to one object, across the parts.
    const big = [0, 0, 60, 60], right = [40, 40, 90, 90];
    const rows: InsightRow[] = [
      hit('the red dog', { split: 'train', image: 'i1' }), miss('a dog', { split: 'val', boxes: [b, b], image: 'i1' }),
      failed('the cat', { split: null, image: 'i2' }), hit('Red  CAT!', { split: 'test', width: undefined, image: 'i2' }),
      miss('the red dog', { split: 'val', boxes: [[0, 0, 100, 100]] }), hit('big one', { boxes: [big], image: 'i1', point: { x: 50, y: 50 } }),
      miss('a dog', { boxes: [b], image: 'i2', point: { x: 15, y: 15 } }),
      // the second part: words and splits new here, and ones the first part knows under other ids
      hit('blue whale', { split: 'extra', image: 'i3', boxes: [right], point: { x: 50, y: 50 } }),
      miss('cat red', { split: 'test', image: 'i1' }), failed('whale of a dog', { split: 'train', image: 'i1' }),
      hit('the', { split: 'val', boxes: [], image: 'i3' }), miss('blue', { split: null, boxes: [b, b, b, b, b, b], image: 'i3' }),
      miss('a dog', { image: 'i1', point: { x: 55, y: 55 }, boxes: [right] }), hit('big one', { boxes: [big], image: 'i1', point: { x: 50, y: 50 } }),
    ];
    const whole = computeInsights(table(rows), { minCount: 1 });
    assert.ok(whole.missTarget.confusions.length >= 2 && whole.missTarget.sameObject.objects >= 1, 'the case covers the miss targets');
    const first = table(rows.slice(0, 7));
    first.precount();
    const second = table(rows.slice(7));
    second.precount();
    first.appendParts(second.exportParts());
    assert.equal(first.precounted()?.rows, rows.length);
    assert.deepEqual(computeInsights(first, { minCount: 1 }), whole);
    // Rows added after the counts are counted by computeInsights; parts appended after them are not added twice.
    const partly = table(rows.slice(0, 3));
    partly.precount();
    for (const r of rows.slice(3, 9)) partly.add(r);
    const rest = table(rows.slice(9));
    rest.precount();
    partly.appendParts(rest.exportParts());
    assert.equal(partly.precounted()?.rows, 3);
    assert.deepEqual(computeInsights(partly, { minCount: 1 }), whole);
    assert.deepEqual(computeInsights(partly, { minCount: 1 }), whole, 'computeInsights leaves the counts as they were');
  });

  it('where misses land: another query\'s box (smallest, which phrase), border, background, size unknown; same object', () => {
    const A = { image: 'A.jpg', width: 100, height: 100 };
    const i = computeInsights(table([
      { ...A, phrase: 'left dog', boxes: [[10, 10, 30, 30]], hit: true, point: { x: 20, y: 20 } },
      { ...A, phrase: 'right dog', boxes: [[60, 10, 80, 30]], hit: false, point: { x: 15, y: 15 } },   // in left dog's box
      { ...A, phrase: 'the sky', boxes: [[0, 0, 100, 5]], hit: false, point: { x: 50, y: 99 } },       // border (y ≥ 98)
      { ...A, phrase: 'a cat', boxes: [[40, 40, 50, 50]], hit: false, point: { x: 90, y: 20 } },       // background
      { ...A, phrase: 'a bird', boxes: [[85, 40, 95, 50]], error: 'decode failed' },                    // not scored: its box counts
      { ...A, phrase: 'a tree', boxes: [[0, 40, 10, 60]], hit: false, point: { x: 90, y: 45 } },       // in a bird's box
      { ...A, phrase: 'a man', boxes: [[20, 50, 80, 95]], hit: true, point: { x: 25, y: 90 } },
      { ...A, phrase: 'his shirt', boxes: [[40, 60, 60, 80]], hit: true, point: { x: 45, y: 65 } },
      { ...A, phrase: 'a hat', boxes: [[0, 60, 5, 65]], hit: false, point: { x: 50, y: 70 } },         // in man and shirt: shirt
      { image: 'B.jpg', phrase: 'a boat', boxes: [[0, 0, 10, 10]], hit: false, point: { x: 50, y: 50 } }, // no size
      { phrase: 'a kite', boxes: [[10, 10, 20, 20]], width: 100, height: 100, hit: false, point: { x: 1, y: 50 } }, // no image
    ]));
    const m = i.missTarget;
    assert.equal(m.misses, 7);
    assert.deepEqual(m.counts, { 'other-box': 3, border: 2, background: 1, 'size-unknown': 1 });
    assert.deepEqual(m.confusions.map((c) => `${c.phrase} → ${c.landedOn} ${c.count}`).sort(),
      ['a hat → his shirt 1', 'a tree → a bird 1', 'right dog → left dog 1']);
    // left dog + right dog on the left dog; his shirt + a hat on the shirt
    assert.deepEqual(m.sameObject, { queries: 4, misses: 2, objects: 2 });
    assert.equal(m.borderMargin, 0.02);
  });

  it('border: within 2 % of the width or height from an edge', () => {
    assert.deepEqual([1.99, 2, 97.99, 98].map((x) => onBorder(x, 50, 100, 100)), [true, false, false, true]);
    assert.deepEqual([0, 3.99, 4, 195.99, 196].map((y) => onBorder(50, y, 100, 200)), [true, true, false, false, true]);
  });

  it('confusions are counted and ordered by count', () => {
    const A = { image: 'A.jpg', width: 100, height: 100 };
    const rows: InsightRow[] = [{ ...A, phrase: 'a circle', boxes: [[10, 10, 30, 30]], hit: true, point: { x: 20, y: 20 } }];
    for (let k = 0; k < 3; k++) rows.push({ ...A, phrase: 'the triangle', boxes: [[60, 60, 80, 80]], hit: false, point: { x: 12 + k, y: 12 } });
    rows.push({ ...A, phrase: 'a star', boxes: [[60, 10, 80, 30]], hit: false, point: { x: 70, y: 70 } });
    const m = computeInsights(table(rows)).missTarget;
    assert.deepEqual(m.confusions, [
      { phrase: 'the triangle', landedOn: 'a circle', count: 3 }, { phrase: 'a star', landedOn: 'the triangle', count: 1 },
    ]);
    assert.deepEqual(m.sameObject, { queries: 4, misses: 3, objects: 1 });
  });

  it('histograms of L_mean and L_max: shared equal-width edges, hits and misses apart, last bin closed', () => {
    const i = computeInsights(table([
      hit('a', { lMax: 0, lMean: 0.1 }), hit('b', { lMax: 0.5 }), hit('c', { lMax: 1 }),
      miss('d', { lMax: 0.25, lMean: 0.3 }), miss('e', { lMax: 0.75 }), miss('f', { lMax: 1 }),
      failed('g', { lMax: 5 }), hit('h'),
    ]), { bins: 4 });
    const h = i.histograms.lMax;
    assert.deepEqual(h.edges, [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(h.hits, [1, 0, 1, 1]);
    assert.deepEqual(h.misses, [0, 1, 0, 2]);
    assert.equal(h.missing, 1);
    const m = i.histograms.lMean;
    assert.deepEqual(m.edges.map((e) => +e.toFixed(10)), [0.1, 0.15, 0.2, 0.25, 0.3]);
    assert.deepEqual([m.hits, m.misses, m.missing], [[1, 0, 0, 0], [0, 0, 0, 1], 5]); // 7 scored, 2 with L_mean
    assert.deepEqual(computeInsights(table([hit('a')])).histograms.lMax, { edges: [], hits: [], misses: [], missing: 1 });
  });
});

describe('insights: streaming report reader', () => {
  let tmp: string;
  before(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'amc-insights-')); });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const write = (name: string, text: string): string => { const f = path.join(tmp, name); writeFileSync(f, text); return f; };
  const readInto = async (file: string, chunkBytes?: number, maxEntryBytes?: number): Promise<InsightTable> => {
    const t = new InsightTable();
    await readReportInto(file, t, { chunkBytes, maxEntryBytes });
    return t;
  };

  function sampleRows(n: number): Record<string, unknown>[] {
    let seed = 7;
    const rand = (): number => { seed = (seed * 16807) % 2147483647; return seed / 2147483647; };
    const phrases = ['the red circle', 'Café "au lait"', 'a\\b/c', '日本の 猫', 'the Left-most   dog', 'x\ny\ttab', ''];
    const rows: Record<string, unknown>[] = [];
    for (let k = 0; k < n; k++) {
      const row: Record<string, unknown> = {
        index: k, id: `id:${k}`, split: k % 5 === 0 ? null : ['val', 'test'][k % 2], image: `/imgs/${k % 4}.jpg`,
        phrase: phrases[k % phrases.length],
        boxes: Array.from({ length: 1 + (k % 3) }, () => [rand() * 50, rand() * 50, 50 + rand() * 50, 50 + 1e-7 * k]),
        width: 100, height: 100,
      };
      if (k % 9 === 4) row.error = 'image "x" not found';
      else {
        Object.assign(row, {
          hit: rand() < 0.5, point: { x: Math.floor(rand() * 100), y: Math.floor(rand() * 100) }, score: -rand() * 1e-9,
          itmProbability: rand(), lMean: k % 7 === 0 ? 1e-7 * rand() : rand(), lMax: k % 11 === 0 ? 123456789012345680 * rand() : -rand(),
          total: rand(), maskEmpty: false, extra: { nested: [1, '}', ']', { a: '"' }] },
        });
      }
      rows.push(row);
    }
    return rows;
  }

  it('gives the same table as JSON.parse + add, with rows, strings and numbers across chunk boundaries', async () => {
    const rows = sampleRows(60);
    const report = { file: 'x.json', model: { name: 'm' }, worst: rows.slice(0, 3), counts: { queries: rows.length }, samples: rows, after: [1, 2] };
    const file = write('report.json', JSON.stringify(report, null, 1));
    const expected = table(rows as unknown as InsightRow[]);
    for (const chunk of [64, 100, 1 << 20]) {
      const got = await readInto(file, chunk);
      assert.equal(got.size, rows.length);
      for (const col of ['status', 'px', 'py', 'lMean', 'lMax', 'width', 'height', 'split', 'image', 'phrase', 'boxStart'] as const) {
        assert.deepEqual(Array.from(got[col].subarray(0, got.size + (col === 'boxStart' ? 1 : 0))),
          Array.from(expected[col].subarray(0, expected.size + (col === 'boxStart' ? 1 : 0))), `${col} (chunk ${chunk})`);
      }
      assert.deepEqual(
        Array.from(got.boxes.subarray(0, got.boxStart[got.size])),
        Array.from(expected.boxes.subarray(0, expected.boxStart[expected.size])));
      assert.deepEqual(got.phraseList(), expected.phraseList());
      assert.deepEqual(got.imageList(), expected.imageList());
      assert.deepEqual(computeInsights(got, { minCount: 1 }), computeInsights(expected, { minCount: 1 }));
    }
    // the numbers exactly as JSON.parse reads them (long decimals, exponents, negatives)
    const t = await readInto(file, 64);
    rows.forEach((r, k) => {
      if (r.lMax !== undefined) assert.equal(t.lMax[k], (JSON.parse(JSON.stringify(r)) as { lMax: number }).lMax);
    });
    const { meta } = await readReportInto(file, new InsightTable());
    assert.deepEqual(meta, { file: 'x.json', model: { name: 'm' }, counts: { queries: 60 }, after: [1, 2] });
  });

  it('reads the trainer\'s records (point as [x, y], no losses)', async () => {
    const file = write('py.json', JSON.stringify({ n: 2, samples: [
      { id: '1', split: 'test', hit: true, point: [15, 15], score: 0.5, phrase: 'a dog', image: 'a.jpg', width: 100, height: 100, boxes: [[10.0, 10.0, 20.0, 20.0]] },
      { id: '2', split: 'test', hit: false, point: [1, 1], score: 0.5, phrase: 'a cat', image: 'a.jpg', width: 100, height: 100, boxes: [[30.0, 30.0, 40.0, 40.0]] },
    ] }, null, 1));
    const i = computeInsights(await readInto(file));
    assert.deepEqual([i.scored, i.hits, i.missTarget.counts.border], [2, 1, 1]);
    assert.equal(i.histograms.lMax.missing, 2);
  });

  it('reads a schema-1 report (header first, point {x, y}, lMean/lMax) of either writer', async () => {
    const row = { id: '1', image: 'a.jpg', phrase: 'a dog', split: 'test', boxes: [[10, 10, 20, 20]], width: 100, height: 100, hit: true, point: { x: 15, y: 15 }, score: 0.5, lMean: 0.25, lMax: 0.75 };
    for (const writer of ['amc eval', 'python -m amc_trainer eval']) {
      const header = { schema: 'amc-eval-report', schemaVersion: 1, writer, model: { name: 'm', cardSha256: 'a'.repeat(64), checkpointSha256: null }, dataset: { file: 'd.json', size: 10, format: 'amc-vg' } };
      const file = write('schema1.json', JSON.stringify({ ...header, samples: [row] }, null, 1));
      const t = new InsightTable();
      const { meta } = await readReportInto(file, t);
      assert.deepEqual(meta, header);
      assert.deepEqual([t.size, t.lMean[0], t.lMax[0], t.px[0], t.py[0]], [1, 0.25, 0.75, 15, 15]);
    }
  });

  it('bad reports: a message naming the file and the entry, never a crash or a silent number', async () => {
    const good = { phrase: 'a', boxes: [[0, 0, 1, 1]], hit: true, point: { x: 0.5, y: 0.5 } };
    const cases: [string, string, RegExp][] = [
      ['cut.json', JSON.stringify({ samples: [good, good] }).slice(0, -10), /cut\.json: samples\[1\]: unexpected end of file \(the report is cut short\)/],
      ['nophrase.json', JSON.stringify({ samples: [good, { boxes: [] }] }), /nophrase\.json: samples\[1\]: no "phrase"/],
      ['box3.json', JSON.stringify({ samples: [{ ...good, boxes: [[0, 0, 1]] }] }), /samples\[0\]: "boxes"\[0\] must have exactly 4 numbers/],
      ['boxstr.json', JSON.stringify({ samples: [{ ...good, boxes: [[0, 0, 1, 'x']] }] }), /samples\[0\]: "boxes\[0\]\[3\]" must be a number/],
      ['hitnopoint.json', JSON.stringify({ samples: [{ phrase: 'a', boxes: [], hit: false }] }), /samples\[0\]: "hit" without a "point"/],
      ['nosamples.json', JSON.stringify({ accuracy: 1 }), /nosamples\.json: no "samples" array: not an evaluation report/],
      ['array.json', '[1, 2]', /array\.json: not an evaluation report: expected a JSON object, found '\['/],
      ['trailing.json', `${JSON.stringify({ samples: [] })} x`, /trailing\.json: unexpected data after the report object/],
      ['badnum.json', '{"samples": [{"phrase": "a", "boxes": [[0, 0, 1, 1.]]}]}', /samples\[0\]: expected a digit after the decimal point/],
      ['phrase-num.json', '{"samples": [{"phrase": 5, "boxes": []}]}', /samples\[0\]: "phrase" must be a string/],
      ['empty.json', '', /empty\.json: unexpected end of file/],
      // schema 1 (src/core/evalReportSchema.ts): another schema or a newer version is refused before the rows
      ['other-schema.json', JSON.stringify({ schema: 'coco-results', samples: [good] }), /other-schema\.json: "schema" is "coco-results": not an AMC evaluation report \(expected "amc-eval-report"\)/],
      ['newer.json', JSON.stringify({ schema: 'amc-eval-report', schemaVersion: 2, samples: [good] }), /newer\.json: "schemaVersion" 2: this version reads evaluation report schema 1\.\.1 \(a newer report needs a newer AMC Grounding Lens\)/],
    ];
    for (const [name, text, re] of cases) {
      const file = write(name, text);
      await assert.rejects(readInto(file, 64), (e: Error) => e instanceof ReportReadError && re.test(e.message) || assert.fail(`${name}: ${e.message}`));
    }
    const big = write('big.json', JSON.stringify({ samples: [{ ...good, phrase: 'x'.repeat(5000) }] }));
    await assert.rejects(readInto(big, 256, 2048), /big\.json: samples\[0\]: an entry larger than 0 MB/);
    mkdirSync(path.join(tmp, 'dir.json'));
    await assert.rejects(readInto(path.join(tmp, 'dir.json')), /dir\.json/);
    await assert.rejects(readInto(path.join(tmp, 'missing.json')), /missing\.json/);
  });
});

describe('insights: reader chunk boundaries', () => {
  it('every chunk size from 64 to 200 bytes reads the same numbers and errors', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'amc-insights-chunks-'));
    try {
      const rows = [
        // eslint-disable-next-line no-loss-of-precision -- digits beyond a double's precision are the point of this row
        { phrase: 'a', boxes: [[0.5, -1e-7, 12345.678901234567, 1e3]], hit: true, point: { x: 1, y: 2 }, lMax: -0.123456789012345678, lMean: 5e-324 },
        { phrase: 'b', boxes: [[1, 2, 3, 4]], hit: false, point: { x: 10, y: 20 }, lMax: 1.7976931348623157e308, lMean: 0 },
      ];
      const file = path.join(tmp, 'r.json');
      writeFileSync(file, JSON.stringify({ samples: rows }));
      const bad = path.join(tmp, 'bad.json');
      writeFileSync(bad, `{"samples": [{"phrase": "a", "boxes": [[1, 2, 3, 4.]]}]}`);
      for (let chunk = 64; chunk <= 200; chunk++) {
        const t = new InsightTable();
        await readReportInto(file, t, { chunkBytes: chunk });
        assert.deepEqual([...t.boxes.subarray(0, 8)], rows.flatMap((r) => r.boxes[0]), `chunk ${chunk}`);
        assert.deepEqual([t.lMax[0], t.lMax[1], t.lMean[0], t.lMean[1]], [rows[0].lMax, rows[1].lMax, rows[0].lMean, rows[1].lMean]);
        await assert.rejects(readReportInto(bad, new InsightTable(), { chunkBytes: chunk }), /samples\[0\]: expected a digit after the decimal point/);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
