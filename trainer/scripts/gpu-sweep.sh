#!/bin/bash
# Recipe sweep for the default model on one GPU, in one call: every variant of a variants file trains in parallel
# on the same synthetic set (2000 scenes, seed 0) from configs/small-synthetic.json plus the variant's overrides,
# scores the Flickr-style val split after every "epoch", and is scored per phrase category at the end.
# $OUT/summary.json is rewritten every 30 s, so a run cut short still reports its curves.
#   trainer/scripts/gpu-sweep.sh [VARIANTS_FILE]     (default: sweeps/capacity-mlm.txt)
# Variants file: one line per run, "name --key value ..." (train.py overrides); '#' comments.
# env: PYTHON, SYN (data folder, generated if missing), SPE (steps per epoch, 400), BUDGET (s per training, 420),
#      DEV (cuda), R (run folder, /tmp/sweep), OUT (summary folder).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
VARIANTS=$(realpath "${1:-$HERE/sweeps/capacity-mlm.txt}")
cd "$HERE/.."                                   # trainer/
PY=${PYTHON:-python3}; R=${R:-/tmp/sweep}; OUT=${OUT:-$R/out}; SYN=${SYN:-$R/synth}
SPE=${SPE:-400}; BUDGET=${BUDGET:-420}; DEV=${DEV:-cuda}
mkdir -p "$R" "$OUT"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
[ -f "$SYN/vg_train.json" ] || $PY -m amc_trainer synth "$SYN" --images 2000 --seed 0 --workers 16 > "$R/synth.log" 2>&1
variant() {
  local name=$1; shift
  timeout "$BUDGET" $PY -m amc_trainer train --config configs/small-synthetic.json --data "$SYN/vg_train.json" \
    --out "$R/$name" --eval_file "$SYN/flickr30k/sentences_val.json" --eval_every 1 --eval_batch_size 64 \
    --num_workers 1 --device "$DEV" --max_steps_per_epoch "$SPE" "$@" > "$R/$name.jsonl" 2> "$R/$name.err"
  [ -f "$R/$name/last.pth" ] && $PY -m amc_trainer eval --checkpoint "$R/$name/last.pth" --batch-size 64 \
    --data "$SYN/flickr30k/sentences_val.json" --out "$R/$name.report.json" --device "$DEV" > /dev/null 2>> "$R/$name.err"
}
pids=()
while read -r name args; do
  { [ -z "$name" ] || [ "${name:0:1}" = "#" ]; } && continue
  eval "variant $name $args" & pids+=($!)
done < "$VARIANTS"
( while sleep 30; do $PY "$HERE/sweep_summary.py" "$R" "$OUT/summary.json"; done ) & loop=$!
wait "${pids[@]}"
kill $loop
$PY "$HERE/sweep_summary.py" "$R" "$OUT/summary.json"
echo "sweep done: $OUT/summary.json"
