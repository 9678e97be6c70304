"""The user's mask: the ONE rule that turns a mask given at an edge into a hole.

Inside the library a mask is float ``(N, H, W, 1)`` with **1 = known pixel, 0 = hole**
(DESIGN.md section 2). At every edge (CLI ``inpaint`` / ``predict`` / ``evaluate``, ``Inpainter``,
both SavedModel signatures, the gRPC and REST clients, the TFLite converter and runner, mask
folders, the web page) the user's mask marks the **area to fill** (white = hole), as in OpenCV
``cv2.inpaint``, LaMa and IOPaint. Every edge calls this module, so one mask array or file means
the same hole wherever it is sent.

The rule (numpy :func:`hole_from_user_mask` and graph :func:`tf_hole_from_user_mask` give
identical holes; the graph version is also TFLite-builtin only):

1. **Channels.** A gray mask is used as is. With colour channels (RGB) a pixel's value is its
   brightest channel. With an alpha channel (LA, RGBA) a pixel is a hole only when it is also
   opaque by rule 2 applied to the alpha channel: transparent paint marks nothing.
2. **Scale, decided per mask from its largest value** ``m`` (bool masks: ``True`` = hole):

   - ``m <= 1``: a 0..1 mask (uint8 0/1, float [0, 1]): hole where value ``> 0.5``;
   - ``1 < m <= 255``: a 0..255 mask (uint8 0/255, 8-bit files, antialiased or JPEG edges):
     hole where value ``> 127.5``, i.e. uint8 ``>= 128``;
   - ``m > 255``: a 16-bit mask: hole where value ``> 32767.5``.

   So 0/1 and 0/255 uint8 masks, bool and float masks all mean what they look like, a soft or
   JPEG-compressed mask is cut at half its scale, and an all-black mask has no hole. The one
   surprise is a 0..255 mask whose brightest pixel is 1: it is read as a 0/1 mask.
3. **Polarity.** ``hole_is_white=False`` (CLI ``--mask-polarity known``) inverts the result, for
   mask sets stored the other way round.

Files are read by :func:`read_mask_file` (every Pillow mode; the SavedModel ``encoded``
signature decodes with :func:`tf_decode_mask_file`, which gives the same arrays for PNG, JPEG,
BMP and GIF). A mask of another size than its image is accepted when the aspect ratio matches
(:func:`check_mask_size`) and resized with nearest neighbour (:func:`resize_hole`), after
binarization, so it stays exactly 0/1.

Public API (stable; the web page calls it too): :func:`hole_from_user_mask`,
:func:`tf_hole_from_user_mask`, :func:`read_mask_file`, :func:`tf_decode_mask_file`,
:func:`check_mask_size`, :func:`resize_hole`, :func:`known_from_hole`, ``MASK_RULE`` (one line
for help texts).
"""

from __future__ import annotations

import io
import os
import pathlib

import numpy as np

__all__ = [
    "MASK_RULE",
    "check_mask_size",
    "hole_from_user_mask",
    "known_from_hole",
    "read_mask_file",
    "resize_hole",
    "tf_decode_mask_file",
    "tf_hole_from_user_mask",
    "tf_resize_hole",
]

#: The rule in one line, for help texts and error messages.
MASK_RULE = (
    "white = area to fill: a 0/1 mask (largest value <= 1) is a hole where > 0.5, a 0..255 "
    "mask where >= 128 (bool: True); colour masks use their brightest channel, transparent "
    "pixels are never holes"
)

# Thresholds per scale (rule 2) and the largest value of each scale.
_SCALES = ((1.0, 0.5), (255.0, 127.5), (np.inf, 32767.5))


def _threshold(largest: float) -> float:
    for top, threshold in _SCALES:
        if largest <= top:
            return threshold
    raise AssertionError("unreachable")


def _white(values: np.ndarray) -> np.ndarray:
    """Rule 2 on one single-channel array (any shape): bool ``True`` where white."""
    if values.dtype == bool:
        return values
    if values.size == 0:
        return np.zeros(values.shape, bool)
    return values.astype(np.float64) > _threshold(float(values.max()))


def _split_channels(mask: np.ndarray, has_channels: bool):
    """``(colour value (H, W), alpha or None)`` of one mask."""
    if not has_channels:
        return mask, None
    channels = mask.shape[-1]
    if channels in (2, 4):
        return mask[..., :-1].max(axis=-1), mask[..., -1]
    return mask.max(axis=-1), None


def _one_hole(mask: np.ndarray, has_channels: bool) -> np.ndarray:
    colour, alpha = _split_channels(mask, has_channels)
    white = _white(colour)
    if alpha is not None:
        white = white & _white(alpha)
    return white


def hole_from_user_mask(mask, hole_is_white: bool = True, *, batched: bool = False) -> np.ndarray:
    """The user's mask -> float32 hole, **1 = hole** (the module's rule).

    Args:
        mask: one mask ``(H, W)`` or ``(H, W, C)`` with C in 1, 2 (gray + alpha), 3 (RGB) or 4
            (RGBA); bool, any integer or float dtype. With ``batched=True``: ``(N, H, W)`` or
            ``(N, H, W, C)``, the scale decided per mask.
        hole_is_white: ``True`` (default) when bright pixels mark the area to fill; ``False``
            for mask sets where white = known.
        batched: the first axis is a batch of masks.

    Returns:
        float32 ``(H, W, 1)`` (or ``(N, H, W, 1)``), exactly 0 or 1, 1 = hole.

    Raises:
        ValueError: empty mask, NaN/Inf or negative values, or a shape that is not a mask.
        TypeError: a dtype that is not bool, integer or float.
    """
    mask = np.asarray(mask)
    if mask.size == 0:
        raise ValueError(f"Mask is empty. Received: shape={mask.shape}")
    if mask.dtype != bool and not (
        np.issubdtype(mask.dtype, np.integer) or np.issubdtype(mask.dtype, np.floating)
    ):
        raise TypeError(f"Mask dtype must be bool, integer or float. Received: dtype={mask.dtype}")
    if np.issubdtype(mask.dtype, np.floating) and not np.all(np.isfinite(mask)):
        raise ValueError("Mask contains NaN or Inf values.")
    if mask.dtype != bool and mask.min() < 0:
        raise ValueError(
            f"Mask values must be >= 0 (0 = keep). Received: min={mask.min()}"
        )
    spatial = 3 if batched else 2
    if mask.ndim == spatial:
        has_channels = False
    elif mask.ndim == spatial + 1 and mask.shape[-1] in (1, 2, 3, 4):
        has_channels = True
    else:
        raise ValueError(
            "A mask must be (H, W) or (H, W, C) with C in 1, 2, 3, 4"
            + (" per batch item" if batched else "")
            + f". Received: shape={mask.shape}"
        )
    if batched:
        white = np.stack([_one_hole(m, has_channels) for m in mask])
    else:
        white = _one_hole(mask, has_channels)
    hole = white if hole_is_white else ~white
    return hole.astype(np.float32)[..., None]


def known_from_hole(hole):
    """``1 = hole`` -> ``1 = known`` (works on numpy arrays and tensors)."""
    return 1.0 - hole


# --------------------------------------------------------------------------------------------
# Graph version (SavedModel signatures, TFLite)
# --------------------------------------------------------------------------------------------


def _tf_white(values, reduce_axes):
    """Rule 2 in the graph: float32 1.0 where white, 0.0 elsewhere.

    Integer masks (what the signatures and TFLite receive) use arithmetic only, exact for
    integers and quantization-friendly (no comparison or select, which full-int8 TFLite kernels
    reject): ``t = 0.5 + 127 * clip(m - 1, 0, 1) + 32640 * clip(m - 255, 0, 1)`` is 0.5, 127.5
    or 32767.5 exactly as :func:`_threshold`, and ``clip(2 * (x - t), 0, 1)`` is 0 or 1 since
    ``x - t`` is at least 0.5 away from 0. bool and float masks compare directly.
    """
    import tensorflow as tf

    values = tf.convert_to_tensor(values)
    if values.dtype == tf.bool:
        return tf.cast(values, tf.float32)
    x = tf.cast(values, tf.float32)
    largest = tf.reduce_max(x, axis=reduce_axes, keepdims=True)
    if values.dtype.is_integer:
        threshold = (0.5 + 127.0 * tf.clip_by_value(largest - 1.0, 0.0, 1.0)
                     + 32640.0 * tf.clip_by_value(largest - 255.0, 0.0, 1.0))
        return tf.clip_by_value(2.0 * (x - threshold), 0.0, 1.0)
    threshold = tf.where(
        largest <= 1.0, 0.5, tf.where(largest <= 255.0, 127.5, 32767.5)
    )
    return tf.cast(x > threshold, tf.float32)


def tf_hole_from_user_mask(mask, hole_is_white: bool = True):
    """Graph version of :func:`hole_from_user_mask`: ``[B, H, W, C]`` (or ``[H, W, C]``) -> hole.

    ``C`` is 1 (gray) or, when known statically, 2 / 3 / 4 as in the numpy version. The scale is
    decided per batch item. Returns float32 ``[..., H, W, 1]``, 1 = hole. For integer masks only
    TFLite builtins that full-int8 quantization accepts (CAST, REDUCE_MAX, SUB, MUL, ADD,
    MINIMUM, MAXIMUM).
    """
    import tensorflow as tf

    mask = tf.convert_to_tensor(mask)
    axes = [-3, -2, -1]
    channels = mask.shape[-1]
    if channels in (2, 4):
        colour = tf.reduce_max(mask[..., :-1], axis=-1, keepdims=True)
        white = _tf_white(colour, axes) * _tf_white(mask[..., -1:], axes)
    elif channels in (1, None):
        white = _tf_white(mask, axes)
    else:
        white = _tf_white(tf.reduce_max(mask, axis=-1, keepdims=True), axes)
    return white if hole_is_white else 1.0 - white


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def read_mask_file(source) -> np.ndarray:
    """The one reader of mask files: path or bytes -> array for :func:`hole_from_user_mask`.

    Every Pillow mode maps to what TensorFlow's decoders give for the same file
    (:func:`tf_decode_mask_file`): ``L`` / ``LA`` / ``RGB`` / ``RGBA`` as stored (uint8);
    ``1`` -> 0/255; ``P`` / ``PA`` -> RGB, or RGBA when the palette has transparency;
    ``I;16*`` / ``I`` -> the high byte (uint8, as libpng's 16 -> 8 bit strip); ``F`` -> float32
    as stored; ``CMYK`` / ``YCbCr`` / ``LAB`` / ``HSV`` -> RGB. Animated files give their first
    frame. JPEG is decoded with libjpeg's accurate integer DCT (Pillow's default), like the graph.

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: the data is not a readable image (the message names the file).
    """
    from PIL import Image, UnidentifiedImageError

    label = "mask bytes" if isinstance(source, (bytes, bytearray)) else f"mask file {source}"
    if isinstance(source, (str, os.PathLike)) and not pathlib.Path(source).is_file():
        raise FileNotFoundError(f"{label}: does not exist")
    try:
        opened = Image.open(io.BytesIO(bytes(source)) if label == "mask bytes" else source)
        with opened as img:
            img.load()
            mode = img.mode
            if mode == "1":
                return np.asarray(img.convert("L"))
            if mode in ("L", "LA", "RGB", "RGBA"):
                return np.asarray(img)
            if mode in ("P", "PA"):
                alpha = mode == "PA" or "transparency" in img.info
                return np.asarray(img.convert("RGBA" if alpha else "RGB"))
            if mode.startswith("I;16") or mode == "I":
                wide = np.asarray(img).astype(np.int64)
                if wide.max(initial=0) > 65535 or wide.min(initial=0) < 0:
                    raise ValueError(f"32-bit values outside [0, 65535] (mode {mode})")
                return (wide >> 8).astype(np.uint8)
            if mode == "F":
                return np.asarray(img, dtype=np.float32)
            if mode in ("La", "RGBa"):
                return np.asarray(img.convert("RGBA"))
            return np.asarray(img.convert("RGB"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{label}: does not exist") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"{label}: cannot be read as an image ({e})") from None


def tf_decode_mask_file(data):
    """Graph reader of one mask file (scalar string) -> ``[H, W, 1]`` float32 hole, 1 = hole.

    Decodes as :func:`read_mask_file` reads (JPEG with the accurate integer DCT, native channel
    count otherwise) and applies :func:`tf_hole_from_user_mask` with the channel count known
    only at run time.
    """
    import tensorflow as tf

    decoded = tf.cond(
        tf.io.is_jpeg(data),
        lambda: tf.io.decode_jpeg(data, channels=0, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(data, channels=0, expand_animations=False),
    )
    channels = tf.shape(decoded)[-1]
    has_alpha = tf.logical_or(tf.equal(channels, 2), tf.equal(channels, 4))
    colour_channels = channels - tf.cast(has_alpha, tf.int32)
    colour = tf.reduce_max(decoded[..., :colour_channels], axis=-1, keepdims=True)
    alpha = tf.where(has_alpha, decoded[..., -1:], tf.constant(255, decoded.dtype))
    axes = [-3, -2, -1]
    return tf.ensure_shape(_tf_white(colour, axes) * _tf_white(alpha, axes), [None, None, 1])


# --------------------------------------------------------------------------------------------
# Size
# --------------------------------------------------------------------------------------------


def check_mask_size(mask_hw, image_hw) -> None:
    """A mask of another size is accepted only with the image's aspect ratio (within one pixel
    or 1 %); ``ValueError`` naming both sizes otherwise."""
    (mh, mw), (h, w) = (int(v) for v in mask_hw), (int(v) for v in image_hw)
    if (mh, mw) != (h, w) and abs(mh * w / mw - h) > max(1.0, 0.01 * h):
        raise ValueError(
            "mask and image have different aspect ratios; a mask is resized to its image only "
            f"when the aspect matches. Received: mask size (H, W)=({mh}, {mw}), image size "
            f"(H, W)=({h}, {w})"
        )


def _nearest_index(out_size, in_size):
    return np.minimum(((np.arange(out_size) + 0.5) * in_size / out_size).astype(np.int64),
                      in_size - 1)


def resize_hole(hole: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of ``(H, W, ...)`` with pixel-centre sampling.

    Output pixel ``i`` takes input pixel ``floor((i + 0.5) * in / out)``, the rule of Pillow's
    ``NEAREST`` and OpenCV's ``INTER_NEAREST_EXACT``; values are only copied, never mixed.
    :func:`tf_resize_hole` is the same in the graph.
    """
    in_h, in_w = hole.shape[:2]
    if (in_h, in_w) == (height, width):
        return hole
    return hole[_nearest_index(height, in_h)][:, _nearest_index(width, in_w)]


def tf_resize_hole(hole, height, width):
    """Graph version of :func:`resize_hole` for ``[H, W, C]`` (checks the aspect ratio too)."""
    import tensorflow as tf

    in_h, in_w = tf.shape(hole)[0], tf.shape(hole)[1]
    fh, fw = tf.cast(height, tf.float64), tf.cast(width, tf.float64)
    gh, gw = tf.cast(in_h, tf.float64), tf.cast(in_w, tf.float64)
    ok = tf.logical_or(
        tf.logical_and(tf.equal(in_h, height), tf.equal(in_w, width)),
        tf.abs(gh * fw / gw - fh) <= tf.maximum(tf.constant(1.0, tf.float64), 0.01 * fh),
    )
    check = tf.debugging.Assert(ok, [
        "mask and image have different aspect ratios; a mask is resized to its image only "
        "when the aspect matches. mask size (H, W), image size (H, W):", in_h, in_w, height, width,
    ], summarize=4)
    with tf.control_dependencies([check]):
        rows = tf.minimum(tf.cast((tf.cast(tf.range(height), tf.float64) + 0.5) * gh / fh,
                                  tf.int32), in_h - 1)
        cols = tf.minimum(tf.cast((tf.cast(tf.range(width), tf.float64) + 0.5) * gw / fw,
                                  tf.int32), in_w - 1)
        return tf.gather(tf.gather(hole, rows, axis=0), cols, axis=1)
