"""Contextual attention (DeepFill-style), as Baik's "Image Inpainting" code computes it.

Yu et al., "Generative Image Inpainting with Contextual Attention", CVPR 2018
(https://arxiv.org/abs/1801.07892), Section 4.1; the computation follows the PyTorch port in
``jwbaik96/Image-inpainting`` ``model_ops.py::ContextualAttention`` (kernel_size 3, stride 1,
dilation (rate) 2, softmax_scale 10, fuse False; no license, read for facts only).

For a feature map ``F`` ``(H, W, C)`` and the image-resolution mask:

1. ``f = F[::2, ::2]`` (``F.interpolate(scale 1/2, nearest)``: source index ``floor(2 i)``),
   ``h, w = H/2, W/2``, ``L = h w`` patches;
2. keys = queries = the zero-padded 3x3 patches of ``f``; the keys are divided by
   ``max(||key||_2, 1e-4)``; score ``s(p, l) = patch_p . key_l / max(||key_l||, 1e-4)``
   (the official ``conv2d(f, normalised patches, padding=1)``);
3. only keys whose 3x3 mask patch holds no hole pixel are used: ``mm(l) = 1`` iff the
   zero-padded 3x3 sum of the hole map (the mask subsampled by ``mask_stride``, official 8 =
   4 x dilation) at ``l`` is 0; ``a(p, .) = softmax_l(10 * s(p, l) * mm(l)) * mm(l)`` (masked keys
   enter the softmax with score 0, as in the code, and are zeroed after it);
4. reconstruction: ``conv_transpose2d(a, raw 4x4 patches of F (stride 2, zero pad 1),
   stride 2, padding 1) / 4``, back to ``(H, W, C)``.

Port notes:

- The official code uses **the first sample's mask for every sample** (``m[0]``; its mask
  generator draws one mask per batch). Here each sample uses its own mask
  (``mask_mode="per_sample"``); ``mask_mode="first"`` reproduces the official behaviour for
  parity. Everything is batched (matrix products) instead of a Python loop over the batch.
- TFLite builtins only: patches are built from shifted slices (no ``extract_patches``), the
  scores and the reconstruction are 3-D batched matmuls, and the stride-2 transposed
  convolution with the raw patches is folded by output parity (each output pixel receives
  exactly two kernel taps per axis) and interleaved with ``depth_to_space``.
- Computed in float32 under mixed precision (a softmax over ``h w`` keys with scale 10); the
  output is cast back to the compute dtype. H and W must be even and the mask must be
  ``mask_stride`` times the size of ``f``.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.layers.padding import concat_grouped
from tfinpaint.layers.resize import downsample_nearest

MASK_MODES = ("per_sample", "first")
NORM_FLOOR = 1e-4  # official eps of max(||patch||, eps)


def _shifted_patches(x, k, stride, h, w):
    """``(N, h, w, k*k*C)`` patches (ordered ky, kx, c) of an already padded ``x``.

    Patch ``(ky, kx)`` is ``x[:, ky::stride, kx::stride]`` (``h`` rows, ``w`` columns). With
    ``stride > 1`` (H and W of ``x`` multiples of it) it is read as a unit-stride slice of
    ``space_to_depth(x, stride)`` (row ``stride * i + ky`` is row ``i + ky // stride``, phase
    ``ky % stride``): the same values, and TFLite ops XNNPACK runs (it refuses STRIDED_SLICE with
    strides > 1). The concatenation is a tree of few-input ones (:func:`concat_grouped`).
    """
    parts = []
    c = x.shape[-1]
    if stride > 1:
        d = tf.nn.space_to_depth(x, stride)
    for ky in range(k):
        for kx in range(k):
            if stride == 1:
                parts.append(x[:, ky:ky + h, kx:kx + w, :])
                continue
            qy, qx = ky // stride, kx // stride
            phase = (ky % stride) * stride + kx % stride
            parts.append(d[:, qy:qy + h, qx:qx + w, phase * c:(phase + 1) * c])
    return concat_grouped(parts, -1)


def _shift(v, axis, d):
    """``v`` moved by ``d`` in {-1, 0, 1} along ``axis`` (1 or 2), zero filled:
    result[i] = v[i + d]."""
    if d == 0:
        return v
    pad = [[0, 0]] * 4
    if d == 1:
        v = v[:, 1:] if axis == 1 else v[:, :, 1:]
        pad[axis] = [0, 1]
    else:
        v = v[:, :-1] if axis == 1 else v[:, :, :-1]
        pad[axis] = [1, 0]
    return ops.pad(v, pad)


# Stride-2 transposed conv with a 4x4 kernel and padding 1: output index 2m + a receives the
# taps (kernel index, input offset) below (y = 2 p - 1 + ky).
_TAPS = {0: ((1, 0), (3, -1)), 1: ((0, 1), (2, 0))}


@tfinpaint_export("tfinpaint.layers.ContextualAttention")
class ContextualAttention(keras.layers.Layer):
    """Contextual attention over the known region (DeepFill; Baik's official variant).

    Args:
        softmax_scale: multiplier of the scores before the softmax. Defaults to `10.0`.
        mask_stride: the mask is subsampled by this factor to the size of the half-resolution
            feature (official 8: image 256 -> 32, feature 64 -> 32). Defaults to `8`.
        mask_mode: ``"per_sample"`` (each sample attends over its own known region) or
            ``"first"`` (official: every sample uses the first sample's mask). Defaults to
            `"per_sample"`.

    Call arguments:
        inputs: ``[features, mask]``: ``features`` ``(N, H, W, C)`` (H, W even), ``mask``
            ``(N, H * mask_stride / 2, W * mask_stride / 2, 1)``, **1 = known, 0 = hole**.

    Returns:
        ``(N, H, W, C)``: the features rebuilt from attended known patches.

    Example:
    ```python
    att = ContextualAttention(mask_stride=8)
    f = np.random.rand(2, 16, 16, 8).astype("float32")
    m = np.ones((2, 64, 64, 1), "float32"); m[:, 16:40, 16:40] = 0
    out = att([f, m])  # (2, 16, 16, 8)
    ```
    """

    def __init__(self, softmax_scale=10.0, mask_stride=8, mask_mode="per_sample", **kwargs):
        super().__init__(**kwargs)
        self.softmax_scale = float(softmax_scale)
        if isinstance(mask_stride, bool) or int(mask_stride) != mask_stride or mask_stride < 1:
            raise ValueError(
                f"mask_stride must be a positive int. Received: mask_stride={mask_stride!r}"
            )
        self.mask_stride = int(mask_stride)
        if mask_mode not in MASK_MODES:
            raise ValueError(f"mask_mode must be one of {MASK_MODES}. Received: {mask_mode!r}")
        self.mask_mode = mask_mode

    def build(self, input_shape):
        shapes = list(input_shape)
        if len(shapes) != 2 or shapes[1][-1] not in (1, None):
            raise ValueError(
                "ContextualAttention takes [features, mask] with a 1-channel mask. Received: "
                f"input_shape={input_shape}"
            )
        for axis in (1, 2):
            size = shapes[0][axis]
            if size is not None and size % 2:
                raise ValueError(
                    f"ContextualAttention needs even H and W. Received: features.shape="
                    f"{tuple(shapes[0])}"
                )

    def call(self, inputs):
        features, mask = inputs
        x = ops.cast(features, "float32")
        shape = ops.shape(x)
        h, w = shape[1] // 2, shape[2] // 2
        c = x.shape[-1]

        # Raw 4x4 patches of the full-resolution feature (stride 2, zero pad 1): the values
        # pasted back; (N, L, 16 C) ordered (ky, kx, c).
        raw = _shifted_patches(ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 4, 2, h, w)
        # Half-resolution feature, its 3x3 patches as queries and keys: (N, L, 9 C).
        f = downsample_nearest(x, 2)  # x[:, ::2, ::2] (H, W even), XNNPACK-delegated form
        patches = _shifted_patches(ops.pad(f, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 1, h, w)
        n = shape[0]
        patches = ops.reshape(patches, (n, -1, 9 * c))
        raw = ops.reshape(raw, (n, -1, 16 * c))
        norms = ops.sqrt(ops.sum(ops.square(patches), axis=-1, keepdims=True))
        keys = patches / ops.maximum(norms, NORM_FLOOR)
        scores = ops.matmul(patches, ops.transpose(keys, (0, 2, 1)))  # (N, L query, L key)

        # Keys whose 3x3 neighbourhood in the subsampled mask holds no hole pixel.
        s = self.mask_stride
        hole = 1.0 - ops.cast(downsample_nearest(mask, s), "float32")  # mask[:, ::s, ::s]
        hole = ops.pad(hole, [[0, 0], [1, 1], [1, 1], [0, 0]])
        hole_sum = ops.sum(_shifted_patches(hole, 3, 1, h, w), axis=-1)  # (N, h, w)
        # (hole_sum == 0) as 1 - ceil(min(|hole_sum|, 1)): the same 0/1 for every real value,
        # with ops XNNPACK runs (EQUAL and the bool CAST are builtin fallbacks).
        usable = 1.0 - ops.ceil(ops.minimum(ops.abs(hole_sum), 1.0))
        usable = ops.reshape(usable, (-1, 1, h * w))
        if self.mask_mode == "first":
            usable = usable[:1]
        att = ops.softmax(scores * usable * self.softmax_scale, axis=-1) * usable

        # conv_transpose2d(att, raw patches, stride 2, padding 1) / 4, folded by output parity.
        v = ops.reshape(ops.matmul(att, raw), (n, h, w, 16 * c))
        parity = []
        for a in (0, 1):
            for b in (0, 1):
                acc = None
                for ky, dy in _TAPS[a]:
                    for kx, dx in _TAPS[b]:
                        j = ky * 4 + kx
                        term = _shift(_shift(v[..., j * c:(j + 1) * c], 1, dy), 2, dx)
                        acc = term if acc is None else acc + term
                parity.append(acc)
        out = tf.nn.depth_to_space(ops.concatenate(parity, axis=-1), 2) / 4.0
        return ops.cast(out, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {
            **super().get_config(),
            "softmax_scale": self.softmax_scale,
            "mask_stride": self.mask_stride,
            "mask_mode": self.mask_mode,
        }
