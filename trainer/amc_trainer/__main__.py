"""`python -m amc_trainer <command> ...`: dispatch to the subcommand module's main(argv)."""
from __future__ import annotations

import importlib
import sys

# What the trainer needs beyond the standard library. On many machines the first `python3` on PATH lacks them
# (a pyenv/venv shim); a missing one is said in one line, not as a traceback from deep inside a module.
REQUIRED_MODULES = {"torch": "PyTorch >= 1.13", "numpy": "numpy", "PIL": "Pillow"}


def missing_dependency_message(module: str) -> str:
    return (
        f"amc_trainer: {REQUIRED_MODULES[module]} is not installed for this Python ({sys.executable}); "
        "run the trainer with the interpreter that has it: `amc python` (in the repository: node out/cli.js python) "
        "prints the one the "
        "extension would use (its amc.pythonPath / $AMC_PYTHON, else the first of /usr/bin/python3, python3, "
        "python that imports torch)"
    )


COMMANDS = {
    "synth": ("synth", "write the synthetic grounding set in every supported format"),
    "train": ("train", "train with the AMC loss (single process, or DDP under torchrun)"),
    "eval": ("evaluate", "pointing-game accuracy per split"),
    "export": ("export", "export a checkpoint to ONNX + model card (models/<name>)"),
}


def usage() -> str:
    lines = ["usage: python -m amc_trainer <command> [options]", "", "commands:"]
    lines += [f"  {name:<7} {help_text}" for name, (_, help_text) in COMMANDS.items()]
    lines += ["", "python -m amc_trainer <command> --help shows a command's options."]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage(), file=sys.stderr)
        return 0 if argv else 2
    name = argv[0]
    if name not in COMMANDS:
        print(f"unknown command '{name}'\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(f"amc_trainer.{COMMANDS[name][0]}")
    except ImportError as e:
        top = (e.name or "").split(".")[0]
        if top not in REQUIRED_MODULES:
            raise
        print(missing_dependency_message(top), file=sys.stderr)
        return 1
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
