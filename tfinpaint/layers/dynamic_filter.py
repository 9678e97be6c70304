"""Mask-aware dynamic filtering (MADF; Zhu et al., "Image Inpainting by End-to-End Cascaded
Refinement With Mask Awareness", TIP 2021, arXiv 2104.13743, Sec. III-A).

Official code: ``MADF-inpainting/Pytorch-MADF``, ``net.py::FilterGen`` + ``ConvWithFilter``.
One MADF level turns the previous mask feature ``M`` and the previous image feature ``X`` into a
new mask feature and a new image feature::

    M' = ReLU(conv_k,s(M))                                  (FilterGen.conv, 16 channels)
    F[n, y, x, j, o] = (W1 M'[n, y, x] + b1)[j * Cout + o]    (FilterGen.conv1, a 1x1 conv)
    out[n, y, x, o] = sum_j P[n, y, x, j] F[n, y, x, j, o]   (ConvWithFilter, no bias)

``P[n, y, x, :]`` is the zero-padded ``k x k`` patch of ``X`` under output pixel ``(y, x)``
(stride ``s``), its index ``j`` ordered ``(c, ky, kx)`` as torch ``unfold`` orders it (not
``(ky, kx, c)`` as ``tf.image.extract_patches``). The official code materialises ``F``: one
``Cin*k*k x Cout`` kernel per output pixel (4704 channels per pixel at level 1, 1.2 GiB per
sample at 512x512). Here nothing of that size exists. Because ``F`` is affine in ``M'``::

    out[o] = sum_h M'_h * (sum_j P_j W1[h, j, o]) + sum_j P_j b1[j, o]
           = sum_h M'_h * conv(X, K_h)[o] + conv(X, K_b)[o]

with ``K_h`` (``h = 1..16``) and ``K_b`` ordinary ``k x k`` kernels read out of ``W1`` and
``b1``. So one ordinary stride-``s`` convolution with ``17 * Cout`` output channels, gated
pixel-wise by ``[M', 1]`` and summed over the 17 groups, gives exactly the official result
(same products, summed in another order). The gate is applied with TFLite builtins only
(``CONV_2D``, ``TILE``, ``MUL``): the gates are tiled to ``Cout * 17`` channels and the group sum
is a 1x1 convolution with a constant 0/1 matrix, all 4-D. The largest tensor is the
``17 * Cout``-channel conv output (71 MB at level 1 of a 512x512 image instead of 1.2 GB).

The weights are stored as the official ones (``kernel`` ``(1, 1, 16, Cin*k*k*Cout)`` and
``bias`` of the 1x1 filter generator, ``mask_conv`` the ``k x k`` mask convolution), so official
checkpoints load as they are; the factorised kernel is rebuilt from them on every call.

Padding is explicit and symmetric (PyTorch ``padding=p``), both for the mask and the feature
convolutions: TF ``'same'`` pads less before than after at stride 2 (DESIGN section 8).
"""

from __future__ import annotations

import keras
from keras import ops

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.layers.arguments import positive_int


@tfinpaint_export("tfinpaint.layers.MaskAwareDynamicConv")
class MaskAwareDynamicConv(keras.layers.Layer):
    """One MADF level: mask feature -> per-pixel kernels -> dynamic convolution of the features.

    See the module docstring for the equations and the exact factorisation used.

    Args:
        filters: int, output channels ``Cout`` of the dynamic convolution.
        kernel_size: int ``k`` (square kernels, as the official levels 7, 5, 3).
        strides: int. Defaults to `2`.
        padding: int, symmetric zero padding (PyTorch ``padding=``). Defaults to `None`:
            ``(k - 1) // 2``.
        hidden_channels: channels of the mask feature ``M'`` (official ``nhidden = 16``).
            Defaults to `16`.
        kernel_initializer, bias_initializer: for the mask convolution and the filter
            generator. Defaults to `"he_uniform"` / `"zeros"`.

    Call arguments:
        inputs: ``[x, mask_feature]``; ``x`` ``(N, H, W, Cin)`` image features (level 1: the
            masked image and the mask), ``mask_feature`` ``(N, H, W, Cm)`` (level 1: the mask,
            1 = known; later levels: the previous level's ``M'``).

    Returns:
        ``(out, mask_feature')``: the dynamic convolution ``(N, H', W', filters)`` **before**
        any activation (the official ``ConvWithFilter`` applies ReLU afterwards) and the new
        mask feature ``(N, H', W', hidden_channels)`` (after its ReLU), with
        ``H' = (H + 2p - k) // s + 1``.

    Example:
    ```python
    layer = MaskAwareDynamicConv(16, 7, strides=2)
    x = np.random.rand(2, 32, 48, 6).astype("float32")
    m = np.ones((2, 32, 48, 3), "float32")
    out, m1 = layer([x, m])  # (2, 16, 24, 16), (2, 16, 24, 16)
    ```
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=2,
        padding=None,
        hidden_channels=16,
        kernel_initializer="he_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "filters")
        self.kernel_size = positive_int(kernel_size, "kernel_size")
        self.strides = positive_int(strides, "strides")
        if padding is None:
            padding = (self.kernel_size - 1) // 2
        if isinstance(padding, bool) or int(padding) != padding or int(padding) < 0:
            raise ValueError(f"padding must be an int >= 0. Received: padding={padding!r}")
        self.padding = int(padding)
        self.hidden_channels = positive_int(hidden_channels, "hidden_channels")
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.mask_conv = keras.layers.Conv2D(
            self.hidden_channels, self.kernel_size, strides=self.strides, padding="valid",
            kernel_initializer=self.kernel_initializer, bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy, name="mask_conv",
        )

    def build(self, input_shape):
        x_shape, m_shape = (tuple(s) for s in input_shape)
        if len(x_shape) != 4 or len(m_shape) != 4:
            raise ValueError(
                "MaskAwareDynamicConv takes [x, mask_feature], both NHWC of rank 4. Received: "
                f"input_shape={input_shape}"
            )
        if x_shape[-1] is None or m_shape[-1] is None:
            raise ValueError(
                f"The channel counts of x and mask_feature must be known. Received: "
                f"x.shape={x_shape}, mask_feature.shape={m_shape}"
            )
        self.in_channels = int(x_shape[-1])
        self.mask_conv.build((m_shape[0], None, None, m_shape[-1]))
        k = self.kernel_size
        width = self.in_channels * k * k * self.filters
        # FilterGen.conv1: a 1x1 conv hidden -> Cin*k*k*Cout, stored as the official weights.
        self.kernel = self.add_weight(
            name="kernel", shape=(1, 1, self.hidden_channels, width),
            initializer=self.kernel_initializer,
        )
        self.bias = self.add_weight(name="bias", shape=(width,), initializer=self.bias_initializer)

    def _pad(self, t):
        p = self.padding
        return ops.pad(t, [[0, 0], [p, p], [p, p], [0, 0]]) if p else t

    def factorized_kernel(self):
        """The ``(k, k, Cin, Cout * (hidden + 1))`` kernel ``[K_1..K_16, K_b]`` of the exact
        factorisation, channel ``o * (hidden + 1) + g`` (``g = hidden`` is the bias group)."""
        k, cin, cout, hid = self.kernel_size, self.in_channels, self.filters, self.hidden_channels
        w = ops.cast(self.kernel, self.compute_dtype)
        b = ops.cast(self.bias, self.compute_dtype)
        # Official channel index of F: ((c * k + ky) * k + kx) * Cout + o (unfold order c,ky,kx).
        w = ops.reshape(w, (hid, cin, k, k, cout))
        b = ops.reshape(b, (1, cin, k, k, cout))
        kb = ops.concatenate([w, b], axis=0)  # (hid + 1, cin, ky, kx, o)
        kb = ops.transpose(kb, (2, 3, 1, 4, 0))  # (ky, kx, cin, o, g)
        return ops.reshape(kb, (k, k, cin, cout * (hid + 1)))

    def call(self, inputs):
        x, mask_feature = inputs
        x = ops.cast(x, self.compute_dtype)
        mask_feature = ops.cast(mask_feature, self.compute_dtype)
        new_mask = ops.relu(self.mask_conv(self._pad(mask_feature)))
        groups = self.hidden_channels + 1
        y = ops.conv(self._pad(x), self.factorized_kernel(), strides=self.strides,
                     padding="valid")  # (N, H', W', Cout * groups)
        gates = ops.concatenate([new_mask, ops.ones_like(new_mask[..., :1])], axis=-1)
        # Channel o * groups + g times gate g: viewed as (N, H'W', Cout, groups) times gates
        # (N, H'W', 1, groups), a broadcast MUL that XNNPACK runs (TILE is a builtin fallback
        # that split the delegated graph at every encoder level); the same products.
        shape = ops.shape(y)
        n, h, w = (y.shape[i] if y.shape[i] is not None else shape[i] for i in range(3))
        y = ops.reshape(y, (n, h * w, self.filters, groups))
        y = y * ops.reshape(gates, (n, h * w, 1, groups))
        y = ops.reshape(y, (n, h, w, self.filters * groups))
        # Sum each run of `groups` channels: a 1x1 conv with a constant 0/1 matrix (made here,
        # in call, so it is never a variable: DESIGN section 8).
        summing = ops.repeat(ops.eye(self.filters, dtype=self.compute_dtype), groups, axis=0)
        out = ops.conv(y, ops.reshape(summing, (1, 1, self.filters * groups, self.filters)))
        return out, new_mask

    def compute_output_shape(self, input_shape):
        x_shape = tuple(input_shape[0])

        def size(n):
            if n is None:
                return None
            return (n + 2 * self.padding - self.kernel_size) // self.strides + 1

        n, h, w = x_shape[0], size(x_shape[1]), size(x_shape[2])
        return (n, h, w, self.filters), (n, h, w, self.hidden_channels)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "hidden_channels": self.hidden_channels,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
