"""``train()``: the training driver behind ``tfinpaint train``.

A run directory holds everything needed to resume, evaluate and export (DESIGN "Run directory
format"):

* ``config.json``: ``{"model", "config", "recipe", ...training arguments}``, written at start;
* ``checkpoints/``: ``tf.train.CheckpointManager`` of the generator, the discriminator, both
  optimizers and the step counter, saved every ``save_every`` steps and at the end;
* ``generator.weights.h5``: the latest generator weights (updated with each save);
* ``tb/``: TensorBoard event files (``train``: every loss term and image grids; ``val``:
  validation losses, PSNR, SSIM, L1);
* ``validation.jsonl``: one line per validation, ``{"step", "hole_l1", "l1", "psnr", ...}``,
  starting with step 0 (the untrained generator) on a new run.

Calling :func:`train` again with the same ``out_dir`` resumes from the newest checkpoint with
the same step counter and optimizer state (a killed run loses at most ``save_every`` steps) and
continues until ``steps``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys

import keras
import numpy as np
import tensorflow as tf

from tfinpaint.training.distribute import (
    STRATEGIES,
    get_strategy,
    is_chief,
    multiworker_train,
    trainer_checkpoint,
)

MIXED_PRECISION = (None, "float16", "bfloat16")
VALIDATION_HISTORY = "validation.jsonl"
# Keys of config.json that must match when a run directory is reused.
_IDENTITY_KEYS = ("model", "config", "recipe", "loss_weights", "size", "finetune_from")


def _check_positive(name, value):
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive int. Received: {name}={value!r}")
    return int(value)


def _build_models(spec, config, recipe, size):
    """Builds (and traces once) the generator and, for adversarial recipes, the discriminator."""
    from tfinpaint.models.registry import build, build_discriminator

    generator = build(spec.name, **config)
    multiple = int(getattr(generator, "size_multiple", spec.size_multiple) or 1)
    if size % multiple:
        raise ValueError(
            f"Model {spec.name!r} needs H and W to be multiples of {multiple}. "
            f"Received: size={size}"
        )
    image = np.zeros((1, size, size, 3), "float32")
    mask = np.ones((1, size, size, 1), "float32")
    generator((image, mask), training=False)
    discriminator = None
    if recipe.adversarial is not None:
        if spec.discriminator is None:
            raise ValueError(
                f"Recipe {recipe.name!r} is adversarial but model {spec.name!r} registers no "
                "discriminator builder."
            )
        discriminator = build_discriminator(spec.name, **config)
        if getattr(discriminator, "takes_mask", False):
            discriminator((image, mask), training=False)
        else:
            discriminator(image, training=False)
    return generator, discriminator


def _load_pretrained(generator, source, discriminator=None):
    """Loads pre-training generator weights from a run dir, a checkpoint dir or a .h5 file.

    A run directory's ``discriminator.weights.h5`` (written by ``tfinpaint convert`` for an
    official checkpoint that has a discriminator) is loaded into ``discriminator`` too."""
    source = os.fspath(source)
    if os.path.isdir(source):
        h5 = os.path.join(source, "generator.weights.h5")
        if os.path.isfile(h5):
            generator.load_weights(h5)
            d_h5 = os.path.join(source, "discriminator.weights.h5")
            if discriminator is not None and os.path.isfile(d_h5):
                discriminator.load_weights(d_h5)
                return f"{h5} and {d_h5}"
            return h5
        ckpt_dir = os.path.join(source, "checkpoints") if os.path.isdir(
            os.path.join(source, "checkpoints")) else source
        latest = tf.train.latest_checkpoint(ckpt_dir)
        if latest is None:
            raise FileNotFoundError(
                f"finetune_from={source}: no generator.weights.h5 and no checkpoint found."
            )
        parts = {"generator": generator}
        if discriminator is not None:
            parts["discriminator"] = discriminator
        tf.train.Checkpoint(**parts).restore(latest).expect_partial()
        return latest
    if source.endswith(".weights.h5") and os.path.isfile(source):
        generator.load_weights(source)
        return source
    raise FileNotFoundError(
        f"finetune_from={source}: expected a run directory, a checkpoint directory or a "
        ".weights.h5 file."
    )


def _run_config(**kw) -> dict:
    from tfinpaint import __version__

    return {**kw, "tfinpaint_version": __version__}


def _write_config(out_dir, run_config):
    path = os.path.join(out_dir, "config.json")
    if os.path.isfile(path):
        with open(path) as f:
            old = json.load(f)
        diff = {k: (old.get(k), run_config.get(k)) for k in _IDENTITY_KEYS
                if old.get(k) != run_config.get(k)}
        if diff and tf.train.latest_checkpoint(os.path.join(out_dir, "checkpoints")):
            raise ValueError(
                f"Run directory {out_dir} holds a different run; cannot resume it with other "
                f"settings. Differences (saved, requested): {diff}"
            )
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(run_config, f, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return path


def train(
    model_name: str,
    images,
    val=None,
    *,
    out_dir,
    size: int = 256,
    batch: int = 6,
    steps: int = 1000,
    masks="lama_thick",
    finetune_from=None,
    strategy: str = "default",
    mixed_precision: str | None = None,
    vgg_weights=None,
    save_every: int = 1000,
    seed: int = 0,
    config: dict | None = None,
    recipe: str | None = None,
    loss_weights: dict | None = None,
    val_every: int | None = None,
    val_batches: int = 4,
    scalar_every: int = 10,
    image_every: int = 0,
    verbose="auto",
    jit_compile: bool = False,
    keep_weights: bool = False,
) -> dict:
    """Trains (or resumes) a registered model; see the module docstring for ``out_dir``.

    Args:
        model_name: registered model name (``tfinpaint.models.list_models("keras")``).
        images: training images (folder, glob, list file, TFRecords).
        val: validation images or ``None``. Evaluated every ``val_every`` steps on the same
            ``val_batches`` batches (center crops, fixed masks), so the numbers are comparable.
        out_dir: run directory (created; reused to resume).
        size: training crop size. batch: global batch size. steps: total steps of the run.
        masks: mask preset name or mask folder (see ``tfinpaint.data.inpainting_dataset``).
        finetune_from: pre-training run dir / checkpoint dir / ``.weights.h5``: its generator
            weights are loaded (on a fresh run) and the recipe's fine-tune stage is applied
            (BatchNorm statistics frozen, lower learning rate).
        strategy: ``"default"``, ``"mirrored"`` or ``"multiworker"`` (needs ``TF_CONFIG``).
        mixed_precision: ``None``, ``"float16"`` (loss-scaled) or ``"bfloat16"``.
        vgg_weights: loss network weights: ``"imagenet"``, a file, or ``None`` (random; tests).
        save_every: checkpoint period in steps.
        seed: seed of the data pipeline (crops, masks; ``seed + step`` on resume) and of the
            weight initialisation of a new run (``keras.utils.set_random_seed``), so a run is
            reproducible up to the nondeterminism of multi-threaded kernels.
        config: constructor overrides of the model (stored in ``config.json``).
        recipe: recipe name overriding the model's registered recipe.
        loss_weights: ``{loss name: weight}`` overriding the recipe's weights
            (:meth:`~tfinpaint.training.recipes.Recipe.with_loss_weights`: metric names such as
            ``"sobel"`` or ``"style"``, and ``"adversarial"``; 0 drops a term). Stored in
            ``config.json``; a run resumes only with the same overrides.
        val_every: validation period (defaults to ``save_every``).
        val_batches: validation batches per evaluation.
        scalar_every / image_every: TensorBoard scalar / image-grid period in steps (images are
            also written after each validation).
        verbose: Keras ``fit`` verbosity (``"auto"`` = progress bar).
        jit_compile: compile the train step with XLA. Keras' ``"auto"`` leaves XLA off on
            CPU-only machines, where it pays most for RFR-Net: its 7x7 partial convolutions'
            kernel gradients run 2.5x faster under XLA, and the whole step 2.8x
            (``benchmarks/results/rfr_speed.md``). The first step includes the compilation;
            batches have a fixed shape (``drop_remainder``), so it compiles once. Not used by
            the multi-worker loop.
        keep_weights: keep every save's generator weights as
            ``RUN_DIR/weights/step_NNNNNNN.weights.h5`` (to pick the best by validation).

    Returns:
        ``{"step": final step, "resumed_from": step or 0, "history": {metric: [values]},
        "out_dir": str}``.

    Raises:
        FloatingPointError: a loss term became NaN/Inf (the message names it).
    """
    from tfinpaint.models.registry import get_spec
    from tfinpaint.training.recipes import get_recipe

    steps = _check_positive("steps", steps)
    save_every = _check_positive("save_every", save_every)
    batch = _check_positive("batch", batch)
    size = _check_positive("size", size)
    val_every = _check_positive("val_every", val_every or save_every)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}. Received: strategy={strategy!r}")
    if mixed_precision not in MIXED_PRECISION:
        raise ValueError(
            f"mixed_precision must be one of {MIXED_PRECISION}. "
            f"Received: mixed_precision={mixed_precision!r}"
        )
    spec = get_spec(model_name)
    if spec.kind != "keras":
        raise ValueError(f"Model {model_name!r} is {spec.kind!r} and cannot be trained.")
    recipe_name = recipe or spec.recipe
    if recipe_name is None:
        raise ValueError(f"Model {model_name!r} registers no recipe; pass recipe=NAME.")
    recipe_obj = get_recipe(recipe_name)
    if loss_weights:
        recipe_obj = recipe_obj.with_loss_weights(dict(loss_weights))
    if finetune_from is not None and recipe_obj.finetune is None:
        raise ValueError(f"Recipe {recipe_name!r} has no fine-tune stage; cannot finetune_from.")
    config = dict(config or {})
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    ckpt_dir = os.path.join(out_dir, "checkpoints")
    weights_path = os.path.join(out_dir, "generator.weights.h5")

    run_config = _run_config(
        model=model_name, config=config, recipe=recipe_name,
        loss_weights=dict(sorted(loss_weights.items())) if loss_weights else None,
        size=size, batch=batch,
        steps=steps, masks=os.fspath(masks), images=os.fspath(images),
        val=None if val is None else os.fspath(val),
        finetune_from=None if finetune_from is None else os.fspath(finetune_from),
        finetune=(dataclasses.asdict(recipe_obj.finetune) if finetune_from is not None else None),
        strategy=strategy, mixed_precision=mixed_precision,
        vgg_weights=None if vgg_weights is None else os.fspath(vgg_weights),
        save_every=save_every, seed=seed,
    )

    previous_policy = keras.config.dtype_policy()
    if mixed_precision:
        keras.mixed_precision.set_global_policy(f"mixed_{mixed_precision}")
    try:
        strat = get_strategy(strategy)
        if is_chief(strat):
            _write_config(out_dir, run_config)

        def make_trainer():
            from tfinpaint.training.trainer import InpaintingTrainer, apply_finetune

            keras.utils.set_random_seed(seed)  # initial weights (a resumed run restores them)
            generator, discriminator = _build_models(spec, config, recipe_obj, size)
            g_spec = recipe_obj.g_optimizer
            if finetune_from is not None:
                if tf.train.latest_checkpoint(ckpt_dir) is None:
                    loaded = _load_pretrained(generator, finetune_from, discriminator)
                    print(f"Loaded pre-training generator weights from {loaded}", flush=True)
                info = apply_finetune(generator, recipe_obj.finetune)
                g_spec = dataclasses.replace(g_spec, learning_rate=info["learning_rate"])
                print(
                    f"Fine-tune stage: {len(info['frozen_batchnorm'])} BatchNorm layers with "
                    f"frozen statistics, generator lr {info['learning_rate']}", flush=True,
                )
            trainer = InpaintingTrainer(
                generator, discriminator, recipe_obj, vgg_weights=vgg_weights
            )
            d_opt = None
            if discriminator is not None:
                d_spec = recipe_obj.d_optimizer or recipe_obj.g_optimizer
                if finetune_from is not None and recipe_obj.finetune.d_learning_rate:
                    d_spec = dataclasses.replace(
                        d_spec, learning_rate=recipe_obj.finetune.d_learning_rate)
                d_opt = d_spec.build(recipe_obj.lr_schedule)
            trainer.compile(g_spec.build(recipe_obj.lr_schedule), d_opt,
                            jit_compile=bool(jit_compile))
            return trainer

        if strategy == "multiworker":
            return _train_multiworker(
                strat, make_trainer, images, masks, size, batch, steps, save_every, seed,
                recipe_obj, out_dir, weights_path,
            )
        return _train_fit(
            strat, make_trainer, images, val, masks, size, batch, steps, save_every, seed,
            recipe_obj, out_dir, ckpt_dir, weights_path, val_every, val_batches, scalar_every,
            image_every, verbose, keep_weights,
        )
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def _train_fit(strat, make_trainer, images, val, masks, size, batch, steps, save_every, seed,
               recipe, out_dir, ckpt_dir, weights_path, val_every, val_batches, scalar_every,
               image_every, verbose, keep_weights=False):
    from tfinpaint.data.inpainting_dataset import inpainting_dataset
    from tfinpaint.training import callbacks as cb

    with strat.scope():
        trainer = make_trainer()
        checkpoint = trainer_checkpoint(trainer)
    manager = tf.train.CheckpointManager(checkpoint, ckpt_dir, max_to_keep=3)
    start = 0
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        start = int(keras.ops.convert_to_numpy(trainer.step.value))
        print(f"Resumed from {manager.latest_checkpoint} at step {start} "
              f"(generator optimizer iterations "
              f"{int(keras.ops.convert_to_numpy(trainer.g_optimizer.iterations.value))})",
              flush=True)
    if start >= steps:
        print(f"Run in {out_dir} already reached step {start} >= steps={steps}.", flush=True)
        return {"step": start, "resumed_from": start, "history": {}, "out_dir": out_dir}

    # A resumed run draws new crops and masks instead of replaying the first ones.
    train_ds = inpainting_dataset(
        images, masks, size=size, batch_size=batch, seed=seed + start, crop=recipe.data_policy
    )
    val_ds = None
    if val is not None:
        val_ds = inpainting_dataset(
            val, masks, size=size, batch_size=batch, seed=seed + 7919, crop="center_crop",
            flip=False, shuffle=False, repeat=False, drop_remainder=False, mask_augment=False,
        ).take(val_batches)
    sample = next(iter(val_ds if val_ds is not None else train_ds))

    nan_stop = cb.NonFiniteLossStop(raise_error=False)
    monitor = cb.TrainingMonitor(os.path.join(out_dir, "tb"), sample=sample,
                                 scalar_every=scalar_every, image_every=image_every,
                                 history_path=os.path.join(out_dir, VALIDATION_HISTORY))
    callbacks = [
        nan_stop,
        cb.StepLimit(steps),
        cb.StepCheckpoint(manager, save_every, weights_path, stop_callback=nan_stop,
                          keep_weights_dir=os.path.join(out_dir, "weights") if keep_weights
                          else None),
        monitor,
    ]
    if val_ds is not None and start == 0:
        # The untrained generator's validation scores: the reference every later evaluation
        # of the run is compared with.
        monitor.set_model(trainer)
        monitor.record_validation(0, trainer.evaluate(val_ds, verbose=0, return_dict=True))
    per_epoch = min(val_every, steps)
    initial_epoch = start // per_epoch
    epochs = initial_epoch + math.ceil((steps - start) / per_epoch)
    history = trainer.fit(
        train_ds, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=per_epoch,
        validation_data=val_ds, callbacks=callbacks, verbose=verbose,
    )
    if nan_stop.message:
        raise FloatingPointError(nan_stop.message)
    final = int(keras.ops.convert_to_numpy(trainer.step.value))
    return {"step": final, "resumed_from": start,
            "history": {k: [float(x) for x in v] for k, v in history.history.items()},
            "out_dir": out_dir, "trainer": trainer}


def _train_multiworker(strat, make_trainer, images, masks, size, batch, steps, save_every, seed,
                       recipe, out_dir, weights_path):
    from tfinpaint.data.inpainting_dataset import inpainting_dataset

    def dataset_fn(input_context):
        return inpainting_dataset(images, masks, size=size, batch_size=batch, seed=seed,
                                  crop=recipe.data_policy, input_context=input_context)

    def on_save(trainer, step, chief):
        if chief:
            tmp = weights_path[: -len(".weights.h5")] + ".tmp.weights.h5"
            trainer.generator.save_weights(tmp)
            os.replace(tmp, weights_path)
            print(f"step {step}: saved checkpoint and {weights_path}", file=sys.stdout, flush=True)

    trainer, logs = multiworker_train(
        make_trainer, dataset_fn, steps, out_dir=out_dir, save_every=save_every,
        strategy=strat, on_save=on_save,
    )
    return {"step": int(keras.ops.convert_to_numpy(trainer.step.value)), "history": logs,
            "out_dir": out_dir, "trainer": trainer}
