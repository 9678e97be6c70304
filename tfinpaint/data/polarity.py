"""Mask polarity: the one place where edge masks become library masks.

Inside the library a mask is float ``(N, H, W, 1)`` with **1 = known pixel, 0 = hole**
(DESIGN.md section 2). At the edges (CLI, ``Inpainter``, serving, TFLite) the user's mask marks
the area to fill: **nonzero / white = hole**, as in OpenCV ``cv2.inpaint``, LaMa and IOPaint.

Binarization rule for edge masks: uint8 (or any integer) ``> 127`` is a hole; float ``> 0.5`` is
a hole; bool ``True`` is a hole. Mask folders whose files use the other convention (white =
known) are read with ``hole_is_white=False``.
"""

from __future__ import annotations

import numpy as np


def hole_from_user_mask(mask, hole_is_white: bool = True) -> np.ndarray:
    """Binarizes an edge mask (numpy) to float32 ``1 = hole``.

    Args:
        mask: array ``(..., H, W)`` or ``(..., H, W, C)``; uint8/int (threshold > 127), float
            (threshold > 0.5) or bool. With C > 1 channels, a pixel is a hole when any channel is.
        hole_is_white: ``True`` (default) when bright pixels mark the area to fill. ``False`` for
            datasets where white = known.

    Returns:
        float32 array with a trailing channel of 1, values exactly 0 or 1 (1 = hole).
    """
    mask = np.asarray(mask)
    if mask.size == 0:
        raise ValueError(f"Mask is empty. Received: shape={mask.shape}")
    if mask.dtype == bool:
        white = mask
    elif np.issubdtype(mask.dtype, np.integer):
        white = mask > 127
    elif np.issubdtype(mask.dtype, np.floating):
        if not np.all(np.isfinite(mask)):
            raise ValueError("Mask contains NaN or Inf values.")
        white = mask > 0.5
    else:
        raise TypeError(f"Mask dtype must be bool, integer or float. Received: dtype={mask.dtype}")
    if white.ndim >= 3 and white.shape[-1] in (1, 3, 4):
        white = np.any(white[..., :3] if white.shape[-1] == 4 else white, axis=-1)
    hole = white if hole_is_white else ~white
    return hole.astype(np.float32)[..., None]


def known_from_hole(hole):
    """``1 = hole`` -> ``1 = known`` (works on numpy arrays and tensors)."""
    return 1.0 - hole


def tf_hole_from_user_mask(mask, hole_is_white: bool = True):
    """Graph version of :func:`hole_from_user_mask` for uint8 or float masks ``(..., 1)``.

    Returns float32, 1 = hole. Used by the serving signatures and the TFLite wrapper.
    """
    import tensorflow as tf

    if mask.dtype.is_integer:
        white = mask > 127
    elif mask.dtype == tf.bool:
        white = mask
    else:
        white = mask > 0.5
    hole = white if hole_is_white else tf.logical_not(white)
    return tf.cast(hole, tf.float32)
