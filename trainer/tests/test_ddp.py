"""DDP: a real 2-process torchrun (gloo on CPU) trains a few steps; both ranks end with identical weights,
only rank 0 writes events and checkpoints, and the weights did change. Launched through
amc_trainer.torchrun, which is torch.distributed.run with a Python 3.11 flag-parsing bug of Debian's torch
1.13 patched (see that module)."""
from __future__ import annotations

import subprocess

import pytest
import torch

from train_helpers import (PYTHON, TRAINER_DIR, Run, assert_same_tensors, break_dataset, env, load,
                           make_squares_dataset, tiny_args)


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    return make_squares_dataset(tmp_path_factory.mktemp("squares"), n_train=32)


def test_two_process_torchrun_ranks_stay_identical(squares, tmp_path):
    out, ranks = tmp_path / "run", tmp_path / "ranks"
    cmd = [PYTHON, "-m", "amc_trainer.torchrun", "--standalone", "--nproc_per_node=2", "-m", "amc_trainer", "train",
           *tiny_args(squares, out, epochs=2, max_steps_per_epoch=2, rank_weights_dir=ranks)]
    run = Run(subprocess.run(cmd, cwd=str(TRAINER_DIR), env=env(), capture_output=True, text=True, timeout=300))
    assert run.returncode == 0, run.stderr
    assert "2 process(es)" in run.stderr and "[rank 1]" not in run.stdout
    assert len(run.of("done")) == 1 and len(run.of("checkpoint")) == 2  # rank 0 only
    assert [e["step"] for e in run.of("step")] == [1, 2, 3, 4]
    # 32 samples / (2 ranks x batch 4) = 4 steps available, capped at 2 per epoch
    rank0, rank1 = load(ranks / "rank0.pth"), load(ranks / "rank1.pth")
    params = {n for n, p in _named_trainables(rank0)}
    assert_same_tensors({k: rank0[k] for k in params}, {k: rank1[k] for k in params})
    last = load(out / "last.pth")
    assert_same_tensors(last["model"], rank0)
    assert last["world_size"] == 2 and len(last["rng"]) == 2
    assert not torch.equal(last["rng"][0]["torch"], last["rng"][1]["torch"])  # seed + rank
    first = load(out / "checkpoint_00.pth")["model"]
    changed = [k for k in params if not torch.equal(first[k], rank0[k])]
    assert len(changed) > len(params) // 2


def _named_trainables(state: dict):
    return [(k, v) for k, v in state.items() if v.dtype.is_floating_point]


def test_two_process_preflight_lists_once_and_both_ranks_skip_the_same_samples(tmp_path):
    data = make_squares_dataset(tmp_path / "data", n_train=32, n_test=2)
    expect = break_dataset(data)
    base = [PYTHON, "-m", "amc_trainer.torchrun", "--standalone", "--nproc_per_node=2", "-m", "amc_trainer", "train"]
    stop = Run(subprocess.run([*base, *tiny_args(data, tmp_path / "stop", epochs=1, max_steps_per_epoch=1)],
                              cwd=str(TRAINER_DIR), env=env(), capture_output=True, text=True, timeout=300))
    assert stop.returncode == 2 and not stop.of("step") and "Traceback" not in stop.stderr, stop.stderr
    assert sorted(e["entry"] for e in stop.of("error")[:-1]) == sorted(expect)  # rank 0 lists each once
    ranks = tmp_path / "ranks"
    skip = Run(subprocess.run([*base, *tiny_args(data, tmp_path / "skip", epochs=1, max_steps_per_epoch=2,
                                                 rank_weights_dir=ranks), "--skip_bad_samples"],
                              cwd=str(TRAINER_DIR), env=env(), capture_output=True, text=True, timeout=300))
    assert skip.returncode == 0, skip.stderr
    assert [e["skipped_samples"] for e in skip.of("epoch")] == [len(expect)]
    rank0, rank1 = load(ranks / "rank0.pth"), load(ranks / "rank1.pth")
    params = {n for n, _ in _named_trainables(rank0)}
    assert_same_tensors({k: rank0[k] for k in params}, {k: rank1[k] for k in params})
