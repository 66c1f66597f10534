"""Loading checkpoints without executing code from them.

`torch.load` unpickles, and a pickle can call any importable function. torch 1.13's `weights_only=True`
loader is safe but rejects plain floats (pickle opcode BINFLOAT, "Unsupported operand 71"), so it cannot
read ALBEF's or our checkpoints (their configs hold floats). `safe_torch_load` gives torch.load an
unpickler that resolves only an allow-list of classes: tensors/storages, containers and the numpy types
that RNG states are made of. Anything else fails with the class named."""
from __future__ import annotations

import collections
import pickle
from types import ModuleType
from typing import Any

import torch

_ALLOWED = {
    ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "complex"),
    ("_codecs", "encode"),  # how protocol-2 pickles spell bytes (numpy arrays inside RNG states)
    ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch", "Size"), ("torch", "device"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}
_TORCH_DTYPES = {name for name in dir(torch) if isinstance(getattr(torch, name, None), torch.dtype)}


class CheckpointSecurityError(pickle.UnpicklingError):
    pass


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED or (module == "torch" and name in _TORCH_DTYPES) \
                or (module == "numpy" and name.endswith("DType")) or (module == "numpy.dtypes"):
            return super().find_class(module, name)
        raise CheckpointSecurityError(f"refusing to load {module}.{name}: checkpoints may only hold tensors, "
                                      "numbers, strings and containers")


_restricted_pickle = ModuleType("amc_restricted_pickle")
_restricted_pickle.Unpickler = _RestrictedUnpickler  # type: ignore[attr-defined]
_restricted_pickle.load = pickle.load  # type: ignore[attr-defined]
_restricted_pickle.__dict__["__name__"] = "amc_restricted_pickle"


def safe_torch_load(path: str) -> Any:
    """torch.load(path, map_location='cpu') that executes nothing from the file (torch 1.13 and 2.x)."""
    if int(torch.__version__.split(".")[0]) >= 2:
        return torch.load(path, map_location="cpu", pickle_module=_restricted_pickle, weights_only=False)
    # torch 1.13's torch.load replaces any pickle_module by `pickle` when weights_only is False, so the
    # zip archive is read through its loader directly, with our unpickler.
    ser = torch.serialization
    with open(path, "rb") as f:
        if not ser._is_zipfile(f):
            raise CheckpointSecurityError(f"{path}: legacy (pre-1.6, non-zip) torch format is not supported")
        with ser._open_zipfile_reader(f) as archive:
            return ser._load(archive, "cpu", _restricted_pickle, encoding="utf-8")


__all__ = ["safe_torch_load", "CheckpointSecurityError"]
_ = collections  # imported for the allow-list's module
