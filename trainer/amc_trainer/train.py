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

Reading order: `main` -> `run_training` (setup_run, then run_epoch per epoch, each batch a train_step, each
epoch ending in save_checkpoint). Around it: distributed.py (DDP, RNG state), preflight.py (the data checks
before step 1), reporter.py (the events above), train_data.py (the Dataset), model.py and losses.py.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
import torch.distributed as dist
from torch import nn

from .checkpoint_io import CheckpointError, read_checkpoint, state_dict_of
from .config import ConfigError, TrainConfig, add_common_arguments, build_config, parse_overrides
from .distributed import (DistInfo, all_reduce_max_flags, all_reduce_mean, gather_rng_states, init_distributed,
                          restore_rng_state, seed_everything)
from .evaluate import evaluate_queries, load_queries, summarize
from .losses import LossSwitches
from .model import ALBEF, ModelConfig, load_state_dict_report
from .optim import build_optimizer, learning_rate
from .preflight import preflight_eval_data, preflight_training_data
from .reporter import Reporter, finite_or_none
from .tokenizer import BertTokenizer
from .train_data import GroundingTrainSet, collate


# ----------------------------------------------------------------------------------------------------
# Model, data
# ----------------------------------------------------------------------------------------------------
def model_config_for(cfg: TrainConfig, saved: Optional[dict] = None) -> ModelConfig:
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


# ----------------------------------------------------------------------------------------------------
# Command line
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
        reporter.event("error", message=f"{type(err).__name__}: {err}")
        traceback.print_exc(file=sys.stderr)
        return 1
    finally:
        if info is not None and info.initialized and dist.is_initialized():
            dist.destroy_process_group()


# ----------------------------------------------------------------------------------------------------
# Training: setup, step, checkpoint
# ----------------------------------------------------------------------------------------------------
@dataclass
class Run:
    """One training run: what setup_run builds, what train_step advances and save_checkpoint writes."""
    cfg: TrainConfig
    out_dir: str
    info: DistInfo
    reporter: Reporter
    mcfg: ModelConfig
    model: ALBEF
    ddp_model: nn.Module            # `model`, wrapped in DistributedDataParallel under torchrun
    optimizer: torch.optim.Optimizer
    dataset: GroundingTrainSet
    tokenizer: BertTokenizer
    switches: LossSwitches          # from the config; train_step sets each step's alpha
    steps_per_epoch: int
    total_steps: int
    skipped_samples: int            # dropped by the preflight (--skip_bad_samples)
    t_start: float
    start_epoch: int = 0
    start_step_in_epoch: int = 0
    global_step: int = 0            # optimizer steps taken so far
    last_checkpoint: Optional[str] = None


def run_training(cfg: TrainConfig, out_dir: str, resume_ckpt: Optional[dict], info: DistInfo,
                 reporter: Reporter) -> int:
    t_start = time.time()
    if info.is_main:
        os.makedirs(out_dir, exist_ok=True)
    stop = SignalFlag()
    stop.install()
    run = setup_run(cfg, out_dir, resume_ckpt, info, reporter, t_start)
    log = StepLog()
    for epoch in range(run.start_epoch, cfg.epochs):
        code = run_epoch(run, epoch, stop, log)
        if code is not None:
            return code
        log.restart_clock()  # evaluation and saving are not training throughput
    if cfg.rank_weights_dir:
        os.makedirs(cfg.rank_weights_dir, exist_ok=True)
        atomic_save(run.model.state_dict(), os.path.join(cfg.rank_weights_dir, f"rank{info.rank}.pth"))
    final = os.path.join(out_dir, "last.pth")
    reporter.event("done", status="finished", step=run.global_step, epochs=cfg.epochs,
                   wall_s=round(time.time() - t_start, 3), checkpoint=os.path.abspath(final))
    reporter.say(f"done: {run.global_step} steps in {time.time() - t_start:.1f} s")
    return 0


def setup_run(cfg: TrainConfig, out_dir: str, resume_ckpt: Optional[dict], info: DistInfo, reporter: Reporter,
              t_start: float) -> Run:
    """Model (initial or --init weights), optimizer, data (checked by the preflight), step counts, the state of
    a resumed run, and the DDP wrapper. The order of the seeding calls is part of what makes runs repeatable."""
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
    run = Run(cfg=cfg, out_dir=out_dir, info=info, reporter=reporter, mcfg=mcfg, model=model, ddp_model=model,
              optimizer=optimizer, dataset=dataset, tokenizer=tokenizer, switches=LossSwitches.from_config(cfg),
              steps_per_epoch=steps_per_epoch, total_steps=steps_per_epoch * cfg.epochs,
              skipped_samples=skipped_samples, t_start=t_start)
    if resume_ckpt is not None:
        resume_from(run, resume_ckpt)

    if info.initialized:
        run.ddp_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[info.local_rank] if info.device.type == "cuda" else None,
            # The MLM head (and ITC/ITM heads when switched off) get no gradient; momentum queues are
            # per-rank state, not something to overwrite from rank 0 every step.
            find_unused_parameters=True, broadcast_buffers=False)
    model.train()
    reporter.say(f"training {cfg.model} model ({sum(p.numel() for p in model.parameters()) / 1e6:.1f} M params) "
                 f"on {len(dataset)} samples, {info.world_size} process(es) on {info.device}, "
                 f"{steps_per_epoch} steps/epoch x {cfg.epochs} epochs, batch {cfg.batch_size}/process, "
                 f"AMC {'on' if cfg.use_amc else 'off'}")
    return run


def resume_from(run: Run, ckpt: dict) -> None:
    """Weights, optimizer, position and this rank's RNG state from a checkpoint of this trainer."""
    info, reporter = run.info, run.reporter
    run.model.load_state_dict(ckpt["model"])
    run.optimizer.load_state_dict(ckpt["optimizer"])
    run.start_epoch = ckpt["next_epoch"]
    run.start_step_in_epoch = ckpt["next_step_in_epoch"]
    run.global_step = ckpt["step"]
    run.last_checkpoint = os.path.join(run.out_dir, "last.pth")
    states = ckpt["rng"]
    if len(states) == info.world_size:
        restore_rng_state(states[info.rank])
    else:
        reporter.say(f"warning: checkpoint was written by {len(states)} process(es), resuming with "
                     f"{info.world_size}; the run continues but not bit-for-bit")
        restore_rng_state(states[0])
    if ckpt.get("steps_per_epoch") not in (None, run.steps_per_epoch):
        reporter.say("warning: steps per epoch changed since the checkpoint (data, batch size or world size)")
    reporter.say(f"resumed from {os.path.join(run.out_dir, 'last.pth')} at epoch {run.start_epoch} "
                 f"step {run.start_step_in_epoch} (global step {run.global_step})")


def run_epoch(run: Run, epoch: int, stop: SignalFlag, log: "StepLog") -> Optional[int]:
    """One epoch (from the resumed step in the first one), its event, periodic evaluation and checkpoint.
    Returns the exit code when the run ends inside it (a signal: 0, a non-finite loss: 1), else None."""
    cfg, info, reporter = run.cfg, run.info, run.reporter
    run.dataset.set_epoch(epoch)
    sampler = torch.utils.data.distributed.DistributedSampler(
        run.dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=cfg.seed, drop_last=True)
    sampler.set_epoch(epoch)
    first = run.start_step_in_epoch if epoch == run.start_epoch else 0
    indices = list(sampler)[first * cfg.batch_size: run.steps_per_epoch * cfg.batch_size]
    loader = build_loader(run.dataset, indices, cfg, loader_seed=cfg.seed * 1000 + epoch * 17 + info.rank)
    batches = iter(loader)
    epoch_t0 = time.time()
    epoch_losses: list[float] = []
    log.start_epoch()
    for step_in_epoch in range(first, run.steps_per_epoch):
        # Step boundary: everyone agrees whether a signal arrived before anything consumes randomness.
        if all_reduce_max_flags([int(stop.requested)], info)[0]:
            path = save_checkpoint(run, epoch, step_in_epoch, "signal", None)
            reporter.say(f"{stop.signal_name or 'signal'} received: saved {path}; stopping")
            reporter.event("done", status="interrupted", signal=stop.signal_name, step=run.global_step,
                           epochs=epoch, wall_s=round(time.time() - run.t_start, 3),
                           checkpoint=os.path.abspath(path) if path else None)
            return 0
        stepped = train_step(run, next(batches), epoch, step_in_epoch)
        if stepped is None:
            return 1
        out, lr = stepped
        epoch_losses.append(float(out["loss"].detach()))
        log.add(out)
        if run.global_step % cfg.log_every == 0 or step_in_epoch == run.steps_per_epoch - 1:
            log.report(run, epoch, lr)

    epoch_loss = all_reduce_mean([sum(epoch_losses) / max(1, len(epoch_losses))], info)[0]
    reporter.event("epoch", epoch=epoch, steps=len(epoch_losses), loss=finite_or_none(round(epoch_loss, 6)),
                   wall_s=round(time.time() - epoch_t0, 3), skipped_samples=run.skipped_samples)
    if cfg.eval_every > 0 and cfg.eval_file and (epoch + 1) % cfg.eval_every == 0:
        run_periodic_eval(run.model, run.mcfg, cfg, epoch, info, reporter, run.tokenizer)
    run.last_checkpoint = save_checkpoint(run, epoch + 1, 0, "epoch", f"checkpoint_{epoch:02d}.pth")
    return None


def train_step(run: Run, batch: dict, epoch: int, step_in_epoch: int) -> Optional[tuple[dict, float]]:
    """One optimizer step on `batch`: (the loss terms, the lr used). None when the loss is not finite on some
    rank: that is reported (the last good checkpoint is kept) and nothing is updated."""
    cfg, info = run.cfg, run.info
    lr = learning_rate(cfg, epoch, step_in_epoch, run.global_step, run.total_steps)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    input_ids, attention_mask = run.tokenizer.tok(batch["caption"], max_length=cfg.max_text_length)
    alpha = cfg.alpha
    if cfg.alpha_warmup and epoch == 0:
        alpha = cfg.alpha * min(1.0, step_in_epoch / run.steps_per_epoch)
    try:
        out = run.ddp_model(batch["image"].to(info.device), input_ids.to(info.device),
                            attention_mask.to(info.device), batch["box_mask"].to(info.device),
                            switches=dataclasses.replace(run.switches, alpha=alpha))
    except RuntimeError as err:
        # Diverged weights can make the forward itself fail (e.g. hard-negative sampling from a
        # NaN softmax); that is the same non-finite stop, anything else is a real error.
        if parameters_finite(run.model) and not re.search(r"\b(inf|nan)\b", str(err), re.IGNORECASE):
            raise
        out = {"forward_error": str(err).splitlines()[0]}
    loss = out.get("loss")
    bad = loss is None or not bool(torch.isfinite(loss.detach()).item())
    if all_reduce_max_flags([int(bad)], info)[0]:
        report_non_finite(run, out, epoch, step_in_epoch)
        return None
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.grad_clip)
    run.optimizer.step()
    run.global_step += 1
    return out, lr


def report_non_finite(run: Run, out: dict, epoch: int, step_in_epoch: int) -> None:
    values = {k: (float(v.detach()) if isinstance(v, torch.Tensor) else v) for k, v in out.items()}
    message = (f"non-finite loss at epoch {epoch} step {step_in_epoch} (global step {run.global_step + 1}): "
               + ", ".join(f"{k}={v}" for k, v in values.items())
               + ("" if parameters_finite(run.model) else "; the weights are not finite")
               + f"; stopped, last good checkpoint kept: {run.last_checkpoint or 'none written yet'}")
    run.reporter.event("error", message=message, epoch=epoch, step=run.global_step + 1,
                       checkpoint=os.path.abspath(run.last_checkpoint) if run.last_checkpoint else None)
    run.reporter.say("error: " + message, all_ranks=True)


@dataclass
class StepLog:
    """Mean loss terms between `step` events, and the throughput and ETA those events report."""
    terms: dict = field(default_factory=dict)
    clock: float = field(default_factory=time.time)
    steps: int = 0                         # optimizer steps since `clock`
    sec_per_step: Optional[float] = None   # smoothed, for the ETA

    def start_epoch(self) -> None:
        self.terms = {}

    def restart_clock(self) -> None:
        self.clock = time.time()

    def add(self, out: dict) -> None:
        self.steps += 1
        for key in ("itc", "itm", "mlm", "amc_mean", "amc_max"):
            if key in out:
                self.terms.setdefault(key, []).append(float(out[key].detach()))
        self.terms.setdefault("loss", []).append(float(out["loss"].detach()))

    def report(self, run: Run, epoch: int, lr: float) -> None:
        """A `step` event and a stderr line with the means over every rank; then start the next interval."""
        cfg, info = run.cfg, run.info
        keys = sorted(self.terms)
        means = all_reduce_mean([sum(self.terms[k]) / len(self.terms[k]) for k in keys], info)
        elapsed = time.time() - self.clock
        recent = elapsed / max(1, self.steps)
        self.sec_per_step = recent if self.sec_per_step is None else 0.7 * self.sec_per_step + 0.3 * recent
        fields = {k: finite_or_none(round(v, 6)) for k, v in zip(keys, means)}
        samples_per_s = self.steps * cfg.batch_size * info.world_size / max(elapsed, 1e-9)
        run.reporter.event("step", epoch=epoch, step=run.global_step, **fields, lr=lr,
                           samples_per_s=round(samples_per_s, 3),
                           eta_s=round(self.sec_per_step * (run.total_steps - run.global_step), 1))
        run.reporter.say(f"epoch {epoch} step {run.global_step}/{run.total_steps} loss {fields['loss']:.4f} "
                         + " ".join(f"{k} {fields[k]:.4f}" for k in keys if k != "loss" and fields[k] is not None)
                         + f" lr {lr:.2e} {recent:.2f}s/step")
        self.terms = {}
        self.clock, self.steps = time.time(), 0


def save_checkpoint(run: Run, next_epoch: int, next_step_in_epoch: int, reason: str,
                    epoch_file: Optional[str]) -> Optional[str]:
    """last.pth (and `epoch_file`, when given) with everything `--resume` needs; every rank takes part (RNG
    states), rank 0 writes and returns the path, the others return None."""
    info, cfg, optimizer = run.info, run.cfg, run.optimizer
    rng_states = gather_rng_states(info)
    path = None
    if info.is_main:
        payload = {
            "model": run.model.state_dict(), "optimizer": optimizer.state_dict(),
            "lr_scheduler": {"schedule": cfg.schedule, "step": run.global_step,
                             "lr": optimizer.param_groups[0]["lr"]},
            "config": cfg.to_dict(), "model_config": dataclasses.asdict(run.mcfg),
            "epoch": next_epoch - 1 if next_step_in_epoch == 0 else next_epoch,
            "next_epoch": next_epoch, "next_step_in_epoch": next_step_in_epoch, "step": run.global_step,
            "steps_per_epoch": run.steps_per_epoch, "world_size": info.world_size, "rng": rng_states,
            "torch_version": str(torch.__version__),  # a plain str: the safe checkpoint loader refuses TorchVersion
        }
        last = os.path.join(run.out_dir, "last.pth")
        if epoch_file:
            path = os.path.join(run.out_dir, epoch_file)
            atomic_save(payload, path)
        atomic_save(payload, last)
        path = path or last
        run.reporter.event("checkpoint", path=os.path.abspath(path), epoch=payload["epoch"], step=run.global_step,
                           reason=reason)
    if info.initialized:
        dist.barrier()
    return path


def run_periodic_eval(model, mcfg, cfg: TrainConfig, epoch: int, info: DistInfo, reporter: Reporter,
                      tokenizer) -> None:
    """Rank 0 scores the pointing game on cfg.eval_file; the others wait. Uses no global RNG."""
    if info.is_main:
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
