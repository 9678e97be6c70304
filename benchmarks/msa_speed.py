"""MSA-Net (MANet) speed on the CPU: forward pass and one GAN training step at 256x256.

For each batch size: the generator forward (``training=False``) eager and in a
``tf.function``; the discriminator forward; one full GAN step of the ``msa_net`` recipe through
``InpaintingTrainer.train_step`` in a ``tf.function`` (generator forward, the official loss
terms with a random-weight VGG16, the discriminator update with its spectral-norm power
iterations, the generator update; two Adam optimizers). The official config
(``layer_size=8``, 38.2 M parameters incl. the discriminator) with random weights (the
values do not change the cost). Median of ``--reps`` timed calls after one warm-up call (the
first call, with tracing, in parentheses). Peak resident memory of the process at the end.

Usage::

    python benchmarks/msa_speed.py                     # 256x256, batches 1 and 2
    python benchmarks/msa_speed.py --batches 2 --reps 2 --threads 2
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def _time(fn, reps):
    t0 = time.perf_counter()
    _block(fn())
    first = time.perf_counter() - t0
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
    image = rng.random((batch, size, size, 3), dtype=np.float32)
    mask = np.ones((batch, size, size, 1), np.float32)
    for i in range(batch):
        y, x = rng.integers(0, size // 2, 2)
        mask[i, y:y + size // 2, x:x + size // 2] = 0
    return image, mask


def _peak_rss_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="TF intra/inter-op threads")
    args = parser.parse_args(argv)
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    import warnings

    from tfinpaint.models import registry
    from tfinpaint.training.recipes import get_recipe
    from tfinpaint.training.trainer import InpaintingTrainer

    spec = registry.get_spec("msa_net")
    generator = registry.build("msa_net")
    discriminator = spec.discriminator()
    recipe = get_recipe("msa_net")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = InpaintingTrainer(generator, discriminator, recipe, vgg_weights=None)
    trainer.compile(recipe.g_optimizer.build(), recipe.d_optimizer.build())
    n_g = sum(int(np.prod(w.shape)) for w in generator.weights)
    discriminator(np.zeros((1, args.size, args.size, 3), np.float32))
    n_d = sum(int(np.prod(w.shape)) for w in discriminator.weights)
    print(f"msa_net {args.size}x{args.size}: generator {n_g / 1e6:.1f} M values, "
          f"discriminator {n_d / 1e6:.2f} M; TF {tf.__version__}, threads "
          f"{args.threads or 'auto'}, {os.cpu_count()} CPUs")
    fwd = tf.function(lambda x, m: generator((x, m), training=False))
    dfwd = tf.function(lambda x: discriminator(x, training=False))
    step = tf.function(trainer.train_step)
    print("| batch | forward eager | forward tf.function | D forward | GAN train step |")
    print("|---|---|---|---|---|")
    for batch in args.batches:
        image, mask = _inputs(batch, args.size)
        cells = []
        x, m = tf.constant(image), tf.constant(mask)
        for fn in (lambda x=x, m=m: generator((x, m), training=False),
                   lambda x=x, m=m: fwd(x, m), lambda x=x: dfwd(x),
                   lambda x=x, m=m: step((x, m))):
            first, median = _time(fn, args.reps)
            cells.append(f"{median:.3f} s ({first:.2f})")
        print(f"| {batch} | " + " | ".join(cells) + " |", flush=True)
    print(f"peak RSS {_peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
