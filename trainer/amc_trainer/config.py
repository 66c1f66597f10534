"""Training configuration: one dataclass, one comment per key (nanoGPT style).

Precedence, lowest first: the defaults below (AMC's recipe, docs/reference.md §3) < `--config FILE.json` < `--key value`
on the command line. Keys are the field names; a CLI flag may use dashes (`--batch-size 8`).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class TrainConfig:
    # --- model -------------------------------------------------------------------------------------
    model: str = "small"                  # "small" (default/test model) or "base" (ALBEF exactly, docs/reference.md §6)
    image_res: int = 256                  # AMC trains at 256 px (docs/reference.md §0), grid = 256/16 = 16
    model_overrides: dict = field(default_factory=dict)  # ModelConfig fields to change, e.g. {"vision_depth": 6}
                                          # (capacity tuning for the default model; tiny models in tests)
    init_checkpoint: str = ""             # ALBEF.pth / AMC best_*.pth / our checkpoint to start from ("" = random init)
    # --- data --------------------------------------------------------------------------------------
    train_files: list = field(default_factory=list)  # AMC VG JSON files and/or raw VG region_descriptions.json
    image_root: str = ""                  # folder the training files' image paths are relative to
    skip_bad_samples: bool = False        # before step 1 every image and box is checked and every problem listed;
                                          # then the run stops (exit 2), or with this flag trains without those
                                          # samples and counts them ("skipped_samples" in each epoch event)
    max_image_bytes: int = 256 * 1024 * 1024  # images larger than this are problems (an annotation file decides
                                          # which files are read; devices, FIFOs and folders are refused too)
    augment: bool = True                  # flip (+ left/right swap), ToGray, colour jitter
                                          # (docs/reference.md §2 step 6)
    gray_p: float = 0.2                   # ToGray probability (spec: 0.2); 0 where colour words are the labels
    color_jitter: list = field(default_factory=lambda: [0.4, 0.4, 0.4, 0.4])  # brightness, contrast, saturation,
                                          # hue (spec: 0.4 each); hue ±0.4 turns "red" into any colour, so the
                                          # synthetic set's configs use hue 0
    jitter_p: float = 0.5                 # probability of the colour jitter (spec: 0.5)
    max_text_length: int = 25             # tokenizer truncation in training (docs/reference.md §3)
    num_workers: int = 0                  # DataLoader worker processes per rank (0 = load in the training process)
    # --- optimisation (docs/reference.md §3) ------------------------------------------------------------------------
    epochs: int = 1                       # passes over the training set
    max_steps_per_epoch: int = 0          # cap on optimizer steps per epoch (0 = the whole epoch); for short runs
    batch_size: int = 16                  # per process; AMC uses 64 per GPU on 8 GPUs; AMC terms use the local batch
    lr: float = 1e-5                      # peak learning rate; AMC's fine-tuning value. Training the small model from
                                          # scratch needs a much higher one (see configs/small-synthetic.json)
    min_lr: float = 1e-6                  # floor of the cosine decay
    warmup_lr: float = 1e-6               # learning rate at step 0 of the warm-up
    warmup_steps: int = 2000              # warm-up length in optimizer steps (AMC: 2000 iterations of epoch 0)
    schedule: str = "amc"                 # "amc": docs/reference.md §3 (warm-up in 100-step plateaus in epoch 0, then
                                          #   cosine per epoch over `cosine_epochs`); "cosine": linear warm-up then
                                          #   per-step cosine to min_lr at the last step; "constant": lr throughout
    cosine_epochs: int = 30               # T of the per-epoch cosine of the "amc" schedule (AMC's config: 30)
    weight_decay: float = 0.02            # AdamW decay; 1-D params and biases get none (docs/reference.md §3)
    betas: list = field(default_factory=lambda: [0.9, 0.999])  # AdamW betas (torch's, as timm's create_optimizer)
    grad_clip: float = 0.0                # max global grad norm (0 = no clipping; AMC clips nothing)
    # --- objective (docs/reference.md §2, §3) ---------------------------------------------------------------------
    use_amc: bool = True                  # add the AMC loss on the GradCAM of the positive pairs
    amc_weights: list = field(default_factory=lambda: [0.2, 0.8])   # weights of L_mean, L_max
    amc_margins: list = field(default_factory=lambda: [0.1, 0.5])   # margins of L_mean, L_max
    use_itc: bool = True                  # image-text contrastive loss
    use_itm: bool = True                  # image-text matching loss with in-batch hard negatives
    use_mlm: bool = False                 # masked language modelling (AMC: on; the synthetic model: off)
    alpha: float = 0.4                    # momentum-distillation weight (used when the model has momentum copies)
    alpha_warmup: bool = True             # ramp alpha linearly over epoch 0 as AMC does (docs/reference.md §3)
    # --- run control ---------------------------------------------------------------------------------
    seed: int = 42                        # base seed; each rank uses seed + rank (docs/reference.md §3)
    log_every: int = 10                   # emit a "step" event every N optimizer steps
    eval_file: str = ""                   # evaluation annotations (any format) scored by the pointing game
    eval_image_root: str = ""             # image root of eval_file ("" = reader's default)
    eval_split: str = ""                  # only this split of eval_file ("" = all)
    eval_every: int = 0                   # evaluate every N epochs on rank 0 (0 = never during training)
    eval_batch_size: int = 16             # queries per GradCAM batch in evaluation
    device: str = "auto"                  # "auto" (cuda if available), "cpu" or "cuda"
    rank_weights_dir: str = ""            # if set, every rank also saves its final weights here as rank{R}.pth
                                          # (lets a test prove the DDP ranks stay identical)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def apply(self, overrides: dict[str, Any], source: str) -> None:
        """Set keys from a dict, converting each value to the field's type; unknown keys name `source`."""
        known = {f.name: f for f in dataclasses.fields(self)}
        for key, value in overrides.items():
            name = key.replace("-", "_")
            if name not in known:
                raise ConfigError(f"{source}: unknown config key '{key}' (known: {', '.join(sorted(known))})")
            setattr(self, name, _coerce(name, getattr(self, name), value, source))

    def validate(self) -> None:
        if self.model not in ("small", "base"):
            raise ConfigError(f"config: model must be 'small' or 'base', got {self.model!r}")
        if self.schedule not in ("amc", "cosine", "constant"):
            raise ConfigError(f"config: schedule must be 'amc', 'cosine' or 'constant', got {self.schedule!r}")
        if self.batch_size < 1 or self.epochs < 0:
            raise ConfigError("config: batch_size must be >= 1 and epochs >= 0")
        if len(self.color_jitter) != 4 or any(float(j) < 0 for j in self.color_jitter):
            raise ConfigError("config: color_jitter takes four numbers >= 0 (brightness, contrast, saturation, hue)")
        if not (0 <= self.gray_p <= 1 and 0 <= self.jitter_p <= 1):
            raise ConfigError("config: gray_p and jitter_p are probabilities in [0, 1]")
        if len(self.amc_weights) != 2 or len(self.amc_margins) != 2:
            raise ConfigError("config: amc_weights and amc_margins each take two numbers (L_mean, L_max)")
        if self.max_image_bytes < 1:
            raise ConfigError("config: max_image_bytes must be >= 1")
        if not (self.use_itc or self.use_itm or self.use_amc or self.use_mlm):
            raise ConfigError("config: every loss is switched off; "
                              "enable at least one of use_itc/use_itm/use_amc/use_mlm")


class ConfigError(ValueError):
    pass


def _coerce(name: str, current: Any, value: Any, source: str) -> Any:
    """Convert `value` (from JSON or a CLI string) to the type of the field's current value."""
    try:
        if isinstance(current, bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"not a boolean: {value!r}")
        if isinstance(current, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(f"not an integer: {value!r}")
            return int(value)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, dict):
            if isinstance(value, str):
                value = json.loads(value)
            if not isinstance(value, dict):
                raise ValueError(f"not a JSON object: {value!r}")
            return dict(value)
        if isinstance(current, list):
            if isinstance(value, str):
                text = value.strip()
                if text.startswith("["):
                    value = json.loads(text)
                else:
                    value = [v for v in text.split(",") if v]
            if not isinstance(value, list):
                raise ValueError(f"not a list: {value!r}")
            if name in ("amc_weights", "amc_margins", "betas", "color_jitter"):
                return [float(v) for v in value]
            return [str(v) for v in value]
        return str(value)
    except (ValueError, TypeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{source}: bad value for '{name}': {err}") from None
    except RecursionError:
        raise ConfigError(f"{source}: bad value for '{name}': JSON nested too deeply") from None


def load_config_file(path: str) -> dict[str, Any]:
    try:
        with open(path, "r", encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config file: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}): {err.msg}") from None
    except RecursionError:  # json's decoder recurses per [ or {
        raise ConfigError(f"{path}: JSON nested too deeply to read (a config file is one flat object)") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file must hold a JSON object of overrides")
    # Keys starting with "_" are comments. Paths are relative to the working directory, like CLI paths.
    return {k: v for k, v in data.items() if not k.startswith("_")}


def parse_overrides(tokens: list[str]) -> dict[str, Any]:
    """`--key value` / `--key=value` / `--flag` (booleans) pairs into a dict of strings."""
    out: dict[str, Any] = {}
    names = set(TrainConfig.field_names())
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("--"):
            raise ConfigError(f"command line: expected --key value, got {tok!r}")
        key = tok[2:]
        if "=" in key:
            key, value = key.split("=", 1)
            i += 1
        else:
            name = key.replace("-", "_")
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            is_bool = name in names and isinstance(getattr(TrainConfig(), name), bool)
            if nxt is None or (nxt.startswith("--") and is_bool):
                if not is_bool:
                    raise ConfigError(f"command line: --{key} needs a value")
                value = "true"
                i += 1
            else:
                value = nxt
                i += 2
        out[key] = value
    return out


def build_config(config_file: Optional[str], overrides: dict[str, Any], base: Optional[dict] = None) -> TrainConfig:
    cfg = TrainConfig()
    if base:
        cfg.apply(base, "checkpoint config")
    if config_file:
        cfg.apply(load_config_file(config_file), config_file)
    cfg.apply(overrides, "command line")
    cfg.validate()
    return cfg


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="JSON file of config overrides (see amc_trainer/config.py for the keys)")
    parser.add_argument("--data", action="append", default=None,
                        help="training annotation file (AMC VG JSON or VG region_descriptions.json); repeatable")
    parser.add_argument("--image-root", default=None, help="folder the training images are relative to")
    parser.add_argument("--init", default=None, help="checkpoint to initialise from (ALBEF.pth, AMC best_*.pth, ours)")
    parser.add_argument("--out", required=True, help="output folder for checkpoints (checkpoint_XX.pth, last.pth)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pth exactly where it stopped")
