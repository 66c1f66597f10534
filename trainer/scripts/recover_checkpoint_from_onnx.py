"""Recovers the PyTorch checkpoint of an exported model folder from its ONNX graphs.

The shipped default model (models/amc-small-synthetic) was exported without keeping its checkpoint. Every
weight the two graphs use is stored in them as an initializer: under its state-dict name, or — after the
exporter's constant folding — as a transposed copy (MatMul weights, `onnx::MatMul_N`), a single row
(token_type_embeddings[0], itm_head.weight[1]) or a float16 copy with a Cast (`--fp16-embeddings`). Which
initializer holds which entry is learned, not guessed: the model is built with the card's config, every
parameter is filled with distinct random values, it is exported with the project's exporter, and each probe
initializer is matched by value against the parameters and their transposes/rows. The shipped graphs must have
the same structure (initializer names, shapes, node count); their initializers are then read into a state dict.

Parameters no graph uses (ITC projections, MLM head, temperature, a token-type row, ...) cannot be recovered:
they keep a deterministic init (ALBEF(config) after torch.manual_seed(INIT_SEED)) and are listed by name in the
checkpoint's `recovered_from_onnx.not_recovered` and the report.

    PYTHONPATH=trainer python3 trainer/scripts/recover_checkpoint_from_onnx.py MODEL_DIR [--out FILE]
        [--verify] [--no-card]

--verify re-exports the recovered checkpoint into a temporary folder and compares every initializer and the
fixture outputs with the model folder's. Unless --no-card, model.json gets `source_checkpoint`
({"file": <name beside the card>, "sha256": ...}).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from typing import Dict, List, Tuple

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # trainer/

from amc_trainer.export import export_model, sha256_file  # noqa: E402
from amc_trainer.model import ALBEF, ModelConfig  # noqa: E402

INIT_SEED = 0
GRAPHS = ("image_encoder.onnx", "grounding.onnx")
FP16_SUFFIX = ".float16"  # export.store_word_embeddings_fp16 names the float16 table <name>.float16
# graph module prefix -> state-dict prefix (ImageEncoderGraph / GroundingGraph attribute names)
PREFIXES = {"image_encoder.onnx": ("visual_encoder.", "visual_encoder."),
            "grounding.onnx": ("bert.", "text_encoder.bert.")}

# A transform maps a state-dict tensor to the initializer's value: ("id",), ("T",) or ("row", i).
Transform = Tuple


def _apply(t: np.ndarray, transform: Transform) -> np.ndarray:
    if transform[0] == "id":
        return t
    if transform[0] == "T":
        return t.T
    return t[transform[1]]


def _key(a: np.ndarray) -> Tuple[tuple, bytes]:
    a = np.ascontiguousarray(a, dtype=np.float32)
    return a.shape, hashlib.sha256(a.tobytes()).digest()


def _initializers(path: str) -> Dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    out = {}
    for t in m.graph.initializer:
        a = numpy_helper.to_array(t)
        if a.dtype == np.float16:
            a = a.astype(np.float32)  # float16 -> float32 is exact
        out[t.name] = a
    return out


def _structure(path: str) -> Tuple[List[Tuple[str, tuple]], List[str]]:
    import onnx
    m = onnx.load(path)
    return ([(t.name, tuple(t.dims)) for t in m.graph.initializer],
            [n.op_type for n in m.graph.node])


def _strip_fp16(name: str) -> str:
    return name[:-len(FP16_SUFFIX)] if name.endswith(FP16_SUFFIX) else name


def learn_mapping(cfg: ModelConfig, fp16_embeddings: bool, work: str
                  ) -> Tuple[Dict[str, Dict[str, Tuple[str, Transform]]], str]:
    """Exports a probe model with distinct values in every parameter; returns
    {graph: {initializer name: (state-dict key, transform)}} and the probe folder."""
    torch.manual_seed(1234)
    probe = ALBEF(ModelConfig.from_dict(cfg.to_dict()))
    with torch.no_grad():
        for p in probe.parameters():
            p.copy_(torch.randn_like(p))
            if fp16_embeddings:  # the exporter refuses a table that float16 would change
                p.copy_(p.half().float())
    lookup: Dict[Tuple[tuple, bytes], Tuple[str, Transform]] = {}
    for name, value in probe.state_dict().items():
        if not value.is_floating_point():
            continue
        a = value.detach().numpy()
        candidates: List[Transform] = [("id",)]
        if a.ndim == 2:
            candidates.append(("T",))
            if a.shape[0] <= 4:  # small tables: the exporter folds single rows (token type 0, ITM match row)
                candidates += [("row", i) for i in range(a.shape[0])]
        for tr in candidates:
            lookup.setdefault(_key(_apply(a, tr)), (name, tr))
    probe_dir = os.path.join(work, "probe")
    export_model(probe, probe_dir, name="probe", with_fixture=False, fp16_word_embeddings=fp16_embeddings)
    mapping: Dict[str, Dict[str, Tuple[str, Transform]]] = {}
    for graph in GRAPHS:
        mapping[graph] = {}
        for init_name, value in _initializers(os.path.join(probe_dir, graph)).items():
            hit = lookup.get(_key(value))
            if hit is None:
                raise ValueError(f"{graph}: initializer {init_name} {value.shape} matches no parameter (nor its "
                                 f"transpose or a row): the exporter folded something this script does not know")
            mapping[graph][init_name] = hit
    return mapping, probe_dir


def recover(model_dir: str, work: str) -> Tuple[dict, dict]:
    """-> (checkpoint dict, report). Raises ValueError when the graphs do not match the card's architecture."""
    card_path = os.path.join(model_dir, "model.json")
    with open(card_path) as f:
        card = json.load(f)
    cfg = ModelConfig.from_dict(dict(card["config"]))
    fp16 = any(_strip_fp16(n) != n for n, _ in _structure(os.path.join(model_dir, "grounding.onnx"))[0])
    mapping, probe_dir = learn_mapping(cfg, fp16, work)
    for graph in GRAPHS:
        shipped, probe = _structure(os.path.join(model_dir, graph)), _structure(os.path.join(probe_dir, graph))
        if shipped != probe:
            raise ValueError(f"{graph}: its initializers/nodes differ from a fresh export with the card's config "
                             f"(exported by another exporter version?)")
    torch.manual_seed(INIT_SEED)
    model = ALBEF(ModelConfig.from_dict(cfg.to_dict()))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    recovered: Dict[str, np.ndarray] = {}
    rows: Dict[str, set] = {}
    for graph in GRAPHS:
        values = _initializers(os.path.join(model_dir, graph))
        for init_name, (key, tr) in mapping[graph].items():
            value = values[init_name]
            target = state[key].numpy()
            if tr[0] == "row":
                if key in recovered:  # the full tensor is already known: the row must agree
                    _check_same(key, recovered[key][tr[1]], value, init_name)
                    continue
                target[tr[1]] = value
                rows.setdefault(key, set()).add(tr[1])
                continue
            full = value.T if tr[0] == "T" else value
            if key in recovered:
                _check_same(key, recovered[key], full, init_name)
                continue
            recovered[key] = np.ascontiguousarray(full)
            target[...] = full
    for key, idx in rows.items():  # a row-only entry whose full tensor was found later: rows must agree
        if key in recovered:
            for i in idx:
                _check_same(key, recovered[key][i], state[key].numpy()[i], f"row {i}")
    partial = {k: sorted(v) for k, v in rows.items() if k not in recovered}
    # tied/derived entries: the MLM decoder weight is the word-embedding table; position_ids is arange
    derived = [k for k in state if k.endswith("cls.predictions.decoder.weight")
               or k.endswith("cls.predictions.decoder.bias") or k.endswith("embeddings.position_ids")]
    not_recovered = sorted(k for k in state if k not in recovered and k not in partial and k not in derived
                           and state[k].is_floating_point())
    report = {
        "source": os.path.basename(os.path.normpath(model_dir)),
        "graphs_sha256": {g: sha256_file(os.path.join(model_dir, g)) for g in GRAPHS},
        "recovered": len(recovered),
        "partially_recovered": {k: f"rows {v} from the graphs; the other rows keep the init"
                                for k, v in partial.items()},
        "not_recovered": not_recovered,
        "init": f"torch.manual_seed({INIT_SEED}); ALBEF(config) (amc_trainer.model) for every entry not recovered",
    }
    ckpt = {"model": state, "model_config": cfg.to_dict(),
            "config": (card.get("training") or {}).get("recipe"),
            "data": (card.get("training") or {}).get("data"),
            "metrics": card.get("metrics") or {},
            "recovered_from_onnx": report}
    return ckpt, report


def _check_same(key: str, a: np.ndarray, b: np.ndarray, where: str) -> None:
    if a.shape != b.shape or not np.array_equal(a, b):
        raise ValueError(f"{key}: {where} disagrees with another copy of it in the graphs")


def to_storage_dtype(ckpt: dict, all_float16: bool = False) -> dict:
    """float16 where that is exact (the table the graphs store as float16), float32 elsewhere; with all_float16
    every floating tensor is float16 (smaller, but a re-export then differs from the graphs by float16 rounding)."""
    out = dict(ckpt)
    state = {}
    for k, v in ckpt["model"].items():
        if k.endswith("cls.predictions.decoder.weight") or k.endswith("cls.predictions.decoder.bias"):
            continue  # tied to word_embeddings / predictions.bias: the model rebuilds them (_DERIVED_KEY_SUFFIXES)
        if v.is_floating_point() and (all_float16 or torch.equal(v.half().float(), v)):
            v = v.half()
        state[k] = v.contiguous()
    out["model"] = state
    return out


def compare_exports(model_dir: str, reexport_dir: str) -> dict:
    """Every initializer by value (max |diff|) and the fixture outputs."""
    worst = 0.0
    for graph in GRAPHS:
        a, b = _initializers(os.path.join(model_dir, graph)), _initializers(os.path.join(reexport_dir, graph))
        if sorted(a) != sorted(b):
            raise ValueError(f"{graph}: re-export has other initializers")
        for name in a:
            worst = max(worst, float(np.max(np.abs(a[name] - b[name]))) if a[name].size else 0.0)
    fx = {}
    with open(os.path.join(model_dir, "fixture.json")) as f:
        shipped = json.load(f)
    with open(os.path.join(reexport_dir, "fixture.json")) as f:
        again = json.load(f)
    for key in ("image_embeds_cls", "image_embeds_mean", "itm_logits", "gradcam", "token_gradcam"):
        fx[key] = float(np.max(np.abs(np.asarray(shipped[key]) - np.asarray(again[key]))))
    return {"initializer_max_abs_diff": worst, "fixture_max_abs_diff": fx}


def main(argv: List[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir")
    p.add_argument("--out", default=None, help="checkpoint file (default: MODEL_DIR/checkpoint.pth)")
    p.add_argument("--verify", action="store_true", help="re-export and compare graphs and fixture")
    p.add_argument("--no-card", action="store_true", help="do not write source_checkpoint into model.json")
    p.add_argument("--float16", action="store_true",
                   help="store every tensor as float16 (about 2/3 of the size; not bit-exact: see trainer/README)")
    args = p.parse_args(argv)
    out = args.out or os.path.join(args.model_dir, "checkpoint.pth")
    with tempfile.TemporaryDirectory(prefix="amc-recover-") as work:
        try:
            ckpt, report = recover(args.model_dir, work)
        except (ValueError, KeyError, OSError) as err:
            print(f"recover: {args.model_dir}: {err}", file=sys.stderr)
            return 2
        torch.save(to_storage_dtype(ckpt, args.float16), out)
        result = {"event": "done", "checkpoint": out, "bytes": os.path.getsize(out), "sha256": sha256_file(out),
                  "recovered": report["recovered"], "partially_recovered": report["partially_recovered"],
                  "not_recovered": report["not_recovered"]}
        if args.verify:
            from amc_trainer.export import model_from_checkpoint
            model, saved, missing, _ = model_from_checkpoint(out, None, None)
            fp16 = "word_embeddings.weight.float16" in "".join(n for n, _ in _structure(
                os.path.join(args.model_dir, "grounding.onnx"))[0])
            again = os.path.join(work, "reexport")
            export_model(model, again, name="reexport", fp16_word_embeddings=fp16)
            result["verify"] = compare_exports(args.model_dir, again)
            result["verify"]["missing_keys_on_load"] = missing
    if not args.no_card:
        card_path = os.path.join(args.model_dir, "model.json")
        with open(card_path) as f:
            card = json.load(f)
        rel = os.path.relpath(os.path.abspath(out), os.path.abspath(args.model_dir))
        card["source_checkpoint"] = {"file": rel if not rel.startswith("..") else os.path.abspath(out),
                                     "sha256": result["sha256"]}
        with open(card_path, "w") as f:
            json.dump(card, f, indent=2)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
