"""The data modules (masks, images, train_data, eval_formats, safe_pickle): AMC box masks (docs/reference.md §2),
augmentations with the left/right caption swap, determinism, and the training/evaluation readers re-reading
every format the synthetic generator writes."""
import collections
import json
import math
import os
import pickle
import pickletools

import numpy as np
import pytest
import torch
from PIL import Image

from amc_trainer import synth
from amc_trainer.annotation_files import DataError
from amc_trainer.eval_formats import (load_refs_pickle, parse_flickr_annotation, parse_flickr_sentences,
                                      read_eval_queries)
from amc_trainer.images import CLIP_MEAN, CLIP_STD, color_jitter, load_eval_image, to_gray
from amc_trainer.masks import box_mask, clamp_box, draw_box, opencv_nearest_indices
from amc_trainer.train_data import GroundingTrainSet, collate, read_train_entries, swap_left_right


# ----------------------------------------------------------------------------------------------------- masks

@pytest.mark.parametrize("side", [246, 372, 396, 420])
def test_opencv_nearest_differs_from_naive_floor_on_known_sides(side):
    idx = opencv_nearest_indices(side, 256)
    naive = np.floor(np.arange(256) * side / 256).astype(np.int64)
    # Plain Python floats are float64: OpenCV's min(n-1, floor(i * (1 / (256 / n)))) written out directly.
    opencv = [min(side - 1, math.floor(i * (1.0 / (256.0 / side)))) for i in range(256)]
    assert idx.tolist() == opencv
    assert (idx != naive).any(), "docs/reference.md §2: these sides differ from floor(i*n/256) by one row/column"
    assert np.abs(idx - naive).max() == 1


def test_nearest_indices_identity_and_clamp():
    assert opencv_nearest_indices(256).tolist() == list(range(256))
    small = opencv_nearest_indices(3)
    assert small.min() == 0 and small.max() == 2


def _full_resolution_mask(box, w, h):
    x1, y1, x2, y2 = box
    full = np.zeros((h, w))
    full[y1:y2, x1:x2] = 1  # the reference: end-exclusive at the original resolution
    rows, cols = opencv_nearest_indices(h), opencv_nearest_indices(w)
    return full[rows][:, cols]


@pytest.mark.parametrize("w,h,box", [(246, 372, (10, 20, 100, 300)), (420, 396, (0, 0, 420, 396)),
                                     (300, 250, (299, 249, 300, 250)), (480, 240, (5, 5, 5, 100))])
def test_box_mask_equals_full_resolution_mask_resized_nearest(w, h, box):
    mask = box_mask(box, w, h)
    assert mask.shape == (256, 256) and mask.dtype == torch.float32
    assert np.array_equal(mask.numpy(), _full_resolution_mask(box, w, h))
    assert set(mask.unique().tolist()) <= {0.0, 1.0}


def test_clamp_then_truncate():
    assert clamp_box([10.7, 5.2, 20.9, 30.99], 100, 100) == (10, 5, 20, 30)
    assert clamp_box([-50, -3, 900, 700], 300, 200) == (0, 0, 300, 200)
    assert clamp_box([400, 300, 500, 600], 300, 200) == (299, 199, 300, 200)
    assert clamp_box([5, 5, -10, 0.5], 300, 200) == (5, 5, 1, 1)  # x2, y2 clamp to >= 1 (then degenerate)


def test_degenerate_box_is_redrawn_when_there_are_others():
    boxes = [[50, 50, 50, 80], [10, 10, 40, 40], [60, 90, 30, 95]]
    for seed in range(30):
        assert draw_box(boxes, 100, 100, __import__("random").Random(seed)) == (10, 10, 40, 40)


def test_single_degenerate_box_gives_empty_mask_and_all_degenerate_terminates():
    import random
    box = draw_box([[30, 30, 30, 60]], 100, 100, random.Random(0))
    assert box_mask(box, 100, 100).sum() == 0
    box = draw_box([[30, 30, 30, 60], [70, 70, 60, 60]], 100, 100, random.Random(0))  # reference: infinite loop
    assert box_mask(box, 100, 100).sum() == 0


# ------------------------------------------------------------------------------------- text and image ops

def test_swap_left_right():
    assert swap_left_right("the circle left of the star on the right") == "the circle right of the star on the left"
    assert swap_left_right("the leftmost square and the rightmost one") == "the rightmost square and the leftmost one"
    assert swap_left_right("a bright light and a cleft") == "a bright light and a cleft"
    assert swap_left_right("left left right") == "right right left"


def test_color_ops():
    img = torch.rand(3, 8, 8)
    assert torch.allclose(color_jitter(img, 1.0, 1.0, 1.0, 0.0), img, atol=1e-6)
    g = to_gray(img)
    assert torch.equal(g[0], g[1]) and torch.equal(g[1], g[2])
    red = torch.zeros(3, 2, 2)
    red[0] = 1.0
    green = color_jitter(red, 1.0, 1.0, 1.0, 1.0 / 3.0)  # hue +120°: red -> green
    assert torch.allclose(green[:, 0, 0], torch.tensor([0.0, 1.0, 0.0]), atol=1e-5)
    assert torch.allclose(color_jitter(red, 1.0, 1.0, 0.0, 0.0)[:, 0, 0], torch.full((3,), 0.299), atol=1e-6)


# ------------------------------------------------------------------------------------------ training set

def _tiny_training_file(tmp_path, captions="the red square on the left"):
    img = np.full((120, 200, 3), 90, dtype=np.uint8)
    img[30:70, 20:60] = (220, 30, 30)
    Image.fromarray(img).save(tmp_path / "img.png")
    ann = [{"image": "img.png", "caption": captions, "bbox": [[20, 30, 60, 70]]}]
    path = tmp_path / "train.json"
    path.write_text(json.dumps(ann))
    return str(path)


def test_flip_swaps_caption_and_flips_image_and_mask(tmp_path):
    path = _tiny_training_file(tmp_path)
    plain = GroundingTrainSet([path], image_res=64, augment=False)[0]
    flipped = GroundingTrainSet([path], image_res=64, augment=True, flip_p=1.0, gray_p=0.0, jitter_p=0.0)[0]
    assert plain["caption"] == "the red square on the left"
    assert flipped["caption"] == "the red square on the right"
    assert torch.equal(flipped["box_mask"], plain["box_mask"].flip(-1))
    assert torch.equal(flipped["image"], plain["image"].flip(-1))
    # the mask covers the red square: columns 20..59 of 200 -> 256-grid columns via OpenCV nearest
    cols = opencv_nearest_indices(200)
    assert plain["box_mask"][128].numpy().astype(bool).tolist() == ((cols >= 20) & (cols < 60)).tolist()
    assert plain["image"].shape == (3, 64, 64)


def test_items_are_deterministic_per_seed_epoch_index(tmp_path):
    path = _tiny_training_file(tmp_path, captions=["a red square", "the red square", "red square on the left"])
    a = GroundingTrainSet([path] * 1, image_res=32, seed=3)
    a.entries = a.entries * 12
    b = GroundingTrainSet([path], image_res=32, seed=3)
    b.entries = b.entries * 12
    order_a = [a[i] for i in range(12)]
    order_b = [b[i] for i in reversed(range(12))][::-1]  # access order must not matter
    for x, y in zip(order_a, order_b):
        assert x["caption"] == y["caption"]
        assert torch.equal(x["image"], y["image"]) and torch.equal(x["box_mask"], y["box_mask"])
    a.set_epoch(1)
    epoch1 = [a[i] for i in range(12)]
    assert any(x["caption"] != y["caption"] or not torch.equal(x["image"], y["image"]) for x, y in zip(order_a, epoch1))
    c = GroundingTrainSet([path], image_res=32, seed=4)
    c.entries = c.entries * 12
    assert any(not torch.equal(x["image"], c[i]["image"]) for i, x in enumerate(order_a))


def test_augmentations_happen_at_their_rates(tmp_path):
    path = _tiny_training_file(tmp_path)
    ds = GroundingTrainSet([path], image_res=16, seed=0, gray_p=0.0, jitter_p=0.0)
    ds.entries = ds.entries * 400
    flips = sum(ds[i]["caption"].endswith("right") for i in range(400))
    assert 160 < flips < 240  # p = 0.5


def test_collate_shapes(tmp_path):
    path = _tiny_training_file(tmp_path)
    ds = GroundingTrainSet([path], image_res=32, seed=0)
    batch = collate([ds[0], ds[0]])
    assert batch["image"].shape == (2, 3, 32, 32)
    assert batch["box_mask"].shape == (2, 256, 256)
    assert batch["caption"] == [ds[0]["caption"]] * 2


@pytest.mark.parametrize("entry,message", [
    ({"image": "a.jpg", "caption": "x", "bbox": [[1, 2, 3]]}, "4 finite numbers"),
    ({"image": "a.jpg", "caption": "x", "bbox": [[1, 2, 3, float("nan")]]}, "4 finite numbers"),
    ({"image": "a.jpg", "caption": 5, "bbox": [[1, 2, 3, 4]]}, "'caption' must be"),
    ({"image": "a.jpg", "caption": "x", "bbox": []}, "non-empty list"),
    ({"caption": "x", "bbox": [[1, 2, 3, 4]]}, "'image' must be"),
])
def test_bad_training_entries_name_file_and_entry(tmp_path, entry, message):
    path = tmp_path / "bad_train.json"
    good = {"image": "a.jpg", "caption": "y", "bbox": [[0, 0, 1, 1]]}
    path.write_text(json.dumps([good, entry]).replace("NaN", "NaN"))
    with pytest.raises(DataError) as err:
        read_train_entries(str(path))
    assert "bad_train.json ([1])" in str(err.value) and message in str(err.value)


def test_missing_image_names_the_entry(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps([{"image": "nope.jpg", "caption": "x", "bbox": [[0, 0, 5, 5]]}]))
    with pytest.raises(DataError, match=r"t\.json \(\[0\]\): image not found: .*nope\.jpg"):
        GroundingTrainSet([str(path)])[0]


def test_invalid_json_names_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"image": "a.jpg",\n "caption": }]')
    with pytest.raises(DataError, match=r"broken\.json \(line 2, column 13\): not valid JSON"):
        read_train_entries(str(path))


# -------------------------------------------------------------------------- synthetic set, every format

@pytest.fixture(scope="module")
def synth_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    counts = synth.generate(str(out), 16, seed=7, val_frac=0.25, test_frac=0.25)
    return str(out), counts


def test_training_readers_read_raw_vg_and_amc_vg(synth_set):
    out, counts = synth_set
    raw = GroundingTrainSet([os.path.join(out, "region_descriptions.json")], seed=0)
    amc = GroundingTrainSet([os.path.join(out, f"vg_{s}.json") for s in ("train", "val", "test")], seed=0)
    assert len(raw) == len(amc) == counts["vg_regions"]
    assert len(GroundingTrainSet([os.path.join(out, "vg_train.json")])) == counts["vg_train_entries"]
    amc_by_image = collections.Counter(os.path.basename(e.image) for e in amc.entries)
    raw_by_image = collections.Counter(os.path.basename(e.image) for e in raw.entries)
    assert amc_by_image == raw_by_image
    raw_phrases = collections.Counter((os.path.basename(e.image), e.captions[0]) for e in raw.entries)
    amc_phrases = collections.Counter((os.path.basename(e.image), e.captions[0]) for e in amc.entries)
    assert raw_phrases == amc_phrases
    item = amc[0]
    assert item["image"].shape == (3, 256, 256) and item["box_mask"].shape == (256, 256)
    assert item["box_mask"].sum() > 0


def test_eval_readers_agree_across_formats(synth_set):
    out, counts = synth_set
    fl = os.path.join(out, "flickr30k")
    raw_all = read_eval_queries(fl)
    assert len(raw_all) == counts["flickr_queries"]
    for split in ("train", "val", "test"):
        raw = read_eval_queries(os.path.join(fl, f"{split}.txt"))
        ig = read_eval_queries(os.path.join(fl, f"bounding_boxes_{split}.json"))
        ig2 = read_eval_queries(os.path.join(fl, f"sentences_{split}.json"))

        def key(q):
            return (q.id, q.image, q.width, q.height, q.phrase, q.caption, q.boxes_xyxy, q.split, q.hit_rule)
        assert [key(q) for q in raw] == [key(q) for q in ig] == [key(q) for q in ig2]
        assert raw and all(q.split == split for q in raw)
    refs = read_eval_queries(os.path.join(out, "refcoco+", "refs(unc).p"))
    assert len(refs) == counts["refcoco_sentences"]
    albef = (read_eval_queries(os.path.join(out, "refcoco+_val.json"))
             + read_eval_queries(os.path.join(out, "refcoco+_test.json")))
    held_out = [q for q in refs if q.split != "train"]
    assert sorted((q.caption, q.boxes_xyxy, q.split, q.image) for q in albef) == \
        sorted((q.caption, q.boxes_xyxy, q.split, q.image) for q in held_out)
    assert {q.split for q in refs} == {"train", "val", "testA", "testB"}
    assert all(q.hit_rule == "xywh" and q.resample == "bicubic" for q in refs)
    vg = read_eval_queries(os.path.join(out, "region_descriptions.json"))
    assert len(vg) == counts["vg_regions"]
    amc = sum((read_eval_queries(os.path.join(out, f"vg_{s}.json")) for s in ("train", "val", "test")), [])
    assert len(amc) == len(vg)
    # the same objects have the same boxes in every format: every single-box VG region is a COCO object box
    with open(os.path.join(out, "refcoco+", "instances.json")) as f:
        inst = json.load(f)
    coco_boxes = {(a["image_id"],
                   (a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]))
                  for a in inst["annotations"]}
    vg_single = [q for q in amc if len(q.boxes_xyxy) == 1]
    assert vg_single
    for q in vg_single:
        image_id = int(os.path.basename(q.image).split(".")[0])
        assert (image_id, tuple(q.boxes_xyxy[0])) in coco_boxes
    for q in raw_all[:20] + refs[:20] + vg[:20]:
        with Image.open(q.image) as im:
            assert im.size == (q.width, q.height)


def test_infoground_json_equals_parsing_the_raw_files(synth_set):
    out, _ = synth_set
    fl = os.path.join(out, "flickr30k")
    for split in ("train", "val", "test"):
        with open(os.path.join(fl, f"bounding_boxes_{split}.json")) as f:
            boxes = json.load(f)
        with open(os.path.join(fl, f"sentences_{split}.json")) as f:
            sentences = json.load(f)
        with open(os.path.join(fl, f"{split}.txt")) as f:
            ids = f.read().split()
        assert list(boxes) == list(sentences) == ids
        for image_id in ids:
            assert parse_flickr_annotation(os.path.join(fl, "Annotations", f"{image_id}.xml")) == boxes[image_id]
            with open(os.path.join(fl, "Sentences", f"{image_id}.txt")) as f:
                assert parse_flickr_sentences(f.read()) == sentences[image_id]


def test_refs_pickle_is_protocol2_byte_strings_without_globals(synth_set):
    out, _ = synth_set
    path = os.path.join(out, "refcoco+", "refs(unc).p")
    with open(path, "rb") as f:
        data = f.read()
    ops = [op.name for op, _, _ in pickletools.genops(data)]
    assert ops[0] == "PROTO" and data[:2] == b"\x80\x02"
    forbidden = {"GLOBAL", "STACK_GLOBAL", "REDUCE", "BUILD", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX",
                 "BINUNICODE", "SHORT_BINUNICODE", "BINBYTES", "SHORT_BINBYTES"}
    assert not forbidden & set(ops)
    assert "SHORT_BINSTRING" in ops and "BINPUT" in ops and "BINGET" in ops
    refs = load_refs_pickle(path)
    assert refs == pickle.loads(data, encoding="latin1")
    assert isinstance(refs[0]["split"], str) and isinstance(refs[0]["sentences"][0]["sent"], str)
    with open(os.path.join(out, "refcoco+", "instances.json")) as f:
        inst = json.load(f)
    cats = {c["id"]: c["name"] for c in inst["categories"]}
    for r in refs:
        if r["split"] == "testA":
            assert cats[r["category_id"]] == "circle"
        if r["split"] == "testB":
            assert cats[r["category_id"]] != "circle"


def test_pickle_reader_refuses_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "refs(unc).p"
    path.write_bytes(pickle.dumps([Evil()], protocol=2))
    with pytest.raises(DataError, match=r"refs\(unc\)\.p: pickle refers to (io|builtins)\.open; refusing"):
        load_refs_pickle(str(path))
    assert not marker.exists()
    path.write_bytes(pickle.dumps({"not": "a list"}, protocol=2))
    with pytest.raises(DataError, match="expected a list of refs"):
        load_refs_pickle(str(path))
    path.write_bytes(b"\x80\x02]q\x00(K\x01")  # truncated
    with pytest.raises(DataError, match="not a readable pickle"):
        load_refs_pickle(str(path))


def test_bad_eval_inputs_name_file_and_entry(synth_set, tmp_path):
    out, _ = synth_set
    bad = tmp_path / "refcoco+_val.json"
    bad.write_text(json.dumps([{"image": "x.jpg", "text": "a", "ref_id": 999999}]))
    with pytest.raises(DataError, match=r"refcoco\+_val\.json \(\[0\] ref_id 999999\): ref_id not in"):
        read_eval_queries(str(bad), refs_file=os.path.join(out, "refcoco+", "refs(unc).p"))
    with pytest.raises(DataError, match="no refs pickle found"):
        read_eval_queries(str(bad))
    root = tmp_path / "flickr"
    (root / "Sentences").mkdir(parents=True)
    (root / "Annotations").mkdir()
    (root / "val.txt").write_text("42\n")
    (root / "Sentences" / "42.txt").write_text("[/EN#1/other A red circle] .\n[/EN#2/other an open phrase .\n")
    with pytest.raises(DataError, match=r"42\.txt \(line 2\): an entity phrase is not closed"):
        read_eval_queries(str(root / "val.txt"))
    unknown = tmp_path / "what.json"
    unknown.write_text(json.dumps([{"foo": 1}]))
    with pytest.raises(DataError, match="unrecognised annotation format"):
        read_eval_queries(str(unknown))


def test_load_eval_image_is_pil_resize_then_clip_normalise(synth_set):
    out, _ = synth_set
    path = os.path.join(out, "train2014", "COCO_train2014_000000000001.jpg")
    for resample, pil in (("bicubic", Image.BICUBIC), ("bilinear", Image.BILINEAR)):
        got = load_eval_image(path, 384, resample=resample)
        ref = np.asarray(Image.open(path).convert("RGB").resize((384, 384), pil), dtype=np.float32) / 255.0
        ref = ((torch.from_numpy(ref).permute(2, 0, 1) - torch.tensor(CLIP_MEAN).view(3, 1, 1))
               / torch.tensor(CLIP_STD).view(3, 1, 1))
        assert got.shape == (3, 384, 384) and got.dtype == torch.float32
        assert torch.allclose(got, ref, atol=1e-6)
    with pytest.raises(ValueError, match="resample must be one of"):
        load_eval_image(path, 256, resample="lanczos")


def test_raw_vg_image_folder_and_size_come_from_image_data(tmp_path):
    (tmp_path / "VG_100K_2").mkdir()
    Image.new("RGB", (50, 40), (10, 20, 30)).save(tmp_path / "VG_100K_2" / "7.jpg")
    regions = [{"id": 7, "regions": [{"region_id": 99, "image_id": 7, "phrase": "a dark square",
                                      "x": 5, "y": 6, "width": 20, "height": 10}]}]
    (tmp_path / "region_descriptions.json").write_text(json.dumps(regions))
    (tmp_path / "image_data.json").write_text(json.dumps([{"image_id": 7, "width": 50, "height": 40,
                                                           "url": "https://x/VG_100K_2/7.jpg"}]))
    (entry,) = read_train_entries(str(tmp_path / "region_descriptions.json"))
    assert entry.image == str(tmp_path / "VG_100K_2" / "7.jpg") and entry.boxes == [[5.0, 6.0, 25.0, 16.0]]
    (q,) = read_eval_queries(str(tmp_path / "region_descriptions.json"))
    expected = ("99", 50, 40, [[5.0, 6.0, 25.0, 16.0]], "a dark square")
    assert (q.id, q.width, q.height, q.boxes_xyxy, q.caption) == expected
    regions[0]["regions"][0]["width"] = "wide"
    (tmp_path / "region_descriptions.json").write_text(json.dumps(regions))
    with pytest.raises(DataError, match=r"region_descriptions\.json \(image 7, region 99\): region 'width' must be"):
        read_train_entries(str(tmp_path / "region_descriptions.json"))


def test_items_are_the_same_in_another_process(tmp_path):
    """What a DDP rank or a resumed run computes: a fresh interpreter with another hash seed."""
    import subprocess
    import sys
    path = _tiny_training_file(tmp_path, captions=["a red square", "the red square on the left"])
    code = ("import sys, json; sys.path.insert(0, sys.argv[1]); from amc_trainer.data import GroundingTrainSet\n"
            "ds = GroundingTrainSet([sys.argv[2]], image_res=32, seed=9); ds.entries = ds.entries * 8\n"
            "ds.set_epoch(2)\n"
            "print(json.dumps([[ds[i]['caption'], ds[i]['image'].double().sum().item(),\n"
            "                   ds[i]['box_mask'].sum().item()] for i in range(8)]))")
    trainer_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, "-c", code, trainer_dir, path], capture_output=True, text=True,
                       env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert r.returncode == 0, r.stderr
    ds = GroundingTrainSet([path], image_res=32, seed=9)
    ds.entries = ds.entries * 8
    ds.set_epoch(2)
    here = [[ds[i]["caption"], ds[i]["image"].double().sum().item(), ds[i]["box_mask"].sum().item()] for i in range(8)]
    assert json.loads(r.stdout) == here


def test_flickr_raw_accepts_root_split_file_and_single_sentence_file(synth_set, tmp_path):
    import shutil
    out, _ = synth_set
    fl = os.path.join(out, "flickr30k")
    test_ids = open(os.path.join(fl, "test.txt")).read().split()
    one = read_eval_queries(os.path.join(fl, "Sentences", f"{test_ids[0]}.txt"))
    from_split = [q for q in read_eval_queries(os.path.join(fl, "test.txt")) if q.id.startswith(f"{test_ids[0]}/")]
    assert [(q.id, q.boxes_xyxy, q.image) for q in one] == [(q.id, q.boxes_xyxy, q.image) for q in from_split]
    assert {q.split for q in one} == {"all"}
    # the Flickr30k Entities repo keeps Sentences/ and Annotations/ under annotations/ beside the split files
    repo = tmp_path / "flickr30k_entities"
    (repo / "annotations").mkdir(parents=True)
    for d in ("Sentences", "Annotations"):
        shutil.copytree(os.path.join(fl, d), repo / "annotations" / d)
    shutil.copy(os.path.join(fl, "test.txt"), repo / "test.txt")
    moved = read_eval_queries(str(repo / "test.txt"), image_root=os.path.join(fl, "flickr30k-images"))
    assert [(q.id, q.boxes_xyxy, q.image) for q in moved] == \
        [(q.id, q.boxes_xyxy, q.image) for q in read_eval_queries(os.path.join(fl, "test.txt"))]
