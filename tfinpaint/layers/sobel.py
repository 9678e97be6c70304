"""Fixed Sobel-type gradient filters (Baik's discriminator edge branch and edge loss).

``jwbaik96/Image-inpainting`` (no license, read for facts only) uses two kernel pairs, applied
per colour channel as cross-correlations (``F.conv2d``, which TF's convolution also is):

- ``model.py::Discriminator.sobel_edge_detector``: the Sobel pair
  ``h = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]``, ``v = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]``,
  zero padding 1, and the **squared** magnitude ``h(x)^2 + v(x)^2`` (no square root);
- ``losses.py::SobelEdgeLoss``: the Scharr-like pair ``[[3, 10, 3], [0, 0, 0], [-3, -10, -3]] / 16``
  and its transpose-like ``[[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]] / 16``, reflection padding 1,
  ``|h(x)| + |v(x)|`` (see :func:`tfinpaint.losses.sobel.sobel_edge_loss`).

The kernels are numpy constants turned into tensors inside ``call`` (DESIGN section 8).
"""

from __future__ import annotations

import keras
import numpy as np

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.losses.frequency import depthwise_filter

SOBEL_H = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], "float32")
SOBEL_V = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], "float32")
SCHARR_H = np.array([[3, 10, 3], [0, 0, 0], [-3, -10, -3]], "float32") / 16.0
SCHARR_V = np.array([[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]], "float32") / 16.0


def gradients(images, kernel_h, kernel_v, padding="zero"):
    """Per-channel ``(h(x), v(x))`` with the given 3x3 kernels (float32)."""
    return (depthwise_filter(images, kernel_h, padding, "gradients"),
            depthwise_filter(images, kernel_v, padding, "gradients"))


@tfinpaint_export("tfinpaint.layers.SquaredSobelMagnitude")
class SquaredSobelMagnitude(keras.layers.Layer):
    """Per-channel ``sobel_h(x)^2 + sobel_v(x)^2`` with zero padding 1 (Baik's discriminator).

    Call arguments:
        x: ``(N, H, W, C)``.

    Returns:
        ``(N, H, W, C)`` in the compute dtype (computed in float32).
    """

    def call(self, x):
        gh, gv = gradients(x, SOBEL_H, SOBEL_V, "zero")
        return keras.ops.cast(gh * gh + gv * gv, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)
