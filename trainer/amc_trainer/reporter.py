"""Training progress out: JSON-lines events on stdout (rank 0 only) for the VS Code task, human text on stderr.

The events and their fields are listed in train.py's docstring.
"""
from __future__ import annotations

import json
import math
import sys
from typing import Any, Optional

import numpy as np
import torch


class Reporter:
    """JSON-lines events on stdout (rank 0 only) and human text on stderr."""

    def __init__(self, rank: int, world_size: int):
        self.rank = rank
        self.world_size = world_size

    def event(self, name: str, **fields: Any) -> None:
        if self.rank != 0:
            return
        line = json.dumps({"event": name, **fields}, allow_nan=False, default=_json_default)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def say(self, text: str, all_ranks: bool = False) -> None:
        if self.rank == 0 or all_ranks:
            prefix = f"[rank {self.rank}] " if self.world_size > 1 else ""
            sys.stderr.write(prefix + text + "\n")
            sys.stderr.flush()


def _json_default(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def finite_or_none(value: float) -> Optional[float]:
    return value if math.isfinite(value) else None
