"""ALBEF-architecture grounding model with AMC GradCAM, in one readable file.

Why one ~800-line file (over the trainer's ~500-line guide): as nanoGPT's model.py, the whole network reads
top to bottom (ViT, BERT with cross-attention, the heads, GradCAM, the losses' wiring, checkpoint key
mapping), and the parameter names must match ALBEF's checkpoints across all of it.

Layout and parameter names reproduce ALBEF's `models/model_pretrain.py`, `models/vit.py` and
`models/xbert.py` so that `ALBEF.pth` and AMC's `best_*.pth` load key for key (docs/reference.md §6):

    visual_encoder      ViT (timm-style PatchEmbed, qkv_bias, LayerNorm eps 1e-6, final `norm`)
    text_encoder        BertForMaskedLM: `.bert` (embeddings + encoder, no pooler) and `.cls` (MLM head)
                        layers >= fusion_layer carry `crossattention` over the ViT tokens
    vision_proj / text_proj / itm_head / temp
    *_m copies, image_queue / text_queue / queue_ptr_img / queue_ptr_txt   (only when momentum is on)

GradCAM (docs/reference.md §1): the cross-attention probabilities of text layer `gradcam_layer`, taken right after the
softmax and before dropout, times the positive part of d(raw ITM match logit)/d(probabilities); the
image-CLS key is dropped, the map is averaged over heads and then over all token positions.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from . import losses
from .losses import LossSwitches

# bert-base-uncased special ids (docs/reference.md §6).
PAD_ID, CLS_ID, MASK_ID = 0, 101, 103


@dataclass
class ModelConfig:
    image_res: int = 256            # input side S; the GradCAM grid is S // patch_size
    patch_size: int = 16
    patch_stem: str = "linear"      # 'linear': ALBEF's one patch_size x patch_size conv; 'conv': stride-2 3x3 convs
                                    # (Xiao et al. 2021) -- a from-scratch ViT learns shapes far faster with it
    vision_width: int = 192         # ViT hidden size (768 for ViT-B/16)
    vision_depth: int = 4           # ViT blocks
    vision_heads: int = 3
    vision_mlp_dim: int = 768       # ViT MLP hidden size (4 x width in ViT-B)
    vision_eps: float = 1e-6        # ViT LayerNorm eps
    text_width: int = 192           # BERT hidden size
    text_layers: int = 6            # BERT layers; layers >= fusion_layer carry cross-attention
    text_heads: int = 3
    text_intermediate: int = 768    # BERT FFN hidden size
    text_eps: float = 1e-12         # BERT LayerNorm eps
    fusion_layer: int = 3
    gradcam_layer: int = 4          # text layer whose cross-attention GradCAM reads
                                    # (8 for base, docs/reference.md §1.1)
    vocab_size: int = 30522
    max_position: int = 512
    type_vocab_size: int = 2
    hidden_dropout: float = 0.1     # BERT hidden dropout
    attention_dropout: float = 0.1  # BERT attention dropout (between A and the output, docs/reference.md §1.2)
    embed_dim: int = 256            # ITC projection size
    temp: float = 0.07              # ITC temperature, clamped to [0.001, 0.5] each step
    use_momentum_distill: bool = False  # momentum encoders (*_m) + distillation targets
    queue_size: int = 0             # ITC feature queues; 0 = in-batch negatives only (needs momentum if > 0)
    momentum: float = 0.995
    mlm_head: bool = True           # build text_encoder.cls (needed for MLM, absent in eval checkpoints)
    mlm_probability: float = 0.15
    queue_ptr_style: str = "amc"    # 'amc': queue_ptr_img/queue_ptr_txt; 'albef': queue_ptr

    @property
    def grid(self) -> int:
        return self.image_res // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid * self.grid

    def validate(self) -> None:
        problems = []
        if self.image_res % self.patch_size:
            problems.append(f"image_res {self.image_res} is not a multiple of patch_size {self.patch_size}")
        if self.patch_stem not in ("linear", "conv"):
            problems.append(f"patch_stem must be 'linear' or 'conv', got {self.patch_stem!r}")
        elif self.patch_stem == "conv" and (self.patch_size & (self.patch_size - 1) or self.patch_size < 2
                                            or self.vision_width % (self.patch_size // 2)):
            problems.append("patch_stem 'conv' needs a power-of-two patch_size >= 2 with patch_size/2 dividing "
                            "vision_width")
        if self.vision_width % self.vision_heads:
            problems.append("vision_width must be divisible by vision_heads")
        if self.text_width % self.text_heads:
            problems.append("text_width must be divisible by text_heads")
        if not 0 <= self.fusion_layer < self.text_layers:
            problems.append(f"fusion_layer {self.fusion_layer} outside 0..{self.text_layers - 1}")
        if not self.fusion_layer <= self.gradcam_layer < self.text_layers:
            problems.append(f"gradcam_layer {self.gradcam_layer} must carry cross-attention "
                            f"({self.fusion_layer}..{self.text_layers - 1})")
        if self.queue_size and not self.use_momentum_distill:
            problems.append("queue_size > 0 needs use_momentum_distill (the queues hold momentum features)")
        if self.queue_ptr_style not in ("amc", "albef"):
            problems.append(f"queue_ptr_style must be 'amc' or 'albef', got {self.queue_ptr_style!r}")
        if problems:
            raise ValueError("invalid ModelConfig: " + "; ".join(problems))

    @classmethod
    def base(cls, image_res: int = 256) -> "ModelConfig":
        """ALBEF exactly (docs/reference.md §6): ViT-B/16 + bert-base with fusion at 6, GradCAM layer 8."""
        return cls(image_res=image_res, patch_size=16, vision_width=768, vision_depth=12, vision_heads=12,
                   vision_mlp_dim=3072, text_width=768, text_layers=12, text_heads=12, text_intermediate=3072,
                   fusion_layer=6, gradcam_layer=8, embed_dim=256, temp=0.07, use_momentum_distill=True,
                   queue_size=65536, momentum=0.995, mlm_head=True)

    @classmethod
    def small(cls, image_res: int = 256) -> "ModelConfig":
        """The default/test model: same architecture, small widths; GradCAM on the 2nd of 3 fusion layers."""
        return cls(image_res=image_res)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig keys: {', '.join(unknown)}")
        return cls(**d)


# ----------------------------------------------------------------------------------------------------
# Vision Transformer (ALBEF models/vit.py)

class PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, width: int):
        super().__init__()
        self.proj = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # row-major patches


class ConvStem(nn.Module):
    """log2(patch_size) stride-2 3x3 convs (GroupNorm, GELU) doubling the channels up to width, then a 1x1
    conv to width: the same [B, grid*grid, width] tokens as PatchEmbed ("Early convolutions help transformers
    see better", Xiao et al. 2021). GroupNorm, not BatchNorm: no running buffers that DDP ranks could
    disagree on (training uses broadcast_buffers=False)."""

    def __init__(self, patch_size: int, width: int):
        super().__init__()
        layers: List[nn.Module] = []
        steps = patch_size.bit_length() - 1
        channels_in = 3
        for i in range(steps):
            channels = width >> (steps - 1 - i)
            layers += [nn.Conv2d(channels_in, channels, 3, stride=2, padding=1, bias=False),
                       nn.GroupNorm(math.gcd(8, channels), channels), nn.GELU()]
            channels_in = channels
        layers.append(nn.Conv2d(channels_in, width, 1))
        self.stem = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stem(x).flatten(2).transpose(1, 2)  # row-major patches


class VitAttention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.scale = (width // heads) ** -0.5
        self.qkv = nn.Linear(width, width * 3, bias=True)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class VitMlp(nn.Module):
    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class VitBlock(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.vision_width, eps=cfg.vision_eps)
        self.attn = VitAttention(cfg.vision_width, cfg.vision_heads)
        self.norm2 = nn.LayerNorm(cfg.vision_width, eps=cfg.vision_eps)
        self.mlp = VitMlp(cfg.vision_width, cfg.vision_mlp_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.num_patches = cfg.num_patches
        self.patch_embed = (ConvStem if cfg.patch_stem == "conv" else PatchEmbed)(cfg.patch_size, cfg.vision_width)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.vision_width))
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_patches + 1, cfg.vision_width))
        self.blocks = nn.ModuleList([VitBlock(cfg) for _ in range(cfg.vision_depth)])
        self.norm = nn.LayerNorm(cfg.vision_width, eps=cfg.vision_eps)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.apply(_init_vit_weights)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(image)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.pos_embed[:, : x.size(1)]
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


def _init_vit_weights(m: nn.Module) -> None:
    # timm's ViT init (ALBEF vit.py _init_weights)
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


# ----------------------------------------------------------------------------------------------------
# BERT with cross-attention (ALBEF models/xbert.py)

ProbsHook = Callable[[torch.Tensor], torch.Tensor]


def extended_attention_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[B,T] {0,1} -> additive [B,1,1,T] mask, (1 - m) * -10000 as in HF BERT of ALBEF's era."""
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * -10000.0


class BertEmbeddings(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.text_width, padding_idx=PAD_ID)
        self.position_embeddings = nn.Embedding(cfg.max_position, cfg.text_width)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.text_width)
        self.LayerNorm = nn.LayerNorm(cfg.text_width, eps=cfg.text_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout)
        self.register_buffer("position_ids", torch.arange(cfg.max_position).expand((1, -1)))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        T = input_ids.shape[1]
        x = (self.word_embeddings(input_ids) + self.position_embeddings(self.position_ids[:, :T])
             + self.token_type_embeddings.weight[0])  # token_type_ids are all 0
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig, is_cross_attention: bool):
        super().__init__()
        self.heads = cfg.text_heads
        self.head_dim = cfg.text_width // cfg.text_heads
        kv_width = cfg.vision_width if is_cross_attention else cfg.text_width  # encoder_width
        self.query = nn.Linear(cfg.text_width, cfg.text_width)
        self.key = nn.Linear(kv_width, cfg.text_width)
        self.value = nn.Linear(kv_width, cfg.text_width)
        self.dropout = nn.Dropout(cfg.attention_dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], x.shape[1], self.heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, hidden: torch.Tensor, mask: Optional[torch.Tensor], keys_from: torch.Tensor,
                probs_hook: Optional[ProbsHook] = None) -> torch.Tensor:
        q = self.split_heads(self.query(hidden))
        k = self.split_heads(self.key(keys_from))
        v = self.split_heads(self.value(keys_from))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        if mask is not None:
            scores = scores + mask
        probs = scores.softmax(dim=-1)
        if probs_hook is not None:  # GradCAM reads A here: after softmax, before dropout (docs/reference.md §1.2)
            probs = probs_hook(probs)
        context = self.dropout(probs) @ v
        return context.permute(0, 2, 1, 3).reshape(hidden.shape[0], hidden.shape[1], -1)


class BertSelfOutput(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.text_width, cfg.text_width)
        self.LayerNorm = nn.LayerNorm(cfg.text_width, eps=cfg.text_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertAttention(nn.Module):
    def __init__(self, cfg: ModelConfig, is_cross_attention: bool):
        super().__init__()
        self.self = BertSelfAttention(cfg, is_cross_attention)
        self.output = BertSelfOutput(cfg)

    def forward(self, hidden, mask, keys_from, probs_hook=None):
        return self.output(self.self(hidden, mask, keys_from, probs_hook), hidden)


class BertIntermediate(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.text_width, cfg.text_intermediate)

    def forward(self, x):
        return F.gelu(self.dense(x))


class BertOutput(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.text_intermediate, cfg.text_width)
        self.LayerNorm = nn.LayerNorm(cfg.text_width, eps=cfg.text_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout)

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertLayer(nn.Module):
    def __init__(self, cfg: ModelConfig, index: int):
        super().__init__()
        self.attention = BertAttention(cfg, is_cross_attention=False)
        self.has_cross_attention = index >= cfg.fusion_layer
        if self.has_cross_attention:
            self.crossattention = BertAttention(cfg, is_cross_attention=True)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertOutput(cfg)

    def forward(self, hidden, mask, image_embeds, probs_hook=None):
        x = self.attention(hidden, mask, hidden)
        if self.has_cross_attention:
            # the image tokens are never padded: ALBEF's encoder mask is all ones (adds 0)
            x = self.crossattention(x, None, image_embeds, probs_hook)
        return self.output(self.intermediate(x), x)


class BertEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(cfg, i) for i in range(cfg.text_layers)])


class BertModel(nn.Module):
    """BERT without pooler. mode 'text': layers < fusion_layer; 'fusion': the rest; 'multi_modal': all."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg)

    def forward(self, attention_mask: torch.Tensor, input_ids: Optional[torch.Tensor] = None,
                encoder_embeds: Optional[torch.Tensor] = None, image_embeds: Optional[torch.Tensor] = None,
                mode: str = "multi_modal", probe_layer: Optional[int] = None,
                probs_hook: Optional[ProbsHook] = None) -> torch.Tensor:
        layers = range(self.cfg.text_layers)
        if mode == "text":
            layers = range(self.cfg.fusion_layer)
        elif mode == "fusion":
            layers = range(self.cfg.fusion_layer, self.cfg.text_layers)
        elif mode != "multi_modal":
            raise ValueError(f"unknown BERT mode {mode!r}")
        if mode == "fusion":
            assert encoder_embeds is not None, "fusion mode continues from the text-only output"
            x = encoder_embeds
        else:
            assert input_ids is not None
            x = self.embeddings(input_ids)
        if mode != "text" and image_embeds is None:
            raise ValueError(f"mode {mode!r} needs image_embeds")
        mask = extended_attention_mask(attention_mask, x.dtype)
        for i in layers:
            hook = probs_hook if i == probe_layer else None
            x = self.encoder.layer[i](x, mask, image_embeds, hook)
        return x


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.text_width, cfg.text_width)
        self.LayerNorm = nn.LayerNorm(cfg.text_width, eps=cfg.text_eps)

    def forward(self, x):
        return self.LayerNorm(F.gelu(self.dense(x)))


class BertLMPredictionHead(nn.Module):
    def __init__(self, cfg: ModelConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.transform = BertPredictionHeadTransform(cfg)
        self.decoder = nn.Linear(cfg.text_width, cfg.vocab_size)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.decoder.weight = word_embeddings.weight  # tied, as in HF BERT
        self.decoder.bias = self.bias

    def forward(self, x):
        return self.decoder(self.transform(x))


class BertOnlyMLMHead(nn.Module):
    def __init__(self, cfg: ModelConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.predictions = BertLMPredictionHead(cfg, word_embeddings)


class BertForMaskedLM(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.bert = BertModel(cfg)
        if cfg.mlm_head:
            self.cls = BertOnlyMLMHead(cfg, self.bert.embeddings.word_embeddings)
        self.apply(_init_bert_weights)

    def mlm_logits(self, input_ids, attention_mask, image_embeds) -> torch.Tensor:
        hidden = self.bert(attention_mask, input_ids=input_ids, image_embeds=image_embeds)
        return self.cls.predictions(hidden)


def _init_bert_weights(m: nn.Module) -> None:
    if isinstance(m, (nn.Linear, nn.Embedding)):
        nn.init.normal_(m.weight, mean=0.0, std=0.02)
        if isinstance(m, nn.Embedding) and m.padding_idx is not None:
            with torch.no_grad():
                m.weight[m.padding_idx].zero_()  # as HF BertPreTrainedModel._init_weights
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
    if isinstance(m, nn.Linear) and m.bias is not None:
        nn.init.zeros_(m.bias)


# ----------------------------------------------------------------------------------------------------
# GradCAM map construction (docs/reference.md §1.3)

def gradcam_token_maps(attn: torch.Tensor, grad: torch.Tensor, attention_mask: torch.Tensor,
                       grid: int) -> torch.Tensor:
    """A, dS/dA [B,H,L,1+N] -> per-token maps [B,L,g,g] = mean over heads of A * relu(G), padding zero.

    Drops the image-CLS key and reshapes the N patches row-major to g x g."""
    B, H, L, K = attn.shape
    if not torch.jit.is_tracing() and K != grid * grid + 1:
        raise ValueError(f"cross-attention has {K} keys, expected 1 + {grid}x{grid}")
    m = attention_mask.to(attn.dtype).reshape(B, 1, L, 1, 1)
    a = attn[:, :, :, 1:].reshape(B, H, L, grid, grid) * m
    g = grad[:, :, :, 1:].clamp(min=0).reshape(B, H, L, grid, grid) * m
    return (a * g).mean(dim=1)


def gradcam_eval_map(token_maps: torch.Tensor) -> torch.Tensor:
    """[B,L,g,g] -> raw evaluation map [B,g,g]: mean over ALL L positions (padding counted), docs/reference.md §1.3."""
    return token_maps.mean(dim=1)


def gradcam_training_map(cam: torch.Tensor, out_size: int = 256) -> torch.Tensor:
    """Raw [B,g,g] -> [B,out,out] in [0,1]: relu, per-sample min-max (+1e-7), bilinear (docs/reference.md §1.3).

    Works at B = 1 (the reference's .squeeze() collapses the batch axis there)."""
    B, g, _ = cam.shape
    flat = F.relu(cam).reshape(B, g * g)
    flat = flat - flat.min(dim=1, keepdim=True)[0]
    flat = flat / (flat.max(dim=1, keepdim=True)[0] + 1e-7)
    up = F.interpolate(flat.reshape(B, 1, g, g), size=(out_size, out_size), mode="bilinear",
                       align_corners=False)
    return up[:, 0]


# ----------------------------------------------------------------------------------------------------
# The full model

class _SkipInit:
    """Turns torch.nn.init's in-place initialisers into no-ops while a model is built whose every weight a
    checkpoint will overwrite (random init of ALBEF-base costs tens of seconds on 2 cores)."""
    NAMES = ("trunc_normal_", "normal_", "uniform_", "kaiming_uniform_", "ones_", "zeros_", "constant_")

    def __enter__(self):
        self.saved = {n: getattr(nn.init, n) for n in self.NAMES}
        for n in self.NAMES:
            setattr(nn.init, n, lambda tensor, *a, **k: tensor)

    def __exit__(self, *exc):
        for n, f in self.saved.items():
            setattr(nn.init, n, f)


class ALBEF(nn.Module):
    def __init__(self, cfg: ModelConfig, init_weights: bool = True):
        """init_weights=False leaves parameters uninitialised (torch.empty): only for loading a checkpoint
        that holds every key (check load_state_dict_report's `missing`)."""
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        if not init_weights:
            with _SkipInit():
                self._build(cfg, init_weights)
        else:
            self._build(cfg, init_weights)

    def _build(self, cfg: ModelConfig, init_weights: bool) -> None:
        self.visual_encoder = VisionTransformer(cfg)
        self.text_encoder = BertForMaskedLM(cfg)
        self.vision_proj = nn.Linear(cfg.vision_width, cfg.embed_dim)
        self.text_proj = nn.Linear(cfg.text_width, cfg.embed_dim)
        self.itm_head = nn.Linear(cfg.text_width, 2)
        self.temp = nn.Parameter(torch.ones([]) * cfg.temp)
        if cfg.use_momentum_distill:
            self.visual_encoder_m = VisionTransformer(cfg)
            self.vision_proj_m = nn.Linear(cfg.vision_width, cfg.embed_dim)
            self.text_encoder_m = BertForMaskedLM(cfg)
            self.text_proj_m = nn.Linear(cfg.text_width, cfg.embed_dim)
            for online, momentum in self._momentum_pairs():
                if init_weights:
                    momentum.load_state_dict(online.state_dict())
                for p in momentum.parameters():
                    p.requires_grad_(False)
        if cfg.queue_size:
            def queue() -> torch.Tensor:
                q = torch.randn(cfg.embed_dim, cfg.queue_size) if init_weights else torch.empty(
                    cfg.embed_dim, cfg.queue_size)
                return F.normalize(q, dim=0) if init_weights else q

            self.register_buffer("image_queue", queue())
            self.register_buffer("text_queue", queue())
            if cfg.queue_ptr_style == "amc":
                self.register_buffer("queue_ptr_img", torch.zeros(1, dtype=torch.long))
                self.register_buffer("queue_ptr_txt", torch.zeros(1, dtype=torch.long))
            else:
                self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    # -- encoders ---------------------------------------------------------------------------------------
    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """[B,3,S,S] CLIP-normalised -> image_embeds [B,1+N,Dv] after the ViT's final LayerNorm."""
        return self.visual_encoder(image)

    def _momentum_pairs(self) -> List[Tuple[nn.Module, nn.Module]]:
        return [(self.visual_encoder, self.visual_encoder_m), (self.vision_proj, self.vision_proj_m),
                (self.text_encoder, self.text_encoder_m), (self.text_proj, self.text_proj_m)]

    # -- explanation (evaluation semantics, docs/reference.md §1.2 "Evaluation") -------------------------------------
    def explain(self, image_embeds: torch.Tensor, input_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Eval-mode GradCAM. Returns itm_logits [B,2], gradcam [B,g,g] (raw, docs/reference.md §1.3) and
        token_gradcam [B,T,g,g] (per token, padding zero). Nothing outside stays attached to a graph;
        image_embeds are constants (the gradient is w.r.t. the attention probabilities only)."""
        was_training = self.training
        self.eval()
        captured: List[torch.Tensor] = []

        def make_leaf(probs: torch.Tensor) -> torch.Tensor:
            # a leaf copy: d(score)/d(leaf) == d(score)/d(probs), and parameters need not require grad
            leaf = probs.detach().requires_grad_(True)
            captured.append(leaf)
            return leaf

        try:
            with torch.enable_grad():
                hidden = self.text_encoder.bert(attention_mask, input_ids=input_ids,
                                                image_embeds=image_embeds.detach(), mode="multi_modal",
                                                probe_layer=self.cfg.gradcam_layer, probs_hook=make_leaf)
                itm_logits = self.itm_head(hidden[:, 0])
                (grad,) = torch.autograd.grad(itm_logits[:, 1].sum(), captured[0])
            token_maps = gradcam_token_maps(captured[0].detach(), grad, attention_mask, self.cfg.grid)
        finally:
            self.train(was_training)
        return dict(itm_logits=itm_logits.detach(), gradcam=gradcam_eval_map(token_maps),
                    token_gradcam=token_maps)

    # -- training -----------------------------------------------------------------------------------------
    def forward(self, *args, **kwargs) -> Dict[str, torch.Tensor]:
        """= training_losses, so DistributedDataParallel(model)(...) synchronises gradients."""
        return self.training_losses(*args, **kwargs)

    def training_losses(self, image: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                        box_mask: Optional[torch.Tensor] = None, switches: Optional[LossSwitches] = None,
                        **overrides) -> Dict[str, torch.Tensor]:
        """ALBEF pretraining losses + AMC (docs/reference.md §2/§3).
        `loss` = itc + itm + mlm + w_mean L_mean + w_max L_max over the terms switched on; a term switched off
        is a 0-tensor and costs no compute (use_itm=False skips the 2B hard-negative fusion passes).

        `switches` (losses.LossSwitches) says which terms run, their AMC weights and margins and alpha (the
        weight of the momentum-distillation targets, ITC and MLM; ignored without momentum). Keyword
        `overrides` of its fields (`use_amc=False, alpha=0.4`) apply on top of it (or of the defaults).
        Randomness (hard negatives, MLM masking) comes from torch's global RNG."""
        s = replace(switches or LossSwitches(), **overrides)
        use_itc, use_itm, use_mlm, use_amc, alpha = s.use_itc, s.use_itm, s.use_mlm, s.use_amc, s.alpha
        cfg = self.cfg
        if use_amc and box_mask is None:
            raise ValueError("use_amc needs box_mask [B,256,256]")
        if use_mlm and not cfg.mlm_head:
            raise ValueError("use_mlm needs a model built with mlm_head=True")
        if not (use_itc or use_itm or use_amc or use_mlm):
            raise ValueError("every loss term is switched off")
        with torch.no_grad():
            self.temp.clamp_(0.001, 0.5)
        B = image.shape[0]
        zero = image.new_zeros(())
        itc = itm = mlm = amc_mean = amc_max = zero
        image_embeds = self.visual_encoder(image)
        bert = self.text_encoder.bert
        text_embeds = bert(attention_mask, input_ids=input_ids, mode="text")
        image_embeds_m = None
        if cfg.use_momentum_distill and (use_itc or use_mlm):
            with torch.no_grad():
                self._momentum_update()
                image_embeds_m = self.visual_encoder_m(image)

        # ---- ITC (in-batch, + momentum distillation and queues when configured); the similarities also
        #      drive the ITM hard-negative sampling
        if use_itc or use_itm:
            image_feat = F.normalize(self.vision_proj(image_embeds[:, 0]), dim=-1)
            text_feat = F.normalize(self.text_proj(text_embeds[:, 0]), dim=-1)
        if use_itc and cfg.use_momentum_distill:
            with torch.no_grad():
                image_feat_m = F.normalize(self.vision_proj_m(image_embeds_m[:, 0]), dim=-1)
                text_out_m = self.text_encoder_m.bert(attention_mask, input_ids=input_ids, mode="text")
                text_feat_m = F.normalize(self.text_proj_m(text_out_m[:, 0]), dim=-1)
                image_feat_all = image_feat_m.t()
                text_feat_all = text_feat_m.t()
                if cfg.queue_size:
                    image_feat_all = torch.cat([image_feat_all, self.image_queue.clone()], dim=1)
                    text_feat_all = torch.cat([text_feat_all, self.text_queue.clone()], dim=1)
                sim_i2t_m = image_feat_m @ text_feat_all / self.temp
                sim_t2i_m = text_feat_m @ image_feat_all / self.temp
            sim_i2t = image_feat @ text_feat_all / self.temp
            sim_t2i = text_feat @ image_feat_all / self.temp
            itc = losses.itc_loss(sim_i2t, sim_t2i, sim_i2t_m, sim_t2i_m, alpha)
            if cfg.queue_size:
                self._dequeue_and_enqueue(image_feat_m, text_feat_m)
        elif use_itc or use_itm:
            sim_i2t = image_feat @ text_feat.t() / self.temp
            sim_t2i = text_feat @ image_feat.t() / self.temp
            if use_itc:
                itc = losses.itc_loss(sim_i2t, sim_t2i)

        # ---- positive pairs through the fusion layers; A of the GradCAM layer captured here (docs/reference.md §1.2)
        captured: List[torch.Tensor] = []

        def keep(probs: torch.Tensor) -> torch.Tensor:
            captured.append(probs)
            return probs

        if use_itm or use_amc:
            out_pos = bert(attention_mask, encoder_embeds=text_embeds, image_embeds=image_embeds, mode="fusion",
                           probe_layer=cfg.gradcam_layer if use_amc else None, probs_hook=keep)
            itm_pos = self.itm_head(out_pos[:, 0])

        # ---- ITM with hard negatives (B positives, 2B negatives; B = 1: positive only, see losses)
        if use_itm:
            neg_images, neg_texts = losses.sample_hard_negatives(sim_i2t[:, :B], sim_t2i[:, :B])
            itm_neg = None
            if neg_images is not None:
                text_all = torch.cat([text_embeds, text_embeds[neg_texts]], dim=0)
                atts_all = torch.cat([attention_mask, attention_mask[neg_texts]], dim=0)
                image_all = torch.cat([image_embeds[neg_images], image_embeds], dim=0)
                out_neg = bert(atts_all, encoder_embeds=text_all, image_embeds=image_all, mode="fusion")
                itm_neg = self.itm_head(out_neg[:, 0])
            itm = losses.itm_loss(itm_pos, itm_neg)

        # ---- AMC on the training GradCAM (create_graph: the loss trains through dS/dA)
        if use_amc:
            attn = captured[0]
            (grad,) = torch.autograd.grad(itm_pos[:, 1].sum(), attn, create_graph=True)
            token_maps = gradcam_token_maps(attn, grad, attention_mask, cfg.grid)
            cam = gradcam_training_map(gradcam_eval_map(token_maps), out_size=box_mask.shape[-1])
            amc_mean, amc_max = losses.amc_loss_terms(cam, box_mask, margins=s.amc_margins)

        # ---- MLM (optional)
        if use_mlm:
            masked_ids, labels = losses.mask_tokens(input_ids, cfg.vocab_size, cfg.mlm_probability)
            logits = self.text_encoder.mlm_logits(masked_ids, attention_mask, image_embeds)
            soft = None
            if cfg.use_momentum_distill:
                with torch.no_grad():
                    soft = F.softmax(self.text_encoder_m.mlm_logits(masked_ids, attention_mask, image_embeds_m),
                                     dim=-1)
            mlm = losses.mlm_loss(logits, labels, soft, alpha)

        loss = itc + itm + mlm
        if use_amc:
            loss = loss + s.amc_weights[0] * amc_mean + s.amc_weights[1] * amc_max
        return dict(loss=loss, itc=itc, itm=itm, mlm=mlm, amc_mean=amc_mean, amc_max=amc_max)

    @torch.no_grad()
    def _momentum_update(self) -> None:
        m = self.cfg.momentum
        for online, momentum in self._momentum_pairs():
            for p, p_m in zip(online.parameters(), momentum.parameters()):
                p_m.data.mul_(m).add_(p.data, alpha=1.0 - m)

    @torch.no_grad()
    def _dequeue_and_enqueue(self, image_feat: torch.Tensor, text_feat: torch.Tensor) -> None:
        image_feat = _concat_all_gather(image_feat)
        text_feat = _concat_all_gather(text_feat)
        n, size = image_feat.shape[0], self.cfg.queue_size
        ptr_img = self.queue_ptr_img if self.cfg.queue_ptr_style == "amc" else self.queue_ptr
        ptr_txt = self.queue_ptr_txt if self.cfg.queue_ptr_style == "amc" else self.queue_ptr
        start = int(ptr_img)
        # AMC's enqueue wraps around instead of asserting queue_size % batch == 0 (docs/reference.md §3)
        idx = (torch.arange(n, device=image_feat.device) + start) % size
        self.image_queue[:, idx] = image_feat.t()
        self.text_queue[:, idx] = text_feat.t()
        ptr_img[0] = (start + n) % size
        if ptr_txt is not ptr_img:
            ptr_txt[0] = (start + n) % size


def _concat_all_gather(t: torch.Tensor) -> torch.Tensor:
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return t
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts, dim=0)


# ----------------------------------------------------------------------------------------------------
# Checkpoint loading (docs/reference.md §6)

def interpolate_pos_embed(pos_embed: torch.Tensor, num_patches: int) -> torch.Tensor:
    """ALBEF's interpolate_pos_embed: the image-CLS entry is kept, the patch grid is bicubic-resized
    (align_corners False) to sqrt(num_patches) per side."""
    orig = int((pos_embed.shape[-2] - 1) ** 0.5)
    new = int(num_patches ** 0.5)
    if orig == new:
        return pos_embed
    width = pos_embed.shape[-1]
    tokens = pos_embed[:, 1:].reshape(-1, orig, orig, width).permute(0, 3, 1, 2)
    tokens = F.interpolate(tokens, size=(new, new), mode="bicubic", align_corners=False)
    return torch.cat([pos_embed[:, :1], tokens.permute(0, 2, 3, 1).flatten(1, 2)], dim=1)


# Keys the model rebuilds itself, so their absence from a checkpoint loses nothing:
# position_ids is arange(max_position); decoder.{weight,bias} are tied to word_embeddings / predictions.bias.
_DERIVED_KEY_SUFFIXES = ("embeddings.position_ids", "cls.predictions.decoder.weight",
                         "cls.predictions.decoder.bias")


def normalize_checkpoint_keys(model: ALBEF, state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Maps ALBEF/AMC checkpoint keys onto this model's names:
    * a training checkpoint dict {'model': ...} is unwrapped; a DDP 'module.' prefix is dropped;
    * evaluation checkpoints name text encoders without 'bert.' (docs/reference.md §6 eval remap): re-inserted;
    * ALBEF's single `queue_ptr` <-> AMC's `queue_ptr_img`/`queue_ptr_txt`, whichever the model has;
    * `pos_embed` (online and momentum) interpolated to this model's grid (16x16 -> 24x24 at 384 px)."""
    if "model" in state_dict and isinstance(state_dict["model"], dict):
        state_dict = state_dict["model"]
    out: Dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key.startswith("module."):
            key = key[len("module."):]
        for enc in ("text_encoder.", "text_encoder_m."):
            if key.startswith(enc) and not key.startswith(enc + "bert.") and not key.startswith(enc + "cls."):
                key = enc + "bert." + key[len(enc):]
        out[key] = value
    own = model.state_dict()
    if "queue_ptr" in out and "queue_ptr" not in own and "queue_ptr_img" in own:
        ptr = out.pop("queue_ptr")
        out["queue_ptr_img"], out["queue_ptr_txt"] = ptr.clone(), ptr.clone()
    if "queue_ptr_img" in out and "queue_ptr" in own and "queue_ptr_img" not in own:
        out["queue_ptr"] = out.pop("queue_ptr_img")
        out.pop("queue_ptr_txt", None)
    for key in ("visual_encoder.pos_embed", "visual_encoder_m.pos_embed"):
        if key in out and key in own and out[key].shape != own[key].shape:
            out[key] = interpolate_pos_embed(out[key], model.cfg.num_patches)
    return out


def load_state_dict_report(model: ALBEF, state_dict: Dict[str, torch.Tensor]) -> Tuple[List[str], List[str]]:
    """Loads an ALBEF/AMC checkpoint (training or evaluation key set) into `model`.

    Returns (missing, unexpected) key names in this model's naming; keys the model derives itself
    (position_ids, tied decoder weights) are not reported missing. Raises ValueError naming every key
    whose shape does not match (after pos_embed interpolation); nothing is ignored silently."""
    mapped = normalize_checkpoint_keys(model, state_dict)
    own = model.state_dict()
    mismatched = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
                  for k, v in mapped.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if mismatched:
        raise ValueError("checkpoint shapes do not match the model config:\n  " + "\n  ".join(mismatched))
    result = model.load_state_dict(mapped, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith(_DERIVED_KEY_SUFFIXES)]
    return sorted(missing), sorted(result.unexpected_keys)


def build_model(cfg: ModelConfig) -> ALBEF:
    return ALBEF(cfg)
