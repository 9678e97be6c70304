"""``tfinpaint masks``: write a reproducible set of hole masks (PNG, white = hole) + index."""

from __future__ import annotations

import argparse
import sys

from tfinpaint.cli import CLIError
from tfinpaint.cli.common import (
    add_command,
    add_no_progress_argument,
    check_at_least,
    output_dir,
    parse_size,
)

# Kept in sync with tfinpaint.data.masks presets (checked by tests/cli/masks_cli_test.py);
# listed here so that `--help` does not import OpenCV or TensorFlow.
_KINDS = {
    "pconv": "NVIDIA/PConv-Keras lines, circles and ellipses (1-20 each)",
    "deepfill_v2": "DeepFill v2 free-form brush strokes (1-3 strokes, width 12-40 at 256)",
    "deepfill_v2_box": "DeepFill v2 training masks: strokes OR a random box (<=128 at 256)",
    "lama_thin": "LaMa random_thin_256 evaluation masks",
    "lama_medium": "LaMa random_medium_256 evaluation masks",
    "lama_thick": "LaMa random_thick_256 evaluation masks",
    "lama_thin_512": "LaMa random_thin_512 evaluation masks",
    "lama_medium_512": "LaMa random_medium_512 evaluation masks",
    "lama_thick_512": "LaMa random_thick_512 evaluation masks",
    "rect_center": "centred box of half the side (25 % of the image)",
    "rect_random": "one box at a random position, sides 25-50 % of the image's",
}

DESCRIPTION = """\
Write a reproducible mask set: one PNG per mask, uint8, WHITE (255) = HOLE (area to fill),
black (0) = known pixel -- the convention of every tfinpaint command, OpenCV cv2.inpaint, LaMa
and NVIDIA's irregular-mask set. OUTDIR also gets index.csv (filename, hole_ratio, bucket) and
index.json (the same rows plus kind, generator config, size, seed and polarity).

Mask i of a seed depends only on (seed, i): the same command always writes the same files.
Sizes scale with --size (the LaMa presets keep their ratio distribution at any size).

With --buckets, --count is the number of masks PER BUCKET and every mask's hole ratio
(measured at --size) lies in its bucket [lo, hi): the NVIDIA test-set buckets are
1-10%, 10-20%, 20-30%, 30-40%, 40-50%, 50-60% ("all"); custom ones such as 5-15% work too.
"""

EPILOG = "kinds:\n" + "\n".join(f"  {k:<16} {v}" for k, v in _KINDS.items()) + """

examples:
  tfinpaint masks --kind lama_thick --count 1000 --size 256 out/masks_thick
  tfinpaint masks --kind pconv --buckets all --count 200 --size 512 --seed 1 out/nvidia_like
  tfinpaint masks --kind deepfill_v2 --buckets "10-20%,20-30%" --count 50 --size 256x384 out/m
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, "masks", run,
                    help="write a mask set (PNG, white = hole) with a hole-ratio index",
                    description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("outdir", metavar="OUTDIR", help="output folder (created if missing)")
    p.add_argument("--kind", required=True, metavar="KIND",
                   help="mask family (see 'kinds' below)")
    p.add_argument("--count", required=True, type=int, metavar="N",
                   help="number of masks; with --buckets, masks per bucket")
    p.add_argument("--size", type=parse_size, default=(256, 256), metavar="N|HxW",
                   help="mask size in pixels (default 256)")
    p.add_argument("--buckets", default=None, metavar="all|LIST",
                   help='hole-ratio buckets: "all" or a list such as "10-20%%,20-30%%"')
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--overwrite", action="store_true",
                   help="write into OUTDIR even if it already holds an index.json")
    add_no_progress_argument(p)
    return p


def run(args) -> int:
    from tfinpaint.data import masks as masks_lib

    kind = args.kind.strip().lower().replace("-", "_")
    if kind not in masks_lib.list_mask_kinds():
        raise CLIError(f"--kind {args.kind!r} is not a mask kind; choose one of: "
                       f"{', '.join(masks_lib.list_mask_kinds())}")
    check_at_least("--count", args.count, 1)
    check_at_least("--seed", args.seed, 0)
    buckets = None
    if args.buckets is not None:
        try:
            buckets = masks_lib.parse_buckets(args.buckets)
        except ValueError as e:
            raise CLIError(f"--buckets: {e}") from e
    out = output_dir("OUTDIR", args.outdir)
    if (out / "index.json").exists() and not args.overwrite:
        raise CLIError(f"OUTDIR {out} already holds a mask set (index.json); "
                       f"use --overwrite or another folder")

    from tqdm import tqdm

    total = args.count * (len(buckets) if buckets else 1)
    bar = tqdm(total=total, unit="mask", desc=f"masks {kind}", file=sys.stderr,
               disable=args.no_progress, dynamic_ncols=True)
    try:
        if buckets:
            index = masks_lib.write_mask_set(out, kind, args.size, buckets=buckets,
                                             per_bucket=args.count, seed=args.seed,
                                             progress=bar.update)
        else:
            index = masks_lib.write_mask_set(out, kind, args.size, count=args.count,
                                             seed=args.seed, progress=bar.update)
    except masks_lib.BucketFillError as e:
        bar.close()
        print(f"tfinpaint: error: {e}", file=sys.stderr)
        return 1
    bar.close()
    n = len(index["masks"])
    mean = sum(m["hole_ratio"] for m in index["masks"]) / max(n, 1)
    print(f"wrote {n} masks ({args.size[0]}x{args.size[1]}, {kind}, seed {args.seed}, "
          f"mean hole ratio {mean:.3f}) to {out} (white = hole; index.csv, index.json)")
    return 0
