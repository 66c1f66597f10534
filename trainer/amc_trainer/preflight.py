"""Before step 1: every problem of the training and evaluation data, listed at once (issue 12's preflight).

The training files: every unreadable entry, unusable image and bad box is listed (stderr, and the first
ones as error events with file/entry/line for the Problems panel); then the run stops (TrainingDataError,
exit 2) or, with skip_bad_samples, trains without those samples. The periodic evaluation's file and images
are checked too; its queries are never skipped.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import torch.distributed as dist

from .config import TrainConfig
from .distributed import DistInfo
from .evaluate import load_queries
from .images import decoded_image_size
from .reporter import Reporter
from .train_data import GroundingTrainSet, top_level_element_lines


class TrainingDataError(ValueError):
    """The preflight found problems in the training data; they were listed before this is raised."""


MAX_PROBLEM_EVENTS = 100  # every problem goes to stderr; the first ones also become error events (Problems panel)


def preflight_training_data(dataset: GroundingTrainSet, read_problems: list, cfg: TrainConfig, info: DistInfo,
                            reporter: Reporter) -> int:
    """Before step 1: list every unreadable entry, unusable image and bad box of the training files, then stop
    (TrainingDataError, exit 2) or, with cfg.skip_bad_samples, drop those samples. Rank 0 checks the images
    and broadcasts what it found, so every rank drops the same samples. Returns the number skipped."""
    problems = list(read_problems)
    if info.is_main:
        t0 = time.time()
        problems += dataset.preflight(workers=min(8, os.cpu_count() or 1))
        reporter.say(f"checked {len(dataset)} training samples ({len({e.image for e in dataset.entries})} images) "
                     f"in {time.time() - t0:.1f} s: {len(problems)} problem(s)")
    if info.initialized:
        box = [problems]
        dist.broadcast_object_list(box, src=0)
        problems = box[0]
    if not problems:
        return 0
    file_order = {f: i for i, f in enumerate(dataset.files)}
    problems.sort(key=lambda p: (file_order.get(p.file, len(file_order)), -1 if p.position is None else p.position))
    lines_of: dict = {}
    for p in problems:
        if p.position is not None:
            if p.file not in lines_of:
                lines_of[p.file] = top_level_element_lines(p.file) if info.is_main else None
            lines = lines_of[p.file]
            p.line = lines[p.position] if lines and p.position < len(lines) else None
    severity = "warning" if cfg.skip_bad_samples else "error"
    for n, p in enumerate(problems):
        if p.line:  # `amc-trainer: error: FILE:LINE: message`, the format of the $amc-trainer problem matcher
            reporter.say(f"amc-trainer: {severity}: {os.path.abspath(p.file)}:{p.line}: "
                         f"{f'({p.entry}) ' if p.entry else ''}{p.message}")
        else:
            reporter.say(f"{severity}: {p}")
        if severity == "error" and n < MAX_PROBLEM_EVENTS:
            reporter.event("error", message=str(p), file=p.file, entry=p.entry, line=p.line)
    samples = {(p.file, p.entry) if p.index is None else p.index for p in problems}
    if not cfg.skip_bad_samples:
        more = f" ({len(problems) - MAX_PROBLEM_EVENTS} more on stderr)" if len(problems) > MAX_PROBLEM_EVENTS else ""
        where = cfg.train_files[0] if len(cfg.train_files) == 1 else "training data"
        raise TrainingDataError(
            f"{where}: {len(problems)} problem(s) in {len(samples)} training sample(s), listed above{more}; "
            "stopped before step 1. Fix them, or pass --skip_bad_samples to train without those samples")
    dataset.drop([p.index for p in problems if p.index is not None])
    reporter.say(f"skipping {len(samples)} training sample(s) with problems (--skip_bad_samples); "
                 f"training on {len(dataset)}")
    return len(samples)


def preflight_eval_data(cfg: TrainConfig, info: DistInfo, reporter: Reporter) -> None:
    """The periodic evaluation's file and images are checked before step 1 too: a problem found after the first
    epoch would end the run there. Its queries are never skipped (that would change the accuracy it reports)."""
    if not (cfg.eval_every > 0 and cfg.eval_file):
        return
    message = None
    if info.is_main:
        try:
            queries = load_queries(cfg.eval_file, cfg.eval_image_root or None, cfg.eval_split or None)
            images = list(dict.fromkeys(q.image for q in queries))
            with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
                reasons = dict(zip(images, (r for _, r in pool.map(
                    lambda path: decoded_image_size(path, cfg.max_image_bytes), images))))
            bad = {image: reason for image, reason in reasons.items() if reason}
            for n, image in enumerate(bad):
                users = [q for q in queries if q.image == image]
                text = f"{users[0].source or cfg.eval_file}: {bad[image]}" + \
                    (f" (and {len(users) - 1} more queries of this image)" if len(users) > 1 else "")
                reporter.say(f"error: {text}")
                if n < MAX_PROBLEM_EVENTS:
                    reporter.event("error", message=text, file=cfg.eval_file)
            if bad:
                message = (f"{cfg.eval_file}: {len(bad)} image(s) of the evaluation file (eval_file) cannot be used, "
                           "listed above; stopped before step 1 (evaluation queries are never skipped: fix them, "
                           "or set eval_every 0)")
        except (ValueError, OSError) as err:  # a DataError's message starts with the file and the entry
            message = str(err) if str(err).startswith(cfg.eval_file) else f"{cfg.eval_file}: {err}"
    if info.initialized:
        box = [message]
        dist.broadcast_object_list(box, src=0)
        message = box[0]
    if message:
        raise TrainingDataError(message)
