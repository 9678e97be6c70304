"""Partial convolution (Liu et al., "Image Inpainting for Irregular Holes Using Partial
Convolutions", ECCV 2018; NVIDIA/partialconv ``PartialConv2d``).

Implements Eq. (1)-(2) of the paper as NVIDIA's official layer computes them::

    x' = W^T (X * M) * sum(1) / sum(M) + b     if sum(M) > 0, else 0
    m' = 1                                      if sum(M) > 0, else 0

where ``sum(1)`` is the window size ``Cin * k * k`` (NVIDIA ``slide_winsize`` with
``multi_channel=True``; PConv-Keras used ``k * k``, which is the same ratio only when the mask has
one channel shared by all inputs) and ``sum(M)`` is the number of valid taps, counted with a
*constant* all-ones kernel recomputed on every call (PConv-Keras kept it as a trainable variable,
which produced NaNs). The official code computes ``winsize / (sum(M) + 1e-8) * clip(sum(M), 0, 1)``;
here ``winsize * clip(sum(M), 0, 1) / max(sum(M), 1e-3)``, which is the same up to a relative
1e-8 whenever ``sum(M) >= 1e-3`` (always, for binary masks: ``sum(M)`` is then a count) and
stays finite in float16: TFLite's float16 conversion stores constants in float16, where 1e-8
is 0, so the official form gives 0/0 = NaN on windows with no valid pixel.

Bias, as NVIDIA's code does it: with a bias, ``out = (conv(X*M) * ratio + b) * m'`` (the bias is
kept where the window saw a valid pixel and zeroed elsewhere); without a bias (RFR-Net),
``out = conv(X*M) * ratio * m'``.

Padding is explicit and symmetric (``padding`` pixels on every side, zeros for features and
mask), as PyTorch's ``Conv2d(padding=p)``: for stride 2 this differs from TF ``'same'``, which
pads less before than after (DESIGN section 8).
"""

from __future__ import annotations

import contextlib
import threading

import keras
from keras import ops

from tfinpaint.api_export import tfinpaint_export

_FORM = threading.local()


@contextlib.contextmanager
def quantizable_renormalization():
    """Traces :class:`PartialConv2D` in its int8-quantizable form (full-integer TFLite).

    Inside this context (used by :func:`tfinpaint.export.tflite.convert` for ``"int8"``) the
    renormalization is written so that every intermediate tensor has a range int8 represents,
    the same function of the weights and a binary mask up to float rounding::

        f     = conv(mean_c(M), ones(k, k) / (k * k))     # sum(M) / (Cin*k*k), in [0, 1]
        m'    = min(255 * f, 1)                            # 1 where any tap is valid
        r - 1 = (m' - f) / max(f, 1/255)                   # ratio - 1; 0 on fully valid windows
        x'    = y + y * (r - 1),  y = W^T (X * M)

    Why: the default form divides by the count ``sum(M)`` in ``[0, Cin*k*k]`` (up to 4608);
    int8 steps of ``4608 / 255 = 18`` round small counts to the zero point and the ``DIV``
    kernel aborts (``div.cc``: ``data[i] != zero_point``). Here the count is a fraction (step
    1/255; with a mask shared by the channels the smallest positive ``f`` is ``1/(k*k) >=
    1/49``), ``255 * f`` is an integer in int8 exactly, the divisor is never below one step,
    and ``r - 1`` is exactly 0 (the zero point) wherever the window is fully valid, so int8
    rounding of the ratio only touches hole borders. Assumes a mask whose valid fraction in
    a window is 0 or at least 1/255 (shared masks, PConv U-Net's per-group masks).
    """
    previous = getattr(_FORM, "quantizable", False)
    _FORM.quantizable = True
    try:
        yield
    finally:
        _FORM.quantizable = previous


def _pair(value, name):
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints. Received: {name}={value}")
    return value


@tfinpaint_export("tfinpaint.layers.PartialConv2D")
class PartialConv2D(keras.layers.Layer):
    """2-D partial convolution with mask update (NVIDIA formulation).

    Args:
        filters: int, number of output channels.
        kernel_size: int or pair, ``(kh, kw)``.
        strides: int or pair. Defaults to `1`.
        padding: int or pair, symmetric zero padding in pixels on each side, as PyTorch's
            ``padding=`` (``(k - 1) // 2 * dilation`` keeps the size at stride 1). Defaults to `0`.
        dilation_rate: int or pair. Defaults to `1`.
        use_bias: bool. Defaults to `True`.
        kernel_initializer, bias_initializer, kernel_regularizer: as ``keras.layers.Conv2D``.

    Call arguments:
        inputs: ``[x, mask]``; ``x`` is ``(N, H, W, Cin)``; ``mask`` is ``(N, H, W, 1)`` (one
            mask shared by every input channel) or ``(N, H, W, Cin)`` (one per channel, NVIDIA
            ``multi_channel=True``), **1 = valid, 0 = hole**, exactly 0/1.

    Returns:
        ``(out, updated_mask)``: ``out`` is ``(N, H', W', filters)``; ``updated_mask`` is
        ``(N, H', W', 1)`` float32 0/1 (NVIDIA's multi-channel update mask has identical
        channels; one is kept). The mask stays float32 under mixed precision so it remains
        exactly binary.

    Example:
    ```python
    x = np.random.rand(2, 32, 32, 3).astype("float32")
    m = np.ones((2, 32, 32, 1), "float32"); m[:, 8:20, 8:20] = 0
    y, m2 = PartialConv2D(16, 7, strides=2, padding=3)([x, m])  # y: (2, 16, 16, 16)
    ```
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding=0,
        dilation_rate=1,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(filters) <= 0:
            raise ValueError(f"filters must be a positive int. Received: filters={filters}")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = _pair(padding, "padding")
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        if min(self.kernel_size) < 1 or min(self.strides) < 1 or min(self.dilation_rate) < 1:
            raise ValueError(
                "kernel_size, strides and dilation_rate must be >= 1. Received: "
                f"kernel_size={self.kernel_size}, strides={self.strides}, "
                f"dilation_rate={self.dilation_rate}"
            )
        if min(self.padding) < 0:
            raise ValueError(f"padding must be >= 0. Received: padding={self.padding}")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        x_shape, mask_shape = input_shape
        in_channels = x_shape[-1]
        if in_channels is None:
            raise ValueError(f"The channel dimension of x must be known. Received: {x_shape}")
        if mask_shape[-1] not in (1, in_channels):
            raise ValueError(
                f"mask must have 1 channel or as many as x ({in_channels}). "
                f"Received: mask shape={mask_shape}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(*self.kernel_size, in_channels, self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            dtype=self.dtype,
        )
        self.bias = (
            self.add_weight(
                name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                dtype=self.dtype,
            )
            if self.use_bias
            else None
        )

    def _pad(self, t):
        ph, pw = self.padding
        if ph == 0 and pw == 0:
            return t
        return ops.pad(t, [[0, 0], [ph, ph], [pw, pw], [0, 0]])

    def _call_quantizable(self, x, mask):
        """The int8-quantizable form (see :func:`quantizable_renormalization`)."""
        if mask.shape[-1] != 1:
            mask_mean = ops.mean(mask, axis=-1, keepdims=True)
        else:
            mask_mean = mask
        kh, kw = self.kernel_size
        taps = ops.full((kh, kw, 1, 1), 1.0 / (kh * kw), dtype="float32")
        frac = ops.conv(
            self._pad(mask_mean), taps, strides=self.strides, padding="valid",
            dilation_rate=self.dilation_rate,
        )
        updated = ops.minimum(frac * 255.0, 1.0)
        ratio_minus_one = (updated - frac) / ops.maximum(frac, 1.0 / 255.0)
        out = ops.conv(
            self._pad(x * ops.cast(mask, x.dtype)), self.kernel, strides=self.strides,
            padding="valid", dilation_rate=self.dilation_rate,
        )
        out = out + out * ops.cast(ratio_minus_one, out.dtype)
        if self.use_bias:
            out = (out + self.bias) * ops.cast(updated, out.dtype)
        return out, updated

    def call(self, inputs):
        x, mask = inputs
        mask = ops.cast(mask, "float32")
        if getattr(_FORM, "quantizable", False):
            return self._call_quantizable(x, mask)
        mask_channels = mask.shape[-1]
        # Number of valid taps per output window, counted with a constant ones kernel (made
        # here, not in build(): constants created in build break inside fit, DESIGN 8).
        # A per-channel mask is summed over channels first: the same integer counts (exact in
        # float32), with a k x k x 1 kernel instead of k x k x Cin (TFLite: SUM + a 1-channel
        # CONV_2D; the Cin-channel count conv was ~10% of PConv U-Net's TFLite time).
        if mask_channels > 1:
            mask_sum = ops.sum(mask, axis=-1, keepdims=True)
        else:
            mask_sum = mask
        ones = ops.ones((*self.kernel_size, 1, 1), dtype="float32")
        valid = ops.conv(
            self._pad(mask_sum), ones, strides=self.strides, padding="valid",
            dilation_rate=self.dilation_rate,
        )
        kh, kw = self.kernel_size
        window = float(kh * kw * mask_channels)  # Cin*k*k; with a shared mask Cin cancels
        updated = ops.clip(valid, 0.0, 1.0)
        ratio = window * updated / ops.maximum(valid, 1e-3)  # see the module docstring

        x_masked = x * ops.cast(mask, x.dtype)
        out = ops.conv(
            self._pad(x_masked), self.kernel, strides=self.strides, padding="valid",
            dilation_rate=self.dilation_rate,
        )
        out = out * ops.cast(ratio, out.dtype)
        if self.use_bias:
            out = (out + self.bias) * ops.cast(updated, out.dtype)
        return out, updated

    def compute_output_shape(self, input_shape):
        x_shape, _ = input_shape

        def size(n, k, s, p, d):
            if n is None:
                return None
            return (n + 2 * p - d * (k - 1) - 1) // s + 1

        h = size(x_shape[1], self.kernel_size[0], self.strides[0], self.padding[0],
                 self.dilation_rate[0])
        w = size(x_shape[2], self.kernel_size[1], self.strides[1], self.padding[1],
                 self.dilation_rate[1])
        return (x_shape[0], h, w, self.filters), (x_shape[0], h, w, 1)

    def compute_output_spec(self, inputs):
        x, mask = inputs
        out_shape, mask_shape = self.compute_output_shape((x.shape, mask.shape))
        return (
            keras.KerasTensor(out_shape, dtype=self.compute_dtype),
            keras.KerasTensor(mask_shape, dtype="float32"),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "dilation_rate": self.dilation_rate,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }
