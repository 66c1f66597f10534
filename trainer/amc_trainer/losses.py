"""Training losses: AMC (docs/reference.md §2) and ALBEF's ITC / ITM / MLM (docs/reference.md §3).

Every function takes plain tensors so it can be checked against hand-computed cases."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

PAD_ID, CLS_ID, MASK_ID = 0, 101, 103


@dataclass(frozen=True)
class LossSwitches:
    """Which training losses run and how they combine; the training config keys of the same names (config.py).

    loss = itc + itm + mlm + amc_weights[0] L_mean + amc_weights[1] L_max over the terms switched on."""
    use_itc: bool = True                                # image-text contrastive
    use_itm: bool = True                                # image-text matching with in-batch hard negatives
    use_mlm: bool = False                               # masked language modelling (needs a model with mlm_head)
    use_amc: bool = True                                # AMC on the GradCAM of the positive pairs (needs box_mask)
    amc_weights: Tuple[float, float] = (0.2, 0.8)       # weights of L_mean, L_max
    amc_margins: Tuple[float, float] = (0.1, 0.5)       # margins of L_mean, L_max
    alpha: float = 0.0                                  # momentum-distillation weight (ITC, MLM) for this step

    @classmethod
    def from_config(cls, cfg: Any) -> "LossSwitches":
        """From a TrainConfig (anything with its use_* / amc_* / alpha attributes); alpha is the configured
        one, before the trainer's epoch-0 ramp."""
        return cls(use_itc=bool(cfg.use_itc), use_itm=bool(cfg.use_itm), use_mlm=bool(cfg.use_mlm),
                   use_amc=bool(cfg.use_amc), amc_weights=tuple(cfg.amc_weights),
                   amc_margins=tuple(cfg.amc_margins), alpha=float(cfg.alpha))


# ----------------------------------------------------------------------------------------------------
# AMC (docs/reference.md §2)

def _safe_ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    # A ratio over an empty region is 0, not 0/0 = NaN: with every mask empty (or every mask covering the
    # whole image) the inside (outside) mean contributes nothing. The where() keeps gradients finite too.
    ok = den > 0
    return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(num))


def amc_loss_terms(cam: torch.Tensor, box_mask: torch.Tensor,
                   margins: Sequence[float] = (0.1, 0.5)) -> Tuple[torch.Tensor, torch.Tensor]:
    """cam: normalised training GradCAM [B,S,S] in [0,1]; box_mask [B,S,S] float {0,1}.

    L_mean = max(0, sum_b sum_p A(1-M) / sum_b sum_p (1-M) - sum_b sum_p A M / sum_b sum_p M + margin_mean)
             -- one hinge pooled over the whole batch (model_pretrain.py:L234-239);
    L_max  = mean_b max(0, max_p A(1-M) - max_p A M + margin_max)  -- per sample (L241-244).
    Edge cases: an empty mask gives max_p(A M) = 0, so that sample's L_max = max_out + margin; in L_mean
    a sum of (1-M) or M that is 0 over the whole batch makes that mean 0 (see _safe_ratio)."""
    if cam.shape != box_mask.shape or cam.dim() != 3:
        raise ValueError(f"cam {tuple(cam.shape)} and box_mask {tuple(box_mask.shape)} must both be [B,S,S]")
    mask = box_mask.to(cam.dtype)
    outside = 1.0 - mask
    mean_out = _safe_ratio((cam * outside).sum(), outside.sum())
    mean_in = _safe_ratio((cam * mask).sum(), mask.sum())
    l_mean = F.relu(mean_out - mean_in + margins[0])
    B = cam.shape[0]
    max_out = (cam * outside).reshape(B, -1).max(dim=1)[0]
    max_in = (cam * mask).reshape(B, -1).max(dim=1)[0]
    l_max = F.relu(max_out - max_in + margins[1]).mean()
    return l_mean, l_max


def amc_loss(cam: torch.Tensor, box_mask: torch.Tensor, weights: Sequence[float] = (0.2, 0.8),
             margins: Sequence[float] = (0.1, 0.5)) -> torch.Tensor:
    """L_AMC = 0.2 L_mean + 0.8 L_max (Pretrain.py:L80)."""
    l_mean, l_max = amc_loss_terms(cam, box_mask, margins)
    return weights[0] * l_mean + weights[1] * l_max


# ----------------------------------------------------------------------------------------------------
# ITC (image-text contrastive)

def itc_loss(sim_i2t: torch.Tensor, sim_t2i: torch.Tensor, sim_i2t_m: Optional[torch.Tensor] = None,
             sim_t2i_m: Optional[torch.Tensor] = None, alpha: float = 0.0) -> torch.Tensor:
    """sim_* [B,K] (K >= B; columns 0..B-1 are the batch, the rest queue entries), already divided by temp.

    Targets are one-hot on the diagonal; with momentum similarities they are
    alpha * softmax(sim_m) + (1 - alpha) * one-hot (ALBEF momentum distillation)."""
    targets = torch.zeros_like(sim_i2t)
    targets.fill_diagonal_(1)
    t_i2t, t_t2i = targets, targets
    if sim_i2t_m is not None:
        t_i2t = alpha * F.softmax(sim_i2t_m, dim=1) + (1 - alpha) * targets
        t_t2i = alpha * F.softmax(sim_t2i_m, dim=1) + (1 - alpha) * targets
    loss_i2t = -(F.log_softmax(sim_i2t, dim=1) * t_i2t).sum(dim=1).mean()
    loss_t2i = -(F.log_softmax(sim_t2i, dim=1) * t_t2i).sum(dim=1).mean()
    return (loss_i2t + loss_t2i) / 2


# ----------------------------------------------------------------------------------------------------
# ITM (image-text matching) with hard negatives

@torch.no_grad()
def sample_hard_negatives(sim_i2t: torch.Tensor, sim_t2i: torch.Tensor
                          ) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
    """In-batch hard negatives (model_pretrain.py:L150-195): for each text an image drawn from
    softmax(sim_t2i) + 1e-4 with the diagonal zeroed, and for each image a text from softmax(sim_i2t).

    Returns (negative image index per text [B], negative text index per image [B]).
    At B = 1 no in-batch negative exists (the reference's multinomial over all-zero weights raises):
    returns (None, None) and ITM is computed on the positive pair alone."""
    B = sim_i2t.shape[0]
    if B < 2:
        return None, None
    w_t2i = F.softmax(sim_t2i[:, :B].float(), dim=1) + 1e-4
    w_t2i.fill_diagonal_(0)
    w_i2t = F.softmax(sim_i2t[:, :B].float(), dim=1) + 1e-4
    w_i2t.fill_diagonal_(0)
    neg_images = torch.multinomial(w_t2i, 1).squeeze(1)
    neg_texts = torch.multinomial(w_i2t, 1).squeeze(1)
    return neg_images, neg_texts


def itm_loss(itm_pos: torch.Tensor, itm_neg: Optional[torch.Tensor]) -> torch.Tensor:
    """Cross-entropy over [B positives (label 1); 2B negatives (label 0)]; positives only when itm_neg is None."""
    logits = itm_pos if itm_neg is None else torch.cat([itm_pos, itm_neg], dim=0)
    labels = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    labels[: itm_pos.shape[0]] = 1
    return F.cross_entropy(logits, labels)


# ----------------------------------------------------------------------------------------------------
# MLM (masked language modelling)

def mask_tokens(input_ids: torch.Tensor, vocab_size: int, probability: float = 0.15,
                generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """ALBEF's mask(): 15% of the non-[CLS], non-[PAD] tokens; of those 80% -> [MASK], 10% -> random id,
    10% kept. Returns (masked input_ids, labels with -100 where no loss is taken)."""
    ids = input_ids.clone()
    labels = input_ids.clone()
    masked = torch.bernoulli(torch.full(ids.shape, probability), generator=generator).bool().to(ids.device)
    masked &= (ids != PAD_ID) & (ids != CLS_ID)
    labels[~masked] = -100
    replaced = torch.bernoulli(torch.full(ids.shape, 0.8), generator=generator).bool().to(ids.device) & masked
    ids[replaced] = MASK_ID
    random_pos = (torch.bernoulli(torch.full(ids.shape, 0.5), generator=generator).bool().to(ids.device)
                  & masked & ~replaced)
    random_words = torch.randint(vocab_size, ids.shape, dtype=torch.long, generator=generator).to(ids.device)
    ids[random_pos] = random_words[random_pos]
    return ids, labels


def mlm_loss(logits: torch.Tensor, labels: torch.Tensor, soft_labels: Optional[torch.Tensor] = None,
             alpha: float = 0.0) -> torch.Tensor:
    """Cross-entropy on the masked positions, optionally distilled towards momentum soft labels:
    (1 - alpha) CE + alpha * mean_masked(-sum_v soft * log_softmax(logits)).

    The distillation uses log_softmax over the vocabulary (dim=-1), ALBEF's fixed version (commit b726f8e);
    AMC's xbert.py:L1450 still has dim=1 (the sequence axis), an old bug we deliberately do not replicate.
    A batch in which nothing got masked gives 0 (not the NaN of an empty mean)."""
    selected = labels != -100
    if not bool(selected.any()):
        return logits.sum() * 0.0
    ce = F.cross_entropy(logits[selected], labels[selected])
    if soft_labels is None:
        return ce
    distill = -(F.log_softmax(logits, dim=-1) * soft_labels).sum(dim=-1)[selected].mean()
    return (1 - alpha) * ce + alpha * distill
