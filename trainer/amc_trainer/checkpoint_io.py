"""The one way the trainer reads a checkpoint: tensors and plain data only, never code.

`torch.load` unpickles, and a pickle can call any importable function (a `__reduce__` payload naming
`posix.system` runs a shell command while loading). torch 1.13's `weights_only=True` loader is safe but
rejects plain floats (pickle opcode BINFLOAT, "Unsupported operand 71"), so it cannot read ALBEF's or our
checkpoints (their configs hold floats), and torch 2.x's refuses the numpy arrays of our RNG states. So
`read_checkpoint` gives torch's own zip and legacy readers an unpickler that resolves only an allow-list:
tensors/storages and what torch rebuilds them with, containers, and the numpy types RNG states are made of.
Anything else is refused naming the file and the global. Every command that reads a checkpoint (train
--init/--resume, eval, export, trainer/scripts) goes through here.

Both on-disk formats are read: the zip archive (torch >= 1.6) and the legacy pickle stream
(`_use_new_zipfile_serialization=False`, pre-1.6). torch 1.13's `torch.load` replaces any `pickle_module` by
`pickle` unless weights_only, and torch 2.x hands TorchScript archives to `torch.jit.load`, so the archive
readers are called directly (`torch.serialization._load` / `_legacy_load`, same signatures in 1.13 and 2.x).
"""
from __future__ import annotations

import os
import pickle
import stat
import struct
import zipfile
from types import ModuleType
from typing import Any

import torch

_ALLOWED = {
    ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "complex"),
    ("_codecs", "encode"),  # how protocol-2 pickles spell bytes (numpy arrays inside RNG states)
    ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_tensor_v3"),
    ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch._tensor", "_rebuild_from_type_v2"),  # tensors with Python attributes (torch 2.x)
    ("torch", "Tensor"), ("torch.nn.parameter", "Parameter"),
    ("torch", "Size"), ("torch", "device"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}
_TORCH_DTYPES = {name for name in dir(torch) if isinstance(getattr(torch, name, None), torch.dtype)}


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message starts with the file's path."""


class CheckpointSecurityError(CheckpointError, pickle.UnpicklingError):
    """The file asks the unpickler for something other than tensors and plain data."""

    def __init__(self, global_name: str, path: str = ""):
        self.global_name = global_name
        self.path = path
        super().__init__(self._text())

    def _text(self) -> str:
        return (f"{self.path + ': ' if self.path else ''}refusing to load {self.global_name}: a checkpoint may only "
                "hold tensors, numbers, strings and containers, and this one names code that loading would run")

    def with_path(self, path: str) -> "CheckpointSecurityError":
        return CheckpointSecurityError(self.global_name, path)


def _allowed(module: str, name: str) -> bool:
    return ((module, name) in _ALLOWED or (module == "torch" and name in _TORCH_DTYPES)
            or (module == "torch" and name.endswith("Storage"))  # legacy storage classes, mapped by torch
            or (module == "numpy" and name.endswith("DType")) or module == "numpy.dtypes")


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if _allowed(module, name):
            return super().find_class(module, name)
        raise CheckpointSecurityError(f"{module}.{name}")


def _restricted_load(file: Any, **kwargs: Any) -> Any:
    return _RestrictedUnpickler(file, **kwargs).load()


# torch's readers take a "pickle module": both its Unpickler and its load (the legacy format unpickles its
# header with pickle_module.load) must be the restricted ones.
_restricted_pickle = ModuleType("amc_restricted_pickle")
_restricted_pickle.Unpickler = _RestrictedUnpickler  # type: ignore[attr-defined]
_restricted_pickle.load = _restricted_load  # type: ignore[attr-defined]
_restricted_pickle.__dict__["__name__"] = "amc_restricted_pickle"


def _describe_failure(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:300]


def _check_regular_file(path: str) -> int:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint not found") from None
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read checkpoint ({err.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block the read forever, a device never ends
        raise CheckpointError(f"{path}: not a regular file (a device, FIFO or socket), so not a checkpoint")
    return st.st_size


def _load_zip(path: str, f: Any) -> Any:
    ser = torch.serialization
    try:
        with zipfile.ZipFile(f) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise CheckpointError(f"{path}: a damaged or truncated zip archive, not a readable checkpoint "
                              f"({_describe_failure(err)})") from None
    f.seek(0)
    if any(n.endswith("/constants.pkl") or n == "constants.pkl" for n in names):
        raise CheckpointError(f"{path}: a TorchScript archive (torch.jit.save), not a checkpoint of weights")
    if not any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
        raise CheckpointError(f"{path}: a zip archive without data.pkl ({shown or 'empty'}), not a PyTorch checkpoint")
    with ser._open_zipfile_reader(f) as archive:
        return ser._load(archive, "cpu", _restricted_pickle, encoding="utf-8")


def read_checkpoint(path: str) -> Any:
    """torch.load(path, map_location='cpu') that executes nothing from the file (torch 1.13 and 2.x).

    Raises CheckpointSecurityError for a file naming a global outside the allow-list, CheckpointError for
    a missing, non-regular, empty, truncated or foreign file; both messages start with the path."""
    size = _check_regular_file(path)
    if size == 0:
        raise CheckpointError(f"{path}: empty file, not a checkpoint")
    ser = torch.serialization
    readers = ("_is_zipfile", "_open_zipfile_reader", "_load", "_legacy_load")
    if not all(hasattr(ser, name) for name in readers):  # refuse rather than fall back to an unsafe load
        raise CheckpointError(f"{path}: torch {torch.__version__} lacks the archive readers the safe loader uses "
                              f"({', '.join(n for n in readers if not hasattr(ser, n))})")
    try:
        with open(path, "rb") as f:
            if ser._is_zipfile(f):
                return _load_zip(path, f)
            head = f.read(512)
            f.seek(0)
            # every torch.save pickle stream starts with the PROTO opcode; the oldest torch wrote a tar archive
            if head[:1] != b"\x80" and head[257:262] != b"ustar":
                raise CheckpointError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor a pickle stream"
                                      f"{'; it looks like text or JSON' if head[:1] in (b'{', b'[') else ''})")
            return ser._legacy_load(f, "cpu", _restricted_pickle, encoding="utf-8")
    except CheckpointSecurityError as err:
        raise err.with_path(path) from None
    except CheckpointError:
        raise
    except (pickle.UnpicklingError, EOFError, RuntimeError, struct.error, AttributeError, KeyError, IndexError,
            TypeError, ValueError, OSError, MemoryError, RecursionError, AssertionError,
            UnicodeDecodeError) as err:
        # Truncated archives, random bytes and legacy streams cut short surface as any of these from torch.
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (truncated or not written by torch.save: "
                              f"{type(err).__name__}: {_describe_failure(err)})") from None


def safe_torch_load(path: str) -> Any:
    """Alias kept for the exporter's callers."""
    return read_checkpoint(path)


def state_dict_of(checkpoint: Any, path: str) -> dict:
    """ALBEF/AMC/our checkpoints keep the weights under 'model'; a bare state dict is accepted too."""
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("model"), dict):
        return checkpoint["model"]
    if isinstance(checkpoint, dict) and checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return checkpoint
    raise CheckpointError(f"{path}: not a model checkpoint (expected a dict with a 'model' state dict)")


__all__ = ["read_checkpoint", "safe_torch_load", "state_dict_of", "CheckpointError", "CheckpointSecurityError"]
