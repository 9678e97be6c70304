"""Latency and size of the exports, per registered Keras model at a fixed size (default 256x256).

Usage: ``python benchmarks/export_latency.py [--size 256] [--models rfr_net pconv_unet]
[--reps 5] [--threads 2] [--images DIR] [--calibration-steps 4] [--no-grpc] [--cache DIR
[--convert-only]]``.

With ``--cache DIR`` the SavedModels and ``.tflite`` files are written to ``DIR/<model>/`` and
reused when present, so a first ``--convert-only`` run does all conversions (minutes, any
load) and the timed run on a quiet machine only loads and times them; there ``--rounds R``
times the variants of a model interleaved (each round times each variant ``--reps`` times) and
reports the median of the round medians and of the same-round TFLite / SavedModel ratios.
The CPU (model name, core count, AVX-512 or not) is printed with the table.

Columns (median of ``--reps`` timed calls after one untimed warm-up, batch 1, one photo with a
LaMa-medium mask; random weights, which do not change the cost):

- ``savedmodel``: the SavedModel's ``serving_default`` called in-process
  (``tf.saved_model.load``), uint8 in, uint8 out;
- ``grpc``: the same SavedModel behind ``tfinpaint.export.model_server.ModelServer`` on
  127.0.0.1, called with ``tfinpaint.export.serving.GrpcClient`` (omitted with ``--no-grpc`` or
  when the server module is absent);
- ``tflite-<q>``: ``ai-edge-litert`` interpreter (XNNPACK, ``--threads``) for each quantization
  ``none``/``float16``/``dynamic``/``int8``; a quantization the model cannot take (full int8 of
  partial convolutions) is shown as ``refused``;
- sizes: the SavedModel folder (``variables/`` + graph) and each ``.tflite`` file.

Registered models are built with their registry defaults (pconv_unet: 8 levels, 32.9 M
parameters; rfr_net: 6 recurrences) unless ``--config name=JSON`` overrides them.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfinpaint.export import tflite  # noqa: E402
from tfinpaint.export.saved_model import SERVING_SIGNATURE, export_saved_model  # noqa: E402
from tfinpaint.models import registry  # noqa: E402


def _median_ms(fn, reps: int) -> float:
    fn()  # warm-up (graph tracing, delegate preparation)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def _dir_size(path: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _sample(images, size):
    from tfinpaint.data.masks import get_mask_generator

    sample = next(iter(tflite.representative_dataset(images, size, steps=1)()))
    hole = get_mask_generator("lama_medium")(size, seed=3, index=0)
    return sample["image"], (hole * 255).astype(np.uint8)[None, ..., None]


def cpu_description() -> str:
    """``/proc/cpuinfo``'s model name, core count and whether AVX-512 (avx512f) is present."""
    name, flags = "unknown CPU", set()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and name == "unknown CPU":
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    simd = "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "no AVX2")
    return f"{name}, {os.cpu_count()} cores, {simd}"


def bench_model(name, config, args, tmp: pathlib.Path) -> dict:
    if args.cache:
        return _bench_cached(name, config, args)
    size = (args.size, args.size)
    row = {"model": name, "config": config}
    model = registry.build(name, **config)
    spec = registry.get_spec(name)
    multiple = int(getattr(model, "size_multiple", None) or spec.size_multiple or 1)
    model.size_multiple = multiple
    side = -(-args.size // multiple) * multiple
    model((np.zeros((1, side, side, 3), np.float32), np.ones((1, side, side, 1), np.float32)))
    row["params_M"] = round(model.count_params() / 1e6, 2)
    image, mask = _sample(args.images, size)

    t = time.perf_counter()
    try:
        path = export_saved_model(model, tmp / "saved_models", name, warmup=False,
                                  metadata={"model": name, "config": config})
    except Exception as e:  # report, keep benchmarking TFLite
        row["savedmodel_ms"] = row["grpc_ms"] = "export failed"
        row["savedmodel_note"] = f"{type(e).__name__}: {str(e)[:120]}"
        path = None
    row["export_s"] = round(time.perf_counter() - t, 1)
    if path is not None:
        _bench_saved_model(row, name, path, image, mask, args, tmp)
    _bench_tflite(row, model, size, image, mask, args)
    return row


def _bench_cached(name, config, args) -> dict:
    """Converts into ``args.cache/<name>/`` what is missing there, then times the files."""
    size = (args.size, args.size)
    folder = pathlib.Path(args.cache) / name
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    model = None
    if meta.get("config", config) != config or meta.get("size") != args.size:
        meta = {}
    if not meta.get("done"):
        model = registry.build(name, **config)
        spec = registry.get_spec(name)
        multiple = int(getattr(model, "size_multiple", None) or spec.size_multiple or 1)
        model.size_multiple = multiple
        side = -(-args.size // multiple) * multiple
        model((np.zeros((1, side, side, 3), np.float32),
               np.ones((1, side, side, 1), np.float32)))
        meta = {"model": name, "config": config, "size": args.size,
                "params_M": round(model.count_params() / 1e6, 2)}
        t = time.perf_counter()
        try:
            export_saved_model(model, folder / "saved_models", name, warmup=False,
                               metadata={"model": name, "config": config})
        except Exception as e:  # report, keep benchmarking TFLite
            meta["savedmodel_note"] = f"{type(e).__name__}: {str(e)[:120]}"
        meta["export_s"] = round(time.perf_counter() - t, 1)
        for q in tflite.QUANTIZATIONS:
            t = time.perf_counter()
            try:
                flat = tflite.convert(model, size, q, calibration_images=args.images,
                                      calibration_steps=args.calibration_steps)
            except ValueError as e:
                meta[f"tflite_{q}_note"] = str(e)[:120]
                continue
            meta[f"tflite_{q}_convert_s"] = round(time.perf_counter() - t, 1)
            (folder / f"{q}.tflite").write_bytes(flat)
        meta["done"] = True
        meta_path.write_text(json.dumps(meta, indent=2))
        del model
    row = {k: v for k, v in meta.items() if k not in ("done", "size")}
    if args.convert_only:
        return row
    image, mask = _sample(args.images, size)
    calls = {}
    versions = sorted((folder / "saved_models" / name).glob("*"))
    if versions and "savedmodel_note" not in meta:
        row["savedmodel_MB"] = round(_dir_size(versions[-1]) / 1e6, 2)
        fn = tf.saved_model.load(str(versions[-1])).signatures[SERVING_SIGNATURE]
        timage, tmask = tf.constant(image), tf.constant(mask)
        calls["savedmodel"] = lambda: fn(image=timage, mask=tmask)
    else:
        row["savedmodel_ms"] = "export failed"
    for q in tflite.QUANTIZATIONS:
        path = folder / f"{q}.tflite"
        if not path.is_file():
            row[f"tflite_{q}_ms"] = "refused"
            continue
        row[f"tflite_{q}_MB"] = round(path.stat().st_size / 1e6, 2)
        runner = tflite.TFLiteInpainter(path, num_threads=args.threads)
        calls[f"tflite_{q}"] = lambda r=runner: r.raw(image, mask)
    # Interleaved rounds: round r times every variant (--reps calls after a warm-up, median),
    # so a change of machine load hits all variants of the model alike.
    rounds = [{k: _median_ms(f, args.reps) for k, f in calls.items()}
              for _ in range(args.rounds)]
    for k in calls:
        row[f"{k}_ms"] = round(statistics.median(r[k] for r in rounds), 1)
        if k != "savedmodel" and "savedmodel" in calls:
            row[f"{k}_ratio"] = round(
                statistics.median(r[k] / r["savedmodel"] for r in rounds), 3)
    row["rounds_ms"] = [{k: round(v, 1) for k, v in r.items()} for r in rounds]
    return row


def _bench_saved_model(row, name, path, image, mask, args, tmp):
    row["savedmodel_MB"] = round(_dir_size(path) / 1e6, 2)
    fn = tf.saved_model.load(str(path)).signatures[SERVING_SIGNATURE]
    timage, tmask = tf.constant(image), tf.constant(mask)
    row["savedmodel_ms"] = round(_median_ms(lambda: fn(image=timage, mask=tmask), args.reps), 1)

    if args.grpc:
        try:
            from tfinpaint.export.model_server import ModelServer
            from tfinpaint.export.serving import GrpcClient

            with ModelServer(tmp / "saved_models", grpc_port=0, rest_port=None,
                             model_names=[name]) as server:
                with GrpcClient(f"127.0.0.1:{server.grpc_port}", name) as client:
                    row["grpc_ms"] = round(
                        _median_ms(lambda: client.predict(image[0], mask[0]), args.reps), 1)
        except Exception as e:  # report, keep benchmarking the rest
            row["grpc_ms"] = f"error: {type(e).__name__}: {str(e)[:80]}"


def _bench_tflite(row, model, size, image, mask, args):
    for q in tflite.QUANTIZATIONS:
        t = time.perf_counter()
        try:
            flat = tflite.convert(model, size, q, calibration_images=args.images,
                                  calibration_steps=args.calibration_steps)
        except ValueError as e:
            row[f"tflite_{q}_ms"] = "refused"
            row[f"tflite_{q}_note"] = str(e)[:120]
            continue
        row[f"tflite_{q}_convert_s"] = round(time.perf_counter() - t, 1)
        row[f"tflite_{q}_MB"] = round(len(flat) / 1e6, 2)
        runner = tflite.TFLiteInpainter(flat, num_threads=args.threads)
        row[f"tflite_{q}_ms"] = round(
            _median_ms(lambda r=runner: r.raw(image, mask), args.reps), 1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--models", nargs="*", default=None)
    parser.add_argument("--config", action="append", default=[], metavar="NAME=JSON",
                        help='registry overrides, e.g. pconv_unet=\'{"layer_size": 7}\'')
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calibration-steps", type=int, default=4)
    parser.add_argument("--images", default=str(REPO.parent / "shared/data/photos/val"))
    parser.add_argument("--no-grpc", dest="grpc", action="store_false")
    parser.add_argument("--json", help="also write the rows as JSON")
    parser.add_argument("--cache", help="folder keeping the SavedModels and .tflite files "
                        "between runs (converted when missing)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="with --cache: interleaved rounds (median of round medians)")
    parser.add_argument("--convert-only", action="store_true",
                        help="with --cache: only convert, time nothing")
    args = parser.parse_args(argv)
    configs = {}
    for item in args.config:
        name, _, text = item.partition("=")
        configs[name] = json.loads(text)
    names = args.models or registry.list_models(kind="keras")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            t = time.perf_counter()
            row = bench_model(name, configs.get(name, {}), args, pathlib.Path(tmp))
            row["total_s"] = round(time.perf_counter() - t, 1)
            rows.append(row)
            print(json.dumps(row), flush=True)

    if args.convert_only:
        return 0
    print(f"\n{args.size}x{args.size}, batch 1, median of {args.reps}, TFLite threads "
          f"{args.threads}, CPU: {cpu_description()}, load average (1 min) at the end "
          f"{os.getloadavg()[0]:.2f}")
    cols = ["savedmodel", "grpc", *[f"tflite_{q}" for q in tflite.QUANTIZATIONS]]
    print(f"{'model':<12}" + "".join(f"{c + ' ms':>18}" for c in cols))
    for r in rows:
        cells = [r.get(f"{c}_ms", "-") for c in cols]
        print(f"{r['model']:<12}" + "".join(f"{str(v):>18}" for v in cells))
    if any(f"tflite_{q}_ratio" in r for r in rows for q in tflite.QUANTIZATIONS):
        print(f"TFLite / SavedModel (median over {args.rounds} interleaved rounds of the "
              "same-round ratio)")
        for r in rows:
            cells = ["1.0", "-"] + [r.get(f"tflite_{q}_ratio", "-") for q in tflite.QUANTIZATIONS]
            print(f"{r['model'] + ' x':<12}" + "".join(f"{str(v):>18}" for v in cells))
    for r in rows:
        sizes = [r.get("savedmodel_MB", "-"), "-"] + [
            r.get(f"tflite_{q}_MB", "-") for q in tflite.QUANTIZATIONS
        ]
        print(f"{r['model'] + ' MB':<12}" + "".join(f"{str(v):>18}" for v in sizes))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
