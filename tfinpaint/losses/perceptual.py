"""Feature-space losses: perceptual, style (Gram) and non-local correlation.

Features are NHWC tensors, typically from :class:`tfinpaint.losses.FeatureExtractor`. Each loss
takes two collections of per-layer features, either sequences (zipped in order) or dicts
(matched by key), and is computed in float32.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf
from keras import ops


def _pairs(feats_a, feats_b, fn):
    if isinstance(feats_a, Mapping) != isinstance(feats_b, Mapping):
        raise ValueError(
            f"{fn}: both feature collections must be dicts or both sequences. Received: "
            f"{type(feats_a).__name__} and {type(feats_b).__name__}"
        )
    if isinstance(feats_a, Mapping):
        if list(feats_a) != list(feats_b):
            raise ValueError(
                f"{fn}: feature dicts must have the same layers in the same order. Received: "
                f"{list(feats_a)} and {list(feats_b)}"
            )
        pairs = [(feats_a[k], feats_b[k]) for k in feats_a]
    else:
        feats_a, feats_b = list(feats_a), list(feats_b)
        if len(feats_a) != len(feats_b):
            raise ValueError(
                f"{fn}: got {len(feats_a)} and {len(feats_b)} feature layers; they must match."
            )
        pairs = list(zip(feats_a, feats_b))
    if not pairs:
        raise ValueError(f"{fn}: no feature layers given.")
    for fa, fb in pairs:
        if len(fa.shape) != 4 or tuple(fa.shape[1:]) != tuple(fb.shape[1:]):
            raise ValueError(
                f"{fn}: per-layer features must be NHWC tensors of equal shape. Received: "
                f"{tuple(fa.shape)} and {tuple(fb.shape)}"
            )
    return [(ops.cast(fa, "float32"), ops.cast(fb, "float32")) for fa, fb in pairs]


def perceptual_loss(feats_a, feats_b):
    """Perceptual loss ``sum_l mean|phi_l(a) - phi_l(b)|``.

    RFR-Net ``preceptual_loss`` (sic) / MADF / MANet: per layer an L1 mean over all elements,
    summed over the layers (pool1..pool3 of VGG16); Baik: VGG19 relu1_1..relu5_1. PConv (Liu et
    al. 2018, ``L_perceptual``) with the official codes' per-element normalisation. For the
    "both" variant (``out`` and ``comp``), call it twice and add.

    Args:
        feats_a, feats_b: per-layer features (sequences or dicts of NHWC tensors).

    Returns:
        float32 scalar.
    """
    return sum(ops.mean(ops.abs(fa - fb)) for fa, fb in _pairs(feats_a, feats_b, "perceptual_loss"))


def gram_matrix(features):
    """Per-sample Gram matrix ``G = F^T F / (C * H * W)``, ``F`` = features as ``(N, H*W, C)``.

    Matches RFR-Net (``gram_matrix``: ``F F^T`` in NCHW then ``/ (C*H*W)`` in ``style_loss``),
    MADF, MANet, PConv ``L_style`` (``K_p = 1 / (C H W)``), Baik and Region-wise ``gram_matrix``.

    Args:
        features: ``(N, H, W, C)``.

    Returns:
        float32 ``(N, C, C)``.
    """
    if len(features.shape) != 4:
        raise ValueError(f"gram_matrix expects NHWC features. Received: shape={features.shape}")
    f = ops.cast(features, "float32")
    shape = ops.shape(f)
    n, h, w, c = shape[0], shape[1], shape[2], shape[3]
    flat = ops.reshape(f, (n, -1, features.shape[-1] if features.shape[-1] is not None else c))
    gram = ops.matmul(ops.transpose(flat, (0, 2, 1)), flat)
    return gram / ops.cast(c * h * w, "float32")


def _check_reduction(reduction):
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum'. Received: reduction={reduction!r}")
    return ops.mean if reduction == "mean" else ops.sum


def style_loss(feats_a, feats_b, reduction: str = "mean"):
    """Style loss ``sum_l reduce|G(phi_l(a)) - G(phi_l(b))|`` with :func:`gram_matrix`.

    RFR-Net ``style_loss``: ``mean(|G_A - G_B| / (C*H*W))`` with unnormalised Grams
    ``G = F F^T``; dividing each Gram first (as here) is the same quantity. The mean runs over
    ``N*C*C`` entries. Baik uses VGG19 relu2_2, relu3_4, relu4_4, relu5_2. Region-wise
    inpainting (``vgg/vgg16.py::loss_style``: ``l1`` is ``reduce_sum``) uses
    ``reduction="sum"``.

    Args:
        feats_a, feats_b: per-layer features (sequences or dicts of NHWC tensors).
        reduction: ``"mean"`` (default) or ``"sum"`` over the ``N*C*C`` entries of each layer.

    Returns:
        float32 scalar.
    """
    reduce = _check_reduction(reduction)
    return sum(
        reduce(ops.abs(gram_matrix(fa) - gram_matrix(fb)))
        for fa, fb in _pairs(feats_a, feats_b, "style_loss")
    )


def correlation_matrix(features):
    """Non-local correlation ``F F^T / C^2`` with ``F`` = features as ``(N, H*W, C)``.

    Region-wise inpainting (Ma et al., IJCAI 2019), official ``vgg/vgg16.py::new_gram``: the
    ``(H*W) x (H*W)`` matrix of inner products between the raw (not L2-normalised) feature
    vectors of every pair of positions, divided by ``C**2``.

    Args:
        features: ``(N, H, W, C)``.

    Returns:
        float32 ``(N, H*W, H*W)``. Memory grows as ``(H*W)**2``: use a coarse layer (pool2).
    """
    if len(features.shape) != 4:
        raise ValueError(
            f"correlation_matrix expects NHWC features. Received: shape={features.shape}"
        )
    f = ops.cast(features, "float32")
    shape = ops.shape(f)
    n, c = shape[0], shape[3]
    flat = ops.reshape(f, (n, -1, features.shape[-1] if features.shape[-1] is not None else c))
    corr = ops.matmul(flat, ops.transpose(flat, (0, 2, 1)))
    return corr / ops.cast(c * c, "float32")


def correlation_loss(feats_a, feats_b, reduction: str = "mean", chunk_size: int | None = 1024):
    """Non-local correlation loss ``sum_l reduce|R(phi_l(a)) - R(phi_l(b))|`` (Eq. 4).

    Region-wise inpainting ``loss_cor``: L1 between :func:`correlation_matrix` of the stage-1
    composite and of the ground truth at VGG16 pool2. The official TF code uses
    ``reduce_sum`` (``reduction="sum"``) together with the weight ``1e-5``, at a 224x224 VGG
    input (56x56 at pool2). ``reduction="mean"`` (default) divides by ``N*(H*W)**2`` so that the
    weight does not depend on the image size; the official weight then corresponds to
    ``1e-5 * N * (56*56)**2``.

    The ``(H*W) x (H*W)`` matrices are never held at once: with ``chunk_size`` rows at a time
    (:func:`correlation_l1_sum`) the forward and the backward pass hold ``chunk_size x H*W``
    blocks only, and the value is the dense one (the same row sums, added in row order).
    ``chunk_size=None`` computes the dense matrices (memory ``(H*W)**2`` per sample).

    Args:
        feats_a, feats_b: per-layer features (sequences or dicts of NHWC tensors); usually one
            layer (pool2).
        reduction: ``"mean"`` or ``"sum"``.
        chunk_size: rows of the correlation matrix per block, or ``None`` (dense). Defaults to
            `1024`.

    Returns:
        float32 scalar.
    """
    reduce = _check_reduction(reduction)
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or int(chunk_size) != chunk_size or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be a positive int or None. Received: {chunk_size!r}")
    total = None
    for fa, fb in _pairs(feats_a, feats_b, "correlation_loss"):
        if chunk_size is None:
            value = reduce(ops.abs(correlation_matrix(fa) - correlation_matrix(fb)))
        else:
            value = correlation_l1_sum(fa, fb, int(chunk_size))
            if reduction == "mean":
                shape = ops.shape(fa)
                hw = ops.cast(shape[1] * shape[2], "float32")
                value = value / (ops.cast(shape[0], "float32") * hw * hw)
        total = value if total is None else total + value
    return total


def _flat(features):
    f = tf.cast(features, tf.float32)
    shape = tf.shape(f)
    channels = features.shape[-1] if features.shape[-1] is not None else shape[3]
    h, w = features.shape[1], features.shape[2]
    hw = h * w if h is not None and w is not None else -1  # static when known (XLA)
    return tf.reshape(f, (shape[0], hw, channels)), tf.cast(shape[3] * shape[3], tf.float32)


def correlation_l1_sum(feats_a, feats_b, chunk_size: int = 1024):
    """``sum|R(a) - R(b)|`` over the batch, ``R = F F^T / C^2``, in blocks of ``chunk_size`` rows.

    Forward: for each block ``c`` of rows, ``A_c = F_a[c] F_a^T / C^2`` (and ``B_c``), the sum
    of ``|A_c - B_c|`` is added. Backward (a custom gradient, also blockwise, so nothing of size
    ``(H*W)**2`` is kept for it): with ``S_c = sign(A_c - B_c)``,
    ``dL/dF_a[c] += S_c F_a / C^2`` and ``dL/dF_a += S_c^T F_a[c] / C^2`` (and the same with
    ``-S_c`` and ``F_b``), which is what automatic differentiation of the dense expression gives.

    Args:
        feats_a, feats_b: ``(N, H, W, C)`` features of equal shape.
        chunk_size: rows per block.

    Returns:
        float32 scalar.
    """
    fa, scale = _flat(feats_a)
    fb, _ = _flat(feats_b)
    return _blockwise_correlation_l1(fa, fb, scale, int(chunk_size))


def _block_layout(features, chunk_size):
    """``(n_blocks, rows)``: ``ceil(HW / chunk_size)`` blocks of equal size ``rows <=
    chunk_size`` (Python ints when HW is static, as XLA needs; tensors otherwise)."""
    hw = features.shape[1]
    if hw is None:
        hw = tf.shape(features)[1]
    n_blocks = (hw + chunk_size - 1) // chunk_size
    rows = (hw + n_blocks - 1) // n_blocks
    return hw, n_blocks, rows


def _blockwise_correlation_l1(fa, fb, scale, chunk_size):
    """See :func:`correlation_l1_sum`; ``chunk_size`` is a Python int (closed over)."""

    @tf.custom_gradient
    def impl(fa, fb, scale):
        return _blockwise_forward_and_grad(fa, fb, scale, chunk_size)

    return impl(fa, fb, scale)


def _blockwise_forward_and_grad(fa, fb, scale, chunk_size):
    # Rows are zero-padded to n_blocks * rows so every block has the same (static) shape; the
    # zero rows and columns are zero in both correlation matrices and add nothing.
    hw, n_blocks, rows = _block_layout(fa, int(chunk_size))
    n, channels = tf.shape(fa)[0], fa.shape[-1]
    pad = [[0, 0], [0, n_blocks * rows - hw], [0, 0]]
    fa_p, fb_p = tf.pad(fa, pad), tf.pad(fb, pad)

    def split(f):  # (n_blocks, N, rows, C)
        return tf.transpose(tf.reshape(f, (n, n_blocks, rows, channels)), (1, 0, 2, 3))

    blocks_a, blocks_b = split(fa_p), split(fb_p)

    def block_diff(i):
        a_i, b_i = blocks_a[i], blocks_b[i]
        a_c = tf.matmul(a_i, fa_p, transpose_b=True) / scale  # (N, rows, HW)
        b_c = tf.matmul(b_i, fb_p, transpose_b=True) / scale
        return a_c - b_c, a_i, b_i

    def body(i, acc):
        diff, _, _ = block_diff(i)
        return i + 1, acc + tf.reduce_sum(tf.abs(diff))

    # parallel_iterations=1: one block in flight, so memory stays at one block's matrices.
    _, total = tf.while_loop(lambda i, acc: i < n_blocks, body,
                             (tf.constant(0), tf.constant(0.0, tf.float32)),
                             parallel_iterations=1)

    def grad(upstream):
        def grad_body(i, ga, gb, rows_a, rows_b):
            diff, a_i, b_i = block_diff(i)
            sign = tf.sign(diff)  # (N, rows, HW)
            # Row block of the gradient: S_c F; column contribution to every row: S_c^T F[c].
            rows_a = rows_a.write(i, tf.matmul(sign, fa_p))
            rows_b = rows_b.write(i, tf.matmul(sign, fb_p))
            ga = ga + tf.matmul(sign, a_i, transpose_a=True)
            gb = gb + tf.matmul(sign, b_i, transpose_a=True)
            return i + 1, ga, gb, rows_a, rows_b

        arrays = [tf.TensorArray(tf.float32, size=n_blocks, element_shape=(None, None, channels))
                  for _ in range(2)]
        _, ga, gb, rows_a, rows_b = tf.while_loop(
            lambda i, *_: i < n_blocks, grad_body,
            (tf.constant(0), tf.zeros_like(fa_p), tf.zeros_like(fb_p), *arrays),
            parallel_iterations=1,
        )

        def merge(g, row_blocks):
            stacked = tf.transpose(row_blocks.stack(), (1, 0, 2, 3))  # (N, n_blocks, rows, C)
            return (g + tf.reshape(stacked, tf.shape(g)))[:, :hw]

        factor = upstream / scale
        return merge(ga, rows_a) * factor, -merge(gb, rows_b) * factor, tf.zeros_like(scale)

    return total, grad

