// The phrase search index (src/core/phraseIndex.ts): the same rows as a plain lower-cased `includes` over every
// phrase, across block boundaries, splits, escapes and truncation (issue 14 item 4).
import { strict as assert } from 'node:assert';
import { PhraseIndex, searchForm } from '../../../src/core/phraseIndex';

function naive(phrases: string[], splits: (string | undefined)[], needle: string, split: string | null,
  from = 0, to = phrases.length): number[] {
  const form = searchForm(needle);
  const out: number[] = [];
  for (let i = from; i < to; i++) {
    if (split !== null && (splits[i] ?? '') !== split) continue;
    if (searchForm(phrases[i]).includes(form)) out.push(i);
  }
  return out;
}

describe('PhraseIndex', () => {
  it('finds the rows whose phrase contains the needle, case-insensitively, one match per row, per split', () => {
    const phrases = ['A Red circle', 'blue square', 'red red red', 'Großes Ä', 'line\nbreak', '', 'ends with red'];
    const splits = ['train', 'val', undefined, 'val', 'train', 'train', 'val'];
    const index = new PhraseIndex();
    phrases.forEach((p, i) => index.push(p, splits[i]));
    for (const needle of ['red', 'RED', 'ä', 'große', 'line break', 'd\nb', '', 'e r', 'zebra']) {
      for (const split of [null, 'train', 'val', '', 'test']) {
        assert.deepEqual(index.matches(needle, split), naive(phrases, splits, needle, split), `${JSON.stringify(needle)} in ${split}`);
      }
    }
    assert.deepEqual(index.matches('red', null, () => true, 1, 6), [2]);
    assert.deepEqual(index.matches('red', null, (row) => row !== 0), [2, 6]);
    assert.equal(index.splitOf(2), '');
    assert.equal(index.splitOf(3), 'val');
  });

  it('raw JSON string bytes: ASCII lower-cased byte by byte, escapes and UTF-8 decoded, bad escapes refused', () => {
    const raws = ['Tall TREE', 'caf\\u00e9 Table', 'tab\\there', 'ÉTÉ sun', 'quote \\" inside', 'new\\nline'];
    const index = new PhraseIndex();
    for (const raw of raws) {
      const bytes = Buffer.from(`xx"${raw}"yy`, 'utf8');
      assert.equal(index.pushJsonString(bytes, 3, bytes.length - 3), true, raw);
    }
    const phrases = raws.map((r) => JSON.parse(`"${r}"`) as string);
    for (const needle of ['tree', 'café', 'tab\there', 'été', '" inside', 'new line', 'e']) {
      assert.deepEqual(index.matches(needle, null), naive(phrases, [], needle, null), needle);
    }
    const bad = Buffer.from('"\\x"');
    assert.equal(index.pushJsonString(bad, 1, 3), false);
    assert.equal(index.count, raws.length);
  });

  it('spans many 4 MiB blocks and truncates back to any row (an image entry found bad after its regions)', function () {
    this.timeout(30_000);
    const words = ['tree', 'white shirt', 'man wearing a hat', 'zebra', 'sky'];
    const phrases: string[] = [];
    const index = new PhraseIndex();
    for (let i = 0; i < 400_000; i++) {
      const p = `${words[i % 5]} ${i} ${'x'.repeat(i % 37)}`;
      phrases.push(p);
      index.push(p);
    }
    assert.ok(index.byteLength > 3 * (4 << 20), 'several blocks');
    for (const needle of ['zebra', 'shirt 1', '399999', 'a hat 7', 'xx']) {
      assert.deepEqual(index.matches(needle, null), naive(phrases, [], needle, null), needle);
      assert.deepEqual(index.matches(needle, null, () => true, 123_457, 301_000), naive(phrases, [], needle, null, 123_457, 301_000));
    }
    index.truncate(250_001);
    phrases.length = 250_001;
    index.push('the new zebra');
    phrases.push('the new zebra');
    assert.equal(index.count, 250_002);
    assert.deepEqual(index.matches('zebra', null), naive(phrases, [], 'zebra', null));
    assert.deepEqual(index.matches('new zebra', null), [250_001]);
  });
});
