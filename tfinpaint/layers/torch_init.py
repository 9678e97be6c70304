"""PyTorch's default initialisation, for ports whose layers are trained from scratch as the
official code trains them (official checkpoints overwrite these values when converted)."""

from __future__ import annotations

import math

import keras


def torch_kernel_initializer():
    """PyTorch's default ``nn.Conv2d`` / ``nn.ConvTranspose2d`` / ``nn.Linear`` weight init:
    ``kaiming_uniform(a=sqrt(5))``, i.e. ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (variance
    ``1/(3 fan_in)``). For a transposed conv both frameworks take fan_in over
    ``out * kh * kw``."""
    return keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")


def torch_default_initializers(fan_in: int):
    """``(kernel, bias)`` initializers of a PyTorch layer with ``fan_in`` inputs: the kernel as
    :func:`torch_kernel_initializer`, the bias ``U(+-1/sqrt(fan_in))``."""
    bound = 1.0 / math.sqrt(fan_in)
    return torch_kernel_initializer(), keras.initializers.RandomUniform(-bound, bound)
