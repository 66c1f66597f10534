"""One of our small checkpoints for the TypeScript import tests (test/unit/cli/import.test.ts and the extension-host
test of "AMC: Use a PyTorch checkpoint…"): the tiny test model trained 2 steps on a squares dataset, as the
trainer's own tests make it. Prints the checkpoint's path.

    python trainer/tests/small_checkpoint.py DIR       # writes DIR/data, DIR/run/last.pth
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from train_helpers import PYTHON, TRAINER_DIR, env, make_squares_dataset, tiny_args


def train_small_checkpoint(root: Path) -> Path:
    data = make_squares_dataset(root / "data", n_train=8, n_test=2)
    out = root / "run"
    subprocess.run([PYTHON, "-m", "amc_trainer", "train", *tiny_args(data, out, epochs=1, max_steps_per_epoch=2)],
                   check=True, cwd=str(TRAINER_DIR), env=env(), stdout=subprocess.DEVNULL)
    checkpoint = out / "last.pth"
    if not checkpoint.is_file():
        sys.exit(f"training wrote no {checkpoint}")
    return checkpoint


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(train_small_checkpoint(Path(sys.argv[1]).resolve()))
