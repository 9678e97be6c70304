"""Argument helpers shared by the ``tfinpaint`` subcommands.

The parser side (``add_*``) keeps flags, help texts and choices identical across commands; the
checks (``check_*``, :func:`existing_path`, :func:`output_dir`, :func:`model_errors`) turn bad
input into :class:`~tfinpaint.cli.CLIError` with the message shape used everywhere:
``"--flag must be >= N. Received: --flag V"`` and ``"LABEL PATH: problem"`` (exit code 2).
Value checks run in ``run(args)`` rather than as argparse types, so they return exit code 2
through :func:`tfinpaint.cli.main` instead of raising ``SystemExit``; :func:`parse_size` is the
exception (a malformed size is a usage error).

This module imports nothing heavy (no numpy, TensorFlow or OpenCV): ``tfinpaint --help`` builds
every parser.
"""

from __future__ import annotations

import argparse
import contextlib
import pathlib
import re

from tfinpaint.cli import CLIError

#: ``--mask-polarity`` values: ``hole`` = white is the area to fill (the default everywhere),
#: ``known`` = white is a known pixel (``hole_is_white=False`` in the library).
MASK_POLARITIES = ("hole", "known")


# --------------------------------------------------------------------------------------------
# Parser side
# --------------------------------------------------------------------------------------------


def add_command(subparsers, name: str, func, help: str, description: str | None = None,
                epilog: str | None = None) -> argparse.ArgumentParser:
    """Adds subcommand ``name`` running ``func(args) -> int``; help text kept as written.

    ``description`` defaults to ``help``; the raw formatter keeps the line breaks of the
    description and epilog (examples, tables of kinds).
    """
    parser = subparsers.add_parser(
        name,
        help=help,
        description=help if description is None else description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser


def add_model_argument(parser, default: str | None = None) -> None:
    """``--model``: a registered name, a training run directory or a ``*.weights.h5`` file.

    Required when ``default`` is ``None``.
    """
    text = "registered model name (e.g. cv2-telea), training run directory or *.weights.h5"
    if default is not None:
        text += f" (default {default})"
    parser.add_argument("--model", required=default is None, default=default, help=text)


def add_mask_polarity_argument(parser) -> None:
    """``--mask-polarity hole|known`` (default ``hole``: white = area to fill)."""
    parser.add_argument(
        "--mask-polarity",
        choices=MASK_POLARITIES,
        default="hole",
        help="'hole' (default): white = area to fill; 'known': white = known pixels",
    )


def add_no_progress_argument(parser) -> None:
    """``--no-progress``: hide the tqdm progress bars (written to stderr)."""
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def parse_size(text: str, minimum: int = 8) -> tuple[int, int]:
    """argparse type for ``N`` or ``HxW`` (also ``H,W``): ``"256" -> (256, 256)``.

    Raises ``argparse.ArgumentTypeError`` (a usage error) when malformed or below ``minimum``.
    """
    m = re.fullmatch(r"\s*(\d+)\s*(?:[xX,]\s*(\d+)\s*)?", text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"--size must be N or HxW (e.g. 256 or 256x384). Received: {text!r}"
        )
    h = int(m.group(1))
    w = int(m.group(2)) if m.group(2) else h
    if h < minimum or w < minimum:
        raise argparse.ArgumentTypeError(
            f"--size must be at least {minimum}x{minimum}. Received: {text!r}"
        )
    return h, w


# --------------------------------------------------------------------------------------------
# Checks in run(args)
# --------------------------------------------------------------------------------------------


def check_at_least(flag: str, value, low) -> None:
    """``CLIError("--flag must be >= low. Received: --flag value")`` when ``value < low``.

    ``None`` (an optional flag left out) passes.
    """
    if value is not None and value < low:
        raise CLIError(f"{flag} must be >= {low}. Received: {flag} {value}")


def existing_path(label: str, path) -> pathlib.Path:
    """``pathlib.Path(path)``, or ``CLIError("LABEL PATH: does not exist")``."""
    path = pathlib.Path(path)
    if not path.exists():
        raise CLIError(f"{label} {path}: does not exist")
    return path


def output_dir(label: str, path, create: bool = False) -> pathlib.Path:
    """An output folder: ``CLIError`` when ``path`` exists and is not a folder.

    With ``create`` the folder (and its parents) is made.
    """
    path = pathlib.Path(path)
    if path.exists() and not path.is_dir():
        raise CLIError(f"{label} {path}: exists and is not a folder")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def model_errors(model: str):
    """Turns a failure to resolve / load ``model`` into ``CLIError("model NAME: reason")``.

    Catches what the registry and ``tfinpaint.inference.load`` raise for bad input:
    ``FileNotFoundError``, ``ValueError`` and ``KeyError`` (whose message is its first arg).
    """
    try:
        yield
    except (FileNotFoundError, ValueError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        raise CLIError(f"model {model}: {msg}") from None
