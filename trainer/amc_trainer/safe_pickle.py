"""Plain-data pickles, both ways: a reader that can never run code, and a Python-2-style writer.

REFER's `refs(unc).p` (RefCOCO family, docs/reference.md §5.4) is a Python-2 protocol-2 pickle of lists, dicts, strings
and numbers. `NoCodeUnpickler` reads such a file with `find_class` refusing every global, which is the only
way a pickle reaches code; `py2_pickle(obj)` writes one the way Python 2's cPickle did (used by synth.py for
the synthetic RefCOCO+ set, so our own test data has the exact shape of the real file).
"""
from __future__ import annotations

import pickle
import struct
from typing import Dict

from .annotation_files import DataError


class NoCodeUnpickler(pickle.Unpickler):
    """Plain data only: any GLOBAL / STACK_GLOBAL (the way a pickle reaches code) is refused."""

    def __init__(self, f, path: str):
        super().__init__(f, encoding="latin1")
        self._path = path

    def find_class(self, module: str, name: str):
        raise DataError(self._path, None, f"pickle refers to {module}.{name}; refusing to load code from a pickle "
                                          "(refs files hold only lists, dicts, strings and numbers)")


class Py2Pickler:
    """Lists, dicts, byte strings, ints, floats, None and bools as Python 2's cPickle writes them.

    Python 3's pickle writes `bytes` through a GLOBAL (`_codecs.encode`), so the opcodes are emitted here:
    SHORT_BINSTRING/BINSTRING for strings (ASCII), BININT1/BININT2/BININT/LONG1, BINFLOAT, EMPTY_LIST/DICT
    with MARK…APPENDS/SETITEMS in batches of 1000 (APPEND/SETITEM for a single item), BINPUT after every
    container and string, BINGET for a string seen before.
    """

    BATCH = 1000

    def __init__(self):
        self.out = bytearray(b"\x80\x02")
        self.memo_len = 0
        self.string_memo: Dict[str, int] = {}

    def dumps(self, obj) -> bytes:
        self._save(obj)
        self.out += b"."
        return bytes(self.out)

    def _put(self) -> int:
        idx = self.memo_len
        self.memo_len += 1
        self.out += (b"q" + bytes([idx])) if idx < 256 else (b"r" + struct.pack("<I", idx))
        return idx

    def _save(self, obj) -> None:
        if obj is None:
            self.out += b"N"
        elif obj is True:
            self.out += b"\x88"
        elif obj is False:
            self.out += b"\x89"
        elif isinstance(obj, int):
            self._save_int(obj)
        elif isinstance(obj, float):
            self.out += b"G" + struct.pack(">d", obj)
        elif isinstance(obj, str):
            self._save_str(obj)
        elif isinstance(obj, list):
            self.out += b"]"
            self._put()
            self._batch(obj, lambda item: self._save(item), b"a", b"e")
        elif isinstance(obj, dict):
            self.out += b"}"
            self._put()
            self._batch(list(obj.items()), lambda kv: (self._save(kv[0]), self._save(kv[1])), b"s", b"u")
        else:
            raise TypeError(f"Py2Pickler cannot write {type(obj).__name__}")

    def _batch(self, items, write, single: bytes, many: bytes) -> None:
        for start in range(0, len(items), self.BATCH):
            chunk = items[start:start + self.BATCH]
            if len(chunk) == 1:
                write(chunk[0])
                self.out += single
            else:
                self.out += b"("
                for it in chunk:
                    write(it)
                self.out += many

    def _save_int(self, v: int) -> None:
        if 0 <= v < 256:
            self.out += b"K" + bytes([v])
        elif 0 <= v < 65536:
            self.out += b"M" + struct.pack("<H", v)
        elif -2 ** 31 <= v < 2 ** 31:
            self.out += b"J" + struct.pack("<i", v)
        else:
            raw = v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
            self.out += b"\x8a" + bytes([len(raw)]) + raw

    def _save_str(self, s: str) -> None:
        if s in self.string_memo:
            idx = self.string_memo[s]
            self.out += (b"h" + bytes([idx])) if idx < 256 else (b"j" + struct.pack("<I", idx))
            return
        data = s.encode("ascii")
        if len(data) < 256:
            self.out += b"U" + bytes([len(data)]) + data
        else:
            self.out += b"T" + struct.pack("<i", len(data)) + data
        self.string_memo[s] = self._put()


def py2_pickle(obj) -> bytes:
    return Py2Pickler().dumps(obj)
