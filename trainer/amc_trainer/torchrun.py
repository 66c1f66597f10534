"""`python -m amc_trainer.torchrun ARGS` = `torchrun ARGS`, working around one launcher bug.

Debian's torch 1.13 on Python 3.11: `Std.from_str("0")` (the default of --redirects and --tee) returns None,
because Python 3.11 no longer iterates zero-valued or multi-bit members of an IntFlag, and torchrun then
dies with `'NoneType' object has no attribute 'get'` before starting any worker. Where the installed torch
parses those flags correctly (fixed upstream in later releases) nothing is patched.

Example (2 CPU processes, gloo):
  python -m amc_trainer.torchrun --standalone --nproc_per_node=2 -m amc_trainer train --config ... --out ...
"""
from __future__ import annotations

import re
import sys

from torch.distributed.elastic.multiprocessing import api
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import main as torchrun_main


def _patch_std_parsing() -> None:
    if api.Std.from_str("0") is not None:
        return

    def from_str(cls, vm: str):
        if re.fullmatch(r"\s*\d\s*", vm):
            return cls(int(vm))
        if re.fullmatch(r"\s*\d\s*:\s*\d\s*(,\s*\d\s*:\s*\d\s*)*", vm):
            return {int(i): cls(int(v)) for i, v in (pair.split(":") for pair in vm.split(","))}
        raise ValueError(f"{vm!r} is not a stream number (0-3) or a local_rank:number list")

    api.Std.from_str = classmethod(from_str)


def main(argv: list[str]) -> int:
    _patch_std_parsing()
    try:
        torchrun_main(argv)
    except ChildFailedError as err:
        # The workers already said why (an error event, a message on stderr); the launcher's own traceback
        # and failure table would bury that. Keep their exit code: 2 (bad input) stays 2 for the task.
        rank, failure = err.get_first_failure()
        print(f"torchrun: {len(err.failures)} worker process(es) failed; the first, rank {rank}, exited with "
              f"code {failure.exitcode} (its messages are above)", file=sys.stderr)
        return failure.exitcode if 0 < failure.exitcode < 256 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
