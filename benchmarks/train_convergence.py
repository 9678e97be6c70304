"""Training convergence on the real photos: validation L1 before and during training.

Trains ``pconv_unet`` (``layer_size=4``, 64 x 64 crops) with :class:`InpaintingTrainer` on
``photos/train`` and evaluates on fixed center crops of ``photos/val`` with fixed ``lama_thick``
masks, printing the validation hole L1, L1, PSNR and SSIM of the composite at step 0 and every
``--eval-every`` steps.

By default the recipe's VGG terms (perceptual, style) are dropped: no ImageNet VGG weights can
be downloaded here, and random-VGG perceptual/style terms measure nothing. ``--vgg-weights
imagenet|PATH`` keeps the full PConv recipe (``--vgg-weights none`` keeps it with random VGG).

    .venv/bin/python benchmarks/train_convergence.py --steps 300
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
PHOTOS = pathlib.Path(
    os.environ.get("TFINPAINT_PHOTOS", REPO.parent / "shared" / "data" / "photos")
)


def convergence_run(photos=PHOTOS, steps=300, eval_every=100, size=64, batch=4, lr=1e-3,
                    vgg_weights="drop", seed=0, val_batches=3, verbose=True):
    """Returns ``[(step, {val metric: value}), ...]`` starting with step 0 (before training)."""
    import keras

    from tfinpaint.data.inpainting_dataset import inpainting_dataset
    from tfinpaint.models.registry import build
    from tfinpaint.training.recipes import get_recipe
    from tfinpaint.training.trainer import InpaintingTrainer

    keras.utils.set_random_seed(seed)
    recipe = get_recipe("pconv_unet")
    if vgg_weights == "drop":
        recipe = recipe.replace(
            name="pconv_unet_no_vgg",
            terms=tuple(t for t in recipe.terms if t.loss not in ("perceptual", "style")),
        )
        vgg_weights = None
    generator = build("pconv_unet", layer_size=4)
    trainer = InpaintingTrainer(generator, None, recipe, vgg_weights=vgg_weights)
    trainer.compile(keras.optimizers.Adam(lr))
    train_ds = inpainting_dataset(photos / "train", "lama_thick", size=size, batch_size=batch,
                                  seed=seed, crop=recipe.data_policy)
    val_ds = inpainting_dataset(
        photos / "val", "lama_thick", size=size, batch_size=batch, seed=seed + 1,
        crop="center_crop", flip=False, shuffle=False, repeat=False, drop_remainder=False,
        mask_augment=False,
    ).take(val_batches).cache()

    def evaluate():
        res = trainer.evaluate(val_ds, verbose=0, return_dict=True)
        return {k: float(res[k]) for k in ("hole_l1", "l1", "psnr", "ssim", "g_total")}

    history = [(0, evaluate())]
    if verbose:
        print(f"step 0: {history[-1][1]}", flush=True)
    t0 = time.time()
    epochs = -(-steps // eval_every)
    # One fit call keeps one iterator over the training stream (a fit per period would
    # restart the seeded stream and replay the same batches).
    hist = trainer.fit(train_ds, steps_per_epoch=eval_every, epochs=epochs,
                       validation_data=val_ds, verbose=0)
    elapsed = time.time() - t0
    for e in range(epochs):
        metrics = {k: float(hist.history[f"val_{k}"][e])
                   for k in ("hole_l1", "l1", "psnr", "ssim", "g_total")}
        history.append(((e + 1) * eval_every, metrics))
        if verbose:
            print(f"step {(e + 1) * eval_every}: {metrics}", flush=True)
    if verbose:
        print(f"{epochs * eval_every / elapsed:.2f} steps/s (with validation)", flush=True)
    return history


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--vgg-weights", default="drop", help="drop | none | imagenet | PATH")
    p.add_argument("--photos", type=pathlib.Path, default=PHOTOS)
    args = p.parse_args(argv)
    vgg = None if args.vgg_weights == "none" else args.vgg_weights
    hist = convergence_run(args.photos, args.steps, args.eval_every, args.size, args.batch,
                           args.lr, vgg)
    first, last = hist[0][1], hist[-1][1]
    print("\nstep  hole_l1   l1       psnr    ssim")
    for step, m in hist:
        print(f"{step:5d} {m['hole_l1']:.4f}  {m['l1']:.4f}  {m['psnr']:6.2f}  {m['ssim']:.4f}")
    print(f"\nvalidation hole L1: {first['hole_l1']:.4f} -> {last['hole_l1']:.4f} "
          f"({last['hole_l1'] / first['hole_l1']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
