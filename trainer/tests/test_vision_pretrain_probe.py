"""trainer/scripts/vision_pretrain_probe.py: its image-level labels are the scenes' real kinds, and its
checkpoint is one that `train --init` loads (the visual encoder's keys, nothing else)."""
import collections
import importlib.util
import json
import os
import subprocess
import sys

import torch

from amc_trainer import synth
from amc_trainer.model import ALBEF, ModelConfig, load_state_dict_report

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts",
                      "vision_pretrain_probe.py")


def _probe_module():
    spec = importlib.util.spec_from_file_location("vision_pretrain_probe", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_labels_name_the_kinds_and_colours_in_each_scene(tmp_path):
    synth.generate(str(tmp_path), 20, seed=3)
    labels = _probe_module().scene_labels(str(tmp_path), "vg_train.json")
    inst = json.load(open(tmp_path / "refcoco+" / "instances.json"))
    kinds = collections.defaultdict(set)
    for a in inst["annotations"]:
        kinds[a["image_id"]].add(a["category_id"] - 1)
    n_kinds, n_colours = len(synth.KINDS), len(synth.COLOURS)
    assert labels
    for image, v in labels.items():
        scene_id = int(os.path.basename(image).split(".")[0])
        assert set(torch.nonzero(v[:n_kinds]).flatten().tolist()) == kinds[scene_id], image
        pairs = v[n_kinds + n_colours:].view(n_colours, n_kinds)
        assert pairs.any() and bool((pairs.amax(0) <= v[:n_kinds]).all()), image  # a pair implies its kind
        assert bool((pairs.amax(1) <= v[n_kinds:n_kinds + n_colours]).all()), image  # ... and its colour
    # scene 7 of this set names its star only as "the star" and "the cyan shape": kind and colour, no pair
    seven = labels["VG_100K/7.jpg"]
    assert seven[synth.KINDS.index("star")] == 1 and seven[n_kinds + list(synth.COLOURS).index("cyan")] == 1


def test_runs_and_writes_an_init_checkpoint(tmp_path):
    synth.generate(str(tmp_path / "s"), 12, seed=5)
    out = tmp_path / "vit.pth"
    run = subprocess.run([sys.executable, SCRIPT, str(tmp_path / "s"), "--steps", "2", "--batch", "4",
                          "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "step 2: loss" in run.stdout and "val accuracy kinds" in run.stdout
    state = torch.load(str(out))["model"]
    assert state and all(k.startswith("visual_encoder.") for k in state)
    model = ALBEF(ModelConfig.small(256))
    missing, unexpected = load_state_dict_report(model, state)
    assert not unexpected and not any(k.startswith("visual_encoder.") for k in missing)
