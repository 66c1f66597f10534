// The parallel report read (readReportTable) against the one-thread reader: the same InsightTable, column for
// column and id for id, and the same breakdowns, on reports with odd content, in every layout; and the fallbacks
// (ranges that do not line up, a malformed row in a worker's range, a report on one line).
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeInsights, InsightTable, MAX_REASONS, OTHER_REASONS } from '../../../src/core/insights';
import { readReportInto, readReportTable, ReportReadError } from '../../../src/core/reportReader';
import { reportJson } from '../../../src/cli/report';
import { generatedHeader, generatedRows, generateReport } from '../../../bench/insights/generate';

const COLUMNS = ['status', 'px', 'py', 'lMean', 'lMax', 'width', 'height', 'split', 'image', 'phrase'] as const;

function assertSameTable(got: InsightTable, want: InsightTable, what: string): void {
  assert.equal(got.size, want.size, `${what}: rows`);
  for (const col of COLUMNS) assert.deepEqual(Array.from(got[col].subarray(0, got.size)), Array.from(want[col].subarray(0, want.size)), `${what}: ${col}`);
  assert.deepEqual(Array.from(got.boxStart.subarray(0, got.size + 1)), Array.from(want.boxStart.subarray(0, want.size + 1)), `${what}: boxStart`);
  assert.deepEqual(Array.from(got.boxes.subarray(0, got.boxStart[got.size])), Array.from(want.boxes.subarray(0, want.boxStart[want.size])), `${what}: boxes`);
  assert.deepEqual(got.phraseList(), want.phraseList(), `${what}: phrases`);
  assert.deepEqual(got.imageList(), want.imageList(), `${what}: images`);
  assert.deepEqual(got.splits.values, want.splits.values, `${what}: splits`);
  assert.deepEqual(got.words.values, want.words.values, `${what}: words`);
  const np = want.phraseList().length;
  assert.deepEqual(Array.from(got.phraseWordStart.subarray(0, np + 1)), Array.from(want.phraseWordStart.subarray(0, np + 1)), `${what}: phraseWordStart`);
  const words = want.phraseWordStart[np];
  assert.deepEqual(Array.from(got.phraseWords.subarray(0, words)), Array.from(want.phraseWords.subarray(0, words)), `${what}: phraseWords`);
  assert.deepEqual(Array.from(got.phraseLength.subarray(0, np)), Array.from(want.phraseLength.subarray(0, np)), `${what}: phraseLength`);
  assert.deepEqual([...got.notScoredReasons], [...want.notScoredReasons], `${what}: notScoredReasons`);
  assert.deepEqual(computeInsights(got, { minCount: 1 }), computeInsights(want, { minCount: 1 }), `${what}: breakdowns`);
}

/** Rows with escaped quotes, unicode, \n escapes in phrases, error rows, missing optional fields, odd numbers. */
function oddRows(n: number): Record<string, unknown>[] {
  let seed = 11;
  const rand = (): number => { seed = (seed * 16807) % 2147483647; return seed / 2147483647; };
  const phrases = ['the red circle', 'Café "au lait" }, {', 'a\\b/c', '日本の 猫 🐈', 'the Left-most   dog', 'x\ny\ttab', '',
    'A man, {in} [brackets]', 'ünïcödé WORDS here'];
  const rows: Record<string, unknown>[] = [];
  for (let k = 0; k < n; k++) {
    const row: Record<string, unknown> = {
      // most images have 3 rows in a row; a few have rows all over the file (their rows fall in every range)
      index: k, id: `id:${k}`, image: k % 5 === 2 ? `/imgs/shared-${k % 7}.jpg` : `/imgs/${Math.floor(k / 3)}-"é".jpg`,
      // new phrases keep appearing (ids interned in both halves), old ones recur
      phrase: k % 4 === 0 ? `${phrases[k % phrases.length]} n${k}` : phrases[k % phrases.length],
      boxes: Array.from({ length: 1 + (k % 3) }, () => [rand() * 50, rand() * 50, 50 + rand() * 50, 50 + 1e-7 * k]),
    };
    if (k % 5 !== 0) row.split = k % 7 === 0 ? null : ['val', 'test', 'trä"in'][k % 3];
    if (k % 6 !== 1) { row.width = 100 + (k % 4); row.height = 90; }
    if (k % 13 === 4) { row.error = `/imgs/${k}.jpg: image "x" not found\n(line 2)`; row.reason = 'image file not found'; }
    else if (k % 17 === 5) row.point = null;   // no hit: not scored
    else {
      Object.assign(row, {
        hit: rand() < 0.5, point: k % 2 ? { x: Math.floor(rand() * 100), y: Math.floor(rand() * 100) } : [Math.floor(rand() * 100), 3],
        score: -rand() * 1e-9, itmProbability: rand(), lMean: k % 7 === 0 ? 1e-7 * rand() : rand(),
        lMax: k % 11 === 0 ? 123456789012345680 * rand() : rand(), total: rand(), maskEmpty: false,
        extra: { nested: [1, '}', ']', { a: '"' }] },
      });
      if (k % 19 === 0) delete row.lMean;
    }
    rows.push(row);
  }
  return rows;
}

describe('insights: parallel report read', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'amc-parallel-')); });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const write = (name: string, text: string): string => { const f = path.join(tmp, name); writeFileSync(f, text); return f; };
  const sequential = async (file: string): Promise<InsightTable> => {
    const t = new InsightTable();
    await readReportInto(file, t);
    return t;
  };
  const report = (rows: Record<string, unknown>[]): Record<string, unknown> =>
    ({ schema: 'amc-eval-report', schemaVersion: 1, model: { name: 'm' }, worst: rows.slice(0, 2), samples: rows, after: { n: rows.length } });

  const layouts: [string, (r: unknown) => string][] = [
    ['the writers\' layout (indented, each sample compact on its own line)', (r) => reportJson(r as { samples: unknown[] })],
    ['indented (the writers before 2026-12-03)', (r) => JSON.stringify(r, null, 1)],
    ['indented by 2, CRLF', (r) => JSON.stringify(r, null, 2).replace(/\n/g, '\r\n')],
    ['compact, one line', (r) => JSON.stringify(r)],
    ['one row per line', (r) => JSON.stringify(r).replace(/\},\{"index"/g, '},\n{"index"')],
  ];
  for (const [name, layout] of layouts) {
    it(`gives exactly the one-thread table and breakdowns: ${name}`, async () => {
      const file = write(`${name.replace(/\W+/g, '-')}.json`, layout(report(oddRows(400))));
      const want = await sequential(file);
      for (const threads of [2, 3, 4]) {
        for (const chunkBytes of [256, 1 << 20]) {
          const got = await readReportTable(file, { threads, chunkBytes, minParallelBytes: 0 });
          assert.equal(got.sequentialBecause, undefined, `${name}, ${threads} threads: read in parallel`);
          assert.equal(got.threads, threads);
          assert.equal(got.rows, 400);
          assert.deepEqual(got.meta, (await readReportInto(file, new InsightTable())).meta);
          assertSameTable(got.table, want, `${name}, ${threads} threads, chunks of ${chunkBytes}`);
          // The sums over rows were counted by the threads that read them and added up (not redone at the end).
          assert.equal(got.table.precounted()?.rows, 400, `${name}, ${threads} threads: rows counted where read`);
        }
      }
    });
  }

  it('the bench generator writes the writers\' layout (and the old one on request), read alike', async () => {
    const rows = [...generatedRows(300)];
    const file = path.join(tmp, 'generated.json');
    await generateReport(file, 300);
    assert.equal(readFileSync(file, 'utf8'), reportJson({ ...generatedHeader(300), samples: rows }));
    const old = path.join(tmp, 'generated-indented.json');
    await generateReport(old, 300, 'indented');
    assert.equal(readFileSync(old, 'utf8'), `${JSON.stringify({ ...generatedHeader(300), samples: rows }, null, 1)}\n`);
    assertSameTable(await sequential(old), await sequential(file), 'the two layouts');
  });

  it('gives exactly the one-thread table past the row count at which tables are sized from the bytes per row', async () => {
    const file = write('many.json', JSON.stringify(report(oddRows(5000)), null, 1));
    const got = await readReportTable(file, { threads: 2, minParallelBytes: 0 });
    assert.equal(got.sequentialBecause, undefined);
    assertSameTable(got.table, await sequential(file), '5000 rows');
  });

  it('counts not-scored reasons as the one-thread read does beyond the named ones (OTHER_REASONS)', async () => {
    const rows = Array.from({ length: 3 * MAX_REASONS }, (_, k) => ({
      id: String(k), image: 'i.jpg', phrase: 'p', boxes: [[0, 0, 1, 1]], error: `error ${k % (2 * MAX_REASONS)}`, reason: 'r',
    }));
    const file = write('reasons.json', JSON.stringify(report(rows), null, 1));
    const want = await sequential(file);
    assert.equal(want.notScoredReasons.get(OTHER_REASONS), MAX_REASONS);   // errors 1000..1999 of rows 1000..1999
    const got = await readReportTable(file, { threads: 3, minParallelBytes: 0 });
    assert.equal(got.sequentialBecause, undefined);
    assertSameTable(got.table, want, 'reasons');
  });

  it('falls back to one thread when a cut lands inside a row (an array of objects spanning the middle)', async () => {
    const rows = oddRows(20);
    rows[3].extra = Array.from({ length: 3000 }, (_, i) => ({ i, phrase: 'inner', boxes: [[0, 0, 1, 1]] }));
    const file = write('nested.json', JSON.stringify(report(rows), null, 1));
    const got = await readReportTable(file, { threads: 2, minParallelBytes: 0 });
    assert.equal(got.threads, 1);
    assert.ok(got.sequentialBecause, 'says why it read on one thread');
    assertSameTable(got.table, await sequential(file), 'fallback');
  });

  it('falls back to one thread when a range does not end where the next begins (row-like lines inside a row)', async () => {
    // Rows one per line after two spaces; row 3 holds 4000 lines that look like row starts at the same indentation.
    const rows = oddRows(8).map((r) => JSON.stringify(r));
    rows[3] = rows[3].replace(/\}$/, `, "extra": [\n${Array.from({ length: 4000 }, (_, i) => `  {"a": ${i}}`).join(',\n')}\n  ]}`);
    const file = write('lookalike.json', `{"schema": "amc-eval-report", "samples": [\n  ${rows.join(',\n  ')}\n ]}\n`);
    const got = await readReportTable(file, { threads: 2, minParallelBytes: 0 });
    assert.equal(got.threads, 1);
    assert.match(got.sequentialBecause ?? '', /range boundary/);
    assertSameTable(got.table, await sequential(file), 'fallback after a mismatch');
  });

  it('reports a malformed row in a worker\'s range with the one-thread message (its samples[i])', async () => {
    const rows = oddRows(200);
    const text = JSON.stringify(report(rows), null, 1).replace('"id": "id:150"', '"id": "id:150", "hit": tru');
    const file = write('bad.json', text);
    const one = await readReportInto(file, new InsightTable()).then(() => undefined, (e: unknown) => e as Error);
    assert.ok(one instanceof ReportReadError);
    assert.match(one.message, /samples\[150\]/);
    await assert.rejects(readReportTable(file, { threads: 2, minParallelBytes: 0 }),
      (e: unknown) => e instanceof ReportReadError && e.message === one.message);
  });

  it('reads small reports and threads: 1 on one thread, saying why', async () => {
    const file = write('small.json', JSON.stringify(report(oddRows(30)), null, 1));
    const small = await readReportTable(file, { threads: 4 });
    assert.equal(small.threads, 1);
    assert.match(small.sequentialBecause ?? '', /small/);
    const one = await readReportTable(file, { threads: 1, minParallelBytes: 0 });
    assert.equal(one.threads, 1);
    assert.equal(one.sequentialBecause, undefined);
    assertSameTable(one.table, await sequential(file), 'threads 1');
  });
});
