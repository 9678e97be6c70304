"""``tfinpaint inpaint``: fill the white area of a mask in one image or a folder of images.

Examples::

    tfinpaint inpaint photo.jpg --mask mask.png -o result.png
    tfinpaint inpaint photos/ --mask masks/ -o results/ --model cv2-ns --strategy crop

A mask's **white pixels are filled** (the one rule of :mod:`tfinpaint.data.polarity`: a 0/1
mask where 1, a 0..255 mask where >= 128); ``--mask-polarity known`` reads
masks whose white pixels are the known ones. A mask of another size than its image (same aspect
ratio) is resized with nearest neighbour. In folder mode each image ``NAME.ext`` takes the mask
with the same stem (``NAME.png``, any image extension, or ``NAME_mask.*``) and the result is
written to ``OUT/NAME.png``. Known pixels are copied bit for bit; write PNG (not JPEG) to keep
them exact on disk. The work is done by :class:`tfinpaint.inference.Inpainter`.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import warnings

import numpy as np

from tfinpaint.cli import CLIError
from tfinpaint.cli.common import (
    add_command,
    add_mask_polarity_argument,
    add_model_argument,
    add_no_progress_argument,
    check_at_least,
    existing_path,
    model_errors,
)

HELP = "Inpaint an image (or a folder of images) where its mask is white."

EPILOG = """\
Masks: WHITE = AREA TO FILL, black = keep: a 0/1 mask is a hole where 1, a 0..255 mask where
>= 128 (antialiased and JPEG masks are cut at half scale); colour masks use their brightest
channel, transparent pixels are never holes. --mask-polarity known for masks whose white
pixels are known. A mask may have another size than its image (same aspect
ratio): it is resized with nearest neighbour. A mask with no white pixel leaves the image
unchanged (a warning says so).
Folders: IMAGE is a folder, --mask a folder with masks of the same stems (NAME.png or
NAME_mask.png), -o a folder; results are written as OUT/NAME.png.
Models: cv2-telea (default), cv2-ns, a training run directory (config.json +
generator.weights.h5) or a *.weights.h5 file next to its config.json. A network name without a
run directory has random weights (a warning says so).
Large images (IOPaint strategies): --strategy resize inpaints at --resize-limit (long side) and
pastes the upscaled hole; --strategy crop inpaints a crop around each hole region
(--crop-margin) when the image's long side exceeds --crop-trigger-size.
"""

# Folder mode lists one folder, not recursively (unlike tfinpaint.data.images.list_image_files,
# which `evaluate` uses): results are written as OUT/NAME.png and masks are matched by stem, so
# files of subfolders would collide. TIFF is listed for masks (read with Pillow).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
WRITE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, "inpaint", run, help=HELP, epilog=EPILOG)
    p.add_argument("image", metavar="IMAGE", help="image file, or a folder of images")
    p.add_argument("--mask", required=True, help="mask file (white = fill), or a folder of masks")
    p.add_argument("-o", "--output", required=True, help="output file (e.g. out.png), or a folder")
    add_model_argument(p, default="cv2-telea")
    p.add_argument(
        "--strategy",
        choices=("original", "resize", "crop"),
        default="original",
        help="high-resolution strategy (default original: run at full size)",
    )
    p.add_argument("--resize-limit", type=int, default=1280, help="long side for --strategy resize")
    p.add_argument("--crop-margin", type=int, default=128, help="context around each hole (crop)")
    p.add_argument(
        "--crop-trigger-size",
        type=int,
        default=800,
        help="--strategy crop runs when the long side exceeds this (default 800)",
    )
    p.add_argument(
        "--max-size",
        type=int,
        default=None,
        help="cap on the long side of any model call (larger calls run downscaled)",
    )
    add_mask_polarity_argument(p)
    add_no_progress_argument(p)
    return p


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def read_image(path: pathlib.Path) -> np.ndarray:
    """uint8 RGB ``(H, W, 3)``; ``CLIError`` naming the file when it cannot be decoded."""
    from tfinpaint.data.images import load_image

    try:
        image = load_image(path)
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(f"image file {path}: {_reason(e, path)}") from None
    _warn_transparency(path)
    return image


def _warn_transparency(path: pathlib.Path) -> None:
    """Says so when an image with transparency is flattened onto white (the decoder's rule)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            has_alpha = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
                "transparency" in img.info)
            if has_alpha and img.mode in ("RGBA", "LA"):
                has_alpha = img.getchannel("A").getextrema()[0] < 255
    except Exception:  # noqa: BLE001 - the decoder above already accepted the file
        return
    if has_alpha:
        print(f"tfinpaint: warning: image file {path} has transparent pixels; they are "
              "flattened onto white before inpainting (the result has no alpha channel)",
              file=sys.stderr)


def read_mask(path: pathlib.Path) -> np.ndarray:
    """The mask file as :func:`tfinpaint.data.polarity.read_mask_file` reads it (the one reader);
    ``CLIError`` naming the file when it is missing or cannot be decoded."""
    from tfinpaint.data.polarity import read_mask_file

    try:
        return read_mask_file(path)
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(str(e)) from None


def _reason(error: Exception, path: pathlib.Path) -> str:
    text = str(error)
    for prefix in (f"Image file {path} ", f"Image file not found: {path}"):
        if text.startswith(prefix):
            text = text[len(prefix) :] or "does not exist"
    return text


def _list_images(folder: pathlib.Path, what: str) -> list[pathlib.Path]:
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not files:
        raise CLIError(
            f"{what} folder {folder}: contains no image files ({', '.join(IMAGE_EXTENSIONS)})"
        )
    return files


def _mask_for(stem: str, masks: dict[str, pathlib.Path]) -> pathlib.Path | None:
    return masks.get(stem) or masks.get(f"{stem}_mask")


def plan_jobs(
    image: str, mask: str, output: str
) -> list[tuple[pathlib.Path, pathlib.Path, pathlib.Path]]:
    """``(image, mask, output)`` triples for single-file or folder mode, checked up front."""
    image_path, mask_path = existing_path("image", image), existing_path("mask", mask)
    out_path = pathlib.Path(output)
    if image_path.is_dir():
        if not mask_path.is_dir():
            raise CLIError(
                f"mask {mask_path}: IMAGE {image_path} is a folder, so --mask must be a folder of "
                "masks with the same file stems"
            )
        if out_path.exists() and not out_path.is_dir():
            raise CLIError(f"output {out_path}: IMAGE is a folder, so -o must be a folder")
        images = _list_images(image_path, "image")
        masks = {p.stem: p for p in _list_images(mask_path, "mask")}
        missing = [p.name for p in images if _mask_for(p.stem, masks) is None]
        if missing:
            shown = ", ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            )
            raise CLIError(
                f"mask folder {mask_path}: no mask for {len(missing)} image(s): {shown} "
                "(expected NAME.png or NAME_mask.png with the image's stem)"
            )
        return [(p, _mask_for(p.stem, masks), out_path / f"{p.stem}.png") for p in images]
    if mask_path.is_dir():
        masks = {p.stem: p for p in _list_images(mask_path, "mask")}
        found = _mask_for(image_path.stem, masks)
        if found is None:
            raise CLIError(
                f"mask folder {mask_path}: no mask for {image_path.name} "
                f"(expected {image_path.stem}.png or {image_path.stem}_mask.png)"
            )
        mask_path = found
    if out_path.is_dir() or output.endswith(("/", "\\")):
        out_path = out_path / f"{image_path.stem}.png"
    if out_path.suffix.lower() not in WRITE_EXTENSIONS:
        raise CLIError(
            f"output {out_path}: unknown image extension {out_path.suffix!r} "
            f"(use one of {', '.join(WRITE_EXTENSIONS)}; .png keeps pixels exact)"
        )
    return [(image_path, mask_path, out_path)]


# --------------------------------------------------------------------------------------------
# Command
# --------------------------------------------------------------------------------------------


def run(args) -> int:
    from PIL import Image

    from tfinpaint.inference import Inpainter

    for flag, value, low in (
        ("--resize-limit", args.resize_limit, 8),
        ("--crop-margin", args.crop_margin, 0),
        ("--crop-trigger-size", args.crop_trigger_size, 1),
        ("--max-size", args.max_size, 8),
    ):
        check_at_least(flag, value, low)
    jobs = plan_jobs(args.image, args.mask, args.output)

    with model_errors(args.model):
        inpainter = Inpainter(
            args.model,
            max_size=args.max_size,
            strategy=args.strategy,
            crop_margin=args.crop_margin,
            crop_trigger_size=args.crop_trigger_size,
            resize_limit=args.resize_limit,
            mask_polarity=args.mask_polarity,
        )

    from tqdm.auto import tqdm

    show_bar = len(jobs) > 1 and not args.no_progress
    written = []
    for image_path, mask_path, out_path in tqdm(
        jobs, unit="img", disable=not show_bar, file=sys.stderr, desc="inpaint"
    ):
        image = read_image(image_path)
        mask = read_mask(mask_path)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            try:
                result = inpainter(image, mask)
            except ValueError as e:
                raise CLIError(f"mask file {mask_path} for image {image_path}: {e}") from None
        for w in caught:  # e.g. a mask covering the whole image
            print(f"tfinpaint: warning: {image_path.name}: {w.message}", file=sys.stderr)
        if not _has_hole(mask, args.mask_polarity):
            print(
                f"tfinpaint: warning: mask file {mask_path} marks no pixel to fill (all "
                f"{'black' if args.mask_polarity == 'hole' else 'white'}); "
                f"{image_path.name} is copied unchanged",
                file=sys.stderr,
            )
        out_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            Image.fromarray(result).save(out_path)
        except (OSError, ValueError) as e:
            raise CLIError(f"output {out_path}: cannot be written ({e})") from None
        written.append(out_path)
    if len(written) == 1:
        print(f"Wrote {written[0]}")
    else:
        print(f"Wrote {len(written)} images to {written[0].parent}")
    return 0


def _has_hole(mask: np.ndarray, polarity: str) -> bool:
    from tfinpaint.data.polarity import hole_from_user_mask

    hole = hole_from_user_mask(mask, hole_is_white=(polarity == "hole"))
    return bool(hole.any())
