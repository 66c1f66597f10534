#!/usr/bin/env bash
# Reproduces the default model models/amc-small-synthetic and both result tables of trainer/README.md:
#   1. the synthetic grounding set (2000 scenes, seed 0),
#   2. two trainings of the small model with the same data, seed, steps and schedule: with AMC
#      (configs/small-synthetic.json) and without (configs/small-synthetic-noamc.json: ITC + ITM only),
#      one after the other (each is one process on the CPU),
#   3. the pointing game (docs/reference.md §4) of both on the held-out Flickr-style test split and the RefCOCO+-style
#      testA/testB splits,
#   4. the ONNX export of the AMC model, with both tables written into its model.json `metrics`.
# Usage: trainer/scripts/train-default-model.sh   (env: PYTHON, AMC_WORK (scratch, default
# /tmp/amc-default-model), MODEL_OUT (default models/amc-small-synthetic), SKIP_TRAIN=1 to re-evaluate,
# RUNS=amc to retrain only the AMC run (keeps $AMC_WORK/run-noamc*)).
set -euo pipefail
cd "$(dirname "$0")/.."                      # trainer/
PY=${PYTHON:-/usr/bin/python3}
WORK=${AMC_WORK:-/tmp/amc-default-model}
MODEL_OUT=${MODEL_OUT:-../models/amc-small-synthetic}
mkdir -p "$WORK"

if [ ! -f "$WORK/synth/vg_train.json" ]; then
  $PY -m amc_trainer synth "$WORK/synth" --images 2000 --seed 0 >/dev/null
fi

if [ "${SKIP_TRAIN:-0}" != 1 ]; then
  # One run after the other, each with the whole machine (two side by side each take twice as long), scoring the
  # Flickr-style val split after every 400-step "epoch" so the JSON lines show the learning curve.
  for run in ${RUNS:-amc noamc}; do
    cfg=configs/small-synthetic.json
    [ "$run" = noamc ] && cfg=configs/small-synthetic-noamc.json
    rm -rf "$WORK/run-$run"
    /usr/bin/time -f "$run: %e s wall, %U s user, %S s sys, %M KB max RSS" -o "$WORK/run-$run.time" \
      $PY -m amc_trainer train --config "$cfg" --data "$WORK/synth/vg_train.json" --out "$WORK/run-$run" \
        --eval_file "$WORK/synth/flickr30k/sentences_val.json" --eval_every 1 --eval_batch_size 32 \
      >"$WORK/run-$run.jsonl" 2>"$WORK/run-$run.err"
    cat "$WORK/run-$run.time"
  done
fi

# The shipped AMC model stores its word embeddings as float16 (export --fp16-embeddings keeps grounding.onnx
# under 30 MB), so it is evaluated with that table rounded exactly as the export rounds it.
PYTHONPATH=. $PY - "$WORK/run-amc/last.pth" "$WORK/run-amc/shipped.pth" <<'PYEOF'
import sys, torch
from amc_trainer.checkpoint_io import safe_torch_load
ckpt = safe_torch_load(sys.argv[1])
for k, v in ckpt["model"].items():
    if k.endswith("embeddings.word_embeddings.weight"):
        ckpt["model"][k] = v.half().float()
torch.save(ckpt, sys.argv[2])
PYEOF
for run in amc noamc; do
  ckpt="$WORK/run-$run/last.pth"; [ "$run" = amc ] && ckpt="$WORK/run-amc/shipped.pth"
  $PY -m amc_trainer eval --checkpoint "$ckpt" --batch-size 32 \
    --data "$WORK/synth/flickr30k/sentences_test.json" --out "$WORK/eval-$run-flickr.json" &
  $PY -m amc_trainer eval --checkpoint "$ckpt" --batch-size 32 \
    --data "$WORK/synth/refcoco+_test.json" --out "$WORK/eval-$run-refcoco.json" &
done
wait

$PY -m amc_trainer export --checkpoint "$WORK/run-amc/last.pth" --out "$MODEL_OUT" --name amc-small-synthetic \
  --fp16-embeddings

# Both tables into the card: accuracy per split, hits/n, the run's wall time.
$PY - "$WORK" "$MODEL_OUT/model.json" <<'PYEOF'
import json, re, sys
work, card_path = sys.argv[1], sys.argv[2]
card = json.load(open(card_path))
metrics = {"protocol": "pointing game, docs/reference.md §4.1 (raw GradCAM, bicubic to the original size, first row-major "
                       "argmax, strictly inside a box); synthetic set 2000 scenes seed 0, held-out test scenes",
           "runs": {}}
for run, label in (("amc", "AMC (this model, word embeddings rounded to float16 as shipped)"), ("noamc", "no AMC: ITC + ITM only, same data/seed/steps")):
    splits = {}
    for part, name in (("flickr", "flickr-style test"), ("refcoco", None)):
        report = json.load(open(f"{work}/eval-{run}-{part}.json"))
        for split, s in report["splits"].items():
            key = name if part == "flickr" else f"refcoco+-style {split}"
            splits[key] = {"accuracy": round(s["accuracy"], 4), "hits": s["hits"], "n": s["n"]}
    done = [json.loads(l) for l in open(f"{work}/run-{run}.jsonl") if '"done"' in l]
    time_line = open(f"{work}/run-{run}.time").read().strip() if __import__("os").path.exists(f"{work}/run-{run}.time") else ""
    metrics["runs"][run] = {"label": label, "pointing_game": splits,
                            "train_wall_s": done[-1]["wall_s"] if done else None, "time": time_line}
card["metrics"] = metrics
json.dump(card, open(card_path, "w"), indent=2)
print(json.dumps(metrics, indent=1))
PYEOF
