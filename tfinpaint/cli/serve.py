"""``tfinpaint serve``: serve exported models over TF Serving's gRPC and REST APIs.

Examples::

    tfinpaint serve saved_models/                       # gRPC :8500, REST :8501, loopback
    tfinpaint serve saved_models/ --host 0.0.0.0 --workers 16 --poll-seconds 30
    tfinpaint serve saved_models/pconv --grpc-port 0 --rest-port 0   # any free ports

Runs :class:`tfinpaint.export.model_server.ModelServer` over ``MODEL_BASE`` (a folder of
``<name>/<version>/`` SavedModels written by ``tfinpaint export``, or one model's folder). It
prints what it serves and the bound ports, and shuts down gracefully on Ctrl-C / SIGTERM:
it stops accepting requests and lets in-flight ones finish (``--grace`` seconds).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from tfinpaint.cli import CLIError

HELP = "Serve exported SavedModels with TF Serving's gRPC and REST APIs (a local TF Serving)."

EPILOG = """\
Endpoints (as TF Serving): gRPC tensorflow.serving.PredictionService/{Predict,GetModelMetadata}
and ModelService/GetModelStatus; REST POST /v1/models/NAME[/versions/V]:predict
({"instances": [...]} or {"inputs": {...}}, {"b64": ...} for *_bytes inputs),
GET /v1/models/NAME[/versions/V] (status) and GET /v1/models/NAME/metadata.
Port 0 picks a free port (printed); --rest-port -1 disables REST, --grpc-port -1 disables gRPC.
Query it with `tfinpaint predict --server HOST:PORT --model NAME IMAGE --mask MASK -o OUT`.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "serve",
        help=HELP,
        description=HELP,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model_base", metavar="MODEL_BASE",
                   help="folder of exported models (saved_models/), or one model's folder")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; 0.0.0.0 = all interfaces)")
    p.add_argument("--grpc-port", type=int, default=8500, help="gRPC port (default 8500)")
    p.add_argument("--rest-port", type=int, default=8501, help="REST port (default 8501)")
    p.add_argument("--workers", type=int, default=8,
                   help="request threads per API (default 8)")
    p.add_argument("--poll-seconds", type=float, default=0.0,
                   help="rescan MODEL_BASE for new/removed versions every S seconds (0 = off)")
    p.add_argument("--version-policy", choices=("all", "latest"), default="all",
                   help="serve every version (default) or only the latest")
    p.add_argument("--model", dest="models", action="append", default=None, metavar="NAME",
                   help="serve only this model (repeatable; default: all)")
    p.add_argument("--label", dest="labels", action="append", default=[],
                   metavar="NAME:LABEL=VERSION",
                   help="version label for version_label requests, e.g. pconv:stable=2")
    p.add_argument("--max-pixels", type=int, default=2048 * 2048,
                   help="largest request in pixels, batch x H x W (default 2048x2048 = 4194304; "
                        "0 = no limit); larger requests get RESOURCE_EXHAUSTED")
    p.add_argument("--max-concurrent", type=int, default=2,
                   help="requests running a model at once (default 2); others wait")
    p.add_argument("--max-queue", type=int, default=64,
                   help="requests allowed to wait for a slot (default 64); more get "
                        "RESOURCE_EXHAUSTED")
    p.add_argument("--max-message-bytes", type=int, default=64 * 1024 * 1024,
                   help="largest gRPC message / REST body in bytes (default 64 MiB)")
    p.add_argument("--grace", type=float, default=10.0,
                   help="seconds in-flight requests get to finish at shutdown (default 10)")
    p.add_argument("--no-warmup", action="store_true",
                   help="skip the warmup requests stored with each version")
    p.set_defaults(func=run)
    return p


def _port(value: int, flag: str) -> int | None:
    if value == -1:
        return None
    if not 0 <= value <= 65535:
        raise CLIError(f"{flag} must be in [0, 65535] (or -1 to disable). Received: {value}")
    return value


def _labels(items: list[str]) -> dict[str, dict[str, int]]:
    labels: dict[str, dict[str, int]] = {}
    for item in items:
        try:
            model, rest = item.split(":", 1)
            label, version = rest.split("=", 1)
            labels.setdefault(model, {})[label] = int(version)
        except ValueError:
            raise CLIError(
                f"--label {item!r}: expected NAME:LABEL=VERSION, e.g. pconv:stable=2"
            ) from None
    return labels


def run(args) -> int:
    import logging

    from tfinpaint.export.model_server import ModelServer

    grpc_port = _port(args.grpc_port, "--grpc-port")
    rest_port = _port(args.rest_port, "--rest-port")
    if grpc_port is None and rest_port is None:
        raise CLIError("--grpc-port and --rest-port are both disabled; nothing to serve")
    if args.workers < 1:
        raise CLIError(f"--workers must be >= 1. Received: {args.workers}")
    if args.poll_seconds < 0:
        raise CLIError(f"--poll-seconds must be >= 0. Received: {args.poll_seconds}")
    for flag, value, low in (("--max-pixels", args.max_pixels, 0),
                             ("--max-concurrent", args.max_concurrent, 1),
                             ("--max-queue", args.max_queue, 0),
                             ("--max-message-bytes", args.max_message_bytes, 1)):
        if value < low:
            raise CLIError(f"{flag} must be >= {low}. Received: {flag} {value}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        server = ModelServer(
            args.model_base, host=args.host, grpc_port=grpc_port, rest_port=rest_port,
            workers=args.workers, poll_seconds=args.poll_seconds or None,
            version_policy=args.version_policy, labels=_labels(args.labels),
            model_names=args.models, warmup=not args.no_warmup,
            max_pixels=args.max_pixels, max_concurrent=args.max_concurrent,
            max_queue=args.max_queue, max_message_bytes=args.max_message_bytes,
        )
    except FileNotFoundError as e:
        raise CLIError(f"MODEL_BASE {args.model_base}: {e}") from None

    stop = threading.Event()

    def on_signal(signum, frame):
        print(f"Received {signal.Signals(signum).name}: shutting down", flush=True)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            server.start()
        except FileNotFoundError as e:
            raise CLIError(f"MODEL_BASE {args.model_base}: {e}") from None
        except OSError as e:
            raise CLIError(str(e)) from None
        for name, versions in server.served().items():
            print(f"Serving model {name!r} versions {versions} (latest {max(versions)})")
        if not server.served():
            print(f"No servable model in {args.model_base} yet; polling every "
                  f"{args.poll_seconds} s")
        if server.grpc_port is not None:
            print(f"gRPC listening on {args.host}:{server.grpc_port}")
        if server.rest_port is not None:
            print(f"REST listening on http://{args.host}:{server.rest_port}/v1/models/")
        print(f"Limits: --max-pixels {server.max_pixels or 'none'} per request, "
              f"--max-concurrent {server.max_concurrent}, --max-queue {server.max_queue}, "
              f"--max-message-bytes {server.max_message_bytes}")
        print("Press Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            pass
        pending = server.in_flight
        print(f"Stopping: finishing {pending} in-flight request(s) (grace {args.grace} s)",
              flush=True)
        server.stop(args.grace)
        print("Server stopped.", flush=True)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if not stop.is_set():
            server.stop(0)
    sys.stdout.flush()
    return 0
