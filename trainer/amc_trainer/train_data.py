"""Training data (docs/reference.md §2, §3): the training readers, the preflight, and the Dataset the trainer
draws from.

`GroundingTrainSet(files, image_root, image_res=256, augment=True, seed=0)` reads AMC VG JSON
(`[{image, caption, bbox: [[x1,y1,x2,y2], ...]}]`) and raw Visual Genome `region_descriptions.json`,
and yields `dict(image FloatTensor[3,S,S], caption str, box_mask FloatTensor[256,256])`:
  * one random box per draw, clamped and drawn as a 256×256 mask as the reference does (masks.py);
  * the image is resized to S×S without crop, PIL bilinear. The reference uses cv2 INTER_LINEAR, which does
    not antialias when shrinking; we use PIL so training sees the same pixels as evaluation and as the
    TypeScript engine (src/model/pil-resample.ts reproduces PIL bit for bit);
  * horizontal flip p=0.5 on image and mask that ALSO swaps left/right words in the caption (the reference
    forgets this, so its flipped samples teach the wrong side); ToGray p=0.2; colour jitter (brightness,
    contrast, saturation, hue) = (0.4, 0.4, 0.4, 0.4) with p=0.5 (images.py); CLIP normalisation.
    Hue ±0.4 and ToGray destroy colour words ("the red circle"): for colour-grounded data such as the
    synthetic set set `gray_p: 0` and `color_jitter: [0.4, 0.4, 0.4, 0.0]` in the training config, as
    configs/small-synthetic*.json do (here every knob is a keyword argument);
  * every random draw comes from `random.Random("seed:epoch:index")`, so an item depends only on the
    seed, the epoch (`set_epoch`) and its index: DDP ranks, DataLoader workers and resumed runs agree.
  * before step 1 the trainer collects every unreadable entry (`problems=` list) and calls `preflight()`:
    each image a regular file under `max_image_bytes` that decodes completely, each box with an area and
    overlapping its image. The problems (`SampleProblem`: file, entry, reason) are listed, then the run stops
    or `drop()`s those samples.
"""
from __future__ import annotations

import os
import random
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from PIL import Image

from .annotation_files import DataError, check_box, is_number, load_json
from .images import (DEFAULT_MAX_IMAGE_BYTES, color_jitter, decoded_image_size, normalize, open_rgb, pil_to_tensor,
                     to_gray)
from .masks import box_mask, settle_box
from .tokenizer import pre_caption

_LEFT_RIGHT = re.compile(r"\b(left|right)(most|ward|wards|hand)?\b")


def swap_left_right(caption: str) -> str:
    """'left' <-> 'right' (also -most, -ward(s), -hand), for a horizontally flipped image."""
    return _LEFT_RIGHT.sub(lambda m: ("right" if m.group(1) == "left" else "left") + (m.group(2) or ""), caption)


@dataclass
class TrainEntry:
    image: str                      # resolved image path
    captions: List[str]             # one is chosen per draw (AMC VG JSON may give a list)
    boxes: List[List[float]]        # xyxy, original pixels
    file: str                       # annotation file and entry label, for messages
    entry: str
    caption_is_list: bool = False   # the reference calls random.choice only on lists
    position: Optional[int] = None  # index of the top-level JSON element the entry came from


def _amc_boxes(raw: Any, file: str, entry: str) -> List[List[float]]:
    if not isinstance(raw, list) or not raw:
        raise DataError(file, entry, "'bbox' must be a non-empty list of [x1, y1, x2, y2] boxes")
    # AMC's "nested" form [[box, box, ...]] (its reader crashes on it, docs/reference.md §2): flatten one level.
    if isinstance(raw[0], list) and raw[0] and isinstance(raw[0][0], list):
        raw = [b for group in raw for b in group]
    return [check_box(b, file, entry) for b in raw]


def _amc_captions(raw: Any, file: str, entry: str) -> Tuple[List[str], bool]:
    if isinstance(raw, str):
        return [raw], False
    if isinstance(raw, list) and raw and all(isinstance(c, str) for c in raw):
        return list(raw), True
    raise DataError(file, entry, "'caption' must be a string or a non-empty list of strings")


def vg_image_info(region_file: str) -> Tuple[Dict[int, str], Dict[int, Tuple[int, int]]]:
    """From image_data.json beside the region file (when present): image_id -> 'VG_100K' / 'VG_100K_2' (from
    its url) and image_id -> (width, height)."""
    path = os.path.join(os.path.dirname(os.path.abspath(region_file)), "image_data.json")
    folders: Dict[int, str] = {}
    sizes: Dict[int, Tuple[int, int]] = {}
    if not os.path.exists(path):
        return folders, sizes
    data = load_json(path)
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
        if is_number(img.get("width")) and is_number(img.get("height")):
            sizes[image_id] = (int(img["width"]), int(img["height"]))
    return folders, sizes


def vg_image_path(image_root: str, image_id: int, folders: Dict[int, str]) -> str:
    folder = folders.get(image_id)
    if folder is None:
        folder = "VG_100K"
        if not os.path.exists(os.path.join(image_root, folder, f"{image_id}.jpg")) and \
                os.path.exists(os.path.join(image_root, "VG_100K_2", f"{image_id}.jpg")):
            folder = "VG_100K_2"
    return os.path.join(image_root, folder, f"{image_id}.jpg")


def iter_vg_regions(path: str, data: Any, problems: Optional[List["SampleProblem"]] = None):
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
            wrong = next((k for k in ("x", "y", "width", "height") if not is_number(reg.get(k))), None)
            if wrong:
                bad(DataError(path, entry, f"region '{wrong}' must be a finite number, got {reg.get(wrong)!r}"), i)
                continue
            x, y, w, h = (float(reg[k]) for k in ("x", "y", "width", "height"))
            # docs/reference.md §5.4: VG regions are x, y, width, height; AMC's boxes are [x, y, x + width, y + height].
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
    data = load_json(path)
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
        folders, _ = vg_image_info(path)
        for entry, image_id, reg, box, i in iter_vg_regions(path, data, problems):
            entries.append(TrainEntry(vg_image_path(root, image_id, folders), [reg["phrase"]], [box], path, entry,
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
    Boxes reaching past the border are fine: training clamps them to the image (docs/reference.md §2)."""
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
