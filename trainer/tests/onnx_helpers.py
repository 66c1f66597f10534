"""Runs ONNX graphs through onnxruntime-node (tests/onnx_runner.mjs): Python has no onnxruntime here."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from typing import Dict

import numpy as np

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx_runner.mjs")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def node_available() -> bool:
    return shutil.which("node") is not None and os.path.isdir(os.path.join(REPO, "node_modules", "onnxruntime-node"))


def run_onnx(model_path: str, inputs: Dict[str, np.ndarray], timeout: float = 600) -> Dict[str, np.ndarray]:
    dtypes = {np.dtype(np.float32): "float32", np.dtype(np.int64): "int64"}
    with tempfile.TemporaryDirectory() as tmp:
        spec = {}
        for name, arr in inputs.items():
            arr = np.ascontiguousarray(arr)
            file = os.path.join(tmp, f"in_{name}.bin")
            arr.astype(arr.dtype.newbyteorder("<")).tofile(file)
            spec[name] = {"dtype": dtypes[arr.dtype], "shape": list(arr.shape), "file": file}
        request = os.path.join(tmp, "request.json")
        with open(request, "w") as f:
            json.dump({"model": model_path, "inputs": spec, "out_dir": tmp}, f)
        proc = subprocess.run(["node", RUNNER, request], capture_output=True, text=True, timeout=timeout, cwd=REPO)
        if proc.returncode != 0:
            raise RuntimeError(f"onnxruntime-node failed on {model_path}:\n{proc.stderr[-4000:]}")
        reply = json.loads(proc.stdout.strip().splitlines()[-1])
        out = {}
        for name, o in reply["outputs"].items():
            np_type = {"float32": np.float32, "int64": np.int64}[o["dtype"]]
            out[name] = np.fromfile(o["file"], dtype=np_type).reshape(o["shape"])
        out["_ms"] = reply["ms"]
        return out


def rel_err(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |actual - expected| / max |expected| (the maps are tiny, so relative to the map's scale)."""
    scale = float(np.abs(expected).max())
    return float(np.abs(actual - expected).max()) / (scale if scale > 0 else 1.0)
