"""Dense multi-scale fusion block (DMFB).

Hui et al., "Image Fine-grained Inpainting", 2020 (https://arxiv.org/abs/2002.02609), Fig. 3,
as used in Baik's "Image Inpainting" code (``jwbaik96/Image-inpainting``,
``model_ops.py::DMFBlock``; no license, read for facts only). With ``c = channels / 4``::

    x1   = relu(IN(conv1(x)))                        3x3, channels -> c
    d_k  = conv2_k(x1), k in 1, 2, 4, 8              3x3, dilation k, c -> c
    K2   = conv3_1(d_1 + d_2)
    K3   = conv3_2(K2 + d_4)
    K4   = conv3_3(K3 + d_8)                         3x3, c -> c
    out  = relu(IN(conv4(concat(d_1, K2, K3, K4)))) + x      1x1, channels -> channels

Every convolution has a bias and zero padding ``dilation`` (``'same'`` at stride 1 is symmetric).
``IN`` is ``InstanceNorm2d(affine=False)`` (:func:`tfinpaint.layers.recurrent_conv.instance_norm`).
"""

from __future__ import annotations

import keras
from keras import ops

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.layers.recurrent_conv import instance_norm

DILATIONS = (1, 2, 4, 8)


@tfinpaint_export("tfinpaint.layers.DenseMultiScaleFusion")
class DenseMultiScaleFusion(keras.layers.Layer):
    """Dense multi-scale fusion block with a residual connection (see the module docstring).

    The number of channels is the input's; it must be a multiple of 4.

    Call arguments:
        x: ``(N, H, W, C)``.

    Returns:
        ``(N, H, W, C)``.

    Example:
    ```python
    block = DenseMultiScaleFusion()
    y = block(np.random.rand(2, 16, 24, 8).astype("float32"))  # (2, 16, 24, 8)
    ```
    """

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % 4:
            raise ValueError(
                "DenseMultiScaleFusion needs a known channel count that is a multiple of 4. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        c = channels // 4
        dt = self.dtype_policy
        n = input_shape[0]

        def conv(filters, kernel, name, dilation=1):
            layer = keras.layers.Conv2D(filters, kernel, padding="same", dilation_rate=dilation,
                                        dtype=dt, name=name)
            setattr(self, name, layer)
            return layer

        conv(c, 3, "conv1").build((n, None, None, channels))
        for d in DILATIONS:
            conv(c, 3, f"conv2_{d}", dilation=d).build((n, None, None, c))
        for j in (1, 2, 3):
            conv(c, 3, f"conv3_{j}").build((n, None, None, c))
        conv(channels, 1, "conv4").build((n, None, None, channels))

    def call(self, x):
        x1 = ops.relu(instance_norm(self.conv1(x)))
        d1, d2, d4, d8 = (getattr(self, f"conv2_{d}")(x1) for d in DILATIONS)
        k2 = self.conv3_1(d1 + d2)
        k3 = self.conv3_2(k2 + d4)
        k4 = self.conv3_3(k3 + d8)
        out = ops.relu(instance_norm(self.conv4(ops.concatenate([d1, k2, k3, k4], axis=-1))))
        return out + x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)
