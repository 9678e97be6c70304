"""Frequency-separation losses of Baik's "Image Inpainting" (jwbaik96/Image-inpainting).

Two fixed per-channel (depthwise) filters from ``utils.py::LowPassFilter`` / ``HighPassFilter``:

* low-pass: 5x5 box, every tap ``1/25``; the official code applies it **without padding**
  (``padding="valid"``: 256x256 -> 252x252);
* high-pass: 3x3 sharpening kernel, the 8 neighbours ``-1`` and the centre ``9`` (so a constant
  image passes unchanged, i.e. it is ``identity + Laplacian``); the official code pads with
  **zeros** by 1 (``padding="zero"``, same size).

``"reflect"`` padding is offered for both as an alternative that avoids border artefacts. The
kernels are constants made inside the functions (DESIGN.md section 8: no constants in
``build()``). Everything is computed in float32.
"""

from __future__ import annotations

import numpy as np
from keras import ops

_PADDINGS = ("valid", "zero", "reflect")


def low_pass_kernel(size: int = 5) -> np.ndarray:
    """``(size, size)`` box kernel with taps ``1 / size**2``."""
    return np.full((size, size), 1.0 / (size * size), dtype="float32")


def high_pass_kernel() -> np.ndarray:
    """3x3 sharpening kernel: ``-1`` at the 8 neighbours, ``9`` at the centre."""
    k = -np.ones((3, 3), dtype="float32")
    k[1, 1] = 9.0
    return k


def _filter(images, kernel: np.ndarray, padding: str, fn: str):
    if padding not in _PADDINGS:
        raise ValueError(f"{fn}: padding must be one of {_PADDINGS}. Received: padding={padding!r}")
    if len(images.shape) != 4 or images.shape[-1] is None:
        raise ValueError(
            f"{fn} expects NHWC images with a known channel count. Received: "
            f"shape={tuple(images.shape)}"
        )
    channels = images.shape[-1]
    x = ops.cast(images, "float32")
    k = kernel.shape[0]
    p = k // 2
    if padding == "reflect":
        x = ops.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")
    elif padding == "zero":
        x = ops.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    depthwise = np.tile(kernel[:, :, None, None], (1, 1, channels, 1))
    return ops.depthwise_conv(x, ops.convert_to_tensor(depthwise), strides=1, padding="valid")


def depthwise_filter(images, kernel: np.ndarray, padding: str = "zero", fn: str = "filter"):
    """Applies the 2-D ``kernel`` to every channel (cross-correlation, as ``F.conv2d``) with
    ``padding`` ``"valid"``, ``"zero"`` or ``"reflect"`` (by ``k // 2``); float32."""
    return _filter(images, np.asarray(kernel, "float32"), padding, fn)


def low_pass(images, size: int = 5, padding: str = "valid"):
    """Per-channel ``size x size`` box blur (Baik ``LowPassFilter``).

    Args:
        images: ``(N, H, W, C)``.
        size: box side (odd). Defaults to 5.
        padding: ``"valid"`` (official: output ``H-size+1``), ``"zero"`` or ``"reflect"`` (same
            size). Defaults to ``"valid"``.

    Returns:
        float32 filtered images.
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"low_pass size must be a positive odd integer. Received: size={size}")
    return _filter(images, low_pass_kernel(size), padding, "low_pass")


def high_pass(images, padding: str = "zero"):
    """Per-channel 3x3 sharpening high-pass (Baik ``HighPassFilter``).

    Args:
        images: ``(N, H, W, C)``.
        padding: ``"zero"`` (official), ``"reflect"`` or ``"valid"``. Defaults to ``"zero"``.

    Returns:
        float32 filtered images.
    """
    return _filter(images, high_pass_kernel(), padding, "high_pass")


def low_frequency_loss(y, out, size: int = 5, padding: str = "valid"):
    """``mean|LPF(y) - LPF(out)|`` (Baik ``LP_l1``, applied to the coarse output).

    Args:
        y: target ``(N, H, W, C)``.
        out: prediction, same shape.
        size, padding: see :func:`low_pass`.

    Returns:
        float32 scalar.
    """
    _check_pair(y, out, "low_frequency_loss")
    return ops.mean(ops.abs(low_pass(y, size, padding) - low_pass(out, size, padding)))


def high_frequency_loss(y, out, mask=None, padding: str = "zero"):
    """``mean(|HPF(y) - HPF(out)| * (1 - M))`` (Baik ``HP_l1``, on the refined output).

    Baik's code multiplies by its mask, which is 1 in the hole; in the library convention
    (``M`` = 1 for known pixels) that is ``1 - M``. The mean runs over all ``N*H*W*C`` elements
    (not the hole area), as in the official code. Without a mask the plain mean is returned.

    Args:
        y: target ``(N, H, W, C)``.
        out: prediction, same shape.
        mask: ``(N, H, W, 1)`` or ``(N, H, W, C)``, 1 = known; or ``None``.
        padding: see :func:`high_pass`; with ``"valid"`` the mask is cropped by 1 pixel.

    Returns:
        float32 scalar.
    """
    _check_pair(y, out, "high_frequency_loss")
    diff = ops.abs(high_pass(y, padding) - high_pass(out, padding))
    if mask is None:
        return ops.mean(diff)
    if len(mask.shape) != 4 or mask.shape[-1] not in (1, y.shape[-1], None):
        raise ValueError(
            f"high_frequency_loss: mask must be (N, H, W, 1) or (N, H, W, C), 1 = known. "
            f"Received: mask.shape={tuple(mask.shape)}, y.shape={tuple(y.shape)}"
        )
    hole = 1.0 - ops.cast(mask, "float32")
    if padding == "valid":
        hole = hole[:, 1:-1, 1:-1, :]
    return ops.mean(diff * hole)


def _check_pair(y, out, fn):
    y_shape, out_shape = tuple(y.shape), tuple(out.shape)
    same = len(y_shape) == 4 and len(out_shape) == 4
    same = same and all(a is None or b is None or a == b for a, b in zip(y_shape, out_shape))
    if not same:
        raise ValueError(
            f"{fn}: target and output must be NHWC images of the same shape. Received: "
            f"y.shape={y_shape}, out.shape={out_shape}"
        )
