"""Writes tokenizer_phrases.txt, the phrase corpus of the Python/TypeScript tokenizer parity test.

Run once from the repo root: `/usr/bin/python3 trainer/tests/data/make_tokenizer_phrases.py`; the output is
committed, and `python -m amc_trainer.tokenizer fixture` turns it into test/fixtures/tokenizer/expected.jsonl.
Deterministic (fixed seed). One phrase per "\\n"-terminated line; lines may contain tabs and other odd
whitespace on purpose, never "\\n" or "\\r".
"""
import os
import random

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokenizer_phrases.txt")

COLOURS = ["red", "green", "blue", "yellow", "orange", "purple", "pink", "cyan", "white", "black", "grey", "brown"]
SHAPES = ["circle", "square", "triangle", "star", "diamond", "hexagon", "cross", "heart"]
SIZES = ["small", "large", "tiny", "big", "medium-sized"]
RELATIONS = ["left of", "right of", "above", "below", "next to", "to the left of", "on top of", "underneath"]
PEOPLE = ["man", "woman", "boy", "girl", "child", "person", "guy", "lady", "player", "dog", "cat", "horse"]
THINGS = ["red shirt", "blue jeans", "white hat", "black jacket", "sunglasses", "backpack", "umbrella",
          "skateboard", "bicycle", "surfboard", "frisbee", "guitar", "microphone", "tennis racket"]
SCENES = ["on the street", "at the beach", "in the park", "near the water", "on a bench", "in front of a building",
          "behind the fence", "under a tree", "in the kitchen", "on the grass"]

HAND_WRITTEN = [
    "man in red shirt", "woman on the left", "the guy with the blue cap", "two young guys look at their hands",
    "A man in an orange hat starring at something.", "white cat sleeping on a red sofa", "green street sign",
    "street sign", "the large red circle", "the smaller of the two blue squares", "leftmost yellow star",
    "the green triangle left of the yellow star", "the larger of the two red circles", "two red circles",
    "three purple hexagons", "all the shapes", "<person> in a hat", "a <person> holding a <person>'s hand",
    "UPPER CASE PHRASE", "MiXeD CaSe WoRdS", "Title Case Words Everywhere",
    # accents
    "café au lait", "naïve résumé", "Zürich Hauptbahnhof", "São Paulo", "crème brûlée", "Ångström unit",
    "façade of the église", "piñata at the fiesta", "Dvořák symphony", "Łódź city", "Ærøskøbing harbour",
    "Ñandú", "coöperate", "El Niño", "Curaçao", "Reykjavík", "Kraków old town", "Málaga beach", "İstanbul",
    "straße", "STRASSE", "ﬁne ligature", "Ǆemal", "Ⅻ o'clock", "x² + y² = z²", "½ cup of sugar", "№ 5",
    "a\u0301ccent combining", "e\u0300\u0301 double combining", "\u0301leading combining mark",
    # punctuation
    "what's that?!", "a/b-c", "(left) [right] {top}", "50% off", "$3.99 each", "e-mail me", "#hashtag",
    "@user mention", "C++ and C#", "rock'n'roll", "“smart quotes”", "‘single smart’", "em—dash and en–dash",
    "ellipsis… here", "¡hola!", "¿qué?", "«guillemets»", "a & b", "5 * 3 = 15", "x^2", "back`tick", "pipe|char",
    "tilde~here", "under_score", "semi;colon:colon", "dots...and...dots", "comma,separated,words",
    "slash/and\\backslash", "plus+minus-", "<html> tags </html>", "quote \"inside\" text", "it's 'quoted'",
    "path/to/file.jpg", "http://example.com/a?b=c&d=e", "user@example.com", "3.14159", "1,000,000",
    "§ section ¶ paragraph", "© 2023 ®", "™ trade mark", "° degrees", "• bullet", "† dagger ‡", "※ note",
    "【brackets】", "「quote」", "〈angle〉", "、。", "‼ ⁉", "¬ ¦", "· middle dot", "¨ diaeresis", "´ acute",
    "¸ cedilla", "` grave", "^ circumflex", "- hyphen only", "--", "---", "...", "?!", "!!!", "''", "\"\"",
    "[MASK] token", "[CLS] [SEP]", "a [UNK] here", "[mask] lowercase", "[PAD]", "x[MASK]y", "[cls]",
    # digits
    "3 dogs", "1990s fashion", "2.5kg bag", "10,000 people", "007 agent", "24/7 shop", "4x4 truck", "3rd place",
    "21st century", "1st 2nd 3rd 4th", "0.5 0.25 0.125", "123456789", "12345678901234567890", "٣ arabic digit",
    "५ devanagari digit", "四 chinese four", "①②③",
    # non-latin scripts
    "红色的圆", "一个红色的圆形在蓝色方块的左边", "東京タワー", "ひらがなとカタカナ", "한국어 문장", "빨간 원",
    "красный круг", "Большой синий квадрат слева", "ΟΔΟΣ", "Σίσυφος ΣΙΣΥΦΟΣ", "ἀρχὴ ἥμισυ παντός",
    "دائرة حمراء", "مربع أزرق كبير", "עיגול אדום", "วงกลมสีแดง", "लाल वृत्त", "नमस्ते दुनिया", "ਪੰਜਾਬੀ",
    "বাংলা লিপি", "தமிழ்", "ქართული", "Հայերեն", "ትግርኛ", "ᚠᚢᚦ runes", "𝔣𝔯𝔞𝔨𝔱𝔲𝔯", "𝐛𝐨𝐥𝐝", "ｆｕｌｌｗｉｄｔｈ",
    "ｶﾀｶﾅ halfwidth", "Tiếng Việt có dấu", "Ελληνικά", "中文 English 混合", "日本語とEnglish", "𠀀 ext b",
    "㐀 ext a", "豈 compatibility", "乾隆", "ㄅㄆㄇ bopomofo", "ꀀ yi", "ᐃᓄᒃᑎᑐᑦ",
    # emoji
    "🍕 pizza", "👍🏽 thumbs", "👨‍👩‍👧 family", "❤️ heart", "🇫🇷 flag", "a🙂b", "😀😃😄", "⭐ star", "☀ sun",
    "🔴 red circle", "🟦 blue square", "🔺 triangle", "✨sparkles✨", "#️⃣ keycap", "©️ emoji copyright",
    # whitespace and control characters
    "tab\tseparated\twords", "non\u00a0breaking space", "zero\u200bwidth space", "soft\u00adhyphen",
    "ideographic\u3000space", "em\u2003space", "thin\u2009space", "narrow\u202fnbsp", "bom\ufeffinside",
    "joiner\u200dchar", "rtl\u200fmark", "ltr\u200emark", "bell\u0007char", "nul\u0000char",
    "replacement\ufffdchar", "vertical\u000btab", "form\u000cfeed", "next\u0085line", "line\u2028separator",
    "paragraph\u2029separator", "  leading and trailing spaces  ", "multiple     spaces", "\ttab start",
    "private\ue000use", "variation\ufe0fselector", "combining\u20ddenclosing",
    # empty-ish
    "", " ", ".", "?", "!!!???", "~", "#", "*", "()", "-", "/", "a", "I", "x",
]


def grounding_phrases(rng):
    out = []
    for _ in range(260):
        c, s = rng.choice(COLOURS), rng.choice(SHAPES)
        form = rng.randrange(8)
        if form == 0:
            out.append(f"a {c} {s}")
        elif form == 1:
            out.append(f"the {rng.choice(SIZES)} {c} {s}")
        elif form == 2:
            out.append(f"the {c} {s} {rng.choice(RELATIONS)} the {rng.choice(COLOURS)} {rng.choice(SHAPES)}")
        elif form == 3:
            out.append(f"the {rng.choice(['larger', 'smaller'])} of the two {c} {s}s")
        elif form == 4:
            out.append(f"{rng.choice(['two', 'three', 'four'])} {c} {s}s")
        elif form == 5:
            out.append(f"the {rng.choice(['leftmost', 'rightmost', 'topmost', 'lowest'])} {c} {s}")
        elif form == 6:
            out.append(f"The {c.capitalize()} {s.upper()} on the {rng.choice(['left', 'right'])}.")
        else:
            out.append(f"{c}-{s}/{rng.choice(SHAPES)}")
    for _ in range(260):
        p, t, sc = rng.choice(PEOPLE), rng.choice(THINGS), rng.choice(SCENES)
        form = rng.randrange(5)
        if form == 0:
            out.append(f"a {p} in a {t} {sc}")
        elif form == 1:
            out.append(f"The {p} with the {t}, {sc}!")
        elif form == 2:
            out.append(f"{p}'s {t}")
        elif form == 3:
            out.append(f"two {p}s {sc} (one holding a {t})")
        else:
            out.append(f"A {p.upper()} {sc.upper()}?")
    return out


def noisy_phrases(rng, base):
    """Random character-level variations: capitals, accents, punctuation glued to words, odd spacing."""
    extras = ["é", "ü", "ñ", "ç", "ø", "å", "ß", "’", "“", "”", "—", "…", "!", "?", ",", ".", "'", "(", ")",
              "-", "/", "&", "%", "$", "€", "£", "¥", "°", "×", "÷", "→", "∞", "√", "中", "字", "я", "ж", "ع", "🙂",
              "\t", "\u00a0", "\u200b", "0", "7", "9"]
    out = []
    for _ in range(330):
        s = list(rng.choice(base))
        for _ in range(rng.randrange(1, 5)):
            pos = rng.randrange(len(s) + 1)
            s.insert(pos, rng.choice(extras))
        if rng.random() < 0.3:
            s = [ch.upper() if rng.random() < 0.5 else ch for ch in s]
        out.append("".join(s))
    return out


def long_phrases(rng, base):
    out = []
    # words over and at the 100-character WordPiece limit, counted in code points
    out.append("a" * 100)
    out.append("a" * 101)
    out.append("supercalifragilisticexpialidocious" * 3)
    out.append("x" * 99 + "é")  # 100 characters before accent stripping, 100 after
    out.append("🙂" * 60)     # 60 code points, 120 UTF-16 units
    out.append("ab" * 49 + "🙂🙂")  # 100 code points, 102 UTF-16 units
    out.append("long" + "-word" * 40)
    # sentences beyond 25 tokens and beyond pre_caption's 50 words
    for n in (20, 30, 49, 50, 51, 60, 120):
        out.append(" ".join(rng.choice(base).split()[0] for _ in range(n)))
    for _ in range(20):
        out.append(" ".join(rng.choice(base) for _ in range(rng.randrange(3, 12))))
    out.append("the " * 80 + "end")
    out.append(", ".join(["red circle"] * 30))
    return out


def main():
    rng = random.Random(20230627)
    base = grounding_phrases(rng)
    phrases = HAND_WRITTEN + base + noisy_phrases(rng, base + HAND_WRITTEN[:40]) + long_phrases(rng, base)
    for p in phrases:
        assert "\n" not in p and "\r" not in p, repr(p)
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        for p in phrases:
            f.write(p + "\n")
    print(f"wrote {OUT}: {len(phrases)} phrases")


if __name__ == "__main__":
    main()
