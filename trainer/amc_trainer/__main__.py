"""`python -m amc_trainer <command> ...`: dispatch to the subcommand module's main(argv)."""
from __future__ import annotations

import importlib
import sys

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
    module = importlib.import_module(f"amc_trainer.{COMMANDS[name][0]}")
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
