"""Trains tfinpaint's shipped default model, reproducibly and resumably.

The whole recipe is the data in ``PLAN`` below (model, model config, recipe, crop size, batch,
mask generator, steps, seed and learning rate of each stage; a stage may name its own recipe
and override loss weights). Stage 1 trains at small crops
(fast and diverse); stage 2 is the paper's fine-tuning stage (Liu et al. 2018, Section 4.1:
encoder BatchNorm statistics frozen, lower learning rate) at the evaluation size, started from
stage 1's (EMA) weights. Each stage is a ``tfinpaint.training.run.train`` run directory under
``--out``; running the script again resumes the unfinished stage from its last checkpoint (at
most ``save_every`` steps are lost) and skips the finished ones.

The script records what it trained on and for how long:

* ``OUT/plan.json``: the plan (fixed at the first start; a changed plan is refused);
* ``OUT/data.json``: the training files (name, size, SHA-256) and the SHA-256 of the folder's
  ``SOURCES.tsv`` (licences and attribution of the photos);
* ``OUT/sessions/<start>-<pid>.json``: one file per invocation and stage, rewritten every
  minute while it runs: start and last-update time, wall and process CPU seconds (all threads),
  and at the end the steps done. A killed run keeps its record up to its last minute.

Progress: one line per ``val_every`` steps (losses, validation PSNR/SSIM/L1 of the EMA
weights), ``OUT/<stage>/validation.jsonl`` and TensorBoard under ``OUT/<stage>/tb``.

Usage (from the repository root; runs for hours on CPU, so detach it)::

    nohup nice -n 15 python scripts/train_default.py --images ../shared/data/photos/train \\
        --val ../shared/data/photos/val --out /work/train_default/run > train.log 2>&1 &

Ship a checkpoint with ``python scripts/ship_default.py --run OUT`` (see its docstring).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import threading
import time

# The default model's plan. Changing it means a new run directory.
PLAN = {
    "name": "pconv_unet_default",
    "model": "pconv_unet",
    # 7 levels (size multiple 128: any 128-multiple input; the padder handles others), half the
    # paper's widths (32, 64, 128, 256, 256, 256, 256): 6.4 M parameters, 12.9 MB in float16.
    "config": {"layer_size": 7, "base_channels": 32, "output_activation": "none"},
    "recipe": "pconv_unet_default",  # L_valid + 6 L_hole + 0.1 L_tv, Adam 2e-4, EMA 0.999
    "masks": "lama_thick",  # the evaluation's hole generator (scaled to the crop size)
    # How the shipped model is run (tfinpaint.edge.run_padded; scripts/ship_default.py writes it
    # into the shipped config.json): 64 px of reflected context on every side. Partial
    # convolutions zero-pad at the image border, so a hole touching the border leaves stripes
    # there; with the margin, +0.46 dB on 1-10 % holes and +0.2 dB on 20-60 % (step 1,500 of
    # stage 2 on the evaluation set; 128 px gave the same).
    "edge": {"context_margin": 64},
    "seed": 15,
    "stages": [
        # Planned for 12,000 steps; its validation PSNR flattened from step 3,250 (23.8 dB at
        # 128 px), so the shipped run moved on to stage 2 at step 4,250.
        {"name": "stage1", "size": 128, "batch": 8, "steps": 4250, "save_every": 250,
         "val_every": 250},
        # Planned for 4,000 steps; stopped at 2,250 for stage 3.
        {"name": "stage2_finetune", "size": 256, "batch": 4, "steps": 2250, "save_every": 250,
         "val_every": 250, "finetune": True},
        # Seams: after stage 2 the first ring of hole pixels had 2-3x the error of OpenCV's
        # (mean abs error 16.7 vs 6.3 of 255 on a 1 % hole), which costs most on small holes.
        # The total-variation term on the dilated hole (the paper's 0.1) is what penalizes a
        # step between the known border and the fill: stage 3 fine-tunes with it at 1.0.
        {"name": "stage3_seams", "size": 256, "batch": 4, "steps": 1500, "save_every": 250,
         "val_every": 250, "finetune": True, "loss_weights": {"tv_dilated": 1.0}},
        # Seams again: stage 3 left the first 1.5 px of a hole at 2.8x OpenCV's error (dark
        # dots and lines along the hole's edge), so stage 4 adds the hole-border L1 (recipe
        # pconv_unet_default_border: band 3 px, weight 12 beside L_hole's 6).
        {"name": "stage4_border", "size": 256, "batch": 4, "steps": 2500, "save_every": 250,
         "val_every": 250, "finetune": True, "recipe": "pconv_unet_default_border",
         "loss_weights": {"tv_dilated": 1.0}},
    ],
}


def _sha256(path, chunk=1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def record_data(images: str) -> dict:
    """``{"folder", "num_images", "files": [{"name", "bytes", "sha256"}], "sources_sha256"}``."""
    from tfinpaint.data.images import list_image_files

    files = sorted(list_image_files(images))
    sources = os.path.join(images, "SOURCES.tsv") if os.path.isdir(images) else None
    return {
        "folder": os.path.abspath(images),
        "num_images": len(files),
        "files": [{"name": os.path.basename(f), "bytes": os.path.getsize(f),
                   "sha256": _sha256(f)} for f in files],
        "sources_sha256": _sha256(sources) if sources and os.path.isfile(sources) else None,
    }


def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def _fix_plan(out: str, plan: dict) -> None:
    path = os.path.join(out, "plan.json")
    if os.path.isfile(path):
        with open(path) as f:
            saved = json.load(f)
        if saved != json.loads(json.dumps(plan)):
            raise SystemExit(
                f"{path} holds a different plan; use another --out or restore the plan. "
                f"Saved: {json.dumps(saved, sort_keys=True)}"
            )
    else:
        _write_json(path, plan)


class SessionRecord:
    """``OUT/sessions/<start>-<pid>.json``, rewritten every ``period`` seconds by a daemon
    thread (and once at the end) with the wall and process CPU seconds spent so far."""

    def __init__(self, out, stage, period=60.0):
        folder = os.path.join(out, "sessions")
        os.makedirs(folder, exist_ok=True)
        self.path = os.path.join(folder, f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.json")
        self.record = {"stage": stage, "start": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self.wall0, self.cpu0 = time.time(), time.process_time()
        self.period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def write(self, **extra):
        self.record.update(extra, updated=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                           wall_seconds=round(time.time() - self.wall0, 1),
                           cpu_seconds=round(time.process_time() - self.cpu0, 1))
        _write_json(self.path, self.record)

    def _loop(self):
        while not self._stop.wait(self.period):
            self.write()

    def __enter__(self):
        self.write()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.write(finished=exc[0] is None)


def run_stage(plan, stage, images, val, out, previous_dir):
    from tfinpaint.training.run import train

    stage_dir = os.path.join(out, stage["name"])
    finetune_from = previous_dir if stage.get("finetune") else None
    with SessionRecord(out, stage["name"]) as session:
        result = train(
            plan["model"], images, val, out_dir=stage_dir, size=stage["size"],
            batch=stage["batch"], steps=stage["steps"], masks=plan["masks"],
            finetune_from=finetune_from, save_every=stage["save_every"],
            val_every=stage["val_every"], seed=plan["seed"], config=plan["config"],
            recipe=stage.get("recipe", plan["recipe"]), loss_weights=stage.get("loss_weights"),
            verbose=2,
            keep_weights=True,
        )
        session.record.update(from_step=result["resumed_from"], to_step=result["step"])
    return stage_dir, result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", default="../shared/data/photos/train", help="training photos")
    p.add_argument("--val", default="../shared/data/photos/val", help="validation photos")
    p.add_argument("--out", required=True, help="output directory (one run dir per stage)")
    p.add_argument("--stage", default=None, help="run only this stage (default: all, in order)")
    args = p.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    _fix_plan(args.out, PLAN)
    data_path = os.path.join(args.out, "data.json")
    if not os.path.isfile(data_path):
        _write_json(data_path, record_data(args.images))
    previous = None
    for stage in PLAN["stages"]:
        stage_dir = os.path.join(args.out, stage["name"])
        if args.stage and stage["name"] != args.stage:
            previous = stage_dir
            continue
        print(f"=== {stage['name']}: {json.dumps(stage)}", flush=True)
        previous, result = run_stage(PLAN, stage, args.images, args.val, args.out, previous)
        print(f"=== {stage['name']} at step {result['step']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
