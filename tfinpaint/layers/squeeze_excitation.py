"""Squeeze-and-excitation channel gating (Hu et al., "Squeeze-and-Excitation Networks",
CVPR 2018), in the form of MANet's ``ContextualAttention.py::SEModule``.

``y = x * sigmoid(fc2(relu(fc1(mean_hw(x)))))``: a global average pool, ``Linear(C, C*r)``,
ReLU, ``Linear(C*r, C)``, sigmoid, and a per-channel rescaling of the input. MANet uses
``squeeze_ratio=1.0`` (no bottleneck) on the concatenation ``[feature, attention]``. Both
linear layers have a bias and PyTorch's default ``nn.Linear`` initialisation.
"""

from __future__ import annotations

import keras
from keras import ops

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.layers.torch_init import torch_default_initializers


@tfinpaint_export("tfinpaint.layers.SqueezeExcitation")
class SqueezeExcitation(keras.layers.Layer):
    """Channel gating by a squeeze (global mean) and an excitation (two linear layers).

    Args:
        squeeze_ratio: hidden width as a fraction of the channels (``int(C * ratio)``).
            Defaults to `1.0` (MANet ``SEModule``).

    Call arguments:
        inputs: ``(N, H, W, C)`` with known ``C``.

    Returns:
        ``inputs * gate`` with ``gate`` ``(N, 1, 1, C)`` in (0, 1).

    Child layers ``fc1``, ``fc2`` (``keras.layers.Dense``) are the official ``blocks.0`` and
    ``blocks.2``.
    """

    def __init__(self, squeeze_ratio=1.0, **kwargs):
        super().__init__(**kwargs)
        if not squeeze_ratio > 0:
            raise ValueError(f"squeeze_ratio must be > 0. Received: squeeze_ratio={squeeze_ratio}")
        self.squeeze_ratio = float(squeeze_ratio)
        self.fc1 = self.fc2 = None

    def build(self, input_shape):
        channels = input_shape[-1]
        if len(input_shape) != 4 or channels is None:
            raise ValueError("SqueezeExcitation needs (N, H, W, C) with a known C. Received: "
                             f"shape={tuple(input_shape)}")
        hidden = int(channels * self.squeeze_ratio)
        if hidden < 1:
            raise ValueError(f"int(C * squeeze_ratio) must be >= 1. Received: C={channels}, "
                             f"squeeze_ratio={self.squeeze_ratio}")
        k1, b1 = torch_default_initializers(channels)
        k2, b2 = torch_default_initializers(hidden)
        self.fc1 = keras.layers.Dense(hidden, activation="relu", kernel_initializer=k1,
                                      bias_initializer=b1, dtype=self.dtype_policy, name="fc1")
        self.fc2 = keras.layers.Dense(channels, activation="sigmoid", kernel_initializer=k2,
                                      bias_initializer=b2, dtype=self.dtype_policy, name="fc2")
        self.fc1.build((None, channels))
        self.fc2.build((None, hidden))

    def call(self, inputs):
        squeezed = ops.mean(inputs, axis=(1, 2))  # AdaptiveAvgPool2d(1)
        gate = self.fc2(self.fc1(squeezed))
        return inputs * ops.cast(gate[:, None, None, :], inputs.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "squeeze_ratio": self.squeeze_ratio}
