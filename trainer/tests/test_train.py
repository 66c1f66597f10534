"""Training: config precedence, docs/reference.md §3 schedule and decay groups, JSON-lines events, checkpoints,
non-finite loss handling. Runs the real CLI on a tiny model and dataset."""
from __future__ import annotations

import hashlib
import json
import math

import pytest
import torch

from amc_trainer.config import ConfigError, TrainConfig, build_config, parse_overrides
from amc_trainer.optim import build_optimizer, learning_rate
from pathlib import Path

from train_helpers import TINY_MODEL, load, make_squares_dataset, run_cli, tiny_args


CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    return make_squares_dataset(tmp_path_factory.mktemp("squares"))


def test_defaults_are_amcs_recipe():
    cfg = TrainConfig()
    assert (cfg.lr, cfg.min_lr, cfg.warmup_lr, cfg.warmup_steps) == (1e-5, 1e-6, 1e-6, 2000)
    assert cfg.weight_decay == 0.02 and cfg.seed == 42 and cfg.image_res == 256
    assert cfg.amc_weights == [0.2, 0.8] and cfg.amc_margins == [0.1, 0.5]
    assert cfg.max_text_length == 25 and cfg.schedule == "amc" and cfg.cosine_epochs == 30


def test_config_file_then_command_line(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"_comment": "ignored", "lr": 0.001, "batch_size": 8, "use_amc": False,
                                "amc_margins": [0.2, 0.6]}))
    cfg = build_config(str(path), parse_overrides(["--batch-size", "12", "--use-mlm", "--epochs=3",
                                                   "--model-overrides", '{"vision_depth": 2}']))
    assert cfg.lr == 0.001 and cfg.batch_size == 12 and cfg.use_amc is False and cfg.use_mlm is True
    assert cfg.epochs == 3 and cfg.amc_margins == [0.2, 0.6] and cfg.model_overrides == {"vision_depth": 2}


def test_config_errors_name_the_source(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"learning_rate": 0.1}))
    with pytest.raises(ConfigError, match=r"bad\.json: unknown config key 'learning_rate'"):
        build_config(str(path), {})
    with pytest.raises(ConfigError, match="command line: bad value for 'batch_size'"):
        build_config(None, {"batch-size": "many"})
    (tmp_path / "broken.json").write_text("{lr: 1")
    with pytest.raises(ConfigError, match=r"broken\.json: not valid JSON \(line 1"):
        build_config(str(tmp_path / "broken.json"), {})


def test_augmentation_keys_default_to_the_spec_and_validate(tmp_path):
    cfg = TrainConfig()
    # docs/reference.md §2 step 6
    assert (cfg.gray_p, cfg.color_jitter, cfg.jitter_p) == (0.2, [0.4, 0.4, 0.4, 0.4], 0.5)
    synth = build_config(str(CONFIGS / "small-synthetic.json"), {})  # colour words are its labels: no hue, no gray
    assert synth.gray_p == 0.0 and synth.color_jitter[3] == 0.0
    for bad, why in (({"color_jitter": [0.4, 0.4]}, "color_jitter takes four"), ({"gray_p": 1.5}, "probabilities")):
        (tmp_path / "a.json").write_text(json.dumps(bad))
        with pytest.raises(ConfigError, match=why):
            build_config(str(tmp_path / "a.json"), {}).validate()


def test_amc_schedule_matches_spec_section_3():
    cfg = TrainConfig()  # lr 1e-5, warmup 1e-6 over 2000 iterations in plateaus of 100, cosine T=30
    lr = lambda epoch, i: learning_rate(cfg, epoch, i, 0, 0)  # noqa: E731
    assert lr(0, 0) == lr(0, 99) == pytest.approx(1e-6)
    assert lr(0, 100) == pytest.approx(1e-6 + 1 * 9e-6 / 20)
    assert lr(0, 1999) == pytest.approx(1e-6 + 19 * 9e-6 / 20)
    assert lr(0, 2000) == lr(0, 50000) == pytest.approx(1e-5)
    for e in (1, 7, 29):
        assert lr(e, 0) == pytest.approx(1e-6 + 0.5 * 9e-6 * (1 + math.cos(math.pi * e / 30)))
    cos = TrainConfig(schedule="cosine", lr=1e-3, warmup_steps=10, min_lr=1e-5, warmup_lr=0.0)
    assert learning_rate(cos, 0, 5, 5, 110) == pytest.approx(5e-4)
    assert learning_rate(cos, 0, 60, 60, 110) == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5))
    assert learning_rate(cos, 0, 110, 110, 110) == pytest.approx(1e-5)


def test_no_weight_decay_for_1d_and_bias_parameters():
    from amc_trainer.model import ALBEF, ModelConfig
    model = ALBEF(ModelConfig(**{**ModelConfig.small(64).__dict__, **TINY_MODEL}))
    opt = build_optimizer(model, TrainConfig())
    decayed = {id(p) for p in opt.param_groups[0]["params"]}
    names = {id(p): n for n, p in model.named_parameters()}
    assert opt.param_groups[0]["weight_decay"] == 0.02 and opt.param_groups[1]["weight_decay"] == 0.0
    for p in opt.param_groups[1]["params"]:
        assert p.ndim <= 1 or names[id(p)].endswith(".bias")
    for n, p in model.named_parameters():
        if p.ndim > 1 and not n.endswith(".bias"):
            assert id(p) in decayed, n
    assert id(model.visual_encoder.pos_embed) in decayed  # 3-D: decayed, as in the reference


def test_switched_off_terms_are_not_computed(squares, tmp_path):
    """AMC only (the default model's objective): ITC and ITM are neither computed nor in the loss, so the run
    pays for no hard-negative fusion passes (they were once computed and subtracted: ~17 % of a CPU step)."""
    run = run_cli(["train", *tiny_args(squares, tmp_path / "run", epochs=1, max_steps_per_epoch=2,
                                       use_itc="false", use_itm="false")])
    assert run.returncode == 0, run.stderr
    for e in run.of("step"):
        assert e["itc"] == 0.0 and e["itm"] == 0.0
        assert e["loss"] == pytest.approx(0.2 * e["amc_mean"] + 0.8 * e["amc_max"], rel=1e-4, abs=1e-6)


def test_events_checkpoints_and_eval(squares, tmp_path):
    out = tmp_path / "run"
    run = run_cli(["train", *tiny_args(squares, out, epochs=2, max_steps_per_epoch=3,
                                       eval_file=squares / "vg_test.json", eval_image_root=squares, eval_every=1)])
    assert run.returncode == 0, run.stderr
    kinds = [e["event"] for e in run.events]
    assert kinds == (["step"] * 3 + ["epoch", "eval", "checkpoint"] + ["step"] * 3
                     + ["epoch", "eval", "checkpoint", "done"])
    for e in run.of("step"):
        for key in ("epoch", "step", "loss", "itc", "itm", "amc_mean", "amc_max", "lr", "samples_per_s", "eta_s"):
            assert key in e, key
        assert math.isfinite(e["loss"]) and e["samples_per_s"] > 0
    assert [e["step"] for e in run.of("step")] == [1, 2, 3, 4, 5, 6]
    assert run.of("step")[-1]["eta_s"] == 0
    assert run.of("eval")[0]["splits"]["test"]["n"] == 6
    ckpts = run.of("checkpoint")
    assert [c["path"] for c in ckpts] == [str(out / "checkpoint_00.pth"), str(out / "checkpoint_01.pth")]
    assert run.of("done")[0]["status"] == "finished"
    assert "training small model" in run.stderr  # human text goes to stderr, never to stdout

    ck = load(out / "checkpoint_01.pth")
    for key in ("model", "optimizer", "lr_scheduler", "config", "model_config", "epoch", "step", "rng"):
        assert key in ck, key
    assert ck["epoch"] == 1 and ck["step"] == 6 and ck["next_epoch"] == 2 and ck["next_step_in_epoch"] == 0
    assert set(ck["rng"][0]) >= {"python", "numpy", "torch"}
    assert ck["config"]["model_overrides"] == TINY_MODEL
    last = load(out / "last.pth")
    assert all(torch.equal(last["model"][k], ck["model"][k]) for k in ck["model"])
    assert not list(out.glob("*.tmp-*"))  # atomic writes leave no temporary files


def test_bad_input_is_a_clear_error_event(squares, tmp_path):
    run = run_cli(["train", *tiny_args(squares, tmp_path / "x")[2:], "--data", str(tmp_path / "missing.json")])
    assert run.returncode != 0
    assert run.events[-1]["event"] == "error" and "missing.json" in run.events[-1]["message"]
    run = run_cli(["train", *tiny_args(squares, tmp_path / "y"), "--batch-sise", "4"])
    assert run.returncode == 2 and "unknown config key 'batch-sise'" in run.events[-1]["message"]
    run = run_cli(["train", "--out", str(tmp_path / "z"), "--resume"])
    assert run.returncode != 0 and "nothing to resume" in run.events[-1]["message"]


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(squares, tmp_path):
    out = tmp_path / "run"
    first = run_cli(["train", *tiny_args(squares, out, epochs=1, max_steps_per_epoch=2)])
    assert first.returncode == 0, first.stderr
    digest = hashlib.sha256((out / "last.pth").read_bytes()).hexdigest()
    # A learning rate of 1e30 is a real divergence: the weights overflow and the next loss is not finite.
    run = run_cli(["train", "--out", str(out), "--resume", "--epochs", "2", "--lr", "1e30", "--schedule", "constant"])
    assert run.returncode == 1, run.stderr
    error = run.events[-1]
    assert error["event"] == "error" and "non-finite loss" in error["message"]
    assert error["step"] in (3, 4) and f"global step {error['step']}" in error["message"]
    assert error["checkpoint"] == str(out / "last.pth")
    assert not run.of("checkpoint")
    assert hashlib.sha256((out / "last.pth").read_bytes()).hexdigest() == digest
    assert not (out / "checkpoint_01.pth").exists()
