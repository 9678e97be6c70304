"""Keras callbacks for :class:`~tfinpaint.training.trainer.InpaintingTrainer` runs.

* :class:`StepCheckpoint`: ``tf.train.CheckpointManager`` save (+ ``generator.weights.h5``)
  every ``save_every`` trainer steps and at the end.
* :class:`StepLimit`: stops ``fit`` when the trainer's step counter reaches ``steps``.
* :class:`NonFiniteLossStop`: stops on the first NaN/Inf metric and names the loss term.
* :class:`TrainingMonitor`: TensorBoard scalars (every term, validation metrics) and image
  grids (masked input | raw output | composite | ground truth), modeled on keras-io's
  ``GANMonitor``; prints the validation metrics.
"""

from __future__ import annotations

import json
import math
import os

import keras
import numpy as np
import tensorflow as tf


def _step(model) -> int:
    return int(keras.ops.convert_to_numpy(model.step.value))


def non_finite_message(logs: dict, step: int, term_names=(), weights=None) -> str | None:
    """A message naming the non-finite loss terms in ``logs``, or ``None`` if all are finite.

    The terms (``g_<term>``, ``g_adv``, ``d_*``) are named before ``g_total`` so that the
    message points at the culprit, e.g. ``Loss term 'style' (metric g_style) is inf``. The
    logged terms are unweighted; when only ``g_total`` is bad, ``weights`` (``{term: weight}``)
    finds the term whose *weighted* value overflowed (e.g. a weight of ``inf``).
    """
    bad = {}
    for key, value in (logs or {}).items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(v):
            bad[key] = v
    if not bad:
        return None
    terms = [k for k in bad if k != "g_total" and not k.startswith("val_")]
    parts = []
    if not terms and "g_total" in bad and weights:
        for name, weight in weights.items():
            value = logs.get(f"g_{name}")
            if value is None:
                continue
            with np.errstate(all="ignore"):
                weighted = float(np.float32(weight) * np.float32(float(value)))
            if not math.isfinite(weighted):
                parts.append(
                    f"loss term {name!r} (metric g_{name}) times its weight {weight} is "
                    f"{weighted}"
                )
    for key in terms or ([] if parts else list(bad)):
        name = key[2:] if key.startswith("g_") and key[2:] in tuple(term_names) else key
        parts.append(f"loss term {name!r} (metric {key}) is {bad[key]}")
    return (
        f"Training stopped at step {step}: " + "; ".join(parts)
        + ". Check that term's weight and inputs, the learning rate and the data."
    )


class NonFiniteLossStop(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and names the offending term(s).

    Sets ``model.stop_training`` and, with ``raise_error=True`` (the default), raises
    ``FloatingPointError(message)`` from ``on_train_end`` so the run fails loudly after the
    other callbacks have closed their files. Put it *before* :class:`StepCheckpoint` so that
    a broken state is never saved.
    """

    def __init__(self, raise_error: bool = True):
        super().__init__()
        self.raise_error = raise_error
        self.message = None

    def on_train_batch_end(self, batch, logs=None):
        if self.message:
            return
        message = non_finite_message(
            logs, _step(self.model), getattr(self.model, "term_names", ()),
            getattr(self.model, "term_weights", None),
        )
        if message:
            self.message = message
            self.model.stop_training = True
            print(f"\n{message}", flush=True)

    def on_train_end(self, logs=None):
        if self.message and self.raise_error:
            raise FloatingPointError(self.message)


class StepLimit(keras.callbacks.Callback):
    """Stops ``fit`` once ``model.step`` reaches ``steps`` (the run's total, across resumes)."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = int(steps)

    def on_train_batch_end(self, batch, logs=None):
        if _step(self.model) >= self.steps:
            self.model.stop_training = True


class StepCheckpoint(keras.callbacks.Callback):
    """Saves ``manager`` (a ``tf.train.CheckpointManager``) every ``save_every`` steps.

    Each save also writes ``weights_path`` (``RUN_DIR/generator.weights.h5``, the latest
    generator weights read by ``tfinpaint.inference.load``) through a temporary file renamed
    into place, so a run killed mid-write never leaves a truncated file. A final save happens
    at the end of training unless the last step was just saved or a non-finite loss stopped
    the run (``stop_callback.message`` set).
    """

    def __init__(self, manager, save_every: int, weights_path: str | None = None,
                 stop_callback: NonFiniteLossStop | None = None, verbose: bool = True):
        super().__init__()
        if save_every < 1:
            raise ValueError(f"save_every must be >= 1. Received: save_every={save_every}")
        self.manager = manager
        self.save_every = int(save_every)
        self.weights_path = weights_path
        self.stop_callback = stop_callback
        self.verbose = verbose
        self.last_saved = None

    def _broken(self):
        return self.stop_callback is not None and self.stop_callback.message

    def save(self):
        step = _step(self.model)
        if self.weights_path:  # first, so a listed checkpoint always has its weights file
            tmp = self.weights_path[: -len(".weights.h5")] + ".tmp.weights.h5"
            self.model.generator.save_weights(tmp)
            os.replace(tmp, self.weights_path)
        path = self.manager.save(checkpoint_number=step)
        self.last_saved = step
        if self.verbose:
            print(f"\nstep {step}: saved {path}", flush=True)
        return path

    def on_train_batch_end(self, batch, logs=None):
        if self._broken():
            return
        step = _step(self.model)
        if step % self.save_every == 0 and step != self.last_saved:
            self.save()

    def on_train_end(self, logs=None):
        if not self._broken() and _step(self.model) != self.last_saved:
            self.save()


def image_grid(image, mask, output) -> tf.Tensor:
    """Rows of ``[masked input | raw output | composite | ground truth]``, float [0, 1].

    The masked input shows holes in white so they are visible on dark images.
    """
    image = tf.cast(image, tf.float32)
    mask = tf.cast(mask, tf.float32)
    output = tf.clip_by_value(tf.cast(output, tf.float32), 0.0, 1.0)
    masked = image * mask + (1.0 - mask)
    from tfinpaint.edge import composite

    comp = composite(image, mask, output)
    return tf.concat([masked, output, comp, image], axis=2)


def _metadata(plugin: str, data_class: int):
    from tensorflow.core.framework import summary_pb2

    meta = summary_pb2.SummaryMetadata()
    meta.plugin_data.plugin_name = plugin
    meta.data_class = data_class
    return meta


def write_scalar(tag: str, value, step: int) -> None:
    """Writes a TensorBoard scalar with the default writer.

    ``tf.summary.scalar`` needs the ``tensorboard`` package for its implementation; this writes
    the same event (plugin ``scalars``, ``DATA_CLASS_SCALAR``, float32 scalar tensor) through
    TensorFlow's core ``tf.summary.write``, so logging works without it.
    """
    from tensorflow.core.framework import summary_pb2

    tf.summary.write(tag, tf.constant(float(value), tf.float32), step=step,
                     metadata=_metadata("scalars", summary_pb2.DATA_CLASS_SCALAR))


def write_images(tag: str, images, step: int, max_outputs: int = 4) -> None:
    """Writes a TensorBoard image summary (plugin ``images``: a string tensor
    ``[width, height, png_1, ..., png_k]``, ``DATA_CLASS_BLOB_SEQUENCE``), as
    ``tf.summary.image`` does, without the ``tensorboard`` package."""
    from tensorflow.core.framework import summary_pb2

    images = tf.image.convert_image_dtype(
        tf.clip_by_value(tf.cast(images[:max_outputs], tf.float32), 0.0, 1.0), tf.uint8,
        saturate=True,
    )
    pngs = tf.map_fn(tf.image.encode_png, images, fn_output_signature=tf.string)
    shape = tf.shape(images)
    dims = tf.stack([tf.strings.as_string(shape[2]), tf.strings.as_string(shape[1])])
    tf.summary.write(tag, tf.concat([dims, pngs], axis=0), step=step,
                     metadata=_metadata("images", summary_pb2.DATA_CLASS_BLOB_SEQUENCE))


class TrainingMonitor(keras.callbacks.Callback):
    """TensorBoard logging for an inpainting run (``log_dir/train`` and ``log_dir/val``).

    Args:
        log_dir: ``RUN_DIR/tb``.
        sample: a fixed ``(image, mask)`` batch drawn once; its grid is written every
            ``image_every`` steps and at every epoch end (``samples`` image summary).
        scalar_every: write the training metrics (every loss term) every N steps.
        image_every: write the image grid every N steps (0: only at epoch ends).
        max_images: rows in the grid.
        verbose: print validation metrics after each evaluation.
        history_path: optional JSON-lines file; each validation appends
            ``{"step": N, "<metric>": value, ...}`` (``RUN_DIR/validation.jsonl``), so a run's
            validation curve is readable without TensorBoard.
    """

    def __init__(self, log_dir: str, sample=None, scalar_every: int = 10, image_every: int = 0,
                 max_images: int = 4, verbose: bool = True, history_path: str | None = None):
        super().__init__()
        self.log_dir = log_dir
        self.history_path = history_path
        self.sample = sample
        self.scalar_every = max(int(scalar_every), 1)
        self.image_every = int(image_every)
        self.max_images = max_images
        self.verbose = verbose
        self._writers = {}

    def _writer(self, name):
        if name not in self._writers:
            self._writers[name] = tf.summary.create_file_writer(os.path.join(self.log_dir, name))
        return self._writers[name]

    def write_scalars(self, logs, step, split="train"):
        with self._writer(split).as_default(step=step):
            for key, value in logs.items():
                key = key[4:] if key.startswith("val_") else key
                write_scalar(key, value, step)

    def write_images(self, step):
        if self.sample is None:
            return
        image, mask = self.sample
        image, mask = image[: self.max_images], mask[: self.max_images]
        outputs = self.model.generator((image, mask), training=False)
        grid = image_grid(image, mask, outputs["output"])
        with self._writer("train").as_default(step=step):
            write_images("samples (masked input | output | composite | ground truth)",
                         grid, step, max_outputs=self.max_images)

    def on_train_batch_end(self, batch, logs=None):
        step = _step(self.model)
        if logs and step % self.scalar_every == 0:
            self.write_scalars({k: v for k, v in logs.items()}, step)
        if self.image_every and step % self.image_every == 0:
            self.write_images(step)

    def record_validation(self, step: int, val: dict) -> None:
        """Writes validation metrics (keys with or without ``val_``) to TensorBoard, the
        history file and, with ``verbose``, stdout."""
        val = {(k if k.startswith("val_") else f"val_{k}"): float(v) for k, v in val.items()}
        self.write_scalars(val, step, split="val")
        if self.history_path:
            with open(self.history_path, "a") as f:
                f.write(json.dumps({"step": int(step), **{k[4:]: v for k, v in val.items()}})
                        + "\n")
        if self.verbose:
            text = ", ".join(f"{k}={v:.4f}" for k, v in sorted(val.items()))
            print(f"\nstep {step} validation: {text}", flush=True)

    def on_epoch_end(self, epoch, logs=None):
        step = _step(self.model)
        logs = logs or {}
        val = {k: v for k, v in logs.items() if k.startswith("val_")}
        if val:
            self.record_validation(step, val)
        self.write_images(step)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.flush()


def read_event_scalars(log_dir: str) -> dict:
    """``{tag: [(step, value), ...]}`` from the event files under ``log_dir`` (recursively).
    Image summaries are listed under their tag with the value ``[width, height, png, ...]``
    (bytes)."""
    from tensorflow.core.util import event_pb2

    out: dict = {}
    paths = sorted(
        os.path.join(root, f)
        for root, _, files in os.walk(log_dir)
        for f in files
        if f.startswith("events.out.tfevents")
    )
    for path in paths:
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            for v in event.summary.value:
                if v.metadata.plugin_data.plugin_name == "images":
                    blobs = tf.make_ndarray(v.tensor)
                    out.setdefault(v.tag, []).append((event.step, [bytes(b) for b in blobs]))
                else:
                    value = tf.make_ndarray(v.tensor) if v.HasField("tensor") else v.simple_value
                    out.setdefault(v.tag, []).append((event.step, float(np.asarray(value))))
    return out
