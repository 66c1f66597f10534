// IdTracker of src/core/lint.ts: repeated sample ids found among millions without a Map of strings; integer ids kept
// 32-bit until one does not fit, then 64-bit, without losing what was added before.
import { strict as assert } from 'node:assert';
import { IdTracker } from '../../../src/core/lint';

const sorted = (d: [string, number[]][]): [string, number[]][] =>
  d.map(([id, l]) => [id, [...l].sort((a, b) => a - b)] as [string, number[]]).sort((a, b) => (a[0] < b[0] ? -1 : 1));

describe('lint: duplicate ids (IdTracker)', () => {
  it('finds repeated integer and text ids with every sample that uses them', () => {
    const t = new IdTracker();
    t.reserve(10);
    ['7', '8', 'a', '7', '4294967295', 'b', 'a', '4294967295', '0', '9'].forEach((id, i) => t.add(id, i));
    assert.deepEqual(sorted(t.duplicates()), [['4294967295', [4, 7]], ['7', [0, 3]], ['a', [2, 6]]]);
  });

  it('an id past 32 bits switches to 64-bit numbers and keeps the earlier ones (no wrap-around match)', () => {
    const t = new IdTracker();
    for (let i = 0; i < 5000; i++) t.add(String(i), i);                 // grows past its first 1,024
    t.add(String(2 ** 32 + 5), 5000);                                    // would equal 5 if kept in 32 bits
    t.add('123456789012345', 5001);
    t.add('123456789012345', 5002);
    t.add('4999', 5003);
    assert.deepEqual(sorted(t.duplicates()), [['123456789012345', [5001, 5002]], ['4999', [4999, 5003]]]);
  });

  it('ids with leading zeros or 16+ digits are compared as text', () => {
    const t = new IdTracker();
    ['007', '7', '1234567890123456', '1234567890123456'].forEach((id, i) => t.add(id, i));
    assert.deepEqual(sorted(t.duplicates()), [['1234567890123456', [2, 3]]]);
  });
});
