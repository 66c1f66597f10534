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


def break_dataset(root: Path) -> dict:
    """Damages entries of train.json in place; returns {entry label: words its problem must mention}."""
    from PIL import Image
    entries = json.loads((root / "train.json").read_text())
    expect = {}
    entries[1]["image"] = "images/missing.png"
    expect["[1]"] = ["image not found", "missing.png"]
    jpeg = root / "images" / "cut.jpg"  # a valid header, the rest cut off: only a full decode notices
    Image.open(root / "images" / "2.png").convert("RGB").save(jpeg, quality=90)
    jpeg.write_bytes(jpeg.read_bytes()[: jpeg.stat().st_size * 2 // 3])
    entries[2]["image"] = "images/cut.jpg"
    expect["[2]"] = ["cannot decode image", "cut.jpg"]
    os.mkfifo(root / "images" / "fifo.png")
    entries[3]["image"] = "images/fifo.png"
    expect["[3]"] = ["not a regular file", "fifo.png"]
    (root / "images" / "folder.png").mkdir()
    entries[5]["image"] = "images/folder.png"
    expect["[5]"] = ["folder", "folder.png"]
    (root / "images" / "noise.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    entries[6]["image"] = "images/noise.png"
    expect["[6]"] = ["cannot decode image", "noise.png"]
    x1, y1, _, _ = entries[7]["bbox"][0]
    entries[7]["bbox"] = [[x1, y1, x1, y1 + 10]]
    expect["[7]"] = ["no area"]
    entries[9]["bbox"] = [[1000, 1000, 1100, 1100]]
    expect["[9]"] = ["entirely outside"]
    entries[10]["bbox"] = [[float("nan"), 0, 10, 10]]  # json writes NaN; the reader refuses it
    expect["[10]"] = ["finite numbers"]
    (root / "train.json").write_text(json.dumps(entries, indent=1))
    return expect


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
