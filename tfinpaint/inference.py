"""Inference: load a model by name or from a run directory, and inpaint images of any size.

:func:`load` turns a registry name, a training run directory or a weights file into a generator
(a ``keras.Model`` or a classical method following the same contract).
:class:`Inpainter` wraps a generator for end users:

1. **Edge conventions in, library conventions inside** (DESIGN.md section 2). The user's mask marks
   the area to fill (white = hole), as in OpenCV ``cv2.inpaint``, LaMa and IOPaint; it is
   binarized with the one rule of :mod:`tfinpaint.data.polarity` (a 0/1 mask where > 0.5, a
   0..255 mask where >= 128, bool ``True``) and resized to the image with nearest neighbour only
   (KerasHub ``Inpaint``: masks are never interpolated). The model sees float
   ``[0, 1]`` images and float masks with **1 = known**; hole pixels are zeroed before the call
   (``masked = image * mask``), so nothing under the hole reaches the model.
2. **Any H, W** (:func:`tfinpaint.edge.run_padded`, the path of the SavedModel and TFLite graphs
   too). The image and mask are padded at the bottom and right with REFLECT to the model's
   ``size_multiple`` (and to its ``min_size``, if it has one), run, and cropped back, as LaMa's
   ``bin/predict.py`` (``pad_out_to_modulo`` / ``unpad_to_size``) and IOPaint's
   ``InpaintModel._pad_forward`` do. The mask is reflected with the image, so reflected holes stay
   holes. A model with a ``context_margin`` (an edge setting, ``registry.EDGE_CONFIG``; the
   shipped default uses 64) is first given that many reflected pixels on every side, so a hole
   touching the image border is filled from context on both sides of it.
3. **Composite** (:func:`tfinpaint.edge.composite`). ``composite = mask * image + (1 - mask) *
   output``: known pixels of the result
   are *exactly* the input's (bit for bit for uint8 input), hole pixels come from the model.
4. **High-resolution strategies** (IOPaint ``HDStrategy``, ``iopaint/model/base.py``):

   - ``"original"``: run at full resolution.
   - ``"resize"``: when ``max(H, W) > resize_limit``, downscale so the long side is
     ``resize_limit``, inpaint, upscale the result (bicubic) and paste only hole pixels into the
     original (IOPaint pastes ``result[mask >= 127]`` the same way).
   - ``"crop"``: when ``max(H, W) > crop_trigger_size``, each connected hole region (8-connected)
     is inpainted on a crop of its bounding box grown by ``crop_margin`` on each side (grown
     further inward at the image border to keep the crop size, as IOPaint's ``_crop_box``), and
     only that region's hole pixels are pasted back. Regions whose crops overlap are merged and
     run as one crop, so every hole pixel is filled by exactly one model call.

   IOPaint's defaults are used: ``crop_margin=128``, ``crop_trigger_size=800``,
   ``resize_limit=1280``.

Example:
```python
import numpy as np
from tfinpaint.inference import Inpainter
image = np.random.randint(0, 256, (45, 70, 3), np.uint8)
mask = np.zeros((45, 70), np.uint8); mask[10:20, 30:40] = 255   # white = fill
result = Inpainter("cv2-telea")(image, mask)                      # uint8 (45, 70, 3)
assert (result[mask == 0] == image[mask == 0]).all()
```
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import warnings
from collections.abc import Sequence

import numpy as np

from tfinpaint.data.polarity import (
    MASK_RULE,
    check_mask_size,
    hole_from_user_mask,
    resize_hole,
)
from tfinpaint.edge import composite, edge_settings, run_padded
from tfinpaint.pretrained import DEFAULT_MODEL, list_pretrained, pretrained_path

__all__ = ["Inpainter", "load", "DEFAULT_MODEL", "RUN_CONFIG", "RUN_WEIGHTS"]

logger = logging.getLogger(__name__)

# Files of a training run directory (written by the trainer).
RUN_CONFIG = "config.json"
RUN_WEIGHTS = "generator.weights.h5"

STRATEGIES = ("original", "resize", "crop")
POLARITIES = ("hole", "known")


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _registry():
    from tfinpaint.models import registry

    return registry


def _load_run(config_path: pathlib.Path, weights_path: pathlib.Path):
    """Builds ``config["model"]`` with ``config["config"]`` and loads the generator weights."""
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"file {config_path}: not valid JSON ({e}).") from None
    if not isinstance(config, dict) or "model" not in config:
        keys = sorted(config) if isinstance(config, dict) else type(config).__name__
        raise ValueError(
            f"file {config_path}: no 'model' key (the registry name of the generator). "
            f"Received: keys={keys}"
        )
    overrides = config.get("config") or {}
    if not isinstance(overrides, dict):
        raise ValueError(
            f"file {config_path}: 'config' must be a JSON object of constructor overrides. "
            f"Received: config={overrides!r}"
        )
    registry = _registry()
    name = config["model"]
    spec = registry.get_spec(name)
    model = registry.build(name, **overrides)  # built, with size_multiple
    if spec.kind == "classical":
        return model  # nothing to load
    if not weights_path.is_file():
        raise FileNotFoundError(
            f"Run directory {config_path.parent} has no generator weights: {weights_path} is "
            f"missing (a run directory holds {RUN_CONFIG} + {RUN_WEIGHTS})."
        )
    model.load_weights(str(weights_path))
    check_finite_weights(model, weights_path)
    logger.info("Loaded %s weights from %s", name, weights_path)
    return model


def check_finite_weights(model, source) -> None:
    """``ValueError`` naming the variables that hold NaN or Inf (a diverged or corrupted run:
    such weights inpaint black or garbage holes without any other sign)."""
    bad = []
    for var in model.weights:
        value = np.asarray(var)
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            count = int(value.size - np.count_nonzero(np.isfinite(value)))
            bad.append(f"{getattr(var, 'path', var.name)} ({count} of {value.size} values)")
    if bad:
        raise ValueError(
            f"weights {source}: {len(bad)} variable(s) hold NaN or Inf (a diverged or corrupted "
            f"checkpoint): {'; '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}"
        )


def load(name_or_path):
    """Loads a generator by registry name, run directory or weights file.

    Args:
        name_or_path: one of

            - a registered model name (``tfinpaint.models.list_models()``): a classical method
              (``"cv2-telea"``, ``"cv2-ns"``) is built as is; a Keras network is built with its
              official config and **random weights** (a loud ``UserWarning`` says so);
            - a shipped model's name (``tfinpaint.pretrained.list_pretrained()``, e.g.
              ``DEFAULT_MODEL = "pconv_unet_default"``): its trained weights, from the package;
            - a training run directory holding ``config.json`` (``{"model": name, "config":
              {overrides}, ...}``) and ``generator.weights.h5``: the model is built with the
              overrides and the weights are loaded;
            - a ``*.weights.h5`` file with the run's ``config.json`` in the same directory;
            - a ``*.keras`` file saved with ``model.save`` (its ``size_multiple`` is the one its
              class defines; 1 when it defines none).

            A registered name wins over a same-named folder unless that folder holds a
            ``config.json``.

    Returns:
        The generator: called as ``model((image, mask), training=False)`` (image float
        ``[0, 1]`` ``(N, H, W, 3)``, mask float ``(N, H, W, 1)`` with 1 = known) and returning a
        dict with ``"output"``; it has a ``size_multiple`` attribute.

    Raises:
        FileNotFoundError: a path that does not exist and is not a registered name, or a run
            directory missing ``config.json`` or the weights file.
        ValueError: a malformed ``config.json``.
        KeyError: an unknown model name inside ``config.json`` or unknown config keys.
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(
            "name_or_path must be a model name or a path. "
            f"Received: type(name_or_path)={type(name_or_path).__name__}"
        )
    registry = _registry()
    text = os.fspath(name_or_path)
    path = pathlib.Path(text)
    is_run = path.is_file() or (path.is_dir() and (path / RUN_CONFIG).is_file())
    if isinstance(name_or_path, str) and text in registry.list_models() and not is_run:
        spec = registry.get_spec(text)
        model = registry.build(text)
        if spec.kind == "keras":
            warnings.warn(
                f"Model {text!r} was built from the registry with RANDOM, UNTRAINED weights: its "
                "output is noise. Pass a training run directory (config.json + "
                f"{RUN_WEIGHTS}) or a *.weights.h5 file to load trained weights.",
                UserWarning,
                stacklevel=2,
            )
        return model
    if isinstance(name_or_path, str) and text in list_pretrained() and not is_run:
        shipped = pretrained_path(text)
        return _load_run(shipped / RUN_CONFIG, shipped / RUN_WEIGHTS)
    if path.is_dir():
        config_path = path / RUN_CONFIG
        if not config_path.is_file():
            raise FileNotFoundError(
                f"Run directory {path} has no {RUN_CONFIG} (a run directory written by "
                f"`tfinpaint train` holds {RUN_CONFIG} + {RUN_WEIGHTS})."
            )
        return _load_run(config_path, path / RUN_WEIGHTS)
    if path.is_file():
        if path.name.endswith(".weights.h5"):
            config_path = path.parent / RUN_CONFIG
            if not config_path.is_file():
                raise FileNotFoundError(
                    f"Weights file {path} has no {RUN_CONFIG} beside it; the config names the "
                    f"model to build (expected {config_path})."
                )
            return _load_run(config_path, path)
        if path.suffix == ".keras":
            import keras

            registry.list_models()  # imports model modules so custom layers are registered
            model = keras.saving.load_model(str(path), compile=False)
            check_finite_weights(model, path)
            return model
        raise ValueError(
            f"file {path}: not a loadable model (expected a run directory, a *.weights.h5 file "
            "next to its config.json, or a *.keras file)."
        )
    raise FileNotFoundError(
        f"{text!r} is neither a registered model name (registered: "
        f"{', '.join(registry.list_models())}) nor an existing path."
    )


# --------------------------------------------------------------------------------------------
# Array helpers
# --------------------------------------------------------------------------------------------


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "numpy"):
        return x.numpy()
    return np.asarray(x)


def _image_to_float(image: np.ndarray, what: str) -> np.ndarray:
    """One image (H, W), (H, W, 1|3|4) uint8/float -> float32 (H, W, 3) in [0, 1]."""
    if image.dtype == np.uint8:
        out = image.astype(np.float32) / 255.0
    elif np.issubdtype(image.dtype, np.floating):
        if not np.all(np.isfinite(image)):
            raise ValueError(f"{what} contains NaN or Inf values.")
        lo, hi = float(image.min()), float(image.max())
        if lo < -1e-6 or hi > 1.0 + 1e-6:
            raise ValueError(
                f"A float {what} must lie in [0, 1] (pass uint8 for [0, 255] data). "
                f"Received: min={lo:.4g}, max={hi:.4g}"
            )
        out = np.clip(image.astype(np.float32), 0.0, 1.0)
    else:
        raise TypeError(
            f"{what} dtype must be uint8 or float in [0, 1]. Received: dtype={image.dtype}"
        )
    if out.ndim == 2:
        out = out[..., None]
    channels = out.shape[-1]
    if channels == 1:
        out = np.repeat(out, 3, axis=-1)
    elif channels == 4:
        if out[..., 3].min() < 1.0:
            warnings.warn(
                f"The {what} is RGBA with transparent pixels; its alpha channel is dropped (the "
                "colour values under it are inpainted as they are).",
                UserWarning,
                stacklevel=4,
            )
        out = out[..., :3]  # RGBA: the alpha channel is dropped
    return out


def _from_float(x: np.ndarray, dtype) -> np.ndarray:
    if dtype == np.uint8:
        return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def _grow_span(start: int, stop: int, size: int, margin: int) -> tuple[int, int]:
    """``[start, stop)`` grown by ``margin`` each side, shifted inward at the borders of
    ``[0, size)`` to keep its length where the image allows (IOPaint ``_crop_box``)."""
    lo, hi = start - margin, stop + margin
    if lo < 0:
        lo, hi = 0, hi - lo
    if hi > size:
        lo, hi = lo - (hi - size), size
    return max(lo, 0), hi


# --------------------------------------------------------------------------------------------
# Inpainter
# --------------------------------------------------------------------------------------------


class Inpainter:
    """Inpaints images of any size with a generator, at the edge conventions.

    Args:
        model: a generator (``keras.Model`` or classical method following the generator contract:
            ``model((image, mask), training=False) -> {"output": ...}``, attribute
            ``size_multiple``), or anything :func:`load` accepts (name, run directory, weights
            file). Defaults to the shipped default model
            (``tfinpaint.pretrained.DEFAULT_MODEL``, trained weights in the package).
        max_size: optional cap on the long side of any single model call. A call on a larger
            image (after the strategy, e.g. one crop) runs on a copy downscaled to ``max_size``
            and only its hole pixels are upscaled back. ``None`` (default): no cap.
        strategy: ``"original"`` (default), ``"resize"`` or ``"crop"``; see the module docstring
            (IOPaint's ``HDStrategy``).
        crop_margin: context in pixels added on each side of a hole region's bounding box for the
            ``"crop"`` strategy. Defaults to ``128``.
        crop_trigger_size: the ``"crop"`` strategy runs when ``max(H, W) > crop_trigger_size``;
            smaller images run whole. Defaults to ``800``.
        resize_limit: the ``"resize"`` strategy runs when ``max(H, W) > resize_limit`` and
            downscales the long side to it. Defaults to ``1280``.
        batch_size: images per model call when a batch of equal-size images is given.
            Defaults to ``1``.
        mask_polarity: default polarity of the masks passed to :meth:`__call__`: ``"hole"``
            (default; white = area to fill) or ``"known"`` (white = known pixel).

    Call arguments:
        image: uint8 ``[0, 255]`` or float ``[0, 1]``; one image ``(H, W, 3)`` (also ``(H, W)``,
            ``(H, W, 1)`` gray, or ``(H, W, 4)`` RGBA whose alpha is dropped) or a batch
            ``(N, H, W, C)``.
        mask: the area to fill, **white = hole** by the rule of :mod:`tfinpaint.data.polarity`
            (0/1 or 0..255 uint8, bool, float); ``(H', W')`` or ``(H', W', C)`` for one image,
            ``(N, H', W'[, C])`` or a single mask for all images of a batch. Any size with the
            image's aspect ratio: it is resized to the image with nearest neighbour.
        mask_polarity: overrides the constructor's polarity for this call.

    Returns:
        The composite, RGB: uint8 ``(H, W, 3)`` (or ``(N, H, W, 3)``) for uint8 input, float32 in
        ``[0, 1]`` for float input. Known pixels equal the input exactly (gray input is repeated
        to 3 channels first); an image whose mask has no hole is returned unchanged without
        calling the model; an all-hole mask is allowed but warned about (nothing is left to
        fill from).
    """

    def __init__(
        self,
        model=DEFAULT_MODEL,
        max_size: int | None = None,
        strategy: str = "original",
        crop_margin: int = 128,
        crop_trigger_size: int = 800,
        resize_limit: int = 1280,
        batch_size: int = 1,
        mask_polarity: str = "hole",
    ):
        if strategy not in STRATEGIES:
            raise ValueError(
                f"strategy must be one of {STRATEGIES}. Received: strategy={strategy!r}"
            )
        if mask_polarity not in POLARITIES:
            raise ValueError(
                f"mask_polarity must be one of {POLARITIES}. "
                f"Received: mask_polarity={mask_polarity!r}"
            )
        for name, value, low in (
            ("crop_margin", crop_margin, 0),
            ("crop_trigger_size", crop_trigger_size, 1),
            ("resize_limit", resize_limit, 8),
            ("batch_size", batch_size, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}. Received: {name}={value!r}")
        if max_size is not None and (
            isinstance(max_size, bool)
            or not isinstance(max_size, (int, np.integer))
            or max_size < 8
        ):
            raise ValueError(
                f"max_size must be None or an integer >= 8. Received: max_size={max_size!r}"
            )
        if isinstance(model, (str, os.PathLike)):
            model = load(model)
        if not callable(model):
            raise TypeError(
                "model must be callable as model((image, mask), training=False) -> "
                f"{{'output': ...}}. Received: type(model)={type(model).__name__}"
            )
        self.model = model
        edge = edge_settings(model)  # ValueError on a size_multiple < 1
        self.size_multiple = edge["size_multiple"]
        self.min_size = edge["min_size"]
        self.context_margin = edge["context_margin"]
        self.max_size = None if max_size is None else int(max_size)
        self.strategy = strategy
        self.crop_margin = int(crop_margin)
        self.crop_trigger_size = int(crop_trigger_size)
        self.resize_limit = int(resize_limit)
        self.batch_size = int(batch_size)
        self.mask_polarity = mask_polarity

    def __repr__(self) -> str:
        name = getattr(self.model, "name", type(self.model).__name__)
        return (
            f"Inpainter(model={name!r}, strategy={self.strategy!r}, "
            f"size_multiple={self.size_multiple}, max_size={self.max_size})"
        )

    # ---- input normalization --------------------------------------------------------------

    def _split_inputs(self, image, mask, polarity: str):
        """Returns (list of float (H, W, 3) images, list of bool (H, W) holes, batched, dtype)."""
        image = _to_numpy(image)
        mask = _to_numpy(mask)
        if image.ndim == 2 or (image.ndim == 3 and image.shape[-1] in (1, 3, 4)):
            images, batched = [image], False
        elif image.ndim == 4 and image.shape[-1] in (1, 3, 4):
            images, batched = list(image), True
        else:
            raise ValueError(
                "image must be (H, W, 3) RGB (also (H, W) / (H, W, 1) gray or (H, W, 4) RGBA) or "
                f"a batch (N, H, W, C) with C in 1, 3, 4. Received: image.shape={image.shape}"
            )
        if batched and len(images) == 0:
            raise ValueError(f"image batch is empty. Received: image.shape={image.shape}")
        dtype = np.uint8 if image.dtype == np.uint8 else np.float32
        floats = [_image_to_float(im, "image") for im in images]
        if any(min(f.shape[:2]) < 1 for f in floats):
            raise ValueError(f"image has a zero-size side. Received: image.shape={image.shape}")

        if mask.size == 0:
            raise ValueError(f"mask is empty. Received: mask.shape={mask.shape}")
        # One mask (H, W) / (H, W, C) or one per image (N, H, W) / (N, H, W, C).
        if mask.ndim == 2 or (mask.ndim == 3 and not batched and mask.shape[-1] in (1, 3, 4)):
            masks = [mask] * len(floats)
        elif (
            batched
            and mask.ndim in (3, 4)
            and mask.shape[0] == len(floats)
            and (mask.ndim == 3 or mask.shape[-1] in (1, 3, 4))
        ):
            masks = list(mask)
        elif batched and mask.ndim == 3 and mask.shape[-1] in (1, 3, 4):
            masks = [mask] * len(floats)
        else:
            raise ValueError(
                "mask must be (H, W) or (H, W, C) for one image, or (N, H, W[, C]) for a batch of "
                f"N images. Received: mask.shape={mask.shape}, image.shape={image.shape}"
            )
        holes = []
        for f, m in zip(floats, masks):
            hole = hole_from_user_mask(m, hole_is_white=(polarity == "hole"))[..., 0] > 0.5
            h, w = f.shape[:2]
            check_mask_size(hole.shape, (h, w))
            holes.append(resize_hole(hole, h, w))
        return floats, holes, batched, dtype

    # ---- model calls ----------------------------------------------------------------------

    def _forward(self, images: np.ndarray, holes: np.ndarray) -> np.ndarray:
        """Raw model output for float (n, h, w, 3) images and bool (n, h, w) holes.

        :func:`tfinpaint.edge.run_padded` (the SavedModel and TFLite graphs' path) in chunks of
        ``batch_size``. Returns float32 (n, h, w, 3).
        """
        known = (~holes).astype(np.float32)[..., None]
        images = images.astype(np.float32)
        outputs = []
        for start in range(0, len(holes), self.batch_size):
            stop = start + self.batch_size
            out = run_padded(self.model, images[start:stop], known[start:stop],
                             self.size_multiple, self.min_size, self.context_margin)
            outputs.append(_to_numpy(out).astype(np.float32))
        return np.concatenate(outputs, axis=0)

    def _run(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """One float image + bool hole -> float prediction (H, W, 3), honouring ``max_size``."""
        if self.max_size is not None and max(hole.shape) > self.max_size:
            return self._run_downscaled(image, hole, self.max_size)
        return self._forward(image[None], hole[None])[0]

    def _run_downscaled(self, image: np.ndarray, hole: np.ndarray, limit: int) -> np.ndarray:
        """IOPaint's resize strategy: inpaint at long side ``limit``, upscale (bicubic).

        The small mask marks a pixel as a hole when any part of its area is a hole (area
        averaging, then ``> 0``), so every original hole pixel lies inside a filled region.
        Returns the full-size prediction; the caller pastes only hole pixels.
        """
        import cv2

        h, w = hole.shape
        scale = limit / max(h, w)
        sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
        small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
        small_hole = cv2.resize(hole.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA)
        small_hole = small_hole > 0
        pred = self._forward(small[None], small_hole[None])[0]
        # Composite at the small size first so the upscaled known context matches the original.
        pred = np.where(small_hole[..., None], pred, small)
        return np.clip(cv2.resize(pred, (w, h), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)

    def crop_boxes(self, hole: np.ndarray) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
        """Crop boxes of the ``"crop"`` strategy for a bool hole mask ``(H, W)``.

        Each 8-connected hole region's bounding box is grown by ``crop_margin`` on each side; at
        an image border the box is shifted inward to keep its size where the image
        allows (the rule of IOPaint's ``InpaintModel._crop_box``). Regions whose boxes overlap
        are merged (union bounding box, grown again) until no two boxes overlap.

        Returns:
            A list of ``((top, left, bottom, right), region)`` with exclusive bottom/right and a
            bool ``(H, W)`` mask of the hole pixels this box fills.
        """
        import cv2

        h, w = hole.shape
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            hole.astype(np.uint8), connectivity=8
        )
        groups = []  # [bbox (t, l, b, r) of the holes, [label ids]]
        for i in range(1, count):
            x, y, bw, bh = (int(v) for v in stats[i, :4])
            groups.append(((y, x, y + bh, x + bw), [i]))

        def grow(bbox):
            t, l, b, r = bbox
            t, b = _grow_span(t, b, h, self.crop_margin)
            l, r = _grow_span(l, r, w, self.crop_margin)
            return t, l, b, r

        def overlap(a, b):
            return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

        merged = True
        while merged:
            merged = False
            boxes = [grow(g[0]) for g in groups]
            for i in range(len(groups)):
                for j in range(i + 1, len(groups)):
                    if overlap(boxes[i], boxes[j]):
                        (a, la), (b, lb) = groups[i], groups[j]
                        union = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                        groups[i] = (union, la + lb)
                        del groups[j]
                        merged = True
                        break
                if merged:
                    break
        result = []
        for bbox, ids in groups:
            result.append((grow(bbox), np.isin(labels, ids)))
        return result

    def _inpaint_one(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """Float image (H, W, 3) + bool hole (H, W) -> float prediction for the hole pixels."""
        long_side = max(hole.shape)
        if self.strategy == "resize" and long_side > self.resize_limit:
            limit = min(self.resize_limit, self.max_size or self.resize_limit)
            return self._run_downscaled(image, hole, limit)
        if self.strategy == "crop" and long_side > self.crop_trigger_size:
            pred = image.copy()
            for (t, l, b, r), region in self.crop_boxes(hole):
                crop_pred = self._run(image[t:b, l:r], hole[t:b, l:r])
                sel = region[t:b, l:r]
                pred[t:b, l:r][sel] = crop_pred[sel]
            return pred
        return self._run(image, hole)

    def __call__(self, image, mask, mask_polarity: str | None = None):
        polarity = self.mask_polarity if mask_polarity is None else mask_polarity
        if polarity not in POLARITIES:
            raise ValueError(
                f"mask_polarity must be one of {POLARITIES}. Received: mask_polarity={polarity!r}"
            )
        original = _to_numpy(image)
        floats, holes, batched, dtype = self._split_inputs(original, mask, polarity)
        results: list[np.ndarray | None] = [None] * len(floats)
        todo = [i for i, hole in enumerate(holes) if hole.any()]
        full = [i for i in todo if holes[i].all()]
        if full:
            warnings.warn(
                f"The mask covers the whole image{'s ' + str(full) if batched else ''}: no known "
                "pixel is left to fill from, so the result is the model's output for an empty "
                "input (cv2-telea / cv2-ns: black). Mark only the area to fill white "
                f"({MASK_RULE}).",
                UserWarning,
                stacklevel=2,
            )

        # Images run whole go to the model together, batch_size per call (a batch array holds
        # images of one size); the others run one by one through their strategy.
        whole = [i for i in todo if not self._needs_strategy(holes[i].shape)]
        if whole and self.max_size is None:
            preds = self._forward(
                np.stack([floats[i] for i in whole]), np.stack([holes[i] for i in whole])
            )
            for k, i in enumerate(whole):
                results[i] = preds[k]
        for i in todo:
            if results[i] is None:
                results[i] = self._inpaint_one(floats[i], holes[i])

        outputs = []
        for i, f in enumerate(floats):
            src = original[i] if batched else original
            if dtype == np.uint8 and src.ndim == 3 and src.shape[-1] == 3:
                base = src  # bit-exact known pixels
            else:
                base = _from_float(f, dtype)  # gray / RGBA converted (exact for uint8)
            if results[i] is None:  # no hole: unchanged, no model call
                outputs.append(np.array(base, copy=True))
                continue
            known = (~holes[i]).astype(np.float32)[..., None]
            if dtype == np.uint8:  # the uint8 composite of tfinpaint.edge.inpaint_uint8
                pred = np.clip(results[i] * 255.0, 0.0, 255.0)
                comp = np.round(composite(base.astype(np.float32), known, pred)).astype(np.uint8)
            else:
                comp = composite(base, known, np.clip(results[i], 0.0, 1.0)).astype(np.float32)
            outputs.append(comp)
        return np.stack(outputs) if batched else outputs[0]

    def _needs_strategy(self, shape: Sequence[int]) -> bool:
        long_side = max(shape)
        if self.strategy == "resize":
            return long_side > self.resize_limit
        if self.strategy == "crop":
            return long_side > self.crop_trigger_size
        return False
