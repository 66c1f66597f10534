"""The evaluation report schema 1 that `python -m amc_trainer eval --out` and `amc eval --out` both write
(src/core/evalReportSchema.ts; README "Evaluation reports"): the header naming the model (checkpoint sha256, and
the card's name and grounding.onnx sha256 with `--card`) and the annotation file (name, size, format), the
per-split accuracy rows, and `validate_report`, the Python twin of the TypeScript validateEvalReport."""
from __future__ import annotations

import dataclasses
import decimal
import hashlib
import json
import math
import os
from typing import Any, Optional

from .eval_formats import detect_format

# The report schema (src/core/evalReportSchema.ts REPORT_SCHEMA / REPORT_SCHEMA_VERSION).
REPORT_SCHEMA = "amc-eval-report"
REPORT_SCHEMA_VERSION = 1
WRITER = "python -m amc_trainer eval"


# Significant digits of a sample's floats in a report: 9, the float32 round-trip precision (docs/reference.md §8).
REPORT_FLOAT_DIGITS = 9
_FLOAT_CONTEXT = decimal.Context(prec=REPORT_FLOAT_DIGITS, rounding=decimal.ROUND_HALF_UP)


def report_float(x: float) -> float:
    """A sample's float as a report writes it: rounded to 9 significant digits from its exact binary value, ties away
    from zero -- what src/cli/report.ts reportFloat (Number.prototype.toPrecision) gives, so both writers agree even
    on an exact tie such as 2**-14 (format(x, ".9g") would round that tie to even). Non-finite values are kept."""
    if not math.isfinite(x) or x == int(x):
        return x
    return float(_FLOAT_CONTEXT.create_decimal(decimal.Decimal(x)))


def _finite_or_null(value: Any) -> Any:
    """NaN and infinities as null, anywhere in the report: json.dumps would write NaN / Infinity, which is not JSON
    (the TypeScript writer writes null, and the readers refuse the bare tokens)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(v) for v in value]
    return value


def _row_numbers(row: Any) -> Any:
    """A sample with each of its own float fields (score, lMean, lMax, total...) rounded by report_float; nested
    values (boxes, point) unchanged; non-finite values null."""
    if not isinstance(row, dict):
        return _finite_or_null(row)
    return _finite_or_null({k: report_float(v) if isinstance(v, float) else v for k, v in row.items()})


def report_json(report: dict) -> str:
    """The JSON text of a report in the layout both writers use (docs/reference.md §8; src/cli/report.ts reportJson):
    indented by one space, except each element of "samples", which is compact on a line of its own; each sample's
    floats with 9 significant digits (report_float)."""
    text = json.dumps(_finite_or_null({**report, "samples": []}), indent=1, allow_nan=False)
    at = text.find('\n "samples": []')  # the only key at one space of indentation ('"' is escaped in strings)
    if at < 0:
        raise ValueError('report without a top-level "samples" array')
    rows = ",\n".join(
        json.dumps(_row_numbers(row), separators=(",", ":"), allow_nan=False) for row in report["samples"])
    samples = f'\n "samples": [\n{rows}\n ]' if report["samples"] else '\n "samples": []'
    return text[:at] + samples + text[at + len('\n "samples": []'):] + "\n"


def accuracy_rows(records: list[dict]) -> list[dict]:
    """The report's "accuracy": {split, hits, total, accuracy} per split in order of first appearance, then "all"
    (src/core/math/pointing.ts accuracyBySplit); records without a split are a "(none)" row only beside named splits."""
    rows: dict[str, dict] = {}
    for r in records:
        row = rows.setdefault(r["split"] if r["split"] is not None else "(none)", {"hits": 0, "total": 0})
        row["total"] += 1
        row["hits"] += int(r["hit"])
    if list(rows) == ["(none)"]:  # no splits at all: the "all" row alone, as accuracyBySplit
        rows.clear()
    out = [{"split": name, **row, "accuracy": row["hits"] / row["total"]} for name, row in rows.items()]
    hits, total = sum(int(r["hit"]) for r in records), len(records)
    return out + [{"split": "all", "hits": hits, "total": total, "accuracy": hits / total if total else None}]


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(path: str) -> tuple[str, str, dict, str]:
    """(name, sha256 of grounding.onnx as recorded, config, the model.json read) of an exported model's card:
    a model folder or its model.json. ValueError naming the file when it is not a card."""
    card_file = os.path.join(path, "model.json") if os.path.isdir(path) else path
    try:
        with open(card_file, encoding="utf-8") as fh:
            card = json.load(fh)
    except FileNotFoundError:
        raise ValueError(f"{card_file}: model card not found (--card takes a model folder or its model.json)")
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{card_file}: not a readable model card: {err}")
    sha = card.get("sha256", {}).get("grounding.onnx") if isinstance(card, dict) else None
    if not isinstance(card, dict) or not isinstance(card.get("name"), str) or not isinstance(sha, str) \
            or len(sha) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha):
        raise ValueError(f'{card_file}: a model card needs "name" and "sha256"["grounding.onnx"] (64 hex digits)')
    return card["name"], sha.lower(), card.get("config") if isinstance(card.get("config"), dict) else {}, card_file


def check_card_matches(card_file: str, card_config: dict, mcfg) -> None:
    """The card must describe this checkpoint's architecture (its `config` is the exported ModelConfig); a card of
    another model would give the report a wrong identity. image_res is not compared (--image-res overrides it)."""
    ours = dataclasses.asdict(mcfg)
    differ = [k for k, v in card_config.items() if k in ours and k != "image_res" and ours[k] != v]
    if differ:
        raise ValueError(f"{card_file}: the card describes another model than the checkpoint ("
                         + ", ".join(f"{k} {card_config[k]!r} vs {ours[k]!r}" for k in differ[:5]) + ")")


def report_header(checkpoint: str, data: str, card: Optional[str], mcfg) -> dict:
    """The schema-1 header: writer, model {name, cardSha256, checkpointSha256}, dataset {file, size, format}."""
    name, card_sha = None, None
    if card:
        name, card_sha, card_config, card_file = read_card(card)
        check_card_matches(card_file, card_config, mcfg)
    return {"schema": REPORT_SCHEMA, "schemaVersion": REPORT_SCHEMA_VERSION, "writer": WRITER,
            "model": {"name": name, "cardSha256": card_sha, "checkpointSha256": sha256_file(checkpoint),
                      "checkpoint": os.path.abspath(checkpoint)},
            "dataset": {"file": os.path.basename(data), "size": os.path.getsize(data), "format": detect_format(data),
                        "path": os.path.abspath(data)}}


def validate_report(report: Any, limit: int = 20) -> list[str]:
    """Problems of a parsed report against schema 1, each naming the field or samples[i]; [] when valid.
    The twin of src/core/evalReportSchema.ts validateEvalReport (same rules, same field names)."""
    if not isinstance(report, dict):
        return ["the report is not a JSON object"]
    if report.get("schema") != REPORT_SCHEMA:
        return [f'"schema" is {json.dumps(report.get("schema"))}, expected "{REPORT_SCHEMA}"']
    if report.get("schemaVersion") != REPORT_SCHEMA_VERSION:
        return [f'"schemaVersion" must be {REPORT_SCHEMA_VERSION}, got {json.dumps(report.get("schemaVersion"))}']
    problems: list[str] = []

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def is_num(v: Any) -> bool:
        return (is_int(v) or isinstance(v, float)) and v == v and v not in (float("inf"), float("-inf"))

    def is_sha(v: Any) -> bool:
        return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)

    if not isinstance(report.get("writer"), str):
        problems.append('"writer" must be a string')
    model = report.get("model")
    if not isinstance(model, dict):
        problems.append('"model" must be an object {name, cardSha256, checkpointSha256}')
    else:
        if model.get("name") is not None and not isinstance(model.get("name"), str):
            problems.append('"model.name" must be a string or null')
        for k in ("cardSha256", "checkpointSha256"):
            if k not in model or (model[k] is not None and not is_sha(model[k])):
                problems.append(f'"model.{k}" must be 64 lowercase hex digits or null, got {json.dumps(model.get(k))}')
        if model.get("cardSha256") is None and model.get("checkpointSha256") is None:
            problems.append('"model" names neither a card sha256 nor a checkpoint sha256')
    data = report.get("dataset")
    if not isinstance(data, dict):
        problems.append('"dataset" must be an object {file, size, format}')
    else:
        if not isinstance(data.get("file"), str) or not data["file"] or "/" in data["file"] or "\\" in data["file"]:
            problems.append('"dataset.file" must be a file name (no folder)')
        if data.get("size") is not None and (not is_int(data.get("size")) or data["size"] < 0):
            problems.append('"dataset.size" must be a byte count')
        if not isinstance(data.get("format"), str):
            problems.append('"dataset.format" must be a string')
    if problems:
        return problems
    samples = report.get("samples")
    if not isinstance(samples, list):
        return ['"samples" must be an array']
    for i, row in enumerate(samples):
        if len(problems) >= limit:
            break
        at = f"samples[{i}]"
        if not isinstance(row, dict):
            problems.append(f"{at}: must be an object")
            continue

        def need(ok: bool, what: str) -> None:
            if not ok:
                problems.append(f"{at}.{what}")
        need(isinstance(row.get("id"), str), "id must be a string")
        need(isinstance(row.get("image"), str), "image must be a string")
        need(isinstance(row.get("phrase"), str), "phrase must be a string")
        need(row.get("split", 0) is None or isinstance(row.get("split"), str), "split must be a string or null")
        boxes = row.get("boxes")
        need(isinstance(boxes, list) and all(isinstance(b, list) and len(b) == 4 and all(is_num(v) for v in b)
                                             for b in boxes), "boxes must be an array of [x1, y1, x2, y2]")
        for k in ("width", "height"):
            need(k not in row or (is_int(row[k]) and row[k] > 0), f"{k} must be a positive integer")
        if "error" in row:
            need(isinstance(row["error"], str) and row["error"] != "", "error must be a message")
            need(isinstance(row.get("reason"), str) and row["reason"] != "",
                 "reason must be a short cause (a not-scored row has both error and reason)")
            for k in ("hit", "point", "lMean", "lMax", "score"):
                need(k not in row, f"{k} must be absent on a not-scored row")
        else:
            point = row.get("point")
            need(isinstance(point, dict) and is_int(point.get("x")) and is_int(point.get("y")),
                 "point must be {x, y} in integer pixels")
            need(isinstance(row.get("hit"), bool), "hit must be true or false")
            for k in ("lMean", "lMax", "score"):
                need(is_num(row.get(k)), f"{k} must be a finite number")
            for k in ("lMean", "lMax"):
                need(not is_num(row.get(k)) or row[k] >= 0, f"{k} must be ≥ 0 (a hinge)")
            need("reason" not in row, "reason without an error")
    return problems[:limit]
