"""The ``tfinpaint`` command.

One module per subcommand in this package; each defines ``add_parser(subparsers)`` which adds its
parser and sets ``func(args) -> int``. Exit codes: 0 success, 1 the job failed, 2 bad input or
usage (the message names the file and the problem), 130 interrupted.

Conventions shown in ``tfinpaint --help``: images are read as RGB; **a mask's white pixels
mark the area to fill** (uint8 > 127, float > 0.5), as in OpenCV ``cv2.inpaint`` and LaMa;
use ``--mask-polarity known`` for mask sets where white means a known pixel.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Subcommand modules, in the order ``--help`` lists them.
_COMMANDS = (
    "demo",
    "masks",
    "evaluate",
    "inpaint",
    "train",
    "export",
    "serve",
    "predict",
    "tflite",
    "convert",
    "ui",
)

DESCRIPTION = """\
tfinpaint: image inpainting for TensorFlow and Keras 3.

Conventions at the command line:
  * images: any format Pillow/TensorFlow decode (jpg, png, webp, bmp); converted to RGB.
  * masks:  WHITE = AREA TO FILL (hole), black = keep: mask files are binarized with
            > 127 (float masks: > 0.5; any channel counts). A mask of another size than
            its image is resized with nearest neighbour. Use --mask-polarity known for mask
            sets whose white pixels are the known ones. (Raw uint8 tensors sent to the
            serving signature count any nonzero value as a hole.)
  * models: a registered name (see `tfinpaint evaluate --help`), e.g. cv2-telea, cv2-ns,
            pconv_unet, rfr_net, or a training run directory / exported model.
Exit codes: 0 ok, 1 job failed, 2 bad input (the message names the file and the problem).
"""


class CLIError(Exception):
    """Bad user input: printed as ``tfinpaint: error: ...`` with exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfinpaint",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(f"tfinpaint.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"tfinpaint.cli.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CLIError as e:
        print(f"tfinpaint: error: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"tfinpaint: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfinpaint: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
