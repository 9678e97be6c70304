"""``tfinpaint demo``: the main job end to end, on a fresh install, offline.

Steps (each a function of a shared :class:`DemoRun`, listed in :data:`STEPS`):

1. ``images``: the photographs to inpaint. By default the real colour photographs shipped
   inside the scikit-image wheel (:data:`SKIMAGE_PHOTOS`), so nothing is downloaded; or every
   image of ``--images DIR`` (searched recursively, as :func:`tfinpaint.evaluation.evaluate`
   lists folders; files under ``--out`` are left out, so a second run does not read its own
   output).
2. ``masks``: a bucketed hole-mask set written with :func:`tfinpaint.data.masks.write_mask_set`:
   ``--per-bucket`` masks in each NVIDIA/PConv hole-ratio bucket of
   :data:`tfinpaint.data.masks.BUCKETS` (1-10 % ... 50-60 %), kind ``lama_thick`` (LaMa's thick
   evaluation masks: strokes plus boxes), PNG with white = hole, at ``--size``.
3. ``train``: ``--train-steps`` steps of ``pconv_unet`` with ``layer_size=4`` (a 64 x 64
   crop model, ``size_multiple`` 16) on the photos, 64 px random crops, batch 4, into
   ``OUT/run`` with :func:`tfinpaint.training.train` and the ``pconv_unet_pixel`` recipe (the
   paper's pixel and TV terms; the perceptual and style terms need ImageNet VGG-16 weights,
   which an offline install lacks). Running the demo again resumes the run and trains
   ``--train-steps`` more steps. The run directory is then evaluated, reported and pictured
   like the models of ``--models``, as ``pconv_unet (N steps)``. It is trained on the photos
   it is scored on: this shows the pipeline, it is no benchmark. ``--train-steps 0`` skips
   this step, ``export`` and ``serve``.
4. ``evaluate``: each model of ``--models`` (default the shipped trained network
   ``pconv_unet_default``, :data:`tfinpaint.pretrained.DEFAULT_MODEL`, and the classical
   baselines ``cv2-telea`` and ``cv2-ns``) with :func:`tfinpaint.evaluation.evaluate`:
   images centre-cropped and resized to ``--size``, mask ``i`` paired with image ``i mod number
   of images`` (every mask is used once), composite scored with PSNR / SSIM / L1 per bucket and
   in total.
5. ``report``: ``metrics.md`` (one table per model), ``metrics.csv`` (one row per model and
   group) and ``metrics.json`` (everything, per image too) in ``--out``; the tables are printed.
6. ``picture``: ``demo.png``: one row per selected photo (masks from different buckets) with the
   columns input, mask (white = hole), masked input (holes white), and the result of each model
   (:class:`tfinpaint.inference.Inpainter`, the same composite that was scored).
   The short demo run is left out of the picture when ``--models`` holds a shipped trained
   network (as by default): 150 steps at 64 px show the pipeline, not what a learned model does.
7. ``export``: the trained run as a TF Serving SavedModel,
   ``OUT/saved_models/pconv_unet/1/`` (:func:`tfinpaint.export.export_saved_model`, replaced on
   each run).
8. ``serve``: :class:`tfinpaint.export.ModelServer` on free loopback ports serves
   ``OUT/saved_models``; one photo + mask (the hardest bucket's first pair, at ``--size``) is sent
   with :class:`tfinpaint.export.serving.GrpcClient`, the answer is written to
   ``OUT/served.png`` and checked against the in-process :class:`tfinpaint.inference.Inpainter`
   result (at most 1 uint8 step apart); the request latency is printed.

Each step prints what it did and how long it took.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import importlib.util
import json
import math
import pathlib
import sys
import time
from collections.abc import Callable

import numpy as np

from tfinpaint.cli import CLIError
from tfinpaint.cli.common import (
    add_command,
    add_no_progress_argument,
    check_at_least,
    model_errors,
    output_dir,
)
from tfinpaint.pretrained import DEFAULT_MODEL

HELP = "Run the main job: masks -> inpaint photos with each model -> metrics table + picture."

# Real colour photographs in scikit-image's wheel (skimage/data/, no download needed). Left out:
# drawings/renders/synthetic images (logo, color, phantom, chessboard_*, horse), grayscale files
# (camera, moon, coins, text, page, brick, grass, gravel, cell, clock_motion), images that are
# mostly flat background (hubble_deep_field: black sky; retina: black surround), microscopy
# (ihc) and motorcycle_right (the stereo twin of motorcycle_left).
SKIMAGE_PHOTOS = (
    "astronaut.png",  # NASA portrait of Eileen Collins
    "chelsea.png",  # Stefan van der Walt's cat
    "coffee.png",  # a cup of coffee, Rachel Michetti
    "motorcycle_left.png",  # Middlebury 2014 stereo set, left view
    "rocket.jpg",  # SpaceX Falcon 9 launch, public domain
)

# The shipped trained network (tfinpaint.pretrained.DEFAULT_MODEL) beside the OpenCV baselines.
DEFAULT_MODELS = f"{DEFAULT_MODEL},cv2-telea,cv2-ns"

# The trained model: pconv_unet with 4 levels (size_multiple 16) at 64 px crops, batch 4, with
# the offline recipe (pixel + TV terms; see tfinpaint.training.recipes.pconv_unet).
TRAIN_MODEL = "pconv_unet"
TRAIN_CONFIG = {"layer_size": 4}
TRAIN_RECIPE = "pconv_unet_pixel"
TRAIN_SIZE = 64
TRAIN_BATCH = 4
TRAIN_STEPS = 150
EXPORT_VERSION = 1
# The served answer and the in-process Inpainter may differ by float rounding: 1 uint8 step.
SERVE_TOLERANCE = 1

DESCRIPTION = f"""\
{HELP}

Runs offline on a fresh install. Steps:
  images    photos shipped with scikit-image, or every image of --images DIR (recursive)
            ({", ".join(p.rsplit(".", 1)[0] for p in SKIMAGE_PHOTOS)})
  masks     --per-bucket masks in each hole-ratio bucket 1-10% ... 50-60% (white = hole)
  train     --train-steps steps of {TRAIN_MODEL} (layer_size 4, {TRAIN_RECIPE} recipe,
            {TRAIN_SIZE} px crops, batch {TRAIN_BATCH}) on the photos into OUT/run; a rerun trains
            the same run further (0: skip train, export and serve)
  evaluate  each model of --models and the trained run: PSNR / SSIM / L1 of the composite,
            per bucket and total
  report    OUT/metrics.md (one table per model), metrics.csv, metrics.json; tables printed
  picture   OUT/demo.png: input | mask | masked input | result of each model (the short run
            only when --models holds no shipped trained model)
  export    OUT/saved_models/{TRAIN_MODEL}/{EXPORT_VERSION}: the trained run as a SavedModel
  serve     serve OUT/saved_models over gRPC on 127.0.0.1, inpaint one photo through it
            (OUT/served.png), compare with the in-process result, print the latency
"""
MASK_KIND = "lama_thick"
PICTURE_ROWS = 4
# demo.png layout (pixels): a header with the column titles, tiles of --size with this gap.
HEADER = 24
GAP = 8


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, "demo", run, help=HELP, description=DESCRIPTION)
    p.add_argument(
        "--images",
        default=None,
        help="folder of photos (default: the photos shipped with scikit-image)",
    )
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--size", type=int, default=256, help="evaluation size, square (default 256)")
    p.add_argument(
        "--per-bucket", type=int, default=2, help="masks per hole-ratio bucket (default 2)"
    )
    p.add_argument(
        "--models",
        default=DEFAULT_MODELS,
        help=f"comma-separated model names or run directories (default {DEFAULT_MODELS})",
    )
    p.add_argument("--mask-kind", default=MASK_KIND, help=f"mask preset (default {MASK_KIND})")
    p.add_argument("--seed", type=int, default=0, help="mask seed (default 0)")
    p.add_argument(
        "--train-steps",
        type=int,
        default=TRAIN_STEPS,
        help=f"steps to train {TRAIN_MODEL} (more on each rerun); 0 skips train, export and "
        f"serve (default {TRAIN_STEPS})",
    )
    add_no_progress_argument(p)
    return p


@dataclasses.dataclass
class DemoRun:
    """State shared by the demo steps."""

    args: argparse.Namespace
    out: pathlib.Path
    models: list[str]
    images: list[pathlib.Path] = dataclasses.field(default_factory=list)
    mask_dir: pathlib.Path | None = None
    masks: list[pathlib.Path] = dataclasses.field(default_factory=list)
    results: dict[str, dict] = dataclasses.field(default_factory=dict)
    paths: dict[str, pathlib.Path] = dataclasses.field(default_factory=dict)
    # Display name of a model of ``models`` (the trained run directory's is
    # ``"pconv_unet (N steps)"``); a model missing here is shown by its own name.
    titles: dict[str, str] = dataclasses.field(default_factory=dict)
    run_dir: pathlib.Path | None = None
    trained_steps: int = 0
    # The demo's own short run (a model of ``models`` once trained): scored in the tables,
    # exported and served, but left out of the picture when ``--models`` holds a trained
    # network (the shipped default), whose column shows what a learned model does.
    trained_source: str | None = None

    def picture_models(self) -> list[str]:
        """Models shown in ``demo.png``: all of ``models``, but the short demo run only when no
        model of ``--models`` is a trained network (e.g. ``--models cv2-telea``)."""
        from tfinpaint.pretrained import list_pretrained

        others = [m for m in self.models if m != self.trained_source]
        if self.trained_source and not any(m in list_pretrained() for m in others):
            return list(self.models)
        return others

    def title(self, model: str) -> str:
        return self.titles.get(model, model)

    def pairs(self) -> list[tuple[pathlib.Path, pathlib.Path]]:
        """(image, mask) pairs: mask ``i`` with image ``i mod len(images)``."""
        return [(self.images[i % len(self.images)], m) for i, m in enumerate(self.masks)]


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------


def skimage_data_dir() -> pathlib.Path:
    """``skimage/data`` of the installed scikit-image, found without importing it."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise CLIError("scikit-image is not installed; pass --images DIR")
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / "data"


def step_images(run: DemoRun) -> None:
    from tfinpaint.evaluation import list_image_files

    if run.args.images:
        folder = pathlib.Path(run.args.images)
        if not folder.is_dir():
            raise CLIError(f"--images {folder}: not a folder")
        try:
            found = list_image_files(folder, "image")
        except ValueError as e:
            raise CLIError(str(e)) from None
        out = run.out.resolve()
        run.images = [p for p in found if out not in p.resolve().parents]
        if not run.images:
            raise CLIError(f"--images {folder}: holds no image outside --out {run.out}")
    else:
        data = skimage_data_dir()
        run.images = [data / name for name in SKIMAGE_PHOTOS if (data / name).is_file()]
        if not run.images:
            raise CLIError(f"no scikit-image photos found in {data}; pass --images DIR")
    print(f"[images] {len(run.images)} photos from {run.images[0].parent}")


def step_masks(run: DemoRun) -> None:
    from tfinpaint.data.buckets import BUCKET_NAMES, BUCKETS
    from tfinpaint.data.masks import write_mask_set

    run.mask_dir = run.out / "masks"
    index = write_mask_set(
        run.mask_dir,
        run.args.mask_kind,
        run.args.size,
        buckets=BUCKETS,
        per_bucket=run.args.per_bucket,
        seed=run.args.seed,
    )
    run.masks = [run.mask_dir / row["filename"] for row in index["masks"]]
    print(
        f"[masks] {len(run.masks)} {run.args.mask_kind} masks ({run.args.per_bucket} per bucket: "
        f"{', '.join(BUCKET_NAMES)}) in {run.mask_dir}"
    )


def _latest_step(ckpt_dir: pathlib.Path) -> int:
    """Step of the newest checkpoint of a run (the trainer numbers checkpoints by step)."""
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(ckpt_dir))
    if not latest:
        return 0
    return int(latest.rsplit("-", 1)[-1])


def step_train(run: DemoRun) -> None:
    """Trains (or resumes and trains further) ``pconv_unet`` on the photos into ``OUT/run``."""
    steps = run.args.train_steps
    if steps == 0:
        print("[train] skipped (--train-steps 0): no train, export or serve")
        return
    from tfinpaint.models.registry import get_spec
    from tfinpaint.training.run import train

    multiple = get_spec(TRAIN_MODEL).builder(**TRAIN_CONFIG).size_multiple
    if run.args.size % multiple:
        raise CLIError(
            f"--size must be a multiple of {multiple} to evaluate the trained {TRAIN_MODEL} "
            f"(or pass --train-steps 0). Received: --size {run.args.size}"
        )
    start = time.perf_counter()
    run.run_dir = run.out / "run"
    done = _latest_step(run.run_dir / "checkpoints")
    # A list file (absolute paths) names exactly the demo photos, whatever else their folder holds.
    image_list = run.out / "train_images.txt"
    image_list.write_text("".join(f"{p.resolve()}\n" for p in run.images), encoding="utf-8")
    try:
        result = train(
            TRAIN_MODEL,
            image_list,
            out_dir=run.run_dir,
            size=TRAIN_SIZE,
            batch=TRAIN_BATCH,
            steps=done + steps,
            masks=run.args.mask_kind,
            vgg_weights=None,  # the recipe has no VGG term: nothing is built or downloaded
            # One checkpoint, at the end (a checkpoint with the Adam slots is ~54 MB; the
            # manager keeps the last 3, i.e. those of the last 3 demo runs).
            save_every=done + steps,
            val_every=steps,  # one Keras epoch = this demo run's steps (there is no val set)
            seed=run.args.seed,
            config=dict(TRAIN_CONFIG),
            recipe=TRAIN_RECIPE,
            # A live progress bar on a terminal; one line per epoch in a log file.
            verbose=0 if run.args.no_progress else (1 if sys.stdout.isatty() else 2),
        )
    except ValueError as e:  # e.g. OUT/run holds a run with other settings
        raise CLIError(f"--out {run.out}: training failed: {e}") from None
    run.trained_steps = int(result["step"])
    source = str(run.run_dir)
    run.models.append(source)
    run.trained_source = source
    run.titles[source] = f"{TRAIN_MODEL} ({run.trained_steps} steps)"
    losses = result.get("history", {})
    last = ", ".join(
        f"{k} {v[-1]:.4f}" for k, v in losses.items() if v and not k.startswith("val_")
    )
    print(
        f"[train] {TRAIN_MODEL} {TRAIN_CONFIG} ({TRAIN_RECIPE} recipe): steps {done} -> "
        f"{run.trained_steps} at {TRAIN_SIZE} px, batch {TRAIN_BATCH}, in {run.run_dir}"
        + (f"; last epoch: {last}" if last else "")
        + f" in {time.perf_counter() - start:.1f} s"
    )


def step_evaluate(run: DemoRun) -> None:
    from tfinpaint.evaluation import evaluate

    images = [image for image, _ in run.pairs()]
    for name in run.models:
        start = time.perf_counter()
        with model_errors(name):
            results = evaluate(
                name,
                images,
                run.masks,
                size=run.args.size,
                progress=not run.args.no_progress,
            )
        results["meta"]["seconds"] = round(time.perf_counter() - start, 2)
        run.results[run.title(name)] = results
        print(
            f"[evaluate] {run.title(name)}: {len(images)} images in "
            f"{results['meta']['seconds']:.1f} s"
        )


def _json_ready(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return _json_ready(value.item())
    if isinstance(value, pathlib.Path):
        return str(value)
    return value


def step_report(run: DemoRun) -> None:
    from tfinpaint.metrics import results_to_markdown

    args = run.args
    lines = [
        "# tfinpaint demo",
        "",
        f"{len(run.masks)} {args.mask_kind} masks ({args.per_bucket} per hole-ratio bucket, "
        f"seed {args.seed}) on {len(run.images)} photos at {args.size}x{args.size} "
        "(centre crop). Higher PSNR / SSIM and lower L1 are better.",
        "",
    ]
    if run.run_dir is not None:
        lines += [
            f"{run.title(str(run.run_dir))}: trained by this demo on these photos "
            f"({TRAIN_SIZE} px crops, {TRAIN_RECIPE} recipe, run directory {run.run_dir}); "
            "it shows the pipeline, it is no benchmark.",
            "",
        ]
    for name, results in run.results.items():
        lines += [f"## {name}", "", results_to_markdown(results)]
    markdown = "\n".join(lines)
    run.paths["md"] = run.out / "metrics.md"
    run.paths["md"].write_text(markdown, encoding="utf-8")

    run.paths["csv"] = run.out / "metrics.csv"
    with open(run.paths["csv"], "w", newline="", encoding="utf-8") as f:
        writer = None
        for name, results in run.results.items():
            for group, agg in results["groups"].items():
                row = {"model": name, "group": group, **agg, "on": results["on"]}
                if writer is None:
                    writer = csv.DictWriter(f, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(row)

    run.paths["json"] = run.out / "metrics.json"
    document = {
        "settings": {
            "size": args.size,
            "per_bucket": args.per_bucket,
            "mask_kind": args.mask_kind,
            "seed": args.seed,
            "images": [str(p) for p in run.images],
            "masks": str(run.mask_dir),
            "train_steps": run.trained_steps,
            "run_dir": None if run.run_dir is None else str(run.run_dir),
        },
        "models": run.results,
    }
    run.paths["json"].write_text(
        json.dumps(_json_ready(document), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    print()
    print(markdown)


def picture_rows(run: DemoRun, rows: int = PICTURE_ROWS) -> list[int]:
    """Indices of the pairs shown in ``demo.png``: spread over the mask list (and buckets)."""
    n = len(run.masks)
    count = min(rows, n)
    return sorted({int(round(i * (n - 1) / max(count - 1, 1))) for i in range(count)})


def picture_size(size: int, rows: int, models: int) -> tuple[int, int]:
    """``(width, height)`` of ``demo.png``: ``3 + models`` columns of ``size`` tiles."""
    cols = 3 + models
    return GAP + cols * (size + GAP), HEADER + rows * (size + GAP)


def step_picture(run: DemoRun) -> None:
    from PIL import Image, ImageDraw

    from tfinpaint.evaluation import read_image, read_mask
    from tfinpaint.inference import Inpainter

    size = run.args.size
    models = run.picture_models()
    inpainters = {name: Inpainter(name) for name in models}
    pairs = run.pairs()
    chosen = picture_rows(run)
    width, height = picture_size(size, len(chosen), len(models))
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    titles = ["input", "mask (white = hole)", "masked input"] + [run.title(m) for m in models]
    for c, title in enumerate(titles):
        draw.text((GAP + c * (size + GAP), 6), title[: max(8, size // 6)], fill="black")
    for r, k in enumerate(chosen):
        image_path, mask_path = pairs[k]
        image = np.round(read_image(image_path, size) * 255).astype(np.uint8)
        hole = read_mask(mask_path, size)[..., 0] < 0.5
        masked = np.where(hole[..., None], np.uint8(255), image)
        tiles = [image, np.repeat((hole * 255).astype(np.uint8)[..., None], 3, -1), masked]
        tiles += [inpainters[name](image, hole) for name in models]
        y = HEADER + r * (size + GAP)
        for c, tile in enumerate(tiles):
            canvas.paste(Image.fromarray(tile), (GAP + c * (size + GAP), y))
        label_xy = (GAP + size + GAP + 4, y + 4)
        label = f"{100 * hole.mean():.0f}% hole"
        draw.rectangle(draw.textbbox(label_xy, label), fill="black")
        draw.text(label_xy, label, fill="yellow")
    run.paths["png"] = run.out / "demo.png"
    canvas.save(run.paths["png"])
    print(f"[picture] {run.paths['png']}: {len(chosen)} rows x {len(titles)} columns")


def step_export(run: DemoRun) -> None:
    """Exports the trained run as ``OUT/saved_models/pconv_unet/1`` (replacing an older one)."""
    if run.run_dir is None:
        return
    from tfinpaint.export.saved_model import export_saved_model

    start = time.perf_counter()
    version_dir = export_saved_model(
        run.run_dir,
        run.out / "saved_models",
        TRAIN_MODEL,
        EXPORT_VERSION,
        overwrite=True,
        metadata={"run_dir": str(run.run_dir), "steps": run.trained_steps},
    )
    run.paths["saved_model"] = version_dir
    print(
        f"[export] {run.title(str(run.run_dir))} -> {version_dir} "
        f"in {time.perf_counter() - start:.1f} s"
    )


def step_serve(run: DemoRun) -> None:
    """Serves ``OUT/saved_models`` over gRPC, inpaints one photo through it, checks the answer."""
    if "saved_model" not in run.paths:
        return
    from PIL import Image

    from tfinpaint.evaluation import read_image, read_mask
    from tfinpaint.export.model_server import ModelServer
    from tfinpaint.export.serving import GrpcClient
    from tfinpaint.inference import Inpainter

    size = run.args.size
    image_path, mask_path = run.pairs()[-1]  # the last pair: the largest-hole bucket
    image = np.round(read_image(image_path, size) * 255).astype(np.uint8)
    hole = read_mask(mask_path, size)[..., 0] < 0.5
    expected = Inpainter(run.run_dir)(image, hole)

    start = time.perf_counter()
    server = ModelServer(
        run.out / "saved_models",
        host="127.0.0.1",
        grpc_port=0,
        rest_port=0,
        model_names=[TRAIN_MODEL],
    )
    server.start()
    try:
        loaded = time.perf_counter() - start
        target = f"127.0.0.1:{server.grpc_port}"
        with GrpcClient(target, TRAIN_MODEL, version=EXPORT_VERSION) as client:
            t0 = time.perf_counter()
            served = client.predict(image, hole)
            first = time.perf_counter() - t0
            latencies = []
            for _ in range(3):
                t0 = time.perf_counter()
                client.predict(image, hole)
                latencies.append(time.perf_counter() - t0)
    finally:
        server.stop()
    run.paths["served"] = run.out / "served.png"
    Image.fromarray(served).save(run.paths["served"])
    diff = int(np.abs(served.astype(np.int16) - expected.astype(np.int16)).max())
    print(
        f"[serve] gRPC {target} ({TRAIN_MODEL} version {EXPORT_VERSION}, loaded in "
        f"{loaded:.1f} s): {image_path.name} + {mask_path.name} ({100 * hole.mean():.0f}% hole) "
        f"at {size}x{size} -> {run.paths['served']}; latency {1000 * first:.0f} ms first, "
        f"{1000 * float(np.median(latencies)):.0f} ms median of the next {len(latencies)}; "
        f"max |served - in-process| = {diff} (uint8)"
    )
    if diff > SERVE_TOLERANCE:
        raise CLIError(
            f"the served result differs from the in-process Inpainter by {diff} uint8 steps "
            f"(> {SERVE_TOLERANCE}) on {image_path.name} + {mask_path.name}"
        )


STEPS: list[tuple[str, Callable[[DemoRun], None]]] = [
    ("images", step_images),
    ("masks", step_masks),
    ("train", step_train),
    ("evaluate", step_evaluate),
    ("report", step_report),
    ("picture", step_picture),
    ("export", step_export),
    ("serve", step_serve),
]


def run(args) -> int:
    check_at_least("--size", args.size, 64)
    check_at_least("--per-bucket", args.per_bucket, 1)
    check_at_least("--train-steps", args.train_steps, 0)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not models:
        raise CLIError(f"--models names no model. Received: --models {args.models!r}")
    out = output_dir("--out", args.out, create=True)
    demo = DemoRun(args=args, out=out, models=models)
    start = time.perf_counter()
    seconds = {}
    for name, step in STEPS:
        t0 = time.perf_counter()
        step(demo)
        seconds[name] = time.perf_counter() - t0
    print("Step times: " + ", ".join(f"{name} {t:.1f} s" for name, t in seconds.items()))
    print("Wrote:")
    for key in ("md", "csv", "json", "png", "saved_model", "served"):
        if key in demo.paths:
            print(f"  {demo.paths[key]}")
    print(f"Done in {time.perf_counter() - start:.1f} s.", file=sys.stderr)
    return 0
