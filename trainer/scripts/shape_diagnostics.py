"""Where a grounding model on the synthetic set fails, and why: the numbers behind trainer/README.md
"Why the default model stops near 70 %".

  python trainer/scripts/shape_diagnostics.py CHECKPOINT SYNTH_DIR [--report EVAL_REPORT.json] [--scenes 700]

1. Accuracy per phrase category (colour + shape, shape only, size word, larger/smaller, location/relation)
   from a `python -m amc_trainer eval --out` report on the synthetic Flickr-style split, if given.
2. GradCAM per token for the shape-only val phrases ("the triangle") and for the same target named with its
   colour ("the red triangle"): each token's share of the map's mass, and how often the token's own map
   peaks inside the target box.
3. A linear probe of the image encoder: a 6-way logistic regression from the ViT output at the patch under
   each shape's box centre to the shape's kind (COCO category in refcoco+/instances.json), trained on the
   first 80 % of `--scenes` scenes and scored on the rest. Chance = the share of the most common kind.
Runs on the CPU in about a minute for the small model.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from amc_trainer.images import load_eval_image  # noqa: E402
from amc_trainer.evaluate import load_model_for_eval, load_queries  # noqa: E402
from amc_trainer.synth import COLOURS, KINDS  # noqa: E402
from amc_trainer.tokenizer import BertTokenizer  # noqa: E402

LOCATION = {"left", "right", "leftmost", "rightmost", "upper", "lower", "topmost", "lowest", "above", "below"}
SHAPE_WORDS = set(KINDS) | {k + "s" for k in KINDS}


def category(phrase: str) -> str:
    words = set(phrase.split())
    if words & LOCATION:
        return "location / relation"
    if words & {"smaller", "larger"}:
        return "larger / smaller of two"
    if words & {"small", "large"}:
        return "size word"
    if words & set(COLOURS) and words & SHAPE_WORDS:
        return "colour + shape"
    if words & SHAPE_WORDS:
        return "shape only"
    return "colour only"


def category_counts(samples: list) -> dict:
    """[hits, n] per phrase category of eval-report samples."""
    counts = collections.defaultdict(lambda: [0, 0])
    for s in samples:
        c = counts[category(s["phrase"])]
        c[0] += int(s["hit"])
        c[1] += 1
    return dict(counts)


def by_category(report_path: str) -> None:
    samples = json.load(open(report_path))["samples"]
    counts = category_counts(samples)
    print(f"1. pointing accuracy per phrase category ({report_path}, {len(samples)} queries)")
    for name, (hits, n) in sorted(counts.items(), key=lambda kv: -kv[1][1]):
        print(f"   {name:24s} {100 * hits / n:5.1f} %  ({hits}/{n}, {100 * n / len(samples):4.1f} % of queries, "
              f"misses = {100 * (n - hits) / len(samples):4.1f} points)")


def token_maps(model, mcfg, synth: str) -> None:
    tok = BertTokenizer.from_vocab()
    queries = load_queries(os.path.join(synth, "flickr30k", "sentences_val.json"))
    by_image = collections.defaultdict(list)
    for q in queries:
        by_image[q.image].append(q)
    stats = collections.defaultdict(lambda: [0.0, 0.0, 0])   # (variant, token) -> [mass share, peaks in box, n]
    g = mcfg.grid
    for group in by_image.values():
        shape_only = [q for q in group if q.caption.split()[0] == "the" and len(q.caption.split()) == 2
                      and q.caption.split()[1] in KINDS]
        if not shape_only:
            continue
        with torch.no_grad():
            embeds = model.encode_image(load_eval_image(group[0].image, mcfg.image_res)[None])
        for q in shape_only:
            kind = q.caption.split()[1]
            colour = next((o.caption.split()[1] for o in group if o.boxes_xyxy == q.boxes_xyxy
                           and o.caption.split()[:1] == ["the"] and len(o.caption.split()) == 3
                           and o.caption.split()[1] in COLOURS), None)
            captions = [q.caption] + ([f"the {colour} {kind}"] if colour else [])
            ids, att = tok.tok(captions)
            maps = model.explain(embeds.expand(len(captions), -1, -1), ids, att)["token_gradcam"]
            for b, caption in enumerate(captions):
                # each word piece takes the role of the word it belongs to ("cyan" -> "cy", "##an")
                roles = ["[CLS]"] + [w if w == "the" else ("colour" if w in COLOURS else "shape")
                                     for w in caption.split() for _ in tok.tokenize(w)]
                mass = maps[b].sum(dim=(1, 2))
                for t, role in enumerate(roles):
                    y, x = divmod(int(maps[b, t].flatten().argmax()), g)
                    px, py = (x + 0.5) * q.width / g, (y + 0.5) * q.height / g
                    inside = any(b0 < px < b2 and b1 < py < b3 for b0, b1, b2, b3 in q.boxes_xyxy)
                    s = stats[("the K" if b == 0 else "the C K", role)]
                    s[0] += float(mass[t] / mass.sum().clamp(min=1e-12))
                    s[1] += int(inside)
                    s[2] += 1
    print("2. GradCAM per token, shape-only val phrases ('the K') and the same targets as 'the C K'")
    for (variant, role), (share, inside, n) in sorted(stats.items()):
        print(f"   {variant:8s} {role:7s} mass share {share / n:4.2f}   "
              f"own map peaks in the box {inside / n:4.2f} (n={n})")


def linear_probe(model, mcfg, synth: str, scenes: int) -> None:
    inst = json.load(open(os.path.join(synth, "refcoco+", "instances.json")))
    images = {i["id"]: i for i in inst["images"]}
    anns = collections.defaultdict(list)
    for a in inst["annotations"]:
        anns[a["image_id"]].append(a)
    ids = sorted(anns)[:scenes]
    feats, kinds, is_train = [], [], []
    g = mcfg.grid
    for n, image_id in enumerate(ids):
        im = images[image_id]
        with torch.no_grad():
            patches = model.encode_image(load_eval_image(os.path.join(synth, "train2014", im["file_name"]),
                                                         mcfg.image_res)[None])[0, 1:]
        for a in anns[image_id]:
            x, y, w, h = a["bbox"]
            gx = min(int((x + w / 2) / im["width"] * g), g - 1)
            gy = min(int((y + h / 2) / im["height"] * g), g - 1)
            feats.append(patches[gy * g + gx])
            kinds.append(a["category_id"] - 1)
            is_train.append(n < int(0.8 * len(ids)))
    X, Y, T = torch.stack(feats), torch.tensor(kinds), torch.tensor(is_train)
    X = (X - X[T].mean(0)) / (X[T].std(0) + 1e-6)
    torch.manual_seed(0)
    probe = torch.nn.Linear(X.shape[1], len(KINDS))
    opt = torch.optim.Adam(probe.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(500):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(probe(X[T]), Y[T]).backward()
        opt.step()
    with torch.no_grad():
        acc = lambda m: float((probe(X[m]).argmax(1) == Y[m]).float().mean())  # noqa: E731
        chance = float(torch.bincount(Y[~T]).max()) / int((~T).sum())
        print(f"3. linear probe ViT output -> shape kind: train {100 * acc(T):.1f} %, held-out {100 * acc(~T):.1f} % "
              f"(chance = most common kind {100 * chance:.1f} %; {len(Y)} shapes in {len(ids)} scenes)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("synth", help="folder written by `python -m amc_trainer synth`")
    ap.add_argument("--report", help="eval report (--out of `python -m amc_trainer eval`) for the categories")
    ap.add_argument("--scenes", type=int, default=700, help="scenes for the linear probe")
    args = ap.parse_args()
    torch.set_num_threads(min(4, os.cpu_count() or 1))
    try:
        model, mcfg = load_model_for_eval(args.checkpoint, None, None, torch.device("cpu"))
    except (ValueError, OSError) as err:  # CheckpointError names the file (and a refused global)
        print(f"shape_diagnostics: error: {err}", file=sys.stderr)
        return 2
    if args.report:
        by_category(args.report)
    token_maps(model, mcfg, args.synth)
    linear_probe(model, mcfg, args.synth, args.scenes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
