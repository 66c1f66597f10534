"""`python -m amc_trainer`: a Python without torch / numpy / Pillow gets one line saying so, not a traceback."""
import os
import subprocess
import sys

import pytest

TRAINER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_without(module, *args):
    # `sys.modules[name] = None` makes `import name` raise ModuleNotFoundError(name=name), as on a machine
    # where that package is not installed for this interpreter.
    code = (
        "import runpy, sys; sys.modules[sys.argv[1]] = None; sys.argv = ['amc_trainer'] + sys.argv[2:]; "
        "runpy.run_module('amc_trainer', run_name='__main__', alter_sys=True)"
    )
    return subprocess.run([sys.executable, "-c", code, module, *args], cwd=TRAINER_DIR,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", ["train", "eval", "export"])
def test_missing_torch_is_one_line_naming_the_interpreter(command):
    r = run_without("torch", command, "--help")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"amc_trainer: PyTorch >= 1.13 is not installed for this Python ({sys.executable});")
    assert "amc python" in lines[0]


def test_missing_pillow_is_named_too():
    r = run_without("PIL", "synth", "--help")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert "Pillow is not installed" in r.stderr


def test_other_import_errors_still_raise():
    # Only the trainer's own dependencies are reworded; a bug elsewhere keeps its traceback.
    r = run_without("argparse", "train", "--help")
    assert r.returncode != 0
    assert "Traceback" in r.stderr


def test_with_torch_the_command_runs():
    r = subprocess.run([sys.executable, "-m", "amc_trainer", "eval", "--help"], cwd=TRAINER_DIR,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "usage" in r.stdout.lower()
