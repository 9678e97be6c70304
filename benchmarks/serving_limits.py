"""What one large request costs the server: ``tfinpaint serve`` under its request limits.

Usage: ``python benchmarks/serving_limits.py [--model pconv_unet] [--config '{"layer_size": 4}']
[--huge 4000] [--allowed 1024] [--max-pixels 1048576]``.

1. Exports ``--model`` (random weights) and starts ``tfinpaint serve --max-pixels N`` as a
   subprocess on 127.0.0.1, so its memory is its own (peak RSS = ``VmHWM`` of
   ``/proc/<pid>/status``).
2. Sends, through :class:`~tfinpaint.export.serving.GrpcClient`: a small request, a
   ``--huge`` x ``--huge`` request (expected: ``RESOURCE_EXHAUSTED`` naming ``--max-pixels``,
   refused before any array is built), the largest allowed ``--allowed`` x ``--allowed``
   request (checked: known pixels unchanged), the huge one through the ``encoded`` signature
   (a PNG whose header is read, never decoded) and through REST, then a small request again.
3. Prints each answer, its latency and the server's peak RSS after it.

Exit code 1 when an answer is not the expected one or the server stopped serving.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pathlib
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks.serving_load import build_model  # noqa: E402


def peak_rss_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of ``pid`` in MiB, from ``/proc/<pid>/status``."""
    fields = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024.0
    return fields.get("VmRSS", float("nan")), fields.get("VmHWM", float("nan"))


def start_server(base, max_pixels: int):
    import re
    import subprocess
    import threading

    proc = subprocess.Popen(
        [sys.executable, "-m", "tfinpaint", "serve", str(base), "--grpc-port", "0",
         "--rest-port", "0", "--workers", "4", "--max-pixels", str(max_pixels)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)},
    )
    ports, lines = {}, []
    for line in proc.stdout:
        lines.append(line)
        for api in ("gRPC", "REST"):
            m = re.search(rf"{api} listening on (?:http://)?127\.0\.0\.1:(\d+)", line)
            if m:
                ports[api] = int(m[1])
        if len(ports) == 2:
            break
    if len(ports) != 2:
        proc.kill()
        raise RuntimeError("the server did not start:\n" + "".join(lines))
    log = []
    threading.Thread(target=lambda: [log.append(x) for x in proc.stdout], daemon=True).start()
    return proc, ports["gRPC"], ports["REST"], log


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="pconv_unet")
    p.add_argument("--config", default='{"layer_size": 4}', help="JSON constructor overrides")
    p.add_argument("--huge", type=int, default=4000)
    p.add_argument("--allowed", type=int, default=1024)
    p.add_argument("--max-pixels", type=int, default=None,
                   help="server limit (default: --allowed squared)")
    args = p.parse_args(argv)
    max_pixels = args.max_pixels or args.allowed**2

    from PIL import Image

    from tfinpaint.export.saved_model import export_saved_model
    from tfinpaint.export.serving import GrpcClient, RestClient, ServingError

    name, model = build_model(args.model, json.loads(args.config))
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        export_saved_model(model, tmp, name, warmup=False)
        del model
        proc, grpc_port, rest_port, log = start_server(tmp, max_pixels)
        print(f"model {name} {args.config}; server pid {proc.pid}, --max-pixels {max_pixels}")
        print(f"after start: RSS {peak_rss_mib(proc.pid)[0]:.0f} MiB, "
              f"peak {peak_rss_mib(proc.pid)[1]:.0f} MiB")
        grpc = GrpcClient(f"127.0.0.1:{grpc_port}", name, timeout=600, retries=0)
        rest = RestClient(f"127.0.0.1:{rest_port}", name, timeout=600, retries=0)

        def request(label, side, call, expect):
            nonlocal failures
            rng = np.random.default_rng(side)
            image = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
            hole = np.zeros((side, side), bool)
            hole[side // 4 : side // 2, side // 3 : side // 2] = True
            start = time.perf_counter()
            try:
                out = call(image, hole)
                ok = expect == "OK" and np.array_equal(out[~hole], image[~hole])
                answer = f"OK {out.shape}"
            except ServingError as e:
                ok = e.code == expect
                answer = f"{e.code}: {e.details[:320]}"
            seconds = time.perf_counter() - start
            rss, peak = peak_rss_mib(proc.pid)
            failures += not ok
            print(f"{label:<34} {side}x{side}: {answer}\n{'':<34} {seconds:.2f} s, server RSS "
                  f"{rss:.0f} MiB, peak {peak:.0f} MiB{'' if ok else '   <-- UNEXPECTED'}")

        def encoded(image, hole):
            def png(a):
                buffer = io.BytesIO()
                Image.fromarray(a).save(buffer, format="PNG", compress_level=1)
                return buffer.getvalue()

            out = grpc.predict_encoded(png(image), png(hole.astype(np.uint8) * 255))
            return np.asarray(Image.open(io.BytesIO(out)).convert("RGB"))

        small = 256
        request("gRPC serving_default", small, grpc.predict, "OK")
        request("gRPC serving_default", args.huge, grpc.predict, "RESOURCE_EXHAUSTED")
        request("gRPC serving_default (largest)", args.allowed, grpc.predict, "OK")
        request("gRPC encoded (PNG files)", args.huge, encoded, "RESOURCE_EXHAUSTED")
        request("REST encoded (PNG files)", args.huge, rest.predict, "RESOURCE_EXHAUSTED")
        request("gRPC serving_default", small, grpc.predict, "OK")
        grpc.close()
        alive = proc.poll() is None
        proc.terminate()
        proc.wait(timeout=60)
        rejected = [line.strip() for line in log if "Rejected" in line]
        print(f"server still serving at the end: {alive}; log lines about rejections: "
              f"{len(rejected)}" + (f" (e.g. {rejected[0][:120]!r})" if rejected else ""))
        failures += not alive
    print(f"{failures} unexpected answer(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
