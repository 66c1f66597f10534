"""Evaluation readers (docs/reference.md §4, §5): every grounding query of an annotation file, in six formats.

`read_eval_queries(path, image_root=None) -> list[EvalQuery]` for AMC VG JSON, raw VG
`region_descriptions.json`, Flickr30k Entities (raw `Sentences/` + `Annotations/`, or info-ground JSON),
RefCOCO-family `refs(unc).p` + `instances.json`, and ALBEF's RefCOCO JSON. RefCOCO pickles are read with
safe_pickle.NoCodeUnpickler, which refuses every global, so a pickle can never run code.

Each EvalQuery carries `resample` for images.load_eval_image: 'bicubic' for RefCOCO formats (as the
reference), 'bilinear' for Flickr and VG formats (see images.py for why PIL bilinear and not cv2).
"""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from .annotation_files import DataError, check_box, is_number, load_json
from .images import image_size
from .safe_pickle import NoCodeUnpickler
from .tokenizer import pre_caption
from .train_data import iter_vg_regions, read_train_entries, vg_image_info, vg_image_path


@dataclass
class EvalQuery:
    id: str                           # the TypeScript reader's Sample.id (src/core/datasets), so reports of both match
    image: str                        # resolved image path
    width: Optional[int]              # original image size (pointing happens in these pixels)
    height: Optional[int]
    phrase: str                       # exactly as in the file
    caption: str                      # pre_caption(phrase): 50 words (Flickr/VG), 30 (RefCOCO) as the reference
    boxes_xyxy: List[List[float]]     # GT boxes; a hit in any counts (docs/reference.md §4.3)
    hit_rule: str                     # 'xyxy' (Flickr, VG) or 'xywh' (RefCOCO), see src/core/types.ts HitRule
    split: str                        # train | val | test | testA | testB | all
    resample: str = "bilinear"        # PIL resampling of load_eval_image for this format (module docstring)
    format: str = ""                  # one of src/core/types.ts DatasetFormat
    source: str = ""                  # "file (entry)"


_SPLIT_IN_NAME = re.compile(r"(?:^|[_\-.])(train|val|test|testA|testB)(?:[_\-.]|$)")


def split_from_name(path: str) -> str:
    m = _SPLIT_IN_NAME.search(os.path.basename(path))
    return m.group(1) if m else "all"


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
    data = load_json(path)
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


def read_eval_queries(path: str, image_root: Optional[str] = None, *,
                      refs_file: Optional[str] = None) -> List[EvalQuery]:
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
        w, h = image_size(entry.image, path, label)
        for k, phrase in enumerate(entry.captions):
            out.append(EvalQuery(f"{i}" if len(entry.captions) == 1 else f"{i}:{k}", entry.image, w, h, phrase,
                                 pre_caption(phrase, 50), entry.boxes, "xyxy", split, "bilinear", "amc-vg",
                                 f"{path} ({label})"))
    return out


def _eval_vg_regions(path: str, image_root: Optional[str]) -> List[EvalQuery]:
    root = image_root or os.path.dirname(os.path.abspath(path))
    data = load_json(path)
    folders, sizes = vg_image_info(path)
    split = split_from_name(path)
    out = []
    for entry, image_id, reg, box, _ in iter_vg_regions(path, data):
        image = vg_image_path(root, image_id, folders)
        w, h = sizes.get(image_id) or image_size(image, path, entry)
        out.append(EvalQuery(str(reg.get("region_id", entry)), image, w, h, reg["phrase"],
                             pre_caption(reg["phrase"], 50), [box], "xyxy", split, "bilinear", "vg-regions",
                             f"{path} ({entry})"))
    return out


# --- Flickr30k Entities ------------------------------------------------------------------------------

def parse_flickr_sentences(text: str, file: str = "") -> List[dict]:
    """Sentences/{id}.txt -> [{sentence, phrases: [{first_word_index, phrase, phrase_id, phrase_type}]}].

    Same rules as info-ground's get_sentence_data (docs/reference.md §5.3), which produced the JSON AMC evaluates on.
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

    As info-ground's get_annotations: each 1-based XML coordinate minus 1 (docs/reference.md §5.3).
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
                    raise DataError(path, label,
                                    "an object without <bndbox> needs integer <nobndbox> and <scene>") from None
    return info


def _flickr_queries(image_id: str, sentences: List[dict], boxes: dict, image: str, split: str, fmt: str,
                    source: str) -> List[EvalQuery]:
    """One query per phrase that has boxes (docs/reference.md §4.3: scene-only and no-box phrases are skipped)."""
    out = []
    box_map = boxes.get("boxes", {})
    for s_idx, sent in enumerate(sentences):
        for p_idx, phrase in enumerate(sent["phrases"]):
            pid = phrase["phrase_id"]
            if pid not in box_map:
                continue
            out.append(EvalQuery(f"{image_id}/{s_idx}/{p_idx}", image, boxes.get("width"), boxes.get("height"),
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
        jobs = [(os.path.splitext(os.path.basename(f))[0], f, _read_id_list(f))
                for f in split_files if os.path.exists(f)]
        if not jobs:
            raise DataError(path, None, "no train.txt / val.txt / test.txt split file in this Flickr30k Entities root")
    elif os.path.basename(os.path.dirname(os.path.abspath(path))) == "Sentences":
        jobs = [("all", path, [os.path.splitext(os.path.basename(path))[0]])]
    else:
        jobs = [(os.path.splitext(os.path.basename(path))[0], path, _read_id_list(path))]
    folder = os.path.dirname(os.path.abspath(path)) if not os.path.isdir(path) else os.path.abspath(path)
    images = image_root
    if not images:
        cands = [os.path.join(d, n) for d in (root, os.path.dirname(root), folder)
                 for n in ("flickr30k-images", "flickr30k_images")]
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
    boxes, sentences = load_json(box_path), load_json(sent_path)
    if not isinstance(boxes, dict) or not isinstance(sentences, dict):
        raise DataError(box_path if not isinstance(boxes, dict) else sent_path, None,
                        "expected a JSON object keyed by image id")
    images = image_root
    if not images:
        cands = [os.path.join(d, n) for d in (folder, os.path.dirname(folder))
                 for n in ("flickr30k-images", "flickr30k_images")]
        images = next((c for c in cands if os.path.isdir(c)), folder)
    out = []
    for image_id, sents in sentences.items():
        if image_id not in boxes:
            raise DataError(sent_path, f"image {image_id}", f"no entry in {os.path.basename(box_path)}")
        b = boxes[image_id]
        if not isinstance(b, dict) or not isinstance(b.get("boxes"), dict):
            raise DataError(box_path, f"image {image_id}",
                            "expected {boxes: {phrase_id: [[x1,y1,x2,y2]]}, width, height}")
        for pid, lst in b["boxes"].items():
            for box in lst:
                check_box(box, box_path, f"image {image_id}, phrase {pid}")
        if not isinstance(sents, list):
            raise DataError(sent_path, f"image {image_id}", "expected a list of sentences")
        out.extend(_flickr_queries(image_id, sents, b, os.path.join(images, f"{image_id}.jpg"), split,
                                   "flickr-infoground", sent_path))
    return out


# --- RefCOCO family ------------------------------------------------------------------------------------


def load_refs_pickle(path: str) -> List[dict]:
    """refs(unc).p: a Python-2 pickle of a list of refs (docs/reference.md §5.4), decoded with latin1,
    executing nothing."""
    try:
        with open(path, "rb") as f:
            refs = NoCodeUnpickler(f, path).load()
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
    inst = load_json(inst_path)
    if not isinstance(inst, dict) or not isinstance(inst.get("images"), list) \
            or not isinstance(inst.get("annotations"), list):
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
    x, y, w, h = check_box(ann.get("bbox"), file, f"ann_id {ref['ann_id']}")
    return [x, y, x + w, y + h]  # xywh -> xyxy; the hit rule stays the reference's xywh form (docs/reference.md §4.2)


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
            out.append(EvalQuery(f"{ref['ref_id']}/{s.get('sent_id', len(out))}", os.path.join(root, im["file_name"]),
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
    data = load_json(path)
    refs_path = refs_file or _find_refs_file(path)
    refs, images, anns = _refcoco_tables(refs_path)
    by_id = {int(r["ref_id"]): r for r in refs}
    root = image_root or os.path.dirname(os.path.abspath(path))
    out = []
    for i, e in enumerate(data):
        label = f"[{i}]"
        if not isinstance(e, dict) or not isinstance(e.get("image"), str) or not isinstance(e.get("text"), str) \
                or not is_number(e.get("ref_id")):
            raise DataError(path, label, "expected {image: str, text: str, ref_id: int}")
        ref = by_id.get(int(e["ref_id"]))
        if ref is None:
            raise DataError(path, f"{label} ref_id {e['ref_id']}", f"ref_id not in {refs_path}")
        im = images.get(int(ref["image_id"]))
        if im is None:
            raise DataError(refs_path, f"ref_id {ref['ref_id']}",
                            f"image_id {ref['image_id']} is not in instances.json")
        split = str(e.get("split", ref["split"]))
        out.append(EvalQuery(f"{i}:{e['ref_id']}", os.path.join(root, e["image"]), int(im["width"]), int(im["height"]),
                             e["text"], pre_caption(e["text"], 30), [_ref_box(ref, anns, refs_path)], "xywh", split,
                             "bicubic", "refcoco-albef", f"{path} ({label})"))
    return out
