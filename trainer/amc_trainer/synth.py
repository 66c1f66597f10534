"""Synthetic grounding set: scenes of coloured shapes with phrases, written in every format the extension opens.
Why one ~650-line file (over the trainer's ~500-line guide): scene generation, the phrases that describe a
scene and the writers of each format share the Scene/Shape/Phrase records and one id scheme; read top to
bottom it is the whole recipe of the data set. (Everything after this paragraph is the README of a set.)

`python -m amc_trainer synth OUT --images N --seed S [--val-frac 0.1 --test-frac 0.1] [--workers 2]`

Scenes: 3–6 shapes (circle, square, triangle, star, diamond, hexagon) in 8 colours, small or large, at
random positions, some overlapping (each stays ≥ 75% visible), on a textured, noisy background (plain,
gradient, stripes, checker, blotches); images are W×H with W, H in [240, 480]. Every phrase refers to
exactly one box, or for plural phrases ("two red circles") to every box it names:
  * "a red circle" / "the red circle" when the colour+shape pair is unique, "the small blue square" when the
    size settles it, "the triangle" / "the green shape" when shape or colour alone is unique;
  * relations that are needed: "the green triangle left of the yellow star" (exactly one green triangle is
    fully left of the star, every other one is not even centred left of it), "the larger of the two red
    circles", "the red circle on the left" / "the leftmost red circle", "the upper ..." / "the lower ...".
Relations use box edges: A "left of" B when A.x2 ≤ B.x1, "above" when A.y2 ≤ B.y1.

Layout under OUT (what each reader finds by default; one JPEG per scene, copied into each format's folder):
  region_descriptions.json, image_data.json, VG_100K/{id}.jpg      raw Visual Genome (x, y, width, height;
                                                                    a plural phrase gets the union box)
  vg_train.json, vg_val.json, vg_test.json                          AMC VG JSON, images VG_100K/{id}.jpg
                                                                    (a plural phrase lists every box)
  flickr30k/Sentences/{id}.txt, flickr30k/Annotations/{id}.xml,
  flickr30k/{train,val,test}.txt, flickr30k/flickr30k-images/{id}.jpg   raw Flickr30k Entities (XML 1-based)
  flickr30k/bounding_boxes_{split}.json, flickr30k/sentences_{split}.json   info-ground JSON (0-based)
  refcoco+/refs(unc).p, refcoco+/instances.json, train2014/COCO_train2014_{id:012d}.jpg   RefCOCO+ (unc)
  refcoco+_val.json, refcoco+_test.json                             ALBEF JSON [{image, text, ref_id}]
  README.md, counts.json                                            this layout and command; counts per format
Splits: scenes are split train/val/test (by a seeded permutation); every format uses the same scene split,
so no test image is ever a training image. RefCOCO+ refs of test scenes are split testA / testB by the
target's class, mirroring RefCOCO's people (testA) vs objects (testB): **testA = refs whose target is a
circle** (the "person" class here; circles are drawn twice as often as any other shape), testB = all other
test refs. RefCOCO+ bans absolute location words, so its expressions never say left/right/upper/lower
(relations to another shape, "above the yellow star", are kept).
Ids: region, Flickr entity, COCO annotation, ref and sentence ids are image id × 100 + a count within the
image, so scenes are independent (rendered by `--workers` processes; the output does not depend on it).
Boxes are the same numbers in every format: xyxy [x1, y1, x2, y2] with x2 = x1 + width (VG x, y, w, h;
COCO xywh; info-ground 0-based xyxy; Flickr XML = each of those +1, which info-ground's reader undoes).
The refs pickle is a Python-2-style protocol-2 pickle (SHORT_BINSTRING byte strings, memo BINPUT/BINGET,
no GLOBAL), as the real `refs(unc).p`.
Deterministic: the same arguments give the same bytes (JPEG bytes: with the same Pillow/libjpeg build).
"""
from __future__ import annotations

import argparse
import collections
import concurrent.futures
import io
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

from .safe_pickle import py2_pickle

KINDS = ("circle", "square", "triangle", "star", "diamond", "hexagon")
KIND_WEIGHTS = (2.0, 1.0, 1.0, 1.0, 1.0, 1.0)  # circles twice as often: they make up RefCOCO+-style testA
COLOURS: Dict[str, Tuple[int, int, int]] = {
    "red": (215, 35, 35), "green": (40, 160, 55), "blue": (35, 70, 215), "yellow": (240, 215, 40),
    "orange": (245, 135, 25), "purple": (135, 50, 185), "pink": (245, 130, 195), "cyan": (40, 200, 215),
}
BACKGROUNDS = ("plain", "gradient", "striped", "checkered", "blotchy")
SIZE_RANGES = {"small": (0.045, 0.07), "large": (0.12, 0.17)}  # half-extent as a fraction of min(W, H)
NUMBER_WORDS = {2: "two", 3: "three", 4: "four"}
COCO_CATEGORIES = [{"id": i + 1, "name": k, "supercategory": "shape"} for i, k in enumerate(KINDS)]
TESTA_KINDS = ("circle",)
JPEG_QUALITY = 90


@dataclass
class Shape:
    index: int
    kind: str
    colour: str
    size: str            # 'small' | 'large'
    cx: float
    cy: float
    r: float             # half extent
    box: Tuple[int, int, int, int] = (0, 0, 0, 0)   # xyxy, x2 = x1 + width
    polygon: List[Tuple[float, float]] = field(default_factory=list)

    @property
    def key(self) -> Tuple[str, str]:
        return (self.colour, self.kind)

    @property
    def area(self) -> int:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


@dataclass
class Phrase:
    text: str
    targets: List[int]      # shape indices
    location_words: bool    # says left/right/upper/... (RefCOCO+ bans these)


@dataclass
class Scene:
    id: int
    width: int
    height: int
    background: str
    shapes: List[Shape]
    split: str = "train"
    jpeg: bytes = b""


# =========================================================================================================
# Geometry and rendering
# =========================================================================================================

def shape_polygon(kind: str, cx: float, cy: float, r: float) -> List[Tuple[float, float]]:
    if kind == "circle":
        return [(cx + r * math.cos(2 * math.pi * i / 48), cy + r * math.sin(2 * math.pi * i / 48)) for i in range(48)]
    if kind == "square":
        s = r * 0.9
        return [(cx - s, cy - s), (cx + s, cy - s), (cx + s, cy + s), (cx - s, cy + s)]
    if kind == "diamond":
        return [(cx, cy - r), (cx + r * 0.8, cy), (cx, cy + r), (cx - r * 0.8, cy)]
    if kind == "triangle":
        return [(cx, cy - r), (cx + r, cy + r * 0.85), (cx - r, cy + r * 0.85)]
    if kind == "hexagon":
        return [(cx + r * math.cos(math.pi / 3 * i), cy + r * math.sin(math.pi / 3 * i)) for i in range(6)]
    if kind == "star":
        pts = []
        for i in range(10):
            rad = r if i % 2 == 0 else r * 0.45
            a = -math.pi / 2 + math.pi / 5 * i
            pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
        return pts
    raise ValueError(kind)


def polygon_box(poly: Sequence[Tuple[float, float]], width: int, height: int) -> Tuple[int, int, int, int]:
    xs = [p[0] for p in poly]
    ys = [p[1] for p in poly]
    x1, y1 = max(0, int(math.floor(min(xs)))), max(0, int(math.floor(min(ys))))
    x2, y2 = min(width, int(math.ceil(max(xs))) + 1), min(height, int(math.ceil(max(ys))) + 1)
    return x1, y1, x2, y2


def _noise_bank(seed: int) -> np.ndarray:
    """A 512×512 grain tile shared by all scenes of a run (random offsets per scene): fast and deterministic."""
    rng = np.random.default_rng([seed, 0x5EED])
    return rng.standard_normal((512, 512), dtype=np.float32)


def render_background(kind: str, width: int, height: int, rng: np.random.Generator, grain: np.ndarray) -> np.ndarray:
    """Muted colour field + a luminance texture + grain, float32 [H, W, 3] in [0, 255]."""
    grey = rng.uniform(105, 195)
    base = np.clip(grey + rng.uniform(-22, 22, size=3), 0, 255).astype(np.float32)
    yy = np.arange(height, dtype=np.float32)[:, None]
    xx = np.arange(width, dtype=np.float32)[None, :]
    texture = np.zeros((height, width), dtype=np.float32)
    if kind == "gradient":
        other = np.clip(base + rng.uniform(-45, 45, size=3), 0, 255).astype(np.float32)
        a = rng.uniform(0, 2 * math.pi)
        t = np.float32(math.cos(a) / width) * xx + np.float32(math.sin(a) / height) * yy
        t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
        img = base + t[..., None] * (other - base)
    elif kind == "blotchy":
        small = rng.uniform(-1, 1, size=(6, 6, 3)).astype(np.float32)
        blobs = np.stack([np.asarray(Image.fromarray(small[..., c]).resize((width, height), Image.BICUBIC))
                          for c in range(3)], axis=-1)
        img = base + np.float32(rng.uniform(18, 28)) * blobs
    else:
        img = np.empty((height, width, 3), dtype=np.float32)
        img[:] = base
        if kind == "striped":
            a = rng.uniform(0, math.pi)
            period = rng.uniform(10, 28)
            texture += np.float32(rng.uniform(10, 18)) * np.sin(
                np.float32(2 * math.pi * math.cos(a) / period) * xx
                + np.float32(2 * math.pi * math.sin(a) / period) * yy)
        elif kind == "checkered":
            cell = int(rng.integers(14, 36))
            checker = ((np.arange(height)[:, None] // cell + np.arange(width)[None, :] // cell) % 2).astype(np.float32)
            texture += np.float32(rng.uniform(10, 18)) * (checker - np.float32(0.5))
    oy, ox = int(rng.integers(0, 512 - height + 1)), int(rng.integers(0, 512 - width + 1))
    texture += np.float32(rng.uniform(1.5, 3.5)) * grain[oy:oy + height, ox:ox + width]
    img += texture[..., None]
    return np.clip(img, 0, 255, out=img)


def render_scene(scene: Scene, rng: np.random.Generator, grain: np.ndarray) -> bytes:
    bg = render_background(scene.background, scene.width, scene.height, rng, grain)
    image = Image.fromarray((bg + np.float32(0.5)).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for s in scene.shapes:
        base = np.array(COLOURS[s.colour], dtype=np.float64)
        fill = tuple(int(v) for v in np.clip(base + rng.uniform(-12, 12, size=3), 0, 255))
        outline = tuple(int(v * 0.6) for v in fill)
        draw.polygon(s.polygon, fill=fill, outline=outline)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buf.getvalue()


def visible_fraction(target: Shape, later: Sequence[Shape]) -> float:
    """Share of the target's box not covered by the boxes of shapes drawn after it (a conservative bound)."""
    x1, y1, x2, y2 = target.box
    cover = np.zeros((y2 - y1, x2 - x1), dtype=bool)
    for o in later:
        ox1, oy1, ox2, oy2 = max(o.box[0], x1), max(o.box[1], y1), min(o.box[2], x2), min(o.box[3], y2)
        if ox1 < ox2 and oy1 < oy2:
            cover[oy1 - y1:oy2 - y1, ox1 - x1:ox2 - x1] = True
    return 1.0 - float(cover.mean()) if cover.size else 0.0


def make_scene(scene_id: int, rng: np.random.Generator) -> Scene:
    width, height = int(rng.integers(240, 481)), int(rng.integers(240, 481))
    m = min(width, height)
    n = int(rng.integers(3, 7))
    kinds_p = np.array(KIND_WEIGHTS) / sum(KIND_WEIGHTS)
    specs: List[Tuple[str, str, str]] = []
    for _ in range(n):
        kind = KINDS[int(rng.choice(len(KINDS), p=kinds_p))]
        colour = list(COLOURS)[int(rng.integers(len(COLOURS)))]
        size = "small" if rng.random() < 0.5 else "large"
        specs.append((kind, colour, size))
    # Duplicates make relations necessary: often give one shape a twin of the same colour and kind.
    if rng.random() < 0.65 and n >= 3:
        src = int(rng.integers(n))
        dst = (src + 1 + int(rng.integers(n - 1))) % n
        size = specs[dst][2] if rng.random() < 0.5 else ("large" if specs[src][2] == "small" else "small")
        specs[dst] = (specs[src][0], specs[src][1], size)
    shapes: List[Shape] = []
    for kind, colour, size in specs:
        lo, hi = SIZE_RANGES[size]
        for _attempt in range(40):
            r = float(rng.uniform(lo, hi)) * m
            cx = float(rng.uniform(r + 2, width - r - 2))
            cy = float(rng.uniform(r + 2, height - r - 2))
            cand = Shape(len(shapes), kind, colour, size, cx, cy, r)
            cand.polygon = shape_polygon(kind, cx, cy, r)
            cand.box = polygon_box(cand.polygon, width, height)
            # Some overlap is allowed; every shape must stay mostly visible and its box meaningful.
            ok = all(visible_fraction(prev, shapes[prev.index + 1:] + [cand]) >= 0.75 for prev in shapes)
            if ok and all(_box_iou(prev.box, cand.box) < 0.3 for prev in shapes):
                shapes.append(cand)
                break
    background = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    return Scene(scene_id, width, height, background, shapes)


def _box_iou(a, b) -> float:
    ix1, iy1, ix2, iy2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, ix2 - ix1) * max(0, iy2 - iy1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


# =========================================================================================================
# Phrases
# =========================================================================================================

RELATIONS = ("left of", "right of", "above", "below")


def _satisfies(a: Shape, b: Shape, rel: str) -> bool:
    if rel == "left of":
        return a.box[2] <= b.box[0]
    if rel == "right of":
        return a.box[0] >= b.box[2]
    if rel == "above":
        return a.box[3] <= b.box[1]
    return a.box[1] >= b.box[3]


def _clearly_not(a: Shape, b: Shape, rel: str) -> bool:
    if rel == "left of":
        return a.cx >= b.cx
    if rel == "right of":
        return a.cx <= b.cx
    if rel == "above":
        return a.cy >= b.cy
    return a.cy <= b.cy


def describe(scene: Scene) -> Tuple[Dict[int, List[Phrase]], List[Phrase]]:
    """Unambiguous singular phrases per shape, and plural phrases for groups of 2–4 same colour+kind shapes."""
    shapes = scene.shapes
    groups: Dict[Tuple[str, str], List[Shape]] = {}
    for s in shapes:
        groups.setdefault(s.key, []).append(s)
    kind_count: Dict[str, int] = {}
    colour_count: Dict[str, int] = {}
    for s in shapes:
        kind_count[s.kind] = kind_count.get(s.kind, 0) + 1
        colour_count[s.colour] = colour_count.get(s.colour, 0) + 1
    anchors = [g[0] for g in groups.values() if len(g) == 1]
    singular: Dict[int, List[Phrase]] = {}
    for s in shapes:
        c, k = s.colour, s.kind
        same = groups[s.key]
        others = [o for o in same if o is not s]
        out: List[Phrase] = []
        if not others:
            article = "an" if c[0] in "aeiou" else "a"
            out += [Phrase(f"{article} {c} {k}", [s.index], False), Phrase(f"the {c} {k}", [s.index], False),
                    Phrase(f"the {s.size} {c} {k}", [s.index], False)]
            if kind_count[k] == 1:
                out += [Phrase(f"the {k}", [s.index], False)]
            if colour_count[c] == 1:
                out += [Phrase(f"the {c} shape", [s.index], False)]
        else:
            if all(o.size != s.size for o in others):
                out.append(Phrase(f"the {s.size} {c} {k}", [s.index], False))
            if len(same) == 2:
                o = others[0]
                if s.r >= 1.3 * o.r:
                    out.append(Phrase(f"the larger of the two {c} {k}s", [s.index], False))
                elif o.r >= 1.3 * s.r:
                    out.append(Phrase(f"the smaller of the two {c} {k}s", [s.index], False))
            gap = 0.5 * max(x.r for x in same)
            if all(s.cx < o.cx - gap for o in others):
                out.append(Phrase(f"the {c} {k} on the left" if len(same) == 2 else f"the leftmost {c} {k}",
                                  [s.index], True))
            if all(s.cx > o.cx + gap for o in others):
                out.append(Phrase(f"the {c} {k} on the right" if len(same) == 2 else f"the rightmost {c} {k}",
                                  [s.index], True))
            if all(s.cy < o.cy - gap for o in others):
                out.append(Phrase(f"the upper {c} {k}" if len(same) == 2 else f"the topmost {c} {k}", [s.index], True))
            if all(s.cy > o.cy + gap for o in others):
                out.append(Phrase(f"the lower {c} {k}" if len(same) == 2 else f"the lowest {c} {k}", [s.index], True))
            for a in anchors:
                for rel in RELATIONS:
                    if _satisfies(s, a, rel) and all(_clearly_not(o, a, rel) for o in others):
                        out.append(Phrase(f"the {c} {k} {rel} the {a.colour} {a.kind}", [s.index],
                                          rel in ("left of", "right of")))
        singular[s.index] = out
    plural: List[Phrase] = []
    for (c, k), members in groups.items():
        if 2 <= len(members) <= 4:
            plural.append(Phrase(f"{NUMBER_WORDS[len(members)]} {c} {k}s", [m.index for m in members], False))
    return singular, plural


# =========================================================================================================
# Writing the formats
# =========================================================================================================

def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sent_form(text: str) -> Tuple[str, List[str]]:
    """REFER's 'sent' (lower-case tokens joined by spaces) and 'tokens' for a raw expression."""
    tokens = [t for t in "".join(ch if ch.isalnum() or ch == " " else " " for ch in text.lower()).split()]
    return " ".join(tokens), tokens


def _write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, ensure_ascii=True, indent=None, separators=(", ", ": "))
        f.write("\n")


SENTENCE_TEMPLATES_1 = ("{A} .", "There is {A} here .", "{A} lies on {S} .", "We can see {A} .",
                        "{N} drew {A} on {S} .")
SENTENCE_TEMPLATES_2 = ("{A} and {B} on {S} .", "There are {A} and {B} .", "{A} together with {B} .",
                        "{N} painted {A} and {B} .")
SENTENCE_TEMPLATES_3 = ("We can see {A} , {B} and {C} .", "{A} , {B} and {C} on {S} .")


_WORKER: Dict[str, object] = {}


def _init_worker(seed: int, dirs: Dict[str, str], split_of: Dict[int, str]) -> None:
    _WORKER.update(seed=seed, dirs=dirs, split_of=split_of, grain=_noise_bank(seed))


def _scene_outputs(i: int) -> dict:
    """Render scene i, write its images and per-image files, and return its entries for the whole-set files.

    Depends only on (seed, i) and the split table, so scenes can be made in any order or process."""
    seed, dirs = _WORKER["seed"], _WORKER["dirs"]
    counts = collections.Counter()
    out: dict = {"amc": [], "coco_anns": [], "refs": [], "albef": [], "counts": counts}
    rng = np.random.default_rng([seed, i])
    scene = make_scene(i + 1, rng)
    scene.split = _WORKER["split_of"][i]
    scene.jpeg = render_scene(scene, rng, _WORKER["grain"])
    sid = scene.id
    paths = [os.path.join(dirs["vg"], f"{sid}.jpg"), os.path.join(dirs["flickr_img"], f"{sid}.jpg"),
             os.path.join(dirs["coco"], f"COCO_train2014_{sid:012d}.jpg")]
    for p in paths:
        with open(p, "wb") as f:
            f.write(scene.jpeg)
    counts["shapes"] += len(scene.shapes)
    # Ids are image id × 100 + a local count (< 100 per image), so every scene is written independently.
    region_id = ann_id = ref_id = sent_id = entity_id = sid * 100
    singular, plural = describe(scene)
    W, H = scene.width, scene.height

    # --- Visual Genome: 1–2 region phrases per describable shape + the plural groups ---------------------
    regions = []
    vg_phrases: List[Phrase] = []
    for s in scene.shapes:
        options = singular[s.index]
        if options:
            picks = rng.choice(len(options), size=min(len(options), 2), replace=False)
            vg_phrases += [options[int(p)] for p in sorted(picks)]
    vg_phrases += plural
    for ph in vg_phrases:
        boxes = [scene.shapes[t].box for t in ph.targets]
        ux1, uy1 = min(b[0] for b in boxes), min(b[1] for b in boxes)
        ux2, uy2 = max(b[2] for b in boxes), max(b[3] for b in boxes)
        region_id += 1
        regions.append({"region_id": region_id, "width": ux2 - ux1, "height": uy2 - uy1, "image_id": sid,
                        "phrase": ph.text, "y": uy1, "x": ux1})
        out["amc"].append({"image": f"VG_100K/{sid}.jpg", "caption": ph.text, "bbox": [list(b) for b in boxes]})
    out["region"] = {"regions": regions, "id": sid}
    out["image_data"] = {"width": W, "url": f"https://cs.stanford.edu/people/rak248/VG_100K/{sid}.jpg",
                         "height": H, "image_id": sid, "coco_id": sid, "flickr_id": sid}
    counts["vg_regions"] += len(regions)

    # --- Flickr30k Entities: 5 sentences mentioning 1–3 entities --------------------------------------
    entities = []  # (entity id, phrase options)
    shape_entity = {}
    for s in scene.shapes:
        if singular[s.index]:
            entity_id += 1
            shape_entity[s.index] = entity_id
            entities.append((entity_id, singular[s.index]))
    group_entities = []
    for ph in plural:
        entity_id += 1
        group_entities.append((entity_id, ph))
        entities.append((entity_id, [ph]))
    entity_id += 1
    scene_entity = entity_id
    lines, ig_sentences = [], []
    for _ in range(5 if entities else 0):
        k = min(len(entities), 1 + int(rng.integers(3)))
        chosen = [entities[int(j)] for j in rng.choice(len(entities), size=k, replace=False)]
        templates = (SENTENCE_TEMPLATES_1, SENTENCE_TEMPLATES_2, SENTENCE_TEMPLATES_3)[k - 1]
        template = templates[int(rng.integers(len(templates)))]
        slots = {}
        for slot, (eid, options) in zip("ABC", chosen):
            ph = options[int(rng.integers(len(options)))]
            slots[slot] = (eid, ph.text)
        # Fill the slots; the phrase that starts the sentence is capitalised as Flickr captions are. The
        # info-ground record (words without the tags, first_word_index, phrase, phrase_id, phrase_type) is
        # built alongside; the tests check it equals what the raw-file parser reads back.
        parts, words, phrases = [], [], []
        for piece in template.split(" "):
            if piece in ("{A}", "{B}", "{C}", "{S}", "{N}"):
                if piece == "{S}":
                    eid, ptype, text = scene_entity, "scene", f"a {scene.background} background"
                elif piece == "{N}":
                    eid, ptype, text = 0, "notvisual", "someone"
                else:
                    (eid, text), ptype = slots[piece[1]], "other"
                if not parts:
                    text = _capitalise(text)
                parts.append(f"[/EN#{eid}/{ptype} {text}]")
                phrases.append({"first_word_index": len(words), "phrase": text, "phrase_id": str(eid),
                                "phrase_type": [ptype]})
                words += text.split(" ")
            else:
                parts.append(piece)
                words.append(piece)
        lines.append(" ".join(parts))
        ig_sentences.append({"sentence": " ".join(words), "phrases": phrases})
    with open(os.path.join(dirs["flickr_sent"], f"{sid}.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    xml = [f"<annotation>\n<filename>{sid}.jpg</filename>\n<size>\n<width>{W}</width>\n<height>{H}</height>\n"
           f"<depth>3</depth>\n</size>"]
    ig_box: Dict[str, list] = {"boxes": {}, "scene": [], "nobox": []}
    for s in scene.shapes:
        names = []
        if s.index in shape_entity:
            names.append(shape_entity[s.index])
        names += [eid for eid, ph in group_entities if s.index in ph.targets]
        if not names:
            continue
        x1, y1, x2, y2 = (v + 1 for v in s.box)  # 1-based, as Flickr30k Entities; info-ground subtracts 1
        xml.append("<object>\n" + "".join(f"<name>{n}</name>\n" for n in names) +
                   f"<bndbox>\n<xmin>{x1}</xmin>\n<ymin>{y1}</ymin>\n<xmax>{x2}</xmax>\n<ymax>{y2}</ymax>\n"
                   "</bndbox>\n</object>")
        for n in names:
            ig_box["boxes"].setdefault(str(n), []).append(list(s.box))
    xml.append(f"<object>\n<name>{scene_entity}</name>\n<nobndbox>0</nobndbox>\n<scene>1</scene>\n</object>")
    xml.append("</annotation>\n")
    ig_box["scene"].append(str(scene_entity))
    ig_box.update({"width": W, "height": H, "depth": 3})
    with open(os.path.join(dirs["flickr_ann"], f"{sid}.xml"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(xml))
    out["ig_sent"] = ig_sentences
    out["ig_box"] = ig_box
    counts["flickr_queries"] += sum(1 for st in ig_sentences for p in st["phrases"]
                                    if p["phrase_id"] in ig_box["boxes"])

    # --- COCO instances + RefCOCO+ refs -----------------------------------------------------------------
    out["coco_image"] = {"id": sid, "file_name": f"COCO_train2014_{sid:012d}.jpg", "height": H, "width": W}
    for s in scene.shapes:
        ann_id += 1
        x1, y1, x2, y2 = s.box
        seg = [round(v, 2) for p in s.polygon for v in p]
        out["coco_anns"].append({"id": ann_id, "image_id": sid, "category_id": KINDS.index(s.kind) + 1,
                                 "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
                                 "segmentation": [seg], "iscrowd": 0})
        options = [p for p in singular[s.index] if not p.location_words]
        if not options:
            continue
        ref_id += 1
        split = scene.split
        if split == "test":
            split = "testA" if s.kind in TESTA_KINDS else "testB"
        n_sent = min(len(options), 1 + int(rng.integers(3)))
        picks = sorted(int(p) for p in rng.choice(len(options), size=n_sent, replace=False))
        sentences, sent_ids = [], []
        for p in picks:
            sent_id += 1
            raw = options[p].text
            sent, tokens = _sent_form(raw)
            sentences.append({"tokens": tokens, "raw": raw, "sent_id": sent_id, "sent": sent})
            sent_ids.append(sent_id)
            if split != "train":
                out["albef"].append(("val" if split == "val" else "test", {
                    "image": f"train2014/COCO_train2014_{sid:012d}.jpg", "text": sent, "ref_id": ref_id}))
            if split in ("testA", "testB"):
                counts[f"refcoco_{split}_sentences"] += 1
        counts["refcoco_sentences"] += len(sentences)
        out["refs"].append({"sent_ids": sent_ids, "file_name": f"COCO_train2014_{sid:012d}_{ann_id}.jpg",
                            "ann_id": ann_id, "ref_id": ref_id, "image_id": sid, "split": split,
                            "sentences": sentences, "category_id": KINDS.index(s.kind) + 1})
    out["split"] = scene.split
    out["sid"] = sid
    return out


def generate(out_dir: str, n_images: int, seed: int, val_frac: float = 0.1, test_frac: float = 0.1,
             command: Optional[str] = None, workers: int = 1) -> Dict[str, int]:
    """Write the whole set under out_dir; returns counts per format (also written to out_dir/counts.json)."""
    if n_images < 1:
        raise ValueError("--images must be at least 1")
    os.makedirs(out_dir, exist_ok=True)
    dirs = {k: os.path.join(out_dir, v) for k, v in {
        "vg": "VG_100K", "flickr": "flickr30k", "flickr_img": os.path.join("flickr30k", "flickr30k-images"),
        "flickr_sent": os.path.join("flickr30k", "Sentences"), "flickr_ann": os.path.join("flickr30k", "Annotations"),
        "coco": "train2014", "refcoco": "refcoco+"}.items()}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)

    split_rng = np.random.default_rng([seed, 0x5917])
    order = split_rng.permutation(n_images)
    n_test = max(1, int(round(test_frac * n_images))) if n_images >= 3 and test_frac > 0 else 0
    n_val = max(1, int(round(val_frac * n_images))) if n_images >= 3 and val_frac > 0 else 0
    split_of = {}
    for rank, i in enumerate(order):
        split_of[int(i)] = "test" if rank < n_test else ("val" if rank < n_test + n_val else "train")

    region_descriptions, image_data = [], []
    amc = {"train": [], "val": [], "test": []}
    flickr_ids = {"train": [], "val": [], "test": []}
    ig_boxes = {"train": {}, "val": {}, "test": {}}
    ig_sents = {"train": {}, "val": {}, "test": {}}
    coco_images, coco_anns, refs = [], [], []
    albef = {"val": [], "test": []}
    counts = {"images": n_images, "shapes": 0, "vg_regions": 0, "flickr_queries": 0, "refcoco_sentences": 0,
              "refcoco_testA_sentences": 0, "refcoco_testB_sentences": 0}

    if workers > 1 and n_images > 1:
        with concurrent.futures.ProcessPoolExecutor(workers, initializer=_init_worker,
                                                    initargs=(seed, dirs, split_of)) as pool:
            results = list(pool.map(_scene_outputs, range(n_images), chunksize=8))
    else:
        _init_worker(seed, dirs, split_of)
        results = [_scene_outputs(i) for i in range(n_images)]
    for r in results:  # in scene order, whichever process made them
        split = r["split"]
        region_descriptions.append(r["region"])
        image_data.append(r["image_data"])
        amc[split].extend(r["amc"])
        flickr_ids[split].append(str(r["sid"]))
        ig_sents[split][str(r["sid"])] = r["ig_sent"]
        ig_boxes[split][str(r["sid"])] = r["ig_box"]
        coco_images.append(r["coco_image"])
        coco_anns.extend(r["coco_anns"])
        refs.extend(r["refs"])
        for held_out_split, entry in r["albef"]:
            albef[held_out_split].append(entry)
        for key, value in r["counts"].items():
            counts[key] += value

    # --- files that cover the whole set --------------------------------------------------------------------
    _write_json(os.path.join(out_dir, "region_descriptions.json"), region_descriptions)
    _write_json(os.path.join(out_dir, "image_data.json"), image_data)
    for split, entries in amc.items():
        _write_json(os.path.join(out_dir, f"vg_{split}.json"), entries)
    for split, ids in flickr_ids.items():
        with open(os.path.join(dirs["flickr"], f"{split}.txt"), "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(f"{x}\n" for x in ids))
        _write_json(os.path.join(dirs["flickr"], f"bounding_boxes_{split}.json"), ig_boxes[split])
        _write_json(os.path.join(dirs["flickr"], f"sentences_{split}.json"), ig_sents[split])
    with open(os.path.join(dirs["refcoco"], "refs(unc).p"), "wb") as f:
        f.write(py2_pickle(refs))
    _write_json(os.path.join(dirs["refcoco"], "instances.json"),
                {"info": {"description": "AMC Grounding Lens synthetic shapes (RefCOCO+-style)", "seed": seed},
                 "images": coco_images, "annotations": coco_anns, "categories": COCO_CATEGORIES})
    for split, entries in albef.items():
        _write_json(os.path.join(out_dir, f"refcoco+_{split}.json"), entries)
    counts["vg_train_entries"] = len(amc["train"])
    counts.update({f"images_{s}": sum(1 for v in split_of.values() if v == s) for s in ("train", "val", "test")})
    _write_json(os.path.join(out_dir, "counts.json"), counts)
    with open(os.path.join(out_dir, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(_readme(command or _command(out_dir, n_images, seed, val_frac, test_frac), counts))
    return counts


def _command(out: str, n: int, seed: int, val_frac: float, test_frac: float) -> str:
    cmd = f"cd trainer && /usr/bin/python3 -m amc_trainer synth {out} --images {n} --seed {seed}"
    if (val_frac, test_frac) != (0.1, 0.1):
        cmd += f" --val-frac {val_frac} --test-frac {test_frac}"
    return cmd


def _readme(command: str, counts: Dict[str, int]) -> str:
    doc = __doc__.split("\n\n", 1)[1]
    return ("# Synthetic grounding set (AMC Grounding Lens)\n\nRegenerate with `" + command + "`.\n\n```\n" +
            doc.strip() + "\n```\n\nCounts: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ".\n")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amc_trainer synth",
                                     description="Write the synthetic grounding set in every supported format.")
    parser.add_argument("out", help="output folder (created; existing files of the set are overwritten)")
    parser.add_argument("--images", type=int, default=2000, help="number of scenes (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--val-frac", type=float, default=0.1, help="share of scenes in val (default 0.1)")
    parser.add_argument("--test-frac", type=float, default=0.1, help="share of scenes in test (default 0.1)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes rendering scenes (default: 2 or the CPU count if smaller); the output "
                             "does not depend on it")
    args = parser.parse_args(argv)
    if not (0 <= args.val_frac < 1 and 0 <= args.test_frac < 1 and args.val_frac + args.test_frac < 1):
        print("synth: --val-frac and --test-frac must be in [0, 1) and sum to less than 1", file=sys.stderr)
        return 2
    if args.images < 1:
        print("synth: --images must be at least 1", file=sys.stderr)
        return 2
    t0 = time.time()
    counts = generate(args.out, args.images, args.seed, args.val_frac, args.test_frac,
                      command=_command(args.out, args.images, args.seed, args.val_frac, args.test_frac),
                      workers=max(1, args.workers))
    print(json.dumps({"event": "done", "out": os.path.abspath(args.out), "wall_s": round(time.time() - t0, 2),
                      **counts}))
    print(f"synth: wrote {args.images} scenes to {args.out} in {time.time() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
