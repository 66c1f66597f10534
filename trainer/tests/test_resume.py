"""`--resume` continues bit-for-bit: an interrupted run (at an epoch boundary, by SIGTERM mid-epoch, or
killed with SIGKILL after a checkpoint) resumed to the end equals the uninterrupted run, weights and
optimizer state alike."""
from __future__ import annotations

import json
import signal
import subprocess

import pytest

from train_helpers import PYTHON, TRAINER_DIR, assert_same_tensors, env, load, make_squares_dataset, parse_events
from train_helpers import run_cli, tiny_args

STEPS = 3  # per epoch


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    return make_squares_dataset(tmp_path_factory.mktemp("squares"))


@pytest.fixture(scope="module")
def straight(squares, tmp_path_factory):
    """The uninterrupted reference: 2 epochs of 3 steps."""
    out = tmp_path_factory.mktemp("straight")
    run = run_cli(["train", *tiny_args(squares, out, epochs=2, max_steps_per_epoch=STEPS)])
    assert run.returncode == 0, run.stderr
    return load(out / "last.pth")


def assert_same_run(a: dict, b: dict) -> None:
    assert a["step"] == b["step"] == 2 * STEPS
    assert_same_tensors(a["model"], b["model"])
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert sorted(sa) == sorted(sb)
    for k in sa:
        assert_same_tensors(sa[k], sb[k])


def test_resume_from_epoch_checkpoint_equals_uninterrupted(squares, straight, tmp_path):
    first = run_cli(["train", *tiny_args(squares, tmp_path, epochs=1, max_steps_per_epoch=STEPS)])
    assert first.returncode == 0, first.stderr
    second = run_cli(["train", "--out", str(tmp_path), "--resume", "--epochs", "2"])
    assert second.returncode == 0, second.stderr
    assert [e["step"] for e in second.of("step")] == [4, 5, 6]
    assert "resumed from" in second.stderr
    assert_same_run(load(tmp_path / "last.pth"), straight)
    # the epoch checkpoint of the resumed run is the one the straight run wrote too
    assert load(tmp_path / "checkpoint_01.pth")["step"] == 2 * STEPS


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, "-m", "amc_trainer", *args], cwd=str(TRAINER_DIR), env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigterm_saves_at_step_boundary_and_resume_equals_uninterrupted(squares, straight, tmp_path):
    proc = _start(["train", *tiny_args(squares, tmp_path, epochs=2, max_steps_per_epoch=STEPS)])
    seen = []
    for line in proc.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == "step":  # the first step is done: ask it to stop, like a cancelled VS Code task
            proc.send_signal(signal.SIGTERM)
            break
    rest, err = proc.communicate(timeout=120)
    events = seen + parse_events(rest)
    assert proc.returncode == 0, err
    ckpt = [e for e in events if e["event"] == "checkpoint"]
    assert ckpt[-1]["reason"] == "signal" and ckpt[-1]["path"] == str(tmp_path / "last.pth")
    done = events[-1]
    assert done["event"] == "done" and done["status"] == "interrupted" and done["signal"] == "SIGTERM"
    stopped_at = done["step"]
    assert 1 <= stopped_at < 2 * STEPS
    resumed = run_cli(["train", "--out", str(tmp_path), "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert [e["step"] for e in resumed.of("step")] == list(range(stopped_at + 1, 2 * STEPS + 1))
    assert_same_run(load(tmp_path / "last.pth"), straight)


def test_sigkill_after_checkpoint_then_resume_equals_uninterrupted(squares, straight, tmp_path):
    proc = _start(["train", *tiny_args(squares, tmp_path, epochs=2, max_steps_per_epoch=STEPS)])
    for line in proc.stdout:
        if json.loads(line)["event"] == "checkpoint":
            proc.kill()  # a crash: no handler runs
            break
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed_at = load(tmp_path / "last.pth")["step"]
    resumed = run_cli(["train", "--out", str(tmp_path), "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert len(resumed.of("step")) == 2 * STEPS - killed_at
    assert_same_run(load(tmp_path / "last.pth"), straight)
