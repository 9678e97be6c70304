"""SavedModels laid out for TensorFlow Serving.

Layout: ``<export_base>/<name>/<version>/`` with ``saved_model.pb``, ``variables/`` and
``assets.extra/`` (``tf_serving_warmup_requests``, so TF Serving runs a few requests at load, and
``tfinpaint.json`` describing the model). Versions are integers; an existing version is never
overwritten unless ``overwrite=True``; a version is written to a hidden temporary folder and
renamed into place, so a server polling the folder never sees half a model.

Signatures (tag ``serve``):

- ``serving_default``: ``image`` uint8 ``[B, H, W, 3]`` and ``mask`` uint8 ``[B, H, W, 1]``
  (**white = area to fill**, the one rule of :mod:`tfinpaint.data.polarity`: a 0/1 mask where
  1, a 0..255 mask where >= 128, decided per batch item) -> ``inpainted`` uint8
  ``[B, H, W, 3]``. Any H, W: the graph pads (reflect) to the model's size multiple, runs,
  crops back and composites, so known pixels come back unchanged.
- ``encoded``: ``image_bytes`` and ``mask_bytes`` string ``[B]`` (PNG/JPEG/BMP/GIF files, the
  same rule, decoded as :func:`tfinpaint.data.polarity.read_mask_file` reads them; a mask of
  another size is resized with nearest neighbour when its aspect ratio matches the image's and
  rejected otherwise) -> ``inpainted_png_bytes`` string ``[B]`` (PNG). The
  ``_bytes`` suffixes make TF Serving's REST API exchange these strings as ``{"b64": ...}``
  (``IsNamedTensorBytes`` in its ``json_tensor.cc``), for inputs and outputs alike.

Bad requests fail inside the graph with ``InvalidArgumentError`` (mismatched image/mask sizes
or aspect ratios, empty batch), which TF Serving returns as ``INVALID_ARGUMENT``. Only TF ops
are used (no ``py_function``), so TF Serving's C++ session runs the graph as is.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tfinpaint.data.polarity import (
    tf_decode_mask_file,
    tf_hole_from_user_mask,
    tf_resize_hole,
)
from tfinpaint.edge import edge_settings, inpaint_uint8  # inpaint_uint8: the graph core

SERVING_SIGNATURE = "serving_default"
ENCODED_SIGNATURE = "encoded"
METADATA_FILE = "tfinpaint.json"
WARMUP_FILE = "tf_serving_warmup_requests"


def _check_pair(image, mask):
    ishape, mshape = tf.shape(image), tf.shape(mask)
    return [
        tf.debugging.assert_positive(ishape[0], message="empty batch: image has batch size 0"),
        tf.debugging.assert_equal(
            ishape[:3], mshape[:3],
            message="image and mask must have the same batch size, height and width",
        ),
    ]


def build_serving_functions(generator, size_multiple: int, min_size: int | None = None):
    """The two signature functions for ``generator`` (see the module docstring); ``min_size``
    defaults to ``generator.min_size`` (0 when it has none).

    Both go through :func:`tfinpaint.data.polarity.tf_hole_from_user_mask` (the one mask rule)
    and :func:`tfinpaint.edge.inpaint_uint8` (pad, run, crop, composite).
    """
    edge = edge_settings(generator)
    if min_size is None:
        min_size = edge["min_size"]
    margin = edge["context_margin"]

    def serving_default(image, mask):
        with tf.control_dependencies(_check_pair(image, mask)):
            hole = tf_hole_from_user_mask(mask)
            return {"inpainted": inpaint_uint8(generator, image, hole, size_multiple,
                                               min_size, margin)[0]}

    def _one(args):
        image_bytes, mask_bytes = args
        image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
        hole = tf_decode_mask_file(mask_bytes)
        size = tf.shape(image)[:2]
        hole = tf_resize_hole(hole, size[0], size[1])
        result, _ = inpaint_uint8(generator, image[None], hole[None], size_multiple, min_size,
                                  margin)
        return tf.io.encode_png(result[0])

    def encoded(image_bytes, mask_bytes):
        with tf.control_dependencies([
            tf.debugging.assert_equal(
                tf.size(image_bytes), tf.size(mask_bytes),
                message="image_bytes and mask_bytes must have the same batch size",
            ),
            tf.debugging.assert_positive(tf.size(image_bytes), message="empty batch"),
        ]):
            png = tf.map_fn(
                _one, (image_bytes, mask_bytes), fn_output_signature=tf.TensorSpec([], tf.string)
            )
            return {"inpainted_png_bytes": png}

    specs = {
        SERVING_SIGNATURE: [
            tf.TensorSpec([None, None, None, 3], tf.uint8, name="image"),
            tf.TensorSpec([None, None, None, 1], tf.uint8, name="mask"),
        ],
        ENCODED_SIGNATURE: [
            tf.TensorSpec([None], tf.string, name="image_bytes"),
            tf.TensorSpec([None], tf.string, name="mask_bytes"),
        ],
    }
    return {SERVING_SIGNATURE: serving_default, ENCODED_SIGNATURE: encoded}, specs


def next_version(model_dir: os.PathLike) -> int:
    """1 + the largest integer version folder in ``model_dir`` (1 when there is none)."""
    model_dir = pathlib.Path(model_dir)
    versions = [int(p.name) for p in model_dir.glob("*") if p.is_dir() and p.name.isdigit()]
    return max(versions, default=0) + 1


def _warmup_records(path: pathlib.Path, size_multiple: int, min_size: int = 0) -> None:
    """Writes TF Serving warmup requests (a PredictionLog TFRecord) for both signatures."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    side = max(32, size_multiple, -(-int(min_size) // size_multiple) * size_multiple)
    image = (np.arange(side * side * 3) % 251).astype(np.uint8).reshape(1, side, side, 3)
    mask = np.zeros((1, side, side, 1), np.uint8)
    mask[:, side // 4 : side // 2, side // 4 : side // 2] = 255
    with tf.io.TFRecordWriter(str(path)) as writer:
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(signature_name=SERVING_SIGNATURE)
        )
        request.inputs["image"].CopyFrom(tf.make_tensor_proto(image))
        request.inputs["mask"].CopyFrom(tf.make_tensor_proto(mask))
        log = prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=request)
        )
        writer.write(log.SerializeToString())
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(signature_name=ENCODED_SIGNATURE)
        )
        request.inputs["image_bytes"].CopyFrom(
            tf.make_tensor_proto([tf.io.encode_png(image[0]).numpy()])
        )
        request.inputs["mask_bytes"].CopyFrom(
            tf.make_tensor_proto([tf.io.encode_png(mask[0]).numpy()])
        )
        log = prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=request)
        )
        writer.write(log.SerializeToString())


def export_saved_model(
    generator,
    export_base: os.PathLike,
    name: str,
    version: int | None = None,
    *,
    size_multiple: int | None = None,
    overwrite: bool = False,
    warmup: bool = True,
    metadata: dict | None = None,
) -> pathlib.Path:
    """Exports ``generator`` to ``<export_base>/<name>/<version>/`` for TF Serving.

    Args:
        generator: a generator following the library contract (``(image, mask) -> {"output"}``),
            a registry name, or a run directory (loaded with ``tfinpaint.inference.load``).
        export_base: the model base folder TF Serving is pointed at (``saved_models/``).
        name: model name (the folder and the name clients request).
        version: integer version; defaults to the next free one.
        size_multiple: defaults to ``generator.size_multiple``.
        overwrite: replace an existing version (otherwise ``FileExistsError``).
        warmup: write ``assets.extra/tf_serving_warmup_requests``.
        metadata: extra fields for ``assets.extra/tfinpaint.json``.

    Returns:
        The version folder.
    """
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"Invalid model name. Received: name={name!r}")
    if isinstance(generator, (str, os.PathLike)):
        from tfinpaint.inference import load

        generator = load(generator)
    if not isinstance(generator, keras.Model):
        raise TypeError(
            "Only Keras generators can be exported as SavedModels (classical methods such as "
            f"cv2-telea run in Python). Received: {type(generator).__name__}"
        )
    size_multiple = int(size_multiple or getattr(generator, "size_multiple", 1) or 1)
    model_dir = pathlib.Path(export_base) / name
    if version is None:
        version = next_version(model_dir)
    version = int(version)
    if version <= 0:
        raise ValueError(f"version must be a positive integer. Received: version={version}")
    final = model_dir / str(version)
    if final.exists() and not overwrite:
        raise FileExistsError(
            f"{final} already exists; pass overwrite=True (CLI: --overwrite) or another version"
        )
    model_dir.mkdir(parents=True, exist_ok=True)

    edge = edge_settings(generator)
    min_size = edge["min_size"]
    fns, specs = build_serving_functions(generator, size_multiple, min_size)
    archive = keras.export.ExportArchive()
    # No archive.track(generator): add_endpoint tracks the variables the endpoints use, and
    # track() would store every variable a second time (as Keras variables besides them).

    for sig, fn in fns.items():
        archive.add_endpoint(sig, fn, input_signature=specs[sig])
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=model_dir))
    try:
        archive.write_out(str(tmp), verbose=False)
        extra = tmp / "assets.extra"
        extra.mkdir(exist_ok=True)
        info = {
            "name": name,
            "version": version,
            "size_multiple": size_multiple,
            "min_size": min_size,
            "context_margin": edge["context_margin"],
            "signatures": {
                SERVING_SIGNATURE: {"inputs": ["image", "mask"], "outputs": ["inpainted"]},
                ENCODED_SIGNATURE: {
                    "inputs": ["image_bytes", "mask_bytes"], "outputs": ["inpainted_png_bytes"],
                },
            },
            "mask_convention": "white = hole (tfinpaint.data.polarity): 0/1 mask > 0.5, "
                               "0..255 mask >= 128, per mask",
            # Provenance (set by tfinpaint.models.build): lets the TFLite converter and users
            # rebuild the Keras generator this SavedModel came from.
            "model": getattr(generator, "registry_name", None),
            "config": getattr(generator, "registry_config", None),
            **(metadata or {}),
        }
        (extra / METADATA_FILE).write_text(json.dumps(info, indent=2, default=str))
        if warmup:
            _warmup_records(extra / WARMUP_FILE, size_multiple, min_size)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
