"""Exports the small model with whatever torch this interpreter has and saves inputs + PyTorch outputs next
to the ONNX files, so another machine can check them with onnxruntime-node (tests/onnx_runner.mjs).
usage: python export_roundtrip.py OUT_DIR [--tiny]  (used to check the torch 2.x export path on the GPU machine)"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from amc_trainer.export import export_onnx  # noqa: E402
from amc_trainer.model import ALBEF, ModelConfig  # noqa: E402


def main(out: str, tiny: bool) -> None:
    torch.manual_seed(0)
    cfg = ModelConfig.small()
    if tiny:  # small enough to copy back from a remote machine (the vocabulary alone is 30522 x width)
        cfg.text_width, cfg.text_intermediate, cfg.vision_width, cfg.vision_mlp_dim = 48, 96, 48, 96
    model = ALBEF(cfg).eval()
    export_onnx(model, out)
    image = torch.randn(3, 3, 256, 256)
    ids = torch.randint(1000, 3000, (3, 10))
    ids[:, 0] = 101
    att = torch.ones(3, 10, dtype=torch.long)
    ids[2, 5:], att[2, 5:] = 0, 0
    with torch.no_grad():
        emb = model.encode_image(image)
    ref = model.explain(emb, ids, att)
    arrays = dict(image=image.numpy(), input_ids=ids.numpy(), attention_mask=att.numpy(), image_embeds=emb.numpy(),
                  **{k: v.numpy() for k, v in ref.items()})
    np.savez(os.path.join(out, "reference.npz"), torch_version=np.array(torch.__version__), **arrays)
    print("exported with torch", torch.__version__)


if __name__ == "__main__":
    main(sys.argv[1], "--tiny" in sys.argv[2:])
