"""Per-op TFLite profile of registered models, and TFLite vs SavedModel in the same process.

Usage: ``python benchmarks/tflite_profile.py --models pconv_unet rfr_net [--size 256]
[--threads 2] [--reps 5] [--rounds 3] [--quantize none float16 dynamic] [--out DIR]
[--no-profile] [--config name=JSON]``. ``--rounds 0`` writes the profile only.

For each model (registry defaults, random weights: they do not change the cost):

1. the per-op profile of its float32 TFLite file (:mod:`tfinpaint.export.tflite_profile`: op
   type, XNNPACK-delegated or not, time per op) written to ``DIR/<model>_ops.txt``;
2. latency of the SavedModel's ``serving_default`` (TensorFlow limited to ``--threads`` intra-
   and inter-op threads) and of each TFLite quantization (``--threads`` threads), measured
   **interleaved** in ``--rounds`` rounds (round r times every variant ``--reps`` times, median)
   so machine load hits all of them alike; the ratio TFLite / SavedModel is reported per round
   and as the median over rounds. Written to ``DIR/<model>_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.export_latency import _median_ms, _sample  # noqa: E402
from tfinpaint.export import tflite, tflite_profile  # noqa: E402
from tfinpaint.export.saved_model import SERVING_SIGNATURE, export_saved_model  # noqa: E402
from tfinpaint.models import registry  # noqa: E402


def cpu_name() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_model(name, args, tmp: pathlib.Path, out: pathlib.Path) -> dict:
    size = (args.size, args.size)
    model = registry.build(name, **args.configs.get(name, {}))
    spec = registry.get_spec(name)
    model.size_multiple = int(getattr(model, "size_multiple", None) or spec.size_multiple or 1)
    side = -(-args.size // model.size_multiple) * model.size_multiple
    model((np.zeros((1, side, side, 3), np.float32), np.ones((1, side, side, 1), np.float32)))
    image, mask = _sample(args.images, size)

    flats = {}
    for q in args.quantize:
        try:
            flats[q] = tflite.convert(model, size, q, calibration_images=args.images,
                                      calibration_steps=args.calibration_steps)
        except ValueError as e:
            print(f"{name} {q}: refused ({str(e)[:100]})", flush=True)
    if args.profile and "none" in flats:
        rows = tflite_profile.profile(flats["none"], num_threads=args.threads, reps=args.reps)
        text = tflite_profile.format_profile(rows, top=20)
        (out / f"{name}_ops.txt").write_text(
            f"{name} {args.configs.get(name, {})} float32 TFLite {size[0]}x{size[1]}, "
            f"{args.threads} threads, "
            f"CPU {cpu_name()}, load {os.getloadavg()[0]:.1f}\n\n{text}\n")
        print(text, flush=True)
    if args.rounds == 0:  # profile only
        return {}

    calls = {}
    try:
        path = export_saved_model(model, tmp / "saved_models", name, warmup=False,
                                  metadata={"model": name, "config": {}})
        fn = tf.saved_model.load(str(path)).signatures[SERVING_SIGNATURE]
        timage, tmask = tf.constant(image), tf.constant(mask)
        calls["savedmodel"] = lambda: fn(image=timage, mask=tmask)
    except Exception as e:  # report it, keep timing TFLite
        saved_model_error = f"{type(e).__name__}: {str(e)[:300]}"
        print(f"{name}: SavedModel export failed: {saved_model_error}", flush=True)
    else:
        saved_model_error = None
    for q, flat in flats.items():
        runner = tflite.TFLiteInpainter(flat, num_threads=args.threads)
        calls[f"tflite_{q}"] = lambda r=runner: r.raw(image, mask)
    rounds = []
    for _ in range(args.rounds):
        rounds.append({k: _median_ms(f, args.reps) for k, f in calls.items()})
    result = {
        "model": name, "size": list(size), "threads": args.threads, "reps": args.reps,
        "cpu": cpu_name(), "load_1min": round(os.getloadavg()[0], 1),
        "rounds_ms": rounds,
        "median_ms": {k: round(statistics.median(r[k] for r in rounds), 1) for k in calls},
        "ratio_vs_savedmodel": {
            k: round(statistics.median(r[k] / r["savedmodel"] for r in rounds), 3)
            for k in calls if k != "savedmodel" and "savedmodel" in calls
        },
        "savedmodel_error": saved_model_error,
        "tflite_MB": {q: round(len(f) / 1e6, 2) for q, f in flats.items()},
    }
    (out / f"{name}_latency.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result), flush=True)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=None)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quantize", nargs="*", default=["none", "float16", "dynamic"])
    parser.add_argument("--calibration-steps", type=int, default=4)
    parser.add_argument("--images", default=str(REPO.parent / "shared/data/photos/val"))
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/tflite_profile"))
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--config", action="append", default=[], metavar="NAME=JSON",
                        help='registry overrides, e.g. msa_net=\'{"layer_size": 7}\'')
    args = parser.parse_args(argv)
    args.configs = {}
    for item in args.config:
        key, _, text = item.partition("=")
        args.configs[key] = json.loads(text)
    # The SavedModel gets the same number of threads as the TFLite interpreter.
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = args.models or registry.list_models(kind="keras")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            run_model(name, args, pathlib.Path(tmp), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
