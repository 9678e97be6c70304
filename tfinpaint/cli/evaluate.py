"""``tfinpaint evaluate``: score a model on an image folder and a mask folder, per hole ratio.

Example::

    tfinpaint evaluate --model cv2-telea --images photos/ --masks masks/ --out out/eval

prints a markdown table (``total`` and each hole-ratio bucket ``1-10%`` ... ``50-60%``) and, with
``--out``, writes ``metrics.md``, ``metrics.csv`` and ``metrics.json`` there (and the composites
under ``images/`` with ``--save-images``). See :mod:`tfinpaint.evaluation` for the pairing rule
(sorted names, image i with mask i mod number of masks) and :mod:`tfinpaint.metrics` for the
metric variants.
"""

from __future__ import annotations

import argparse

from tfinpaint.cli import CLIError
from tfinpaint.cli.common import (
    add_command,
    add_mask_polarity_argument,
    add_model_argument,
    add_no_progress_argument,
    check_at_least,
    existing_path,
    output_dir,
)

HELP = "Evaluate a model (PSNR / SSIM / L1 per hole-ratio bucket) on images and masks."

EPILOG = """\
Masks: WHITE / NONZERO = HOLE (area to fill) unless --mask-polarity known. Folders are searched
recursively for images (as the training pipelines do) and sorted by path; image i is paired with
mask (i mod number of masks). The hole ratio that picks the bucket is measured on each mask after
resizing to --size.
Variants: 'standard' = RGB PSNR, SSIM (Gaussian 11x11, sigma 1.5), mean L1;
'edgeconnect' = the EdgeConnect/MANet scripts (grayscale, SSIM window 51, relative MAE); the two
are not comparable. Scores the composite (known pixels from the image) unless --on raw.
Models: registered names (cv2-telea, cv2-ns, and the networks), or a training run directory /
exported model.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, "evaluate", run, help=HELP, epilog=EPILOG)
    add_model_argument(p)
    p.add_argument("--images", required=True, help="folder (or file) of ground-truth images")
    p.add_argument("--masks", required=True, help="folder (or file) of masks, white = hole")
    p.add_argument("--size", type=int, default=256, help="evaluation size (square), default 256")
    p.add_argument(
        "--crop",
        choices=("center_crop", "resize", "none"),
        default="center_crop",
        help="how images become size x size (default center_crop)",
    )
    p.add_argument(
        "--variant",
        choices=("standard", "edgeconnect"),
        default="standard",
        help="metric formulas (default standard)",
    )
    p.add_argument(
        "--on",
        choices=("composite", "raw"),
        default="composite",
        help="score the composite (default) or the raw model output",
    )
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N images")
    p.add_argument("--batch-size", type=int, default=8, help="images per model call (default 8)")
    add_mask_polarity_argument(p)
    p.add_argument("--out", default=None, help="folder for metrics.md/.csv/.json")
    p.add_argument(
        "--save-images",
        action="store_true",
        help="also write the scored images (composites) to OUT/images/",
    )
    p.add_argument(
        "--no-quantize",
        action="store_true",
        help="score the float output instead of rounding it to 8 bits first",
    )
    add_no_progress_argument(p)
    return p


def run(args) -> int:
    from tfinpaint.evaluation import evaluate
    from tfinpaint.metrics import results_to_markdown, write_results

    for flag, value in (("--size", args.size), ("--limit", args.limit),
                        ("--batch-size", args.batch_size)):
        check_at_least(flag, value, 1)
    if args.save_images and not args.out:
        raise CLIError("--save-images needs --out (images are written to OUT/images/)")
    existing_path("--images", args.images)
    existing_path("--masks", args.masks)
    out = output_dir("--out", args.out) if args.out else None
    try:
        results = evaluate(
            args.model,
            args.images,
            args.masks,
            size=args.size,
            crop=args.crop,
            variant=args.variant,
            batch_size=args.batch_size,
            on=args.on,
            limit=args.limit,
            progress=not args.no_progress,
            mask_polarity=args.mask_polarity,
            quantize=not args.no_quantize,
            save_images=(out / "images") if (out and args.save_images) else None,
        )
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(str(e)) from None
    print(results_to_markdown(results), end="")
    if out is not None:
        paths = write_results(results, out)
        print(f"\nWrote {paths['md']}, {paths['csv']}, {paths['json']}")
    return 0
