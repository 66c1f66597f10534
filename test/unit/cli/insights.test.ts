// `amc insights` as a child process from an esbuild bundle built like the shipped one (out/cli.js + out/worker.js),
// on a report that `amc eval --out` wrote for the bundled synthetic data with the tiny test model (one query with a
// missing image, so one row is not scored); the numbers are checked against the report itself.
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import type { Insights } from '../../../src/core/insights';
import type { EvalReport } from '../../../src/model/evaluate';
import { amc as runAmc, SYNTH, cliSuite, TINY_MODEL as TINY } from './helpers';

const amc = (...args: string[]) => runAmc(args);

describe('amc insights on an amc eval report', function () {
  this.timeout(180_000);
  const tmp = cliSuite('amc-insights-cli-');
  let reportFile: string;
  let report: EvalReport;

  before(() => {
    // The synthetic VG test scenes (several phrases per image) plus one query whose image is missing.
    const entries = JSON.parse(readFileSync(path.join(SYNTH, 'vg_test.json'), 'utf8')) as { image: string }[];
    const data = path.join(tmp(), 'vg.json');
    writeFileSync(data, JSON.stringify([...entries.slice(0, 30), { ...entries[0], image: 'VG_100K/missing.jpg' }]));
    reportFile = path.join(tmp(), 'report.json');
    const r = amc('eval', data, '--image-root', SYNTH, '--model', TINY, '--out', reportFile, '--batch', '8');
    assert.equal(r.code, 1, r.stderr); // exit 1: one query (the missing image) was not scored
    report = JSON.parse(readFileSync(reportFile, 'utf8')) as EvalReport;
  });

  it('amc eval rows carry the original image size', async () => {
    const scored = report.samples.filter((s) => !s.error);
    assert.equal(scored.length, 30);
    for (const s of scored) {
      const meta = await sharp(s.image).metadata();
      assert.deepEqual([s.width, s.height], [meta.width, meta.height], s.id);
    }
  });

  it('--json: the report\'s counts; the failed row not scored, never a miss; every breakdown adds up', () => {
    const r = amc('insights', reportFile, '--json', '--min-count', '3');
    assert.equal(r.code, 0, r.stderr);
    const i = JSON.parse(r.stdout) as Insights;
    const hits = report.samples.filter((s) => s.hit).length;
    assert.deepEqual([i.rows, i.scored, i.hits, i.notScored], [31, 30, hits, 1]);
    assert.match(i.notScoredReasons[0].reason, /missing\.jpg: image file not found/);
    assert.equal(i.missTarget.misses, 30 - hits);
    const all = report.accuracy.find((a) => a.split === 'all')!;
    assert.deepEqual([i.overall.hits, i.overall.queries], [all.hits, all.total]);
    assert.deepEqual(i.bySplit, []); // the bundled VG sample has no splits: no "(none)" row
    for (const rates of [i.byLength, i.byArea, i.byBoxes]) {
      assert.equal(rates.reduce((n, x) => n + x.queries, 0), 30);
      assert.equal(rates.reduce((n, x) => n + x.hits, 0), hits);
      assert.equal(rates.reduce((n, x) => n + x.notScored, 0), 1);
    }
    const m = i.missTarget.counts;
    assert.equal(m['other-box'] + m.border + m.background + m['size-unknown'], 30 - hits);
    assert.equal(m['size-unknown'], 0); // every scored row has its image size now
    // words: each listed word's queries = scored phrases containing it (pre_caption words)
    for (const w of i.byWord.words) {
      const n = report.samples.filter((s) => !s.error && s.phrase.toLowerCase().split(/\s+/).includes(w.key)).length;
      assert.ok(w.queries >= 3 && w.queries === n, `${w.key}: ${w.queries} vs ${n}`);
    }
    assert.ok(i.byWord.words.length > 3);
    const lMax = i.histograms.lMax;
    assert.equal(lMax.edges.length, 21);
    assert.equal(lMax.hits.reduce((a, b) => a + b, 0) + lMax.misses.reduce((a, b) => a + b, 0), 30);
    assert.equal(lMax.edges[0], Math.min(...report.samples.filter((s) => !s.error).map((s) => s.lMax!)));
  });

  it('tables, --by, and bad input with a clear message', () => {
    let r = amc('insights', reportFile);
    assert.equal(r.code, 0, r.stderr);
    for (const title of ['By word', 'By phrase length', 'By GT box area', 'By number of GT boxes', 'By split', 'Where misses point', 'L_mean', 'L_max']) {
      assert.ok(r.stdout.includes(title), title);
    }
    assert.match(r.stdout, /^31 queries: 30 scored, \d+ hits .*; 1 not scored/m);
    r = amc('insights', reportFile, '--by', 'split');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes('By split') && !r.stdout.includes('By word'));
    r = amc('insights', reportFile, '--by', 'colour');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--by must be one of word, length, area, boxes, split, miss-target, loss, got 'colour'/);
    r = amc('insights', path.join(SYNTH, 'vg_test.json'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /vg_test\.json: not an evaluation report: expected a JSON object, found '\['/);
    r = amc('insights', path.join(tmp(), 'nope.json'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nope\.json/);
  });
});
