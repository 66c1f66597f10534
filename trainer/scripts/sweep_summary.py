"""Collects a gpu-sweep.sh run folder into one JSON: per variant its val curve ("eval" events), the loss every
200 steps, the last step, how it ended, and accuracy per phrase category of its final report."""
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shape_diagnostics import category_counts  # noqa: E402


def summarize(root: str) -> dict:
    result = {}
    for path in sorted(glob.glob(os.path.join(root, "*.jsonl"))):
        name = os.path.basename(path)[:-len(".jsonl")]
        run = result.setdefault(name, {"evals": [], "steps": [], "last_step": None})
        for line in open(path):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("event") == "eval":
                run["evals"].append({"epoch": e.get("epoch"), "accuracy": e.get("accuracy")})
            elif e.get("event") == "step":
                run["last_step"] = e
                if e.get("step", 0) % 200 == 0:
                    run["steps"].append({k: e.get(k) for k in ("step", "loss", "mlm", "itc", "amc_mean", "amc_max",
                                                               "samples_per_s")})
            elif e.get("event") in ("error", "done"):
                run["end"] = e
        report = os.path.join(root, name + ".report.json")
        if os.path.exists(report):
            counts = category_counts(json.load(open(report))["samples"])
            run["by_category"] = {k: [h, n, round(100 * h / n, 1)] for k, (h, n) in counts.items()}
        err = os.path.join(root, name + ".err")
        if os.path.exists(err):
            run["stderr_tail"] = open(err, errors="replace").read()[-600:]
    return result


if __name__ == "__main__":
    json.dump(summarize(sys.argv[1]), open(sys.argv[2], "w"), indent=1)
