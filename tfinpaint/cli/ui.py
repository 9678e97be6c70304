"""``tfinpaint ui``: a local web page to brush a mask over a photo and inpaint it.

Examples::

    tfinpaint ui                                   # http://127.0.0.1:7860, the default model
    tfinpaint ui --model runs/pconv --model runs/rfr --open
    tfinpaint ui --server localhost:8500 --served-model pconv       # a TF Serving endpoint

Runs :mod:`tfinpaint.ui.app` (Starlette + uvicorn) until Ctrl-C. The page sends the image and
the mask as drawn (white = fill); the server inpaints with :class:`tfinpaint.inference.Inpainter`
exactly as ``tfinpaint inpaint`` does, or forwards the request to a served model.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import threading
import webbrowser

from tfinpaint.cli import CLIError
from tfinpaint.cli.common import add_command, check_at_least

HELP = "Open a web page to brush a mask over a photo and inpaint it with any model."

EPILOG = """\
The page: open an image (file picker, drag and drop or paste), brush the area to fill (white =
fill; B brush, E eraser, [ ] or the mouse wheel for the size, Ctrl+Z / Ctrl+Shift+Z undo and
redo, I invert, Delete clear), choose a model and a strategy, Inpaint, compare before/after,
keep inpainting the result, download it as PNG.
Models: --model NAME|RUN_DIR|WEIGHTS (repeatable; the first is preselected; default: the
default of `tfinpaint inpaint`); the OpenCV baselines cv2-telea and cv2-ns are always offered.
--server HOST:PORT --served-model NAME sends every inpaint to a TF Serving (or `tfinpaint
serve`) endpoint instead: gRPC, or REST with --rest.
The server binds to 127.0.0.1 (this machine only) unless --host says otherwise; it runs one
inpaint at a time (a second request is refused with a message) and refuses images whose long
side exceeds --max-side.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    from tfinpaint.ui.app import DEFAULT_HOST, DEFAULT_MAX_SIDE, DEFAULT_PORT

    p = add_command(subparsers, "ui", run, help=HELP, epilog=EPILOG)
    p.add_argument("--model", dest="models", action="append", default=None,
                   metavar="NAME|RUN_DIR|WEIGHTS",
                   help="model to offer (repeatable; the first is preselected): a registered "
                        "name, a training run directory or a *.weights.h5 file")
    p.add_argument("--server", default=None, metavar="HOST:PORT",
                   help="inpaint with a model served over gRPC (or REST with --rest) instead")
    p.add_argument("--served-model", default=None, metavar="NAME",
                   help="the model's name on --server")
    p.add_argument("--version", type=int, default=None,
                   help="served model version (default: the latest)")
    p.add_argument("--rest", action="store_true", help="--server is a REST endpoint (port 8501)")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to bind (default {DEFAULT_HOST}: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port (default {DEFAULT_PORT}; 0 = any free port)")
    p.add_argument("--max-side", type=int, default=DEFAULT_MAX_SIDE,
                   help=f"refuse images whose long side exceeds this (default {DEFAULT_MAX_SIDE})")
    p.add_argument("--open", action="store_true", help="open the page in the web browser")
    return p


def build_service(args):
    """The :class:`tfinpaint.ui.app.InpaintService` the arguments describe (checked)."""
    from tfinpaint.ui.app import InpaintService

    check_at_least("--max-side", args.max_side, 8)
    if args.server:
        if args.models:
            raise CLIError("--model and --server exclude each other: --server inpaints with the "
                           "served model named by --served-model")
        if not args.served_model:
            raise CLIError("--server needs --served-model NAME (the model's name on the server)")
        from tfinpaint.export.serving import GrpcClient, RestClient

        cls = RestClient if args.rest else GrpcClient
        try:
            client = cls(args.server, args.served_model, version=args.version, timeout=60.0,
                         retries=1)
        except ValueError as e:
            raise CLIError(str(e)) from None
        api = "REST" if args.rest else "gRPC"
        return InpaintService(client=client, max_side=args.max_side,
                              target=f"{args.server} ({api})")
    if args.served_model:
        raise CLIError("--served-model needs --server HOST:PORT")
    from tfinpaint.models import registry

    for model in args.models or []:
        if model not in registry.list_models() and not pathlib.Path(model).exists():
            raise CLIError(f"model {model}: neither a registered model name (registered: "
                           f"{', '.join(registry.list_models())}) nor an existing path")
    return InpaintService(args.models, max_side=args.max_side)


def run(args) -> int:
    import uvicorn

    from tfinpaint.ui.app import create_app

    if not 0 <= args.port <= 65535:
        raise CLIError(f"--port must be in 0..65535. Received: --port {args.port}")
    service = build_service(args)
    app = create_app(service)
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port,
                                           log_level="warning", lifespan="off"))
    shown = f"[{args.host}]" if ":" in args.host else args.host
    models = ", ".join(service.choices)

    def announce():
        while not server.started and not server.should_exit:
            threading.Event().wait(0.05)
        if not server.started:
            return
        port = args.port
        for s in getattr(server, "servers", []):
            for sock in getattr(s, "sockets", []) or []:
                port = sock.getsockname()[1]
        url = f"http://{shown}:{port}/"
        print(f"tfinpaint ui: serving {url} (models: {models}). Press Ctrl-C to stop.",
              flush=True)
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"tfinpaint ui: warning: bound to {args.host}: anyone who can reach this "
                  "machine can use the page", file=sys.stderr, flush=True)
        if args.open:
            webbrowser.open(url)

    threading.Thread(target=announce, daemon=True).start()
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
        pass
    if server.started:
        print("tfinpaint ui: stopped", flush=True)
    if not server.started:
        print(f"tfinpaint: error: could not serve on {args.host}:{args.port} (port in use?)",
              file=sys.stderr)
        return 1
    return 0
