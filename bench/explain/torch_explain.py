"""PyTorch eager side of bench (a): one cold explain with the trainer's own code, in a fresh process.

Prints one JSON line: load_s (build model + load checkpoint), first_s (the first explain: image load/resize,
ViT forward, text forward + autograd backward to the GradCAM layer, map + point), warm_s (further explains of
the same image+phrase, full pipeline each), score, point, and matmul_gflops (a 2048x2048 float32 matmul, this
process, this moment: the machine's attainable peak for the FLOP share in the note).
"""
import argparse
import json
import os
import sys
import time

T_START = time.perf_counter()
import torch  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "trainer"))
from amc_trainer.data import load_eval_image  # noqa: E402
from amc_trainer.evaluate import load_model_for_eval, pointing_point  # noqa: E402
from amc_trainer.tokenizer import BertTokenizer, pre_caption  # noqa: E402


def explain_once(model, tok, image_path, phrase, image_res, resample):
    from PIL import Image
    pixels = load_eval_image(image_path, image_res, resample=resample).unsqueeze(0)
    ids, mask = tok([pre_caption(phrase)], max_length=None)
    with torch.no_grad():
        embeds = model.encode_image(pixels)
    out = model.explain(embeds, ids, mask)
    with Image.open(image_path) as im:
        w, h = im.size
    x, y = pointing_point(out["gradcam"][0], h, w)
    return float(out["itm_logits"][0, 1]), [x, y]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--phrase", required=True)
    p.add_argument("--resample", default="bilinear")
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    import_s = time.perf_counter() - T_START
    t0 = time.perf_counter()
    model, cfg = load_model_for_eval(a.checkpoint, None, None, torch.device("cpu"))
    tok = BertTokenizer.from_vocab()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    score, point = explain_once(model, tok, a.image, a.phrase, cfg.image_res, a.resample)
    first_s = time.perf_counter() - t0
    warm = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        explain_once(model, tok, a.image, a.phrase, cfg.image_res, a.resample)
        warm.append(time.perf_counter() - t0)
    x = torch.randn(2048, 2048)
    torch.mm(x, x)
    t0 = time.perf_counter()
    for _ in range(3):
        torch.mm(x, x)
    gflops = 3 * 2 * 2048 ** 3 / (time.perf_counter() - t0) / 1e9
    print(json.dumps({"import_s": import_s, "load_s": load_s, "first_s": first_s, "warm_s": warm, "score": score,
                      "point": point, "matmul_gflops": gflops, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
