"""RFR-Net speed and memory on the CPU (or whatever TensorFlow sees).

For each batch size: forward latency eager, ``tf.function`` and XLA (``jit_compile=True``), one
training step (generator forward + the ``rfr_net`` recipe loss with a random-weight VGG16 +
Adam update, through ``InpaintingTrainer.train_step`` in a ``tf.function``), peak resident
memory of each phase, and the share of the knowledge-consistent attention (the
``AttentionModule`` timed alone at its input size, ``iter_num`` calls with the state passed,
as inside one forward pass).

Peak memory is the process's peak RSS (``VmHWM`` in ``/proc/self/status``), reset before each
phase by writing ``5`` to ``/proc/self/clear_refs`` (Linux); where that is not allowed the
numbers are cumulative peaks and marked with ``*``.

Usage::

    python benchmarks/rfr_speed.py                      # 256x256, batches 1 and 6
    python benchmarks/rfr_speed.py --size 128 --batches 1 --reps 3
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

_PEAK_RESET_OK = None


def _reset_peak() -> bool:
    global _PEAK_RESET_OK
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        _PEAK_RESET_OK = True
    except OSError:
        _PEAK_RESET_OK = False
    return _PEAK_RESET_OK


def _peak_rss_mib() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _time(fn, reps: int, warmup: int = 1) -> tuple[float, float]:
    """(first call seconds, median of ``reps`` later calls); ``reps=0``: the first call only
    (it then includes tracing / compilation)."""
    t0 = time.perf_counter()
    out = fn()
    _block(out)
    first = time.perf_counter() - t0
    for _ in range(max(warmup - 1, 0)):
        _block(fn())
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        _block(fn())
        times.append(time.perf_counter() - t0)
    return first, float(np.median(times)) if times else first


def _block(out):
    for t in tf.nest.flatten(out):
        if hasattr(t, "numpy"):
            t.numpy()


def _inputs(batch, size, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.uniform(size=(batch, size, size, 3)).astype("float32")
    mask = np.ones((batch, size, size, 1), "float32")
    for i in range(batch):  # a ~25 % hole per sample
        y, x = rng.integers(0, size // 2, 2)
        mask[i, y : y + size // 2, x : x + size // 2] = 0.0
    return tf.constant(image), tf.constant(mask)


def bench(batch: int, size: int, reps: int, iter_num: int, train_reps: int) -> dict:
    import keras

    from tfinpaint.layers.attention import AttentionModule
    from tfinpaint.models import build
    from tfinpaint.training.recipes import get_recipe

    keras.utils.set_random_seed(0)
    image, mask = _inputs(batch, size)
    row = {"batch": batch}

    _reset_peak()
    model = build("rfr_net", iter_num=iter_num)
    eager = lambda: model((image, mask), training=False)["output"]  # noqa: E731
    row["eager_first"], row["eager"] = _time(eager, reps)
    row["mem_eager"] = _peak_rss_mib()

    _reset_peak()
    fn = tf.function(lambda x, m: model((x, m), training=False)["output"])
    row["tf_function_first"], row["tf_function"] = _time(lambda: fn(image, mask), reps)
    row["mem_tf_function"] = _peak_rss_mib()

    _reset_peak()
    xla = tf.function(lambda x, m: model((x, m), training=False)["output"], jit_compile=True)
    try:
        row["xla_first"], row["xla"] = _time(lambda: xla(image, mask), reps)
    except Exception as e:  # XLA may be unavailable for some op on some builds
        row["xla_first"] = row["xla"] = float("nan")
        row["xla_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
    row["mem_xla"] = _peak_rss_mib()

    # KCA alone at its input size: H/8 x W/8 x 512, iter_num recurrences with the state.
    att = AttentionModule(mask_stride=4)
    feat = tf.random.normal((batch, size // 8, size // 8, 512))
    small_mask = tf.constant(mask.numpy()[:, ::2, ::2])  # the H/2 mask it receives

    @tf.function
    def attention_only(f, m):
        out, scores, mm = att([f, m])
        outs = [out]
        for _ in range(iter_num - 1):
            out, scores, mm = att([f, m, scores, mm])
            outs.append(out)
        return tf.add_n(outs)

    _, row["attention"] = _time(lambda: attention_only(feat, small_mask), reps)
    row["attention_share"] = row["attention"] / row["tf_function"]

    # One training step: rfr_net recipe (random VGG16), Adam, through the trainer's train_step.
    _reset_peak()
    from tfinpaint.losses import FeatureExtractor
    from tfinpaint.training.trainer import InpaintingTrainer

    recipe = get_recipe("rfr_net")
    vgg = FeatureExtractor(recipe.feature_network, recipe.feature_layers, weights=None,
                           normalization=recipe.feature_normalization)
    trainer = InpaintingTrainer(model, recipe=recipe, feature_extractor=vgg)
    trainer.compile(g_optimizer=recipe.g_optimizer.build())
    step = tf.function(trainer.train_step)
    row["train_first"], row["train"] = _time(lambda: step((image, mask)), train_reps)
    row["mem_train"] = _peak_rss_mib()
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 6])
    parser.add_argument("--reps", type=int, default=2,
                        help="timed forward calls per mode (0: report the first call only)")
    parser.add_argument("--train-reps", type=int, default=1,
                        help="timed training steps (0: report the first step, incl. tracing)")
    parser.add_argument("--iter-num", type=int, default=6)
    args = parser.parse_args(argv)
    if args.size % 16:
        parser.error(f"--size must be a multiple of 16. Received: {args.size}")

    devices = [d.device_type for d in tf.config.list_logical_devices()]
    print(f"RFR-Net {args.size}x{args.size}, iter_num={args.iter_num}, TF {tf.__version__}, "
          f"devices {devices}, intra-op threads {tf.config.threading.get_intra_op_parallelism_threads() or 'auto'}, "  # noqa: E501
          f"CPUs {os.cpu_count()}")
    rows = []
    for batch in args.batches:
        t0 = time.perf_counter()
        rows.append(bench(batch, args.size, args.reps, args.iter_num, args.train_reps))
        print(f"  batch {batch} done in {time.perf_counter() - t0:.0f} s", flush=True)
    mark = "" if _PEAK_RESET_OK else "*"
    print()
    print("Latency in seconds (median of timed calls; first call incl. tracing/compilation in "
          "parentheses); peak RSS in MiB" + (" (* cumulative)" if mark else ""))
    header = ("| batch | eager | tf.function | XLA | train step | s/img fwd (XLA) | KCA alone "
              "(share of tf.function fwd) | peak RSS eager / tf.function / XLA / train |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in rows:
        print(
            f"| {r['batch']} | {r['eager']:.2f} ({r['eager_first']:.2f}) "
            f"| {r['tf_function']:.2f} ({r['tf_function_first']:.2f}) "
            f"| {r['xla']:.2f} ({r['xla_first']:.2f}) "
            f"| {r['train']:.2f} ({r['train_first']:.2f}) "
            f"| {r['xla'] / r['batch']:.2f} "
            f"| {r['attention']:.3f} ({100 * r['attention_share']:.1f} %) "
            f"| {r['mem_eager']:.0f}{mark} / {r['mem_tf_function']:.0f}{mark} / "
            f"{r['mem_xla']:.0f}{mark} / {r['mem_train']:.0f}{mark} |"
        )
        if "xla_error" in r:
            print(f"  XLA failed at batch {r['batch']}: {r['xla_error']}")


if __name__ == "__main__":
    main()
