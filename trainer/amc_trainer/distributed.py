"""Distributed setup and RNG state: DDP under torchrun (gloo on CPU, nccl on CUDA), the collective helpers
the training loop needs to make every rank agree, and the per-rank RNG states a checkpoint carries (resume
is bit-for-bit because they are restored at a step boundary)."""
from __future__ import annotations

import os
import random

import numpy as np
import torch
import torch.distributed as dist

from .config import ConfigError


class DistInfo:
    def __init__(self, rank: int, world_size: int, local_rank: int, device: torch.device, initialized: bool):
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank
        self.device, self.initialized = device, initialized

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_pref: str) -> DistInfo:
    """DDP when launched by torchrun (RANK in the environment): gloo on CPU, nccl on CUDA."""
    launched = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    rank = int(os.environ.get("RANK", "0")) if launched else 0
    world_size = int(os.environ.get("WORLD_SIZE", "1")) if launched else 1
    local_rank = int(os.environ.get("LOCAL_RANK", "0")) if launched else 0
    use_cuda = device_pref == "cuda" or (device_pref == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise ConfigError("config: device 'cuda' requested but torch sees no CUDA device")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if launched and world_size > 1:
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", rank=rank, world_size=world_size)
        return DistInfo(rank, world_size, local_rank, device, True)
    return DistInfo(0, 1, 0, device, False)


def all_reduce_max_flags(flags: list[int], info: DistInfo) -> list[int]:
    """Make every rank agree on boolean-ish flags (stop requested, non-finite loss)."""
    if not info.initialized:
        return flags
    t = torch.tensor(flags, dtype=torch.int64, device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [int(v) for v in t.tolist()]


def all_reduce_mean(values: list[float], info: DistInfo) -> list[float]:
    if not info.initialized:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return [v / info.world_size for v in t.tolist()]


def capture_rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def gather_rng_states(info: DistInfo) -> list:
    state = capture_rng_state()
    if not info.initialized:
        return [state]
    states: list = [None] * info.world_size
    dist.all_gather_object(states, state)
    return states
