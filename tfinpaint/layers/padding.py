"""Reflect padding to a size multiple, export-safe (SavedModel with dynamic H, W and TFLite).

``tf.pad(mode="REFLECT")`` fails when the padding is not smaller than the dimension (a 40 px
image padded to a multiple of 128). Here the reflected indices are computed with integer ops and
the pixels gathered, which equals ``numpy.pad(mode="reflect")`` for any amount of padding
(repeated reflection with period ``2 * (n - 1)``), and lowers to TFLite builtins (FLOOR_MOD,
SELECT, GATHER). Padding is added at the bottom and right, as LaMa's ``pad_out_to_modulo``.

:func:`reflect_pad` is the layers' symmetric ``REFLECT`` padding by a fixed amount (PyTorch
``nn.ReflectionPad2d(p)``, TF1 ``tf.pad(mode="REFLECT")``). Inside
:func:`sliced_reflect_padding` (entered by :func:`tfinpaint.export.tflite.convert`) it is traced
as copies: one-row slices and concatenations, which XNNPACK runs, instead of ``MIRROR_PAD``,
which XNNPACK does not take and whose builtin kernel took 21-33% of the float32 TFLite time of
the recurrent and region-wise networks (``benchmarks/results/tflite_profile/``).
"""

from __future__ import annotations

import contextlib
import threading

import tensorflow as tf

_FORM = threading.local()
# XNNPACK's delegate takes CONCATENATION of a few inputs only (9 were refused in the profile, 3
# and 4 delegated): longer concatenations are built as a tree of at most this many inputs.
_MAX_CONCAT_INPUTS = 4


@contextlib.contextmanager
def sliced_reflect_padding():
    """Traces :func:`reflect_pad` as slices and concatenations (TFLite export).

    The values are the same copies as ``tf.pad(mode="REFLECT")``, exactly. Outside this context
    (Keras training and the SavedModel) the single ``MirrorPad`` op is kept: its gradient is one
    op, where the sliced form's would be one padded copy per slice.
    """
    previous = getattr(_FORM, "sliced", False)
    _FORM.sliced = True
    try:
        yield
    finally:
        _FORM.sliced = previous


def concat_grouped(parts, axis):
    """``tf.concat(parts, axis)`` built as a tree of concatenations of at most 4 inputs each
    (the same tensor; XNNPACK refuses a CONCATENATION of 9 inputs and delegates 3 or 4)."""
    while len(parts) > 1:
        parts = [
            tf.concat(parts[i : i + _MAX_CONCAT_INPUTS], axis)
            if len(parts[i : i + _MAX_CONCAT_INPUTS]) > 1 else parts[i]
            for i in range(0, len(parts), _MAX_CONCAT_INPUTS)
        ]
    return parts[0]


def reflect_pad(x: tf.Tensor, p: int) -> tf.Tensor:
    """``tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")`` of NHWC ``x``.

    Reflection without edge repeat (``numpy.pad(mode="reflect")``); ``p`` must be smaller than
    H and W. Inside :func:`sliced_reflect_padding` the rows ``p, ..., 1`` are prepended and
    ``H-2, ..., H-1-p`` appended as one-row slices (then the same for columns).
    """
    p = int(p)
    if p == 0:
        return x
    if p < 0:
        raise ValueError(f"reflect_pad: padding must be >= 0. Received: p={p}")
    for axis in (1, 2):
        n = x.shape[axis]
        if n is not None and p >= n:
            raise ValueError(
                f"reflect_pad: REFLECT padding needs p < size on every padded axis. Received: "
                f"p={p}, x.shape={tuple(x.shape)}"
            )
    if not getattr(_FORM, "sliced", False):
        return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")
    for axis in (1, 2):

        def row(start, stop, t=x, axis=axis):
            index = [slice(None)] * 4
            index[axis] = slice(start, stop)
            return t[tuple(index)]

        # The p-row strips are assembled first, so x itself is copied once per axis.
        before = concat_grouped([row(i, i + 1) for i in range(p, 0, -1)], axis)
        after = concat_grouped([row(-i - 1, -i) for i in range(1, p + 1)], axis)
        x = tf.concat([before, x, after], axis)
    return x


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
