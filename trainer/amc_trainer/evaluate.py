"""`python -m amc_trainer eval`: pointing-game accuracy per split, exactly as docs/reference.md §4.1.

For every query: the raw eval GradCAM (docs/reference.md §1.3, g×g, no normalisation) → `F.interpolate(size=(H, W),
mode='bicubic', align_corners=False)` to the original image size → the first maximum in row-major order
`(map == map.max()).nonzero()[0]` → a hit when that pixel is strictly inside any ground-truth box
(`x > x1 and x < x2 and y > y1 and y < y2`; the RefCOCO rule `x < x1 + w` is the same test on the
reader's xyxy box). Accuracy = hits / queries, per split.

This is the PyTorch reference that the TypeScript evaluator is compared with, sample by sample. The `--out`
report is the evaluation report schema 1 that `amc eval --out` writes too (src/core/evalReportSchema.ts, README
"Evaluation reports"): a header naming the model (card name and grounding.onnx sha256 with `--card`, and the
checkpoint's sha256) and the annotation file (name, size, format), and per query id, image, phrase, split, boxes,
width, height, point {x, y}, hit, score (the raw ITM match logit) and L_mean / L_max: the training losses at batch
size 1 on the query's box(es) (docs/reference.md §2, as src/core/math/amc.ts sampleLosses). eval_report.py writes the
header and `validate_report` checks a report.

Batch size does not change a result: each image is encoded on its own, padding tokens are masked in every
attention and zeroed in the map, and padding only rescales a map by a constant (the mean over all L token
positions, docs/reference.md §1.3), which moves no argmax.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import OrderedDict
from typing import Any, Optional, Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from PIL import Image

from .checkpoint_io import read_checkpoint, state_dict_of
from .distributed import init_distributed
from .eval_formats import read_eval_queries
from .eval_report import accuracy_rows, report_header, report_json
from .images import load_eval_image
from .losses import LossSwitches, amc_loss_terms
from .masks import box_mask, clamp_box
from .model import ALBEF, ModelConfig, gradcam_training_map, load_state_dict_report
from .tokenizer import BertTokenizer


def pointing_point(cam: torch.Tensor, height: int, width: int) -> tuple[int, int]:
    """(x, y) of the first row-major maximum of the bicubic-upsampled raw map (docs/reference.md §4.1 steps 2-3)."""
    g_h, g_w = cam.shape[-2:]
    up = F.interpolate(cam.reshape(1, 1, g_h, g_w).float(), size=(int(height), int(width)), mode="bicubic",
                       align_corners=False)[0, 0]
    y, x = (up == up.max()).nonzero()[0].tolist()
    return int(x), int(y)


def is_hit(x: float, y: float, boxes_xyxy: Sequence[Sequence[float]]) -> bool:
    """Strictly inside any box (docs/reference.md §4.1 step 4; several boxes act as a union)."""
    return any(x > b[0] and x < b[2] and y > b[1] and y < b[3] for b in boxes_xyxy)


# L_AMC = 0.2 L_mean + 0.8 L_max (docs/reference.md §2), as training weighs them
AMC_WEIGHTS = LossSwitches().amc_weights


def sample_losses(cam: torch.Tensor, boxes_xyxy: Sequence[Sequence[float]], width: int, height: int) -> dict:
    """L_mean, L_max, their weighted total and whether the mask is empty, for ONE raw g×g map at batch size 1
    (as the map would be without padding) and the union of the query's boxes: the training map (relu, min-max,
    bilinear to 256, §1.3) against the boxes clamped and drawn as the reference does, nearest-resized to 256
    (docs/reference.md §2) -- src/core/math/amc.ts sampleLosses. Summed in float64 like the TypeScript side."""
    train_map = gradcam_training_map(cam.reshape(1, *cam.shape[-2:]).float()).double()
    mask = torch.zeros(1, *train_map.shape[-2:], dtype=torch.float64)
    for box in boxes_xyxy:
        mask[0] = torch.maximum(mask[0], box_mask(clamp_box(box, width, height), width, height).double())
    l_mean, l_max = amc_loss_terms(train_map, mask)
    l_mean, l_max = float(l_mean), float(l_max)
    return {"lMean": l_mean, "lMax": l_max, "total": AMC_WEIGHTS[0] * l_mean + AMC_WEIGHTS[1] * l_max,
            "maskEmpty": bool(mask.sum() == 0)}


def load_queries(path: str, image_root: Optional[str] = None, split: Optional[str] = None) -> list:
    queries = read_eval_queries(path, image_root) if image_root else read_eval_queries(path)
    if split:
        available = sorted({q.split for q in queries})
        queries = [q for q in queries if q.split == split]
        if not queries:
            present = ", ".join(available) or "none"
            raise ValueError(f"{path}: no queries in split '{split}' (splits present: {present})")
    if not queries:
        raise ValueError(f"{path}: no evaluation queries found")
    return queries


def _load_image(query, image_res: int) -> torch.Tensor:
    resample = getattr(query, "resample", None)
    if resample is not None:
        return load_eval_image(query.image, image_res, resample=resample)
    return load_eval_image(query.image, image_res)


def _image_size(path: str) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


@torch.no_grad()
def _encode(model, images: torch.Tensor) -> torch.Tensor:
    return model.encode_image(images)


def encoding_plan(queries: list, batch_size: int, batches: range) -> tuple[list, list]:
    """How the single-process run encodes images, replayed without the model: per batch of `batch_size` queries,
    the images it encodes together (groups of queries, the first query naming each image, as the loop loads it),
    and for every query image of the batches in `batches` the group whose output it uses: (batch, group).
    A run over only some batches (one rank's shard) encodes exactly those groups, so every embedding, and
    hence every score and point, is bit for bit the single-process one (an encoder batch of other images
    would change the last bits)."""
    cache: "OrderedDict[str, tuple[int, int]]" = OrderedDict()  # image -> (batch, group) that encoded it
    cache_size = max(4, 2 * batch_size)                            # consecutive queries usually share images
    groups: list = []
    sources: list = []
    for b, start in enumerate(range(0, min(len(queries), batches.stop * batch_size), batch_size)):
        chunk = queries[start:start + batch_size]
        todo = list(dict.fromkeys(q.image for q in chunk if q.image not in cache))
        first = {}
        for q in chunk:
            first.setdefault(q.image, q)
        groups.append([[first[p] for p in todo[i:i + batch_size]] for i in range(0, len(todo), batch_size)])
        for g, group in enumerate(groups[-1]):
            for q in group:
                cache[q.image] = (b, g)
        sources.append({q.image: cache[q.image] for q in chunk} if b in batches else None)
        while len(cache) > cache_size:
            cache.popitem(last=False)
    return groups, sources


def evaluate_queries(model, queries: list, tokenizer, image_res: int, batch_size: int = 16,
                     device: Optional[torch.device] = None, max_length: Optional[int] = None,
                     progress=None, batches: Optional[range] = None) -> list[dict]:
    """Per-query records of the report schema {id, split, image, phrase, boxes, width, height, hit, point {x, y},
    score, lMean, lMax, total, maskEmpty}. The model must be in eval mode.
    `batches` (default: all): only these batches of `batch_size` queries, with the single-process run's numbers."""
    device = device or torch.device("cpu")
    n_batches = -(-len(queries) // batch_size)
    batches = batches if batches is not None else range(n_batches)
    groups, sources = encoding_plan(queries, batch_size, batches)
    records: list[dict] = []
    embeds: "OrderedDict[tuple, torch.Tensor]" = OrderedDict()  # (batch, group, image) -> embeds [1+N, Dv]
    keep = max(4, 2 * batch_size) + batch_size
    done, total = 0, sum(len(queries[b * batch_size:(b + 1) * batch_size]) for b in batches)
    for b in batches:
        chunk = queries[b * batch_size:(b + 1) * batch_size]
        for q in chunk:
            src = sources[b][q.image]
            if (*src, q.image) not in embeds:
                group = groups[src[0]][src[1]]
                pixels = torch.stack([_load_image(g, image_res) for g in group])
                for g, e in zip(group, _encode(model, pixels.to(device))):
                    embeds[(*src, g.image)] = e
        image_embeds = torch.stack([embeds[(*sources[b][q.image], q.image)] for q in chunk])
        while len(embeds) > keep:
            embeds.popitem(last=False)
        input_ids, attention_mask = tokenizer.tok([q.caption for q in chunk], max_length=max_length)
        out = model.explain(image_embeds, input_ids.to(device), attention_mask.to(device))
        cams = out["gradcam"].detach().cpu()
        logits = out["itm_logits"].detach().cpu()
        # The raw map is a mean over all L positions of the padded batch; the losses take the map at batch size 1
        # (mean over the query's own tokens, padding maps are zero): undo the padded divisor, as the engine does.
        unpad = input_ids.shape[1] / attention_mask.sum(dim=1).double()
        for i, q in enumerate(chunk):
            width, height = (q.width, q.height) if q.width and q.height else _image_size(q.image)
            x, y = pointing_point(cams[i], height, width)
            boxes = [list(map(float, box)) for box in q.boxes_xyxy]
            records.append({"id": str(q.id), "split": q.split, "image": q.image, "phrase": q.phrase, "boxes": boxes,
                            "width": int(width), "height": int(height), "hit": is_hit(x, y, boxes),
                            "point": {"x": x, "y": y}, "score": float(logits[i, 1]),
                            **sample_losses(cams[i].double() * unpad[i], boxes, int(width), int(height))})
        done += len(chunk)
        if progress:
            progress(done, total)
    return records


def summarize(records: list[dict]) -> dict:
    splits: dict[str, dict] = {}
    for r in records:
        s = splits.setdefault(r["split"], {"n": 0, "hits": 0})
        s["n"] += 1
        s["hits"] += int(r["hit"])
    for s in splits.values():
        s["accuracy"] = s["hits"] / s["n"]
    n = len(records)
    hits = sum(int(r["hit"]) for r in records)
    return {"splits": dict(sorted(splits.items())), "n": n, "hits": hits, "accuracy": hits / n if n else 0.0}


# Keys an explanation does not use: momentum copies, queues, ITC projections and temperature, MLM head.
def _needed_for_explain(key: str) -> bool:
    unused = ("_m.", "queue", "vision_proj", "text_proj", "cls.", "temp", "position_ids")
    top = key.split(".")[0]
    return not any(part in key for part in unused) and top in ("visual_encoder", "text_encoder", "itm_head")


def load_model_for_eval(checkpoint_path: str, model_size: Optional[str], image_res: Optional[int],
                        device: torch.device, log=lambda s: None):
    """Our checkpoints carry their ModelConfig; ALBEF/AMC ones need --model (default base)."""
    ckpt = read_checkpoint(checkpoint_path)
    state = state_dict_of(ckpt, checkpoint_path)
    saved = ckpt.get("model_config") if isinstance(ckpt, dict) else None
    if saved and not model_size:
        mcfg = ModelConfig(**saved)
        if image_res and image_res != mcfg.image_res:
            mcfg = ModelConfig(**{**saved, "image_res": image_res})
    else:
        factory = ModelConfig.small if model_size == "small" else ModelConfig.base
        mcfg = factory(image_res=image_res or 256)
    model = ALBEF(mcfg)
    missing, unexpected = load_state_dict_report(model, state)
    needed = [k for k in missing if _needed_for_explain(k)]
    if needed:
        raise ValueError(f"{checkpoint_path}: {len(needed)} weights the explanation needs are missing: "
                         + ", ".join(needed[:20]) + (" ..." if len(needed) > 20 else ""))
    if missing:
        log(f"{checkpoint_path}: {len(missing)} keys not in the checkpoint (unused by evaluation): "
            + ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else ""))
    if unexpected:
        log(f"{checkpoint_path}: {len(unexpected)} checkpoint keys not used by this model: "
            + ", ".join(unexpected[:8]) + (" ..." if len(unexpected) > 8 else ""))
    model.to(device).eval()
    return model, mcfg


def _launched_distributed() -> bool:
    """Under torchrun with more than one process (torchrun sets RANK and WORLD_SIZE, as train.py reads them)."""
    return "RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def shard_batches(n_queries: int, batch_size: int, rank: int, world_size: int) -> range:
    """The batches this rank evaluates: a contiguous run of whole batches of the single-process run (the same
    queries batched together, see encoding_plan), so the ranks' records concatenated in rank order are the
    single-process records in their order."""
    n_batches = -(-n_queries // max(1, batch_size))
    return range(n_batches * rank // world_size, n_batches * (rank + 1) // world_size)


def gather_to_rank0(outcome: tuple, dist_info) -> list:
    """Every rank's outcome on rank 0, in rank order ([] on the other ranks). Objects travel over gloo even
    when the ranks compute with NCCL (torch 1.13's gather_object does not run on NCCL, and all_gather_object
    would copy every record to every rank)."""
    if dist_info is None or not dist_info.initialized:
        return [outcome]
    group = dist.new_group(backend="gloo") if dist.get_backend() != "gloo" else None
    gathered: Optional[list] = [None] * dist_info.world_size if dist_info.rank == 0 else None
    dist.gather_object(outcome, gathered, dst=0, group=group)
    return gathered if gathered is not None else []


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m amc_trainer eval",
                                     description="Pointing-game accuracy per split (docs/reference.md §4).")
    parser.add_argument("--checkpoint", required=True,
                        help="our checkpoint_XX.pth/last.pth, ALBEF.pth or AMC best_*.pth")
    parser.add_argument("--data", required=True, help="annotation file in any format the extension opens")
    parser.add_argument("--image-root", default=None, help="image folder (default: the reader's, next to the data)")
    parser.add_argument("--split", default=None, help="only this split (e.g. test, testA, testB)")
    parser.add_argument("--out", default=None,
                        help="write the evaluation report (schema 1, as amc eval --out) here")
    parser.add_argument("--card", default=None,
                        help="the exported model folder (or its model.json) of this checkpoint: the report then names "
                             "the model by its card name and grounding.onnx sha256, so the viewer can match it")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="queries per GradCAM batch (results do not depend on it)")
    parser.add_argument("--model", choices=["small", "base"], default=None,
                        help="model size for checkpoints without a saved model config (default: base)")
    parser.add_argument("--image-res", type=int, default=None,
                        help="evaluation resolution (default: the checkpoint's; RefCOCO+ with base: 384)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")

    def log(text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    dist_info = None
    try:
        if _launched_distributed():
            dist_info = init_distributed(args.device)  # nccl on CUDA (GPU = LOCAL_RANK), gloo on CPU
            device = dist_info.device
        else:
            device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                                  else ("cpu" if args.device == "auto" else args.device))
    except ValueError as err:  # ConfigError: cuda asked for but not there
        sys.stdout.write(json.dumps({"event": "error", "message": str(err)}) + "\n")
        log(f"error: {err}")
        return 2
    rank, world_size = (dist_info.rank, dist_info.world_size) if dist_info else (0, 1)
    is_main = rank == 0
    # Every rank catches its own failure and still joins the gather, so one bad rank cannot leave the
    # others waiting; rank 0 reports the first failure.
    outcome: tuple[str, Any]
    try:
        model, mcfg = load_model_for_eval(args.checkpoint, args.model, args.image_res, device,
                                          log if is_main else (lambda s: None))
        queries = load_queries(args.data, args.image_root, args.split)
        # Rank 0 names the model and the file (the card check fails early, before any compute).
        header = report_header(args.checkpoint, args.data, args.card, mcfg) if is_main else None
        if is_main:
            log(f"evaluating {len(queries)} queries at {mcfg.image_res} px (grid {mcfg.image_res // mcfg.patch_size})"
                + (f" across {world_size} processes" if world_size > 1 else ""))
        outcome = ("ok", evaluate_queries(model, queries, BertTokenizer.from_vocab(), image_res=mcfg.image_res,
                                          batch_size=args.batch_size, device=device,
                                          max_length=getattr(mcfg, "max_position", None),
                                          batches=shard_batches(len(queries), args.batch_size, rank, world_size)))
    except (ValueError, FileNotFoundError, OSError, KeyError) as err:
        outcome = ("error", f"{err}" if world_size == 1 else f"rank {rank}: {err}")
    try:
        outcomes = gather_to_rank0(outcome, dist_info)
    finally:
        if dist_info is not None and dist_info.initialized:
            dist.destroy_process_group()
    if not is_main:
        return 0 if outcome[0] == "ok" else 2
    failed = [message for kind, message in outcomes if kind == "error"]
    if failed:
        sys.stdout.write(json.dumps({"event": "error", "message": failed[0]}) + "\n")
        for message in failed:
            log(f"error: {message}")
        return 2
    records = [record for _, shard in outcomes for record in shard]  # rank order = query order
    summary = summarize(records)
    # Python reports score every query (a bad image fails the run), so evaluated = queries and nothing is listed as
    # not scored; the keys are there so that both writers' headers read alike.
    report: dict[str, Any] = {**(header or {}), "split": args.split, "imageRes": mcfg.image_res,
                              "grid": mcfg.image_res // mcfg.patch_size,
                              "protocol": "docs/reference.md §4.1: raw GradCAM, bicubic align_corners=False, "
                                          "first row-major argmax, strictly inside any box; "
                                          "lMean/lMax: docs/reference.md §2 at batch size 1",
                              "counts": {"queries": len(records), "evaluated": len(records), "errors": 0,
                                         "notScored": 0, "skippedNoBox": 0},
                              "notScored": [], "accuracy": accuracy_rows(records), "samples": records}
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(report_json(report))
    sys.stdout.write(json.dumps({"event": "eval", **summary, "report": args.out}) + "\n")
    sys.stdout.flush()
    for split, s in summary["splits"].items():
        log(f"{split:>8}: {s['accuracy'] * 100:6.2f}%  ({s['hits']}/{s['n']})")
    log(f"{'all':>8}: {summary['accuracy'] * 100:6.2f}%  ({summary['hits']}/{summary['n']})")
    return 0
