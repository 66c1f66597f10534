"""Model: shapes, determinism, GradCAM vs a hook-based computation, training losses, and key-for-key loading of
ALBEF/AMC base-size checkpoints (docs/reference.md §1, §6)."""
import gc

import pytest
import torch
import torch.nn.functional as F

from amc_trainer.model import ALBEF, ModelConfig, load_state_dict_report


def _tiny_cfg(**kw) -> ModelConfig:
    # smaller than the default so the tests stay quick; same code paths
    base = dict(image_res=64, patch_size=16, vision_width=48, vision_depth=2, vision_heads=2, vision_mlp_dim=96,
                text_width=48, text_layers=4, text_heads=2, text_intermediate=96, fusion_layer=2,
                gradcam_layer=3, embed_dim=32, vocab_size=30522)
    base.update(kw)
    return ModelConfig(**base)


def _batch(B=3, T=6, res=64, pad_row=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(B, 3, res, res, generator=g)
    ids = torch.randint(1000, 3000, (B, T), generator=g)
    ids[:, 0] = 101
    att = torch.ones(B, T, dtype=torch.long)
    if pad_row is not None and B > pad_row:
        ids[pad_row, T - 2:] = 0
        att[pad_row, T - 2:] = 0
    mask = torch.zeros(B, 256, 256)
    for b in range(B):
        mask[b, 20 + 30 * b: 120 + 20 * b, 40: 150 + 10 * b] = 1
    return image, ids, att, mask


def test_shapes_of_encode_and_explain():
    cfg = _tiny_cfg()
    model = ALBEF(cfg)
    image, ids, att, _ = _batch()
    with torch.no_grad():
        emb = model.encode_image(image)
    assert emb.shape == (3, 1 + cfg.grid ** 2, cfg.vision_width)
    out = model.explain(emb, ids, att)
    assert out["itm_logits"].shape == (3, 2)
    assert out["gradcam"].shape == (3, cfg.grid, cfg.grid)
    assert out["token_gradcam"].shape == (3, 6, cfg.grid, cfg.grid)
    assert not any(t.requires_grad for t in out.values())
    assert (out["token_gradcam"][1, 4:] == 0).all(), "padding tokens have zero maps"
    assert (out["gradcam"] >= 0).all() and out["gradcam"].abs().sum() > 0


def test_default_configs():
    small, base = ModelConfig.small(), ModelConfig.base(384)
    assert small.grid == 16 and small.fusion_layer <= small.gradcam_layer < small.text_layers
    assert (base.vision_width, base.vision_depth, base.text_layers, base.fusion_layer, base.gradcam_layer,
            base.grid, base.queue_size) == (768, 12, 12, 6, 8, 24, 65536)
    with pytest.raises(ValueError, match="gradcam_layer"):
        ALBEF(_tiny_cfg(gradcam_layer=1))


def test_same_seed_same_weights_and_losses():
    def run():
        torch.manual_seed(123)
        model = ALBEF(_tiny_cfg())
        image, ids, att, mask = _batch()
        torch.manual_seed(7)
        out = model.training_losses(image, ids, att, mask, use_amc=True)
        return model, out

    (m1, o1), (m2, o2) = run(), run()
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), k
    for k in o1:
        assert torch.equal(o1[k], o2[k]), k


def _hook_gradcam(model: ALBEF, emb, ids, att):
    """GradCAM as ALBEF's evaluation does it: keep A, register_hook(save_attn_gradients), backward the sum of
    raw match logits, then the docs/reference.md §1.3 formula written out."""
    saved = {}

    def save(probs):
        saved["A"] = probs
        probs.register_hook(lambda grad: saved.__setitem__("G", grad))
        return probs

    model.eval()
    model.zero_grad()
    hidden = model.text_encoder.bert(att, input_ids=ids, image_embeds=emb, mode="multi_modal",
                                     probe_layer=model.cfg.gradcam_layer, probs_hook=save)
    logits = model.itm_head(hidden[:, 0])
    logits[:, 1].sum().backward()
    A, G = saved["A"].detach(), saved["G"]
    B, H, L, _ = A.shape
    g = model.cfg.grid
    m = att.view(B, 1, L, 1, 1).float()
    A = A[:, :, :, 1:].reshape(B, H, L, g, g) * m
    G = G[:, :, :, 1:].clamp(min=0).reshape(B, H, L, g, g) * m
    return logits.detach(), (A * G).mean(dim=1).mean(dim=1)


def test_gradcam_equals_hook_based_computation():
    torch.manual_seed(1)
    model = ALBEF(_tiny_cfg())
    image, ids, att, _ = _batch(B=4, T=7)
    with torch.no_grad():
        emb = model.encode_image(image)
    out = model.explain(emb, ids, att)
    logits, cam = _hook_gradcam(model, emb, ids, att)
    assert torch.allclose(out["itm_logits"], logits, atol=1e-6)
    assert torch.allclose(out["gradcam"], cam, rtol=1e-5, atol=1e-12)
    assert cam.abs().max() > 0


def test_gradcam_batch_of_one_matches_batched_row():
    torch.manual_seed(2)
    model = ALBEF(_tiny_cfg())
    image, ids, att, _ = _batch(B=3, T=6, pad_row=None)
    with torch.no_grad():
        emb = model.encode_image(image)
    batched = model.explain(emb, ids, att)
    single = model.explain(emb[1:2], ids[1:2], att[1:2])
    assert single["gradcam"].shape == (1, 4, 4)
    assert torch.allclose(single["gradcam"][0], batched["gradcam"][1], rtol=1e-5, atol=1e-12)


def test_explain_keeps_training_mode_and_needs_no_parameter_grads():
    model = ALBEF(_tiny_cfg()).train()
    for p in model.parameters():
        p.requires_grad_(False)
    image, ids, att, _ = _batch()
    with torch.no_grad():
        out = model.explain(model.encode_image(image), ids, att)
    assert model.training
    assert out["gradcam"].abs().sum() > 0


def test_training_losses_amc_backpropagates_through_the_gradient():
    torch.manual_seed(3)
    model = ALBEF(_tiny_cfg()).train()
    image, ids, att, mask = _batch(B=4)
    out = model.training_losses(image, ids, att, mask, use_amc=True)
    for k in ("loss", "itc", "itm", "amc_mean", "amc_max"):
        assert out[k].dim() == 0 and torch.isfinite(out[k]), k
    # itm_head.weight influences AMC only through dS/dA (the second-order term of create_graph=True)
    (g_head,) = torch.autograd.grad(out["amc_max"] + out["amc_mean"], model.itm_head.weight, retain_graph=True,
                                    allow_unused=True)
    assert g_head is not None and g_head.abs().sum() > 0
    out["loss"].backward()
    assert model.visual_encoder.patch_embed.proj.weight.grad.abs().sum() > 0


def test_conv_stem_gives_the_same_tokens_and_trains_through_amc():
    torch.manual_seed(3)
    model = ALBEF(_tiny_cfg(patch_stem="conv")).train()
    stem = model.visual_encoder.patch_embed.stem
    assert [m.stride for m in stem if isinstance(m, torch.nn.Conv2d)] == [(2, 2)] * 4 + [(1, 1)]  # 16 = 2^4
    image, ids, att, mask = _batch(B=4)
    assert model.encode_image(image).shape == ALBEF(_tiny_cfg()).encode_image(image).shape
    out = model.training_losses(image, ids, att, mask, use_amc=True, use_itc=False, use_itm=False)
    (g_stem,) = torch.autograd.grad(out["loss"], stem[0].weight)  # AMC alone reaches the first conv
    assert g_stem.abs().sum() > 0
    for bad, why in ((dict(patch_stem="cnn"), "patch_stem must be"),
                     (dict(patch_stem="conv", patch_size=12, image_res=48), "power-of-two")):
        with pytest.raises(ValueError, match=why):
            _tiny_cfg(**bad).validate()


def test_training_losses_without_amc_and_with_mlm():
    torch.manual_seed(4)
    model = ALBEF(_tiny_cfg())
    image, ids, att, mask = _batch()
    out = model.training_losses(image, ids, att, None, use_amc=False, use_mlm=True)
    assert out["amc_mean"].item() == 0.0 and out["amc_max"].item() == 0.0
    assert out["loss"].item() == pytest.approx((out["itc"] + out["itm"] + out["mlm"]).item(), rel=1e-6)
    with pytest.raises(ValueError, match="box_mask"):
        model.training_losses(image, ids, att, None, use_amc=True)


def test_training_losses_batch_of_one():
    torch.manual_seed(5)
    model = ALBEF(_tiny_cfg()).train()
    image, ids, att, mask = _batch(B=1, pad_row=None)
    out = model.training_losses(image, ids, att, mask, use_amc=True)
    assert all(torch.isfinite(v) for v in out.values())
    out["loss"].backward()


def test_momentum_and_queues_train_and_wrap_around():
    torch.manual_seed(6)
    model = ALBEF(_tiny_cfg(use_momentum_distill=True, queue_size=5)).train()
    image, ids, att, mask = _batch(B=3)
    before = model.image_queue.clone()
    for step in range(2):
        out = model.training_losses(image, ids, att, mask, use_amc=True, alpha=0.4, use_mlm=True)
        out["loss"].backward()
    assert int(model.queue_ptr_img) == 6 % 5 and int(model.queue_ptr_txt) == 1
    assert not torch.equal(before[:, 0], model.image_queue[:, 0])
    assert all(not p.requires_grad for p in model.visual_encoder_m.parameters())


# ----------------------------------------------------------------------------------------------------
# Key-for-key loading, base config (docs/reference.md §6). The expected keys are written out here from the spec, not
# taken from the model.

def _spec_base_keys(res: int = 256, ptr: str = "amc"):
    n = (res // 16) ** 2 + 1
    keys = {}

    def vit(prefix):
        keys[f"{prefix}.cls_token"] = (1, 1, 768)
        keys[f"{prefix}.pos_embed"] = (1, n, 768)
        keys[f"{prefix}.patch_embed.proj.weight"] = (768, 3, 16, 16)
        keys[f"{prefix}.patch_embed.proj.bias"] = (768,)
        for i in range(12):
            b = f"{prefix}.blocks.{i}"
            for ln in ("norm1", "norm2"):
                keys[f"{b}.{ln}.weight"] = keys[f"{b}.{ln}.bias"] = (768,)
            keys[f"{b}.attn.qkv.weight"], keys[f"{b}.attn.qkv.bias"] = (2304, 768), (2304,)
            keys[f"{b}.attn.proj.weight"], keys[f"{b}.attn.proj.bias"] = (768, 768), (768,)
            keys[f"{b}.mlp.fc1.weight"], keys[f"{b}.mlp.fc1.bias"] = (3072, 768), (3072,)
            keys[f"{b}.mlp.fc2.weight"], keys[f"{b}.mlp.fc2.bias"] = (768, 3072), (768,)
        keys[f"{prefix}.norm.weight"] = keys[f"{prefix}.norm.bias"] = (768,)

    def bert(prefix):
        e = f"{prefix}.bert.embeddings"
        keys[f"{e}.word_embeddings.weight"] = (30522, 768)
        keys[f"{e}.position_embeddings.weight"] = (512, 768)
        keys[f"{e}.token_type_embeddings.weight"] = (2, 768)
        keys[f"{e}.LayerNorm.weight"] = keys[f"{e}.LayerNorm.bias"] = (768,)
        keys[f"{e}.position_ids"] = (1, 512)
        for i in range(12):
            L = f"{prefix}.bert.encoder.layer.{i}"
            blocks = ["attention"] + (["crossattention"] if i >= 6 else [])
            for blk in blocks:
                for qkv in ("query", "key", "value"):
                    keys[f"{L}.{blk}.self.{qkv}.weight"], keys[f"{L}.{blk}.self.{qkv}.bias"] = (768, 768), (768,)
                keys[f"{L}.{blk}.output.dense.weight"], keys[f"{L}.{blk}.output.dense.bias"] = (768, 768), (768,)
                keys[f"{L}.{blk}.output.LayerNorm.weight"] = keys[f"{L}.{blk}.output.LayerNorm.bias"] = (768,)
            keys[f"{L}.intermediate.dense.weight"], keys[f"{L}.intermediate.dense.bias"] = (3072, 768), (3072,)
            keys[f"{L}.output.dense.weight"], keys[f"{L}.output.dense.bias"] = (768, 3072), (768,)
            keys[f"{L}.output.LayerNorm.weight"] = keys[f"{L}.output.LayerNorm.bias"] = (768,)
        c = f"{prefix}.cls.predictions"
        keys[f"{c}.bias"] = (30522,)
        keys[f"{c}.transform.dense.weight"], keys[f"{c}.transform.dense.bias"] = (768, 768), (768,)
        keys[f"{c}.transform.LayerNorm.weight"] = keys[f"{c}.transform.LayerNorm.bias"] = (768,)
        keys[f"{c}.decoder.weight"], keys[f"{c}.decoder.bias"] = (30522, 768), (30522,)

    for suffix in ("", "_m"):
        vit(f"visual_encoder{suffix}")
        bert(f"text_encoder{suffix}")
        keys[f"vision_proj{suffix}.weight"], keys[f"vision_proj{suffix}.bias"] = (256, 768), (256,)
        keys[f"text_proj{suffix}.weight"], keys[f"text_proj{suffix}.bias"] = (256, 768), (256,)
    keys["itm_head.weight"], keys["itm_head.bias"] = (2, 768), (2,)
    keys["temp"] = ()
    keys["image_queue"] = keys["text_queue"] = (256, 65536)
    if ptr == "amc":
        keys["queue_ptr_img"] = keys["queue_ptr_txt"] = (1,)
    else:
        keys["queue_ptr"] = (1,)
    return keys


def _random_state(keys, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, shape in keys.items():
        if k.endswith("position_ids"):
            out[k] = torch.arange(512).view(1, 512)
        elif "queue_ptr" in k:
            out[k] = torch.tensor([4096])
        else:
            out[k] = torch.rand(shape, generator=g) - 0.5
    # tied weights are one tensor in a real checkpoint
    for p in ("text_encoder", "text_encoder_m"):
        out[f"{p}.cls.predictions.decoder.weight"] = out[f"{p}.bert.embeddings.word_embeddings.weight"]
        out[f"{p}.cls.predictions.decoder.bias"] = out[f"{p}.cls.predictions.bias"]
    return out


@pytest.fixture(scope="module")
def base256():
    # parameters left uninitialised: every test below loads a complete checkpoint first
    model = ALBEF(ModelConfig.base(256), init_weights=False)
    yield model
    del model
    gc.collect()


@pytest.fixture(scope="module")
def base_state():
    state = _random_state(_spec_base_keys(256, "amc"))
    yield state
    del state
    gc.collect()


def _albef_interpolate_pos_embed(pos_embed_checkpoint, num_patches):
    # ALBEF models/vit.py interpolate_pos_embed, verbatim logic
    embedding_size = pos_embed_checkpoint.shape[-1]
    num_extra_tokens = 1
    orig_size = int((pos_embed_checkpoint.shape[-2] - num_extra_tokens) ** 0.5)
    new_size = int(num_patches ** 0.5)
    extra_tokens = pos_embed_checkpoint[:, :num_extra_tokens]
    pos_tokens = pos_embed_checkpoint[:, num_extra_tokens:]
    pos_tokens = pos_tokens.reshape(-1, orig_size, orig_size, embedding_size).permute(0, 3, 1, 2)
    pos_tokens = F.interpolate(pos_tokens, size=(new_size, new_size), mode="bicubic", align_corners=False)
    pos_tokens = pos_tokens.permute(0, 2, 3, 1).flatten(1, 2)
    return torch.cat((extra_tokens, pos_tokens), dim=1)


def test_base_pretraining_checkpoint_loads_key_for_key(base256, base_state):
    expected = _spec_base_keys(256, "amc")
    own = {k: tuple(v.shape) for k, v in base256.state_dict().items()}
    assert own == expected, (sorted(set(own) ^ set(expected)),
                             [k for k in own if k in expected and own[k] != expected[k]])
    missing, unexpected = load_state_dict_report(base256, {"model": base_state, "epoch": 3})
    assert missing == [] and unexpected == []
    loaded = base256.state_dict()
    for k, v in base_state.items():
        assert torch.equal(loaded[k], v), k


def test_albef_queue_ptr_and_unknown_keys_are_reported(base256, base_state):
    state = dict(base_state)
    ptr = state.pop("queue_ptr_img")
    del state["queue_ptr_txt"]
    state["queue_ptr"] = ptr + 8  # ALBEF names one pointer for both queues
    state["text_encoder.bert.pooler.dense.weight"] = torch.zeros(768, 768)
    del state["itm_head.bias"]
    missing, unexpected = load_state_dict_report(base256, state)
    assert missing == ["itm_head.bias"]
    assert unexpected == ["text_encoder.bert.pooler.dense.weight"]
    assert int(base256.queue_ptr_img) == 4104 and int(base256.queue_ptr_txt) == 4104


def test_base_evaluation_checkpoint_loads_key_for_key_at_384_with_pos_embed_interpolation(base256, base_state):
    # evaluation key set (docs/reference.md §6): every key containing 'bert' loses 'bert.', and no cls.* keys
    eval_state = {k.replace("bert.", ""): v for k, v in base_state.items() if ".cls." not in k}
    assert not any(".bert." in k for k in eval_state)
    cfg = ModelConfig.base(384)
    cfg.mlm_head = False
    model = ALBEF(cfg, init_weights=False)
    missing, unexpected = load_state_dict_report(model, eval_state)
    assert missing == [] and unexpected == []
    sd = model.state_dict()
    for key in ("visual_encoder.pos_embed", "visual_encoder_m.pos_embed"):
        assert sd[key].shape == (1, 577, 768)
        assert torch.equal(sd[key], _albef_interpolate_pos_embed(base_state[key], 576)), key
    key = "text_encoder.bert.encoder.layer.8.crossattention.self.query.weight"
    assert torch.equal(sd[key], base_state[key])
    del model, sd
    gc.collect()
    # the same evaluation dict into a model that has an MLM head: the head is reported missing by name
    missing, unexpected = load_state_dict_report(base256, eval_state)
    assert unexpected == []
    assert missing == sorted(f"{p}.cls.predictions.{s}" for p in ("text_encoder", "text_encoder_m")
                             for s in ("bias", "transform.dense.weight", "transform.dense.bias",
                                       "transform.LayerNorm.weight", "transform.LayerNorm.bias"))


def test_shape_mismatch_is_an_error_naming_the_key():
    model = ALBEF(_tiny_cfg())
    state = model.state_dict()
    state = dict(state)
    state["itm_head.weight"] = torch.zeros(3, 48)
    with pytest.raises(ValueError, match="itm_head.weight"):
        load_state_dict_report(model, state)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    torch.backends.cudnn.allow_tf32 = False  # TF32 convolutions would change the patch embedding at 1e-3
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(8)
    cpu = ALBEF(_tiny_cfg(use_momentum_distill=True, queue_size=8)).eval()
    gpu = ALBEF(_tiny_cfg(use_momentum_distill=True, queue_size=8))
    gpu.load_state_dict(cpu.state_dict())
    gpu = gpu.cuda().eval()
    image, ids, att, mask = _batch(B=4)
    with torch.no_grad():
        e_cpu, e_gpu = cpu.encode_image(image), gpu.encode_image(image.cuda())
    assert torch.allclose(e_cpu, e_gpu.cpu(), atol=1e-4)
    r_cpu, r_gpu = cpu.explain(e_cpu, ids, att), gpu.explain(e_gpu, ids.cuda(), att.cuda())
    for k in r_cpu:
        assert torch.allclose(r_cpu[k], r_gpu[k].cpu(), rtol=1e-3, atol=1e-3 * r_cpu[k].abs().max().item()), k
    # eval mode: no dropout, so everything but the sampled ITM negatives is deterministic
    o_cpu = cpu.training_losses(image, ids, att, mask, use_amc=True, alpha=0.4, use_mlm=True)
    o_gpu = gpu.training_losses(image.cuda(), ids.cuda(), att.cuda(), mask.cuda(), use_amc=True, alpha=0.4,
                                use_mlm=True)
    for k in ("itc", "amc_mean", "amc_max"):
        assert o_cpu[k].item() == pytest.approx(o_gpu[k].item(), rel=1e-3, abs=1e-5), k
    o_gpu["loss"].backward()
    assert torch.isfinite(gpu.itm_head.weight.grad).all()


def test_switched_off_terms_are_zero_and_leave_the_others_unchanged():
    torch.manual_seed(9)
    model = ALBEF(_tiny_cfg()).eval()  # eval: no dropout, so both calls see the same network
    image, ids, att, mask = _batch(B=4)
    full = model.training_losses(image, ids, att, mask, use_amc=True)
    amc_only = model.training_losses(image, ids, att, mask, use_amc=True, use_itc=False, use_itm=False)
    assert amc_only["itc"].item() == 0.0 and amc_only["itm"].item() == 0.0
    for k in ("amc_mean", "amc_max"):
        assert torch.allclose(amc_only[k], full[k]), k
    assert amc_only["loss"].item() == pytest.approx(
        0.2 * full["amc_mean"].item() + 0.8 * full["amc_max"].item(), rel=1e-5)
    itc_only = model.training_losses(image, ids, att, None, use_amc=False, use_itm=False)
    assert torch.allclose(itc_only["itc"], full["itc"]) and itc_only["itm"].item() == 0.0
    with pytest.raises(ValueError, match="switched off"):
        model.training_losses(image, ids, att, None, use_amc=False, use_itc=False, use_itm=False)
