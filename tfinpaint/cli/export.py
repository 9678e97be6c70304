"""``tfinpaint export``: write a generator as a TF Serving SavedModel (``NAME/VERSION/``).

Examples::

    tfinpaint export runs/pconv --name pconv --out saved_models/
    tfinpaint export runs/pconv --name pconv --version 3 --overwrite --out saved_models/

``RUN_OR_NAME`` is a training run directory (``config.json`` + ``generator.weights.h5``), a
``*.weights.h5`` file next to its ``config.json``, a ``*.keras`` file, or a registered model
name; a name alone has **random, untrained weights** (a loud warning says so; useful only to
test a serving setup). The export is done by
:func:`tfinpaint.export.saved_model.export_saved_model`: signatures ``serving_default`` (uint8
image + uint8 mask, white = hole) and ``encoded`` (image/mask file bytes -> PNG), warmup
requests, and ``assets.extra/tfinpaint.json``. Serve it with ``tfinpaint serve`` or TF Serving
(``--model_base_path=<out>/<name>``).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import warnings

from tfinpaint.cli import CLIError

HELP = "Export a trained generator (or a registry model) as a TF Serving SavedModel."

EPILOG = """\
Layout: OUT/NAME/VERSION/{saved_model.pb, variables/, assets.extra/}. VERSION defaults to the
next free integer; an existing version is only replaced with --overwrite.
Signatures: serving_default (image uint8 [B,H,W,3], mask uint8 [B,H,W,1], WHITE = HOLE by the
mask rule: 0/1 mask where 1, 0..255 mask where >= 128 -> inpainted uint8 [B,H,W,3]) and encoded
(image_bytes, mask_bytes: PNG/JPEG files, same rule -> inpainted_png_bytes).
A bare registry name (e.g. pconv_unet) exports RANDOM weights: only for testing a deployment.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export",
        help=HELP,
        description=HELP,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "model",
        metavar="RUN_OR_NAME",
        help="training run directory, *.weights.h5 / *.keras file, or a registered model name",
    )
    p.add_argument("--name", required=True, help="model name (the folder clients request)")
    p.add_argument("--out", required=True, help="model base folder, e.g. saved_models/")
    p.add_argument("--version", type=int, default=None,
                   help="integer version (default: next free version)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing version")
    p.add_argument("--no-warmup", action="store_true",
                   help="do not write assets.extra/tf_serving_warmup_requests")
    p.set_defaults(func=run)
    return p


def _is_registry_name(text: str) -> bool:
    from tfinpaint.inference import RUN_CONFIG
    from tfinpaint.models import registry

    path = pathlib.Path(text)
    is_run = path.is_file() or (path.is_dir() and (path / RUN_CONFIG).is_file())
    return text in registry.list_models() and not is_run


def run(args) -> int:
    from tfinpaint.export.saved_model import export_saved_model
    from tfinpaint.inference import load
    from tfinpaint.models import registry

    if args.version is not None and args.version <= 0:
        raise CLIError(f"--version must be a positive integer. Received: {args.version}")
    out = pathlib.Path(args.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out}: exists and is not a folder")
    if _is_registry_name(args.model):
        spec = registry.get_spec(args.model)
        if spec.kind != "keras":
            raise CLIError(
                f"model {args.model!r} is a classical method ({spec.kind}); only Keras networks "
                "can be exported as SavedModels"
            )
        print(
            f"WARNING: {args.model!r} is a registry name, not a training run: the export has "
            "RANDOM, UNTRAINED weights and its output is noise. Pass a run directory "
            "(config.json + generator.weights.h5) to export trained weights.",
            file=sys.stderr,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the random-weights warning is printed
        generator = load(args.model)
    try:
        path = export_saved_model(
            generator, out, args.name, args.version, overwrite=args.overwrite,
            warmup=not args.no_warmup, metadata={"source": str(args.model)},
        )
    except FileExistsError as e:
        raise CLIError(str(e)) from None
    except TypeError as e:
        raise CLIError(f"model {args.model}: {e}") from None
    print(f"Exported {args.model} as {args.name!r} version {path.name} to {path}")
    print(f"Serve it with: tfinpaint serve {out}")
    return 0
