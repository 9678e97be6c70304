"""Reflect padding to a size multiple, export-safe (SavedModel with dynamic H, W and TFLite).

``tf.pad(mode="REFLECT")`` fails when the padding is not smaller than the dimension (a 40 px
image padded to a multiple of 128). Here the reflected indices are computed with integer ops and
the pixels gathered, which equals ``numpy.pad(mode="reflect")`` for any amount of padding
(repeated reflection with period ``2 * (n - 1)``), and lowers to TFLite builtins (FLOOR_MOD,
SELECT, GATHER). Padding is added at the bottom and right, as LaMa's ``pad_out_to_modulo``.
"""

from __future__ import annotations

import tensorflow as tf


def _reflect_indices(n, target, offset=0):
    """Indices ``j(i)`` for ``i in [0, target)`` reflecting ``[0, n)`` without edge repeat, the
    input starting at ``offset`` (``offset`` pixels reflected before it)."""
    period = tf.maximum(2 * (n - 1), 1)
    r = tf.math.floormod(tf.range(target) - offset, period)
    return tf.where(r < n, r, period - r)


def padded_size(n, multiple: int):
    """Smallest multiple of ``multiple`` that is >= ``n`` (tensor or int)."""
    return (n + multiple - 1) // multiple * multiple


def reflect_pad_to_multiple(x: tf.Tensor, multiple: int, min_size: int = 0) -> tf.Tensor:
    """Pads NHWC ``x`` at the bottom/right so H and W are multiples of ``multiple``.

    Equals ``numpy.pad(x, [(0,0), (0,ph), (0,pw), (0,0)], mode="reflect")``; a 1-pixel dimension
    is repeated (numpy's reflect is undefined there). Crop back with ``x[:, :h, :w]``.
    With ``min_size``, H and W are also padded to at least ``min_size`` (rounded up to the
    multiple), as :class:`tfinpaint.inference.Inpainter` does for models with a minimum size.
    """
    multiple = max(int(multiple), 1)
    floor = padded_size(int(min_size), multiple) if min_size else 0
    if multiple <= 1 and not floor:
        return x
    shape = tf.shape(x)
    h, w = shape[1], shape[2]
    x = tf.gather(x, _reflect_indices(h, tf.maximum(padded_size(h, multiple), floor)), axis=1)
    return tf.gather(x, _reflect_indices(w, tf.maximum(padded_size(w, multiple), floor)), axis=2)
