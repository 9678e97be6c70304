"""TFLite for the edge: convert a generator at a fixed size, run it, and check it against Keras.

Model contract (one signature, ``serving_default``), the serving contract at a fixed size:

- inputs ``image`` uint8 ``[1, H, W, 3]`` and ``mask`` uint8 ``[1, H, W, 1]``, **white = area
  to fill** by the one rule of :mod:`tfinpaint.data.polarity` (as the SavedModel's
  ``serving_default``);
- output ``inpainted`` uint8 ``[1, H, W, 3]``: known pixels are the input's, bit for bit;
- with ``with_prediction=True`` a second output ``prediction``, float32 ``[1, H, W, 3]``: the
  network's ``"output"`` clipped to ``[0, 1]`` (before compositing), which is what
  :func:`check` compares with Keras at float precision.

H and W are fixed when converting (TFLite kernels are planned for static shapes; mobile apps
resize their camera frames anyway). A size that is not a multiple of the model's
``size_multiple`` is reflect-padded inside the graph (bottom/right, as the serving graph and
``Inpainter``) and cropped back; a multiple is not padded at all.

Only ``TFLITE_BUILTINS`` are allowed: Flex (``SELECT_TF_OPS``) kernels are not part of the pip
runtimes (``ai-edge-litert``, ``tflite-runtime``) nor of the default Android/iOS runtimes. A
model needing a non-builtin op is refused with :class:`UnsupportedOpsError` naming the ops.

Keras 3 generators are converted from a fixed-size ``tf.function`` whose variables are frozen
explicitly (:func:`_frozen_converter`): Keras 3 variables handed to the converter as they are
stay unfrozen ``READ_VARIABLE`` ops whose output is garbage; every converted model is checked
to have none (``keras.export.ExportArchive`` + ``from_saved_model`` also freezes them, but
needs a SavedModel written to disk and refuses models holding dicts with non-string keys).

Quantization vocabulary (shared by the API and ``tfinpaint tflite --quantize``; Model Garden's
``export_tflite_lib`` names in parentheses):

- ``"none"`` (alias ``"float32"``): float32 weights and activations;
- ``"float16"`` (``fp16``): float16 weights, dequantized to float32 at load (half the size);
- ``"dynamic"`` (``default``): dynamic-range quantization, int8 weights with per-tensor
  activations quantized on the fly (weights below 1024 elements stay float);
- ``"int8"`` (``int8_full``): full-integer quantization (``TFLITE_BUILTINS_INT8`` only; partial
  convolutions are traced in their int8-quantizable form,
  :func:`tfinpaint.layers.partial_conv.quantizable_renormalization`), activation ranges
  calibrated with a representative dataset of **real photos** (from
  :func:`tfinpaint.data.images.image_dataset`) and generated masks
  (:func:`tfinpaint.data.masks.get_mask_generator`) for ``calibration_steps`` samples.

int8 I/O choice: the model's inputs and output are *natively* uint8 (the graph starts with a
cast and ends with a round + cast), so ``inference_input_type``/``inference_output_type`` are
left alone: the I/O stays uint8 pixels with no scale/zero-point to apply, identical for every
quantization, and everything between the two casts runs in int8. The image enters the int8
domain with scale 1 (exact, it is integer), the hole mask with scale 1/255 (exact for 0/1).

The graph is the SavedModel's: :func:`tfinpaint.data.polarity.tf_hole_from_user_mask` (the one
mask rule, builtins only: the 0/1-or-0..255 scale is a REDUCE_MAX and a SELECT) and
:func:`tfinpaint.edge.inpaint_uint8` (pad, run, crop, composite in the 255 domain, which the int8
quantizer handles: a ``[0, 1]`` composite followed by ``* 255`` came out ~128 off).
:func:`keras_reference` runs the same two functions eagerly.

Example:
```python
from tfinpaint.export import tflite
flat = tflite.convert("runs/rfr_paris", size=(256, 256), output_path="rfr.tflite")
result = tflite.run("rfr.tflite", image_uint8_256x256, mask_uint8)   # (256, 256, 3) uint8
```
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import pathlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "QUANTIZATIONS",
    "SIGNATURE",
    "UnsupportedOpsError",
    "TFLiteInpainter",
    "check",
    "convert",
    "format_report",
    "list_ops",
    "load_generator",
    "parse_size",
    "representative_dataset",
    "run",
]

SIGNATURE = "serving_default"
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
_ALIASES = {"float32": "none", "fp32": "none", "fp16": "float16", "int8_full": "int8"}
RESIZE_MODES = ("none", "letterbox")
# Ops that mean variables were not frozen (the plain-tf.Module trap) or a non-builtin kernel.
_VARIABLE_OPS = {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"}


class UnsupportedOpsError(ValueError):
    """The model needs ops outside ``TFLITE_BUILTINS`` (``ops`` lists their TF names)."""

    def __init__(self, ops: Sequence[str], detail: str = ""):
        self.ops = sorted(set(ops))
        super().__init__(
            "The model needs TensorFlow ops that are not TFLite builtins: "
            f"{', '.join(self.ops) or '(unknown, see the converter message)'}. Flex "
            "(SELECT_TF_OPS) kernels cannot run in the pip runtimes (ai-edge-litert) nor the "
            "default mobile runtimes; replace these ops with builtin equivalents (DESIGN "
            "section 8: shifted slices or one-hot convolutions instead of extract_patches, "
            "4-D matmul instead of 5-D einsum)." + (f"\n{detail}" if detail else "")
        )


# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------


def normalize_quantization(quantize) -> str:
    """``"none"``/``"float32"``, ``"float16"``, ``"dynamic"`` or ``"int8"`` (and aliases)."""
    key = "none" if quantize is None else str(quantize).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in QUANTIZATIONS:
        raise ValueError(
            f"quantize must be one of {QUANTIZATIONS} (aliases {sorted(_ALIASES)}). "
            f"Received: quantize={quantize!r}"
        )
    return key


def parse_size(size) -> tuple[int, int]:
    """``256``, ``"256"``, ``"256x192"`` (H x W) or ``(H, W)`` -> ``(H, W)`` positive ints."""
    original = size
    if isinstance(size, str):
        parts = re.split(r"[x,X ]+", size.strip())
        try:
            size = tuple(int(p) for p in parts if p)
        except ValueError:
            size = ()
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size), int(size))
    if isinstance(size, (tuple, list)) and len(size) == 1:
        size = (size[0], size[0])
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or any(isinstance(s, bool) or int(s) != s or int(s) < 1 for s in size)
    ):
        raise ValueError(
            f"size must be H x W positive ints (256, '256x192' or (256, 192)). "
            f"Received: size={original!r}"
        )
    return int(size[0]), int(size[1])


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


def _is_saved_model(path: pathlib.Path) -> bool:
    return path.is_dir() and (path / "saved_model.pb").is_file()


def _saved_model_version(path: pathlib.Path) -> pathlib.Path:
    """A version folder, or the newest version of a model folder ``<name>/<version>/``."""
    if _is_saved_model(path):
        return path
    versions = sorted(
        (p for p in path.glob("*") if p.name.isdigit() and _is_saved_model(p)),
        key=lambda p: int(p.name),
    )
    if not versions:
        raise FileNotFoundError(f"{path} holds no SavedModel (saved_model.pb)")
    return versions[-1]


def _load_from_saved_model(path: pathlib.Path):
    """Rebuilds the Keras generator of a SavedModel written by ``export_saved_model``.

    The graph of a SavedModel cannot be re-traced at a fixed size through Keras, so the
    generator is rebuilt from the registry entry recorded in ``assets.extra/tfinpaint.json``
    (``"model"`` and ``"config"``, which ``export_saved_model`` records for generators built by
    ``tfinpaint.models.build``: ``registry_name`` / ``registry_config``)
    and its variables are copied from the SavedModel by name (every name and shape is checked).
    """
    import tensorflow as tf

    from tfinpaint.export.saved_model import METADATA_FILE
    from tfinpaint.models import registry

    info_path = path / "assets.extra" / METADATA_FILE
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    name = info.get("model")
    if not name:
        raise ValueError(
            f"SavedModel {path}: {info_path.name} does not record the registry model "
            "('model' and 'config' keys, written by export_saved_model for generators built "
            "from the registry or a run directory); convert from the run directory instead. "
            f"Received: keys={sorted(info)}"
        )
    model = registry.build(name, **(info.get("config") or {}))
    if info.get("size_multiple"):
        model.size_multiple = int(info["size_multiple"])
    loaded = tf.saved_model.load(str(path))
    # Matched by name: keras.export.ExportArchive stores the variables its signatures use as
    # ``_all_variables``, in its own order; their names are the Keras variable paths.
    saved = {v.name.split(":")[0]: v for v in getattr(loaded, "_all_variables", loaded.variables)}
    wanted = {v.path: v for v in model.variables}
    if set(saved) != set(wanted):
        raise ValueError(
            f"SavedModel {path} does not hold the variables of {name!r} with config "
            f"{info.get('config') or {}}: missing {sorted(set(wanted) - set(saved))[:5]}, "
            f"unexpected {sorted(set(saved) - set(wanted))[:5]}."
        )
    for key, dst in wanted.items():
        src = saved[key]
        if tuple(dst.shape) != tuple(src.shape):
            raise ValueError(
                f"SavedModel {path}: variable {key} has shape {tuple(src.shape)}, "
                f"the model's has {tuple(dst.shape)}."
            )
        dst.assign(src.numpy())
    return model


def load_generator(source):
    """A Keras generator from a generator, registry name, run directory or SavedModel folder."""
    import keras

    if isinstance(source, (str, os.PathLike)):
        path = pathlib.Path(source)
        if path.is_dir() and not (path / "config.json").is_file() and (
            _is_saved_model(path) or any(p.name.isdigit() for p in path.glob("*"))
        ):
            source = _load_from_saved_model(_saved_model_version(path))
        else:
            from tfinpaint.inference import load

            source = load(source)
    if not isinstance(source, keras.Model):
        raise TypeError(
            "Only Keras generators convert to TFLite (classical methods such as cv2-telea run "
            f"in Python). Received: {type(source).__name__}"
        )
    return source


# --------------------------------------------------------------------------------------------
# Graph
# --------------------------------------------------------------------------------------------


def tflite_graph(generator, image, mask, size_multiple: int, with_prediction: bool = False):
    """The TFLite signature body: uint8 image, uint8 mask (the one mask rule) -> dict.

    Static ``H, W``; :func:`tfinpaint.data.polarity.tf_hole_from_user_mask` then
    :func:`tfinpaint.edge.inpaint_uint8`, exactly the SavedModel's ``serving_default``.
    """
    from tfinpaint.data.polarity import tf_hole_from_user_mask
    from tfinpaint.edge import edge_settings, inpaint_uint8

    hole = tf_hole_from_user_mask(mask)
    edge = edge_settings(generator)
    inpainted, prediction = inpaint_uint8(generator, image, hole, size_multiple,
                                          edge["min_size"], edge["context_margin"])
    result = {"inpainted": inpainted}
    if with_prediction:
        result["prediction"] = prediction
    return result


def _fixed_specs(size):
    import tensorflow as tf

    h, w = size
    return [
        tf.TensorSpec([1, h, w, 3], tf.uint8, name="image"),
        tf.TensorSpec([1, h, w, 1], tf.uint8, name="mask"),
    ]


def _frozen_converter(generator, size, size_multiple, with_prediction):
    """A converter for the fixed-size signature, variables frozen to constants.

    Keras 3 variables are not TF trackables: handed to the converter as is (or held by a plain
    ``tf.Module``) they stay ``VAR_HANDLE``/``READ_VARIABLE`` ops that read garbage. Tracking
    their underlying ``tf.Variable`` objects on a ``tf.Module`` lets the converter freeze them.
    This needs no SavedModel on disk (``keras.export.ExportArchive`` refuses models holding
    dicts with non-string keys, and writing a 130 MB SavedModel only to read it back is slow).
    """
    import tensorflow as tf

    fn = tf.function(
        lambda image, mask: tflite_graph(generator, image, mask, size_multiple, with_prediction),
        input_signature=_fixed_specs(size),
    )
    holder = tf.Module()
    holder.variables_to_freeze = [getattr(v, "value", v) for v in generator.variables]
    return tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], holder)


# --------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------


def representative_dataset(
    images,
    size,
    steps: int = 16,
    mask_kind: str = "lama_medium",
    seed: int = 0,
) -> Callable[[], Iterable[dict]]:
    """A ``representative_dataset`` for int8 calibration: real photos with generated masks.

    Photos come from :func:`tfinpaint.data.images.image_dataset` (center crop to ``size``, no
    flip, repeated when the folder holds fewer than ``steps`` photos); masks from
    :func:`tfinpaint.data.masks.get_mask_generator` (``mask_kind``, mask ``i`` of ``seed``),
    written 255 = hole as the model's ``mask`` input expects.

    Args:
        images: photo folder, glob, list file or list of paths (any ``image_dataset`` source).
        size: ``(H, W)`` of the model.
        steps: number of samples. Defaults to `16`.
        mask_kind: mask preset. Defaults to `"lama_medium"`.
        seed: mask set seed. Defaults to `0`.

    Returns:
        A callable returning an iterator of ``{"image": uint8 [1,H,W,3], "mask": uint8
        [1,H,W,1]}`` dicts (keyed by the signature's input names).
    """
    from tfinpaint.data.images import image_dataset
    from tfinpaint.data.masks import get_mask_generator

    size = parse_size(size)
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"calibration steps must be >= 1. Received: steps={steps}")
    generator = get_mask_generator(mask_kind)

    def gen():
        ds = image_dataset(images, size=size, crop="center_crop", flip=False, repeat=True,
                           seed=seed, on_error="skip", prefetch=None)
        for i, photo in enumerate(ds.take(steps)):
            image = np.round(photo.numpy() * 255.0).astype(np.uint8)[None]
            hole = generator(size, seed=seed, index=i)
            yield {"image": image, "mask": (hole.astype(np.uint8) * 255)[None, ..., None]}

    return gen


# --------------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------------


_FLEX_LINE = re.compile(r"(?:TF Select ops|Flex ops|Custom ops)\s*:\s*([^\n]+)")
_NOT_BUILTIN = re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op")


def _unsupported_ops_from_error(message: str) -> list[str]:
    ops = []
    for line in _FLEX_LINE.findall(message):
        ops += [o.strip() for o in line.split(",") if o.strip()]
    ops += _NOT_BUILTIN.findall(message)
    return sorted(set(ops))


def list_ops(model) -> list[str]:
    """Sorted TFLite op names of a model (path or bytes), e.g. ``["CONV_2D", ...]``."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(
        model_content=_model_bytes(model),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    return sorted({op["op_name"] for op in interp._get_ops_details()})


def convert(
    source,
    size=(256, 256),
    quantize: str = "none",
    representative=None,
    calibration_steps: int = 16,
    output_path=None,
    *,
    calibration_images=None,
    mask_kind: str = "lama_medium",
    seed: int = 0,
    with_prediction: bool = False,
    size_multiple: int | None = None,
) -> bytes:
    """Converts a generator to a builtins-only TFLite model at a fixed size.

    Args:
        source: a Keras generator, a registry name (random weights, with a warning), a run
            directory (``config.json`` + ``generator.weights.h5``), or a SavedModel folder written
            by ``export_saved_model`` (version folder, or the model folder: newest version).
        size: ``(H, W)`` (or ``256``, ``"256x192"``) of the model's fixed input. Defaults to
            `(256, 256)`.
        quantize: ``"none"``, ``"float16"``, ``"dynamic"`` or ``"int8"`` (module docstring).
        representative: for ``"int8"``: a callable returning an iterable of
            ``{"image": uint8 [1,H,W,3], "mask": uint8 [1,H,W,1]}`` (255 = hole), or a
            photo source (folder, glob, list), which is passed to
            :func:`representative_dataset`.
        calibration_steps: samples drawn when the calibration set is built from photos.
            Defaults to `16`.
        output_path: if given, the model is also written there (folders created).
        calibration_images: photo source for ``"int8"`` (same as passing it as
            ``representative``). One of the two is required for ``"int8"``.
        mask_kind: mask preset of the calibration masks. Defaults to `"lama_medium"`.
        seed: calibration mask seed. Defaults to `0`.
        with_prediction: add the float32 ``prediction`` output (for :func:`check`).
        size_multiple: defaults to ``generator.size_multiple``.

    Returns:
        The ``.tflite`` flatbuffer.

    Raises:
        UnsupportedOpsError: the model needs Flex or custom ops (named in the message).
        ValueError: bad size or quantization, or ``"int8"`` without calibration photos.
    """
    import tensorflow as tf

    quantize = normalize_quantization(quantize)
    size = parse_size(size)
    if quantize == "int8":
        source_photos = calibration_images
        if representative is not None and not callable(representative):
            source_photos, representative = representative, None
        if representative is None:
            if source_photos is None:
                raise ValueError(
                    "quantize='int8' calibrates activation ranges on real photos: pass "
                    "calibration_images=<photo folder> (CLI: --calibration-images DIR) or a "
                    "representative callable."
                )
            representative = representative_dataset(
                source_photos, size, calibration_steps, mask_kind, seed
            )
    generator = load_generator(source)
    multiple = int(size_multiple or getattr(generator, "size_multiple", 1) or 1)
    from tfinpaint.models.registry import ensure_built

    ensure_built(generator)

    from tfinpaint.layers.padding import sliced_reflect_padding
    from tfinpaint.layers.partial_conv import quantizable_renormalization

    # Full int8: partial convolutions are traced in their int8-quantizable form (the
    # renormalization as a fraction, see quantizable_renormalization); other quantizations
    # keep the layer's own form. Reflect padding is traced as slices XNNPACK runs (same values).
    with contextlib.ExitStack() as forms:
        forms.enter_context(sliced_reflect_padding())
        if quantize == "int8":
            forms.enter_context(quantizable_renormalization())
        converter = _frozen_converter(generator, size, multiple, with_prediction)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        flatbuffer = converter.convert()
    except Exception as e:  # ConverterError and friends carry the MLIR diagnostics
        message = str(e)
        ops = _unsupported_ops_from_error(message)
        if ops or "not supported by the native TFLite runtime" in message:
            raise UnsupportedOpsError(ops, detail=message[-1500:] if not ops else "") from e
        raise

    ops = list_ops(flatbuffer)
    bad = [op for op in ops if op in _VARIABLE_OPS or op.startswith("Flex") or op == "CUSTOM"]
    if bad:
        raise UnsupportedOpsError(bad, detail="the converted model still holds these ops")
    _smoke_test(flatbuffer, size, quantize)
    if output_path is not None:
        out = pathlib.Path(output_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(flatbuffer)
    return flatbuffer


def _smoke_test(flatbuffer: bytes, size, quantize: str) -> None:
    """Runs the model once (mid-grey image, centred hole): kernels can fail only at invoke.

    Example: an int8 ``DIV`` whose divisor quantizes to the zero point aborts in
    ``tflite/kernels/div.cc``; partial convolutions avoid it in int8 by their quantizable form
    (:func:`tfinpaint.layers.partial_conv.quantizable_renormalization`), a new layer that
    divides by a small count would hit it. The error is raised here, at conversion, naming
    the op.
    """
    h, w = size
    image = np.full((1, h, w, 3), 128, np.uint8)
    mask = np.zeros((1, h, w, 1), np.uint8)
    mask[:, h // 4 : h - h // 4, w // 4 : w - w // 4] = 255
    try:
        TFLiteInpainter(flatbuffer).raw(image, mask)
    except RuntimeError as e:
        raise ValueError(
            f"The converted quantize={quantize!r} model fails in the TFLite runtime: {e}. "
            "Full-integer int8 cannot represent divisions by small counts (a divisor that "
            "quantizes to zero); use quantize='float16' or 'dynamic' for this model."
        ) from e


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def _model_bytes(model) -> bytes:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    path = pathlib.Path(model)
    if not path.is_file():
        raise FileNotFoundError(f"TFLite model not found: {path}")
    return path.read_bytes()


class TFLiteInpainter:
    """A loaded TFLite inpainting model (``ai_edge_litert`` interpreter, XNNPACK on CPU).

    Args:
        model: ``.tflite`` path or bytes converted by :func:`convert`.
        num_threads: interpreter threads. Defaults to `2`.

    Attributes:
        size: ``(H, W)`` the model takes.
        outputs: output names (``"inpainted"``, and ``"prediction"`` when converted with it).
    """

    def __init__(self, model, num_threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        self.model_bytes = _model_bytes(model)
        self.interpreter = Interpreter(model_content=self.model_bytes, num_threads=num_threads)
        signatures = self.interpreter.get_signature_list()
        if SIGNATURE not in signatures:
            raise ValueError(
                f"Not a tfinpaint TFLite model: no {SIGNATURE!r} signature. "
                f"Received: signatures={sorted(signatures)}"
            )
        self.runner = self.interpreter.get_signature_runner(SIGNATURE)
        shape = self.runner.get_input_details()["image"]["shape"]
        self.size = (int(shape[1]), int(shape[2]))
        self.outputs = tuple(signatures[SIGNATURE]["outputs"])

    def raw(self, image: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        """Runs the signature on ``[1, H, W, 3]`` / ``[1, H, W, 1]`` uint8 (the one mask rule)."""
        return self.runner(image=np.ascontiguousarray(image, np.uint8),
                           mask=np.ascontiguousarray(mask, np.uint8))

    def __call__(self, image, mask, resize: str = "none") -> np.ndarray:
        return run(self, image, mask, resize=resize)


def _as_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must be (H, W, 3) RGB. Received: shape={image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(
            "image must be uint8 (0-255) as read from a file. "
            f"Received: dtype={image.dtype}"
        )
    return image


def _letterbox_box(h, w, th, tw):
    scale = min(th / h, tw / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    return nh, nw


def run(model, image, mask, resize: str = "none", num_threads: int = 2) -> np.ndarray:
    """Inpaints one image with a TFLite model.

    Args:
        model: ``.tflite`` path, bytes, or a :class:`TFLiteInpainter`.
        image: uint8 RGB ``(H, W, 3)`` (or ``(1, H, W, 3)``).
        mask: edge mask ``(H, W)`` / ``(H, W, C)``, **white = fill** by the one rule
            (:func:`tfinpaint.data.polarity.hole_from_user_mask`); another size with the
            image's aspect ratio is resized (nearest).
        resize: ``"none"`` (default): the image must have the model's fixed size, otherwise
            ``ValueError`` names both sizes. ``"letterbox"``: the image is resized (area) to
            fit the model's size with its aspect ratio, the border filled by edge replication
            and marked known, the mask resized with nearest neighbour; the filled result is
            resized back (bicubic) and **only hole pixels** are pasted into the original, so
            known pixels stay bit-exact.
        num_threads: interpreter threads when ``model`` is a path or bytes. Defaults to `2`.

    Returns:
        uint8 ``(H, W, 3)``.
    """
    import cv2

    from tfinpaint.data.polarity import hole_from_user_mask

    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {RESIZE_MODES}. Received: resize={resize!r}")
    runner = model if isinstance(model, TFLiteInpainter) else TFLiteInpainter(model, num_threads)
    image = _as_image(image)
    mask = np.asarray(mask)
    if mask.ndim == 4 and mask.shape[0] == 1:
        mask = mask[0]
    from tfinpaint.data.polarity import check_mask_size, resize_hole

    hole = hole_from_user_mask(mask)[..., 0]
    h, w = image.shape[:2]
    check_mask_size(hole.shape, (h, w))
    hole = resize_hole(hole, h, w)
    th, tw = runner.size
    if (h, w) == (th, tw):
        out = runner.raw(image[None], (hole * 255).astype(np.uint8)[None, ..., None])
        return out["inpainted"][0]
    if resize == "none":
        raise ValueError(
            f"The TFLite model takes {th}x{tw} images (H x W, fixed at conversion). "
            f"Received: image of {h}x{w}. Resize it, convert at that size, or use "
            "resize='letterbox' (CLI: --letterbox)."
        )
    nh, nw = _letterbox_box(h, w, th, tw)
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole.astype(np.uint8), (nw, nh), interpolation=cv2.INTER_NEAREST)
    pad = ((0, th - nh), (0, tw - nw))
    boxed = np.pad(small, (*pad, (0, 0)), mode="edge")
    boxed_hole = np.pad(small_hole, pad, mode="constant")
    filled = runner.raw(boxed[None], (boxed_hole * 255).astype(np.uint8)[None, ..., None])
    filled = filled["inpainted"][0, :nh, :nw]
    up = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
    result = image.copy()
    result[hole > 0] = up[hole > 0]
    return result


# --------------------------------------------------------------------------------------------
# Checking against Keras
# --------------------------------------------------------------------------------------------


def _psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak**2 / mse)


def keras_reference(generator, image: np.ndarray, mask: np.ndarray, size_multiple=None):
    """Keras float reference of the TFLite graph: ``(prediction [0,1], inpainted uint8)``.

    ``image`` uint8 ``[N, H, W, 3]``, ``mask`` ``[N, H, W, 1]`` (the one mask rule). Runs
    :func:`tflite_graph`'s functions eagerly, so the check compares the converted model with
    the very path it was converted from.
    """
    multiple = int(size_multiple or getattr(generator, "size_multiple", 1) or 1)
    out = tflite_graph(generator, np.asarray(image, np.uint8), np.asarray(mask), multiple,
                       with_prediction=True)
    return np.asarray(out["prediction"], np.float32), np.asarray(out["inpainted"])


@dataclasses.dataclass
class _Row:
    name: str
    size_bytes: int
    prediction_max_abs: float | None
    prediction_psnr: float | None
    inpainted_max_abs: int
    inpainted_psnr: float
    ops: list


def _check_inputs(images, masks, size):
    from tfinpaint.data.masks import get_mask_generator

    if isinstance(images, (str, os.PathLike)):
        if not size:
            raise ValueError("check() needs size=(H, W) to read photos from a folder.")
        photos = representative_dataset(images, size, steps=len(masks) if isinstance(
            masks, Sequence) and not isinstance(masks, str) else 4)
        images = [sample["image"][0] for sample in photos()]
    images = np.stack([_as_image(i) for i in images])
    n, h, w = images.shape[:3]
    if masks is None or isinstance(masks, str):
        generator = get_mask_generator(masks or "lama_medium")
        masks = [generator((h, w), seed=1, index=i) * 255 for i in range(n)]
    masks = [np.asarray(m) for m in masks]
    masks = np.stack([m[..., 0] if m.ndim == 3 else m for m in masks])[..., None]
    if masks.shape[:3] != images.shape[:3]:
        raise ValueError(
            f"masks must match the images (N, H, W). Received: images {images.shape}, "
            f"masks {masks.shape}"
        )
    from tfinpaint.data.polarity import hole_from_user_mask

    holes = hole_from_user_mask(masks, batched=True)
    return images, (holes > 0.5).astype(np.uint8) * 255


def check(source, tflite_models: Mapping[str, object], images, masks=None, size=None) -> dict:
    """Compares TFLite models with the Keras generator they came from.

    Args:
        source: the Keras generator (or anything :func:`convert` takes as ``source``).
        tflite_models: ``{name: path or bytes}``, e.g. ``{"none": ..., "int8": ...}``. Models
            converted with ``with_prediction=True`` are also compared on the float network
            output.
        images: uint8 images ``(H, W, 3)`` at the models' size, or a photo folder (then
            ``size`` is required and one center-cropped photo is taken per mask).
        masks: masks ``(H, W)`` (the one mask rule), a mask preset name, or ``None``
            (``"lama_medium"``, one per image).
        size: ``(H, W)`` when ``images`` is a folder.

    Returns:
        ``{"rows": {name: {...}}, "count": N}``: per model its file size, the max abs
        difference and PSNR of ``prediction`` vs Keras (``[0, 1]`` units, peak 1; ``None``
        when the model has no such output), of ``inpainted`` vs the Keras uint8 result (steps
        of 1/255, peak 255), its op list, and ``psnr_gap`` = PSNR of ``"none"`` (if present)
        minus the model's, on ``prediction`` when both have it, else on ``inpainted``.
    """
    generator = load_generator(source)
    images, masks = _check_inputs(images, masks, parse_size(size) if size else None)
    preds, refs = [], []
    for i in range(len(images)):
        p, r = keras_reference(generator, images[i : i + 1], masks[i : i + 1])
        preds.append(p)
        refs.append(r)
    want_pred, want_u8 = np.concatenate(preds), np.concatenate(refs)
    rows = {}
    for name, model in tflite_models.items():
        runner = TFLiteInpainter(model)
        if runner.size != tuple(images.shape[1:3]):
            raise ValueError(
                f"TFLite model {name!r} takes {runner.size}; the check images are "
                f"{images.shape[1:3]}."
            )
        outs = [runner.raw(images[i : i + 1], masks[i : i + 1]) for i in range(len(images))]
        got_u8 = np.concatenate([o["inpainted"] for o in outs])
        row = _Row(
            name=name,
            size_bytes=len(runner.model_bytes),
            prediction_max_abs=None,
            prediction_psnr=None,
            inpainted_max_abs=int(np.abs(got_u8.astype(int) - want_u8.astype(int)).max()),
            inpainted_psnr=_psnr(got_u8, want_u8, 255.0),
            ops=list_ops(runner.model_bytes),
        )
        if "prediction" in runner.outputs:
            got = np.concatenate([o["prediction"] for o in outs]).astype(np.float32)
            row.prediction_max_abs = float(np.abs(got - want_pred).max())
            row.prediction_psnr = _psnr(got, want_pred, 1.0)
        rows[name] = dataclasses.asdict(row)
    base = rows.get("none")
    for row in rows.values():
        key = "prediction_psnr" if base and base["prediction_psnr"] is not None and row[
            "prediction_psnr"] is not None else "inpainted_psnr"
        row["psnr_gap"] = (base[key] - row[key]) if base else None
    return {"rows": rows, "count": int(len(images))}


def format_report(report: dict) -> str:
    """The check report as a text table (one row per model)."""

    def fmt(v, spec):
        if v is None:
            return "-"
        if isinstance(v, float) and math.isinf(v):
            return "inf"
        return format(v, spec)

    lines = [
        f"{'model':<10} {'size':>10} {'pred max|d|':>12} {'pred PSNR':>10} "
        f"{'uint8 max|d|':>13} {'uint8 PSNR':>11} {'PSNR gap':>9}",
    ]
    for name, r in report["rows"].items():
        lines.append(
            f"{name:<10} {r['size_bytes'] / 1e6:>8.2f}MB {fmt(r['prediction_max_abs'], '.2e'):>12}"
            f" {fmt(r['prediction_psnr'], '.2f'):>10} {r['inpainted_max_abs']:>13d}"
            f" {fmt(r['inpainted_psnr'], '.2f'):>11} {fmt(r['psnr_gap'], '.2f'):>9}"
        )
    lines.append(f"({report['count']} image(s); PSNR in dB vs the Keras model; prediction = "
                 "network output clipped to [0, 1], uint8 = composited result)")
    return "\n".join(lines)
