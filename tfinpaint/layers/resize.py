"""Export-safe resize helpers with PyTorch ``F.interpolate`` semantics.

Every helper works on NHWC tensors with dynamic ``H, W`` inside ``tf.function``/SavedModel and
lowers to TFLite builtins (``CONCATENATION``/``RESHAPE``, ``STRIDED_SLICE``,
``RESIZE_BILINEAR``). ``keras.layers.UpSampling2D`` is avoided on purpose: with dynamic H, W it
breaks export and TFLite conversion (DESIGN section 8).

Semantics, with ``f`` an integer factor (anchors section 9):

- :func:`upsample_nearest` equals ``F.interpolate(x, scale_factor=f, mode="nearest")``:
  ``out[i] = in[floor(i / f)]``. TF2's ``tf.image.resize(..., "nearest")`` uses half-pixel
  centres, ``src = floor((i + 0.5) / f)``, and for an integer factor ``(i mod f + 0.5) / f < 1``,
  so the two index maps are identical. Values are copied, never interpolated: a binary mask
  stays exactly 0/1.
- :func:`downsample_nearest` equals ``F.interpolate(x, scale_factor=1 / f, mode="nearest")``:
  PyTorch takes source index ``floor(i * f)`` for ``i < floor(H / f)``; that is the strided
  slice ``x[:, : H // f * f : f]``. TF2 ``resize(nearest)`` would take ``floor((i + 0.5) * f)``
  (shifted by ``f // 2``), so it is *not* used here.
- :func:`resize_nearest_align_corners` equals TF1 ``tf.image.resize_nearest_neighbor(x, size,
  align_corners=True)`` (Region-wise inpainting resizes its mask to every feature size this
  way): ``out[i] = in[min(round(i * (H_in - 1) / (H_out - 1)), H_in - 1)]``, rounding half away
  from zero, in float32 as TensorFlow's and TFLite's kernels compute it. It lowers to the TFLite
  builtin ``RESIZE_NEAREST_NEIGHBOR`` with ``align_corners=True``; values are copied, so a
  binary mask stays exactly 0/1.
- :func:`resize_bilinear` equals ``F.interpolate(x, size=..., mode="bilinear",
  align_corners=False)`` (``antialias=False``): both use ``src = (i + 0.5) * in / out - 0.5``
  clamped at the border. With ``factor=`` the output size is ``floor(H * factor)`` as in PyTorch;
  PyTorch then maps coordinates with ``1 / factor`` while TF uses ``in / out``, which agree
  whenever ``H * factor`` is an integer (every use in the ported models).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint.api_export import tfinpaint_export


def _check_factor(factor, name="factor") -> int:
    if isinstance(factor, bool) or int(factor) != factor or int(factor) < 1:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={factor!r}")
    return int(factor)


def _check_rank4(x, what):
    if x.shape.rank is not None and x.shape.rank != 4:
        raise ValueError(f"{what} expects an NHWC tensor of rank 4. Received: shape={x.shape}")


def upsample_nearest(x, factor: int = 2):
    """Nearest upsampling by an integer factor: ``out[:, i, j] = x[:, i // f, j // f]``.

    Args:
        x: NHWC tensor (any float dtype; dynamic H, W allowed).
        factor: positive int. Defaults to `2`.

    Returns:
        ``(N, f*H, f*W, C)`` tensor of ``x``'s dtype.
    """
    factor = _check_factor(factor)
    x = tf.convert_to_tensor(x)
    _check_rank4(x, "upsample_nearest")
    if factor == 1:
        return x
    # Copies as concatenations and reshapes (CONCATENATION/RESHAPE in TFLite, which XNNPACK
    # runs; its delegate has no RESIZE_NEAREST_NEIGHBOR, whose fallback split the delegated
    # graph at every decoder level): each pixel repeated f times along C then viewed as f
    # columns, each row repeated f times along W then viewed as f rows. Same values as
    # ``tf.image.resize(nearest)``, exactly (tested).
    dynamic = tf.shape(x)
    n, h, w, c = (x.shape[i] if x.shape[i] is not None else dynamic[i] for i in range(4))
    rows = tf.reshape(tf.concat([x] * factor, axis=-1), [n, h, w * factor, c])
    return tf.reshape(tf.concat([rows] * factor, axis=2), [n, h * factor, w * factor, c])


def downsample_nearest(x, factor: int = 2):
    """Nearest downsampling by an integer factor, PyTorch style: ``x[:, f*i, f*j]``.

    The output has ``floor(H / f)`` rows, as ``F.interpolate(scale_factor=1/f)``.

    Args:
        x: NHWC tensor.
        factor: positive int. Defaults to `2`.
    """
    factor = _check_factor(factor)
    x = tf.convert_to_tensor(x)
    _check_rank4(x, "downsample_nearest")
    if factor == 1:
        return x
    # Reshapes and unit-stride slices (which XNNPACK runs; it refuses STRIDED_SLICE with
    # strides > 1): rows f*i are the first W columns of the (N, H/f, f*W, C) view, then
    # columns f*j the first C channels of the (N, H/f, W/f, f*C) view. The same values as
    # x[:, ::f, ::f] on the cropped x, exactly.
    shape = tf.shape(x)
    n, h, w, c = (x.shape[i] if x.shape[i] is not None else shape[i] for i in range(4))
    h, w = h // factor, w // factor
    x = x[:, : h * factor, : w * factor, :]
    x = tf.reshape(x, [n, h, factor * w * factor, c])[:, :, : w * factor, :]
    return tf.reshape(x, [n, h, w, factor * c])[..., :c]


def resize_nearest_align_corners(x, size):
    """Nearest resize with TF1's ``align_corners=True`` index map (see the module docstring).

    Args:
        x: NHWC tensor (dynamic H, W allowed).
        size: ``(H_out, W_out)``: ints or a 1-D int32 tensor (e.g. ``tf.shape(y)[1:3]``).

    Returns:
        ``(N, H_out, W_out, C)`` tensor of ``x``'s dtype.
    """
    x = tf.convert_to_tensor(x)
    _check_rank4(x, "resize_nearest_align_corners")
    size = tf.cast(tf.convert_to_tensor(size), tf.int32)
    return tf.raw_ops.ResizeNearestNeighbor(
        images=x, size=size, align_corners=True, half_pixel_centers=False
    )


def _bilinear_size(x, size, factor):
    if (size is None) == (factor is None):
        raise ValueError(
            f"Pass exactly one of size and factor. Received: size={size}, factor={factor}"
        )
    if size is not None:
        size = tuple(int(s) for s in size)
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"size must be a pair of positive ints. Received: size={size}")
        return tf.constant(size, tf.int32)
    if not factor > 0:
        raise ValueError(f"factor must be > 0. Received: factor={factor}")
    hw = tf.cast(tf.shape(x)[1:3], tf.float64) * float(factor)
    # PyTorch: output size floor(H * factor); a tiny epsilon keeps 0.1 * 30 == 3.
    return tf.cast(tf.floor(hw + 1e-9), tf.int32)


def resize_bilinear(x, size=None, factor=None):
    """Bilinear resize equal to PyTorch ``align_corners=False``, no antialiasing.

    Args:
        x: NHWC float tensor.
        size: ``(H_out, W_out)``, or
        factor: float scale; output ``floor(H * factor)``.

    Returns:
        The resized tensor in ``x``'s dtype (``tf.image.resize`` computes in float32).
    """
    x = tf.convert_to_tensor(x)
    _check_rank4(x, "resize_bilinear")
    out = tf.image.resize(x, _bilinear_size(x, size, factor), method="bilinear", antialias=False)
    return tf.cast(out, x.dtype)


def _scaled(n, factor, up):
    if n is None:
        return None
    return n * factor if up else n // factor


@tfinpaint_export("tfinpaint.layers.NearestUpsample")
class NearestUpsample(keras.layers.Layer):
    """Nearest upsampling by an integer factor (PyTorch ``F.interpolate(mode="nearest")``).

    Export-safe replacement for ``keras.layers.UpSampling2D`` (see :func:`upsample_nearest`).

    Args:
        factor: positive int. Defaults to `2`.

    Example:
    ```python
    y = NearestUpsample(2)(np.arange(4, dtype="float32").reshape(1, 2, 2, 1))  # (1, 4, 4, 1)
    ```
    """

    def __init__(self, factor=2, **kwargs):
        super().__init__(**kwargs)
        self.factor = _check_factor(factor)

    def call(self, inputs):
        return upsample_nearest(inputs, self.factor)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, _scaled(h, self.factor, True), _scaled(w, self.factor, True), c)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@tfinpaint_export("tfinpaint.layers.NearestDownsample")
class NearestDownsample(keras.layers.Layer):
    """Nearest downsampling by an integer factor as a strided slice (PyTorch semantics).

    See :func:`downsample_nearest`: ``out[:, i, j] = x[:, f*i, f*j]``, ``floor(H/f)`` rows.

    Args:
        factor: positive int. Defaults to `2`.
    """

    def __init__(self, factor=2, **kwargs):
        super().__init__(**kwargs)
        self.factor = _check_factor(factor)

    def call(self, inputs):
        return downsample_nearest(inputs, self.factor)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, _scaled(h, self.factor, False), _scaled(w, self.factor, False), c)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@tfinpaint_export("tfinpaint.layers.BilinearResize")
class BilinearResize(keras.layers.Layer):
    """Bilinear resize equal to PyTorch ``F.interpolate(mode="bilinear", align_corners=False)``.

    See :func:`resize_bilinear`. Exactly one of ``size`` and ``factor`` is given.

    Args:
        size: ``(H_out, W_out)`` fixed output size. Defaults to `None`.
        factor: float scale factor; output ``floor(H * factor)``. Defaults to `None`.
    """

    def __init__(self, size=None, factor=None, **kwargs):
        super().__init__(**kwargs)
        if (size is None) == (factor is None):
            raise ValueError(
                f"Pass exactly one of size and factor. Received: size={size}, factor={factor}"
            )
        if size is not None:
            size = tuple(int(s) for s in size)
            if len(size) != 2 or min(size) < 1:
                raise ValueError(f"size must be a pair of positive ints. Received: size={size}")
        if factor is not None:
            factor = float(factor)
            if not factor > 0:
                raise ValueError(f"factor must be > 0. Received: factor={factor}")
        self.size = size
        self.factor = factor

    def call(self, inputs):
        return resize_bilinear(inputs, size=self.size, factor=self.factor)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        if self.size is not None:
            return (n, *self.size, c)

        def scale(v):
            return None if v is None else int(v * self.factor + 1e-9)

        return (n, scale(h), scale(w), c)

    def get_config(self):
        size = list(self.size) if self.size is not None else None
        return {**super().get_config(), "size": size, "factor": self.factor}
