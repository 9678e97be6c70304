"""Region-wise inpainting (``regionwise``) speed on the CPU, and the memory of the non-local
correlation loss with and without blocks.

Speed (default): forward latency of the official config (cnum 32, rates 2/4/8/16) at
``--size`` (256) in eager mode, in a ``tf.function`` and with XLA, and one training step
(``InpaintingTrainer.train_step`` in a ``tf.function``: both stages, the recipe's losses with a
random-weight VGG16, Adam update) for the recipes ``regionwise`` (VGG at 224 px, the code's) and
``regionwise_fullres`` (VGG at the crop size), and the ``regionwise`` step compiled with XLA
(``tfinpaint train --jit-compile``). Median of ``--reps`` timed calls after a warm-up
call; the first call (tracing) is shown in parentheses.

Correlation memory (``--correlation-memory``): each configuration in a fresh subprocess, the
correlation loss and its gradient at VGG16 pool2 of an S x S image (features
``(1, S/4, S/4, 128)``, a ``(S/4)^2 x (S/4)^2`` matrix), dense (``chunk_size=None``) or in
blocks of 1024 rows; reports the peak resident memory growth (``VmHWM`` minus the resident
memory before the call) and the time. The dense run is skipped where its matrices alone would
exceed ``--dense-limit-gib``.

Usage::

    python benchmarks/regionwise_speed.py                       # 256x256, batch 1
    python benchmarks/regionwise_speed.py --batch 8 --reps 2
    python benchmarks/regionwise_speed.py --correlation-memory --sizes 256 384 512
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from rfr_speed import (  # noqa: E402  (shared timing / memory helpers)
    _cpu_model,
    _inputs,
    _loadavg,
    _peak_rss_mib,
    _reset_peak,
    _rss_mib,
    _set_threads,
    _thread_desc,
    _time,
)

_CHILD_TAG = "REGIONWISE_CHILD "


def _model():
    from tfinpaint.models import build

    return build("regionwise")


def _train_fn(model, image, mask, recipe_name, jit_compile=False):
    from tfinpaint.losses import FeatureExtractor
    from tfinpaint.training.recipes import get_recipe
    from tfinpaint.training.trainer import InpaintingTrainer

    recipe = get_recipe(recipe_name)
    vgg = FeatureExtractor(recipe.feature_network, recipe.feature_layers, weights=None,
                           normalization=recipe.feature_normalization,
                           resize=recipe.feature_resize)
    trainer = InpaintingTrainer(model, recipe=recipe, feature_extractor=vgg)
    optimizer = recipe.g_optimizer.build()
    trainer.compile(g_optimizer=optimizer)
    optimizer.build(model.trainable_variables)
    step = tf.function(trainer.train_step, jit_compile=jit_compile)
    return lambda: step((image, mask))


def speed(args):
    import warnings

    warnings.filterwarnings("ignore", message=".*RANDOM.*")
    model = _model()
    image, mask = _inputs(args.batch, args.size)
    rows = []
    fwd = tf.function(lambda x, m: model((x, m), training=False))
    xla = tf.function(lambda x, m: model((x, m), training=False), jit_compile=True)
    phases = {
        "forward eager": lambda: model((image, mask), training=False),
        "forward tf.function": lambda: fwd(image, mask),
        "forward XLA": lambda: xla(image, mask),
    }
    for name, fn in phases.items():
        first, median = _time(fn, args.reps)
        rows.append((name, first, median))
        print(f"{name:<32} {median * 1000:9.1f} ms   (first call {first:.2f} s)", flush=True)
    for recipe, jit in [(r, False) for r in args.recipes] + [(r, True) for r in args.xla_train]:
        fn = _train_fn(model, image, mask, recipe, jit_compile=jit)
        first, median = _time(fn, args.train_reps)
        name = f"train step ({recipe}{', XLA' if jit else ''})"
        rows.append((name, first, median))
        print(f"{name:<32} {median * 1000:9.1f} ms   (first call {first:.2f} s)", flush=True)
    return rows


def _correlation_child(size: int, chunk: int | None) -> dict:
    from tfinpaint.losses import perceptual

    side = size // 4  # VGG16 pool2
    rng = np.random.default_rng(0)
    a = tf.constant(rng.uniform(0, 2, (1, side, side, 128)).astype("float32"))
    b = tf.constant(rng.uniform(0, 2, (1, side, side, 128)).astype("float32"))

    @tf.function
    def step(a, b):
        with tf.GradientTape() as tape:
            tape.watch(a)
            loss = perceptual.correlation_loss([a], [b], "sum", chunk_size=chunk)
        return loss, tape.gradient(loss, a)

    step.get_concrete_function(a, b)  # trace before the baseline
    base = _rss_mib()
    _reset_peak()
    first, median = _time(lambda: step(a, b), 1)
    return {"size": size, "chunk": chunk, "hw": side * side,
            "dense_matrix_mib": (side * side) ** 2 * 4 / 2**20,
            "growth_mib": _peak_rss_mib() - base, "seconds": median}


def correlation_memory(args):
    rows = []
    for size in args.sizes:
        hw = (size // 4) ** 2
        for chunk in (None, 1024):
            if chunk is None and 3 * hw * hw * 4 / 2**30 > args.dense_limit_gib:
                print(f"{size}px dense: skipped (3 matrices of {hw}^2 floats > "
                      f"{args.dense_limit_gib} GiB)", flush=True)
                continue
            cmd = [sys.executable, os.path.abspath(__file__), "--child-correlation",
                   str(size), "none" if chunk is None else str(chunk),
                   "--threads", str(args.threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            line = [x for x in proc.stdout.splitlines() if x.startswith(_CHILD_TAG)]
            if proc.returncode or not line:
                print(proc.stderr[-2000:])
                raise SystemExit(f"child failed: {cmd}")
            row = json.loads(line[-1][len(_CHILD_TAG):])
            rows.append(row)
            kind = "dense" if chunk is None else f"blocks of {chunk}"
            print(f"{size}px pool2 {size // 4}x{size // 4} ({hw}^2 matrix = "
                  f"{row['dense_matrix_mib']:.0f} MiB), {kind:<14}: peak growth "
                  f"{row['growth_mib']:7.0f} MiB, loss + gradient {row['seconds']:.2f} s",
                  flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--train-reps", type=int, default=2)
    p.add_argument("--recipes", nargs="*", default=["regionwise", "regionwise_fullres"])
    p.add_argument("--xla-train", nargs="*", default=["regionwise"],
                   help="recipes whose train step is also timed compiled with XLA")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--correlation-memory", action="store_true")
    p.add_argument("--sizes", type=int, nargs="*", default=[256, 384, 512])
    p.add_argument("--dense-limit-gib", type=float, default=2.0)
    p.add_argument("--child-correlation", nargs=2, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    _set_threads(args.threads)
    if args.child_correlation:
        size, chunk = args.child_correlation
        row = _correlation_child(int(size), None if chunk == "none" else int(chunk))
        print(_CHILD_TAG + json.dumps(row), flush=True)
        return 0
    print(f"CPU {_cpu_model()}, TF {tf.__version__}, {_thread_desc()}, load {_loadavg()}")
    if args.correlation_memory:
        correlation_memory(args)
    else:
        print(f"regionwise (cnum 32, rates 2/4/8/16) at {args.size}x{args.size}, "
              f"batch {args.batch}")
        speed(args)
    print(f"load after: {_loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
