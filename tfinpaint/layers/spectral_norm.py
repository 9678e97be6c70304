"""Spectral normalization exactly as PyTorch's ``torch.nn.utils.spectral_norm``.

Miyato et al., "Spectral Normalization for Generative Adversarial Networks" (ICLR 2018), in the
form of PyTorch's hook (``torch/nn/utils/spectral_norm.py``, used by EdgeConnect, MANet and
Baik et al.'s discriminators). PyTorch keeps three tensors per normalized layer:

- ``weight_orig``: the raw weight (the only trainable one);
- ``weight_u`` (length ``out``) and ``weight_v`` (length ``in * kh * kw``): power-iteration
  vectors, buffers saved in the state_dict.

With ``W = weight_orig.reshape(out, -1)`` (torch's row-major flattening of ``(in, kh, kw)``;
``dim=1`` first for transposed convs), every forward computes

- training: ``n_power_iterations`` times ``v = normalize(W^T u)``, ``u = normalize(W v)``
  (``normalize(x) = x / max(||x||, eps)``, no gradient), written back into ``u`` and ``v``;
- always: ``sigma = u . (W v)`` (gradient flows through ``W`` only) and the layer runs with
  ``weight_orig / sigma``.

In inference no power iteration runs and ``u``, ``v`` are used exactly as stored (not
renormalized), so an official checkpoint gives the official eval output, including a negative
``sigma`` when the stored vectors say so. Keras' ``SpectralNormalization`` cannot do this: it
stores only ``u`` and overwrites the wrapped kernel with ``W / sigma`` in training calls.

This wrapper leaves the wrapped layer's ``kernel`` variable untouched (it is ``weight_orig``)
and runs the layer's own op (convolution, transposed convolution or matmul, then bias and
activation) with the normalized kernel, so the layer stays stateless apart from ``u``/``v``
and works under ``tf.function``, SavedModel and TFLite (inference uses no assignment).
"""

from __future__ import annotations

import math

import keras
from keras import ops

from tfinpaint.api_export import tfinpaint_export

_CONV = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_CONV_TRANSPOSE = (
    keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose
)


def _weight_permutation(layer, kernel_rank):
    """Axes taking the Keras kernel to torch's layout with the normalized dim first.

    Conv ``(*k, in, out)`` -> ``(out, in, *k)``; transposed conv ``(*k, out, in)`` -> torch
    ``(in, out, *k)`` with ``dim=1`` first = ``(out, in, *k)``; Dense ``(in, out)`` ->
    ``(out, in)``.
    """
    spatial = tuple(range(kernel_rank - 2))
    if isinstance(layer, _CONV_TRANSPOSE):
        return (kernel_rank - 2, kernel_rank - 1) + spatial
    if isinstance(layer, (_CONV, keras.layers.Dense)):
        return (kernel_rank - 1, kernel_rank - 2) + spatial
    raise ValueError(
        "SpectralNorm wraps a Conv1D/2D/3D, Conv1D/2D/3DTranspose or Dense layer. "
        f"Received: layer={layer.__class__.__name__}"
    )


def _normalize(x, eps):
    """``torch.nn.functional.normalize(x, dim=0, eps=eps)``."""
    return x / ops.maximum(ops.sqrt(ops.sum(ops.square(x))), eps)


@tfinpaint_export("tfinpaint.layers.SpectralNorm")
class SpectralNorm(keras.layers.Wrapper):
    """PyTorch ``spectral_norm`` around a conv, transposed conv or Dense layer.

    Args:
        layer: the layer to normalize (``Conv1D/2D/3D``, ``Conv*DTranspose`` or ``Dense``), or
            its serialized config. Its ``kernel`` variable is ``weight_orig``; bias and
            activation are its own.
        n_power_iterations: power iterations per training call. Defaults to `1` (PyTorch).
        eps: the ``normalize`` floor. Defaults to `1e-12` (PyTorch).
        **kwargs: base layer arguments (``name``, ``dtype``...).

    Variables: ``layer.kernel`` (``weight_orig``, trainable), ``u`` ``(out,)`` and ``v``
    ``(in * prod(kernel_size),)`` (non-trainable, torch ``weight_u``/``weight_v``, flattened in
    torch's order). Both start as normalized Gaussian draws, as in PyTorch.

    Call arguments:
        inputs: the wrapped layer's input.
        training: ``True`` runs the power iteration and updates ``u``/``v`` first.

    Example:

    ```python
    sn = SpectralNorm(keras.layers.Conv2D(8, 4, strides=2, use_bias=False))
    y = sn(x, training=True)     # one power iteration, u and v updated
    sigma = sn.sigma()           # u . (W v) with the stored u, v (what inference divides by)
    ```
    """

    def __init__(self, layer, n_power_iterations=1, eps=1e-12, **kwargs):
        if isinstance(layer, dict):  # a serialized layer (each construction gets a fresh one)
            layer = keras.saving.deserialize_keras_object(layer)
        super().__init__(layer, **kwargs)
        if isinstance(n_power_iterations, bool) or int(n_power_iterations) != n_power_iterations \
                or n_power_iterations < 1:
            raise ValueError(
                "n_power_iterations must be a positive int. "
                f"Received: n_power_iterations={n_power_iterations!r}"
            )
        if not eps > 0:
            raise ValueError(f"eps must be > 0. Received: eps={eps!r}")
        _weight_permutation(layer, 4 if isinstance(layer, _CONV + _CONV_TRANSPOSE) else 2)
        if getattr(layer, "padding", None) == "causal":
            raise ValueError("SpectralNorm does not wrap a causal Conv1D. Received: "
                             f"layer={layer.name!r} with padding='causal'")
        self.n_power_iterations = int(n_power_iterations)
        self.eps = float(eps)

    def build(self, input_shape):
        super().build(input_shape)
        kernel = self.layer.kernel
        self._perm = _weight_permutation(self.layer, len(kernel.shape))
        out = int(kernel.shape[self._perm[0]])
        cols = int(math.prod(kernel.shape)) // out
        dtype = self.layer.variable_dtype
        self.u = self.add_weight(name="u", shape=(out,), initializer="random_normal",
                                 trainable=False, dtype=dtype)
        self.v = self.add_weight(name="v", shape=(cols,), initializer="random_normal",
                                 trainable=False, dtype=dtype)
        self.u.assign(_normalize(self.u, self.eps))
        self.v.assign(_normalize(self.v, self.eps))

    @property
    def weight_orig(self):
        """The raw (unnormalized) kernel variable, torch ``weight_orig`` in Keras layout."""
        return self.layer.kernel

    def weight_matrix(self):
        """``weight_orig`` as torch's ``(out, -1)`` matrix (float32/variable dtype)."""
        kernel = ops.convert_to_tensor(self.layer.kernel)
        return ops.reshape(ops.transpose(kernel, self._perm), (self.u.shape[0], -1))

    def sigma(self):
        """``u . (W v)`` with the stored ``u``, ``v``: the divisor of the next inference call
        (and, right after a training call, the one that call used)."""
        return ops.sum(self.u * ops.matmul(self.weight_matrix(), self.v))

    def call(self, inputs, training=None):
        w_mat = self.weight_matrix()
        u = ops.convert_to_tensor(self.u)
        v = ops.convert_to_tensor(self.v)
        if training:
            w_const = ops.stop_gradient(w_mat)
            for _ in range(self.n_power_iterations):
                v = _normalize(ops.matmul(u, w_const), self.eps)  # W^T u
                u = _normalize(ops.matmul(w_const, v), self.eps)
            self.u.assign(u)
            self.v.assign(v)
        sigma = ops.sum(u * ops.matmul(w_mat, v))
        kernel = ops.cast(ops.divide(self.layer.kernel, sigma), self.compute_dtype)
        return self._apply(inputs, kernel)

    def _apply(self, inputs, kernel):
        layer = self.layer
        if isinstance(layer, _CONV):
            outputs = layer.convolution_op(inputs, kernel)
        elif isinstance(layer, _CONV_TRANSPOSE):
            outputs = ops.conv_transpose(
                inputs, kernel, strides=list(layer.strides), padding=layer.padding,
                output_padding=layer.output_padding, dilation_rate=layer.dilation_rate,
                data_format=layer.data_format,
            )
        else:
            outputs = ops.matmul(inputs, kernel)
        if layer.use_bias:
            if isinstance(layer, keras.layers.Dense) or layer.data_format == "channels_last":
                bias = ops.cast(layer.bias, outputs.dtype)
            else:
                bias = ops.reshape(ops.cast(layer.bias, outputs.dtype),
                                   (1, -1) + (1,) * layer.rank)
            outputs = ops.add(outputs, bias)
        if layer.activation is not None:
            outputs = layer.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return super().from_config(dict(config), custom_objects=custom_objects)  # no mutation

    def get_config(self):
        return {
            **super().get_config(),
            "n_power_iterations": self.n_power_iterations,
            "eps": self.eps,
        }
