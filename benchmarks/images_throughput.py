"""Throughput of the image pipelines: folder (JPEG files) vs TFRecord shards of the same files.

Usage: ``python benchmarks/images_throughput.py [--images DIR] [--size 256] [--batch-size 6]
[--crop random_square_crop] [--epochs 3] [--shard-size 64]``. ``--images`` defaults to
``../shared/data/photos/train`` relative to the repository. The TFRecord shards are written to a
temporary folder first (``write_tfrecords``, not timed). Each pipeline runs one untimed warm-up
epoch, then ``--epochs`` timed epochs (shuffled, random square crops and flips, seeded, batched,
prefetched); images/s counts every decoded, cropped image that reached the consumer.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from tfinpaint.data import images as I  # noqa: E402


def measure(source, args) -> tuple[float, int]:
    """Returns (images per second, images per epoch) over ``args.epochs`` timed epochs."""
    ds = I.image_dataset(
        source, size=args.size, crop=args.crop, flip=True, batch_size=args.batch_size,
        shuffle=True, seed=args.seed,
    )
    per_epoch = sum(int(b.shape[0]) for b in ds)  # warm-up: threads, autotuning, page cache
    start = time.perf_counter()
    count = 0
    for _ in range(args.epochs):
        for batch in ds:
            count += int(batch.shape[0])
    return count / (time.perf_counter() - start), per_epoch


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", default=str(REPO.parent / "shared" / "data" / "photos" / "train"))
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=6)
    p.add_argument("--crop", default="random_square_crop",
                   choices=[c for c in I.CROP_POLICIES if c is not None])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--shard-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if not os.path.isdir(args.images):
        print(f"error: --images folder not found: {args.images}", file=sys.stderr)
        return 2

    files = I.list_image_files(args.images)
    size_mb = sum(os.path.getsize(f) for f in files) / 2**20
    print(f"{len(files)} images ({size_mb:.1f} MB) in {args.images}")
    print(f"size {args.size}, crop {args.crop}, batch {args.batch_size}, {args.epochs} epochs, "
          f"{os.cpu_count()} CPUs, TensorFlow {tf.__version__}")
    with tempfile.TemporaryDirectory(prefix="tfinpaint-bench-") as tmp:
        start = time.perf_counter()
        shards = I.write_tfrecords(args.images, tmp, shard_size=args.shard_size, validate=False)
        print(f"wrote {len(shards)} TFRecord shards in {time.perf_counter() - start:.1f} s")
        for name, source in (("folder", args.images), ("tfrecord", shards)):
            rate, per_epoch = measure(source, args)
            print(f"{name:9s} {rate:8.1f} images/s  ({per_epoch} images per epoch)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
