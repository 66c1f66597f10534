"""ONNX export: image_encoder.onnx + grounding.onnx (GradCAM's backward pass inside the graph), model.json,
vocab.txt and fixture.json (docs/architecture.md "The model contract").

Why one ~500-line file: the hand-written backward pass, the ONNX graphs built from it, the model card and
the fixture that proves them equal form one contract with the TypeScript engine; split, it would be read
in pieces that only make sense together.

ONNX Runtime has no autograd, so `GroundingGraph` computes the forward pass of the text encoder AND, by
hand, the backward pass from the raw ITM match logit down to the cross-attention probabilities of the
GradCAM layer (docs/reference.md §1.2, eval mode: dropout is the identity). Only plain tensor ops are used, with every
shape read from the inputs, so torch.onnx traces it with dynamic batch and token axes on torch 1.13 and
2.x alike. `test_export.py` proves the hand-written backward equals autograd (model.explain) in PyTorch,
and the ONNX graphs equal it in onnxruntime-node.

    python -m amc_trainer export --checkpoint CKPT --out models/NAME [--config small|base] [--image-res 256|384]
"""
from __future__ import annotations

import argparse
import base64
import inspect
import io
import json
import math
import os
import pickle
import shutil
import sys
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch import nn

from .checkpoint_io import CheckpointError, read_checkpoint
from .eval_report import sha256_file
from .images import CLIP_MEAN, CLIP_STD
from .model import ALBEF, BertLayer, ModelConfig, gradcam_eval_map, gradcam_token_maps, load_state_dict_report
from .tokenizer import BertTokenizer, pre_caption

Progress = Callable[[str, float], None]  # (stage, fraction of the export done)

CONTRACT_VERSION = 1
OPSET = 16
VOCAB_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vocab.txt")
SQRT_HALF = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# ----------------------------------------------------------------------------------------------------
# Hand-written forward + backward of the BERT layers (eval mode)

def _linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    return F.linear(x, layer.weight, layer.bias)


def _linear_input_grad(dy: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    # y = x W^T + b  =>  dx = dy W
    return dy @ layer.weight


def _layer_norm(x: torch.Tensor, ln: nn.LayerNorm) -> Tuple[torch.Tensor, tuple]:
    mu = x.mean(dim=-1, keepdim=True)
    xc = x - mu
    rstd = torch.rsqrt((xc * xc).mean(dim=-1, keepdim=True) + ln.eps)
    xhat = xc * rstd
    return xhat * ln.weight + ln.bias, (xhat, rstd, ln.weight)


def _layer_norm_grad(dy: torch.Tensor, cache: tuple) -> torch.Tensor:
    xhat, rstd, weight = cache
    dxhat = dy * weight
    return rstd * (dxhat - dxhat.mean(dim=-1, keepdim=True) - xhat * (dxhat * xhat).mean(dim=-1, keepdim=True))


def _gelu(x: torch.Tensor) -> torch.Tensor:
    return x * 0.5 * (1.0 + torch.erf(x * SQRT_HALF))


def _gelu_grad(x: torch.Tensor) -> torch.Tensor:
    # d/dx [x Phi(x)] = Phi(x) + x phi(x)  (exact erf GELU, BERT's "gelu")
    return 0.5 * (1.0 + torch.erf(x * SQRT_HALF)) + x * torch.exp(-0.5 * x * x) * INV_SQRT_2PI


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    B, T, D = x.shape[0], x.shape[1], x.shape[2]
    return x.reshape(B, T, heads, D // heads).permute(0, 2, 1, 3)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    B, H, T, d = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    return x.permute(0, 2, 1, 3).reshape(B, T, H * d)


def _softmax_grad(p: torch.Tensor, dp: torch.Tensor) -> torch.Tensor:
    return p * (dp - (dp * p).sum(dim=-1, keepdim=True))


class _Attention:
    """Forward of one BertAttention block (self or cross) keeping what its backward needs."""

    def __init__(self, block, hidden: torch.Tensor, keys_from: torch.Tensor, mask: Optional[torch.Tensor],
                 heads: int):
        sa = block.self
        self.block, self.heads, self.scale = block, heads, 1.0 / math.sqrt(sa.head_dim)
        self.q = _split_heads(_linear(hidden, sa.query), heads)
        self.k = _split_heads(_linear(keys_from, sa.key), heads)
        self.v = _split_heads(_linear(keys_from, sa.value), heads)
        scores = (self.q @ self.k.transpose(-1, -2)) * self.scale
        if mask is not None:
            scores = scores + mask
        self.probs = torch.softmax(scores, dim=-1)
        context = _merge_heads(self.probs @ self.v)
        self.out, self.ln = _layer_norm(_linear(context, block.output.dense) + hidden, block.output.LayerNorm)

    def grad_probs(self, d_out: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (d_probs [B,H,T,K], d_context_heads, gradient to the residual input)."""
        dz = _layer_norm_grad(d_out, self.ln)
        d_context = _split_heads(_linear_input_grad(dz, self.block.output.dense), self.heads)
        return d_context @ self.v.transpose(-1, -2), d_context, dz

    def grad_input(self, d_out: torch.Tensor, keys_are_input: bool) -> torch.Tensor:
        d_probs, d_context, d_hidden = self.grad_probs(d_out)
        d_scores = _softmax_grad(self.probs, d_probs) * self.scale
        sa = self.block.self
        d_hidden = d_hidden + _linear_input_grad(_merge_heads(d_scores @ self.k), sa.query)
        if keys_are_input:  # self-attention: keys and values come from the same hidden states
            d_k = d_scores.transpose(-1, -2) @ self.q
            d_v = self.probs.transpose(-1, -2) @ d_context
            d_hidden = d_hidden + _linear_input_grad(_merge_heads(d_k), sa.key)
            d_hidden = d_hidden + _linear_input_grad(_merge_heads(d_v), sa.value)
        return d_hidden


class _LayerForward:
    def __init__(self, layer: BertLayer, hidden: torch.Tensor, mask: torch.Tensor, image_embeds: torch.Tensor,
                 heads: int):
        self.layer = layer
        self.self_attn = _Attention(layer.attention, hidden, hidden, mask, heads)
        x = self.self_attn.out
        self.cross_attn = None
        if layer.has_cross_attention:
            self.cross_attn = _Attention(layer.crossattention, x, image_embeds, None, heads)
            x = self.cross_attn.out
        self.pre_gelu = _linear(x, layer.intermediate.dense)
        self.out, self.ln = _layer_norm(_linear(_gelu(self.pre_gelu), layer.output.dense) + x,
                                        layer.output.LayerNorm)

    def grad_ffn(self, d_out: torch.Tensor) -> torch.Tensor:
        """Gradient at the FFN's input (the attention output)."""
        dz = _layer_norm_grad(d_out, self.ln)
        d_inter = _linear_input_grad(dz, self.layer.output.dense) * _gelu_grad(self.pre_gelu)
        return dz + _linear_input_grad(d_inter, self.layer.intermediate.dense)

    def grad_input(self, d_out: torch.Tensor) -> torch.Tensor:
        d = self.grad_ffn(d_out)
        if self.cross_attn is not None:
            d = self.cross_attn.grad_input(d, keys_are_input=False)  # image_embeds are constants
        return self.self_attn.grad_input(d, keys_are_input=True)


class GroundingGraph(nn.Module):
    """(image_embeds [B,1+N,Dv], input_ids int64 [B,T], attention_mask int64 [B,T]) ->
    (itm_logits [B,2], gradcam [B,g,g], token_gradcam [B,T,g,g]) == ALBEF.explain, backward by hand."""

    def __init__(self, model: ALBEF):
        super().__init__()
        self.cfg = model.cfg
        self.bert = model.text_encoder.bert
        self.itm_head = model.itm_head

    def forward(self, image_embeds: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        cfg = self.cfg
        emb = self.bert.embeddings
        T = input_ids.shape[1]
        x = emb.word_embeddings.weight[input_ids] + emb.position_embeddings.weight[:T] \
            + emb.token_type_embeddings.weight[0]
        x, _ = _layer_norm(x, emb.LayerNorm)
        mask_f = attention_mask.to(x.dtype)
        mask = (1.0 - mask_f[:, None, None, :]) * -10000.0
        caches: List[_LayerForward] = []
        for i, layer in enumerate(self.bert.encoder.layer):
            step = _LayerForward(layer, x, mask, image_embeds, cfg.text_heads)
            if i >= cfg.gradcam_layer:
                caches.append(step)
            x = step.out
        itm_logits = _linear(x[:, 0], self.itm_head)
        # d(itm_logits[:,1].sum())/d(hidden): the match row of itm_head at the [CLS] position, 0 elsewhere
        is_cls = (torch.cumsum(torch.ones_like(mask_f), dim=1) == 1.0).to(x.dtype)   # [B,T]
        d = is_cls[:, :, None] * self.itm_head.weight[1]
        for step in reversed(caches[1:]):
            d = step.grad_input(d)
        probe = caches[0]
        d_probs, _, _ = probe.cross_attn.grad_probs(probe.grad_ffn(d))
        token_maps = gradcam_token_maps(probe.cross_attn.probs, d_probs, attention_mask, cfg.grid)
        return itm_logits, gradcam_eval_map(token_maps), token_maps


class ImageEncoderGraph(nn.Module):
    def __init__(self, model: ALBEF):
        super().__init__()
        self.visual_encoder = model.visual_encoder

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.visual_encoder(image)


# ----------------------------------------------------------------------------------------------------
# Writing the ONNX files

def export_onnx(model: ALBEF, out_dir: str, batch: int = 2, tokens: int = 7,
                progress: Optional[Progress] = None) -> Dict[str, str]:
    """Writes image_encoder.onnx and grounding.onnx into out_dir; returns {file: path}."""
    progress = progress or (lambda stage, fraction: None)
    cfg = model.cfg
    model.eval()
    os.makedirs(out_dir, exist_ok=True)
    image = torch.randn(batch, 3, cfg.image_res, cfg.image_res)
    with torch.no_grad():
        embeds = model.encode_image(image)
    ids = torch.randint(1000, 2000, (batch, tokens))
    ids[:, 0] = 101
    att = torch.ones(batch, tokens, dtype=torch.long)
    att[-1, tokens - 2:] = 0
    paths = {"image_encoder.onnx": os.path.join(out_dir, "image_encoder.onnx"),
             "grounding.onnx": os.path.join(out_dir, "grounding.onnx")}
    with torch.no_grad():
        progress("image_encoder", 0.1)
        _onnx_export(ImageEncoderGraph(model), (image,), paths["image_encoder.onnx"], ["image"], ["image_embeds"],
                     {"image": {0: "batch"}, "image_embeds": {0: "batch"}})
        progress("grounding", 0.35)
        _onnx_export(GroundingGraph(model), (embeds, ids, att), paths["grounding.onnx"],
                     ["image_embeds", "input_ids", "attention_mask"], ["itm_logits", "gradcam", "token_gradcam"],
                     {"image_embeds": {0: "batch"}, "input_ids": {0: "batch", 1: "tokens"},
                      "attention_mask": {0: "batch", 1: "tokens"}, "itm_logits": {0: "batch"},
                      "gradcam": {0: "batch"}, "token_gradcam": {0: "batch", 1: "tokens"}})
    return paths


def _onnx_export(module: nn.Module, args: tuple, path: str, inputs: List[str], outputs: List[str],
                 dynamic_axes: dict) -> None:
    tmp = path + ".tmp"
    extra = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        extra["dynamo"] = False  # torch >= 2.5 has a second exporter (the default from 2.9); we trace
    torch.onnx.export(module, args, tmp, input_names=inputs, output_names=outputs, dynamic_axes=dynamic_axes,
                      opset_version=OPSET, do_constant_folding=True, **extra)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------------
# Card and fixture

def resampling_for(image_res: int) -> str:
    # docs/reference.md §4: RefCOCO-style evaluation resizes with PIL bicubic at 384 px, Flickr-style with
    # bilinear at 256
    return "bicubic" if image_res >= 384 else "bilinear"


def model_card(name: str, cfg: ModelConfig, onnx_paths: Dict[str, str], saved: Optional[dict] = None,
               vocab_path: str = VOCAB_PATH) -> dict:
    g, S = cfg.grid, cfg.image_res
    saved = saved or {}
    source = saved.get("source_checkpoint")
    recipe = saved.get("recipe") if isinstance(saved.get("recipe"), dict) else {}
    train_length = recipe.get("max_text_length", 25)
    if not isinstance(train_length, int) or isinstance(train_length, bool) or train_length < 2:
        train_length = 25
    return {
        "name": name,
        "contract_version": CONTRACT_VERSION,
        "architecture": "ALBEF (ViT + BERT with cross-attention from fusion_layer, ITM head)",
        "image_size": S,
        "patch_size": cfg.patch_size,
        "grid": g,
        "mean": list(CLIP_MEAN),
        "std": list(CLIP_STD),
        "resampling": resampling_for(S),
        # tokenizer truncation in training (docs/reference.md §3); eval does not truncate
        "max_text_length": train_length,
        "max_text_length_note": f"training length; the grounding graph takes phrases up to config.max_position "
                                f"({cfg.max_position}) tokens, and evaluation does not truncate (docs/reference.md §4)",
        "max_words": 50,                # pre_caption's max_words (Flickr/VG; RefCOCO+ evaluation uses 30)
        "vocab": "vocab.txt",
        "vocab_sha256": sha256_file(vocab_path),  # token ids are only right with exactly this vocabulary
        "lowercase": True,
        "add_sep": False,
        "gradcam_layer": cfg.gradcam_layer,
        "fusion_layer": cfg.fusion_layer,
        "config": cfg.to_dict(),
        "inputs": {
            "image_encoder.onnx": [{"name": "image", "dtype": "float32", "shape": ["B", 3, S, S]}],
            "grounding.onnx": [
                {"name": "image_embeds", "dtype": "float32", "shape": ["B", 1 + g * g, cfg.vision_width]},
                {"name": "input_ids", "dtype": "int64", "shape": ["B", "T"]},
                {"name": "attention_mask", "dtype": "int64", "shape": ["B", "T"]}],
        },
        "outputs": {
            "image_encoder.onnx": [{"name": "image_embeds", "dtype": "float32",
                                    "shape": ["B", 1 + g * g, cfg.vision_width]}],
            "grounding.onnx": [
                {"name": "itm_logits", "dtype": "float32", "shape": ["B", 2]},
                {"name": "gradcam", "dtype": "float32", "shape": ["B", g, g]},
                {"name": "token_gradcam", "dtype": "float32", "shape": ["B", "T", g, g]}],
        },
        "training": {
            "data": saved.get("data"),
            "recipe": saved.get("recipe"),
            "notes": ["horizontal flip swaps 'left'/'right' in the phrase (the AMC reference does not)"],
        },
        "metrics": saved.get("metrics", {}),
        "sha256": {os.path.basename(p): sha256_file(p) for p in onnx_paths.values()},
        **({"source_checkpoint": source_checkpoint_ref(source, onnx_paths)} if source else {}),
    }


def source_checkpoint_ref(checkpoint: str, onnx_paths: Dict[str, str]) -> dict:
    """The card's `source_checkpoint`: the checkpoint the graphs came from (fine-tuning starts from it), by file
    name when it lies beside the card (so the folder can move), else by absolute path; with its sha256."""
    out_dir = os.path.dirname(os.path.abspath(next(iter(onnx_paths.values()))))
    ckpt = os.path.abspath(checkpoint)
    beside = os.path.dirname(ckpt) == out_dir
    return {"file": os.path.basename(ckpt) if beside else ckpt, "sha256": sha256_file(ckpt)}


def _fixture_images(S: int) -> List["object"]:
    """Two deterministic synthetic scenes (PIL images of size S x S)."""
    scenes = []
    a = Image.new("RGB", (S, S), (40, 90, 160))
    d = ImageDraw.Draw(a)
    d.ellipse([S * 0.1, S * 0.2, S * 0.45, S * 0.55], fill=(220, 30, 30))
    d.rectangle([S * 0.55, S * 0.5, S * 0.9, S * 0.85], fill=(240, 220, 40))
    scenes.append(a)
    b = Image.new("RGB", (S, S), (200, 200, 190))
    d = ImageDraw.Draw(b)
    d.polygon([(S * 0.5, S * 0.1), (S * 0.2, S * 0.6), (S * 0.8, S * 0.6)], fill=(30, 160, 60))
    d.rectangle([S * 0.05, S * 0.7, S * 0.3, S * 0.95], fill=(30, 30, 220))
    scenes.append(b)
    return scenes


def image_to_tensor(img) -> torch.Tensor:
    """PIL RGB S x S -> CLIP-normalised float32 [3,S,S] (docs/reference.md §6)."""
    arr = torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(CLIP_STD).view(3, 1, 1)
    return (arr - mean) / std


def _tokenize(phrases: List[str]) -> Tuple[torch.Tensor, torch.Tensor]:
    tok = BertTokenizer.from_vocab()
    return tok([pre_caption(p) for p in phrases], max_length=25)


def build_fixture(model: ALBEF) -> dict:
    """Inputs (PNG at S x S, so no resize is involved, plus the phrases' ids) and the PyTorch outputs."""
    cfg = model.cfg
    images = _fixture_images(cfg.image_res)
    phrases = ["a red circle", "the green triangle above the blue square"]
    input_ids, attention_mask = _tokenize(phrases)
    pixels = torch.stack([image_to_tensor(im) for im in images])
    model.eval()
    with torch.no_grad():
        embeds = model.encode_image(pixels)
    out = model.explain(embeds, input_ids, attention_mask)
    pngs = []
    for im in images:
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        pngs.append(base64.b64encode(buf.getvalue()).decode("ascii"))
    return {
        "description": "PyTorch reference outputs; images are S x S PNGs (no resize), normalised with mean/std",
        "images_png_base64": pngs,
        "phrases": phrases,
        "input_ids": input_ids.tolist(),
        "attention_mask": attention_mask.tolist(),
        "image_embeds_cls": embeds[:, 0].tolist(),
        "image_embeds_mean": embeds.mean(dim=(1, 2)).tolist(),
        "itm_logits": out["itm_logits"].tolist(),
        "gradcam": out["gradcam"].tolist(),
        "token_gradcam": out["token_gradcam"].tolist(),
    }


# ----------------------------------------------------------------------------------------------------
# Checkpoint -> model

# What a state dict fixes by its tensor shapes. Head counts, LayerNorm eps and the GradCAM layer are not stored
# in the weights: they come from the named architecture (or the checkpoint's model_config / --config FILE).
STRUCTURAL_FIELDS = ("patch_stem", "patch_size", "vision_width", "vision_depth", "vision_mlp_dim", "text_width",
                     "text_layers", "text_intermediate", "fusion_layer", "vocab_size", "max_position",
                     "type_vocab_size", "embed_dim")
KNOWN_ARCHITECTURES = {"base": ModelConfig.base, "small": ModelConfig.small}


def _strip_prefixes(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """DDP 'module.' dropped; evaluation key sets (text_encoder.* without 'bert.', docs/reference.md §6) get it back."""
    out = {}
    for key, value in state.items():
        if key.startswith("module."):
            key = key[len("module."):]
        for enc in ("text_encoder.", "text_encoder_m."):
            if key.startswith(enc) and not key.startswith((enc + "bert.", enc + "cls.")):
                key = enc + "bert." + key[len(enc):]
        out[key] = value
    return out


def key_layout(ckpt: dict, state: Dict[str, torch.Tensor]) -> str:
    """Which of the known key layouts a checkpoint uses, in words (shown to the user and in the card)."""
    raw = [k[len("module."):] if k.startswith("module.") else k for k in state]
    if isinstance(ckpt.get("model_config"), dict):
        return "amc_trainer checkpoint (model_config saved)"
    if any(k.startswith("text_encoder.encoder.") for k in raw):
        return "AMC evaluation keys (text_encoder.* without 'bert.')"
    if "queue_ptr_img" in raw or "queue_ptr_txt" in raw:
        return "AMC full keys (queue_ptr_img/queue_ptr_txt)"
    if "queue_ptr" in raw:
        return "ALBEF pre-training keys (queue_ptr)"
    return "ALBEF/AMC state dict without momentum queues"


def _layer_indices(state: Dict[str, torch.Tensor], prefix: str, suffix: str) -> List[int]:
    found = []
    for key in state:
        if key.startswith(prefix) and key.endswith(suffix):
            middle = key[len(prefix):-len(suffix)]
            if middle.isdigit():
                found.append(int(middle))
    return sorted(found)


def architecture_from_shapes(state: Dict[str, torch.Tensor]) -> Dict[str, object]:
    """The structural ModelConfig fields (plus image_res) read off tensor shapes. Raises ValueError naming
    the first key that a ViT + BERT-with-cross-attention checkpoint must have and this one lacks."""
    def need(key: str) -> torch.Tensor:
        if key not in state:
            raise ValueError(f"not an ALBEF/AMC model: no '{key}' in the checkpoint")
        return state[key]

    arch: Dict[str, object] = {}
    pos = need("visual_encoder.pos_embed")
    if "visual_encoder.patch_embed.proj.weight" in state:
        arch["patch_stem"] = "linear"
        arch["patch_size"] = int(state["visual_encoder.patch_embed.proj.weight"].shape[-1])
    else:
        convs = [k for k, v in state.items() if k.startswith("visual_encoder.patch_embed.stem.")
                 and k.endswith(".weight") and v.dim() == 4 and v.shape[-1] == 3]
        if not convs:
            need("visual_encoder.patch_embed.proj.weight")
        arch["patch_stem"], arch["patch_size"] = "conv", 2 ** len(convs)
    arch["vision_width"] = int(pos.shape[-1])
    grid = int(round((pos.shape[1] - 1) ** 0.5))
    if grid * grid != pos.shape[1] - 1:
        patches = pos.shape[1] - 1
        raise ValueError(f"visual_encoder.pos_embed {tuple(pos.shape)}: {patches} patches is not a square grid")
    arch["image_res"] = grid * int(arch["patch_size"])
    blocks = _layer_indices(state, "visual_encoder.blocks.", ".norm1.weight")
    if not blocks or blocks != list(range(len(blocks))):
        raise ValueError(f"not an ALBEF/AMC model: ViT blocks {blocks or 'none'} (expected 0..N-1)")
    arch["vision_depth"] = len(blocks)
    arch["vision_mlp_dim"] = int(need("visual_encoder.blocks.0.mlp.fc1.weight").shape[0])
    words = need("text_encoder.bert.embeddings.word_embeddings.weight")
    arch["vocab_size"], arch["text_width"] = int(words.shape[0]), int(words.shape[1])
    arch["max_position"] = int(need("text_encoder.bert.embeddings.position_embeddings.weight").shape[0])
    arch["type_vocab_size"] = int(need("text_encoder.bert.embeddings.token_type_embeddings.weight").shape[0])
    prefix = "text_encoder.bert.encoder.layer."
    layers = _layer_indices(state, prefix, ".attention.self.query.weight")
    if not layers or layers != list(range(len(layers))):
        raise ValueError(f"not an ALBEF/AMC model: text layers {layers or 'none'} (expected 0..N-1)")
    arch["text_layers"] = len(layers)
    cross = _layer_indices(state, prefix, ".crossattention.self.query.weight")
    if not cross:
        raise ValueError("not an ALBEF/AMC model: no text layer has cross-attention (crossattention.*)")
    if cross != list(range(cross[0], len(layers))):
        raise ValueError(f"cross-attention in text layers {cross}: ALBEF has it in every layer from the fusion "
                         f"layer to the last ({cross[0]}..{len(layers) - 1})")
    arch["fusion_layer"] = cross[0]
    arch["text_intermediate"] = int(need(prefix + "0.intermediate.dense.weight").shape[0])
    if "vision_proj.weight" in state:  # a missing head is reported by name when the weights load
        arch["embed_dim"] = int(state["vision_proj.weight"].shape[0])
    return arch


def _differences(cfg: ModelConfig, arch: Dict[str, object]) -> List[str]:
    return [f"{f} {arch[f]} (checkpoint) vs {getattr(cfg, f)}" for f in STRUCTURAL_FIELDS
            if f in arch and getattr(cfg, f) != arch[f]]


def _config_from_file(path: str) -> ModelConfig:
    """A JSON ModelConfig (the card's "config" or a checkpoint's model_config), or a trainer config with
    "model" (small|base) and "model_overrides"."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read the model config: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a model config is a JSON object")
    if isinstance(data.get("config"), dict) and "contract_version" in data:  # a model.json card
        data = data["config"]
    if "model" in data or "model_overrides" in data:
        factory = KNOWN_ARCHITECTURES.get(data.get("model", "small"))
        if factory is None:
            raise ValueError(f"{path}: \"model\" must be small or base, got {data.get('model')!r}")
        cfg = factory()
        for key, value in (data.get("model_overrides") or {}).items():
            if key not in ModelConfig.__dataclass_fields__:
                raise ValueError(f"{path}: model_overrides: unknown ModelConfig key '{key}'")
            setattr(cfg, key, value)
        return cfg
    return ModelConfig.from_dict({k: v for k, v in data.items() if not k.startswith("_")})


def resolve_architecture(ckpt: dict, state: Dict[str, torch.Tensor], config: Optional[str]
                         ) -> Tuple[ModelConfig, str]:
    """The ModelConfig for a checkpoint and where it came from. Shapes decide; a saved model_config or
    --config must agree with them; without either the shapes must match a named architecture exactly.
    Nothing is guessed: every refusal says which field differs."""
    arch = architecture_from_shapes(state)
    saved_cfg = ckpt.get("model_config")
    if config in KNOWN_ARCHITECTURES:
        cfg, source = KNOWN_ARCHITECTURES[config](), f"--config {config}"
    elif config:
        cfg, source = _config_from_file(config), f"--config {config}"
    elif isinstance(saved_cfg, dict):
        cfg, source = ModelConfig.from_dict(dict(saved_cfg)), "the checkpoint's model_config"
    else:
        cfg, source = None, ""
        reasons = []
        for name, factory in KNOWN_ARCHITECTURES.items():
            diff = _differences(factory(), arch)
            if not diff:
                cfg, source = factory(), f"'{name}' architecture (detected from the tensor shapes)"
                break
            reasons.append(f"{name}: " + ", ".join(diff))
        if cfg is None:
            raise ValueError("the checkpoint matches no known architecture and carries no model_config ("
                             + "; ".join(reasons) + "); pass --config FILE with its ModelConfig")
    diff = _differences(cfg, arch)
    if diff:
        raise ValueError(f"checkpoint shapes do not match {source}: " + ", ".join(diff))
    cfg.image_res = int(arch["image_res"])
    return cfg, source


def model_from_checkpoint(path: str, config: Optional[str], image_res: Optional[int], info: Optional[dict] = None
                          ) -> Tuple[ALBEF, dict, List[str], List[str]]:
    """Builds the model a checkpoint describes (architecture from its tensor shapes, checked against its saved
    'model_config' or --config) and loads it. Returns (model, raw checkpoint, missing, unexpected); `info`, when
    given, receives the key layout and where the architecture came from."""
    ckpt = read_checkpoint(path)
    if not isinstance(ckpt, dict):
        raise ValueError("not a checkpoint: expected a dict (a state dict or {'model': state dict, ...})")
    state = ckpt["model"] if isinstance(ckpt.get("model"), dict) else ckpt
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("the 'model' entry is not a state dict of tensors")
    layout = key_layout(ckpt, state)
    state = _strip_prefixes(state)
    cfg, source = resolve_architecture(ckpt, state, config)
    if image_res:  # pos_embed is interpolated to it (docs/reference.md §6)
        cfg.image_res = image_res
    # keep the MLM head, momentum copies and queues only where the checkpoint has them (export uses none)
    keys = list(state.keys())
    cfg.mlm_head = any(".cls.predictions." in k for k in keys)
    cfg.use_momentum_distill = any(k.startswith("visual_encoder_m.") for k in keys)
    cfg.queue_size = int(state["image_queue"].shape[1]) if cfg.use_momentum_distill and "image_queue" in state else 0
    cfg.queue_ptr_style = "albef" if "queue_ptr" in state else "amc"
    model = ALBEF(cfg)
    missing, unexpected = load_state_dict_report(model, state)
    if info is not None:
        info.update(layout=layout, architecture_source=source)
    return model, ckpt, missing, unexpected


def itm_head_trained(ckpt: dict) -> bool:
    """Whether the ITM head was trained: our checkpoints say so in their recipe (use_itm, on by default);
    ALBEF/AMC releases (no recipe, no model_config) were trained with ITM."""
    recipe = ckpt.get("config")
    if isinstance(recipe, dict):
        return bool(recipe.get("use_itm", True))
    return not isinstance(ckpt.get("model_config"), dict)


def round_word_embeddings(model: ALBEF) -> str:
    """Rounds the text encoder's word-embedding table to float16 values (kept as float32 tensors) so that the
    float16 copy stored in grounding.onnx holds exactly the numbers PyTorch computes with. Returns its name."""
    for name, param in model.named_parameters():
        if name.endswith("embeddings.word_embeddings.weight") and not name.startswith("text_encoder_m"):
            with torch.no_grad():
                param.copy_(param.half().float())
            return name
    raise ValueError("the model has no word-embedding table")


def store_word_embeddings_fp16(onnx_path: str) -> int:
    """Rewrites grounding.onnx with its word-embedding initializer stored as float16 plus a Cast to float32.
    The table is 30522 × width floats — most of the file for a small model (23 MB of 40 MB at width 192) —
    so this keeps a model folder under the repository's 30 MB per-file limit. Returns the bytes saved."""
    try:  # imported here: the optional 'onnx' package is needed only by this rewrite
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as err:  # the exporter otherwise needs only torch
        raise RuntimeError(f"--fp16-embeddings needs the 'onnx' package ({err})") from None
    model = onnx.load(onnx_path)
    graph = model.graph
    target = next((t for t in graph.initializer if t.name.endswith("word_embeddings.weight")
                   and t.data_type == onnx.TensorProto.FLOAT), None)
    if target is None:
        raise ValueError(f"{onnx_path}: no float32 word_embeddings.weight initializer to store as float16")
    values = numpy_helper.to_array(target)
    half = values.astype(np.float16)
    if not np.array_equal(half.astype(np.float32), values):
        raise ValueError(f"{onnx_path}: word embeddings are not float16 values; call round_word_embeddings first")
    before = len(model.SerializeToString())
    fp16_name = target.name + ".float16"
    graph.initializer.remove(target)
    graph.initializer.append(numpy_helper.from_array(half, fp16_name))
    graph.node.insert(0, helper.make_node("Cast", [fp16_name], [target.name], to=onnx.TensorProto.FLOAT,
                                          name="word_embeddings_to_float32"))
    onnx.checker.check_model(model)
    tmp = onnx_path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, onnx_path)
    return before - os.path.getsize(onnx_path)


def export_model(model: ALBEF, out_dir: str, name: Optional[str] = None, saved: Optional[dict] = None,
                 with_fixture: bool = True, fp16_word_embeddings: bool = False,
                 progress: Optional[Progress] = None, card_extra: Optional[dict] = None) -> dict:
    """Writes the full model folder; returns the card. With fp16_word_embeddings the word-embedding table is
    rounded to float16 in the model first, so the fixture, the ONNX graphs and PyTorch agree exactly."""
    os.makedirs(out_dir, exist_ok=True)
    if fp16_word_embeddings:
        round_word_embeddings(model)
    paths = export_onnx(model, out_dir, progress=progress)
    if fp16_word_embeddings:
        store_word_embeddings_fp16(paths["grounding.onnx"])
    shutil.copyfile(VOCAB_PATH, os.path.join(out_dir, "vocab.txt"))
    if with_fixture:
        if progress:
            progress("fixture", 0.85)
        with open(os.path.join(out_dir, "fixture.json"), "w") as f:
            json.dump(build_fixture(model), f)
    card = model_card(name or os.path.basename(os.path.normpath(out_dir)), model.cfg, paths, saved,
                      vocab_path=os.path.join(out_dir, "vocab.txt"))
    if fp16_word_embeddings:
        card["training"]["notes"].append("word embeddings rounded to float16 at export (stored as float16 in "
                                         "grounding.onnx); metrics are measured on the rounded model")
    card.update(card_extra or {})
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump(card, f, indent=2)
    return card


def _event(kind: str, **fields) -> None:
    """One JSON line on stdout: the extension and `amc import` show these as progress (stdout is only events)."""
    print(json.dumps({"event": kind, **fields}), flush=True)


def main(argv: List[str]) -> int:
    p = argparse.ArgumentParser(prog="amc_trainer export", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="trainer checkpoint, ALBEF.pth or AMC best_*.pth")
    p.add_argument("--out", required=True, help="output folder, e.g. models/my-model")
    p.add_argument("--config", default=None, metavar="small|base|FILE",
                   help="the architecture, checked against the checkpoint's tensor shapes: small, base, or a JSON "
                        "ModelConfig / trainer config (default: the checkpoint's model_config, else the named "
                        "architecture its shapes match exactly; anything else is refused)")
    p.add_argument("--image-res", type=int, choices=[256, 384], default=None,
                   help="input size (default: the checkpoint's); pos_embed is interpolated when it differs")
    p.add_argument("--name", default=None, help="card name (default: the folder name)")
    p.add_argument("--fp16-embeddings", action="store_true",
                   help="store the word-embedding table as float16 (values rounded first; halves a small model)")
    p.add_argument("--allow-missing", action="store_true",
                   help="export even if model keys are missing from the checkpoint (they stay random)")
    args = p.parse_args(argv)

    def fail(message: str) -> int:
        print(f"export: {message}", file=sys.stderr)
        _event("error", message=message)
        return 2

    _event("progress", stage="load", fraction=0.0)
    info: dict = {}
    try:
        model, ckpt, missing, unexpected = model_from_checkpoint(args.checkpoint, args.config, args.image_res, info)
    except CheckpointError as e:  # its message starts with the path
        return fail(str(e))
    except (ValueError, RuntimeError, KeyError, pickle.UnpicklingError) as e:
        return fail(f"cannot load {args.checkpoint}: {e}")
    _event("architecture", layout=info["layout"], source=info["architecture_source"], config=model.cfg.to_dict())
    _event("keys", missing=missing, unexpected=unexpected)
    if unexpected:
        print(f"export: {len(unexpected)} checkpoint keys not used by the model: {', '.join(unexpected)}",
              file=sys.stderr)
    if missing:
        print(f"export: {len(missing)} model keys missing from the checkpoint: {', '.join(missing)}",
              file=sys.stderr)
        if not args.allow_missing:
            _event("error", message=f"{len(missing)} model keys missing from the checkpoint "
                                    f"(they would stay random): {', '.join(missing)}")
            return 2
    recipe = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else None
    data = ckpt.get("data") or ({k: recipe.get(k) for k in ("train_files", "image_root")} if recipe else None)
    saved = {"data": data, "recipe": recipe, "metrics": ckpt.get("metrics") or {}, "source_checkpoint": args.checkpoint}
    extra = {
        "itm_trained": itm_head_trained(ckpt),
        "checkpoint_keys": {"layout": info["layout"], "architecture_source": info["architecture_source"],
                            "missing": missing, "unexpected": unexpected},
    }
    card = export_model(model, args.out, args.name, saved, fp16_word_embeddings=args.fp16_embeddings,
                        progress=lambda stage, fraction: _event("progress", stage=stage, fraction=fraction),
                        card_extra=extra)
    _event("done", out=args.out, sha256=card["sha256"], itm_trained=card["itm_trained"])
    return 0
