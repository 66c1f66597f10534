"""Data: training readers with AMC's box masks and augmentations, and evaluation readers for every format.

Training (spec §2, §3): `GroundingTrainSet(files, image_root, image_res=256, augment=True, seed=0)` reads AMC
VG JSON (`[{image, caption, bbox: [[x1,y1,x2,y2], ...]}]`) and raw Visual Genome `region_descriptions.json`,
and yields `dict(image FloatTensor[3,S,S], caption str, box_mask FloatTensor[256,256])`:
  * one random box per draw; degenerate boxes are redrawn while the annotation has more than one box;
    clamp x1,y1 to [0, w−1]/[0, h−1] and x2,y2 to [1, w]/[1, h], then int(); mask[y1:y2, x1:x2] = 1 at the
    original resolution (end-exclusive), resized to 256×256 with OpenCV's INTER_NEAREST index rule
    `min(n−1, floor(i·(1/(256/n))))` in float64 (spec §2 step 6);
  * the image is resized to S×S without crop, PIL bilinear. The reference uses cv2 INTER_LINEAR, which does
    not antialias when shrinking; we use PIL so training sees the same pixels as evaluation and as the
    TypeScript engine (src/model/pil-resample.ts reproduces PIL bit for bit);
  * horizontal flip p=0.5 on image and mask that ALSO swaps left/right words in the caption (the reference
    forgets this, so its flipped samples teach the wrong side); ToGray p=0.2 (ITU-R 601 luma); colour
    jitter (brightness, contrast, saturation, hue) = (0.4, 0.4, 0.4, 0.4) with p=0.5, torchvision
    semantics in a fixed order; CLIP normalisation (spec §6). The reference's own ColorJitter claims
    torchvision behaviour but hands albumentations `hue_shift=int(h·255)` (OpenCV hue units of 0–179) and
    `sat_shift=int(s·255)` (≥ 153, i.e. saturation pinned near 255); we follow the documented intent.
    Hue ±0.4 and ToGray destroy colour words ("the red circle"): for colour-grounded data such as the
    synthetic set set `gray_p: 0` and `color_jitter: [0.4, 0.4, 0.4, 0.0]` in the training config, as
    configs/small-synthetic*.json do (here every knob is a keyword argument);
  * every random draw comes from `random.Random("seed:epoch:index")`, so an item depends only on the
    seed, the epoch (`set_epoch`) and its index: DDP ranks, DataLoader workers and resumed runs agree.
  * before step 1 the trainer collects every unreadable entry (`problems=` list) and calls `preflight()`:
    each image a regular file under `max_image_bytes` that decodes completely, each box with an area and
    overlapping its image. The problems (`SampleProblem`: file, entry, reason) are listed, then the run stops
    or `drop()`s those samples.

Evaluation (spec §4, §5): `read_eval_queries(path, image_root=None) -> list[EvalQuery]` for AMC VG JSON,
raw VG, Flickr30k Entities (raw `Sentences/` + `Annotations/`, or info-ground JSON), RefCOCO-family
`refs(unc).p` + `instances.json`, and ALBEF's RefCOCO JSON. RefCOCO pickles are read by an Unpickler whose
`find_class` refuses every global, so a pickle can never run code.

`load_eval_image(path, image_res, resample='bicubic')`: PIL RGB, `Image.resize((S, S), resample)`, /255,
CLIP normalise. The reference resizes RefCOCO+ with PIL bicubic (exactly this) and Flickr30k with cv2
bilinear; we use PIL bilinear for Flickr-style data (identical when enlarging, antialiased when shrinking),
because the TypeScript engine reproduces PIL's resampling exactly and cv2's fixed-point filter it cannot.
Each EvalQuery carries `resample`: 'bicubic' for RefCOCO formats, 'bilinear' for Flickr and VG formats.
"""
from __future__ import annotations

import json
import math
import os
import pickle
import random
import re
import stat
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from PIL import Image

from .tokenizer import pre_caption

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # spec §6
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
MASK_SIZE = 256  # spec §0: the box mask is always 256×256, whatever the image resolution


class DataError(ValueError):
    """An annotation or image that cannot be used; the message names the file and the entry."""

    def __init__(self, file: str, entry: Optional[str], message: str):
        self.file = file
        self.entry = entry
        self.reason = message
        super().__init__(f"{file}{f' ({entry})' if entry else ''}: {message}")


# =========================================================================================================
# Box masks (spec §2)
# =========================================================================================================

def opencv_nearest_indices(src_size: int, dst_size: int = MASK_SIZE) -> np.ndarray:
    """Source index of each destination index under cv2.resize INTER_NEAREST: min(n−1, floor(i·(1/(d/n))))."""
    scale = 1.0 / (float(dst_size) / float(src_size))  # float64, in OpenCV's order of operations
    idx = np.floor(np.arange(dst_size, dtype=np.float64) * scale).astype(np.int64)
    return np.minimum(idx, src_size - 1)


def clamp_box(box: Sequence[float], width: int, height: int) -> Tuple[int, int, int, int]:
    """The reference's clamp then int() (truncation): x1∈[0,w−1], y1∈[0,h−1], x2∈[1,w], y2∈[1,h]."""
    x1, y1, x2, y2 = box
    x1 = min(width - 1, max(0, x1))
    y1 = min(height - 1, max(0, y1))
    x2 = min(width, max(1, x2))
    y2 = min(height, max(1, y2))
    return int(x1), int(y1), int(x2), int(y2)


def _degenerate(b: Tuple[int, int, int, int]) -> bool:
    return b[0] >= b[2] or b[1] >= b[3]


def draw_box(boxes: Sequence[Sequence[float]], width: int, height: int, rng: random.Random) -> Tuple[int, int, int, int]:
    """One random box, clamped, with the reference's redraw of degenerate boxes (see `settle_box`)."""
    return settle_box(rng.choice(boxes), boxes, width, height, rng)


def settle_box(first: Sequence[float], boxes: Sequence[Sequence[float]], width: int, height: int,
               rng: random.Random) -> Tuple[int, int, int, int]:
    """Clamp the drawn box; while it is degenerate and the annotation holds more than one box, redraw.

    The reference loops forever when every box is degenerate; we stop when no usable box exists, and the
    (degenerate) box then gives an empty mask, as the reference's single-box case does.
    """
    box = clamp_box(first, width, height)
    if len(boxes) > 1 and _degenerate(box):
        if all(_degenerate(clamp_box(b, width, height)) for b in boxes):
            return box
        while _degenerate(box):
            box = clamp_box(rng.choice(boxes), width, height)
    return box


def box_mask(box: Tuple[int, int, int, int], width: int, height: int, size: int = MASK_SIZE) -> torch.Tensor:
    """mask[y1:y2, x1:x2] = 1 at width×height, nearest-resized to size×size as cv2 does (float {0,1})."""
    x1, y1, x2, y2 = box
    rows = opencv_nearest_indices(height, size)
    cols = opencv_nearest_indices(width, size)
    inside_rows = (rows >= y1) & (rows < y2)
    inside_cols = (cols >= x1) & (cols < x2)
    return torch.from_numpy(np.outer(inside_rows, inside_cols).astype(np.float32))


# =========================================================================================================
# Text and image operations
# =========================================================================================================

_LEFT_RIGHT = re.compile(r"\b(left|right)(most|ward|wards|hand)?\b")


def swap_left_right(caption: str) -> str:
    """'left' <-> 'right' (also -most, -ward(s), -hand), for a horizontally flipped image."""
    return _LEFT_RIGHT.sub(lambda m: ("right" if m.group(1) == "left" else "left") + (m.group(2) or ""), caption)


DEFAULT_MAX_IMAGE_BYTES = 256 * 1024 * 1024  # an annotation file decides what is read: no image is bigger than this


def image_file_problem(path: str, max_bytes: int = DEFAULT_MAX_IMAGE_BYTES) -> Optional[str]:
    """Why `path` cannot be an image file (missing, a folder, a device/FIFO/socket, empty, over the size cap),
    from one stat and without opening it (a FIFO would block, /dev/zero never ends); None when it can be."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"image not found: {path}"
    except OSError as e:
        return f"cannot read image {path} ({e.strerror})"
    if stat.S_ISDIR(st.st_mode):
        return f"image path is a folder: {path}"
    if not stat.S_ISREG(st.st_mode):
        return f"image is not a regular file (a device, FIFO or socket): {path}"
    if st.st_size == 0:
        return f"image file is empty: {path}"
    if st.st_size > max_bytes:
        return (f"image is {st.st_size / 2 ** 20:.0f} MB, over the {max_bytes / 2 ** 20:.0f} MB limit "
                f"(max_image_bytes): {path}")
    return None


def open_rgb(path: str, file: Optional[str] = None, entry: Optional[str] = None,
             max_bytes: int = DEFAULT_MAX_IMAGE_BYTES) -> Image.Image:
    """PIL RGB image; a missing, non-regular, over-size or unreadable image raises DataError naming the entry."""
    problem = image_file_problem(path, max_bytes)
    if problem:
        raise DataError(file or path, entry, problem)
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except FileNotFoundError:
        raise DataError(file or path, entry, f"image not found: {path}") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DataError(file or path, entry, f"cannot decode image {path} ({e})") from None


def decoded_image_size(path: str, max_bytes: int = DEFAULT_MAX_IMAGE_BYTES) -> Tuple[Optional[Tuple[int, int]], Optional[str]]:
    """((width, height), None) when the file is a regular image that decodes completely, else (None, reason).

    JPEGs are decoded in PIL's draft mode (DCT scaling to 1/8): the whole entropy-coded stream is still read,
    so a truncated or corrupt file fails here as it would in training, at a fraction of the cost."""
    problem = image_file_problem(path, max_bytes)
    if problem:
        return None, problem
    try:
        with Image.open(path) as im:
            size = im.size
            if im.format == "JPEG":
                im.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
            im.load()
        return (int(size[0]), int(size[1])), None
    except FileNotFoundError:
        return None, f"image not found: {path}"
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
        return None, f"cannot decode image {path} ({e})"


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """uint8 RGB -> float32 [3,H,W] in [0,1], dividing in float32 as torchvision's ToTensor."""
    arr = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div(255.0)


def normalize(image: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(CLIP_MEAN, dtype=image.dtype).view(3, 1, 1)
    std = torch.tensor(CLIP_STD, dtype=image.dtype).view(3, 1, 1)
    return (image - mean) / std


_RESAMPLE = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


def load_eval_image(path: str, image_res: int, resample: str = "bicubic") -> torch.Tensor:
    """Evaluation pixels (spec §4): PIL RGB -> resize S×S (PIL `resample`) -> /255 -> CLIP normalise."""
    if resample not in _RESAMPLE:
        raise ValueError(f"resample must be one of {sorted(_RESAMPLE)}, got {resample!r}")
    image = open_rgb(path).resize((image_res, image_res), _RESAMPLE[resample])
    return normalize(pil_to_tensor(image))


_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as cv2 RGB2GRAY (albumentations ToGray) and torchvision


def _grayscale(img: torch.Tensor) -> torch.Tensor:
    return (_LUMA[0] * img[0] + _LUMA[1] * img[1] + _LUMA[2] * img[2]).unsqueeze(0)


def to_gray(img: torch.Tensor) -> torch.Tensor:
    return _grayscale(img).expand(3, -1, -1).clone()


def _rgb_to_hsv(img: torch.Tensor) -> torch.Tensor:
    r, g, b = img.unbind(0)
    maxc, _ = img.max(dim=0)
    minc, _ = img.min(dim=0)
    eqc = maxc == minc
    cr = maxc - minc
    ones = torch.ones_like(maxc)
    s = cr / torch.where(eqc, ones, maxc)
    cr_div = torch.where(eqc, ones, cr)
    rc = (maxc - r) / cr_div
    gc = (maxc - g) / cr_div
    bc = (maxc - b) / cr_div
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = torch.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return torch.stack((h, s, maxc))


def _hsv_to_rgb(img: torch.Tensor) -> torch.Tensor:
    h, s, v = img.unbind(0)
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.to(torch.int64) % 6
    p = (v * (1.0 - s)).clamp(0.0, 1.0)
    q = (v * (1.0 - s * f)).clamp(0.0, 1.0)
    t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0)
    mask = i.unsqueeze(0) == torch.arange(6).view(-1, 1, 1)
    a1 = torch.stack((v, q, p, p, t, v))
    a2 = torch.stack((t, v, v, q, p, p))
    a3 = torch.stack((p, p, t, v, v, q))
    a4 = torch.stack((a1, a2, a3))
    return torch.einsum("ijk,xijk->xjk", mask.to(img.dtype), a4)


def color_jitter(img: torch.Tensor, brightness: float, contrast: float, saturation: float, hue: float) -> torch.Tensor:
    """Apply the given factors (torchvision semantics) in the fixed order brightness, contrast, saturation, hue."""
    img = (img * brightness).clamp(0.0, 1.0)
    mean = _grayscale(img).mean()
    img = (contrast * img + (1.0 - contrast) * mean).clamp(0.0, 1.0)
    gray = _grayscale(img)
    img = (saturation * img + (1.0 - saturation) * gray).clamp(0.0, 1.0)
    if hue != 0.0:
        hsv = _rgb_to_hsv(img)
        hsv[0] = torch.remainder(hsv[0] + hue, 1.0)
        img = _hsv_to_rgb(hsv)
    return img


# =========================================================================================================
# Training readers
# =========================================================================================================

@dataclass
class TrainEntry:
    image: str                      # resolved image path
    captions: List[str]             # one is chosen per draw (AMC VG JSON may give a list)
    boxes: List[List[float]]        # xyxy, original pixels
    file: str                       # annotation file and entry label, for messages
    entry: str
    caption_is_list: bool = False   # the reference calls random.choice only on lists
    position: Optional[int] = None  # index of the top-level JSON element the entry came from


def _load_json(path: str) -> Any:
    try:
        if os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode) and not os.path.isdir(path):
            raise DataError(path, None, "not a regular file (a device, FIFO or socket), so not an annotation file")
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataError(path, None, "file not found") from None
    except IsADirectoryError:
        raise DataError(path, None, "is a folder, not a JSON file") from None
    except UnicodeDecodeError as e:
        raise DataError(path, None, f"not UTF-8 text ({e})") from None
    except json.JSONDecodeError as e:
        raise DataError(path, f"line {e.lineno}, column {e.colno}", f"not valid JSON: {e.msg}") from None
    except RecursionError:  # json's decoder recurses once per [ or {: "[[[[...]]]]" 100k deep overflows it
        raise DataError(path, None, f"JSON nested too deeply to read (more than about "
                                    f"{sys.getrecursionlimit()} levels of [ and {{); no annotation format "
                                    "nests like that") from None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_box(box: Any, file: str, entry: str) -> List[float]:
    if not (isinstance(box, (list, tuple)) and len(box) == 4 and all(_is_number(v) for v in box)):
        raise DataError(file, entry, f"a box must be 4 finite numbers [x1, y1, x2, y2], got {json.dumps(box)[:80]}")
    return [float(v) for v in box]


def _amc_boxes(raw: Any, file: str, entry: str) -> List[List[float]]:
    if not isinstance(raw, list) or not raw:
        raise DataError(file, entry, "'bbox' must be a non-empty list of [x1, y1, x2, y2] boxes")
    # AMC's "nested" form [[box, box, ...]] (its reader crashes on it, spec §2): flatten one level.
    if isinstance(raw[0], list) and raw[0] and isinstance(raw[0][0], list):
        raw = [b for group in raw for b in group]
    return [_check_box(b, file, entry) for b in raw]


def _amc_captions(raw: Any, file: str, entry: str) -> Tuple[List[str], bool]:
    if isinstance(raw, str):
        return [raw], False
    if isinstance(raw, list) and raw and all(isinstance(c, str) for c in raw):
        return list(raw), True
    raise DataError(file, entry, "'caption' must be a string or a non-empty list of strings")


def _vg_image_info(region_file: str) -> Tuple[Dict[int, str], Dict[int, Tuple[int, int]]]:
    """From image_data.json beside the region file (when present): image_id -> 'VG_100K' / 'VG_100K_2' (from
    its url) and image_id -> (width, height)."""
    path = os.path.join(os.path.dirname(os.path.abspath(region_file)), "image_data.json")
    folders: Dict[int, str] = {}
    sizes: Dict[int, Tuple[int, int]] = {}
    if not os.path.exists(path):
        return folders, sizes
    data = _load_json(path)
    if not isinstance(data, list):
        raise DataError(path, None, "expected a JSON list of images")
    for i, img in enumerate(data):
        image_id = img.get("image_id", img.get("id")) if isinstance(img, dict) else None
        if not isinstance(image_id, int) or isinstance(image_id, bool):
            raise DataError(path, f"[{i}]", "expected an object with an integer 'image_id'")
        url = img.get("url")
        if isinstance(url, str):
            parts = url.rstrip("/").split("/")
            if len(parts) >= 2 and parts[-2] in ("VG_100K", "VG_100K_2"):
                folders[image_id] = parts[-2]
        if _is_number(img.get("width")) and _is_number(img.get("height")):
            sizes[image_id] = (int(img["width"]), int(img["height"]))
    return folders, sizes


def _vg_image_path(image_root: str, image_id: int, folders: Dict[int, str]) -> str:
    folder = folders.get(image_id)
    if folder is None:
        folder = "VG_100K"
        if not os.path.exists(os.path.join(image_root, folder, f"{image_id}.jpg")) and \
                os.path.exists(os.path.join(image_root, "VG_100K_2", f"{image_id}.jpg")):
            folder = "VG_100K_2"
    return os.path.join(image_root, folder, f"{image_id}.jpg")


def _iter_vg_regions(path: str, data: Any, problems: Optional[List["SampleProblem"]] = None):
    """Yield (entry label, image_id, region dict, xyxy box) for raw VG region_descriptions.json. With a
    `problems` list, a bad image or region is recorded there and skipped instead of raised."""
    if not isinstance(data, list):
        raise DataError(path, None, "expected a JSON list of images with 'regions'")

    def bad(err: DataError, position: int) -> None:
        if problems is None:
            raise err
        problems.append(SampleProblem(err.file, err.entry, err.reason, position=position))

    for i, img in enumerate(data):
        if not isinstance(img, dict) or not isinstance(img.get("regions"), list):
            bad(DataError(path, f"[{i}]", "expected an object with a 'regions' list"), i)
            continue
        image_id = img.get("id", img.get("image_id"))
        for j, reg in enumerate(img["regions"]):
            if not isinstance(reg, dict):
                bad(DataError(path, f"[{i}].regions[{j}]", "expected an object"), i)
                continue
            rid = reg.get("image_id", image_id)
            entry = f"image {rid}, region {reg.get('region_id', j)}"
            if not isinstance(rid, int) or isinstance(rid, bool) or not isinstance(reg.get("phrase"), str):
                bad(DataError(path, entry, "a region needs an integer 'image_id' (or its image's 'id') and a "
                                           "'phrase' string"), i)
                continue
            wrong = next((k for k in ("x", "y", "width", "height") if not _is_number(reg.get(k))), None)
            if wrong:
                bad(DataError(path, entry, f"region '{wrong}' must be a finite number, got {reg.get(wrong)!r}"), i)
                continue
            x, y, w, h = (float(reg[k]) for k in ("x", "y", "width", "height"))
            # spec §5.4: VG regions are x, y, width, height; AMC's boxes are [x, y, x + width, y + height].
            yield entry, int(rid), reg, [x, y, x + w, y + h], i


def detect_train_format(path: str, data: Any) -> str:
    if isinstance(data, list) and data and isinstance(data[0], dict):
        if "regions" in data[0]:
            return "vg-regions"
        if "bbox" in data[0] and "caption" in data[0]:
            return "amc-vg"
    if isinstance(data, list) and not data:
        return "amc-vg"
    raise DataError(path, None, "not a training file: expected AMC VG JSON [{image, caption, bbox}] or "
                                "Visual Genome region_descriptions.json [{id, regions}]")


def read_train_entries(path: str, image_root: Optional[str] = None,
                       problems: Optional[List["SampleProblem"]] = None) -> List[TrainEntry]:
    """Entries of one training file (AMC VG JSON or raw VG region_descriptions.json). Without `problems` the
    first bad entry raises DataError; with it, every bad entry is recorded there and left out. A file that
    cannot be read as a whole always raises."""
    data = _load_json(path)
    root = image_root or os.path.dirname(os.path.abspath(path))
    fmt = detect_train_format(path, data)
    entries: List[TrainEntry] = []
    if fmt == "amc-vg":
        for i, ann in enumerate(data):
            entry = f"[{i}]"
            try:
                if not isinstance(ann, dict):
                    raise DataError(path, entry, "expected an object {image, caption, bbox}")
                if not isinstance(ann.get("image"), str) or not ann["image"]:
                    raise DataError(path, entry, "'image' must be a non-empty path string")
                captions, is_list = _amc_captions(ann.get("caption"), path, entry)
                boxes = _amc_boxes(ann.get("bbox"), path, entry)
            except DataError as err:
                if problems is None:
                    raise
                problems.append(SampleProblem(err.file, err.entry, err.reason, position=i))
                continue
            entries.append(TrainEntry(os.path.join(root, ann["image"]), captions, boxes, path, entry, is_list,
                                      position=i))
    else:
        folders, _ = _vg_image_info(path)
        for entry, image_id, reg, box, i in _iter_vg_regions(path, data, problems):
            entries.append(TrainEntry(_vg_image_path(root, image_id, folders), [reg["phrase"]], [box], path, entry,
                                      position=i))
    return entries


@dataclass
class SampleProblem:
    """One reason a training sample cannot be used, found before step 1 (see `GroundingTrainSet.preflight`)."""
    file: str                         # the annotation file
    entry: Optional[str]              # "[12]" / "image 1, region 5"
    message: str                      # the reason, naming the image where it is about the image
    index: Optional[int] = None       # position in GroundingTrainSet.entries; None: the entry was never read
    position: Optional[int] = None    # index of the top-level JSON element in `file` (for its line number)
    line: Optional[int] = None        # 1-based line of that element, where it was worked out

    def __str__(self) -> str:
        return f"{self.file}{f' ({self.entry})' if self.entry else ''}: {self.message}"


def box_problem(box: Sequence[float], size: Optional[Tuple[int, int]] = None) -> Optional[str]:
    """Why a xyxy box cannot train anything: no area, or (with the image size) entirely outside the image.
    Boxes reaching past the border are fine: training clamps them to the image (spec §2)."""
    x1, y1, x2, y2 = box
    shown = "[" + ", ".join(f"{v:g}" for v in box) + "]"
    if not (x2 > x1 and y2 > y1):
        return f"box {shown} has no area (needs x2 > x1 and y2 > y1)"
    if size is not None:
        w, h = size
        if x1 >= w or y1 >= h or x2 <= 0 or y2 <= 0:
            return f"box {shown} lies entirely outside the {w}x{h} image"
    return None


_JSON_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]')
_NON_SPACE = re.compile(r"\S")
MAX_BYTES_FOR_LINE_NUMBERS = 64 * 1024 * 1024


def top_level_element_lines(path: str) -> Optional[List[int]]:
    """1-based line of each element of the top-level JSON array in `path` (None for files over 64 MB or
    that are not an array), so problems can point the editor at their entry."""
    try:
        if os.path.getsize(path) > MAX_BYTES_FOR_LINE_NUMBERS:
            return None
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return None
    starts: List[int] = []
    depth = 0
    for m in _JSON_STRUCTURE.finditer(text):
        t = m.group()
        if t[0] == '"':
            continue
        if t in "[{":
            depth += 1
            if depth == 1:
                if t != "[":
                    return None
                starts.append(m.end())
        elif t in "]}":
            depth -= 1
        elif depth == 1:  # a comma between top-level elements
            starts.append(m.end())
    lines, line, pos = [], 1, 0
    for start in starts:
        nxt = _NON_SPACE.search(text, start)
        at = nxt.start() if nxt else len(text)
        line += text.count("\n", pos, at)
        pos = at
        lines.append(line)
    return lines


class GroundingTrainSet(torch.utils.data.Dataset):
    """AMC training samples: image, pre_caption'ed caption and 256×256 box mask (see module docstring)."""

    def __init__(self, files: Union[str, Sequence[str]], image_root: Optional[str] = None, image_res: int = 256,
                 augment: bool = True, seed: int = 0, *, flip_p: float = 0.5, gray_p: float = 0.2,
                 jitter: Sequence[float] = (0.4, 0.4, 0.4, 0.4), jitter_p: float = 0.5, max_words: int = 50,
                 problems: Optional[List[SampleProblem]] = None, max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES):
        """With a `problems` list, entries that cannot be read are recorded there and left out (the trainer
        lists them all before step 1); without it the first one raises DataError."""
        if isinstance(files, str):
            files = [files]
        if not files:
            raise ValueError("GroundingTrainSet: no training files given")
        self.files = list(files)
        self.entries: List[TrainEntry] = []
        for f in files:
            self.entries.extend(read_train_entries(f, image_root or None, problems))
        self.max_image_bytes = int(max_image_bytes)
        self.image_res = int(image_res)
        self.augment = bool(augment)
        self.seed = int(seed)
        self.epoch = 0
        self.flip_p, self.gray_p, self.jitter_p = float(flip_p), float(gray_p), float(jitter_p)
        self.jitter = tuple(float(j) for j in jitter)
        if len(self.jitter) != 4:
            raise ValueError("jitter must be (brightness, contrast, saturation, hue)")
        self.max_words = max_words

    def __len__(self) -> int:
        return len(self.entries)

    def preflight(self, workers: int = 4) -> List[SampleProblem]:
        """Every image is a regular file under the size cap that decodes completely, and every box has an area
        and overlaps its image; one SampleProblem per failing (entry, reason), in entry order. Each distinct
        image is checked once, `workers` at a time (PIL decodes without the GIL)."""
        from concurrent.futures import ThreadPoolExecutor
        paths = list(dict.fromkeys(e.image for e in self.entries))
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            checked = dict(zip(paths, pool.map(lambda p: decoded_image_size(p, self.max_image_bytes), paths)))
        problems: List[SampleProblem] = []
        for index, entry in enumerate(self.entries):
            size, image_problem = checked[entry.image]
            if image_problem:
                problems.append(SampleProblem(entry.file, entry.entry, image_problem, index, entry.position))
                continue
            for k, box in enumerate(entry.boxes):
                reason = box_problem(box, size)
                if reason:
                    which = f"box {k + 1} of {len(entry.boxes)}: " if len(entry.boxes) > 1 else ""
                    problems.append(SampleProblem(entry.file, entry.entry, which + reason, index, entry.position))
        return problems

    def drop(self, indices: Sequence[int]) -> None:
        """Leave these samples out (the trainer's --skip_bad_samples); indices refer to `entries`."""
        gone = set(indices)
        self.entries = [e for i, e in enumerate(self.entries) if i not in gone]

    def set_epoch(self, epoch: int) -> None:
        """Items depend on (seed, epoch, index) only; call before each epoch."""
        self.epoch = int(epoch)

    def rng_for(self, index: int) -> random.Random:
        return random.Random(f"{self.seed}:{self.epoch}:{index}")  # str seeds hash with sha512: stable everywhere

    def __getitem__(self, index: int) -> Dict[str, Any]:
        entry = self.entries[index]
        rng = self.rng_for(index)
        image = open_rgb(entry.image, entry.file, entry.entry, self.max_image_bytes)
        width, height = image.size
        # The reference's draw order: the box, then the caption, then any redraws of a degenerate box.
        first_box = rng.choice(entry.boxes)
        caption = rng.choice(entry.captions) if entry.caption_is_list else entry.captions[0]
        caption = pre_caption(caption, self.max_words)
        box = settle_box(first_box, entry.boxes, width, height, rng)
        mask = box_mask(box, width, height)
        pixels = pil_to_tensor(image.resize((self.image_res, self.image_res), Image.BILINEAR))
        # The augmentation draws are always made, so their values never depend on which branches run.
        u_flip, u_gray, u_jit = rng.random(), rng.random(), rng.random()
        b, c, s, h = self.jitter
        factors = (rng.uniform(max(0.0, 1 - b), 1 + b), rng.uniform(max(0.0, 1 - c), 1 + c),
                   rng.uniform(max(0.0, 1 - s), 1 + s), rng.uniform(-h, h))
        if self.augment:
            if u_flip < self.flip_p:
                pixels = pixels.flip(-1)
                mask = mask.flip(-1)
                caption = swap_left_right(caption)
            if u_gray < self.gray_p:
                pixels = to_gray(pixels)
            if u_jit < self.jitter_p:
                pixels = color_jitter(pixels, *factors)
        return {"image": normalize(pixels).contiguous(), "caption": caption, "box_mask": mask.contiguous()}


def collate(batch: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Stack images [B,3,S,S] and masks [B,256,256]; captions stay a list of strings."""
    return {
        "image": torch.stack([b["image"] for b in batch]),
        "caption": [b["caption"] for b in batch],
        "box_mask": torch.stack([b["box_mask"] for b in batch]),
    }


# =========================================================================================================
# Evaluation readers
# =========================================================================================================

@dataclass
class EvalQuery:
    id: str
    image: str                        # resolved image path
    width: Optional[int]              # original image size (pointing happens in these pixels)
    height: Optional[int]
    phrase: str                       # exactly as in the file
    caption: str                      # pre_caption(phrase): 50 words (Flickr/VG), 30 (RefCOCO) as the reference
    boxes_xyxy: List[List[float]]     # GT boxes; a hit in any counts (spec §4.3)
    hit_rule: str                     # 'xyxy' (Flickr, VG) or 'xywh' (RefCOCO), see src/core/types.ts HitRule
    split: str                        # train | val | test | testA | testB | all
    resample: str = "bilinear"        # PIL resampling of load_eval_image for this format (module docstring)
    format: str = ""                  # one of src/core/types.ts DatasetFormat
    source: str = ""                  # "file (entry)"


_SPLIT_IN_NAME = re.compile(r"(?:^|[_\-.])(train|val|test|testA|testB)(?:[_\-.]|$)")


def split_from_name(path: str) -> str:
    m = _SPLIT_IN_NAME.search(os.path.basename(path))
    return m.group(1) if m else "all"


def _image_size(path: str, file: str, entry: str) -> Tuple[int, int]:
    problem = image_file_problem(path)
    if problem:
        raise DataError(file, entry, problem + " (needed for its size)")
    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise DataError(file, entry, f"image not found: {path} (needed for its size)") from None
    except OSError as e:
        raise DataError(file, entry, f"cannot read image {path} ({e})") from None


def detect_format(path: str) -> str:
    """The DatasetFormat of an annotation path (file name first, then a peek at the JSON)."""
    base = os.path.basename(path.rstrip("/"))
    if os.path.isdir(path):
        if os.path.isdir(os.path.join(path, "Sentences")) and os.path.isdir(os.path.join(path, "Annotations")):
            return "flickr-raw"
        raise DataError(path, None, "a folder must be a Flickr30k Entities root with Sentences/ and Annotations/")
    if base.endswith((".p", ".pkl", ".pickle")):
        return "refcoco-pickle"
    if base.endswith(".txt"):
        if _flickr_annotation_root(path) is not None:
            return "flickr-raw"
        raise DataError(path, None, "a .txt file must be a Flickr30k Entities split file with Sentences/ and "
                                    "Annotations/ beside it (or in annotations/), or a Sentences/{id}.txt")
    if re.match(r"(bounding_boxes|sentences)_\w+\.json$", base):
        return "flickr-infoground"
    data = _load_json(path)
    if isinstance(data, list) and data and isinstance(data[0], dict):
        first = data[0]
        if "regions" in first:
            return "vg-regions"
        if "bbox" in first and "caption" in first:
            return "amc-vg"
        if "ref_id" in first and "text" in first:
            return "refcoco-albef"
    raise DataError(path, None, "unrecognised annotation format (expected AMC VG, VG region_descriptions, "
                                "Flickr30k Entities, info-ground JSON, refs(unc).p or ALBEF RefCOCO JSON)")


def read_eval_queries(path: str, image_root: Optional[str] = None, *, refs_file: Optional[str] = None) -> List[EvalQuery]:
    """Every grounding query of an annotation file in any supported format (see module docstring)."""
    fmt = detect_format(path)
    if fmt == "amc-vg":
        return _eval_amc_vg(path, image_root)
    if fmt == "vg-regions":
        return _eval_vg_regions(path, image_root)
    if fmt == "flickr-raw":
        return _eval_flickr_raw(path, image_root)
    if fmt == "flickr-infoground":
        return _eval_flickr_infoground(path, image_root)
    if fmt == "refcoco-pickle":
        return _eval_refcoco_pickle(path, image_root)
    return _eval_refcoco_albef(path, image_root, refs_file)


def _eval_amc_vg(path: str, image_root: Optional[str]) -> List[EvalQuery]:
    split = split_from_name(path)
    out = []
    for i, entry in enumerate(read_train_entries(path, image_root)):
        label = f"[{i}]"
        w, h = _image_size(entry.image, path, label)
        for k, phrase in enumerate(entry.captions):
            out.append(EvalQuery(f"{i}" if len(entry.captions) == 1 else f"{i}.{k}", entry.image, w, h, phrase,
                                 pre_caption(phrase, 50), entry.boxes, "xyxy", split, "bilinear", "amc-vg",
                                 f"{path} ({label})"))
    return out


def _eval_vg_regions(path: str, image_root: Optional[str]) -> List[EvalQuery]:
    root = image_root or os.path.dirname(os.path.abspath(path))
    data = _load_json(path)
    folders, sizes = _vg_image_info(path)
    split = split_from_name(path)
    out = []
    for entry, image_id, reg, box, _ in _iter_vg_regions(path, data):
        image = _vg_image_path(root, image_id, folders)
        w, h = sizes.get(image_id) or _image_size(image, path, entry)
        out.append(EvalQuery(str(reg.get("region_id", entry)), image, w, h, reg["phrase"], pre_caption(reg["phrase"], 50),
                             [box], "xyxy", split, "bilinear", "vg-regions", f"{path} ({entry})"))
    return out


# --- Flickr30k Entities ------------------------------------------------------------------------------

def parse_flickr_sentences(text: str, file: str = "") -> List[dict]:
    """Sentences/{id}.txt -> [{sentence, phrases: [{first_word_index, phrase, phrase_id, phrase_type}]}].

    Same rules as info-ground's get_sentence_data (spec §5.3), which produced the JSON AMC evaluates on.
    """
    annotations = []
    for line_no, sentence in enumerate(text.split("\n"), 1):
        if not sentence:
            continue
        first_word, phrases, phrase_id, phrase_type, words, current = [], [], [], [], [], []
        in_phrase = False
        for token in sentence.split():
            if in_phrase:
                if token[-1] == "]":
                    in_phrase = False
                    token = token[:-1]
                    current.append(token)
                    phrases.append(" ".join(current))
                    current = []
                else:
                    current.append(token)
                words.append(token)
            elif token[0] == "[":
                parts = token.split("/")
                if len(parts) < 3 or not parts[1].startswith("EN#"):
                    raise DataError(file, f"line {line_no}", f"bad entity tag {token!r} (expected [/EN#id/type words])")
                in_phrase = True
                first_word.append(len(words))
                phrase_id.append(parts[1][3:])
                phrase_type.append(parts[2:])
            else:
                words.append(token)
        if in_phrase:
            raise DataError(file, f"line {line_no}", "an entity phrase is not closed with ']'")
        annotations.append({"sentence": " ".join(words), "phrases": [
            {"first_word_index": fw, "phrase": p, "phrase_id": pid, "phrase_type": pt}
            for fw, p, pid, pt in zip(first_word, phrases, phrase_id, phrase_type)]})
    return annotations


def parse_flickr_annotation(path: str) -> dict:
    """Annotations/{id}.xml -> {boxes: {phrase_id: [[x1,y1,x2,y2] 0-based]}, scene, nobox, width, height, depth}.

    As info-ground's get_annotations: each 1-based XML coordinate minus 1 (spec §5.3).
    """
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise DataError(path, None, "annotation file not found") from None
    except ET.ParseError as e:
        raise DataError(path, None, f"not valid XML ({e})") from None
    sizes = root.findall("size")
    if not sizes:
        raise DataError(path, None, "no <size> element")
    info: Dict[str, Any] = {"boxes": {}, "scene": [], "nobox": []}
    for el in sizes[0]:
        try:
            info[el.tag] = int(el.text or "")
        except ValueError:
            raise DataError(path, f"<size><{el.tag}>", f"not an integer: {el.text!r}") from None
    for n, obj in enumerate(root.findall("object")):
        for name in obj.findall("name"):
            box_id = name.text
            bnd = obj.findall("bndbox")
            label = f"object {n + 1}, name {box_id}"
            if bnd:
                try:
                    coords = [int(bnd[0].findall(k)[0].text) - 1 for k in ("xmin", "ymin", "xmax", "ymax")]
                except (IndexError, TypeError, ValueError):
                    raise DataError(path, label, "<bndbox> needs integer xmin, ymin, xmax, ymax") from None
                info["boxes"].setdefault(box_id, []).append(coords)
            else:
                try:
                    if int(obj.findall("nobndbox")[0].text) > 0:
                        info["nobox"].append(box_id)
                    if int(obj.findall("scene")[0].text) > 0:
                        info["scene"].append(box_id)
                except (IndexError, TypeError, ValueError):
                    raise DataError(path, label, "an object without <bndbox> needs integer <nobndbox> and <scene>") from None
    return info


def _flickr_queries(image_id: str, sentences: List[dict], boxes: dict, image: str, split: str, fmt: str,
                    source: str) -> List[EvalQuery]:
    """One query per phrase that has boxes (spec §4.3: scene-only and no-box phrases are skipped)."""
    out = []
    box_map = boxes.get("boxes", {})
    for s_idx, sent in enumerate(sentences):
        for p_idx, phrase in enumerate(sent["phrases"]):
            pid = phrase["phrase_id"]
            if pid not in box_map:
                continue
            out.append(EvalQuery(f"{image_id}:{s_idx}:{p_idx}", image, boxes.get("width"), boxes.get("height"),
                                 phrase["phrase"], pre_caption(phrase["phrase"], 50),
                                 [list(map(float, b)) for b in box_map[pid]], "xyxy", split, "bilinear", fmt,
                                 f"{source} (sentence {s_idx + 1}, phrase_id {pid})"))
    return out


def _read_id_list(path: str) -> List[str]:
    try:
        with open(path, "rb") as f:
            return [t.decode() for t in f.read().split()]
    except FileNotFoundError:
        raise DataError(path, None, "split file not found") from None


def _flickr_annotation_root(path: str) -> Optional[str]:
    """The folder holding Sentences/ and Annotations/ for a split file, a Sentences/{id}.txt, or a root folder."""
    path = os.path.abspath(path)
    if os.path.isfile(path) and os.path.basename(os.path.dirname(path)) == "Sentences":
        return os.path.dirname(os.path.dirname(path))
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    for cand in (folder, os.path.join(folder, "annotations"), os.path.join(folder, "flickr30k_entities")):
        if os.path.isdir(os.path.join(cand, "Sentences")) and os.path.isdir(os.path.join(cand, "Annotations")):
            return cand
    return None


def _eval_flickr_raw(path: str, image_root: Optional[str]) -> List[EvalQuery]:
    """A split file (val.txt), a root folder (every split file in it), or one Sentences/{id}.txt (split 'all')."""
    root = _flickr_annotation_root(path)
    if root is None:
        raise DataError(path, None, "no Sentences/ and Annotations/ folders found for this Flickr30k Entities file")
    if os.path.isdir(path):
        split_files = [os.path.join(path, f"{s}.txt") for s in ("train", "val", "test")]
        jobs = [(os.path.splitext(os.path.basename(f))[0], f, _read_id_list(f)) for f in split_files if os.path.exists(f)]
        if not jobs:
            raise DataError(path, None, "no train.txt / val.txt / test.txt split file in this Flickr30k Entities root")
    elif os.path.basename(os.path.dirname(os.path.abspath(path))) == "Sentences":
        jobs = [("all", path, [os.path.splitext(os.path.basename(path))[0]])]
    else:
        jobs = [(os.path.splitext(os.path.basename(path))[0], path, _read_id_list(path))]
    folder = os.path.dirname(os.path.abspath(path)) if not os.path.isdir(path) else os.path.abspath(path)
    images = image_root
    if not images:
        cands = [os.path.join(d, n) for d in (root, os.path.dirname(root), folder) for n in ("flickr30k-images", "flickr30k_images")]
        images = next((c for c in cands if os.path.isdir(c)), root)
    out = []
    for split, split_file, image_ids in jobs:
        for image_id in image_ids:
            sent_path = os.path.join(root, "Sentences", f"{image_id}.txt")
            try:
                with open(sent_path, "r", encoding="utf-8") as f:
                    sentences = parse_flickr_sentences(f.read(), sent_path)
            except FileNotFoundError:
                raise DataError(split_file, f"image {image_id}", f"sentence file not found: {sent_path}") from None
            boxes = parse_flickr_annotation(os.path.join(root, "Annotations", f"{image_id}.xml"))
            out.extend(_flickr_queries(image_id, sentences, boxes, os.path.join(images, f"{image_id}.jpg"), split,
                                       "flickr-raw", sent_path))
    return out


def _eval_flickr_infoground(path: str, image_root: Optional[str]) -> List[EvalQuery]:
    folder, base = os.path.split(os.path.abspath(path))
    split = re.match(r"(?:bounding_boxes|sentences)_(\w+)\.json$", base).group(1)
    box_path = os.path.join(folder, f"bounding_boxes_{split}.json")
    sent_path = os.path.join(folder, f"sentences_{split}.json")
    boxes, sentences = _load_json(box_path), _load_json(sent_path)
    if not isinstance(boxes, dict) or not isinstance(sentences, dict):
        raise DataError(box_path if not isinstance(boxes, dict) else sent_path, None, "expected a JSON object keyed by image id")
    images = image_root
    if not images:
        cands = [os.path.join(d, n) for d in (folder, os.path.dirname(folder)) for n in ("flickr30k-images", "flickr30k_images")]
        images = next((c for c in cands if os.path.isdir(c)), folder)
    out = []
    for image_id, sents in sentences.items():
        if image_id not in boxes:
            raise DataError(sent_path, f"image {image_id}", f"no entry in {os.path.basename(box_path)}")
        b = boxes[image_id]
        if not isinstance(b, dict) or not isinstance(b.get("boxes"), dict):
            raise DataError(box_path, f"image {image_id}", "expected {boxes: {phrase_id: [[x1,y1,x2,y2]]}, width, height}")
        for pid, lst in b["boxes"].items():
            for box in lst:
                _check_box(box, box_path, f"image {image_id}, phrase {pid}")
        if not isinstance(sents, list):
            raise DataError(sent_path, f"image {image_id}", "expected a list of sentences")
        out.extend(_flickr_queries(image_id, sents, b, os.path.join(images, f"{image_id}.jpg"), split,
                                   "flickr-infoground", sent_path))
    return out


# --- RefCOCO family ------------------------------------------------------------------------------------

class _NoCodeUnpickler(pickle.Unpickler):
    """Plain data only: any GLOBAL / STACK_GLOBAL (the way a pickle reaches code) is refused."""

    def __init__(self, f, path: str):
        super().__init__(f, encoding="latin1")
        self._path = path

    def find_class(self, module: str, name: str):
        raise DataError(self._path, None, f"pickle refers to {module}.{name}; refusing to load code from a pickle "
                                          "(refs files hold only lists, dicts, strings and numbers)")


def load_refs_pickle(path: str) -> List[dict]:
    """refs(unc).p: a Python-2 pickle of a list of refs (spec §5.4), decoded with latin1, executing nothing."""
    try:
        with open(path, "rb") as f:
            refs = _NoCodeUnpickler(f, path).load()
    except FileNotFoundError:
        raise DataError(path, None, "refs pickle not found") from None
    except DataError:
        raise
    except Exception as e:  # truncated or corrupt pickles raise many types
        raise DataError(path, None, f"not a readable pickle ({type(e).__name__}: {e})") from None
    if not isinstance(refs, list):
        raise DataError(path, None, f"expected a list of refs, got {type(refs).__name__}")
    for i, ref in enumerate(refs):
        if not isinstance(ref, dict):
            raise DataError(path, f"[{i}]", "a ref must be a dict")
        for key in ("ref_id", "ann_id", "image_id", "split", "sentences"):
            if key not in ref:
                raise DataError(path, f"ref_id {ref.get('ref_id', f'[{i}]')}", f"ref has no '{key}'")
    return refs


def _refcoco_tables(pickle_path: str) -> Tuple[List[dict], Dict[int, dict], Dict[int, dict]]:
    refs = load_refs_pickle(pickle_path)
    inst_path = os.path.join(os.path.dirname(os.path.abspath(pickle_path)), "instances.json")
    inst = _load_json(inst_path)
    if not isinstance(inst, dict) or not isinstance(inst.get("images"), list) or not isinstance(inst.get("annotations"), list):
        raise DataError(inst_path, None, "expected COCO-style {images: [...], annotations: [...]}")
    images = {int(im["id"]): im for im in inst["images"]}
    anns = {int(a["id"]): a for a in inst["annotations"]}
    return refs, images, anns


def _default_coco_root(pickle_path: str) -> str:
    parent = os.path.dirname(os.path.dirname(os.path.abspath(pickle_path)))
    for cand in (os.path.join(parent, "train2014"), os.path.join(parent, "images", "mscoco", "images", "train2014"),
                 os.path.join(parent, "images", "train2014")):
        if os.path.isdir(cand):
            return cand
    return os.path.join(parent, "train2014")


def _ref_box(ref: dict, anns: Dict[int, dict], file: str) -> List[float]:
    ann = anns.get(int(ref["ann_id"]))
    if ann is None:
        raise DataError(file, f"ref_id {ref['ref_id']}", f"ann_id {ref['ann_id']} is not in instances.json")
    x, y, w, h = _check_box(ann.get("bbox"), file, f"ann_id {ref['ann_id']}")
    return [x, y, x + w, y + h]  # xywh -> xyxy; the hit rule stays the reference's xywh form (spec §4.2)


def _eval_refcoco_pickle(path: str, image_root: Optional[str]) -> List[EvalQuery]:
    refs, images, anns = _refcoco_tables(path)
    root = image_root or _default_coco_root(path)
    out = []
    for ref in refs:
        im = images.get(int(ref["image_id"]))
        if im is None:
            raise DataError(path, f"ref_id {ref['ref_id']}", f"image_id {ref['image_id']} is not in instances.json")
        box = _ref_box(ref, anns, path)
        for s in ref["sentences"]:
            phrase = s.get("sent", s.get("raw", ""))
            out.append(EvalQuery(f"{ref['ref_id']}:{s.get('sent_id', len(out))}", os.path.join(root, im["file_name"]),
                                 int(im["width"]), int(im["height"]), phrase, pre_caption(phrase, 30), [box], "xywh",
                                 str(ref["split"]), "bicubic", "refcoco-pickle", f"{path} (ref_id {ref['ref_id']})"))
    return out


def _find_refs_file(json_path: str) -> str:
    folder, base = os.path.split(os.path.abspath(json_path))
    dataset = base.split("_")[0]  # refcoco+_val.json -> refcoco+
    cands = [os.path.join(folder, dataset, "refs(unc).p"), os.path.join(folder, "refs(unc).p"),
             os.path.join(folder, dataset, "refs(umd).p"), os.path.join(folder, dataset, "refs(google).p"),
             os.path.join(folder, dataset, "refs(berkeley).p")]
    for c in cands:
        if os.path.exists(c):
            return c
    raise DataError(json_path, None, f"ALBEF RefCOCO JSON holds no boxes; no refs pickle found at {cands[0]} or "
                                     f"{cands[1]} (pass refs_file)")


def _eval_refcoco_albef(path: str, image_root: Optional[str], refs_file: Optional[str]) -> List[EvalQuery]:
    data = _load_json(path)
    refs_path = refs_file or _find_refs_file(path)
    refs, images, anns = _refcoco_tables(refs_path)
    by_id = {int(r["ref_id"]): r for r in refs}
    root = image_root or os.path.dirname(os.path.abspath(path))
    out = []
    for i, e in enumerate(data):
        label = f"[{i}]"
        if not isinstance(e, dict) or not isinstance(e.get("image"), str) or not isinstance(e.get("text"), str) \
                or not _is_number(e.get("ref_id")):
            raise DataError(path, label, "expected {image: str, text: str, ref_id: int}")
        ref = by_id.get(int(e["ref_id"]))
        if ref is None:
            raise DataError(path, f"{label} ref_id {e['ref_id']}", f"ref_id not in {refs_path}")
        im = images.get(int(ref["image_id"]))
        if im is None:
            raise DataError(refs_path, f"ref_id {ref['ref_id']}", f"image_id {ref['image_id']} is not in instances.json")
        split = str(e.get("split", ref["split"]))
        out.append(EvalQuery(f"{e['ref_id']}:{i}", os.path.join(root, e["image"]), int(im["width"]), int(im["height"]),
                             e["text"], pre_caption(e["text"], 30), [_ref_box(ref, anns, refs_path)], "xywh", split,
                             "bicubic", "refcoco-albef", f"{path} ({label})"))
    return out
