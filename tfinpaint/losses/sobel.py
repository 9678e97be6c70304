"""Sobel edge loss of Baik's "Image Inpainting" (``losses.py::SobelEdgeLoss``).

Official code ``jwbaik96/Image-inpainting`` (no license, read for facts only). Per colour
channel ``c``::

    E_c(x) = |h * reflectpad1(x_c)| + |v * reflectpad1(x_c)|      (cross-correlation)
    E_c   <- (E_c - min E_c) / (max E_c - min E_c + 1e-6)         (min/max over the WHOLE batch)
    loss   = sum_c mean |E_c(out) - E_c(y)|

with ``h = [[3, 10, 3], [0, 0, 0], [-3, -10, -3]] / 16`` and ``v = [[-3, 0, 3], [-10, 0, 10],
[-3, 0, 3]] / 16`` (:data:`tfinpaint.layers.sobel.SCHARR_H`, ``SCHARR_V``). The min-max
normalisation over the batch makes the loss batch dependent, as in the official code; the
sum over channels (not a mean) is also the official one.
"""

from __future__ import annotations

from keras import ops

NAN_ESCAPER = 1e-6  # official self.NaN_escaper


def sobel_edges(images):
    """``E`` per channel, min-max normalised over the batch (see the module docstring)."""
    from tfinpaint.layers.sobel import SCHARR_H, SCHARR_V, gradients

    gh, gv = gradients(images, SCHARR_H, SCHARR_V, padding="reflect")
    e = ops.abs(gh) + ops.abs(gv)
    lo = ops.min(e, axis=(0, 1, 2), keepdims=True)
    hi = ops.max(e, axis=(0, 1, 2), keepdims=True)
    return (e - lo) / (hi - lo + NAN_ESCAPER)


def sobel_edge_loss(y, out):
    """Baik's Sobel edge loss ``sum_c mean|E_c(out) - E_c(y)|`` (float32 scalar).

    Args:
        y: target ``(N, H, W, C)`` in [0, 1].
        out: prediction, same shape.
    """
    diff = ops.abs(sobel_edges(out) - sobel_edges(y))
    return ops.sum(ops.mean(diff, axis=(0, 1, 2)))
