"""The ``tfinpaint`` command.

One module per subcommand in this package; each defines ``add_parser(subparsers)`` which adds its
parser and sets ``func(args) -> int``. Exit codes: 0 success, 1 the job failed, 2 bad input or
usage (the message names the file and the problem), 130 interrupted.

Conventions shown in ``tfinpaint --help``: images are read as RGB; **a mask's white pixels
mark the area to fill** (the rule of :mod:`tfinpaint.data.polarity`), as in ``cv2.inpaint``;
use ``--mask-polarity known`` for mask sets where white means a known pixel.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import re
import sys
import threading

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
)

DESCRIPTION = """\
tfinpaint: image inpainting for TensorFlow and Keras 3.

Conventions at the command line:
  * images: any format Pillow/TensorFlow decode (jpg, png, webp, bmp); converted to RGB.
  * masks:  WHITE = AREA TO FILL (hole), black = keep, by one rule everywhere: a 0/1
            mask is a hole where 1, a 0..255 mask where >= 128 (antialiased and JPEG
            edges are cut at half scale); colour masks use their brightest channel,
            transparent pixels are never holes. A mask of another size than its image
            (same aspect ratio) is resized with nearest neighbour. Use --mask-polarity
            known for mask sets whose white pixels are the known ones.
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
            raise ImportError(
                f"CLI module 'tfinpaint.cli.{name}' is listed in _COMMANDS "
                "(tfinpaint/cli/__init__.py) but does not exist."
            ) from e
        module.add_parser(sub)
    return parser


# TensorFlow's native start-up lines: absl's pre-init notice, the oneDNN and CUDA-stub INFO lines
# (written before absl reads TF_CPP_MIN_LOG_LEVEL, so the variable cannot hide them) and, on a
# machine without a GPU, the E-level "failed call to cuInit" / factory registration lines.
_NATIVE_NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|[IWE]\d{4} [\d:.]+\s+\d+ (port\.cc|cudart_stub\.cc|cuda_platform\.cc|cuda_executor\.cc"
    rb"|cuda_dnn\.cc|cuda_fft\.cc|cuda_blas\.cc|cpu_feature_guard\.cc|computation_placer\.cc"
    rb"|gpu_device\.cc|cuda_diagnostics\.cc)[:\]]"
    rb"|.*(failed call to cuInit|Unable to register cu(DNN|FFT|BLAS) factory|TF-TRT Warning"
    rb"|This TensorFlow binary is optimized to use available CPU instructions"
    rb"|To enable the following instructions:))"
)


def quiet_tensorflow_startup() -> None:
    """Hides TensorFlow's native start-up lines for the command line (must run before TF loads).

    Sets ``TF_CPP_MIN_LOG_LEVEL=2`` (INFO and WARNING of later native logs) unless the user set
    it, and filters file descriptor 2 through a thread that drops only the lines matched by
    ``_NATIVE_NOISE``: every other line, Python's and TensorFlow's real errors included, goes
    through unchanged. ``TFINPAINT_TF_LOGS=1`` turns both off.
    """
    if os.environ.get("TFINPAINT_TF_LOGS") == "1" or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sys.stderr.flush()
        real = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
    except OSError:  # no usable fd 2 (embedded interpreters): keep the logs
        return

    def pump():
        pending = b""
        while True:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            pending += chunk
            # Forward whole lines (and progress bars' \r-terminated updates) as they come.
            *done, pending = re.split(rb"(?<=[\n\r])", pending)
            for line in done:
                if not _NATIVE_NOISE.match(line):
                    os.write(real, line)
        if pending and not _NATIVE_NOISE.match(pending):
            os.write(real, pending)

    thread = threading.Thread(target=pump, name="tfinpaint-stderr", daemon=True)
    thread.start()

    def restore():
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(real, 2)  # closes the pipe's last write end: the pump sees EOF and drains
        thread.join(timeout=5.0)

    atexit.register(restore)


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the `tfinpaint` command itself (tests calling main([...]) keep their fds)
        quiet_tensorflow_startup()
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
    except Exception as e:
        # A TensorFlow op failing on the data (e.g. every image of a folder unreadable): its
        # own message, without the graph's node names and stack trace.
        tf_errors = sys.modules.get("tensorflow.python.framework.errors_impl")
        if tf_errors is None or not isinstance(e, tf_errors.OpError):
            raise
        message = (e.message or str(e)).strip()
        if "assertion failed:" in message:
            message = message[message.index("assertion failed:") + len("assertion failed:"):]
        message = message.split("\n")[0].strip().strip("[]").split("] [Condition")[0]
        print(f"tfinpaint: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
