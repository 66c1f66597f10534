"""Images: safe loading, CLIP normalisation, evaluation pixels, and the training colour augmentations.

`CLIP_MEAN` / `CLIP_STD` (docs/reference.md §6) are defined here once; the model card (export.py) and every reader use
these. `load_eval_image(path, image_res, resample='bicubic')`: PIL RGB, `Image.resize((S, S), resample)`,
/255, CLIP normalise. The reference resizes RefCOCO+ with PIL bicubic (exactly this) and Flickr30k with cv2
bilinear; we use PIL bilinear for Flickr-style data (identical when enlarging, antialiased when shrinking),
because the TypeScript engine reproduces PIL's resampling exactly and cv2's fixed-point filter it cannot.

Augmentations (training, docs/reference.md §2): ToGray (ITU-R 601 luma) and colour jitter (brightness, contrast,
saturation, hue) with torchvision semantics in a fixed order. The reference's own ColorJitter claims
torchvision behaviour but hands albumentations `hue_shift=int(h·255)` (OpenCV hue units of 0–179) and
`sat_shift=int(s·255)` (≥ 153, i.e. saturation pinned near 255); we follow the documented intent.

An annotation file decides which paths are opened, so every image is stat()ed first: a missing file, a
folder, a device/FIFO/socket or a file over `max_image_bytes` is a DataError naming the entry, never a hang.
"""
from __future__ import annotations

import os
import stat
from typing import Optional, Tuple

import numpy as np
import torch
from PIL import Image

from .annotation_files import DataError

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # docs/reference.md §6, applied to RGB in [0, 1]
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

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


def decoded_image_size(path: str,
                       max_bytes: int = DEFAULT_MAX_IMAGE_BYTES) -> Tuple[Optional[Tuple[int, int]], Optional[str]]:
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
    """Evaluation pixels (docs/reference.md §4): PIL RGB -> resize S×S (PIL `resample`) -> /255 -> CLIP normalise."""
    if resample not in _RESAMPLE:
        raise ValueError(f"resample must be one of {sorted(_RESAMPLE)}, got {resample!r}")
    image = open_rgb(path).resize((image_res, image_res), _RESAMPLE[resample])
    return normalize(pil_to_tensor(image))


def image_size(path: str, file: str, entry: str) -> Tuple[int, int]:
    """(width, height) from the image header, for readers whose annotation does not give it."""
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
