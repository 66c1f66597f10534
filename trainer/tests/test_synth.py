"""synth.py: deterministic output, unambiguous phrases, scene variety, the CLI, and the committed sample set."""
import json
import os
import re
import subprocess
import sys

import numpy as np
from PIL import Image

from amc_trainer import synth

TRAINER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_DIR = os.path.join(os.path.dirname(TRAINER_DIR), "samples", "synthetic")


def _tree(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def test_same_arguments_give_the_same_bytes(tmp_path):
    synth.generate(str(tmp_path / "a"), 6, seed=11)
    synth.generate(str(tmp_path / "b"), 6, seed=11, workers=2)  # process count must not matter
    synth.generate(str(tmp_path / "c"), 6, seed=12)
    a, b, c = (_tree(tmp_path / x) for x in "abc")
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == ["README.md"]  # it names the output folder, which differs
    assert (a["README.md"].replace(str(tmp_path / "a").encode(), b"OUT")
            == b["README.md"].replace(str(tmp_path / "b").encode(), b"OUT"))
    assert a["VG_100K/1.jpg"] != c["VG_100K/1.jpg"]
    for fmt in ("region_descriptions.json", "image_data.json", "vg_train.json", "vg_val.json", "vg_test.json",
                "flickr30k/train.txt", "flickr30k/bounding_boxes_test.json", "flickr30k/sentences_val.json",
                "refcoco+/refs(unc).p", "refcoco+/instances.json", "refcoco+_val.json", "refcoco+_test.json",
                "flickr30k/Sentences/1.txt", "flickr30k/Annotations/1.xml", "flickr30k/flickr30k-images/1.jpg",
                "train2014/COCO_train2014_000000000001.jpg", "README.md"):
        assert fmt in a, fmt


def _scenes(n, seed=5):
    return [synth.make_scene(i + 1, np.random.default_rng([seed, i])) for i in range(n)]


def test_every_phrase_names_exactly_its_targets():
    """Within a scene a phrase text never stands for two different target sets, and relations are true."""
    rel_re = re.compile(r"^the (\w+) (\w+) (left of|right of|above|below) the (\w+) (\w+)$")
    n_relations = n_larger = n_plural = 0
    for scene in _scenes(300):
        singular, plural = synth.describe(scene)
        meaning = {}
        for phrases in list(singular.values()) + [plural]:
            for ph in phrases:
                assert meaning.setdefault(ph.text, tuple(ph.targets)) == tuple(ph.targets), (scene.id, ph.text)
        for ph in plural:
            n_plural += 1
            members = [scene.shapes[t] for t in ph.targets]
            assert len({s.key for s in members}) == 1
            assert sum(s.key == members[0].key for s in scene.shapes) == len(members)
        for idx, phrases in singular.items():
            s = scene.shapes[idx]
            for ph in phrases:
                assert ph.targets == [idx]
                assert f"{s.colour} " in ph.text or ph.text == f"the {s.kind}"
                m = rel_re.match(ph.text)
                if m:
                    n_relations += 1
                    anchor = [a for a in scene.shapes if (a.colour, a.kind) == (m.group(4), m.group(5))]
                    assert len(anchor) == 1 and synth._satisfies(s, anchor[0], m.group(3))
                    for other in scene.shapes:
                        if other is not s and other.key == s.key:
                            assert not synth._satisfies(other, anchor[0], m.group(3))
                if "larger of the two" in ph.text:
                    n_larger += 1
                    (other,) = [o for o in scene.shapes if o.key == s.key and o is not s]
                    assert s.r > other.r
    assert n_relations > 20 and n_larger > 10 and n_plural > 50


def test_scene_variety():
    scenes = _scenes(200)
    assert all(240 <= s.width <= 480 and 240 <= s.height <= 480 for s in scenes)
    assert sum(s.width != s.height for s in scenes) > 150
    shapes = [sh for s in scenes for sh in s.shapes]
    assert {sh.kind for sh in shapes} == set(synth.KINDS)
    assert len({sh.colour for sh in shapes}) >= 6 and {sh.size for sh in shapes} == {"small", "large"}
    assert {s.background for s in scenes} == set(synth.BACKGROUNDS)
    overlapping = sum(any(synth._box_iou(a.box, b.box) > 0 for a in s.shapes for b in s.shapes if a is not b)
                      for s in scenes)
    assert overlapping > 10
    for s in scenes:
        for sh in s.shapes:
            x1, y1, x2, y2 = sh.box
            assert 0 <= x1 < x2 <= s.width and 0 <= y1 < y2 <= s.height
            assert synth.visible_fraction(sh, s.shapes[sh.index + 1:]) >= 0.75


def test_cli(tmp_path):
    out = tmp_path / "set"
    r = subprocess.run([sys.executable, "-m", "amc_trainer", "synth", str(out), "--images", "4", "--seed", "3"],
                       cwd=TRAINER_DIR, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout.strip().splitlines()[-1])
    assert done["event"] == "done" and done["images"] == 4
    with open(out / "counts.json") as f:
        assert json.load(f)["images"] == 4
    for image_id in range(1, 5):
        with Image.open(out / "VG_100K" / f"{image_id}.jpg") as im:
            assert im.format == "JPEG"
    bad = subprocess.run([sys.executable, "-m", "amc_trainer", "synth", str(out), "--images", "0"],
                         cwd=TRAINER_DIR, capture_output=True, text=True)
    assert bad.returncode == 2 and "--images must be at least 1" in bad.stderr


def _same_pixels(a: bytes, b: bytes) -> bool:
    """Another libjpeg build may encode the same pixels to other bytes; the decoded images must still agree."""
    import io
    x, y = (np.asarray(Image.open(io.BytesIO(v)).convert("RGB"), dtype=np.float64) for v in (a, b))
    return x.shape == y.shape and float(np.abs(x - y).mean()) < 0.5


def test_committed_sample_set_is_small_and_regenerates_exactly(tmp_path):
    committed = _tree(SAMPLE_DIR)
    assert sum(len(v) for v in committed.values()) < 2_000_000
    with open(os.path.join(SAMPLE_DIR, "README.md")) as f:
        command = re.search(r"Regenerate with `(.+?)`", f.read()).group(1)
    args = command.split("amc_trainer synth ", 1)[1].split()
    opts = dict(zip(args[1::2], args[2::2]))
    synth.generate(str(tmp_path), int(opts["--images"]), int(opts["--seed"]), float(opts.get("--val-frac", 0.1)),
                   float(opts.get("--test-frac", 0.1)), command=command)
    fresh = _tree(tmp_path)
    assert fresh.keys() == committed.keys()
    stale = [k for k in fresh
             if fresh[k] != committed[k] and not (k.endswith(".jpg") and _same_pixels(fresh[k], committed[k]))]
    assert not stale, f"samples/synthetic is stale ({stale[:3]}...): rerun `{command}`"
    with open(os.path.join(SAMPLE_DIR, "counts.json")) as f:
        counts = json.load(f)
    assert counts["refcoco_testA_sentences"] > 0 and counts["refcoco_testB_sentences"] > 0
