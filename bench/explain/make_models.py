"""Benchmark weights: a randomly initialised small and base ALBEF (seeded), saved as a trainer checkpoint AND
exported by the trainer's exporter, so onnxruntime-node and PyTorch eager run the very same weights.

    /usr/bin/python3 bench/explain/make_models.py [--configs small,base] [--out bench/out/models]

Writes OUT/<config>/checkpoint.pth and OUT/<config>/model/ (model.json, image_encoder.onnx, grounding.onnx, ...).
Skips a config whose folder already holds both.
"""
import argparse
import os
import sys
import time

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "trainer"))

from amc_trainer.export import export_model  # noqa: E402
from amc_trainer.model import ALBEF, ModelConfig  # noqa: E402


def build(name: str) -> ALBEF:
    cfg = ModelConfig.base(256) if name == "base" else ModelConfig.small(256)
    # Only what an explanation runs: no momentum copies, queues or MLM head (they would not change a number).
    cfg.use_momentum_distill, cfg.queue_size, cfg.mlm_head = False, 0, False
    torch.manual_seed(0)
    return ALBEF(cfg).eval()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--configs", default="small,base")
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "models"))
    args = p.parse_args()
    for name in args.configs.split(","):
        folder = os.path.join(args.out, name)
        ckpt = os.path.join(folder, "checkpoint.pth")
        if os.path.exists(ckpt) and os.path.exists(os.path.join(folder, "model", "model.json")):
            print(f"{name}: exists", file=sys.stderr)
            continue
        os.makedirs(folder, exist_ok=True)
        t0 = time.time()
        model = build(name)
        torch.save({"model": model.state_dict(), "model_config": model.cfg.to_dict()}, ckpt)
        export_model(model, os.path.join(folder, "model"), name=f"bench-{name}-random", with_fixture=False)
        print(f"{name}: exported in {time.time() - t0:.1f} s -> {folder}", file=sys.stderr)


if __name__ == "__main__":
    main()
