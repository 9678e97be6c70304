"""Transposed convolution computed as ``stride**2`` phase convolutions and a depth-to-space.

A transposed convolution with stride ``s`` writes output pixel ``o = s*i + t - p`` from input
pixel ``i`` and kernel tap ``t`` (``p`` the ``'same'`` padding before, ``(k - s) // 2``; for
PyTorch ``ConvTranspose2d(4, 2, 1)`` this is Keras ``Conv2DTranspose(4, 2, 'same')``). Split
the output by phase ``a = o mod s``: the rows of phase ``a`` are an ordinary stride-1
correlation of the input with the taps ``t = a + p - s*d`` (input offset ``d``), ``k / s`` of
them. So the layer is ``s*s`` small ``VALID`` convolutions of the input padded by the offset
range, concatenated on channels and interleaved by ``depth_to_space(s)`` (the "sub-pixel"
identity of Shi et al., CVPR 2016, section 2.2): the same multiply-adds, no inserted zeros.

Why: TFLite's ``TRANSPOSE_CONV`` (XNNPACK deconvolution) ran 2-3x slower than TensorFlow's
``Conv2DBackpropInput`` on the same CPU, and made RFR-Net's float TFLite 3x slower than its
SavedModel (benchmarks/results/tflite_profile); the phase form lowers to ``PAD``, ``CONV_2D``,
``CONCATENATION`` and ``DEPTH_TO_SPACE``, all run by XNNPACK, and is faster than both.
The values equal the transposed convolution up to float32 summation order (~1e-6 relative).

The variables (``kernel (kh, kw, filters, in)``, ``bias``), their names and the config are
those of ``keras.layers.Conv2DTranspose``: checkpoints and converters are unchanged. Only
``padding='same'``, ``kernel_size % strides == 0``, no ``output_padding``, no dilation and
``channels_last`` take the phase path; anything else runs the parent's ``call``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint.api_export import tfinpaint_export


def _phase_taps(kernel: int, stride: int, phase: int) -> tuple[list[int], int, int]:
    """Kernel taps (correlation order), pad before and pad after for one output phase."""
    before = (kernel - stride) // 2
    offsets = [d for d in range(-kernel, kernel + 1)
               if 0 <= phase + before - stride * d < kernel]
    d_min, d_max = min(offsets), max(offsets)
    taps = [phase + before - stride * d for d in range(d_min, d_max + 1)]
    return taps, -d_min, d_max


def conv_transpose_phases(x, kernel, strides):
    """``conv2d_transpose(x, kernel, 'same')`` as phase convolutions (see the module).

    Args:
        x: NHWC tensor.
        kernel: ``(kh, kw, out, in)`` (Keras ``Conv2DTranspose`` layout), ``kh % sh == 0``.
        strides: ``(sh, sw)`` with ``sh == sw`` (``depth_to_space`` takes one block size).

    Returns:
        ``(N, sh*H, sw*W, out)``.
    """
    sh, sw = strides
    kh, kw = int(kernel.shape[0]), int(kernel.shape[1])
    weights = tf.transpose(kernel, [0, 1, 3, 2])  # (kh, kw, in, out) for conv2d
    outs = []
    for a in range(sh):
        rows, top, bottom = _phase_taps(kh, sh, a)
        for b in range(sw):
            cols, left, right = _phase_taps(kw, sw, b)
            w = tf.gather(tf.gather(weights, rows, axis=0), cols, axis=1)
            xp = tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
            outs.append(tf.nn.conv2d(xp, w, 1, "VALID"))
    if sh == 1:
        return outs[0]
    return tf.nn.depth_to_space(tf.concat(outs, axis=-1), sh)


@tfinpaint_export("tfinpaint.layers.PhaseConv2DTranspose")
class PhaseConv2DTranspose(keras.layers.Conv2DTranspose):
    """``keras.layers.Conv2DTranspose`` computed by :func:`conv_transpose_phases`.

    Same arguments, variables and config as ``keras.layers.Conv2DTranspose``.

    Example:
    ```python
    y = PhaseConv2DTranspose(8, 4, strides=2, padding="same")(np.ones((1, 5, 6, 3), "float32"))
    # y.shape == (1, 10, 12, 8), equal to keras.layers.Conv2DTranspose with the same weights
    ```
    """

    def _phase_path(self) -> bool:
        k, s = self.kernel_size, self.strides
        return (
            self.padding == "same"
            and self.output_padding is None
            and tuple(self.dilation_rate) == (1, 1)
            and self.data_format == "channels_last"
            and s[0] == s[1]
            and k[0] % s[0] == 0
            and k[1] % s[1] == 0
        )

    def call(self, inputs):
        if not self._phase_path():
            return super().call(inputs)
        out = conv_transpose_phases(inputs, self.kernel, self.strides)
        if self.use_bias:
            out = out + self.bias
        if self.activation is not None:
            out = self.activation(out)
        return out
