"""Text side of ALBEF/AMC: `pre_caption` and a pure-Python bert-base-uncased WordPiece tokenizer.

The sequence ALBEF feeds its text encoder is `[CLS] + wordpieces` with **no [SEP]** (docs/reference.md §0, §6), padded
to the longest sequence of the batch and truncated to `max_length` tokens including [CLS] (docs/reference.md §3:
`padding='longest', truncation=True, max_length=25` in training; evaluation does not truncate).

The tokenizer reproduces HuggingFace `BertTokenizer(do_lower_case=True)` as ALBEF calls it:
  1. the input is split on the special tokens ([CLS], [SEP], [UNK], [PAD], [MASK], case-sensitive);
  2. every other character is lower-cased on its own (transformers' `tokenize` lower-cases with
     `re.sub('(specials)|(.+?)', ...)`, one character per match, so Greek final sigma becomes σ, never ς —
     the same as the Rust `tokenizers` normalizer);
  3. BasicTokenizer: drop NUL, U+FFFD and control characters (category C*, except \\t \\n \\r), map
     whitespace (\\t \\n \\r, category Zs) to a space, put spaces around CJK ideographs, split on whitespace,
     lower-case, strip accents (NFD, drop category Mn), split off every punctuation character (ASCII
     33–47, 58–64, 91–96, 123–126, or category P*);
  4. WordPiece: greedy longest-match-first with `##` continuations; a word over 100 characters, or one
     with a part that no vocabulary entry matches, becomes [UNK].

CLI (from `trainer/`): `python -m amc_trainer.tokenizer fixture` rewrites the TypeScript parity fixture
`test/fixtures/tokenizer/expected.jsonl` from `trainer/tests/data/tokenizer_phrases.txt`;
`python -m amc_trainer.tokenizer tokenize TEXT...` prints tokens and ids.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import unicodedata
from typing import Dict, List, Optional, Sequence, Tuple

import torch

VOCAB_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vocab.txt")
SPECIAL_TOKENS = ("[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]")
MAX_INPUT_CHARS_PER_WORD = 100

_PRE_CAPTION_DELETE = re.compile(r"([,.'!?\"()*#:;~])")
_MULTI_SPACE = re.compile(r"\s{2,}")


def pre_caption(caption: str, max_words: int = 50) -> str:
    """ALBEF/AMC caption cleaning (docs/reference.md §3, `dataset/utils.py`), reproduced step for step.

    Lower-case; delete , . ' ! ? " ( ) * # : ; ~ ; '-' and '/' become spaces; '<person>' becomes 'person';
    runs of 2+ whitespace characters collapse to one space; strip; keep the first `max_words` words.
    Note the reference splits words on a single ' ', so a lone tab or newline stays inside a "word".
    """
    caption = _PRE_CAPTION_DELETE.sub("", caption.lower())
    caption = caption.replace("-", " ").replace("/", " ").replace("<person>", "person")
    caption = _MULTI_SPACE.sub(" ", caption)
    caption = caption.rstrip("\n")
    caption = caption.strip(" ")
    words = caption.split(" ")
    if len(words) > max_words:
        caption = " ".join(words[:max_words])
    return caption


# --- BasicTokenizer character classes (transformers/models/bert/tokenization_bert.py) -------------------

def _is_whitespace(ch: str) -> bool:
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def _is_control(ch: str) -> bool:
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    # BERT treats every non-alphanumeric ASCII character as punctuation ("$", "^", "`", ...), even where
    # Unicode does not.
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    # The CJK Unified Ideographs blocks BERT spaces out; Hiragana, Katakana and Hangul are not among them.
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def _clean_text(text: str) -> str:
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        out.append(" " if _is_whitespace(ch) else ch)
    return "".join(out)


def _space_cjk(text: str) -> str:
    out = []
    for ch in text:
        if _is_cjk(ord(ch)):
            out.extend((" ", ch, " "))
        else:
            out.append(ch)
    return "".join(out)


def _strip_accents(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")


def _split_on_punctuation(word: str) -> List[str]:
    pieces: List[List[str]] = []
    start_new = True
    for ch in word:
        if _is_punctuation(ch):
            pieces.append([ch])
            start_new = True
        else:
            if start_new:
                pieces.append([])
            start_new = False
            pieces[-1].append(ch)
    return ["".join(p) for p in pieces]


def basic_tokenize(text: str) -> List[str]:
    """BasicTokenizer(do_lower_case=True) on text that holds no special token."""
    text = _space_cjk(_clean_text(text))
    words: List[str] = []
    for token in text.strip().split():
        token = _strip_accents(token.lower())
        words.extend(_split_on_punctuation(token))
    return " ".join(words).strip().split()


def _lower_per_character(text: str) -> str:
    # One character at a time, like transformers' regex-based lowercasing (see module docstring).
    return "".join(ch.lower() for ch in text)


class BertTokenizer:
    """bert-base-uncased WordPiece, ALBEF style ([CLS] + pieces, no [SEP])."""

    def __init__(self, vocab: Sequence[str]):
        self.id_to_token: List[str] = list(vocab)
        self.vocab: Dict[str, int] = {}
        for i, tok in enumerate(self.id_to_token):
            self.vocab.setdefault(tok, i)  # first occurrence wins, as transformers' load_vocab
        for needed in ("[CLS]", "[PAD]", "[UNK]"):
            if needed not in self.vocab:
                raise ValueError(f"vocabulary has no {needed} token")
        self.cls_token_id = self.vocab["[CLS]"]
        self.pad_token_id = self.vocab["[PAD]"]
        self.unk_token_id = self.vocab["[UNK]"]
        self.mask_token_id = self.vocab.get("[MASK]")
        self._special = [t for t in SPECIAL_TOKENS if t in self.vocab]
        self._special_split = re.compile("(" + "|".join(re.escape(t) for t in self._special) + ")")

    @classmethod
    def from_vocab(cls, path: Optional[str] = None) -> "BertTokenizer":
        """Read a vocab.txt (one token per line, id = 0-based line number); default: the bundled one."""
        path = path or VOCAB_PATH
        try:
            with open(path, "r", encoding="utf-8") as f:
                lines = f.read().split("\n")
        except OSError as e:
            raise ValueError(f"{path}: cannot read the WordPiece vocabulary ({e.strerror})") from e
        if lines and lines[-1] == "":
            lines.pop()
        try:
            return cls([line.rstrip("\r") for line in lines])
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e

    def __len__(self) -> int:
        return len(self.id_to_token)

    def _wordpiece(self, word: str) -> List[str]:
        if len(word) > MAX_INPUT_CHARS_PER_WORD:
            return ["[UNK]"]
        pieces: List[str] = []
        start = 0
        while start < len(word):
            end = len(word)
            match = None
            while start < end:
                piece = word[start:end]
                if start > 0:
                    piece = "##" + piece
                if piece in self.vocab:
                    match = piece
                    break
                end -= 1
            if match is None:
                return ["[UNK]"]
            pieces.append(match)
            start = end
        return pieces

    def tokenize(self, text: str) -> List[str]:
        """Wordpieces of `text` (no [CLS]); special tokens written exactly, e.g. "[MASK]", stay whole."""
        tokens: List[str] = []
        for part in self._special_split.split(text):
            if not part:
                continue
            if part in self._special:
                tokens.append(part)
                continue
            for word in basic_tokenize(_lower_per_character(part)):
                tokens.extend(self._wordpiece(word))
        return tokens

    def convert_tokens_to_ids(self, tokens: Sequence[str]) -> List[int]:
        return [self.vocab.get(t, self.unk_token_id) for t in tokens]

    def encode(self, text: str, max_length: Optional[int] = 25) -> List[int]:
        """[CLS] + wordpiece ids, at most `max_length` ids in all (None: no truncation)."""
        ids = [self.cls_token_id] + self.convert_tokens_to_ids(self.tokenize(text))
        if max_length is not None:
            if max_length < 1:
                raise ValueError(f"max_length must be >= 1, got {max_length}")
            ids = ids[:max_length]
        return ids

    def tok(self, texts: Sequence[str], max_length: Optional[int] = 25) -> Tuple[torch.Tensor, torch.Tensor]:
        """Batch like `tokenizer(texts, padding='longest', truncation=True, max_length=...)` in ALBEF.

        Returns (input_ids LongTensor[B,T], attention_mask LongTensor[B,T]) with [PAD] = 0 on the right.
        """
        if isinstance(texts, str):
            raise TypeError("tok() takes a list of texts, not one string")
        encoded = [self.encode(t, max_length) for t in texts]
        width = max((len(e) for e in encoded), default=0)
        input_ids = torch.full((len(encoded), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, ids in enumerate(encoded):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, : len(ids)] = 1
        return input_ids, attention_mask

    def __call__(self, texts: Sequence[str], max_length: Optional[int] = 25) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.tok(texts, max_length)


# --- the TypeScript parity fixture -----------------------------------------------------------------------

_REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PHRASES_PATH = os.path.join(_REPO_ROOT, "trainer", "tests", "data", "tokenizer_phrases.txt")
FIXTURE_PATH = os.path.join(_REPO_ROOT, "test", "fixtures", "tokenizer", "expected.jsonl")


def read_phrases(path: str) -> List[str]:
    """One phrase per line ("\\n"-separated, UTF-8); a line may hold tabs and other odd characters."""
    with open(path, "r", encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def fixture_records(phrases: Sequence[str], tokenizer: BertTokenizer, max_length: int = 25) -> List[dict]:
    """One record per phrase: the caption ALBEF would tokenize, and ids truncated and untruncated."""
    records = []
    for text in phrases:
        caption = pre_caption(text, 50)
        tokens = tokenizer.tokenize(caption)
        records.append({
            "text": text,
            "caption": caption,
            "max_length": max_length,
            "input_ids": tokenizer.encode(caption, max_length),       # training call: truncated
            "input_ids_untruncated": tokenizer.encode(caption, None),  # evaluation call
            "tokens": ["[CLS]"] + tokens,
            "text_input_ids": tokenizer.encode(text, None),  # raw text, no pre_caption: exercises punctuation
        })
    return records


def write_fixture(phrases_path: str = PHRASES_PATH, out_path: str = FIXTURE_PATH) -> int:
    tokenizer = BertTokenizer.from_vocab()
    records = fixture_records(read_phrases(phrases_path), tokenizer)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=True) + "\n")
    os.replace(tmp, out_path)
    return len(records)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amc_trainer.tokenizer", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    fx = sub.add_parser("fixture", help="write the TypeScript parity fixture (expected.jsonl)")
    fx.add_argument("--phrases", default=PHRASES_PATH)
    fx.add_argument("--out", default=FIXTURE_PATH)
    tk = sub.add_parser("tokenize", help="print wordpieces and ids")
    tk.add_argument("text", nargs="+")
    tk.add_argument("--max-length", type=int, default=None)
    tk.add_argument("--raw", action="store_true", help="skip pre_caption")
    args = parser.parse_args(argv)
    if args.cmd == "fixture":
        n = write_fixture(args.phrases, args.out)
        print(f"wrote {args.out} ({n} phrases)", file=sys.stderr)
        return 0
    tokenizer = BertTokenizer.from_vocab()
    for text in args.text:
        caption = text if args.raw else pre_caption(text)
        ids = tokenizer.encode(caption, args.max_length)
        print(json.dumps({"caption": caption, "tokens": ["[CLS]"] + tokenizer.tokenize(caption), "input_ids": ids},
                         ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
