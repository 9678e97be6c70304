"""Copies a checkpoint of ``scripts/train_default.py`` into the package as the shipped model.

Picks the kept weights (``OUT/<stage>/weights/step_N.weights.h5``, the EMA generator) with the
best validation PSNR of ``OUT/<stage>/validation.jsonl`` (or ``--step N``), and writes
``tfinpaint/pretrained/<name>/``:

* ``config.json``: model name and constructor config with the plan's edge settings (what
  ``tfinpaint.inference.load`` reads);
* ``generator.weights.h5``: the weights in float16 (``tfinpaint.pretrained.save_weights_float16``);
* ``SOURCES.tsv``: the training photos' licences and attribution, copied from the photo folder;
* ``training.json``: the plan, the stage and step shipped, its validation scores, the training
  data record (file count, SHA-256 of ``SOURCES.tsv``) and the wall and CPU time of the
  training sessions (``OUT/sessions/``) up to now.

``MODEL_CARD.md`` beside them is written by hand (metrics from ``tfinpaint evaluate``).

Usage::

    python scripts/ship_default.py --run /work/train_default/run [--stage stage1] [--step 4000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys


def _read_jsonl(path):
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def kept_steps(stage_dir) -> dict[int, str]:
    folder = os.path.join(stage_dir, "weights")
    if not os.path.isdir(folder):
        return {}
    out = {}
    for name in os.listdir(folder):
        if name.startswith("step_") and name.endswith(".weights.h5"):
            out[int(name[5:-11])] = os.path.join(folder, name)
    return out


def pick(stage_dir, step=None, metric="psnr"):
    """``(step, weights path, validation record)``: ``step`` or the best kept by ``metric``."""
    kept = kept_steps(stage_dir)
    if not kept:
        raise SystemExit(f"{stage_dir}: no kept weights (weights/step_*.weights.h5)")
    history = {r["step"]: r for r in _read_jsonl(os.path.join(stage_dir, "validation.jsonl"))}
    if step is None:
        scored = [s for s in kept if s in history]
        if not scored:
            raise SystemExit(f"{stage_dir}: no validation record for any kept step {sorted(kept)}")
        step = max(scored, key=lambda s: history[s][metric])
    if step not in kept:
        raise SystemExit(f"{stage_dir}: step {step} not kept; kept: {sorted(kept)}")
    return step, kept[step], history.get(step)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, help="output directory of scripts/train_default.py")
    p.add_argument("--stage", default=None, help="stage to ship (default: the last one started)")
    p.add_argument("--step", type=int, default=None, help="step (default: best validation PSNR)")
    p.add_argument("--dest", default=None, help="default: tfinpaint/pretrained/<plan name>")
    args = p.parse_args(argv)

    from tfinpaint.inference import load
    from tfinpaint.pretrained import PRETRAINED_ROOT, save_weights_float16

    with open(os.path.join(args.run, "plan.json")) as f:
        plan = json.load(f)
    stages = [s["name"] for s in plan["stages"]]
    stage = args.stage or [s for s in stages if kept_steps(os.path.join(args.run, s))][-1]
    stage_dir = os.path.join(args.run, stage)
    step, weights, val = pick(stage_dir, args.step)
    with open(os.path.join(stage_dir, "config.json")) as f:
        run_config = json.load(f)
    dest = args.dest or os.path.join(PRETRAINED_ROOT, plan["name"])
    os.makedirs(dest, exist_ok=True)

    # Load through the run-directory loader (config.json + the kept weights file).
    tmp_run = os.path.join(dest, ".ship_tmp")
    os.makedirs(tmp_run, exist_ok=True)
    try:
        shutil.copyfile(os.path.join(stage_dir, "config.json"),
                        os.path.join(tmp_run, "config.json"))
        shutil.copyfile(weights, os.path.join(tmp_run, "generator.weights.h5"))
        model = load(tmp_run)
    finally:
        shutil.rmtree(tmp_run, ignore_errors=True)
    save_weights_float16(model, os.path.join(dest, "generator.weights.h5"))

    # The plan's edge settings (registry.EDGE_CONFIG) join the constructor config.
    config = {"model": run_config["model"],
              "config": {**run_config["config"], **plan.get("edge", {})},
              "recipe": run_config["recipe"], "size": run_config["size"],
              "masks": run_config["masks"], "stage": stage, "step": step}
    with open(os.path.join(dest, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    sources = os.path.join(run_config["images"], "SOURCES.tsv")
    shutil.copyfile(sources, os.path.join(dest, "SOURCES.tsv"))

    sessions = []
    session_dir = os.path.join(args.run, "sessions")
    for name in sorted(os.listdir(session_dir)) if os.path.isdir(session_dir) else []:
        with open(os.path.join(session_dir, name)) as f:
            sessions.append(json.load(f))
    with open(os.path.join(args.run, "data.json")) as f:
        data = json.load(f)
    record = {
        "plan": plan, "stage": stage, "step": step, "validation": val,
        "data": {"folder": os.path.basename(data["folder"].rstrip("/")),
                 "num_images": data["num_images"], "sources_sha256": data["sources_sha256"]},
        "sessions": sessions,
        "cpu_seconds_total": round(sum(x.get("cpu_seconds") or 0 for x in sessions), 1),
        "wall_seconds_total": round(sum(x.get("wall_seconds") or 0 for x in sessions), 1),
        "note": "sessions: every training invocation up to the time of shipping (the run may "
                "have gone on after the shipped step).",
    }
    with open(os.path.join(dest, "training.json"), "w") as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.write("\n")
    size = os.path.getsize(os.path.join(dest, "generator.weights.h5"))
    print(f"Shipped {stage} step {step} ({weights}) to {dest}: {size / 1e6:.1f} MB; "
          f"validation {val}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
