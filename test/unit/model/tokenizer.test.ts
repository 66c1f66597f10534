// Parity of the TypeScript tokenizer with the trainer's Python tokenizer (trainer/amc_trainer/tokenizer.py),
// id for id, on the 1,000+ phrases of test/fixtures/tokenizer/expected.jsonl (accents, punctuation, digits,
// non-Latin scripts, over-long text), plus the rules that make a phrase unusable.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { preCaption } from '../../../src/core/text';
import { BertTokenizer, TokenizeError, readVocab } from '../../../src/model/tokenizer';

const root = path.resolve(__dirname, '../../..');
const vocabFile = path.join(root, 'trainer/amc_trainer/vocab.txt');

interface Expected {
  text: string; caption: string; max_length: number;
  input_ids: number[]; input_ids_untruncated: number[]; tokens: string[]; text_input_ids: number[];
}

const records: Expected[] = readFileSync(path.join(root, 'test/fixtures/tokenizer/expected.jsonl'), 'utf8')
  .split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Expected);

describe('tokenizer: parity with the trainer (Python) tokenizer', () => {
  const tok = BertTokenizer.fromVocabFile(vocabFile, { maxLength: 25 });

  it('the fixture has at least 1000 phrases with accents, digits, non-Latin text and over-long phrases', () => {
    assert.ok(records.length >= 1000, `only ${records.length} records`);
    assert.ok(records.some((r) => /[À-ɏ]/.test(r.text)), 'no accented Latin');
    assert.ok(records.some((r) => /\d/.test(r.text)), 'no digits');
    assert.ok(records.some((r) => /[\u0400-\u04ff\u4e00-\u9fff\u0600-\u06ff]/.test(r.text)), 'no non-Latin script');
    assert.ok(records.some((r) => r.input_ids_untruncated.length > r.max_length), 'nothing over max_length');
  });

  it('pre_caption matches for every phrase', () => {
    const bad = records.filter((r) => preCaption(r.text, 50) !== r.caption);
    assert.deepEqual(bad.slice(0, 5).map((r) => r.text), [], `${bad.length} captions differ`);
  });

  it('[CLS] + wordpieces of the caption match id for id (untruncated, evaluation call)', () => {
    const mismatches: string[] = [];
    for (const r of records) {
      const wp = tok.wordpieces(r.caption);
      const ids = [101, ...wp.ids];
      if (JSON.stringify(ids) !== JSON.stringify(r.input_ids_untruncated)) {
        mismatches.push(`${JSON.stringify(r.caption)}: got ${JSON.stringify([...wp.tokens])} want ${JSON.stringify(r.tokens)}`);
      }
    }
    assert.deepEqual(mismatches.slice(0, 8), [], `${mismatches.length} of ${records.length} differ`);
  });

  it('tokens (strings) match, and truncation to max_length matches the training call', () => {
    for (const r of records) {
      const t = tok.encodeCaptionTruncated(r.caption);
      assert.deepEqual(t.ids, r.input_ids, r.caption);
      assert.deepEqual(['[CLS]', ...tok.wordpieces(r.caption).tokens], r.tokens, r.caption);
    }
  });

  it('raw text without pre_caption (punctuation, case, special tokens written out) matches', () => {
    const mismatches: string[] = [];
    for (const r of records) {
      const ids = [101, ...tok.wordpieces(r.text).ids];
      if (JSON.stringify(ids) !== JSON.stringify(r.text_input_ids)) mismatches.push(JSON.stringify(r.text));
    }
    assert.deepEqual(mismatches.slice(0, 8), [], `${mismatches.length} of ${records.length} differ`);
  });
});

describe('tokenizer: phrases the model cannot take', () => {
  const tok = BertTokenizer.fromVocabFile(vocabFile, { maxLength: 8 });

  it('adds [CLS] and never [SEP]', () => {
    const e = tok.encodePhrase('The red circle, left of the star!');
    assert.equal(e.ids[0], 101);
    assert.ok(!e.ids.includes(102));
    assert.deepEqual(e.tokens, ['[CLS]', 'the', 'red', 'circle', 'left', 'of', 'the', 'star']);
  });

  it('refuses a phrase that tokenizes to nothing, naming it', () => {
    for (const phrase of ['', '   ', '?!.,', '"()"']) {
      assert.throws(() => tok.encodePhrase(phrase), (e: unknown) =>
        e instanceof TokenizeError && e.reason === 'empty' && e.message.includes(JSON.stringify(phrase)));
    }
  });

  it('refuses a phrase longer than the card max length, saying both lengths', () => {
    assert.throws(() => tok.encodePhrase('one two three four five six seven eight'), (e: unknown) =>
      e instanceof TokenizeError && e.reason === 'too-long' && /9 tokens/.test(e.message) && /at most 8/.test(e.message));
    // exactly at the limit is fine
    assert.equal(tok.encodePhrase('one two three four five six seven').ids.length, 8);
  });

  it('reads vocab.txt in id order and rejects a vocabulary without [PAD] at 0', () => {
    const vocab = readVocab(vocabFile);
    assert.equal(vocab.length, 30522);
    assert.equal(vocab[101], '[CLS]');
    assert.throws(() => new BertTokenizer(['[UNK]', '[PAD]', '[CLS]'], { maxLength: 4 }).encodePhrase('x'));
  });
});
