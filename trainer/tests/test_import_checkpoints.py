"""`amc import` on the Python side: the architecture is read off the tensor shapes of ALBEF-base checkpoints in
the three released key layouts (never guessed), the keys map one to one onto the model, a checkpoint of no known
architecture is refused with the reason, every missing key is named, and the card says whether ITM was trained.
Base-size weights are never filled or copied here (uninitialised tensors, key and shape checks only); the full
base export + explain runs once in test/unit/cli/import.test.ts."""
import json

import pytest
import torch

from amc_trainer import export
from amc_trainer.model import _DERIVED_KEY_SUFFIXES, ALBEF, ModelConfig, normalize_checkpoint_keys
from release_checkpoints import LAYOUTS, base_model, layout_keys

LAYOUT_WORDS = {"albef-pretrain": "ALBEF pre-training", "amc-full": "AMC full", "amc-eval": "AMC evaluation"}


def _release(layout: str, image_res: int = 256):
    model = base_model(layout, image_res)
    state = layout_keys(layout, model.state_dict())
    ckpt = {"model": state}
    if layout == "albef-pretrain":
        ckpt["config"] = {"queue_size": 65536}  # ALBEF's yaml config: no use_itm key (ITM was on)
    return model, ckpt


@pytest.mark.parametrize("layout", LAYOUTS)
def test_base_layouts_are_detected_and_map_key_for_key(layout):
    source_model, ckpt = _release(layout)
    assert LAYOUT_WORDS[layout] in export.key_layout(ckpt, ckpt["model"])
    state = export._strip_prefixes(ckpt["model"])
    cfg, source = export.resolve_architecture(ckpt, state, None)
    assert "'base'" in source and "detected" in source
    base = ModelConfig.base()
    for field in export.STRUCTURAL_FIELDS + ("vision_heads", "text_heads", "gradcam_layer", "image_res"):
        assert getattr(cfg, field) == getattr(base, field), field
    # the model the exporter builds for it takes every checkpoint key with its shape, and misses none
    cfg.mlm_head = any(".cls.predictions." in k for k in state)
    cfg.use_momentum_distill = any(k.startswith("visual_encoder_m.") for k in state)
    cfg.queue_size = int(state["image_queue"].shape[1]) if "image_queue" in state else 0
    cfg.queue_ptr_style = "albef" if "queue_ptr" in state else "amc"
    target = ALBEF(cfg, init_weights=False)
    own = target.state_dict()
    mapped = normalize_checkpoint_keys(target, state)
    assert sorted(k for k in own if k not in mapped and not k.endswith(_DERIVED_KEY_SUFFIXES)) == []
    assert sorted(k for k in mapped if k not in own) == []
    assert all(tuple(mapped[k].shape) == tuple(own[k].shape) for k in mapped)
    assert export.itm_head_trained(ckpt) is True  # a release: ALBEF/AMC train ITM


def test_image_res_comes_from_pos_embed():
    _, ckpt = _release("amc-eval", 384)
    cfg, _ = export.resolve_architecture(ckpt, export._strip_prefixes(ckpt["model"]), None)
    assert cfg.image_res == 384 and cfg.grid == 24


def _tiny_ckpt(**extra):
    cfg = ModelConfig(image_res=64, vision_width=48, vision_depth=2, vision_heads=2, vision_mlp_dim=96, text_width=48,
                      text_layers=4, text_heads=2, text_intermediate=96, fusion_layer=2, gradcam_layer=3, embed_dim=32)
    torch.manual_seed(0)
    return cfg, {"model": ALBEF(cfg).state_dict(), **extra}


def test_unknown_architecture_is_refused_with_the_reason(tmp_path, capsys):
    _, ckpt = _tiny_ckpt()
    path = tmp_path / "mystery.pth"
    torch.save(ckpt, path)
    assert export.main(["--checkpoint", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "matches no known architecture" in err
    assert "base: " in err and "vision_width 48 (checkpoint) vs 768" in err
    assert "vision_depth 2 (checkpoint) vs 12" in err
    assert "small: " in err and "--config FILE" in err
    assert not (tmp_path / "out").exists()
    # the named architecture that does not fit is refused too, naming the field
    assert export.main(["--checkpoint", str(path), "--out", str(tmp_path / "out"), "--config", "small"]) == 2
    assert "do not match --config small" in capsys.readouterr().err


def test_config_file_supplies_what_the_shapes_cannot(tmp_path, capsys):
    cfg, ckpt = _tiny_ckpt(config={"use_itm": False})
    path = tmp_path / "mine.pth"
    torch.save(ckpt, path)
    conf = tmp_path / "model.json"
    conf.write_text(json.dumps(cfg.to_dict()))
    loaded, _, missing, unexpected = export.model_from_checkpoint(str(path), str(conf), None)
    assert (missing, unexpected) == ([], [])
    assert loaded.cfg.gradcam_layer == 3 and loaded.cfg.text_heads == 2
    assert export.itm_head_trained(ckpt) is False
    # a trainer config (model + model_overrides) works as well
    conf.write_text(json.dumps({"model": "small", "model_overrides": {
        k: getattr(cfg, k) for k in ("vision_width", "vision_depth", "vision_heads", "vision_mlp_dim", "text_width",
                                     "text_layers", "text_heads", "text_intermediate", "fusion_layer",
                                     "gradcam_layer", "embed_dim")}}))
    assert export.model_from_checkpoint(str(path), str(conf), None)[2] == []


def test_missing_keys_are_named_and_refused(tmp_path, capsys):
    cfg, ckpt = _tiny_ckpt(model_config=None)
    ckpt["model_config"] = cfg.to_dict()
    del ckpt["model"]["itm_head.bias"]
    ckpt["model"]["extra.thing"] = torch.zeros(1)
    path = tmp_path / "holes.pth"
    torch.save(ckpt, path)
    assert export.main(["--checkpoint", str(path), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert "itm_head.bias" in captured.err and "extra.thing" in captured.err
    events = [json.loads(line) for line in captured.out.splitlines()]
    keys = next(e for e in events if e["event"] == "keys")
    assert keys == {"event": "keys", "missing": ["itm_head.bias"], "unexpected": ["extra.thing"]}
    assert events[-1]["event"] == "error" and "itm_head.bias" in events[-1]["message"]
    assert not (tmp_path / "out").exists()


def test_card_states_itm_training_and_source(tmp_path, capsys):
    cfg, ckpt = _tiny_ckpt(config={"use_itm": False, "use_amc": True})
    ckpt["model_config"] = cfg.to_dict()
    path = tmp_path / "amc_only.pth"
    torch.save(ckpt, path)
    out = tmp_path / "amc_only-onnx"
    assert export.main(["--checkpoint", str(path), "--out", str(out)]) == 0
    card = json.loads((out / "model.json").read_text())
    assert card["itm_trained"] is False
    assert card["source_checkpoint"] == {"file": str(path), "sha256": export.sha256_file(str(path))}
    assert card["checkpoint_keys"]["missing"] == [] and "amc_trainer" in card["checkpoint_keys"]["layout"]
    stages = [json.loads(line).get("stage") for line in capsys.readouterr().out.splitlines()]
    assert stages[:1] == ["load"] and {"image_encoder", "grounding", "fixture"} <= set(stages)
