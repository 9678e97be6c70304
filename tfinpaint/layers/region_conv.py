"""Region-wise convolution (Ma et al., "Coarse-to-Fine Image Inpainting via Region-wise
Convolutions and Non-Local Correlation", IJCAI 2019; official TF1 code ``vickyFox/
Region-wise-Inpainting``, ``region_conv.py::region_conv`` and ``region_deconv``).

Eq. 1 of the paper gives the known and the missing region their own filters and biases::

    x' = W_k^T x + b_k    where the mask is 1 (known region)
    x' = W_u^T x + b_u    where the mask is 0 (missing region)

with the mask resized to the feature size. The authors' code realises it on the *inputs*: the
known-region branch sees ``x_known * M``, the missing-region branch ``x_missing * (1 - M)``,
their concatenation goes through **one** convolution (so the two filters are the two halves of
its kernel along the input channels, and there is a single bias), then ELU::

    y = elu(W_k * (x_known M) + W_u * (x_missing (1 - M)) + b)            (combine="input")

The two branches may take different tensors: the code's decoder feeds the skip-concatenated
features to the known branch and the plain decoder features to the missing branch
(``region_conv(cat(x13, x3), x13, mask)``). The paper's literal per-pixel selection of two
filter responses is available too::

    y = elu(M (W_k * x_known + b_k) + (1 - M) (W_u * x_missing + b_u))    (combine="output")

The mask is resized to the size it is applied at (the input size for ``"input"``, the output
size for ``"output"``) with TF1 ``resize_nearest_neighbor(align_corners=True)``, as the code
does (:func:`tfinpaint.layers.resize.resize_nearest_align_corners`). Padding is the code's:
``REFLECT`` by ``dilation * (k - 1) / 2`` on every side, then a ``VALID`` convolution. The
upsampling variant (``region_deconv``) upsamples the fused input by nearest x2 before the
convolution (``standard_dconv``: ``resize_nearest_neighbor`` x2, reflect pad 1, 3x3 conv, ELU).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.layers.arguments import positive_int
from tfinpaint.layers.padding import reflect_pad
from tfinpaint.layers.resize import resize_nearest_align_corners, upsample_nearest

COMBINE_CHOICES = ("input", "output")
PADDING_CHOICES = ("reflect", "zero")


@tfinpaint_export("tfinpaint.layers.RegionConv2D")
class RegionConv2D(keras.layers.Layer):
    """Region-wise convolution: separate filters for the known and the missing region (Eq. 1).

    See the module docstring for the two ``combine`` forms and the authors' conventions.

    Args:
        filters: int, output channels.
        kernel_size: odd int. Defaults to `3` (the code's region-wise layers).
        strides: int. Defaults to `1`. Not with ``upsample=True``.
        dilation_rate: int. Defaults to `1`.
        upsample: bool, nearest x2 upsampling before the convolution (the code's
            ``region_deconv``). Defaults to `False`.
        combine: ``"input"`` (the authors' code: one conv over ``cat(x_known M,
            x_missing (1 - M))``, one bias) or ``"output"`` (two convs and biases selected per
            pixel by the mask). Defaults to `"input"`.
        activation: activation after the combination. Defaults to `"elu"` (the code).
        padding: ``"reflect"`` (the code) or ``"zero"``, ``dilation * (k - 1) / 2`` pixels on
            each side. Defaults to `"reflect"`.
        kernel_initializer, bias_initializer: as ``keras.layers.Conv2D``. Defaults are TF1
            ``tf.layers.conv2d``'s: glorot uniform and zeros.

    Call arguments:
        inputs: ``[x_known, x_missing, mask]``: ``x_known`` ``(N, H, W, Ck)`` and ``x_missing``
            ``(N, H, W, Cu)`` (the same tensor is allowed), ``mask`` ``(N, Hm, Wm, 1)`` at any
            resolution (usually the image's), **1 = known, 0 = hole**.

    Returns:
        ``(N, H', W', filters)``: ``H' = ceil(H / strides)`` (``2 H`` with ``upsample``).

    Example:
    ```python
    x = np.random.rand(2, 16, 16, 8).astype("float32")
    mask = np.ones((2, 64, 64, 1), "float32"); mask[:, 20:40, 10:30] = 0
    y = RegionConv2D(8, upsample=True)([x, x, mask])  # (2, 32, 32, 8)
    ```
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        strides=1,
        dilation_rate=1,
        upsample=False,
        combine="input",
        activation="elu",
        padding="reflect",
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "filters")
        self.kernel_size = positive_int(kernel_size, "kernel_size")
        if self.kernel_size % 2 == 0:
            raise ValueError(
                f"kernel_size must be odd (symmetric reflect padding). Received: "
                f"kernel_size={kernel_size}"
            )
        self.strides = positive_int(strides, "strides")
        self.dilation_rate = positive_int(dilation_rate, "dilation_rate")
        self.upsample = bool(upsample)
        if self.upsample and self.strides != 1:
            raise ValueError(
                f"upsample=True needs strides=1. Received: strides={strides}"
            )
        if combine not in COMBINE_CHOICES:
            raise ValueError(f"combine must be one of {COMBINE_CHOICES}. Received: {combine!r}")
        if padding not in PADDING_CHOICES:
            raise ValueError(f"padding must be one of {PADDING_CHOICES}. Received: {padding!r}")
        self.combine = combine
        self.padding = padding
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "RegionConv2D is called on [x_known, x_missing, mask]. Received: "
                f"{len(input_shape)} inputs"
            )
        known_shape, missing_shape, mask_shape = (tuple(s) for s in input_shape)
        for name, shape in (("x_known", known_shape), ("x_missing", missing_shape)):
            if len(shape) != 4 or shape[-1] is None:
                raise ValueError(
                    f"RegionConv2D: {name} must be NHWC with a known channel count. Received: "
                    f"{name}.shape={shape}"
                )
        if len(mask_shape) != 4 or mask_shape[-1] not in (1, None):
            raise ValueError(
                f"RegionConv2D: mask must be (N, H, W, 1), 1 = known. Received: "
                f"mask.shape={mask_shape}"
            )
        k = self.kernel_size
        self.kernel_known = self.add_weight(
            name="kernel_known", shape=(k, k, known_shape[-1], self.filters),
            initializer=self.kernel_initializer, dtype=self.dtype,
        )
        self.kernel_missing = self.add_weight(
            name="kernel_missing", shape=(k, k, missing_shape[-1], self.filters),
            initializer=self.kernel_initializer, dtype=self.dtype,
        )
        if self.combine == "input":
            self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                        initializer=self.bias_initializer, dtype=self.dtype)
        else:
            self.bias_known = self.add_weight(name="bias_known", shape=(self.filters,),
                                              initializer=self.bias_initializer,
                                              dtype=self.dtype)
            self.bias_missing = self.add_weight(name="bias_missing", shape=(self.filters,),
                                                initializer=self.bias_initializer,
                                                dtype=self.dtype)

    # --------------------------------------------------------------------------------------
    def _conv(self, x, kernel):
        """Upsample (optional), pad (reflect or zero), VALID convolution."""
        if self.upsample:
            x = upsample_nearest(x, 2)
        p = self.dilation_rate * (self.kernel_size - 1) // 2
        if p:
            if self.padding == "reflect":
                x = reflect_pad(x, p)
            else:
                x = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]])
        return ops.conv(x, kernel, strides=self.strides, padding="valid",
                        dilation_rate=self.dilation_rate)

    def call(self, inputs):
        x_known, x_missing, mask = inputs
        for axis in (1, 2):
            a, b = x_known.shape[axis], x_missing.shape[axis]
            if a is not None and b is not None and a != b:
                raise ValueError(
                    "RegionConv2D: x_known and x_missing must have the same H and W. Received: "
                    f"x_known.shape={tuple(x_known.shape)}, "
                    f"x_missing.shape={tuple(x_missing.shape)}"
                )
        dt = self.compute_dtype
        x_known = ops.cast(x_known, dt)
        x_missing = ops.cast(x_missing, dt)
        mask = ops.cast(mask, "float32")
        if self.combine == "input":
            # region_conv / region_deconv: the mask at the input size, one conv over the
            # concatenated masked branches (the two filters are halves of one kernel).
            m = ops.cast(resize_nearest_align_corners(mask, tf.shape(x_known)[1:3]), dt)
            fused = ops.concatenate([x_known * m, x_missing * (1.0 - m)], axis=-1)
            kernel = ops.concatenate([self.kernel_known, self.kernel_missing], axis=2)
            y = self._conv(fused, ops.cast(kernel, dt)) + ops.cast(self.bias, dt)
        else:
            # Eq. 1 literally: each region's filter response where the mask says so.
            y_k = self._conv(x_known, ops.cast(self.kernel_known, dt))
            y_k = y_k + ops.cast(self.bias_known, dt)
            y_u = self._conv(x_missing, ops.cast(self.kernel_missing, dt))
            y_u = y_u + ops.cast(self.bias_missing, dt)
            m = ops.cast(resize_nearest_align_corners(mask, tf.shape(y_k)[1:3]), dt)
            y = m * y_k + (1.0 - m) * y_u
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        n, h, w, _ = tuple(input_shape[0])

        def size(v):
            if v is None:
                return None
            return 2 * v if self.upsample else (v - 1) // self.strides + 1

        return (n, size(h), size(w), self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "dilation_rate": self.dilation_rate,
            "upsample": self.upsample,
            "combine": self.combine,
            "activation": keras.activations.serialize(self.activation),
            "padding": self.padding,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
