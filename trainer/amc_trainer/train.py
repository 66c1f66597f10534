"""`python -m amc_trainer train`: AMC training, single process or DDP under torchrun.

Progress goes to stdout as JSON lines (one object per line, flushed), for the VS Code task to parse:
  {"event":"step", "epoch","step","loss","itc","itm","mlm","amc_mean","amc_max","lr","samples_per_s","eta_s"}
  {"event":"epoch", "epoch","steps","loss","wall_s","skipped_samples"}
  {"event":"eval", "epoch","splits":{split:{"n","hits","accuracy"}},"accuracy"}
  {"event":"checkpoint", "path","epoch","step","reason":"epoch"|"signal"}
  {"event":"done", "status":"finished"|"interrupted","step","epochs","wall_s","checkpoint"}
  {"event":"error", "message", "step"?, "file"?, "entry"?, "line"?}  (file/entry/line: preflight problems)
Human-readable text goes to stderr. Only rank 0 writes events and checkpoints.

Determinism (what makes `--resume` bit-for-bit): the sample order of an epoch is a function of (seed, epoch)
(DistributedSampler), each sample's augmentation RNG is derived by the dataset from (seed, epoch, index), and
the global RNGs (python, numpy, torch — used by dropout, ITM hard-negative sampling, MLM masking) are saved
per rank at step boundaries. A resumed run skips the batches of the epoch it already consumed.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import re
import signal
import sys
import time
from typing import Any, Optional

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .checkpoint_io import CheckpointError, read_checkpoint, state_dict_of
from .config import ConfigError, TrainConfig, add_common_arguments, build_config, parse_overrides


# ----------------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------------
class Reporter:
    """JSON-lines events on stdout (rank 0 only) and human text on stderr."""

    def __init__(self, rank: int, world_size: int):
        self.rank = rank
        self.world_size = world_size

    def event(self, name: str, **fields: Any) -> None:
        if self.rank != 0:
            return
        line = json.dumps({"event": name, **fields}, allow_nan=False, default=_json_default)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def say(self, text: str, all_ranks: bool = False) -> None:
        if self.rank == 0 or all_ranks:
            prefix = f"[rank {self.rank}] " if self.world_size > 1 else ""
            sys.stderr.write(prefix + text + "\n")
            sys.stderr.flush()


def _json_default(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finite_or_none(value: float) -> Optional[float]:
    return value if math.isfinite(value) else None


# ----------------------------------------------------------------------------------------------------
# Distributed setup
# ----------------------------------------------------------------------------------------------------
class DistInfo:
    def __init__(self, rank: int, world_size: int, local_rank: int, device: torch.device, initialized: bool):
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank
        self.device, self.initialized = device, initialized

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_pref: str) -> DistInfo:
    """DDP when launched by torchrun (RANK in the environment): gloo on CPU, nccl on CUDA."""
    launched = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    rank = int(os.environ.get("RANK", "0")) if launched else 0
    world_size = int(os.environ.get("WORLD_SIZE", "1")) if launched else 1
    local_rank = int(os.environ.get("LOCAL_RANK", "0")) if launched else 0
    use_cuda = device_pref == "cuda" or (device_pref == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise ConfigError("config: device 'cuda' requested but torch sees no CUDA device")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if launched and world_size > 1:
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", rank=rank, world_size=world_size)
        return DistInfo(rank, world_size, local_rank, device, True)
    return DistInfo(0, 1, 0, device, False)


def all_reduce_max_flags(flags: list[int], info: DistInfo) -> list[int]:
    """Make every rank agree on boolean-ish flags (stop requested, non-finite loss)."""
    if not info.initialized:
        return flags
    t = torch.tensor(flags, dtype=torch.int64, device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [int(v) for v in t.tolist()]


def all_reduce_mean(values: list[float], info: DistInfo) -> list[float]:
    if not info.initialized:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return [v / info.world_size for v in t.tolist()]


# ----------------------------------------------------------------------------------------------------
# RNG state
# ----------------------------------------------------------------------------------------------------
def capture_rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------------------------------
# Optimiser and learning-rate schedule (spec §3)
# ----------------------------------------------------------------------------------------------------
def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; parameters that are 1-D or end in `.bias` get no weight decay (ALBEF optim_factory, spec §3).
    ViT pos_embed / cls_token are 3-D and therefore decayed, as in the reference."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim <= 1 or name.endswith(".bias") else decay).append(param)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)


def learning_rate(cfg: TrainConfig, epoch: int, step_in_epoch: int, global_step: int, total_steps: int) -> float:
    """The lr used for the optimizer step about to be taken (0-based step counters)."""
    if cfg.schedule == "constant":
        return cfg.lr
    if cfg.schedule == "amc":
        # spec §3: in epoch 0 `scheduler.step(i // 100)` while i <= warm-up iterations, so the warm-up is a
        # staircase of 100-iteration plateaus from warmup_lr to lr; afterwards epoch e >= 1 uses
        # lr(e) = min_lr + 0.5 (lr - min_lr)(1 + cos(pi e / cosine_epochs)).
        if epoch == 0:
            if step_in_epoch < cfg.warmup_steps:
                plateau = 100 if cfg.warmup_steps >= 100 else 1
                t = step_in_epoch // plateau
                warmup_t = cfg.warmup_steps / plateau
                return cfg.warmup_lr + t * (cfg.lr - cfg.warmup_lr) / warmup_t
            return cfg.lr
        return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * epoch / cfg.cosine_epochs))
    # "cosine": linear warm-up per step, then cosine to min_lr at the last step.
    if global_step < cfg.warmup_steps:
        return cfg.warmup_lr + (cfg.lr - cfg.warmup_lr) * global_step / cfg.warmup_steps
    span = max(1, total_steps - cfg.warmup_steps)
    progress = min(1.0, (global_step - cfg.warmup_steps) / span)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


# ----------------------------------------------------------------------------------------------------
# Model, data
# ----------------------------------------------------------------------------------------------------
def model_config_for(cfg: TrainConfig, saved: Optional[dict] = None):
    from .model import ModelConfig
    if saved:
        return ModelConfig(**saved)
    factory = ModelConfig.small if cfg.model == "small" else ModelConfig.base
    mcfg = factory(image_res=cfg.image_res)
    if cfg.model_overrides:
        unknown = sorted(set(cfg.model_overrides) - set(mcfg.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"config: unknown model_overrides key(s): {', '.join(unknown)}")
        mcfg = dataclasses.replace(mcfg, **cfg.model_overrides)
        try:
            mcfg.validate()
        except ValueError as err:
            raise ConfigError(f"config: model_overrides: {err}") from None
    return mcfg


def build_loader(dataset, indices: list[int], cfg: TrainConfig, loader_seed: int):
    from .data import collate
    generator = torch.Generator()
    generator.manual_seed(loader_seed)  # worker seeds come from here, never from the global RNG
    return torch.utils.data.DataLoader(
        dataset, batch_size=cfg.batch_size, sampler=indices, drop_last=True, num_workers=cfg.num_workers,
        collate_fn=collate, generator=generator, persistent_workers=False)


def parameters_finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


# ----------------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------------
def atomic_save(obj: Any, path: str) -> None:
    """Write to a temporary file in the same folder, fsync, then os.replace: a reader never sees half a file."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        torch.save(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def gather_rng_states(info: DistInfo) -> list:
    state = capture_rng_state()
    if not info.initialized:
        return [state]
    states: list = [None] * info.world_size
    dist.all_gather_object(states, state)
    return states


class SignalFlag:
    """SIGINT/SIGTERM ask for a checkpoint at the next step boundary; a second SIGINT aborts at once."""

    def __init__(self):
        self.signal_name: Optional[str] = None

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.signal_name is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name

    @property
    def requested(self) -> bool:
        return self.signal_name is not None


# ----------------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------------
def parse_args(argv: list[str]):
    parser = argparse.ArgumentParser(
        prog="python -m amc_trainer train",
        description="Train with the AMC loss. Extra --key value pairs override config keys (see config.py).")
    add_common_arguments(parser)
    args, rest = parser.parse_known_args(argv)
    overrides = parse_overrides(rest)
    if args.data:
        overrides["train_files"] = args.data
    if args.image_root is not None:
        overrides["image_root"] = args.image_root
    if args.init is not None:
        overrides["init_checkpoint"] = args.init
    return args, overrides


class TrainingDataError(ValueError):
    """The preflight found problems in the training data; they were listed before this is raised."""


MAX_PROBLEM_EVENTS = 100  # every problem goes to stderr; the first ones also become error events (Problems panel)


def preflight_training_data(dataset, read_problems: list, cfg: TrainConfig, info: DistInfo,
                            reporter: Reporter) -> int:
    """Before step 1: list every unreadable entry, unusable image and bad box of the training files, then stop
    (TrainingDataError, exit 2) or, with cfg.skip_bad_samples, drop those samples. Rank 0 checks the images
    and broadcasts what it found, so every rank drops the same samples. Returns the number skipped."""
    from .data import top_level_element_lines
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
        from concurrent.futures import ThreadPoolExecutor
        from .data import decoded_image_size
        from .evaluate import load_queries
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


RESUME_KEYS = ("model", "optimizer", "config", "next_epoch", "next_step_in_epoch", "step", "rng")


def resumable_checkpoint(ckpt: Any, path: str) -> dict:
    """A checkpoint this trainer wrote (an ALBEF.pth renamed last.pth has weights but no run state)."""
    missing = [k for k in RESUME_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: not a checkpoint written by `amc_trainer train` (no {', '.join(missing)}); "
                              "start a new run with --init to fine-tune from it")
    if not isinstance(ckpt["config"], dict) or not isinstance(ckpt["rng"], list) or not ckpt["rng"]:
        raise CheckpointError(f"{path}: its 'config' or 'rng' entry is not what `amc_trainer train` writes")
    return ckpt


def main(argv: list[str]) -> int:
    info = None
    reporter = Reporter(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")))
    try:
        args, overrides = parse_args(argv)
        resume_ckpt = None
        if args.resume:
            last = os.path.join(args.out, "last.pth")
            if not os.path.lexists(last):
                raise FileNotFoundError(f"{last}: nothing to resume (no last.pth in --out)")
            resume_ckpt = resumable_checkpoint(read_checkpoint(last), last)
        cfg = build_config(args.config, overrides, base=resume_ckpt["config"] if resume_ckpt else None)
        if not cfg.train_files:
            raise ConfigError("config: no training data (pass --data FILE or set train_files)")
        info = init_distributed(cfg.device)
        reporter = Reporter(info.rank, info.world_size)
        return run_training(cfg, args.out, resume_ckpt, info, reporter)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        reporter.event("error", message=str(err))
        reporter.say(f"error: {err}", all_ranks=True)
        return 2
    except Exception as err:  # anything else: still a clear event for the task, plus the traceback on stderr
        import traceback
        reporter.event("error", message=f"{type(err).__name__}: {err}")
        traceback.print_exc(file=sys.stderr)
        return 1
    finally:
        if info is not None and info.initialized and dist.is_initialized():
            dist.destroy_process_group()


def run_training(cfg: TrainConfig, out_dir: str, resume_ckpt: Optional[dict], info: DistInfo,
                 reporter: Reporter) -> int:
    from .data import GroundingTrainSet
    from .model import ALBEF, load_state_dict_report
    from .tokenizer import BertTokenizer

    t_start = time.time()
    if info.is_main:
        os.makedirs(out_dir, exist_ok=True)
    stop = SignalFlag()
    stop.install()

    # Same seed on every rank for the initial weights (DDP also broadcasts rank 0's), then seed + rank.
    seed_everything(cfg.seed)
    mcfg = model_config_for(cfg, resume_ckpt.get("model_config") if resume_ckpt else None)
    model = ALBEF(mcfg)
    if resume_ckpt is None and cfg.init_checkpoint:
        init_state = state_dict_of(read_checkpoint(cfg.init_checkpoint), cfg.init_checkpoint)
        missing, unexpected = load_state_dict_report(model, init_state)
        reporter.say(f"init from {cfg.init_checkpoint}: {len(missing)} missing, {len(unexpected)} unexpected keys")
        for key in missing:
            reporter.say(f"  missing (kept at random init): {key}")
        for key in unexpected:
            reporter.say(f"  unexpected (not used): {key}")
    model.to(info.device)
    seed_everything(cfg.seed + info.rank)

    optimizer = build_optimizer(model, cfg)
    read_problems: list = []
    dataset = GroundingTrainSet(cfg.train_files, cfg.image_root, image_res=cfg.image_res, augment=cfg.augment,
                                seed=cfg.seed, gray_p=cfg.gray_p, jitter=cfg.color_jitter, jitter_p=cfg.jitter_p,
                                problems=read_problems, max_image_bytes=cfg.max_image_bytes)
    skipped_samples = preflight_training_data(dataset, read_problems, cfg, info, reporter)
    preflight_eval_data(cfg, info, reporter)
    tokenizer = BertTokenizer.from_vocab()
    per_rank = len(dataset) // info.world_size
    steps_per_epoch = per_rank // cfg.batch_size
    if cfg.max_steps_per_epoch > 0:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
    if steps_per_epoch == 0:
        raise ConfigError(f"config: {len(dataset)} training samples are fewer than one batch of {cfg.batch_size} "
                          f"on each of {info.world_size} process(es)")
    total_steps = steps_per_epoch * cfg.epochs

    start_epoch, start_step_in_epoch, global_step = 0, 0, 0
    if resume_ckpt is not None:
        model.load_state_dict(resume_ckpt["model"])
        optimizer.load_state_dict(resume_ckpt["optimizer"])
        start_epoch = resume_ckpt["next_epoch"]
        start_step_in_epoch = resume_ckpt["next_step_in_epoch"]
        global_step = resume_ckpt["step"]
        states = resume_ckpt["rng"]
        if len(states) == info.world_size:
            restore_rng_state(states[info.rank])
        else:
            reporter.say(f"warning: checkpoint was written by {len(states)} process(es), resuming with "
                         f"{info.world_size}; the run continues but not bit-for-bit")
            restore_rng_state(states[0])
        if resume_ckpt.get("steps_per_epoch") not in (None, steps_per_epoch):
            reporter.say("warning: steps per epoch changed since the checkpoint (data, batch size or world size)")
        reporter.say(f"resumed from {os.path.join(out_dir, 'last.pth')} at epoch {start_epoch} "
                     f"step {start_step_in_epoch} (global step {global_step})")

    ddp_model: nn.Module = model  # ALBEF.forward is training_losses
    if info.initialized:
        ddp_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[info.local_rank] if info.device.type == "cuda" else None,
            # The MLM head (and ITC/ITM heads when switched off) get no gradient; momentum queues are
            # per-rank state, not something to overwrite from rank 0 every step.
            find_unused_parameters=True, broadcast_buffers=False)
    model.train()

    reporter.say(f"training {cfg.model} model ({sum(p.numel() for p in model.parameters()) / 1e6:.1f} M params) "
                 f"on {len(dataset)} samples, {info.world_size} process(es) on {info.device}, "
                 f"{steps_per_epoch} steps/epoch x {cfg.epochs} epochs, batch {cfg.batch_size}/process, "
                 f"AMC {'on' if cfg.use_amc else 'off'}")

    def save(next_epoch: int, next_step_in_epoch: int, reason: str, epoch_file: Optional[str]) -> Optional[str]:
        rng_states = gather_rng_states(info)  # every rank takes part
        path = None
        if info.is_main:
            payload = {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "lr_scheduler": {"schedule": cfg.schedule, "step": global_step,
                                 "lr": optimizer.param_groups[0]["lr"]},
                "config": cfg.to_dict(), "model_config": dataclasses.asdict(mcfg),
                "epoch": next_epoch - 1 if next_step_in_epoch == 0 else next_epoch,
                "next_epoch": next_epoch, "next_step_in_epoch": next_step_in_epoch, "step": global_step,
                "steps_per_epoch": steps_per_epoch, "world_size": info.world_size, "rng": rng_states,
                "torch_version": str(torch.__version__),  # a plain str: the safe checkpoint loader refuses TorchVersion
            }
            last = os.path.join(out_dir, "last.pth")
            if epoch_file:
                path = os.path.join(out_dir, epoch_file)
                atomic_save(payload, path)
            atomic_save(payload, last)
            path = path or last
            reporter.event("checkpoint", path=os.path.abspath(path), epoch=payload["epoch"], step=global_step,
                           reason=reason)
        if info.initialized:
            dist.barrier()
        return path

    last_checkpoint = os.path.join(out_dir, "last.pth") if resume_ckpt is not None else None
    timer_t0, timer_steps = time.time(), 0
    sec_per_step: Optional[float] = None
    for epoch in range(start_epoch, cfg.epochs):
        dataset.set_epoch(epoch)
        sampler = torch.utils.data.distributed.DistributedSampler(
            dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=cfg.seed, drop_last=True)
        sampler.set_epoch(epoch)
        first = start_step_in_epoch if epoch == start_epoch else 0
        indices = list(sampler)[first * cfg.batch_size: steps_per_epoch * cfg.batch_size]
        loader = build_loader(dataset, indices, cfg, loader_seed=cfg.seed * 1000 + epoch * 17 + info.rank)
        batches = iter(loader)
        epoch_t0 = time.time()
        epoch_losses: list[float] = []
        logged: dict[str, list[float]] = {}
        for step_in_epoch in range(first, steps_per_epoch):
            # Step boundary: everyone agrees whether a signal arrived before anything consumes randomness.
            if all_reduce_max_flags([int(stop.requested)], info)[0]:
                path = save(epoch, step_in_epoch, "signal", None)
                reporter.say(f"{stop.signal_name or 'signal'} received: saved {path}; stopping")
                reporter.event("done", status="interrupted", signal=stop.signal_name, step=global_step,
                               epochs=epoch, wall_s=round(time.time() - t_start, 3),
                               checkpoint=os.path.abspath(path) if path else None)
                return 0
            batch = next(batches)
            lr = learning_rate(cfg, epoch, step_in_epoch, global_step, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            input_ids, attention_mask = tokenizer.tok(batch["caption"], max_length=cfg.max_text_length)
            alpha = cfg.alpha
            if cfg.alpha_warmup and epoch == 0:
                alpha = cfg.alpha * min(1.0, step_in_epoch / steps_per_epoch)
            try:
                out = ddp_model(batch["image"].to(info.device), input_ids.to(info.device),
                                attention_mask.to(info.device), batch["box_mask"].to(info.device),
                                use_amc=cfg.use_amc, alpha=alpha, amc_weights=tuple(cfg.amc_weights),
                                amc_margins=tuple(cfg.amc_margins), use_mlm=cfg.use_mlm,
                                use_itc=cfg.use_itc, use_itm=cfg.use_itm)
            except RuntimeError as err:
                # Diverged weights can make the forward itself fail (e.g. hard-negative sampling from a
                # NaN softmax); that is the same non-finite stop, anything else is a real error.
                if parameters_finite(model) and not re.search(r"\b(inf|nan)\b", str(err), re.IGNORECASE):
                    raise
                out = {"forward_error": str(err).splitlines()[0]}
            loss = out.get("loss")
            bad = loss is None or not bool(torch.isfinite(loss.detach()).item())
            if all_reduce_max_flags([int(bad)], info)[0]:
                values = {k: (float(v.detach()) if isinstance(v, torch.Tensor) else v) for k, v in out.items()}
                message = (f"non-finite loss at epoch {epoch} step {step_in_epoch} (global step {global_step + 1}): "
                           + ", ".join(f"{k}={v}" for k, v in values.items())
                           + ("" if parameters_finite(model) else "; the weights are not finite")
                           + f"; stopped, last good checkpoint kept: {last_checkpoint or 'none written yet'}")
                reporter.event("error", message=message, epoch=epoch, step=global_step + 1,
                               checkpoint=os.path.abspath(last_checkpoint) if last_checkpoint else None)
                reporter.say("error: " + message, all_ranks=True)
                return 1
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            global_step += 1
            timer_steps += 1

            epoch_losses.append(float(loss.detach()))
            for key in ("itc", "itm", "mlm", "amc_mean", "amc_max"):
                if key in out:
                    logged.setdefault(key, []).append(float(out[key].detach()))
            logged.setdefault("loss", []).append(float(loss.detach()))
            if global_step % cfg.log_every == 0 or step_in_epoch == steps_per_epoch - 1:
                keys = sorted(logged)
                means = all_reduce_mean([sum(logged[k]) / len(logged[k]) for k in keys], info)
                elapsed = time.time() - timer_t0
                recent = elapsed / max(1, timer_steps)
                sec_per_step = recent if sec_per_step is None else 0.7 * sec_per_step + 0.3 * recent
                fields = {k: _finite_or_none(round(v, 6)) for k, v in zip(keys, means)}
                reporter.event("step", epoch=epoch, step=global_step, **fields, lr=lr,
                               samples_per_s=round(timer_steps * cfg.batch_size * info.world_size / max(elapsed, 1e-9), 3),
                               eta_s=round(sec_per_step * (total_steps - global_step), 1))
                reporter.say(f"epoch {epoch} step {global_step}/{total_steps} loss {fields['loss']:.4f} "
                             + " ".join(f"{k} {fields[k]:.4f}" for k in keys if k != "loss" and fields[k] is not None)
                             + f" lr {lr:.2e} {recent:.2f}s/step")
                logged = {}
                timer_t0, timer_steps = time.time(), 0

        epoch_loss = all_reduce_mean([sum(epoch_losses) / max(1, len(epoch_losses))], info)[0]
        reporter.event("epoch", epoch=epoch, steps=len(epoch_losses), loss=_finite_or_none(round(epoch_loss, 6)),
                       wall_s=round(time.time() - epoch_t0, 3), skipped_samples=skipped_samples)
        if cfg.eval_every > 0 and cfg.eval_file and (epoch + 1) % cfg.eval_every == 0:
            run_periodic_eval(model, mcfg, cfg, epoch, info, reporter, tokenizer)
        last_checkpoint = save(epoch + 1, 0, "epoch", f"checkpoint_{epoch:02d}.pth")
        timer_t0 = time.time()  # evaluation and saving are not training throughput

    if cfg.rank_weights_dir:
        os.makedirs(cfg.rank_weights_dir, exist_ok=True)
        atomic_save(model.state_dict(), os.path.join(cfg.rank_weights_dir, f"rank{info.rank}.pth"))
    final = os.path.join(out_dir, "last.pth")
    reporter.event("done", status="finished", step=global_step, epochs=cfg.epochs,
                   wall_s=round(time.time() - t_start, 3), checkpoint=os.path.abspath(final))
    reporter.say(f"done: {global_step} steps in {time.time() - t_start:.1f} s")
    return 0


def run_periodic_eval(model, mcfg, cfg: TrainConfig, epoch: int, info: DistInfo, reporter: Reporter,
                      tokenizer) -> None:
    """Rank 0 scores the pointing game on cfg.eval_file; the others wait. Uses no global RNG."""
    if info.is_main:
        from .evaluate import evaluate_queries, load_queries, summarize
        queries = load_queries(cfg.eval_file, cfg.eval_image_root or None, cfg.eval_split or None)
        model.eval()
        records = evaluate_queries(model, queries, tokenizer, image_res=mcfg.image_res,
                                   batch_size=cfg.eval_batch_size, device=info.device)
        model.train()
        summary = summarize(records)
        reporter.event("eval", epoch=epoch, **summary)
        reporter.say(f"eval after epoch {epoch}: " + ", ".join(
            f"{s} {v['accuracy'] * 100:.2f}% ({v['hits']}/{v['n']})" for s, v in summary["splits"].items()))
    if info.initialized:
        dist.barrier()
