"""Training checks its data before step 1 (issue 12 item 6): every missing, non-regular, undecodable or
truncated image and every unusable box is listed, naming the file and the entry, before any step; the run
then stops with exit code 2, or trains without those samples with --skip_bad_samples and counts them in
its epoch events. Deeply nested JSON is a clear message, not a RecursionError traceback."""
from __future__ import annotations

import os

import pytest
from PIL import Image

from amc_trainer.annotation_files import DataError
from amc_trainer.eval_formats import read_eval_queries
from amc_trainer.images import decoded_image_size
from amc_trainer.train_data import (GroundingTrainSet, SampleProblem, box_problem, read_train_entries,
                                    top_level_element_lines)
from train_helpers import break_dataset, make_squares_dataset, run_cli, tiny_args

DEEP = 100_000


@pytest.fixture()
def broken(tmp_path):
    root = make_squares_dataset(tmp_path / "data", n_train=16, n_test=2)
    return root, break_dataset(root)


def test_every_problem_is_listed_before_step_1_and_the_run_stops(broken, tmp_path):
    root, expect = broken
    run = run_cli(["train", *tiny_args(root, tmp_path / "out", epochs=1, max_steps_per_epoch=2)], timeout=120)
    assert run.returncode == 2, run.stderr
    assert not run.of("step") and not run.of("checkpoint") and not run.of("epoch")
    assert "Traceback" not in run.stderr
    errors = run.of("error")
    per_entry = {e["entry"]: e["message"] for e in errors[:-1]}
    assert sorted(per_entry) == sorted(expect), per_entry
    train_json = str(root / "train.json")
    lines = top_level_element_lines(train_json)
    for entry, words in expect.items():
        message = per_entry[entry]
        assert message.startswith(f"{train_json} ({entry}): "), message
        assert all(w in message for w in words), (entry, message)
        event = next(e for e in errors if e.get("entry") == entry)
        assert event["file"] == train_json and event["line"] == lines[int(entry[1:-1])]
        # stderr carries the problem-matcher form with the entry's line in the file
        assert f"amc-trainer: error: {train_json}:{event['line']}: ({entry}) " in run.stderr
    summary = errors[-1]["message"]
    assert "8 problem(s) in 8 training sample(s)" in summary and "--skip_bad_samples" in summary
    assert not (tmp_path / "out" / "last.pth").exists()


def test_skip_bad_samples_trains_without_them_and_counts_them(broken, tmp_path):
    root, expect = broken
    run = run_cli(["train", *tiny_args(root, tmp_path / "out", epochs=1, max_steps_per_epoch=1),
                   "--skip_bad_samples"], timeout=120)
    assert run.returncode == 0, run.stderr
    assert not run.of("error")
    assert run.of("step") and run.of("done")[0]["status"] == "finished"
    assert [e["skipped_samples"] for e in run.of("epoch")] == [len(expect)]
    for entry in expect:
        assert f"({entry}) " in run.stderr and "amc-trainer: warning:" in run.stderr
    assert "training on 8" in run.stderr


def test_a_clean_dataset_reports_zero_skipped(tmp_path):
    root = make_squares_dataset(tmp_path / "data", n_train=8, n_test=2)
    run = run_cli(["train", *tiny_args(root, tmp_path / "out", epochs=1, max_steps_per_epoch=1)], timeout=120)
    assert run.returncode == 0, run.stderr
    assert [e["skipped_samples"] for e in run.of("epoch")] == [0]


def test_preflight_in_process(broken):
    root, expect = broken
    read_problems: list = []
    dataset = GroundingTrainSet([str(root / "train.json")], str(root), image_res=32, problems=read_problems)
    assert [p.entry for p in read_problems] == ["[10]"] and len(dataset) == 15
    found = dataset.preflight(workers=2)
    assert sorted(p.entry for p in found) == sorted(e for e in expect if e != "[10]")
    assert all(isinstance(p, SampleProblem) and p.index is not None for p in found)
    dataset.drop([p.index for p in found])
    assert len(dataset) == 8 and not dataset.preflight()
    for i in range(len(dataset)):  # every accepted sample loads
        dataset[i]


def test_box_and_image_checks():
    assert box_problem([0, 0, 10, 10], (20, 20)) is None
    assert box_problem([-5, -5, 3, 3], (20, 20)) is None  # reaches past the border: clamped in training
    assert "no area" in box_problem([5, 5, 5, 9])
    assert "no area" in box_problem([5, 9, 8, 2])
    assert "entirely outside the 20x20" in box_problem([20, 0, 30, 10], (20, 20))
    assert "entirely outside" in box_problem([-10, 0, 0, 10], (20, 20))
    size, problem = decoded_image_size("/dev/zero")
    assert size is None and "not a regular file" in problem


def test_over_size_images_are_problems(tmp_path):
    image = tmp_path / "big.png"
    Image.new("RGB", (64, 64)).save(image)
    assert decoded_image_size(str(image))[0] == (64, 64)
    size, problem = decoded_image_size(str(image), max_bytes=16)
    assert size is None and "over the" in problem and "max_image_bytes" in problem


def test_deeply_nested_json_is_a_clear_message(tmp_path):
    root = make_squares_dataset(tmp_path / "data", n_train=4, n_test=2)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * DEEP + "]" * DEEP)
    run = run_cli(["train", *tiny_args(root, tmp_path / "out")[2:], "--data", str(deep)], timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.events[-1]["message"].startswith(f"{deep}: JSON nested too deeply")
    config = tmp_path / "deep_config.json"
    config.write_text("[" * DEEP + "]" * DEEP)
    run = run_cli(["train", *tiny_args(root, tmp_path / "out"), "--config", str(config)], timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.events[-1]["message"].startswith(f"{config}: JSON nested too deeply")
    nested = "[" * 20_000 + "]" * 20_000  # one argv string is capped at 128 kB; 20k levels still overflow json
    run = run_cli(["train", *tiny_args(root, tmp_path / "out"), "--model-overrides", nested],
                  timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert "nested too deeply" in run.events[-1]["message"]


def test_the_periodic_evaluation_data_is_checked_before_step_1_too(tmp_path):
    root = make_squares_dataset(tmp_path / "data", n_train=8, n_test=3)
    cut = root / "images" / "9.png"  # an image of vg_test.json whose header reads but whose pixels are cut off:
    cut.write_bytes(cut.read_bytes()[:120])  # evaluation would die after epoch 1
    run = run_cli(["train", *tiny_args(root, tmp_path / "out", epochs=1, max_steps_per_epoch=1,
                                       eval_file=root / "vg_test.json", eval_image_root=root, eval_every=1),
                   "--skip_bad_samples"], timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert not run.of("step")
    assert any(e["message"].startswith(str(root / "vg_test.json")) and "9.png" in e["message"]
               and "cannot decode image" in e["message"] for e in run.of("error"))
    assert "never skipped" in run.events[-1]["message"]


def test_deeply_nested_json_in_every_reader_is_a_data_error(tmp_path):
    deep = tmp_path / "vg_test.json"
    deep.write_text("[" * DEEP + "]" * DEEP)
    for read in (read_eval_queries, read_train_entries):
        with pytest.raises(DataError, match="JSON nested too deeply"):
            read(str(deep))


def test_an_annotation_path_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "train.json"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    with pytest.raises(DataError, match="not a regular file"):
        read_train_entries(str(fifo))
