"""Split grounding.onnx at its image-only frontier, so the per-image part can be cached like image_embeds.

Every phrase re-runs, inside grounding.onnx, the cross-attention key/value projections of all 1+N image tokens in
every fusion layer: tensors that depend on image_embeds only (3.6 of 4.9 GFLOP per phrase at base, see
bench/explain). This finds them generically — the tensors computed from `image_embeds` (and weights) alone that
a text-dependent node consumes — and writes two graphs next to the model:

  grounding_image.onnx   image_embeds -> the frontier tensors            (once per image, cached)
  grounding_text.onnx    input_ids, attention_mask, frontier -> itm_logits, gradcam, token_gradcam (per phrase)
  grounding_split.json   frontier names and the sha256 of grounding.onnx they were cut from

The ops are the very ops of grounding.onnx, so the outputs are the same numbers (checked by bench/eval/run.ts
against the unsplit graph). Needs only the `onnx` package (Debian python3-onnx).

    /usr/bin/python3 bench/eval/split_grounding.py MODEL_DIR
"""
import hashlib
import json
import os
import sys

import onnx
from onnx import helper


def frontier_of(graph):
    text_dep = {"input_ids", "attention_mask"}
    img_dep = {"image_embeds"}
    for n in graph.node:
        ins = [i for i in n.input if i]
        if any(i in text_dep for i in ins):
            text_dep.update(n.output)
        elif any(i in img_dep for i in ins):
            img_dep.update(n.output)
    frontier = []
    for n in graph.node:
        if any(i in text_dep for i in n.input if i):
            for i in n.input:
                if i in img_dep and i not in frontier:
                    frontier.append(i)
    return frontier


def extract(model, inputs, outputs):
    """The subgraph computing `outputs` from `inputs` (+ weights). onnx.utils.Extractor (onnx 1.12) searches
    reachable nodes without a visited set, which is exponential on these graphs; this is the linear version."""
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    stop = set(inputs)
    keep, seen, todo = set(), set(), list(outputs)
    while todo:
        t = todo.pop()
        if t in seen or t in stop:
            continue
        seen.add(t)
        n = producer.get(t)
        if n is None:
            continue
        if id(n) not in keep:
            keep.add(id(n))
            todo.extend(i for i in n.input if i)
    nodes = [n for n in g.node if id(n) in keep]
    used = {i for n in nodes for i in n.input}
    inits = [i for i in g.initializer if i.name in used]
    known = {v.name: v for v in list(g.input) + list(g.output) + list(g.value_info)}
    def info(name):
        return known[name] if name in known else helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, g.name, [info(i) for i in inputs], [info(o) for o in outputs], inits)
    out = helper.make_model(graph, opset_imports=model.opset_import, producer_name="amc split_grounding")
    out.ir_version = model.ir_version
    return out


def rank_of(graph, name, ranks):
    producer = next(n for n in graph.node if name in n.output)
    for a in producer.attribute:
        if a.name == "perm":
            return len(a.ints)
    raise ValueError(f"cannot tell the rank of {name} (produced by {producer.op_type})")


def main(model_dir):
    src = os.path.join(model_dir, "grounding.onnx")
    model = onnx.load(src)
    g = model.graph
    frontier = frontier_of(g)
    if "image_embeds" in frontier:
        raise SystemExit("image_embeds itself is consumed by a text-dependent node; nothing to split")
    image_part = extract(model, ["image_embeds"], frontier)
    text_part = extract(model, ["input_ids", "attention_mask"] + frontier, [o.name for o in g.output])
    # The cut tensors have no declared shape in the source graph; declare rank and symbolic dims (batch first).
    for part, vals in ((image_part, image_part.graph.output), (text_part, text_part.graph.input)):
        for v in vals:
            if v.name in frontier:
                r = rank_of(g, v.name, None)
                v.type.CopyFrom(helper.make_tensor_type_proto(onnx.TensorProto.FLOAT, ["batch"] + [f"{v.name}_d{i}" for i in range(1, r)]))
    for name, part in (("grounding_image.onnx", image_part), ("grounding_text.onnx", text_part)):
        path = os.path.join(model_dir, name)
        onnx.save(part, path)
        onnx.checker.check_model(path)  # by path: works past protobuf's 2 GB in-memory limit too
    sha = hashlib.sha256(open(src, "rb").read()).hexdigest()
    with open(os.path.join(model_dir, "grounding_split.json"), "w") as f:
        json.dump({"source": "grounding.onnx", "source_sha256": sha, "frontier": frontier}, f, indent=1)
    print(json.dumps({"frontier": frontier}))


if __name__ == "__main__":
    main(sys.argv[1])
