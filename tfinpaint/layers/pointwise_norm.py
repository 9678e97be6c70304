"""Point-wise normalization (PN; Zhu et al., "Image Inpainting by End-to-End Cascaded Refinement
With Mask Awareness", TIP 2021, arXiv 2104.13743, Sec. III-B).

Official code: ``MADF-inpainting/Pytorch-MADF``, ``normalization.py::PN``. A feature ``x`` is
batch-normalized without an affine transform and then scaled and shifted *per pixel* by maps
predicted from a guiding feature ``g`` (the previous decoder's feature at the same level)::

    a = ReLU(conv3x3(resize(g, size(x))))           (mlp_shared, 128 channels)
    PN(x, g) = BN(x) * (1 + conv3x3(a)) + conv3x3(a)  (mlp_scale, mlp_bias; padding 1)

``BN`` is PyTorch's ``BatchNorm2d(C, affine=False)``: batch statistics in training (and a
running-variance update with the unbiased batch variance, as PyTorch), running statistics at
inference; eps 1e-5, momentum 0.1 (:class:`tfinpaint.layers.BatchNorm` with
``unbiased_variance=True``). ``resize`` is ``F.interpolate(mode="bilinear",
align_corners=False)``, the identity whenever ``g`` already has ``x``'s size (always in MADF).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.layers.batch_norm import BatchNorm


@tfinpaint_export("tfinpaint.layers.PointwiseNorm")
class PointwiseNorm(keras.layers.Layer):
    """Point-wise normalization: affine-free BatchNorm modulated per pixel by a guide feature.

    Args:
        hidden_channels: channels of the shared 3x3 conv (official ``nhidden = 128``).
            Defaults to `128`.
        unbiased_variance: PyTorch's running-variance update (see
            :class:`tfinpaint.layers.BatchNorm`). Defaults to `True`.
        kernel_initializer, bias_initializer: of the three convolutions. Defaults to
            `"he_uniform"` / `"zeros"`.

    Call arguments:
        inputs: ``[x, guide]``; ``x`` ``(N, H, W, C)`` to normalize, ``guide``
            ``(N, h, w, Cg)`` (bilinearly resized to ``H, W`` first).
        training: BatchNorm mode.

    Returns:
        ``(N, H, W, C)``.

    Example:
    ```python
    pn = PointwiseNorm(hidden_channels=8)
    x = np.random.rand(2, 8, 12, 4).astype("float32")
    g = np.random.rand(2, 8, 12, 6).astype("float32")
    y = pn([x, g], training=False)  # (2, 8, 12, 4)
    ```
    """

    def __init__(
        self,
        hidden_channels=128,
        unbiased_variance=True,
        kernel_initializer="he_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if (isinstance(hidden_channels, bool) or int(hidden_channels) != hidden_channels
                or hidden_channels < 1):
            raise ValueError(
                f"hidden_channels must be a positive int. Received: "
                f"hidden_channels={hidden_channels!r}"
            )
        self.hidden_channels = int(hidden_channels)
        self.unbiased_variance = bool(unbiased_variance)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        dt = self.dtype_policy
        self.batch_norm = BatchNorm(
            center=False, scale=False, unbiased_variance=self.unbiased_variance, dtype=dt,
            name="batch_norm",
        )

        def conv(filters, name):
            return keras.layers.Conv2D(
                filters, 3, padding="same", kernel_initializer=self.kernel_initializer,
                bias_initializer=self.bias_initializer, dtype=dt, name=name,
            )

        self.mlp_shared = conv(self.hidden_channels, "mlp_shared")
        self._conv = conv

    def build(self, input_shape):
        x_shape, g_shape = (tuple(s) for s in input_shape)
        if len(x_shape) != 4 or len(g_shape) != 4 or x_shape[-1] is None or g_shape[-1] is None:
            raise ValueError(
                "PointwiseNorm takes [x, guide], NHWC with known channels. Received: "
                f"input_shape={input_shape}"
            )
        channels = int(x_shape[-1])
        self.mlp_scale = self._conv(channels, "mlp_scale")
        self.mlp_bias = self._conv(channels, "mlp_bias")
        n = x_shape[0]
        self.batch_norm.build((n, None, None, channels))
        self.mlp_shared.build((n, None, None, g_shape[-1]))
        self.mlp_scale.build((n, None, None, self.hidden_channels))
        self.mlp_bias.build((n, None, None, self.hidden_channels))

    def call(self, inputs, training=None):
        x, guide = inputs
        normalized = self.batch_norm(x, training=training)
        guide = ops.cast(guide, self.compute_dtype)
        same = (guide.shape[1] is not None and guide.shape[1] == x.shape[1]
                and guide.shape[2] is not None and guide.shape[2] == x.shape[2])
        if not same:
            # F.interpolate(bilinear, align_corners=False) to x's (possibly dynamic) size: the
            # half-pixel resize of tfinpaint.layers.resize.resize_bilinear; identity at equal
            # sizes, so it is skipped when the static sizes already agree (always in MADF).
            guide = tf.cast(
                tf.image.resize(guide, tf.shape(x)[1:3], method="bilinear", antialias=False),
                guide.dtype,
            )
        actv = ops.relu(self.mlp_shared(guide))
        scale = self.mlp_scale(actv)
        bias = self.mlp_bias(actv)
        return ops.cast(normalized, self.compute_dtype) * (1.0 + scale) + bias

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_channels": self.hidden_channels,
            "unbiased_variance": self.unbiased_variance,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
