"""Randomly initialised ALBEF-base checkpoints in the key layouts of the released models (docs/reference.md §6), for the
import tests: ALBEF's pre-training `ALBEF.pth`, AMC's full `best_*.pth` and AMC's evaluation key set. Nothing is
committed: tests build them (or only their key -> shape maps) on the fly.

    python trainer/tests/release_checkpoints.py LAYOUT OUT.pth     # LAYOUT: albef-pretrain | amc-full | amc-eval
"""
from __future__ import annotations

import os
import sys
from typing import Dict

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from amc_trainer.model import ALBEF, ModelConfig  # noqa: E402

LAYOUTS = ("albef-pretrain", "amc-full", "amc-eval")


def base_model(layout: str, image_res: int = 256) -> ALBEF:
    """ALBEF-base with the parts the layout's checkpoint holds; weights uninitialised (torch.empty)."""
    cfg = ModelConfig.base(image_res)
    if layout == "albef-pretrain":
        cfg.queue_ptr_style = "albef"
    elif layout == "amc-eval":  # AMC's evaluation model: BertModel (no MLM head), no momentum copies or queues
        cfg.use_momentum_distill, cfg.queue_size, cfg.mlm_head = False, 0, False
    elif layout != "amc-full":
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    return ALBEF(cfg, init_weights=False)


def layout_keys(layout: str, state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Our key names -> the release's: AMC's evaluation key set drops 'bert.' (docs/reference.md §6 eval remap);
    the decoder weight/bias ALBEF ties to the embeddings are stored there too."""
    out = {}
    for key, value in state.items():
        if layout == "amc-eval":
            key = key.replace("text_encoder.bert.", "text_encoder.").replace("text_encoder_m.bert.", "text_encoder_m.")
        out[key] = value
    if "text_encoder.cls.predictions.bias" in out:
        out["text_encoder.cls.predictions.decoder.weight"] = out["text_encoder.bert.embeddings.word_embeddings.weight"]
        out["text_encoder.cls.predictions.decoder.bias"] = out["text_encoder.cls.predictions.bias"]
    return out


def random_checkpoint(layout: str, seed: int = 0) -> dict:
    """{'model': state dict} filled N(0, 0.02) (LayerNorm weights ~1) with the layout's real names and shapes."""
    model = base_model(layout)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("position_ids"):
                t.copy_(torch.arange(t.shape[-1]).view(1, -1))
            elif name.startswith("queue_ptr"):
                t.zero_()
            elif t.is_floating_point():
                is_norm = name.endswith("weight") and ("LayerNorm" in name or ".norm" in name)
                t.normal_(1.0 if is_norm else 0.0, 0.05 if is_norm else 0.02, generator=g)
    ckpt = {"model": layout_keys(layout, model.state_dict())}
    if layout == "albef-pretrain":  # ALBEF.pth also holds its optimizer state and yaml config; keep the config
        ckpt["config"] = {"embed_dim": 256, "image_res": 256, "queue_size": 65536, "momentum": 0.995}
        ckpt["epoch"] = 29
    return ckpt


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    torch.save(random_checkpoint(sys.argv[1]), sys.argv[2])
