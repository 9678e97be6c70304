"""``tfinpaint predict``: inpaint one image by asking a running server (TF Serving or ``serve``).

Examples::

    tfinpaint predict --server localhost:8500 --model pconv photo.jpg --mask mask.png -o out.png
    tfinpaint predict --server localhost:8501 --rest --model pconv photo.jpg --mask m.png -o o.png

The mask file's **white pixels are filled** (the one rule of :mod:`tfinpaint.data.polarity`); a
mask of another size than the image (same aspect ratio) is resized with nearest neighbour.
gRPC (default) sends uint8 tensors to ``serving_default``;
``--rest`` sends PNG files as ``{"b64": ...}`` to the ``encoded`` signature. Both go through
:mod:`tfinpaint.export.serving`, retrying while the server is UNAVAILABLE.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

from tfinpaint.cli import CLIError

HELP = "Inpaint an image with a model served by TF Serving or `tfinpaint serve`."

EPILOG = """\
Masks: WHITE = AREA TO FILL, black = keep (a 0/1 mask where 1, a 0..255 mask where >= 128).
--server HOST:PORT is the gRPC port (8500) or, with --rest, the REST port (8501; a full
http://HOST:PORT URL also works). Exit codes: 0 ok, 1 the server answered with an error or
could not be reached, 2 bad input files.
"""

WRITE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "predict",
        help=HELP,
        description=HELP,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("image", metavar="IMAGE", help="image file")
    p.add_argument("--mask", required=True, help="mask file (white = fill)")
    p.add_argument("-o", "--output", required=True, help="output image file (.png keeps pixels)")
    p.add_argument("--server", required=True, help="HOST:PORT of the gRPC (or REST) API")
    p.add_argument("--model", required=True, help="model name on the server")
    p.add_argument("--version", type=int, default=None, help="model version (default: latest)")
    p.add_argument("--rest", action="store_true", help="use the REST API instead of gRPC")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds per attempt (default 60)")
    p.add_argument("--retries", type=int, default=3,
                   help="retries while the server is unavailable (default 3)")
    p.set_defaults(func=run)
    return p


def _read_hole(path: pathlib.Path, height: int, width: int) -> np.ndarray:
    """The mask file's hole by the one rule (:mod:`tfinpaint.data.polarity`), at the image size."""
    from tfinpaint.cli.inpaint import read_mask
    from tfinpaint.data.polarity import check_mask_size, hole_from_user_mask, resize_hole

    hole = hole_from_user_mask(read_mask(path))[..., 0] > 0.5
    try:
        check_mask_size(hole.shape, (height, width))
    except ValueError as e:
        raise CLIError(f"mask file {path}: {e}") from None
    hole = resize_hole(hole, height, width)
    if not hole.any():
        print(f"tfinpaint: warning: mask file {path} marks no pixel to fill; the image comes "
              "back unchanged.", file=sys.stderr)
    return hole


def run(args) -> int:
    from PIL import Image

    from tfinpaint.cli.inpaint import read_image
    from tfinpaint.export.serving import GrpcClient, RestClient, ServingError

    image_path, mask_path, out = (pathlib.Path(p) for p in (args.image, args.mask, args.output))
    if out.suffix.lower() not in WRITE_EXTENSIONS:
        raise CLIError(
            f"output {out}: unknown image extension {out.suffix!r} "
            f"(use one of {', '.join(WRITE_EXTENSIONS)})"
        )
    if args.timeout <= 0:
        raise CLIError(f"--timeout must be > 0 seconds. Received: {args.timeout}")
    image = read_image(image_path)
    hole = _read_hole(mask_path, *image.shape[:2])
    cls = RestClient if args.rest else GrpcClient
    try:
        client = cls(args.server, args.model, version=args.version, timeout=args.timeout,
                     retries=max(0, args.retries))
    except ValueError as e:
        raise CLIError(str(e)) from None
    try:
        result = client.predict(image, hole)
    except ServingError as e:
        api = "REST" if args.rest else "gRPC"
        print(f"tfinpaint: error: the {api} server at {args.server} failed: {e}", file=sys.stderr)
        return 1
    finally:
        if hasattr(client, "close"):
            client.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(result).save(out)
    print(f"Wrote {out} ({result.shape[1]}x{result.shape[0]}, {int(hole.sum())} pixels filled "
          f"by {args.model!r} via {'REST' if args.rest else 'gRPC'} at {args.server})")
    return 0
