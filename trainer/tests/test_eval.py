"""Pointing game (docs/reference.md §4.1): the point rule, the strict hit rule, batch-size independence, and the CLI on
the synthetic set in its Flickr (info-ground) and RefCOCO+ (refs pickle) formats."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import subprocess

import numpy as np

import pytest
import torch
import torch.nn.functional as F

from amc_trainer.model import gradcam_training_map

from amc_trainer.eval_report import report_json, validate_report
from amc_trainer.evaluate import evaluate_queries, is_hit, load_queries, pointing_point, sample_losses, summarize
from train_helpers import PYTHON, TINY_MODEL, TINY_RES, TRAINER_DIR, env, run_cli


def test_point_is_first_row_major_maximum_of_bicubic_map():
    cam = torch.zeros(4, 4)
    cam[1, 2] = 1.0
    x, y = pointing_point(cam, 40, 80)
    up = F.interpolate(cam.view(1, 1, 4, 4), size=(40, 80), mode="bicubic", align_corners=False)[0, 0]
    assert up[y, x] == up.max()
    assert 40 <= x < 60 and 10 <= y < 20  # inside the cell (row 1, col 2) of the 4x4 grid
    # ties (bicubic at scale 1 is the identity, so the two peaks stay exactly equal): the first in
    # row-major order wins, the upper one even though it is further right
    cam = torch.zeros(4, 4)
    cam[0, 3] = cam[2, 0] = 1.0
    assert pointing_point(cam, 4, 4) == (3, 0)
    cam[0, 3] = 0.5
    assert pointing_point(cam, 4, 4) == (0, 2)


def test_sample_losses_are_the_training_losses_at_batch_size_1_on_the_union_of_the_boxes():
    # a 4x4 map, peak 1 in cell (row 0, col 0), 0.5 in cell (row 3, col 3); 64x64 image, so each cell is 16 px
    cam = torch.zeros(4, 4)
    cam[0, 0], cam[3, 3] = 1.0, 0.5
    train = gradcam_training_map(cam[None])[0].double()  # what the loss sees: min-max, bilinear to 256
    inside = torch.zeros(256, 256, dtype=torch.float64)
    inside[:64, :64] = 1  # the box [0, 0, 16, 16] at 64 px -> rows/cols 0..63 at 256
    one = sample_losses(cam, [[0, 0, 16, 16]], 64, 64)
    mean_in, mean_out = float(train[inside == 1].mean()), float(train[inside == 0].mean())
    assert one["lMean"] == pytest.approx(max(0.0, mean_out - mean_in + 0.1), abs=1e-9)
    max_in, max_out = float(train[inside == 1].max()), float(train[inside == 0].max())
    assert one["lMax"] == pytest.approx(max(0.0, max_out - max_in + 0.5))
    assert one["total"] == pytest.approx(0.2 * one["lMean"] + 0.8 * one["lMax"]) and not one["maskEmpty"]
    # several boxes act as one mask (their union): adding the box around the second peak lowers L_max
    both = sample_losses(cam, [[0, 0, 16, 16], [48, 48, 64, 64]], 64, 64)
    assert both["lMax"] < one["lMax"]
    # an empty (degenerate) box: max inside is 0, so L_max = max outside + 0.5 (docs/reference.md §2 edge cases)
    empty = sample_losses(cam, [[10, 10, 10, 20]], 64, 64)
    assert empty["maskEmpty"] and empty["lMax"] == pytest.approx(float(train.max()) + 0.5)


def test_hit_is_strictly_inside_any_box():
    boxes = [[10, 10, 20, 20], [30, 5, 40, 15]]
    assert is_hit(15, 15, boxes) and is_hit(35, 10, boxes)
    for x, y in [(10, 15), (20, 15), (15, 10), (15, 20), (25, 12)]:
        assert not is_hit(x, y, boxes), (x, y)
    assert not is_hit(5, 5, [])


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    proc = subprocess.run([PYTHON, "-m", "amc_trainer", "synth", str(out), "--images", "12", "--seed", "3"],
                          cwd=str(TRAINER_DIR), env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A randomly initialised tiny model saved the way train.py saves (weights + its ModelConfig)."""
    from amc_trainer.model import ALBEF, ModelConfig
    torch.manual_seed(0)
    cfg = dataclasses.replace(ModelConfig.small(TINY_RES), **TINY_MODEL)
    model = ALBEF(cfg)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pth"
    torch.save({"model": model.state_dict(), "model_config": dataclasses.asdict(cfg)}, path)
    return path, model.eval()


def test_batch_size_does_not_change_results(synth, tiny_checkpoint):
    from amc_trainer.tokenizer import BertTokenizer
    _, model = tiny_checkpoint
    queries = load_queries(str(synth / "flickr30k" / "sentences_test.json"))
    queries += load_queries(str(synth / "refcoco+_test.json"))
    tok = BertTokenizer.from_vocab()
    one = evaluate_queries(model, queries, tok, image_res=TINY_RES, batch_size=1)
    many = evaluate_queries(model, queries, tok, image_res=TINY_RES, batch_size=7)
    assert len(one) == len(many) == len(queries)
    for a, b in zip(one, many):
        assert (a["id"], a["hit"], a["point"]) == (b["id"], b["hit"], b["point"])
        assert a["score"] == pytest.approx(b["score"], abs=1e-5)
        assert a["hit"] == is_hit(a["point"]["x"], a["point"]["y"], a["boxes"])
        assert 0 <= a["point"]["x"] < a["width"] and 0 <= a["point"]["y"] < a["height"]
        # the losses are those of the sample at batch size 1, whatever the batch it ran in
        assert (a["lMean"], a["lMax"]) == pytest.approx((b["lMean"], b["lMax"]), abs=1e-6)
    summary = summarize(one)
    assert summary["n"] == len(queries) and set(summary["splits"]) <= {"test", "testA", "testB"}
    assert summary["accuracy"] == pytest.approx(sum(r["hit"] for r in one) / len(one))


def test_eval_cli_report_per_split_and_per_sample(synth, tiny_checkpoint, tmp_path):
    path, _ = tiny_checkpoint
    report_path = tmp_path / "report.json"
    run = run_cli(["eval", "--checkpoint", str(path), "--data", str(synth / "refcoco+" / "refs(unc).p"),
                   "--out", str(report_path), "--batch-size", "5"])
    assert run.returncode == 0, run.stderr
    text = report_path.read_text()
    report = json.loads(text)
    assert validate_report(report) == []
    # The layout both writers use (docs/reference.md §8): indented, each sample compact on a line of its own.
    lines = text.split("\n")
    first = lines.index(' "samples": [') + 1
    assert lines[0] == "{" and lines[1].startswith(' "')
    assert [json.loads(line.rstrip(",")) for line in lines[first:first + len(report["samples"])]] == report["samples"]
    assert lines[first + len(report["samples"])] == " ]"
    # Each sample's floats with at most 9 significant digits, the float32 round-trip precision (docs/reference.md §8).
    written = [significant_digits(m) for line in lines[first:first + len(report["samples"])]
               for m in re.findall(r'"(?:score|itmProbability|lMean|lMax|total)":(-?[\d.]+(?:[eE][-+]?\d+)?)', line)]
    assert len(written) >= 4 * len(report["samples"]) and max(written) <= 9
    queries = load_queries(str(synth / "refcoco+" / "refs(unc).p"))
    assert report["counts"]["queries"] == report["counts"]["evaluated"] == len(queries) == len(report["samples"])
    assert report["grid"] == TINY_RES // 16 and report["imageRes"] == TINY_RES
    splits = {q.split for q in queries}
    accuracy = {a["split"]: a for a in report["accuracy"]}
    assert set(accuracy) == splits | {"all"} and {"testA", "testB"} <= splits
    for name in splits:
        samples = [r for r in report["samples"] if r["split"] == name]
        assert accuracy[name]["total"] == len(samples) and accuracy[name]["hits"] == sum(r["hit"] for r in samples)
    event = run.events[-1]
    assert event["event"] == "eval" and event["accuracy"] == accuracy["all"]["accuracy"]
    assert event["n"] == accuracy["all"]["total"]
    only = run_cli(["eval", "--checkpoint", str(path), "--data", str(synth / "refcoco+" / "refs(unc).p"),
                    "--split", "testB"])
    assert only.returncode == 0 and list(only.events[-1]["splits"]) == ["testB"]
    testb = only.events[-1]["splits"]["testB"]
    assert (testb["n"], testb["hits"]) == (accuracy["testB"]["total"], accuracy["testB"]["hits"])


def test_eval_cli_report_names_the_card_and_refuses_a_card_of_another_model(synth, tiny_checkpoint, tmp_path):
    path, _ = tiny_checkpoint
    data = synth / "refcoco+_test.json"
    plain = run_cli(["eval", "--checkpoint", str(path), "--data", str(data), "--out", str(tmp_path / "a.json")])
    assert plain.returncode == 0, plain.stderr
    report = json.loads((tmp_path / "a.json").read_text())
    assert validate_report(report) == []
    assert report["model"]["name"] is None and report["model"]["cardSha256"] is None
    assert report["model"]["checkpointSha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert report["dataset"] == {"file": "refcoco+_test.json", "size": data.stat().st_size, "format": "refcoco-albef",
                                 "path": str(data)}
    # the bundled model's card describes another architecture than this tiny checkpoint: refused, nothing written
    card = TRAINER_DIR.parent / "models" / "amc-small-synthetic"
    other = run_cli(["eval", "--checkpoint", str(path), "--data", str(data), "--card", str(card),
                     "--out", str(tmp_path / "b.json")])
    assert other.returncode == 2 and not (tmp_path / "b.json").exists()
    assert "model.json: the card describes another model than the checkpoint (" in other.events[-1]["message"]
    missing = run_cli(["eval", "--checkpoint", str(path), "--data", str(data), "--card", str(tmp_path)])
    assert missing.returncode == 2 and "model.json: model card not found" in missing.events[-1]["message"]


def test_validate_report_names_each_problem():
    row = {"id": "1", "image": "a.jpg", "phrase": "a dog", "split": "test", "boxes": [[1, 2, 3, 4]], "width": 10,
           "height": 10, "point": {"x": 1, "y": 2}, "hit": False, "lMean": 0.1, "lMax": 0.6, "score": 1.5}
    header = {"schema": "amc-eval-report", "schemaVersion": 1, "writer": "python -m amc_trainer eval",
              "model": {"name": None, "cardSha256": None, "checkpointSha256": "0" * 64},
              "dataset": {"file": "d.json", "size": 3, "format": "amc-vg"}}
    assert validate_report({**header, "samples": [row]}) == []
    assert validate_report({"samples": []}) == ['"schema" is null, expected "amc-eval-report"']
    assert validate_report({**header, "samples": [{**row, "point": [1, 2], "lMax": float("nan")}]}) == [
        "samples[0].point must be {x, y} in integer pixels", "samples[0].lMax must be a finite number"]
    assert validate_report({**header, "dataset": {"file": "a/d.json", "size": 3, "format": "x"}, "samples": []}) == [
        '"dataset.file" must be a file name (no folder)']


def test_eval_cli_errors_name_the_problem(synth, tiny_checkpoint, tmp_path):
    path, _ = tiny_checkpoint
    run = run_cli(["eval", "--checkpoint", str(path), "--data", str(synth / "refcoco+_test.json"), "--split", "val"])
    assert run.returncode == 2 and "no queries in split 'val'" in run.events[-1]["message"]
    run = run_cli(["eval", "--checkpoint", str(tmp_path / "nope.pth"), "--data", str(synth / "vg_test.json")])
    assert run.returncode == 2 and "nope.pth: checkpoint not found" in run.events[-1]["message"]


def test_accuracy_rows_of_a_file_without_splits_is_the_all_row_alone():
    from amc_trainer.eval_report import accuracy_rows

    rows = accuracy_rows([{"split": None, "hit": True}, {"split": None, "hit": False}])
    assert [(r["split"], r["hits"], r["total"]) for r in rows] == [("all", 1, 2)]
    mixed = accuracy_rows([{"split": "val", "hit": True}, {"split": None, "hit": False}])
    assert [r["split"] for r in mixed] == ["val", "(none)", "all"]


def significant_digits(text: str) -> int:
    """Significant digits of a JSON number as written ("0.000123" -> 3, "6.1e-05" -> 2, "3.0" -> 1)."""
    return len(re.split("[eE]", text)[0].replace("-", "").replace(".", "").lstrip("0").rstrip("0"))


def test_report_json_writes_sample_floats_with_9_significant_digits_at_float32_precision():
    """docs/reference.md §8: each sample's floats with 9 significant digits, the float32 round-trip precision (the
    metrics are float32 quantities; 17 digits of float64 noise also miss the readers' exact fast path)."""
    gen = torch.Generator().manual_seed(3)
    values = (torch.rand(2000, 4, generator=gen, dtype=torch.float32) * torch.tensor([8.0, 1.0, 0.4, 1.2])).tolist()
    rows = [{"index": i, "id": str(i), "boxes": [[1.25, 2.123456789012345, 30.5, 40.0]], "point": {"x": 3, "y": 4},
             "score": s - 4, "itmProbability": p, "lMean": lm, "lMax": lx, "total": 0.2 * lm + 0.8 * lx}
            for i, (s, p, lm, lx) in enumerate(values)]
    text = report_json({"schema": "amc-eval-report", "accuracy": [{"accuracy": 1 / 3}], "samples": rows})
    lines = text.split("\n")
    first = lines.index(' "samples": [') + 1
    written = lines[first:first + len(rows)]
    parsed = json.loads(text)
    assert parsed["accuracy"][0]["accuracy"] == 1 / 3  # the header is not rounded
    digits = []
    for row, line, back in zip(rows, written, parsed["samples"]):
        for key in ("score", "itmProbability", "lMean", "lMax", "total"):
            digits.append(significant_digits(re.search(f'"{key}":([^,}}]+)', line).group(1)))
            assert abs(back[key] - row[key]) <= 1e-7 * abs(row[key]), (key, back[key], row[key])
            if key != "total":  # a float32 value round-trips through its 9 digits
                assert np.float32(back[key]) == np.float32(row[key]), (key, back[key], row[key])
        assert (back["index"], back["point"], back["boxes"]) == (row["index"], row["point"], row["boxes"])
    assert 8 <= max(digits) <= 9
    # An exact tie rounds away from zero, as src/cli/report.ts (Number.prototype.toPrecision) does.
    tie = json.loads(report_json({"samples": [{"score": 2.0 ** -14, "lMean": -(2.0 ** -14)}]}))["samples"][0]
    assert (tie["score"], tie["lMean"]) == (6.10351563e-05, -6.10351563e-05)


def test_report_json_writes_non_finite_values_as_null_like_the_typescript_writer():
    """A NaN or infinite metric (e.g. a loss over an empty mask) is written as null: json.dumps would write the bare
    tokens NaN / Infinity, which are not JSON and which the viewer's report reader refuses."""
    accuracy = [{"split": "all", "hits": 0, "total": 0, "accuracy": float("nan")}]
    report = {"schema": "amc-eval-report", "accuracy": accuracy,
              "samples": [{"index": 0, "id": "0", "lMean": float("nan"), "lMax": float("inf"), "score": -float("inf"),
                           "boxes": [[0.0, 0.0, 1.0, 1.0]], "point": {"x": 0, "y": 0}}]}

    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    parsed = json.loads(report_json(report), parse_constant=refuse)
    assert parsed["samples"][0]["lMean"] is None and parsed["samples"][0]["lMax"] is None
    assert parsed["samples"][0]["score"] is None and parsed["accuracy"][0]["accuracy"] is None
