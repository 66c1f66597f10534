"""Shared helpers of the training/evaluation tests: a tiny model, a tiny dataset, a CLI runner."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Optional

TRAINER_DIR = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

# A model small enough that a training step takes tens of milliseconds on a shared 2-core CPU, with the
# same structure as the real ones (ViT, text layers below and above fusion, GradCAM on a fusion layer).
TINY_MODEL = {"vision_depth": 1, "vision_width": 48, "vision_heads": 2, "vision_mlp_dim": 96,
              "text_width": 48, "text_heads": 2, "text_intermediate": 96, "text_layers": 2,
              "fusion_layer": 1, "gradcam_layer": 1, "embed_dim": 32}
TINY_RES = 64  # grid 4x4


def tiny_args(data: Path, out: Path, **extra) -> list[str]:
    args = ["--data", str(data / "train.json"), "--image-root", str(data), "--out", str(out),
            "--image-res", str(TINY_RES), "--model-overrides", json.dumps(TINY_MODEL),
            "--batch-size", "4", "--log-every", "1", "--warmup-steps", "2", "--lr", "3e-4"]
    for key, value in extra.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def make_squares_dataset(root: Path, n_train: int = 24, n_test: int = 6, seed: int = 0) -> Path:
    """Coloured squares on grey, AMC VG JSON (`train.json`, `vg_test.json`); one box per phrase."""
    from PIL import Image, ImageDraw
    rng = random.Random(seed)
    colours = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30)}
    (root / "images").mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(n_train + n_test):
        w, h = rng.randint(80, 160), rng.randint(80, 160)
        image = Image.new("RGB", (w, h), (128, 128, 128))
        name = rng.choice(list(colours))
        s = rng.randint(20, 40)
        x, y = rng.randint(0, w - s), rng.randint(0, h - s)
        ImageDraw.Draw(image).rectangle([x, y, x + s - 1, y + s - 1], fill=colours[name])
        image.save(root / "images" / f"{i}.png")
        entries.append({"image": f"images/{i}.png", "caption": f"a {name} square", "bbox": [[x, y, x + s, y + s]]})
    (root / "train.json").write_text(json.dumps(entries[:n_train]))
    (root / "vg_test.json").write_text(json.dumps(entries[n_train:]))
    return root


class Run:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.events = parse_events(proc.stdout)

    def of(self, name: str) -> list[dict]:
        return [e for e in self.events if e["event"] == name]


def parse_events(stdout: str) -> list[dict]:
    """Every stdout line must be one JSON object with an 'event' key (the VS Code task's contract)."""
    events = []
    for line in stdout.splitlines():
        obj = json.loads(line)
        assert isinstance(obj, dict) and "event" in obj, line
        events.append(obj)
    return events


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(TRAINER_DIR) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e["PYTHONUNBUFFERED"] = "1"
    return e


def run_cli(args: list[str], timeout: float = 300, cwd: Optional[Path] = None) -> Run:
    proc = subprocess.run([PYTHON, "-m", "amc_trainer", *args], cwd=str(cwd or TRAINER_DIR), env=env(),
                          capture_output=True, text=True, timeout=timeout)
    return Run(proc)


def load(path: Path) -> dict:
    from amc_trainer.checkpoint_io import read_checkpoint  # the loader every command uses
    return read_checkpoint(str(path))


def assert_same_tensors(a: dict, b: dict) -> None:
    import torch
    assert sorted(a) == sorted(b)
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:5]}"
