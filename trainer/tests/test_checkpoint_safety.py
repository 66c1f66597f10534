"""A checkpoint never runs code (issue 12 item 1): every command that reads one (train --init, train
--resume, eval, export, trainer/scripts) refuses a pickle payload in both torch formats with a message that
names the file and the refused global, exit code 2 and no traceback; foreign and truncated files get a
clear message too; real checkpoints in both formats still load."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import zipfile

import numpy as np
import pytest
import torch

from amc_trainer.checkpoint_io import CheckpointError, CheckpointSecurityError, read_checkpoint
from train_helpers import PYTHON, TINY_MODEL, TINY_RES, TRAINER_DIR, env, make_squares_dataset, tiny_args

FORMATS = {"zip": True, "legacy": False}  # torch.save's _use_new_zipfile_serialization


class _Payload:
    """Unpickling this runs `touch MARKER` through os.system (global posix.system)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def _tiny_state() -> dict:
    from amc_trainer.model import ALBEF, ModelConfig
    torch.manual_seed(0)
    cfg = dataclasses.replace(ModelConfig.small(TINY_RES), **TINY_MODEL)
    return {"model": ALBEF(cfg).state_dict(), "model_config": dataclasses.asdict(cfg)}


def _evil(path, marker, fmt: str) -> str:
    # A real-looking checkpoint (weights, config) whose config carries the payload.
    torch.save({**_tiny_state(), "config": {"lr": 1e-4, "note": _Payload(str(marker))}}, str(path),
               _use_new_zipfile_serialization=FORMATS[fmt])
    return str(path)


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    return make_squares_dataset(tmp_path_factory.mktemp("squares"), n_train=8, n_test=4)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_the_payload_is_live(tmp_path, fmt):
    # plain torch.load runs it: the commands' refusal below is what keeps the marker away
    marker = tmp_path / "ran"
    path = _evil(tmp_path / "evil.pth", marker, fmt)
    torch.load(path, map_location="cpu")
    assert marker.exists()


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_loader_refuses_the_global_in_process(tmp_path, fmt):
    marker = tmp_path / "ran"
    path = _evil(tmp_path / "evil.pth", marker, fmt)
    with pytest.raises(CheckpointSecurityError) as err:
        read_checkpoint(path)
    assert str(err.value).startswith(f"{path}: refusing to load posix.system")
    assert not marker.exists()


def _commands(path: str, squares, tmp_path) -> dict:
    resume_out = tmp_path / "resume_out"
    resume_out.mkdir()
    os.link(path, resume_out / "last.pth")
    trainer = [PYTHON, "-m", "amc_trainer"]
    return {
        "train --init": [*trainer, "train", *tiny_args(squares, tmp_path / "init_out"), "--init", path],
        "train --resume": [*trainer, "train", "--out", str(resume_out), "--resume"],
        "eval --checkpoint": [*trainer, "eval", "--checkpoint", path, "--data", str(squares / "vg_test.json")],
        "export": [*trainer, "export", "--checkpoint", path, "--out", str(tmp_path / "model")],
        "scripts/shape_diagnostics.py": [PYTHON, str(TRAINER_DIR / "scripts" / "shape_diagnostics.py"), path,
                                         str(tmp_path)],
    }


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_command_refuses_a_code_payload(squares, tmp_path, fmt):
    marker = tmp_path / "ran"
    path = _evil(tmp_path / "evil.pth", marker, fmt)
    for name, argv in _commands(path, squares, tmp_path).items():
        proc = subprocess.run(argv, cwd=str(TRAINER_DIR), env=env(), capture_output=True, text=True, timeout=300)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 2, (name, output)
        assert "Traceback" not in output, (name, output)
        assert "posix.system" in output and (path in output or "last.pth" in output), (name, output)
        assert not marker.exists(), name
    assert not (tmp_path / "model" / "model.json").exists()


def _foreign_files(tmp_path) -> dict:
    good_zip, good_legacy = tmp_path / "good.pth", tmp_path / "good_legacy.pth"
    torch.save(_tiny_state(), str(good_zip))
    torch.save(_tiny_state(), str(good_legacy), _use_new_zipfile_serialization=False)
    files = {}
    files["empty"] = tmp_path / "empty.pth"
    files["empty"].write_bytes(b"")
    files["random bytes"] = tmp_path / "random.pth"
    files["random bytes"].write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    files["JSON"] = tmp_path / "model.json"
    files["JSON"].write_text(json.dumps({"model": {"a": [1, 2]}}))
    files["foreign zip"] = tmp_path / "photos.zip"
    with zipfile.ZipFile(files["foreign zip"], "w") as z:
        z.writestr("readme.txt", "not a checkpoint")
    for name, src in (("truncated zip", good_zip), ("truncated legacy", good_legacy)):
        files[name] = tmp_path / f"cut_{src.name}"
        data = src.read_bytes()
        files[name].write_bytes(data[: len(data) // 2])
    files["folder"] = tmp_path / "a_folder.pth"
    files["folder"].mkdir()
    files["FIFO"] = tmp_path / "fifo.pth"
    os.mkfifo(files["FIFO"])
    return {k: str(v) for k, v in files.items()}


def test_foreign_and_truncated_files_get_a_clear_message(tmp_path):
    for kind, path in _foreign_files(tmp_path).items():
        with pytest.raises(CheckpointError) as err:
            read_checkpoint(path)
        assert str(err.value).startswith(f"{path}: "), (kind, str(err.value))
        assert "Traceback" not in str(err.value)


def test_commands_report_a_foreign_file_without_traceback(squares, tmp_path):
    files = _foreign_files(tmp_path)
    runs = [("truncated zip", name) for name in ("train --init", "train --resume", "eval --checkpoint", "export",
                                                 "scripts/shape_diagnostics.py")]
    runs += [("random bytes", "eval --checkpoint"), ("FIFO", "train --init"), ("JSON", "export")]
    for i, (kind, name) in enumerate(runs):
        work = tmp_path / f"run{i}"
        work.mkdir()
        path = files[kind]
        argv = _commands(path, squares, work)[name]
        proc = subprocess.run(argv, cwd=str(TRAINER_DIR), env=env(), capture_output=True, text=True, timeout=120)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 2, (kind, name, output)
        assert "Traceback" not in output and ("last.pth" in output or path in output), (kind, name, output)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_real_checkpoints_load_in_both_formats(tmp_path, fmt):
    # what train.py writes: weights, optimizer state, float configs, numpy RNG state, OrderedDicts
    state = _tiny_state()
    rng = {"python": __import__("random").getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    saved = {**state, "optimizer": opt.state_dict(), "config": {"lr": 1e-4, "betas": [0.9, 0.999]}, "rng": [rng],
             "epoch": 3, "torch_version": str(torch.__version__), "param": torch.nn.Parameter(torch.ones(2))}
    path = tmp_path / "real.pth"
    torch.save(saved, str(path), _use_new_zipfile_serialization=FORMATS[fmt])
    loaded = read_checkpoint(str(path))
    assert loaded["config"] == saved["config"] and loaded["epoch"] == 3
    assert all(torch.equal(loaded["model"][k], v) for k, v in state["model"].items())
    assert np.array_equal(loaded["rng"][0]["numpy"][1], rng["numpy"][1])
    assert loaded["rng"][0]["python"] == rng["python"]
    assert torch.equal(loaded["optimizer"]["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert isinstance(loaded["param"], torch.nn.Parameter)


def test_evaluate_does_not_import_train():
    # the checkpoint reader lives in its own module: no train <-> evaluate import circle
    code = "import sys, amc_trainer.evaluate; print('amc_trainer.train' in sys.modules)"
    proc = subprocess.run([PYTHON, "-c", code], cwd=str(TRAINER_DIR), env=env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
    import inspect
    from amc_trainer import evaluate
    assert "from .train" not in inspect.getsource(evaluate)
