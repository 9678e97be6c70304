"""Reflect padding to a size multiple, export-safe (SavedModel with dynamic H, W and TFLite).

``tf.pad(mode="REFLECT")`` fails when the padding is not smaller than the dimension (a 40 px
image padded to a multiple of 128). Here the reflected indices are computed with integer ops and
the pixels gathered, which equals ``numpy.pad(mode="reflect")`` for any amount of padding
(repeated reflection with period ``2 * (n - 1)``), and lowers to TFLite builtins (FLOOR_MOD,
SELECT, GATHER). Padding is added at the bottom and right, as LaMa's ``pad_out_to_modulo``.
"""

from __future__ import annotations

import tensorflow as tf


def _reflect_indices(n, target):
    """Indices ``j(i)`` for ``i in [0, target)`` reflecting ``[0, n)`` without edge repeat."""
    period = tf.maximum(2 * (n - 1), 1)
    r = tf.math.floormod(tf.range(target), period)
    return tf.where(r < n, r, period - r)


def padded_size(n, multiple: int):
    """Smallest multiple of ``multiple`` that is >= ``n`` (tensor or int)."""
    return (n + multiple - 1) // multiple * multiple


def reflect_pad_to_multiple(x: tf.Tensor, multiple: int) -> tf.Tensor:
    """Pads NHWC ``x`` at the bottom/right so H and W are multiples of ``multiple``.

    Equals ``numpy.pad(x, [(0,0), (0,ph), (0,pw), (0,0)], mode="reflect")``; a 1-pixel dimension
    is repeated (numpy's reflect is undefined there). Crop back with ``x[:, :h, :w]``.
    """
    if multiple <= 1:
        return x
    shape = tf.shape(x)
    h, w = shape[1], shape[2]
    x = tf.gather(x, _reflect_indices(h, padded_size(h, multiple)), axis=1)
    return tf.gather(x, _reflect_indices(w, padded_size(w, multiple)), axis=2)
