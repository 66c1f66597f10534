"""Reading annotation files safely: the one error type every reader raises, JSON loading, and box checks.

A `DataError` names the file and the entry (`vg_train.json ([12]): ...`), so a bad dataset is reported as
a message the user can act on, never as a traceback. Used by the training readers (train_data.py), the
evaluation readers (eval_formats.py), image loading (images.py) and the refs-pickle reader (safe_pickle.py).
"""
from __future__ import annotations

import json
import math
import os
import stat
import sys
from typing import Any, List, Optional


class DataError(ValueError):
    """An annotation or image that cannot be used; the message names the file and the entry."""

    def __init__(self, file: str, entry: Optional[str], message: str):
        self.file = file
        self.entry = entry
        self.reason = message
        super().__init__(f"{file}{f' ({entry})' if entry else ''}: {message}")


def load_json(path: str) -> Any:
    try:
        if os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode) and not os.path.isdir(path):
            raise DataError(path, None, "not a regular file (a device, FIFO or socket), so not an annotation file")
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataError(path, None, "file not found") from None
    except IsADirectoryError:
        raise DataError(path, None, "is a folder, not a JSON file") from None
    except UnicodeDecodeError as e:
        raise DataError(path, None, f"not UTF-8 text ({e})") from None
    except json.JSONDecodeError as e:
        raise DataError(path, f"line {e.lineno}, column {e.colno}", f"not valid JSON: {e.msg}") from None
    except RecursionError:  # json's decoder recurses once per [ or {: "[[[[...]]]]" 100k deep overflows it
        raise DataError(path, None, f"JSON nested too deeply to read (more than about "
                                    f"{sys.getrecursionlimit()} levels of [ and {{); no annotation format "
                                    "nests like that") from None


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_box(box: Any, file: str, entry: str) -> List[float]:
    if not (isinstance(box, (list, tuple)) and len(box) == 4 and all(is_number(v) for v in box)):
        raise DataError(file, entry, f"a box must be 4 finite numbers [x1, y1, x2, y2], got {json.dumps(box)[:80]}")
    return [float(v) for v in box]
