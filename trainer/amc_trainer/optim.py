"""Optimiser and learning-rate schedule (docs/reference.md §3): AdamW without weight decay on biases and 1-D parameters,
and the three schedules of the training config: 'amc' (the reference's), 'cosine' and 'constant'."""
from __future__ import annotations

import math

import torch
from torch import nn

from .config import TrainConfig


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; parameters that are 1-D or end in `.bias` get no weight decay (ALBEF optim_factory, docs/reference.md §3).
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
        # docs/reference.md §3: in epoch 0 `scheduler.step(i // 100)` while i <= warm-up iterations, so the warm-up is a
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
