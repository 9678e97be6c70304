"""Distribution strategies for :class:`~tfinpaint.training.trainer.InpaintingTrainer`.

* ``"default"``: no distribution (one device).
* ``"mirrored"``: ``tf.distribute.MirroredStrategy`` over the local devices; training goes
  through ``InpaintingTrainer.fit``. Build the models, the trainer and both optimizers inside
  ``strategy.scope()``.
* ``"multiworker"``: ``tf.distribute.MultiWorkerMirroredStrategy`` configured by ``TF_CONFIG``.
  Keras 3 ``Model.fit`` does not work under it (keras-team/keras#20585), so
  :func:`multiworker_train` runs a custom ``strategy.run`` loop over the *same*
  ``InpaintingTrainer.train_step`` that ``fit`` uses, with the dataset distributed by
  ``strategy.distribute_datasets_from_function`` (each worker's input pipeline shards with its
  ``tf.distribute.InputContext``) and checkpoints written by the chief only (the other workers
  write to temporary directories that are deleted, as the TF multi-worker guide prescribes:
  every worker must take part in a save because saving may run collectives).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multiworker")


def get_strategy(name: str = "default"):
    """Returns the ``tf.distribute`` strategy named ``name`` (one of ``STRATEGIES``).

    ``"multiworker"`` reads the cluster from the ``TF_CONFIG`` environment variable and must be
    created at program start, before any other TensorFlow op runs.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "strategy='multiworker' needs the TF_CONFIG environment variable describing the "
                'cluster, e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
                '"task": {"type": "worker", "index": 0}}. Received: TF_CONFIG unset'
            )
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as e:
            raise ValueError(f"TF_CONFIG is not valid JSON ({e}). Received: TF_CONFIG="
                             f"{os.environ['TF_CONFIG']!r}") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"strategy must be one of {STRATEGIES}. Received: strategy={name!r}")


def task_info(strategy) -> tuple[str | None, int | None]:
    """``(task_type, task_id)`` of this process (``(None, None)`` without a cluster)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return None, None
    return resolver.task_type, resolver.task_id


def is_chief(strategy) -> bool:
    """The chief writes checkpoints and logs: the ``chief`` task, or worker 0 when the cluster
    has no ``chief`` entry (the TF multi-worker convention)."""
    task_type, task_id = task_info(strategy)
    if task_type is None:
        return True
    if task_type == "chief":
        return True
    if task_type == "worker" and task_id == 0:
        spec = strategy.cluster_resolver.cluster_spec().as_dict()
        return "chief" not in spec
    return False


def write_dir(directory: str, strategy) -> str:
    """Where this worker writes: ``directory`` on the chief, a per-worker temp dir elsewhere."""
    if is_chief(strategy):
        return directory
    task_type, task_id = task_info(strategy)
    return os.path.join(os.path.dirname(directory.rstrip("/")) or ".",
                        f".workertemp_{task_type}_{task_id}", os.path.basename(directory))


def _reduce_logs(strategy, per_replica_logs):
    return {
        k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
        for k, v in per_replica_logs.items()
    }


def multiworker_train(
    make_trainer,
    dataset_fn,
    steps: int,
    out_dir: str | None = None,
    save_every: int | None = None,
    strategy=None,
    log_every: int = 10,
    on_save=None,
    verbose: bool = True,
):
    """Trains with a custom ``strategy.run`` loop (MultiWorkerMirroredStrategy by default).

    Args:
        make_trainer: ``() -> InpaintingTrainer`` (compiled). Called inside ``strategy.scope()``.
        dataset_fn: ``(input_context) -> tf.data.Dataset`` of per-replica ``(image, mask)``
            batches; shard with ``input_context.input_pipeline_id`` and batch with
            ``input_context.get_per_replica_batch_size(global_batch)``
            (``tfinpaint.data.inpainting_dataset(..., input_context=ctx)`` does both).
        steps: train until the trainer's step counter reaches ``steps``.
        out_dir: run directory; checkpoints go to ``out_dir/checkpoints`` (chief) and are
            restored from there on start. ``None`` disables checkpoints.
        save_every: checkpoint period in steps (``None``: only at the end).
        strategy: defaults to ``get_strategy("multiworker")``.
        log_every: the metric trackers are printed and reset every ``log_every`` steps.
        on_save: optional ``(trainer, step, chief: bool) -> None`` called after each save
            (``tfinpaint.training.run`` writes ``generator.weights.h5`` there).
        verbose: print progress lines (chief only).

    Returns:
        ``(trainer, logs)``: the trainer and the last logs (floats).

    Raises:
        FloatingPointError: a loss term became NaN/Inf; the message names it.
    """
    from tfinpaint.training.callbacks import non_finite_message

    strategy = strategy or get_strategy("multiworker")
    chief = is_chief(strategy)
    with strategy.scope():
        trainer = make_trainer()
        if trainer.g_optimizer is None:
            raise ValueError("make_trainer must return a compiled InpaintingTrainer.")
        trainer.build_optimizers()
        checkpoint = trainer_checkpoint(trainer)
    manager = None
    if out_dir is not None:
        ckpt_dir = os.path.join(out_dir, "checkpoints")
        latest = tf.train.latest_checkpoint(ckpt_dir)
        if latest:
            checkpoint.restore(latest).assert_existing_objects_matched()
            if verbose and chief:
                print(f"Resumed from {latest} at step {int(trainer.step.numpy())}", flush=True)
        manager = tf.train.CheckpointManager(checkpoint, write_dir(ckpt_dir, strategy), 3)

    dist_ds = strategy.distribute_datasets_from_function(dataset_fn)
    iterator = iter(dist_ds)

    @tf.function
    def train_step(it):
        per_replica = strategy.run(trainer.train_step, args=(next(it),))
        return _reduce_logs(strategy, per_replica)

    def save(step):
        if manager is None:
            return
        if on_save is not None:  # first, so a listed checkpoint always has its weights file
            on_save(trainer, step, chief)
        manager.save(checkpoint_number=step)
        if not chief:  # the non-chief copies were only needed for the collectives
            shutil.rmtree(os.path.dirname(manager.directory), ignore_errors=True)

    logs = {}
    step = int(trainer.step.numpy())
    start, t0 = step, time.time()
    while step < steps:
        logs = {k: float(v) for k, v in train_step(iterator).items()}
        step = int(trainer.step.numpy())
        message = non_finite_message(logs, step, trainer.term_names, trainer.term_weights)
        if message:
            raise FloatingPointError(message)
        if save_every and step % save_every == 0:
            save(step)
        if step % log_every == 0 or step == steps:
            if verbose and chief:
                rate = (step - start) / max(time.time() - t0, 1e-9)
                text = " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())
                print(f"step {step}/{steps} ({rate:.2f} steps/s) - {text}", file=sys.stdout,
                      flush=True)
            for m in trainer.metrics:
                m.reset_state()
    if manager is not None and not (save_every and step % save_every == 0 and step > start):
        save(step)
    return trainer, logs


def trainer_checkpoint(trainer) -> tf.train.Checkpoint:
    """``tf.train.Checkpoint`` of everything a resumed run needs: generator, discriminator,
    both optimizers (slots, iteration counts, loss scale) and the trainer's step counter."""
    objects = {"generator": trainer.generator, "g_optimizer": trainer.g_optimizer,
               "step": trainer.step}
    if trainer.discriminator is not None:
        objects["discriminator"] = trainer.discriminator
        objects["d_optimizer"] = trainer.d_optimizer
    return tf.train.Checkpoint(**objects)
