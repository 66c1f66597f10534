// bert-base-uncased WordPiece as ALBEF/AMC tokenize text: `pre_caption` cleaning, then [CLS] + wordpieces and
// NO [SEP] (docs/reference.md §0, §3, §6: ALBEF's BertTokenizer builds a single sequence as `[CLS] X`).
//
// The tokenizer is @huggingface/tokenizers (pure JS) configured in code from vocab.txt: BertNormalizer
// (clean text, CJK spacing, strip accents, lowercase), BertPreTokenizer (whitespace + punctuation split),
// WordPiece (`##` continuation, words over 100 characters → [UNK]). No post-processor: [CLS] is added here
// so that no [SEP] can slip in.
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { preCaption } from '../core/text';
import { errorMessage } from '../core/errors';

export const CLS_TOKEN = '[CLS]';
export const PAD_ID = 0;

export interface TokenizerOptions {
  /** Training sequence length INCLUDING [CLS] (the card's max_text_length): encodeCaptionTruncated cuts to it. */
  maxLength: number;
  /**
   * Longest phrase encodePhrase accepts, INCLUDING [CLS]: the model's text position table (the card's
   * config.max_position). Default: maxLength.
   */
  maxPositions?: number;
  /** bert-base-uncased lowercases; a cased vocabulary would set this false. */
  lowercase?: boolean;
  /** `pre_caption`'s max_words (docs/reference.md §3: 50 for Flickr / training, 30 for RefCOCO+). */
  maxWords?: number;
}

export interface EncodedText {
  caption: string;   // the pre_caption form that was tokenized
  ids: number[];     // [CLS] + wordpiece ids
  tokens: string[];  // the same as strings ("[CLS]", "red", "##dish", ...)
}

/** A phrase the model cannot take; `reason` says which rule it broke. */
export class TokenizeError extends Error {
  constructor(readonly phrase: string, readonly reason: 'empty' | 'too-long', message: string) {
    super(message);
    this.name = 'TokenizeError';
  }
}

/** Read vocab.txt: one token per line, id = line number (0-based). */
export function readVocab(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read the WordPiece vocabulary (${errorMessage(e)})`);
  }
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const vocab = lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  checkVocab(vocab, file);
  return vocab;
}

function checkVocab(vocab: string[], source: string): void {
  for (const needed of [CLS_TOKEN, '[UNK]', '[PAD]']) {
    if (!vocab.includes(needed)) throw new Error(`${source}: vocabulary has no ${needed} token`);
  }
  if (vocab[PAD_ID] !== '[PAD]') throw new Error(`${source}: [PAD] must be id 0 (found ${JSON.stringify(vocab[0])})`);
}

const SPECIAL_SPLIT = /(\[UNK\]|\[SEP\]|\[PAD\]|\[CLS\]|\[MASK\])/;

/**
 * Lower-case one character at a time outside special tokens, as transformers' BertTokenizer.tokenize does: a
 * whole-string toLowerCase (the library's normalizer) turns a word-final Σ into ς, BERT's per-character
 * lowering gives σ (measured: the only 2 differences in the 1,119-phrase parity corpus before this step).
 */
function lowerPerCharacter(text: string): string {
  return text.split(SPECIAL_SPLIT).map((part, i) => (i % 2 === 1 ? part : Array.from(part, (ch) => ch.toLowerCase()).join(''))).join('');
}

/** The tokenizer.json that @huggingface/tokenizers reads, built from a vocabulary in id order. */
export function bertTokenizerJson(vocab: string[], lowercase: boolean): object {
  const ids: Record<string, number> = {};
  vocab.forEach((tok, i) => { if (!(tok in ids)) ids[tok] = i; });
  const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].filter((t) => t in ids);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: special.map((content) => ({
      id: ids[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: {
      type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true,
      // BERT's rule: strip accents exactly when lowercasing (strip_accents=None follows lowercase).
      strip_accents: lowercase, lowercase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: ids,
    },
  };
}

export class BertTokenizer {
  private readonly hf: Tokenizer;
  private readonly clsId: number;
  readonly maxLength: number;
  readonly maxPositions: number;
  readonly maxWords: number;

  private readonly lowercase: boolean;

  constructor(readonly vocab: string[], readonly options: TokenizerOptions) {
    checkVocab(vocab, 'tokenizer');
    const lowercase = options.lowercase ?? true;
    this.hf = new Tokenizer(bertTokenizerJson(vocab, lowercase), {
      tokenizer_class: 'BertTokenizer', do_lower_case: lowercase, cls_token: CLS_TOKEN, unk_token: '[UNK]',
      sep_token: '[SEP]', pad_token: '[PAD]', mask_token: '[MASK]', clean_up_tokenization_spaces: true,
    });
    this.lowercase = lowercase;
    this.clsId = vocab.indexOf(CLS_TOKEN);
    if (!(options.maxLength >= 2)) throw new Error(`tokenizer: maxLength must be ≥ 2, got ${options.maxLength}`);
    this.maxLength = options.maxLength;
    this.maxPositions = Math.max(options.maxPositions ?? options.maxLength, options.maxLength);
    this.maxWords = options.maxWords ?? 50;
  }

  static fromVocabFile(file: string, options: TokenizerOptions): BertTokenizer {
    return new BertTokenizer(readVocab(file), options);
  }

  /** Wordpieces of already-cleaned text, without [CLS] and without any length check. */
  wordpieces(caption: string): { ids: number[]; tokens: string[] } {
    if (caption.trim() === '') return { ids: [], tokens: [] };
    const enc = this.hf.encode(this.lowercase ? lowerPerCharacter(caption) : caption, { add_special_tokens: false });
    return { ids: enc.ids, tokens: enc.tokens };
  }

  /** [CLS] + wordpieces of an already-cleaned caption, truncated to maxLength (the training call, docs/reference.md §3). */
  encodeCaptionTruncated(caption: string): EncodedText {
    const wp = this.wordpieces(caption);
    const keep = this.maxLength - 1;
    return { caption, ids: [this.clsId, ...wp.ids.slice(0, keep)], tokens: [CLS_TOKEN, ...wp.tokens.slice(0, keep)] };
  }

  /**
   * A phrase as the evaluation feeds it to the model: pre_caption, then [CLS] + wordpieces. Evaluation does not
   * truncate (docs/reference.md §4.2): a phrase longer than the training length runs whole, as in the reference evaluation; one
   * longer than the position table cannot run at all and is refused rather than silently cut, and a phrase with
   * no wordpieces left is refused because its GradCAM would be [CLS] alone.
   */
  encodePhrase(phrase: string): EncodedText {
    const caption = preCaption(phrase, this.maxWords);
    const wp = this.wordpieces(caption);
    if (wp.ids.length === 0) {
      throw new TokenizeError(phrase, 'empty',
        `phrase ${JSON.stringify(phrase)} has no words left after cleaning (pre_caption gives ${JSON.stringify(caption)})`);
    }
    if (wp.ids.length + 1 > this.maxPositions) {
      const limit = this.maxPositions > this.maxLength ? 'its text position table, config.max_position in model.json' : 'max_text_length in model.json';
      throw new TokenizeError(phrase, 'too-long',
        `phrase ${JSON.stringify(truncateForMessage(phrase))} is ${wp.ids.length + 1} tokens ([CLS] + ${wp.ids.length} wordpieces); ` +
        `the model takes at most ${this.maxPositions} (${limit})`);
    }
    return { caption, ids: [this.clsId, ...wp.ids], tokens: [CLS_TOKEN, ...wp.tokens] };
  }
}

function truncateForMessage(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
