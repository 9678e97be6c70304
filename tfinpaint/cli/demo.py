"""``tfinpaint demo``: the main job end to end, on a fresh install, offline.

Steps (each a function of a shared :class:`DemoRun`, listed in :data:`STEPS`, so later issues
can add training, export and serving steps by appending to the list):

1. ``images``: the photographs to inpaint. By default the real colour photographs shipped
   inside the scikit-image wheel (:data:`SKIMAGE_PHOTOS`), so nothing is downloaded; or every
   image of ``--images DIR`` (searched recursively, as :func:`tfinpaint.evaluation.evaluate`
   lists folders; files under ``--out`` are left out, so a second run does not read its own
   output).
2. ``masks``: a bucketed hole-mask set written with :func:`tfinpaint.data.masks.write_mask_set`:
   ``--per-bucket`` masks in each NVIDIA/PConv hole-ratio bucket of
   :data:`tfinpaint.data.masks.BUCKETS` (1-10 % ... 50-60 %), kind ``lama_thick`` (LaMa's thick
   evaluation masks: strokes plus boxes), PNG with white = hole, at ``--size``.
3. ``evaluate``: each model of ``--models`` (default the classical baselines ``cv2-telea`` and
   ``cv2-ns``) with :func:`tfinpaint.evaluation.evaluate`: images centre-cropped and resized to
   ``--size``, mask ``i`` paired with image ``i mod number of images`` (every mask is used once),
   composite scored with PSNR / SSIM / L1 per bucket and in total.
4. ``report``: ``metrics.md`` (one table per model), ``metrics.csv`` (one row per model and
   group) and ``metrics.json`` (everything, per image too) in ``--out``; the tables are printed.
5. ``picture``: ``demo.png``: one row per selected photo (masks from different buckets) with the
   columns input, mask (white = hole), masked input (holes white), and the result of each model
   (:class:`tfinpaint.inference.Inpainter`, the same composite that was scored).
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

DEFAULT_MODELS = "cv2-telea,cv2-ns"

DESCRIPTION = f"""\
{HELP}

Runs offline on a fresh install. Steps:
  images    photos shipped with scikit-image, or every image of --images DIR (recursive)
            ({", ".join(p.rsplit(".", 1)[0] for p in SKIMAGE_PHOTOS)})
  masks     --per-bucket masks in each hole-ratio bucket 1-10% ... 50-60% (white = hole)
  evaluate  each model of --models: PSNR / SSIM / L1 of the composite, per bucket and total
  report    OUT/metrics.md (one table per model), metrics.csv, metrics.json; tables printed
  picture   OUT/demo.png: input | mask | masked input | result of each model
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
        run.results[name] = results
        print(f"[evaluate] {name}: {len(images)} images in {results['meta']['seconds']:.1f} s")


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
    inpainters = {name: Inpainter(name) for name in run.models}
    pairs = run.pairs()
    chosen = picture_rows(run)
    width, height = picture_size(size, len(chosen), len(run.models))
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    titles = ["input", "mask (white = hole)", "masked input"] + list(run.models)
    for c, title in enumerate(titles):
        draw.text((GAP + c * (size + GAP), 6), title[: max(8, size // 6)], fill="black")
    for r, k in enumerate(chosen):
        image_path, mask_path = pairs[k]
        image = np.round(read_image(image_path, size) * 255).astype(np.uint8)
        hole = read_mask(mask_path, size)[..., 0] < 0.5
        masked = np.where(hole[..., None], np.uint8(255), image)
        tiles = [image, np.repeat((hole * 255).astype(np.uint8)[..., None], 3, -1), masked]
        tiles += [inpainters[name](image, hole) for name in run.models]
        y = HEADER + r * (size + GAP)
        for c, tile in enumerate(tiles):
            canvas.paste(Image.fromarray(tile), (GAP + c * (size + GAP), y))
        label_xy = (GAP + size + GAP + 4, y + 4)
        label = f"{100 * hole.mean():.0f}% hole"
        draw.rectangle(draw.textbbox(label_xy, label), fill="black")
        draw.text(label_xy, label, fill="yellow")
    run.paths["png"] = run.out / "demo.png"
    canvas.save(run.paths["png"])


STEPS: list[tuple[str, Callable[[DemoRun], None]]] = [
    ("images", step_images),
    ("masks", step_masks),
    ("evaluate", step_evaluate),
    ("report", step_report),
    ("picture", step_picture),
]


def run(args) -> int:
    check_at_least("--size", args.size, 64)
    check_at_least("--per-bucket", args.per_bucket, 1)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not models:
        raise CLIError(f"--models names no model. Received: --models {args.models!r}")
    out = output_dir("--out", args.out, create=True)
    demo = DemoRun(args=args, out=out, models=models)
    start = time.perf_counter()
    for _, step in STEPS:
        step(demo)
    print("Wrote:")
    for key in ("md", "csv", "json", "png"):
        if key in demo.paths:
            print(f"  {demo.paths[key]}")
    print(f"Done in {time.perf_counter() - start:.1f} s.", file=sys.stderr)
    return 0
