// The evaluation report schema (src/core/evalReportSchema.ts): header and row validation, and the check that a
// report belongs to the open model and dataset file, with the reason when it does not.
import { strict as assert } from 'node:assert';
import {
  checkReportMatches, REPORT_SCHEMA, validateEvalReport, validateReportHeader, validateReportRow, type ReportTarget,
} from '../../../src/core/evalReportSchema';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

function header(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema: REPORT_SCHEMA, schemaVersion: 1, writer: 'amc eval',
    model: { name: 'amc-small-synthetic', cardSha256: SHA_A, checkpointSha256: null },
    dataset: { file: 'refcoco+_test.json', size: 1234, format: 'refcoco-albef' },
    ...over,
  };
}
const scored = { id: 'q1', image: 'a.png', phrase: 'a red circle', split: 'testA', boxes: [[1, 2, 30, 40]], width: 64, height: 48, point: { x: 10, y: 20 }, hit: true, lMean: 0.1, lMax: 0.5, score: 3.2 };
const notScored = { id: 'q2', image: 'b.png', phrase: 'a cat', split: null, boxes: [[0, 0, 5, 5]], error: 'b.png: image file not found', reason: 'image not found' };
const target: ReportTarget = { modelName: 'amc-small-synthetic', modelSha256: SHA_A, datasetFile: '/data/refcoco+_test.json', datasetSize: 1234 };

describe('evaluation report schema', () => {
  it('accepts a schema-1 report with scored and not-scored rows', () => {
    assert.deepEqual(validateEvalReport({ ...header(), samples: [scored, notScored] }), []);
    // the Python writer: no card, a checkpoint sha256
    assert.deepEqual(validateReportHeader(header({ writer: 'python -m amc_trainer eval', model: { name: null, cardSha256: null, checkpointSha256: SHA_B } })), []);
  });

  it('names the field of every problem', () => {
    assert.deepEqual(validateReportHeader({ samples: [] }), ['no "schema": not an evaluation report of schema 1 (written before the schema, or by another tool)']);
    assert.match(validateReportHeader(header({ schemaVersion: 2 }))[0], /"schemaVersion" 2 is newer than this version reads \(1\)/);
    assert.deepEqual(validateReportHeader(header({ model: { name: 'm', cardSha256: 'XYZ', checkpointSha256: null }, dataset: { file: 'a/b.json', size: -1, format: 'x' } })), [
      '"model.cardSha256" must be 64 lowercase hex digits or null, got "XYZ"',
      '"dataset.file" must be a file name (no folder)',
      '"dataset.size" must be a byte count',
    ]);
    assert.deepEqual(validateReportRow({ ...scored, point: [10, 20], lMean: null }, 3), [
      'samples[3].point must be {x, y} in integer pixels', 'samples[3].lMean must be a finite number',
    ]);
    assert.deepEqual(validateReportRow({ ...notScored, reason: undefined, hit: false }, 0), [
      'samples[0].reason must be a short cause (a not-scored row has both error and reason)',
      'samples[0].hit must be absent on a not-scored row',
    ]);
    assert.deepEqual(validateReportRow({ ...scored, boxes: [[1, 2, 3]] }, 1), ['samples[1].boxes must be an array of [x1, y1, x2, y2]']);
    assert.deepEqual(validateEvalReport({ ...header() }), ['"samples" must be an array']);
  });

  it('checkReportMatches: null for the open model and file, else the reason', () => {
    assert.equal(checkReportMatches(header(), target), null);
    assert.equal(checkReportMatches(header(), { ...target, datasetFile: 'refcoco+_test.json' }), null);
    assert.equal(checkReportMatches(header(), { ...target, modelSha256: SHA_A.toUpperCase() }), null);
    assert.equal(checkReportMatches(header({ model: { name: 'other', cardSha256: SHA_B, checkpointSha256: null } }), target),
      'the report was computed with model other (grounding.onnx sha256 bbbbbbbbbbbb…), not with the open model amc-small-synthetic (grounding.onnx sha256 aaaaaaaaaaaa…)');
    // same name, re-exported: another model
    assert.match(checkReportMatches(header({ model: { name: 'amc-small-synthetic', cardSha256: SHA_B, checkpointSha256: null } }), target)!, /computed with model amc-small-synthetic \(grounding\.onnx sha256 bbbb/);
    assert.match(checkReportMatches(header({ writer: 'python -m amc_trainer eval', model: { name: null, cardSha256: null, checkpointSha256: SHA_B } }), target)!,
      /names no model card \(written by python -m amc_trainer eval from checkpoint sha256 bbbbbbbbbbbb… without --card\)/);
    assert.equal(checkReportMatches(header(), { ...target, datasetFile: '/data/refcoco+_val.json' }),
      'the report is for the dataset file refcoco+_test.json, not refcoco+_val.json');
    assert.equal(checkReportMatches(header(), { ...target, datasetSize: 999 }),
      'the report is for refcoco+_test.json of 1234 bytes; this refcoco+_test.json has 999 bytes (changed since the evaluation?)');
    assert.match(checkReportMatches({ file: 'x.json', model: { name: 'amc-small-synthetic' } }, target)!, /^not a readable evaluation report: no "schema"/);
  });
});
