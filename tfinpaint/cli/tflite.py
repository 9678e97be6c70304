"""``tfinpaint tflite``, ``tflite-run`` and ``tflite-check``: TFLite models for the edge.

Examples::

    tfinpaint tflite runs/rfr_paris --size 256x256 -o rfr.tflite
    tfinpaint tflite saved_models/rfr/3 --size 256x256 --quantize int8 \\
        --calibration-images photos/val -o rfr_int8.tflite
    tfinpaint tflite-run rfr.tflite photo.png --mask mask.png -o filled.png
    tfinpaint tflite-check runs/rfr_paris --size 256x256 --images photos/val
    tfinpaint tflite-check runs/rfr_paris --size 256x256 --images photos/val --quantize none \\
        --profile          # + which ops XNNPACK runs and what each costs

The TFLite model has a fixed input size (``--size`` H x W), uint8 ``image`` and ``mask``
(**white = fill**, the mask rule) inputs and a uint8 ``inpainted`` output, and uses TFLite
builtins only.
See :mod:`tfinpaint.export.tflite` for the quantization modes.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import numpy as np

from tfinpaint.cli import CLIError

HELP = "Convert a model to a fixed-size TFLite model (builtins only, optional quantization)."
RUN_HELP = "Inpaint one image with a .tflite model made by `tfinpaint tflite`."
CHECK_HELP = "Convert at each quantization and compare with the Keras model (max |diff|, PSNR)."

SOURCE_HELP = ("run directory (config.json + generator.weights.h5), SavedModel folder from "
               "`tfinpaint export`, *.weights.h5, a shipped model name (pconv_unet_default), "
               "or a registered name (random weights)")
QUANT_HELP = ("none (float32), float16 (half-size weights), dynamic (int8 weights, float "
              "activations) or int8 (full integer, calibrated on --calibration-images)")


def _size(text: str):
    from tfinpaint.export.tflite import parse_size

    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "tflite", help=HELP, description=HELP + "\n\n" + (__doc__ or "").split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="SAVED_MODEL_OR_RUN", help=SOURCE_HELP)
    p.add_argument("--size", type=_size, required=True, help="fixed input size H x W, e.g. 256x256")
    p.add_argument("--quantize", default="none", help=QUANT_HELP + " (default none)")
    p.add_argument("--calibration-images", metavar="DIR",
                   help="real photos for int8 calibration (folder, glob or list file)")
    p.add_argument("--calibration-steps", type=int, default=16,
                   help="calibration samples for int8 (default 16)")
    p.add_argument("--mask-kind", default="lama_medium",
                   help="mask preset of the calibration masks (default lama_medium)")
    p.add_argument("-o", "--output", required=True, help="output .tflite file")
    p.set_defaults(func=run_convert)

    r = subparsers.add_parser("tflite-run", help=RUN_HELP, description=RUN_HELP)
    r.add_argument("model", metavar="MODEL.tflite")
    r.add_argument("image", metavar="IMAGE")
    r.add_argument("--mask", required=True, help="mask file, WHITE = area to fill")
    r.add_argument("-o", "--output", required=True, help="output image (PNG keeps pixels exact)")
    r.add_argument("--letterbox", action="store_true",
                   help="fit an image of another size into the model's size (aspect kept), "
                        "paste back only the filled pixels; without it the image must have "
                        "the model's size")
    r.add_argument("--threads", type=int, default=2, help="interpreter threads (default 2)")
    r.set_defaults(func=run_inference)

    c = subparsers.add_parser("tflite-check", help=CHECK_HELP, description=CHECK_HELP)
    c.add_argument("source", metavar="SOURCE", help=SOURCE_HELP)
    c.add_argument("--size", type=_size, required=True, help="fixed input size H x W")
    c.add_argument("--images", required=True, metavar="DIR",
                   help="real photos: check images (center crops) and int8 calibration")
    c.add_argument("--quantize", nargs="+", default=["none", "float16", "dynamic", "int8"],
                   help="quantizations to compare (default: all four)")
    c.add_argument("--count", type=int, default=4, help="number of check images (default 4)")
    c.add_argument("--calibration-steps", type=int, default=8,
                   help="int8 calibration samples (default 8)")
    c.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    c.add_argument("--profile", action="store_true",
                   help="also print the per-op profile of each model (op, XNNPACK-delegated "
                        "or not, ms per op; tfinpaint.export.tflite_profile)")
    c.add_argument("--threads", type=int, default=2,
                   help="interpreter threads for --profile (default 2)")
    c.set_defaults(func=run_check)


def _quant(text):
    from tfinpaint.export.tflite import normalize_quantization

    try:
        return normalize_quantization(text)
    except ValueError as e:
        raise CLIError(str(e)) from None


def _source(text):
    path = pathlib.Path(text)
    from tfinpaint.models import list_models
    from tfinpaint.pretrained import list_pretrained

    if not path.exists() and text not in list_models() and text not in list_pretrained():
        raise CLIError(f"model {text}: no such file, folder, shipped or registered model")
    return text


def run_convert(args) -> int:
    from tfinpaint.export import tflite

    quantize = _quant(args.quantize)
    if quantize == "int8" and not args.calibration_images:
        raise CLIError("--quantize int8 needs --calibration-images DIR (real photos)")
    if args.calibration_images and not pathlib.Path(args.calibration_images).exists():
        raise CLIError(f"calibration images {args.calibration_images}: does not exist")
    try:
        flat = tflite.convert(
            _source(args.source), args.size, quantize,
            calibration_images=args.calibration_images,
            calibration_steps=args.calibration_steps, mask_kind=args.mask_kind,
            output_path=args.output,
        )
    except tflite.UnsupportedOpsError as e:
        print(f"tfinpaint: error: {e}", file=sys.stderr)
        return 1
    h, w = args.size
    print(f"wrote {args.output}: {len(flat) / 1e6:.2f} MB, {h}x{w}, quantize={quantize}")
    return 0


def run_inference(args) -> int:
    from PIL import Image

    from tfinpaint.cli.inpaint import read_image, read_mask
    from tfinpaint.export import tflite

    if not pathlib.Path(args.model).is_file():
        raise CLIError(f"model file {args.model}: does not exist")
    image = read_image(pathlib.Path(args.image))
    mask = read_mask(pathlib.Path(args.mask))
    if mask.shape[:2] != image.shape[:2]:
        raise CLIError(
            f"mask file {args.mask}: size {mask.shape[1]}x{mask.shape[0]} differs from the "
            f"image's {image.shape[1]}x{image.shape[0]} (W x H)"
        )
    try:
        runner = tflite.TFLiteInpainter(args.model, num_threads=args.threads)
    except ValueError as e:
        raise CLIError(f"model file {args.model}: {e}") from None
    try:
        result = tflite.run(runner, image, mask,
                            resize="letterbox" if args.letterbox else "none")
    except ValueError as e:
        raise CLIError(f"image file {args.image}: {e}") from None
    out = pathlib.Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(result, np.uint8)).save(out)
    print(f"wrote {out}")
    return 0


def run_check(args) -> int:
    from tfinpaint.data.masks import get_mask_generator
    from tfinpaint.export import tflite

    if not pathlib.Path(args.images).exists():
        raise CLIError(f"images {args.images}: does not exist")
    quantizations = [_quant(q) for q in args.quantize]
    generator = tflite.load_generator(_source(args.source))
    models = {}
    for q in quantizations:
        models[q] = tflite.convert(
            generator, args.size, q, calibration_images=args.images,
            calibration_steps=args.calibration_steps, with_prediction=True,
        )
    masks = get_mask_generator("lama_medium")
    masks = [masks(args.size, seed=1, index=i) * 255 for i in range(args.count)]
    report = tflite.check(generator, models, args.images, masks=masks, size=args.size)
    print(tflite.format_report(report))
    if args.profile:
        from tfinpaint.export import tflite_profile

        for q, flat in models.items():
            rows = tflite_profile.profile(flat, num_threads=args.threads)
            report["rows"][q]["profile"] = rows
            print(f"\nper-op profile, {q} ({args.threads} threads):")
            print(tflite_profile.format_profile(rows))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0
