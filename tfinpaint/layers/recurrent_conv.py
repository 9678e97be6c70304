"""Recurrent convolution of Baik's "Image Inpainting" (Stanford report), with explicit state.

Official code: ``jwbaik96/Image-inpainting`` (no license; read for facts only),
``model_ops.py::RecurrentConv`` and ``RecurrentDeConv``. One layer computes::

    out_t = act(norm(conv(pad(x_t)) + conv_state(out_{t-1})))

where ``out_{t-1}`` is **this layer's own output of the previous pass** (the "buffer") and
``out_0 = 0``, so in the first pass ``conv_state(0)`` is just the bias of ``conv_state``. The
same weights run the coarse and the refine pass of the generator; the refine pass adds the
state convolution of the coarse-pass output.

- ``conv``: ``kernel_size`` x ``kernel_size``, stride ``strides``, padded by ``(k - 1) / 2`` with
  **reflection** (official ``padding='SYMMETRIC'`` = ``nn.ReflectionPad2d``) or zeros; the
  symmetric padding is explicit, then a ``'valid'`` convolution (TF ``'same'`` pads less before
  than after at stride 2, DESIGN section 8).
- ``buffer_conv`` (the state convolution): 3x3, stride 1, **zero** padding 1, with bias.
- ``norm``: ``InstanceNorm2d(affine=False)`` (biased variance, eps 1e-5) when
  ``normalization=True``.
- ``act``: ELU (alpha 1) by default, or none (the generator's last layer).
- ``upsample=2`` is the official ``RecurrentDeConv``: ``UpsamplingNearest2d(x2)`` before the
  convolution.

Port notes: the official module keeps the buffer on itself, sized from the first call's batch
and from H only (square inputs), and needs ``zero_buffer()`` after each step. Here the state is
an explicit input and the new state is the output: ``out = layer([x])`` (zero state) or
``out = layer([x, state])``; nothing is kept between calls, so any batch size and any
(non-square) H, W work, and ``tf.function``, SavedModel and TFLite stay stateless.
"""

from __future__ import annotations

import keras
from keras import ops

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.layers.arguments import positive_int
from tfinpaint.layers.padding import reflect_pad
from tfinpaint.layers.resize import upsample_nearest

_PADDINGS = ("reflect", "zero")
_ACTIVATIONS = ("elu", None)
INSTANCE_NORM_EPS = 1e-5  # nn.InstanceNorm2d default


def instance_norm(x, epsilon=INSTANCE_NORM_EPS):
    """``nn.InstanceNorm2d(affine=False, track_running_stats=False)`` on NHWC: per sample and
    channel, ``(x - mean) / sqrt(var + eps)`` over H, W with the biased variance. Statistics are
    computed in float32 (mixed precision), the result has ``x``'s dtype."""
    x32 = ops.cast(x, "float32")
    mean = ops.mean(x32, axis=(1, 2), keepdims=True)
    var = ops.mean(ops.square(x32 - mean), axis=(1, 2), keepdims=True)
    return ops.cast((x32 - mean) / ops.sqrt(var + epsilon), x.dtype)


def symmetric_pad(x, p, mode="reflect"):
    """Pads H and W by ``p`` on both sides (``nn.ReflectionPad2d(p)`` or zeros)."""
    if p == 0:
        return x
    if mode == "reflect":
        return reflect_pad(x, p)
    return ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]])


@tfinpaint_export("tfinpaint.layers.RecurrentConv2D")
class RecurrentConv2D(keras.layers.Layer):
    """Recurrent convolution ``act(norm(conv(pad(x)) + conv_state(state)))`` (Baik).

    Args:
        filters: output channels.
        kernel_size: odd size of ``conv``. Defaults to `3`.
        strides: stride of ``conv``. Defaults to `1`.
        padding: ``"reflect"`` (official ``'SYMMETRIC'``) or ``"zero"``. Defaults to
            `"reflect"`.
        normalization: instance normalization after the sum. Defaults to `False`.
        activation: ``"elu"`` or ``None``. Defaults to `"elu"`.
        upsample: nearest upsampling factor before ``conv`` (``2`` = official
            ``RecurrentDeConv``). Defaults to `1`.

    Call arguments:
        inputs: ``[x]`` (first pass, zero state) or ``[x, state]``; ``state`` is this layer's
            output of the previous pass, ``(N, H_out, W_out, filters)``.

    Returns:
        ``(N, H_out, W_out, filters)``, also the state for the next pass.

    Example:
    ```python
    layer = RecurrentConv2D(8, 3, strides=2)
    x = np.random.rand(2, 16, 24, 4).astype("float32")
    s = layer([x])          # coarse pass (zero state)
    out = layer([x, s])     # refine pass, same weights
    ```
    """

    def __init__(self, filters, kernel_size=3, strides=1, padding="reflect",
                 normalization=False, activation="elu", upsample=1, **kwargs):
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "filters")
        self.kernel_size = positive_int(kernel_size, "kernel_size")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd. Received: kernel_size={kernel_size!r}")
        self.strides = positive_int(strides, "strides")
        if padding not in _PADDINGS:
            raise ValueError(f"padding must be one of {_PADDINGS}. Received: padding={padding!r}")
        self.padding = padding
        self.normalization = bool(normalization)
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {_ACTIVATIONS}. Received: activation={activation!r}"
            )
        self.activation = activation
        self.upsample = positive_int(upsample, "upsample")
        dt = self.dtype_policy
        self.conv = keras.layers.Conv2D(self.filters, self.kernel_size, strides=self.strides,
                                        padding="valid", dtype=dt, name="conv")
        self.buffer_conv = keras.layers.Conv2D(self.filters, 3, padding="same", dtype=dt,
                                               name="buffer_conv")

    def build(self, input_shape):
        shapes = [tuple(s) for s in input_shape] if isinstance(input_shape[0], (list, tuple)) \
            else [tuple(input_shape)]
        channels = shapes[0][-1]
        if channels is None:
            raise ValueError(f"RecurrentConv2D needs a known channel count. Received: {shapes}")
        n = shapes[0][0]
        self.conv.build((n, None, None, channels))
        self.buffer_conv.build((n, None, None, self.filters))

    def call(self, inputs):
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(inputs) not in (1, 2):
            raise ValueError(
                f"RecurrentConv2D takes [x] or [x, state]. Received: {len(inputs)} inputs"
            )
        x = inputs[0]
        if self.upsample > 1:  # nn.UpsamplingNearest2d: each pixel repeated
            x = upsample_nearest(x, self.upsample)  # same values, XNNPACK-delegated form
        x = self.conv(symmetric_pad(x, (self.kernel_size - 1) // 2, self.padding))
        if len(inputs) == 2 and inputs[1] is not None:
            x = x + self.buffer_conv(ops.cast(inputs[1], x.dtype))
        else:  # conv_state(0) = its bias
            x = x + ops.cast(self.buffer_conv.bias, x.dtype)
        if self.normalization:
            x = instance_norm(x)
        if self.activation == "elu":
            x = ops.elu(x)
        return x

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0]) if isinstance(input_shape[0], (list, tuple)) \
            else tuple(input_shape)
        p = (self.kernel_size - 1) // 2

        def out(size):
            if size is None:
                return None
            size = size * self.upsample
            return (size + 2 * p - self.kernel_size) // self.strides + 1

        return (shape[0], out(shape[1]), out(shape[2]), self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "normalization": self.normalization,
            "activation": self.activation,
            "upsample": self.upsample,
        }
