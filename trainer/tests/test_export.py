"""Export: the hand-written backward equals autograd, and the ONNX graphs run by onnxruntime-node equal
PyTorch's GradCAM (relative error <= 1e-4) for the small config and the base config at 256 and 384 px."""
import base64
import hashlib
import io
import json
import os
import time

import numpy as np
import pytest
import torch

from amc_trainer import export
from amc_trainer.model import ALBEF, ModelConfig
from onnx_helpers import node_available, rel_err, run_onnx

needs_node = pytest.mark.skipif(not node_available(), reason="node + onnxruntime-node not installed")
TOL = 1e-4


def _tiny_cfg(**kw) -> ModelConfig:
    base = dict(image_res=64, patch_size=16, vision_width=48, vision_depth=2, vision_heads=2, vision_mlp_dim=96,
                text_width=48, text_layers=4, text_heads=2, text_intermediate=96, fusion_layer=2,
                gradcam_layer=3, embed_dim=32, use_momentum_distill=False, queue_size=0)
    base.update(kw)
    return ModelConfig(**base)


def _text(B, T, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, 3000, (B, T), generator=g)
    ids[:, 0] = 101
    att = torch.ones(B, T, dtype=torch.long)
    if B > 1:
        ids[-1, T // 2:] = 0
        att[-1, T // 2:] = 0
    return ids, att


@pytest.mark.parametrize("cfg", [_tiny_cfg(), _tiny_cfg(gradcam_layer=2), ModelConfig.small()],
                         ids=["tiny-top", "tiny-first-fusion", "small"])
def test_hand_written_backward_equals_autograd(cfg):
    torch.manual_seed(0)
    model = ALBEF(cfg).eval()
    image = torch.randn(3, 3, cfg.image_res, cfg.image_res)
    ids, att = _text(3, 8)
    with torch.no_grad():
        emb = model.encode_image(image)
        graph = export.GroundingGraph(model)(emb, ids, att)
    ref = model.explain(emb, ids, att)
    for got, name in zip(graph, ("itm_logits", "gradcam", "token_gradcam")):
        assert rel_err(got.numpy(), ref[name].numpy()) < 1e-5, name


def _parity(model: ALBEF, out_dir: str, B: int, T: int) -> dict:
    """Exports, runs both graphs in onnxruntime-node at a batch/length other than the export's, returns errors."""
    cfg = model.cfg
    t0 = time.time()
    paths = export.export_onnx(model, out_dir)
    export_s = time.time() - t0
    image = torch.randn(B, 3, cfg.image_res, cfg.image_res)
    ids, att = _text(B, T, seed=1)
    with torch.no_grad():
        emb = model.encode_image(image)
    ref = model.explain(emb, ids, att)
    enc = run_onnx(paths["image_encoder.onnx"], {"image": image.numpy()})
    # feed the ONNX image_embeds onward: the chain the extension runs
    grd = run_onnx(paths["grounding.onnx"], {"image_embeds": enc["image_embeds"], "input_ids": ids.numpy(),
                                             "attention_mask": att.numpy()})
    errors = {"image_embeds": rel_err(enc["image_embeds"], emb.numpy())}
    for name in ("itm_logits", "gradcam", "token_gradcam"):
        assert grd[name].shape == tuple(ref[name].shape), name
        errors[name] = rel_err(grd[name], ref[name].numpy())
    errors["export_s"] = round(export_s, 1)
    errors["ort_ms"] = round(enc["_ms"] + grd["_ms"], 1)
    print(f"\n{cfg.image_res}px parity: {json.dumps(errors)}")
    return errors


@needs_node
@pytest.mark.parametrize("patch_stem", ["linear", "conv"])  # conv: the default model's stem (GroupNorm, GELU)
def test_onnx_parity_small_with_dynamic_batch_and_tokens(tmp_path, patch_stem):
    torch.manual_seed(0)
    model = ALBEF(ModelConfig(patch_stem=patch_stem)).eval()
    errors = _parity(model, str(tmp_path), B=3, T=11)
    for name in ("image_embeds", "itm_logits", "gradcam", "token_gradcam"):
        assert errors[name] <= TOL, (name, errors[name])
    # batch of one through the same graphs
    ids, att = _text(1, 4, seed=3)
    with torch.no_grad():
        emb = model.encode_image(torch.randn(1, 3, 256, 256))
    ref = model.explain(emb, ids, att)
    grd = run_onnx(str(tmp_path / "grounding.onnx"), {"image_embeds": emb.numpy(), "input_ids": ids.numpy(),
                                                      "attention_mask": att.numpy()})
    assert rel_err(grd["gradcam"], ref["gradcam"].numpy()) <= TOL


def _save_checkpoint(path, model: ALBEF, **extra):
    torch.save({"model": model.state_dict(), "model_config": model.cfg.to_dict(), **extra}, path)


@needs_node
def test_export_cli_writes_the_model_folder(tmp_path):
    from PIL import Image
    torch.manual_seed(0)
    cfg = _tiny_cfg()
    model = ALBEF(cfg)
    ckpt = tmp_path / "checkpoint_00.pth"
    _save_checkpoint(ckpt, model, config={"lr": 1e-4, "use_amc": True}, epoch=0)
    out = tmp_path / "models" / "tiny"
    assert export.main(["--checkpoint", str(ckpt), "--out", str(out)]) == 0
    assert sorted(os.listdir(out)) == ["fixture.json", "grounding.onnx", "image_encoder.onnx", "model.json",
                                       "vocab.txt"]
    card = json.loads((out / "model.json").read_text())
    assert card["contract_version"] == 1 and card["name"] == "tiny"
    assert (card["image_size"], card["patch_size"], card["grid"], card["gradcam_layer"]) == (64, 16, 4, 3)
    assert card["mean"] == list(export.CLIP_MEAN) and card["std"] == list(export.CLIP_STD)
    assert card["lowercase"] is True and card["vocab"] == "vocab.txt" and card["max_text_length"] == 25
    assert card["max_words"] == 50
    # the vocabulary's digest (lowercase hex of the vocab.txt written beside the card) and the training length
    assert card["vocab_sha256"] == hashlib.sha256((out / "vocab.txt").read_bytes()).hexdigest()
    assert card["vocab_sha256"] == "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
    assert "training length" in card["max_text_length_note"] and "max_position (512)" in card["max_text_length_note"]
    assert card["training"]["recipe"] == {"lr": 1e-4, "use_amc": True}
    assert isinstance(card["metrics"], dict)
    for f in ("image_encoder.onnx", "grounding.onnx"):
        assert card["sha256"][f] == export.sha256_file(str(out / f))
    assert (out / "vocab.txt").read_bytes() == open(export.VOCAB_PATH, "rb").read()

    # the fixture: its PNGs re-read and normalised give the stored PyTorch outputs, and so does ONNX
    fx = json.loads((out / "fixture.json").read_text())
    pixels = torch.stack([export.image_to_tensor(Image.open(io.BytesIO(base64.b64decode(p))))
                          for p in fx["images_png_base64"]])
    ids = torch.tensor(fx["input_ids"])
    att = torch.tensor(fx["attention_mask"])
    assert ids[0, 0] == 101 and 102 not in ids.tolist()[0]  # [CLS] first, no [SEP]
    enc = run_onnx(str(out / "image_encoder.onnx"), {"image": pixels.numpy()})
    grd = run_onnx(str(out / "grounding.onnx"), {"image_embeds": enc["image_embeds"], "input_ids": ids.numpy(),
                                                 "attention_mask": att.numpy()})
    for name in ("itm_logits", "gradcam", "token_gradcam"):
        assert rel_err(grd[name], np.array(fx[name], dtype=np.float32)) <= TOL, name
    assert rel_err(enc["image_embeds"][:, 0], np.array(fx["image_embeds_cls"], dtype=np.float32)) <= TOL


@needs_node
def test_fp16_embeddings_shrink_the_file_and_keep_parity(tmp_path):
    """--fp16-embeddings: word embeddings rounded in the model, stored as float16 + Cast; ONNX == PyTorch still."""
    torch.manual_seed(0)
    model = ALBEF(_tiny_cfg())
    ckpt = tmp_path / "checkpoint_00.pth"
    _save_checkpoint(ckpt, model)
    full, half = tmp_path / "full", tmp_path / "half"
    assert export.main(["--checkpoint", str(ckpt), "--out", str(full)]) == 0
    assert export.main(["--checkpoint", str(ckpt), "--out", str(half), "--fp16-embeddings"]) == 0
    table = model.cfg.vocab_size * model.cfg.text_width
    saved = os.path.getsize(full / "grounding.onnx") - os.path.getsize(half / "grounding.onnx")
    assert abs(saved - 2 * table) < 4096, saved  # float32 → float16: 2 bytes saved per entry
    card = json.loads((half / "model.json").read_text())
    assert card["sha256"]["grounding.onnx"] == export.sha256_file(str(half / "grounding.onnx"))
    assert any("float16" in n for n in card["training"]["notes"])
    fx = json.loads((half / "fixture.json").read_text())  # computed by PyTorch with the rounded table
    ids, att = np.array(fx["input_ids"]), np.array(fx["attention_mask"])
    rounded = export.model_from_checkpoint(str(ckpt), None, None)[0].eval()
    export.round_word_embeddings(rounded)
    with torch.no_grad():
        emb = rounded.encode_image(torch.randn(2, 3, 64, 64))
    ref = rounded.explain(emb, torch.from_numpy(ids), torch.from_numpy(att))
    grd = run_onnx(str(half / "grounding.onnx"), {"image_embeds": emb.numpy(), "input_ids": ids,
                                                  "attention_mask": att})
    for name in ("itm_logits", "gradcam", "token_gradcam"):
        assert rel_err(grd[name], ref[name].numpy()) <= TOL, name


def test_export_cli_errors_name_the_problem(tmp_path, capsys):
    assert export.main(["--checkpoint", str(tmp_path / "nope.pth"), "--out", str(tmp_path / "o")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    model = ALBEF(_tiny_cfg())
    state = model.state_dict()
    del state["itm_head.weight"]
    ckpt = tmp_path / "partial.pth"
    torch.save({"model": state, "model_config": model.cfg.to_dict()}, ckpt)
    assert export.main(["--checkpoint", str(ckpt), "--out", str(tmp_path / "o")]) == 2
    assert "itm_head.weight" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def _random_base(image_res: int) -> ALBEF:
    """ALBEF-base for export (no momentum copies, no MLM head), filled with N(0, 0.02) quickly."""
    cfg = ModelConfig.base(image_res)
    cfg.use_momentum_distill, cfg.queue_size, cfg.mlm_head = False, 0, False
    model = ALBEF(cfg, init_weights=False)
    g = torch.Generator().manual_seed(image_res)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight") or ".norm" in name and name.endswith("weight"):
                p.normal_(1.0, 0.05, generator=g)
            else:
                p.normal_(0.0, 0.02, generator=g)
        model.text_encoder.bert.embeddings.position_ids.copy_(torch.arange(512).view(1, -1))
    return model.eval()


@needs_node
@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("AMC_SLOW") != "1",
                    reason="ALBEF-base export takes minutes on 2 shared cores: run with AMC_SLOW=1")
@pytest.mark.parametrize("image_res", [256, 384])
def test_onnx_parity_base(tmp_path, image_res):
    model = _random_base(image_res)
    errors = _parity(model, str(tmp_path), B=2, T=9)
    for name in ("image_embeds", "itm_logits", "gradcam", "token_gradcam"):
        assert errors[name] <= TOL, (name, errors[name])


def test_checkpoint_loader_executes_nothing(tmp_path, capsys):
    import numpy as np_
    from amc_trainer.checkpoint_io import CheckpointSecurityError, safe_torch_load

    ok = tmp_path / "ok.pth"
    state = {"model": ALBEF(_tiny_cfg()).state_dict(), "config": {"lr": 1e-4}, "rng": np_.random.get_state()}
    torch.save(state, ok)
    loaded = safe_torch_load(str(ok))
    assert loaded["config"]["lr"] == 1e-4 and np_.array_equal(loaded["rng"][1], state["rng"][1])

    marker = tmp_path / "executed"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    evil = tmp_path / "evil.pth"
    torch.save({"model": {}, "x": Payload()}, evil)
    with pytest.raises(CheckpointSecurityError, match="posix.mkdir"):
        safe_torch_load(str(evil))
    assert export.main(["--checkpoint", str(evil), "--out", str(tmp_path / "o")]) == 2
    assert "refusing to load" in capsys.readouterr().err
    assert not marker.exists()


def test_model_from_checkpoint_infers_config_and_resolution(tmp_path):
    # an ALBEF-style checkpoint with no model_config, DDP 'module.' prefixes and the evaluation key set
    torch.manual_seed(0)
    cfg = _tiny_cfg(use_momentum_distill=True, queue_size=6, mlm_head=False)
    model = ALBEF(cfg)
    state = {"module." + k.replace("bert.", ""): v for k, v in model.state_dict().items()}
    path = tmp_path / "best_tiny.pth"
    torch.save({"model": state, "epoch": 4}, path)
    with pytest.raises(ValueError, match="do not match"):  # --config small is wider than this tiny model
        export.model_from_checkpoint(str(path), "small", None)
    torch.save({"model": state, "model_config": cfg.to_dict()}, path)
    loaded, _, missing, unexpected = export.model_from_checkpoint(str(path), None, 128)
    assert missing == [] and unexpected == []
    assert loaded.cfg.image_res == 128 and loaded.cfg.queue_size == 6 and not loaded.cfg.mlm_head
    assert loaded.visual_encoder.pos_embed.shape == (1, 65, 48)  # 4x4 grid interpolated to 8x8
