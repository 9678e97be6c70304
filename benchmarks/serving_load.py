"""Load test of the local TF Serving-compatible server (``tfinpaint serve``) on loopback.

Usage: ``python benchmarks/serving_load.py [--model pconv_unet] [--config '{"layer_size": 7}']
[--clients 8] [--requests 50] [--size 256] [--api grpc|rest] [--workers 8] [--in-process]
[--max-seconds 900]``.

1. Exports ``--model`` (default ``pconv_unet`` when registered, else a tiny test generator) with
   random weights (speed does not depend on the weights) to a temporary model base.
2. Measures the in-process SavedModel latency of ``serving_default`` (batch 1, sequential) for
   comparison: the difference with the served p50 is the serving overhead (serialization,
   gRPC/HTTP, thread hand-off) plus queueing under load.
3. Starts the server (``tfinpaint serve`` as a subprocess by default; ``--in-process`` runs
   :class:`~tfinpaint.export.model_server.ModelServer` in this process) on 127.0.0.1 only.
4. Runs ``--clients`` concurrent clients, each with its own channel / connection, sending
   ``--requests`` requests of one ``--size`` x ``--size`` photo (or noise) with a LaMa mask,
   and checks every answer (shape, dtype, known pixels unchanged).
5. Prints failures (must be 0), latency p50 / p90 / p99 / max, and throughput. Clients stop
   issuing requests after ``--max-seconds`` (the report says so), so a run is always bounded.

Exit code 1 when any request failed.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

PHOTOS = REPO.parent / "shared" / "data" / "photos" / "val"


def _tiny_generator():
    import keras

    image = keras.Input((None, None, 3))
    mask = keras.Input((None, None, 1))
    x = keras.layers.Concatenate()([image, mask])
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same")(x)
    model = keras.Model([image, mask], {"output": keras.layers.Activation("sigmoid")(x)})
    model.size_multiple = 8
    return model


def build_model(name: str | None, config: dict):
    from tfinpaint.models import registry

    if name is None:
        name = "pconv_unet" if "pconv_unet" in registry.list_models() else "tiny"
    if name == "tiny":
        return "tiny", _tiny_generator()
    spec = registry.get_spec(name)
    model = registry.build(name, **config)
    if getattr(model, "size_multiple", None) is None:
        model.size_multiple = spec.size_multiple
    side = max(64, int(model.size_multiple))  # builds a subclassed model's variables
    model((np.zeros((1, side, side, 3), "float32"), np.ones((1, side, side, 1), "float32")),
          training=False)
    return name, model


def sample(size: int):
    from tfinpaint.data.masks import get_mask_generator

    files = sorted(PHOTOS.glob("*.jpg"))
    if files:
        from PIL import Image

        image = np.asarray(Image.open(files[0]).convert("RGB").resize((size, size)))
    else:
        image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    hole = get_mask_generator("lama_medium")((size, size), seed=0, index=0) > 0
    return image, hole


def percentiles(values) -> str:
    ms = np.asarray(values) * 1000.0
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return (f"p50 {p50:.1f} ms, p90 {p90:.1f} ms, p99 {p99:.1f} ms, max {ms.max():.1f} ms, "
            f"mean {ms.mean():.1f} ms")


def in_process_latency(path, image, hole, calls: int) -> list[float]:
    import tensorflow as tf

    fn = tf.saved_model.load(str(path)).signatures["serving_default"]
    img = tf.constant(image[None])
    mask = tf.constant((hole[None, ..., None] * 255).astype(np.uint8))
    for _ in range(2):  # warm-up
        fn(image=img, mask=mask)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn(image=img, mask=mask)["inpainted"].numpy()
        times.append(time.perf_counter() - start)
    return times


def start_subprocess_server(base, workers):
    script = pathlib.Path(sys.executable).parent / "tfinpaint"
    command = [str(script)] if script.exists() else [
        sys.executable, "-c", "import sys; from tfinpaint.cli import main; sys.exit(main())"]
    proc = subprocess.Popen(
        [*command, "serve", str(base), "--host", "127.0.0.1", "--grpc-port", "0",
         "--rest-port", "0", "--workers", str(workers)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    ports, lines = {}, []
    deadline = time.monotonic() + 600
    for line in proc.stdout:
        lines.append(line)
        for api in ("gRPC", "REST"):
            m = re.search(rf"{api} listening on (?:http://)?127\.0\.0\.1:(\d+)", line)
            if m:
                ports[api] = int(m[1])
        if "Press Ctrl-C" in line or time.monotonic() > deadline:
            break
    if len(ports) != 2:
        proc.kill()
        raise RuntimeError("the server did not start:\n" + "".join(lines))
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return proc, ports["gRPC"], ports["REST"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None,
                   help="registry name or 'tiny' (default pconv_unet if registered)")
    p.add_argument("--config", default="{}", help="JSON constructor overrides")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=50, help="requests per client")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--api", choices=("grpc", "rest"), default="grpc")
    p.add_argument("--workers", type=int, default=8, help="server threads per API")
    p.add_argument("--in-process", action="store_true", help="run the server in this process")
    p.add_argument("--in-process-calls", type=int, default=20,
                   help="sequential SavedModel calls for the in-process latency")
    p.add_argument("--max-seconds", type=float, default=900.0,
                   help="clients stop issuing requests after this (bounded run)")
    args = p.parse_args(argv)

    from tfinpaint.export.saved_model import export_saved_model
    from tfinpaint.export.serving import GrpcClient, RestClient

    name, model = build_model(args.model, json.loads(args.config))
    image, hole = sample(args.size)
    print(f"model: {name} {json.loads(args.config) or ''} (size_multiple "
          f"{model.size_multiple}, {model.count_params():,} parameters, random weights)")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        path = export_saved_model(model, tmp, name)
        print(f"export: {path} in {time.perf_counter() - start:.1f} s")
        local = in_process_latency(path, image, hole, args.in_process_calls)
        print(f"in-process SavedModel serving_default, batch 1, {args.size}x{args.size}, "
              f"{len(local)} sequential calls: {percentiles(local)}")

        server = proc = None
        if args.in_process:
            from tfinpaint.export.model_server import ModelServer

            server = ModelServer(tmp, grpc_port=0, rest_port=0, workers=args.workers).start()
            grpc_port, rest_port = server.grpc_port, server.rest_port
        else:
            proc, grpc_port, rest_port = start_subprocess_server(tmp, args.workers)
        where = "in-process" if args.in_process else f"subprocess pid {proc.pid}"
        port = grpc_port if args.api == "grpc" else rest_port
        print(f"server: {where}, {args.api} on 127.0.0.1:{port}, {args.workers} workers")

        latencies, failures, lock = [], [], threading.Lock()
        deadline = time.monotonic() + args.max_seconds
        keep = ~hole

        def client_loop(k):
            cls = GrpcClient if args.api == "grpc" else RestClient
            client = cls(f"127.0.0.1:{port}", name, timeout=300, retries=2)
            for _ in range(args.requests):
                if time.monotonic() > deadline:
                    return
                start = time.perf_counter()
                try:
                    out = client.predict(image, hole)
                    ok = (out.shape == image.shape and out.dtype == np.uint8
                          and np.array_equal(out[keep], image[keep]))
                    error = None if ok else "wrong answer (shape, dtype or known pixels)"
                except Exception as e:  # noqa: BLE001 - counted as a failure
                    error = f"{type(e).__name__}: {e}"
                elapsed = time.perf_counter() - start
                with lock:
                    (failures.append(error) if error else latencies.append(elapsed))

        threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(args.clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        planned = args.clients * args.requests
        done = len(latencies) + len(failures)

        if server is not None:
            server.stop(grace=10)
        else:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)

    print(f"load: {args.clients} concurrent clients x {args.requests} requests = {planned} "
          f"planned, {done} sent in {wall:.1f} s"
          + ("" if done == planned else f" (stopped at --max-seconds {args.max_seconds})"))
    print(f"failures: {len(failures)}")
    for error in sorted(set(failures))[:5]:
        print(f"  {error}")
    if latencies:
        print(f"latency ({args.api}, {args.size}x{args.size}, under load): "
              f"{percentiles(latencies)}")
        print(f"throughput: {len(latencies) / wall:.2f} requests/s "
              f"({len(latencies) / wall * args.size * args.size / 1e6:.2f} Mpixel/s)")
        print(f"served p50 / in-process p50: "
              f"{np.median(latencies) / np.median(local):.1f}x (queueing under "
              f"{args.clients} clients + transport)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
