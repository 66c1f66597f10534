"""trainer/scripts/recover_checkpoint_from_onnx.py: a checkpoint read back out of an exported model folder
re-exports to the same graphs, holds exactly the trained values of every parameter the graphs use, and names
the ones they do not; the exporter's card records the checkpoint it came from (`source_checkpoint`)."""
import importlib.util
import json
import os

import pytest
import torch

pytest.importorskip("onnx")

from amc_trainer import export  # noqa: E402
from amc_trainer.model import ALBEF, ModelConfig  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "scripts", "recover_checkpoint_from_onnx.py")
spec = importlib.util.spec_from_file_location("recover_checkpoint_from_onnx", SCRIPT)
recover = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recover)


def _trained(seed: int) -> ALBEF:
    """A tiny model whose parameters all differ, as after training (a fresh init has identical LayerNorm
    weights, which the ONNX exporter stores once)."""
    torch.manual_seed(seed)
    model = ALBEF(_tiny_cfg()).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return model


def _tiny_cfg() -> ModelConfig:
    return ModelConfig(image_res=64, patch_size=16, vision_width=48, vision_depth=2, vision_heads=2,
                       vision_mlp_dim=96, text_width=48, text_layers=4, text_heads=2, text_intermediate=96,
                       fusion_layer=2, gradcam_layer=3, embed_dim=32, use_momentum_distill=False, queue_size=0)


@pytest.mark.parametrize("fp16", [False, True], ids=["float32", "fp16-embeddings"])
def test_recovered_checkpoint_reexports_the_same_graphs(tmp_path, fp16):
    trained = _trained(7)
    shipped = str(tmp_path / "shipped")
    export.export_model(trained, shipped, name="tiny", fp16_word_embeddings=fp16)
    out = str(tmp_path / "shipped" / "checkpoint.pth")
    assert recover.main([shipped, "--out", out, "--verify"]) == 0

    card = json.load(open(os.path.join(shipped, "model.json")))
    assert card["source_checkpoint"] == {"file": "checkpoint.pth", "sha256": export.sha256_file(out)}
    ckpt = torch.load(out, map_location="cpu")
    info = ckpt["recovered_from_onnx"]
    # what no graph uses is named, not silently invented
    not_in_graphs = ("vision_proj.weight", "text_proj.weight", "temp",
                     "text_encoder.cls.predictions.transform.dense.weight")
    for key in not_in_graphs:
        assert key in info["not_recovered"], key
    assert "text_encoder.bert.embeddings.token_type_embeddings.weight" in info["partially_recovered"]
    want = trained.state_dict()
    skipped = set(info["not_recovered"]) | set(info["partially_recovered"])
    for key, value in ckpt["model"].items():
        if key in skipped or not value.is_floating_point():
            continue
        assert torch.equal(value.float(), want[key]), key   # bit-exact, float16 only where that is exact
    assert torch.equal(ckpt["model"]["text_encoder.bert.embeddings.token_type_embeddings.weight"][0].float(),
                       want["text_encoder.bert.embeddings.token_type_embeddings.weight"][0])

    # re-export the recovered checkpoint with the project's exporter: every initializer equal
    model, _, missing, _ = export.model_from_checkpoint(out, None, None)
    assert missing == []
    again = str(tmp_path / "again")
    export.export_model(model, again, name="again", fp16_word_embeddings=fp16)
    diff = recover.compare_exports(shipped, again)
    assert diff["initializer_max_abs_diff"] == 0.0
    assert max(diff["fixture_max_abs_diff"].values()) < 1e-5


def test_graphs_of_another_architecture_are_refused(tmp_path):
    shipped = str(tmp_path / "m")
    export.export_model(_trained(0), shipped, name="m", with_fixture=False)
    card_path = os.path.join(shipped, "model.json")
    card = json.load(open(card_path))
    card["config"]["text_layers"] = 5   # the card no longer describes the graphs
    json.dump(card, open(card_path, "w"))
    assert recover.main([shipped, "--out", str(tmp_path / "c.pth"), "--no-card"]) == 2
    assert not os.path.exists(tmp_path / "c.pth")


def test_export_card_records_the_source_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = ALBEF(_tiny_cfg())
    ckpt = str(tmp_path / "last.pth")
    torch.save({"model": model.state_dict(), "model_config": model.cfg.to_dict()}, ckpt)
    out = str(tmp_path / "exported")
    assert export.main(["--checkpoint", ckpt, "--out", out]) == 0
    card = json.load(open(os.path.join(out, "model.json")))
    assert card["source_checkpoint"] == {"file": os.path.abspath(ckpt), "sha256": export.sha256_file(ckpt)}
    beside = str(tmp_path / "beside")
    os.makedirs(beside)
    os.replace(ckpt, os.path.join(beside, "checkpoint.pth"))
    assert export.main(["--checkpoint", os.path.join(beside, "checkpoint.pth"), "--out", beside]) == 0
    card = json.load(open(os.path.join(beside, "model.json")))
    assert card["source_checkpoint"]["file"] == "checkpoint.pth"
