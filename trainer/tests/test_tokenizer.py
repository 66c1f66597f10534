"""Tokenizer: hand-checked cases (ids cross-checked against HF `tokenizers` (Rust) with the same vocab),
batching contract, and the committed TypeScript parity fixture being exactly what the code produces."""
import json
import os
import subprocess
import sys
import unicodedata

import pytest
import torch

from amc_trainer.tokenizer import (FIXTURE_PATH, PHRASES_PATH, BertTokenizer, basic_tokenize, fixture_records,
                                   pre_caption, read_phrases)

TRAINER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def tok():
    return BertTokenizer.from_vocab()


def test_vocab_special_ids(tok):
    assert len(tok) == 30522
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.mask_token_id) == (0, 100, 101, 103)


@pytest.mark.parametrize("text,tokens,ids", [
    ("Hello, world!", ["hello", ",", "world", "!"], [7592, 1010, 2088, 999]),
    ("unaffable", ["una", "##ffa", "##ble"], [14477, 20961, 3468]),
    ("Café naïve", ["cafe", "naive"], [7668, 15743]),                        # NFD accent stripping
    ("x[MASK]y", ["x", "[MASK]", "y"], [1060, 103, 1061]),                  # special token kept whole
    ("[mask]", ["[", "mask", "]"], [1031, 7308, 1033]),                     # ... only when written exactly
    ("$3.99", ["$", "3", ".", "99"], [1002, 1017, 1012, 5585]),              # ASCII symbols are punctuation
    ("ΟΔΟΣ", ["ο", "##δ", "##ο", "##σ"], [1169, 29722, 29730, 29733]),      # per-character lower: σ, not ς
    ("a\u200bb", ["ab"], [11113]),                                          # Cf control removed, not a space
    ("a\u00a0b", ["a", "b"], [1037, 1038]),                                 # Zs is whitespace
])
def test_hand_cases(tok, text, tokens, ids):
    assert tok.tokenize(text) == tokens
    assert tok.encode(text, None) == [101] + ids


def test_cjk_characters_are_split_and_hangul_is_not(tok):
    assert basic_tokenize("红色的圆") == ["红", "色", "的", "圆"]
    # Hangul is not in BERT's CJK ranges: one word per space, decomposed to jamo by the accent stripping's NFD.
    assert basic_tokenize("빨간 원") == [unicodedata.normalize("NFD", "빨간"), unicodedata.normalize("NFD", "원")]


def test_word_over_100_characters_is_unk(tok):
    assert tok.tokenize("a" * 101) == ["[UNK]"]
    assert tok.tokenize("a" * 100) != ["[UNK]"]
    assert tok.tokenize("zzqqxxjjvv🙂") == ["[UNK]"]  # an unmatched piece turns the whole word into [UNK]


def test_pre_caption_reference_rules():
    assert pre_caption("A man, in (red)! <person>'s hat-band/strap.") == "a man in red persons hat band strap"
    assert pre_caption("  many    spaces  ") == "many spaces"
    assert pre_caption(" ".join(str(i) for i in range(60)), 50) == " ".join(str(i) for i in range(50))
    assert pre_caption("left~right#star*;:") == "leftrightstar"


def test_tok_pads_longest_truncates_and_never_adds_sep(tok):
    long = " ".join(["red"] * 40)
    ids, mask = tok.tok(["a red circle", long, ""], max_length=25)
    assert ids.dtype == torch.long and mask.dtype == torch.long
    assert ids.shape == (3, 25) and mask.shape == (3, 25)
    assert ids[0, :4].tolist() == [101, 1037, 2417, 4418] and ids[0, 4:].eq(0).all()
    assert mask[0].tolist() == [1] * 4 + [0] * 21
    assert ids[1].tolist() == [101] + [2417] * 24 and mask[1].eq(1).all()
    assert ids[2].tolist()[:1] == [101] and mask[2].sum() == 1  # empty text is [CLS] alone
    assert not (ids == 102).any()
    ids_full, _ = tok.tok([long], max_length=None)
    assert ids_full.shape == (1, 41)


def test_tok_rejects_a_bare_string(tok):
    with pytest.raises(TypeError):
        tok.tok("a red circle")


def test_bad_vocab_file_is_named(tmp_path):
    bad = tmp_path / "vocab.txt"
    bad.write_text("hello\nworld\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"vocab\.txt: vocabulary has no \[CLS\]"):
        BertTokenizer.from_vocab(str(bad))


def test_phrase_corpus_is_large_and_varied():
    phrases = read_phrases(PHRASES_PATH)
    assert len(phrases) >= 1000
    text = "\n".join(phrases)
    for sample in ("红", "к", "ع", "🙂", "é", "—", "\t"):
        assert sample in text
    assert any(len(p.split()) > 50 for p in phrases)


def test_committed_fixture_matches_the_tokenizer(tok):
    phrases = read_phrases(PHRASES_PATH)
    with open(FIXTURE_PATH, "r", encoding="utf-8") as f:
        committed = [json.loads(line) for line in f]
    assert committed == fixture_records(phrases, tok), \
        "test/fixtures/tokenizer/expected.jsonl is stale: run `cd trainer && python -m amc_trainer.tokenizer fixture`"
    assert any(len(r["input_ids_untruncated"]) > 25 for r in committed)
    assert all(len(r["input_ids"]) <= 25 for r in committed)


def test_fixture_cli_writes_the_same_file(tmp_path):
    out = tmp_path / "expected.jsonl"
    subprocess.run([sys.executable, "-m", "amc_trainer.tokenizer", "fixture", "--out", str(out)],
                   cwd=TRAINER_DIR, check=True, capture_output=True)
    with open(FIXTURE_PATH, "rb") as f:
        assert out.read_bytes() == f.read()
