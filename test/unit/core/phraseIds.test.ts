// Phrase ids of src/core/insights.ts InsightTable: given in batches (rows sorted by their phrase's hash, grouped,
// numbered in first-seen order), matched across appended tables by walking both in hash order, and ByteIds'
// lookup slots filled only when a lookup needs them. Equal hashes of different phrases are forced here (the
// hash is the caller's), so that the byte comparisons, not the hashes, are what the ids rest on.
import { strict as assert } from 'node:assert';
import { ByteIds, computeInsights, fnv1a, InsightTable, unionArea } from '../../../src/core/insights';

const values = new Float64Array(6).fill(NaN);
const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

/** Rows with these phrases (already in pre_caption form), each with the hash `hashOf` gives (default FNV-1a). */
function rows(t: InsightTable, phrases: string[], hashOf: (s: string) => number = (s) => fnv1a(bytes(s), 0, bytes(s).length)): void {
  for (const p of phrases) {
    const b = bytes(p);
    t.pendPhrase(b, 0, b.length, hashOf(p));
    values[0] = 5; values[1] = 5;
    t.push(1, values, t.splitId('train'), t.imageId(`img${p.length % 3}`), [0, 0, 10, 10], 1);
  }
}

/** The ids a row-by-row lookup gives: in the order phrases first occur. */
function firstSeenIds(phrases: string[]): { ids: number[]; list: string[] } {
  const seen = new Map<string, number>();
  return { ids: phrases.map((p) => seen.get(p) ?? (seen.set(p, seen.size), seen.size - 1)), list: [...seen.keys()] };
}

function randomPhrases(n: number, distinct: number, seed: number): string[] {
  let x = seed;
  const rand = (): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const words = ['red', 'the', 'tall', 'circle', 'square', 'left', 'of', 'a', 'man', 'dog'];
  const pool = Array.from({ length: distinct }, (_, i) => `${words[i % words.length]} ${words[(i * 7) % words.length]} w${i}`);
  return Array.from({ length: n }, () => pool[Math.floor(rand() * pool.length)]);
}

describe('insights: phrase ids', () => {
  it('a batch of rows gets first-seen ids, also when different phrases share a hash', () => {
    // 5,000 rows (the radix sort) and 300 rows (the small sort), each with every hash forced into 7 values.
    for (const n of [5000, 300]) {
      const phrases = randomPhrases(n, Math.floor(n / 3), n);
      const t = new InsightTable();
      rows(t, phrases, (s) => [...s].reduce((h, c) => h + c.charCodeAt(0), 0) % 7);
      const want = firstSeenIds(phrases);
      assert.deepEqual([...t.phrase.subarray(0, n)], want.ids);
      assert.deepEqual(t.phraseList(), want.list);
      assert.equal(t.phraseCount, want.list.length);
    }
  });

  it('batches resolved one after another (as a streaming read does) give the ids of one batch', () => {
    const phrases = randomPhrases(6000, 900, 7);
    const once = new InsightTable();
    rows(once, phrases);
    const batched = new InsightTable();
    for (let i = 0; i < phrases.length; i += 777) {
      rows(batched, phrases.slice(i, i + 777), (s) => s.length % 5);   // colliding hashes across batches too
      assert.equal(batched.phraseCount, firstSeenIds(phrases.slice(0, i + 777)).list.length);   // resolves this batch
    }
    assert.deepEqual([...batched.phrase.subarray(0, phrases.length)], [...once.phrase.subarray(0, phrases.length)]);
    assert.deepEqual(batched.phraseList(), once.phraseList());
  });

  it('appending a table (matched in hash order) gives the ids, words and breakdowns of one table', () => {
    const phrases = randomPhrases(8000, 2500, 11);
    for (const hashOf of [undefined, (s: string): number => s.length % 4]) {
      const whole = new InsightTable();
      rows(whole, phrases, hashOf);
      const first = new InsightTable(), second = new InsightTable();
      rows(first, phrases.slice(0, 3000), hashOf);
      rows(second, phrases.slice(3000), hashOf);
      first.appendParts(second.exportParts());
      assert.deepEqual([...first.phrase.subarray(0, phrases.length)], [...whole.phrase.subarray(0, phrases.length)]);
      assert.deepEqual(first.phraseList(), whole.phraseList());
      assert.deepEqual(first.words.values, whole.words.values);
      assert.deepEqual(computeInsights(first), computeInsights(whole));
    }
  });

  it('ByteIds: entries added without their slots are found once a lookup needs them', () => {
    const ids = new ByteIds();
    const keys = Array.from({ length: 3000 }, (_, i) => bytes(`key ${i}`));
    keys.forEach((k, i) => ids.add(k, 0, k.length, i % 3, i, false));   // 3 hashes for 3,000 keys
    keys.forEach((k, i) => assert.equal(ids.find(k, 0, k.length, i % 3), i));
    assert.equal(ids.find(bytes('key 3000'), 0, 8, 0), -1);
    const more = bytes('key 3000');
    ids.add(more, 0, more.length, 0, 3000);
    assert.equal(ids.find(more, 0, more.length, 0), 3000);
    assert.equal(ids.size, 3001);
  });
});

describe('insights: unionArea', () => {
  it('equals the area counted pixel by pixel for overlapping, nested, touching and clipped boxes', () => {
    let x = 5;
    const rand = (n: number): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % n);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + rand(5), flat: number[] = [];
      for (let b = 0; b < n; b++) {
        const x1 = rand(40) - 5, y1 = rand(40) - 5;
        flat.push(x1, y1, x1 + rand(25), y1 + rand(25));
      }
      let pixels = 0;
      for (let py = 0; py < 30; py++) {
        for (let px = 0; px < 32; px++) {
          for (let b = 0; b < flat.length; b += 4) {
            if (px >= flat[b] && px + 1 <= flat[b + 2] && py >= flat[b + 1] && py + 1 <= flat[b + 3]) { pixels++; break; }
          }
        }
      }
      assert.equal(unionArea(flat, 0, flat.length, 32, 30), pixels, JSON.stringify(flat));
    }
  });
});
