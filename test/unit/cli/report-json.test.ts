// The report writers' numbers (docs/reference.md §8): each sample's floats with 9 significant digits, the float32
// round-trip precision, the same from src/cli/report.ts reportJson and trainer/amc_trainer/eval_report.py report_json.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { reportJson } from '../../../src/cli/report';
import { TORCH_PYTHON as python, TRAINER } from './helpers';

/** Significant digits of a JSON number as written ("0.000123" → 3, "1.5e-7" → 2). */
export function significantDigits(text: string): number {
  return text.split(/e/i)[0].replace(/[-+.]/g, '').replace(/^0+/, '').replace(/0+$/, '').length;
}

/** Each sample line's numbers as written, by key (top-level fields of the sample only). */
function writtenNumbers(text: string): Record<string, string>[] {
  const lines = text.split('\n');
  const first = lines.indexOf(' "samples": [') + 1;
  return lines.slice(first, lines.indexOf(' ]', first)).map((line) =>
    Object.fromEntries([...line.matchAll(/"(\w+)":(-?[\d.]+(?:[eE][-+]?\d+)?)(?=[,}])/g)].map((m) => [m[1], m[2]])));
}

const FLOATS = ['score', 'itmProbability', 'lMean', 'lMax', 'total'] as const;

/** Rows like an evaluation's: float32 metrics (exact float32 values) and float64 sums of them (float64 noise). */
function rows(n: number): Record<string, unknown>[] {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  return Array.from({ length: n }, (_, i) => {
    const lMean = Math.fround(rand() * 0.4), lMax = Math.fround(rand() * 1.2);
    return {
      index: i, id: `q${i}`, split: 'test', image: `img${i}.jpg`, phrase: 'the red ball',
      boxes: [[1.25, 2.123456789012345, 30.5, 40]], width: 640, height: 480, hit: i % 2 === 0, point: { x: 3, y: 4 },
      score: Math.fround(rand() * 8 - 4), itmProbability: Math.fround(rand()), lMean, lMax,
      total: 0.2 * lMean + 0.8 * lMax, maskEmpty: false,
    };
  });
}

describe('report writers: sample floats with 9 significant digits (docs/reference.md §8)', function () {
  this.timeout(60_000);

  it('reportJson writes each float with ≤ 9 significant digits, equal to the value at float32 precision', () => {
    const samples = rows(2000);
    const report = { schema: 'amc-eval-report', accuracy: [{ accuracy: 1 / 3 }], samples };
    const text = reportJson(report);
    const written = writtenNumbers(text);
    const parsed = (JSON.parse(text) as { samples: Record<string, number>[] }).samples;
    assert.equal(written.length, samples.length);
    let longest = 0;
    samples.forEach((row, i) => {
      for (const k of FLOATS) {
        const value = row[k] as number, reported = parsed[i][k];
        longest = Math.max(longest, significantDigits(written[i][k]));
        assert.ok(Math.abs(reported - value) <= 1e-7 * Math.abs(value), `${k} of row ${i}: ${reported} vs ${value}`);
        if (k !== 'total') assert.equal(Math.fround(reported), value, `${k} of row ${i}: a float32 value round-trips`);
      }
      // Integers, the point and the boxes are written as before.
      assert.deepEqual([parsed[i].index, parsed[i].width, parsed[i].point], [i, 640, { x: 3, y: 4 }]);
      assert.deepEqual(parsed[i].boxes, row.boxes);
    });
    assert.ok(longest <= 9, `a float was written with ${longest} significant digits`);
    assert.ok(longest >= 8, 'the floats keep float32 precision');
    // The header is not rounded, and a non-finite sample value is written as null as before.
    assert.equal((JSON.parse(text) as { accuracy: { accuracy: number }[] }).accuracy[0].accuracy, 1 / 3);
    assert.deepEqual((JSON.parse(reportJson({ samples: [{ lMean: NaN, lMax: Infinity }] })) as { samples: unknown[] }).samples[0],
      JSON.parse('{"lMean":null,"lMax":null}'));
  });

  it('the Python writer writes the same numbers, exact ties (2^-14) included', () => {
    const samples = [...rows(300), { index: 300, id: 'tie', score: 2 ** -14, lMean: -(2 ** -14), lMax: 1.0000000005, total: 5e-324 }];
    const report = { schema: 'amc-eval-report', samples };
    const py = spawnSync(python, ['-c', 'import sys, json\nfrom amc_trainer.eval_report import report_json\n' +
      'sys.stdout.write(report_json(json.load(sys.stdin)))'], { cwd: TRAINER, input: JSON.stringify(report), encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    const ours = writtenNumbers(reportJson(report)), theirs = writtenNumbers(py.stdout);
    assert.equal(theirs.length, ours.length);
    // Same values (Python writes "3.0", "6.10351563e-05" where JavaScript writes "3", "0.0000610351563").
    ours.forEach((row, i) => assert.deepEqual(
      Object.fromEntries(Object.entries(theirs[i]).map(([k, v]) => [k, Number(v)])),
      Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])), `row ${i}`));
    assert.equal(Number(ours[300].score), 0.0000610351563);
  });
});
