"""Distributed evaluation: `python -m amc_trainer eval` under a real 2-process torchrun (gloo on CPU) writes one
report equal, record by record, to the single-process report on the bundled synthetic data; only rank 0 writes
and logs. Launched through amc_trainer.torchrun (torch.distributed.run with Debian torch 1.13's flag-parsing
bug patched, see that module)."""
from __future__ import annotations

import dataclasses
import json
import subprocess

import pytest
import torch

from amc_trainer.evaluate import evaluate_queries, load_queries, shard_batches
from train_helpers import PYTHON, TINY_MODEL, TINY_RES, TRAINER_DIR, Run, env

SYNTHETIC = TRAINER_DIR.parent / "samples" / "synthetic"


def test_shards_are_whole_batches_covering_every_batch_in_order():
    for n, batch, world in [(40, 3, 2), (41, 8, 3), (5, 8, 4), (0, 4, 2), (16, 4, 4), (7, 1, 7)]:
        shards = [shard_batches(n, batch, r, world) for r in range(world)]
        assert [b for s in shards for b in s] == list(range(-(-n // batch)))
    # 14 batches of 3 over 2 ranks: 7 batches each, the last one short
    assert [shard_batches(40, 3, r, 2) for r in range(2)] == [range(0, 7), range(7, 14)]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from amc_trainer.model import ALBEF, ModelConfig
    torch.manual_seed(0)
    cfg = dataclasses.replace(ModelConfig.small(TINY_RES), **TINY_MODEL)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pth"
    torch.save({"model": ALBEF(cfg).state_dict(), "model_config": dataclasses.asdict(cfg)}, path)
    return path


def _eval(prefix: list[str], checkpoint, data, out, threads: str = "1") -> Run:
    e = env()
    e["OMP_NUM_THREADS"] = threads  # torchrun's default per worker; the same kernels in both runs
    cmd = [*prefix, "-m", "amc_trainer", "eval", "--checkpoint", str(checkpoint), "--data", str(data),
           "--out", str(out), "--batch-size", "3", "--device", "cpu"]
    return Run(subprocess.run(cmd, cwd=str(TRAINER_DIR), env=e, capture_output=True, text=True, timeout=300))


def test_two_gloo_processes_write_the_single_process_report(tiny_checkpoint, tmp_path):
    data = SYNTHETIC / "refcoco+_test.json"
    single = _eval([PYTHON], tiny_checkpoint, data, tmp_path / "one.json")
    assert single.returncode == 0, single.stderr
    ddp = _eval([PYTHON, "-m", "amc_trainer.torchrun", "--standalone", "--nproc_per_node=2"], tiny_checkpoint, data,
                tmp_path / "two.json")
    assert ddp.returncode == 0, ddp.stderr
    assert "across 2 processes" in ddp.stderr and ddp.stderr.count("evaluating ") == 1  # rank 0 logs alone
    expected_event = {**single.of("eval")[0], "report": str(tmp_path / "two.json")}
    assert len(ddp.of("eval")) == 1 and ddp.of("eval")[0] == expected_event
    one, two = json.loads((tmp_path / "one.json").read_text()), json.loads((tmp_path / "two.json").read_text())
    n = len(load_queries(str(data)))
    assert n == 40 and len(one["samples"]) == len(two["samples"]) == n  # 14 batches of 3: rank 0 has 21, rank 1 19
    for i, (a, b) in enumerate(zip(one["samples"], two["samples"])):
        assert a == b, f"record {i} differs: {a} != {b}"
    assert {k: v for k, v in one.items() if k != "samples"} == {k: v for k, v in two.items() if k != "samples"}
    assert len({r["score"] for r in one["samples"]}) > 20  # distinct scores: the equality above is bit for bit


def test_a_shard_replays_the_single_process_image_batches(tiny_checkpoint):
    """In-process: any run of batches gives exactly the records of the full run (scores bit for bit), although
    the shard starts with none of the image embeddings the full run had cached."""
    from amc_trainer.train import read_checkpoint
    from amc_trainer.model import ALBEF, ModelConfig
    from amc_trainer.tokenizer import BertTokenizer
    ckpt = read_checkpoint(str(tiny_checkpoint))
    model = ALBEF(ModelConfig(**ckpt["model_config"]))
    model.load_state_dict(ckpt["model"])
    model.eval()
    queries = load_queries(str(SYNTHETIC / "refcoco+_test.json"))
    tok = BertTokenizer.from_vocab()
    full = evaluate_queries(model, queries, tok, image_res=TINY_RES, batch_size=3)
    parts = [evaluate_queries(model, queries, tok, image_res=TINY_RES, batch_size=3, batches=range(lo, hi))
             for lo, hi in [(0, 5), (5, 8), (8, 14)]]
    assert [r for p in parts for r in p] == full


def test_a_failing_rank_is_reported_by_rank_0_and_nobody_hangs(tiny_checkpoint, tmp_path):
    run = _eval([PYTHON, "-m", "amc_trainer.torchrun", "--standalone", "--nproc_per_node=2"],
                tmp_path / "missing.pth", SYNTHETIC / "refcoco+_test.json", tmp_path / "r.json")
    assert run.returncode != 0
    errors = run.of("error")
    assert len(errors) == 1 and "missing.pth" in errors[0]["message"] and errors[0]["message"].startswith("rank 0:")
    assert not (tmp_path / "r.json").exists()
