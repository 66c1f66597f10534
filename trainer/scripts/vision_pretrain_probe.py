"""Can the small ViT learn shape at all in a CPU budget? Supervised image-level pre-training of the image
encoder alone, as ALBEF starts from a supervised DeiT: the numbers behind trainer/README.md, session 4.

  python trainer/scripts/vision_pretrain_probe.py SYNTH_DIR --steps 1000 --out vit.pth [--stem linear|conv]

Labels are image-level (no boxes): which of the 6 shape kinds occur in the scene (from the COCO categories of
`refcoco+/instances.json`, exact), which of the 8 colours and which of the 48 colour+kind pairs (from the scene's
phrases in the AMC VG file: a shape named only as "the star" or "the cyan shape" there adds its kind or colour
but no pair) — 62 binary labels, binary cross-entropy on the mean of the ViT's patch tokens. Training images are
the `vg_train.json` scenes,
scoring is on the `vg_val.json` scenes; every 200 steps it prints the per-label accuracy for kinds / colours /
pairs next to the majority-class baseline. `--out` holds `visual_encoder.*` weights in the layout
`python -m amc_trainer train --init` takes (the other weights stay at their random init, reported by name).
About 1.7 s per step of 32 images on this 2-core CPU.
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import os
import re
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from amc_trainer.images import load_eval_image  # noqa: E402
from amc_trainer.model import ALBEF, ModelConfig  # noqa: E402
from amc_trainer.synth import COLOURS, KINDS  # noqa: E402

N_KINDS, N_COLOURS = len(KINDS), len(COLOURS)


def scene_labels(synth: str, vg_name: str) -> dict:
    """image path -> 62 presence labels (kinds, colours, colour+kind pairs) of each scene in `vg_name`."""
    colours = list(COLOURS)
    pair = re.compile(r"\b(%s) (%s)s?\b" % ("|".join(colours), "|".join(KINDS)))
    colour_only = re.compile(r"\bthe (%s) shape\b" % "|".join(colours))
    kinds_of = collections.defaultdict(set)  # synthetic scene id = COCO image id = VG image file name
    for ann in json.load(open(os.path.join(synth, "refcoco+", "instances.json")))["annotations"]:
        kinds_of[ann["image_id"]].add(ann["category_id"] - 1)
    labels: dict = {}
    for entry in json.load(open(os.path.join(synth, vg_name))):
        v = labels.get(entry["image"])
        if v is None:
            v = labels[entry["image"]] = torch.zeros(N_KINDS + N_COLOURS + N_KINDS * N_COLOURS)
            scene_id = int(os.path.splitext(os.path.basename(entry["image"]))[0])
            v[sorted(kinds_of[scene_id])] = 1
        for colour, kind in pair.findall(entry["caption"]):
            c = colours.index(colour)
            v[N_KINDS + c] = v[N_KINDS + N_COLOURS + c * N_KINDS + KINDS.index(kind)] = 1
        for colour in colour_only.findall(entry["caption"]):
            v[N_KINDS + colours.index(colour)] = 1
    return labels


def load_split(synth: str, name: str, image_res: int):
    labels = scene_labels(synth, name)
    keys = sorted(labels)
    images = torch.stack([load_eval_image(os.path.join(synth, k), image_res) for k in keys])
    return images, torch.stack([labels[k] for k in keys])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("synth", help="folder written by `python -m amc_trainer synth`")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--stem", choices=("linear", "conv"), default="linear")
    ap.add_argument("--out", required=True, help="checkpoint with the visual_encoder.* weights")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)

    x_train, y_train = load_split(args.synth, "vg_train.json", 256)
    x_val, y_val = load_split(args.synth, "vg_val.json", 256)
    present = y_val.mean(0)
    majority = torch.maximum(present, 1 - present)
    print(f"{len(x_train)} training / {len(x_val)} val scenes; majority-class accuracy kinds "
          f"{majority[:N_KINDS].mean():.3f}, colours {majority[N_KINDS:N_KINDS + N_COLOURS].mean():.3f}, "
          f"pairs {majority[N_KINDS + N_COLOURS:].mean():.3f}", flush=True)

    mcfg = ModelConfig.small(256)
    mcfg.patch_stem = args.stem
    vit = ALBEF(mcfg).visual_encoder
    head = torch.nn.Linear(mcfg.vision_width, y_train.shape[1])
    params = list(vit.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.05)

    def logits(images: torch.Tensor) -> torch.Tensor:
        return head(vit(images)[:, 1:].mean(1))  # mean of the patch tokens: every patch must carry the labels

    def val_accuracy() -> str:
        vit.eval()
        with torch.no_grad():
            pred = torch.cat([logits(x_val[i:i + 64]) for i in range(0, len(x_val), 64)]) > 0
        vit.train()
        acc = (pred == (y_val > 0)).float().mean(0)
        return (f"val accuracy kinds {acc[:N_KINDS].mean():.3f}, "
                f"colours {acc[N_KINDS:N_KINDS + N_COLOURS].mean():.3f}, "
                f"pairs {acc[N_KINDS + N_COLOURS:].mean():.3f}")

    def save() -> None:
        torch.save({"model": {"visual_encoder." + k: v for k, v in vit.state_dict().items()},
                    "model_config": mcfg.to_dict()}, args.out)

    start = time.time()
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for group in opt.param_groups:
            group["lr"] = lr
        idx = torch.randint(len(x_train), (args.batch,))
        images = x_train[idx]
        flip = torch.rand(args.batch) < 0.5  # a flip changes no label here
        images[flip] = images[flip].flip(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits(images), y_train[idx])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if (step + 1) % 200 == 0 or step + 1 == args.steps:
            save()
            print(f"step {step + 1}: loss {loss.item():.4f}, {(time.time() - start) / (step + 1):.2f} s/step, "
                  + val_accuracy(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
