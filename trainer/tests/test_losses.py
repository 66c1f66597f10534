"""AMC / ITC / ITM / MLM against hand-computed cases (docs/reference.md §2, §3)."""
import math

import pytest
import torch

from amc_trainer import losses
from amc_trainer.model import gradcam_training_map

# Two 2x2 "maps" whose numbers are easy to follow by hand.
CAM = torch.tensor([[[0.2, 0.9], [0.6, 0.1]],
                    [[0.5, 0.3], [0.8, 0.0]]])
MASK = torch.tensor([[[1.0, 0.0], [0.0, 0.0]],
                     [[1.0, 1.0], [0.0, 0.0]]])


def test_amc_hand_computed_batch_pools_l_mean_and_averages_l_max():
    l_mean, l_max = losses.amc_loss_terms(CAM, MASK)
    # outside: (0.9+0.6+0.1) + (0.8+0.0) = 2.4 over 3+2 pixels; inside: 0.2 + (0.5+0.3) = 1.0 over 1+2 pixels
    expected_mean = 2.4 / 5 - 1.0 / 3 + 0.1
    # sample 0: max_out 0.9, max_in 0.2 -> 1.2; sample 1: max_out 0.8, max_in 0.5 -> 0.8
    expected_max = (1.2 + 0.8) / 2
    assert l_mean.item() == pytest.approx(expected_mean, abs=1e-6)
    assert l_max.item() == pytest.approx(expected_max, abs=1e-6)
    total = losses.amc_loss(CAM, MASK)
    assert total.item() == pytest.approx(0.2 * expected_mean + 0.8 * expected_max, abs=1e-6)
    # per-sample means averaged afterwards would give a different number: pooling matters
    per_sample = ((1.6 / 3 - 0.2 / 1 + 0.1) + (0.8 / 2 - 0.8 / 2 + 0.1)) / 2
    assert abs(per_sample - expected_mean) > 1e-2


def test_amc_hinges_clip_at_zero_when_the_map_sits_inside_the_box():
    cam = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    mask = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    l_mean, l_max = losses.amc_loss_terms(cam, mask)
    assert l_mean.item() == 0.0  # 0 - 1 + 0.1 < 0
    assert l_max.item() == 0.0   # 0 - 1 + 0.5 < 0


def test_amc_empty_mask_batch_of_one_is_finite():
    cam = CAM[:1].clone().requires_grad_(True)
    empty = torch.zeros_like(MASK[:1])
    l_mean, l_max = losses.amc_loss_terms(cam, empty)
    # max(A*M) = 0, so L_max = max_out + 0.5; the inside mean over no pixels is defined as 0
    assert l_max.item() == pytest.approx(0.9 + 0.5, abs=1e-6)
    assert l_mean.item() == pytest.approx(1.8 / 4 - 0.0 + 0.1, abs=1e-6)
    (0.2 * l_mean + 0.8 * l_max).backward()
    assert torch.isfinite(cam.grad).all()


def test_amc_whole_image_mask_has_no_outside():
    cam = CAM[:1].clone().requires_grad_(True)
    full = torch.ones_like(MASK[:1])
    l_mean, l_max = losses.amc_loss_terms(cam, full)
    assert l_mean.item() == 0.0  # outside mean defined 0; 0 - 0.45 + 0.1 < 0
    assert l_max.item() == 0.0   # max_out 0 - max_in 0.9 + 0.5 < 0
    (l_mean + l_max).backward()
    assert torch.isfinite(cam.grad).all()


def test_amc_empty_mask_inside_a_batch_only_changes_its_own_l_max():
    mask = MASK.clone()
    mask[1] = 0
    l_mean, l_max = losses.amc_loss_terms(CAM, mask)
    assert l_mean.item() == pytest.approx((1.6 + 1.6) / (3 + 4) - 0.2 / 1 + 0.1, abs=1e-6)
    assert l_max.item() == pytest.approx((1.2 + (0.8 + 0.5)) / 2, abs=1e-6)


def test_amc_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="must both be"):
        losses.amc_loss_terms(CAM, MASK[:, :1])


def test_training_map_is_min_max_normalised_and_bilinear_at_batch_one():
    cam = torch.tensor([[[0.0, 2.0], [1.0, 4.0]]])
    out = gradcam_training_map(cam, out_size=4)
    assert out.shape == (1, 4, 4)
    expected = torch.nn.functional.interpolate((cam / (4.0 + 1e-7))[:, None], size=(4, 4), mode="bilinear",
                                               align_corners=False)[:, 0]
    assert torch.allclose(out, expected, atol=1e-7)
    assert out.min().item() == pytest.approx(0.0, abs=1e-7)
    assert out.max().item() == pytest.approx(1.0, abs=1e-6)
    # a constant map normalises to zeros (0 / (0 + 1e-7)), not NaN
    assert torch.equal(gradcam_training_map(torch.full((1, 2, 2), 3.0), 4), torch.zeros(1, 4, 4))


def test_itc_in_batch_hand_computed():
    sim = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    expected = math.log(1 + math.exp(-2.0))  # -log(e^2 / (e^2 + e^0)) for every row, both directions
    assert losses.itc_loss(sim, sim).item() == pytest.approx(expected, abs=1e-6)


def test_itc_momentum_distillation_mixes_targets():
    sim = torch.tensor([[1.0, 0.0, 0.5], [0.0, 1.0, -1.0]])  # 2 in-batch columns + 1 queue column
    sim_m = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    alpha = 0.4
    got = losses.itc_loss(sim, sim, sim_m, sim_m, alpha).item()
    logp = torch.log_softmax(sim, dim=1)
    onehot = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    targets = alpha * torch.full((2, 3), 1 / 3) + (1 - alpha) * onehot
    expected = -(logp * targets).sum(1).mean().item()
    assert got == pytest.approx(expected, abs=1e-6)


def test_itm_loss_hand_computed():
    pos = torch.zeros(2, 2)
    neg = torch.zeros(4, 2)
    assert losses.itm_loss(pos, neg).item() == pytest.approx(math.log(2), abs=1e-6)
    confident = torch.tensor([[0.0, 10.0]])
    assert losses.itm_loss(confident, torch.tensor([[10.0, 0.0], [10.0, 0.0]])).item() == pytest.approx(
        math.log(1 + math.exp(-10)), rel=1e-3)


def test_hard_negatives_never_pick_the_positive_and_follow_similarity():
    torch.manual_seed(0)
    sim = torch.randn(6, 6)
    for _ in range(50):
        neg_img, neg_txt = losses.sample_hard_negatives(sim, sim.t())
        assert (neg_img != torch.arange(6)).all() and (neg_txt != torch.arange(6)).all()
    peaked = torch.zeros(3, 3)
    peaked[0, 2] = peaked[1, 0] = peaked[2, 1] = 30.0
    neg_img, neg_txt = losses.sample_hard_negatives(peaked, peaked)
    assert neg_txt.tolist() == [2, 0, 1] and neg_img.tolist() == [2, 0, 1]


def test_hard_negatives_batch_of_one_has_none():
    assert losses.sample_hard_negatives(torch.ones(1, 1), torch.ones(1, 1)) == (None, None)
    assert losses.itm_loss(torch.tensor([[0.0, 0.0]]), None).item() == pytest.approx(math.log(2), abs=1e-6)


def test_mask_tokens_respects_cls_and_pad_and_proportions():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 2000, (400, 30))
    ids[:, 0] = losses.CLS_ID
    ids[:, 25:] = losses.PAD_ID
    masked, labels = losses.mask_tokens(ids, 30522, 0.15, generator=g)
    chosen = labels != -100
    assert not chosen[:, 0].any() and not chosen[:, 25:].any()
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(masked[~chosen], ids[~chosen])
    rate = chosen[:, 1:25].float().mean().item()
    assert 0.13 < rate < 0.17
    frac_mask = (masked[chosen] == losses.MASK_ID).float().mean().item()
    assert 0.75 < frac_mask < 0.85


def test_mlm_loss_nothing_masked_is_zero_and_distillation_formula():
    logits = torch.randn(2, 4, 10, requires_grad=True)
    labels = torch.full((2, 4), -100)
    zero = losses.mlm_loss(logits, labels)
    assert zero.item() == 0.0
    zero.backward()
    labels[0, 1], labels[1, 3] = 3, 7
    soft = torch.softmax(torch.randn(2, 4, 10), dim=-1)
    got = losses.mlm_loss(logits, labels, soft, alpha=0.4).item()
    lp = torch.log_softmax(logits.detach(), dim=-1)
    ce = -(lp[0, 1, 3] + lp[1, 3, 7]) / 2
    distill = -((lp[0, 1] * soft[0, 1]).sum() + (lp[1, 3] * soft[1, 3]).sum()) / 2
    assert got == pytest.approx((0.6 * ce + 0.4 * distill).item(), abs=1e-5)
