"""Feature-space losses: perceptual, style (Gram) and non-local correlation.

Features are NHWC tensors, typically from :class:`tfinpaint.losses.FeatureExtractor`. Each loss
takes two collections of per-layer features, either sequences (zipped in order) or dicts
(matched by key), and is computed in float32.
"""

from __future__ import annotations

from collections.abc import Mapping

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


def style_loss(feats_a, feats_b):
    """Style loss ``sum_l mean|G(phi_l(a)) - G(phi_l(b))|`` with :func:`gram_matrix`.

    RFR-Net ``style_loss``: ``mean(|G_A - G_B| / (C*H*W))`` with unnormalised Grams
    ``G = F F^T``; dividing each Gram first (as here) is the same quantity. The mean runs over
    ``N*C*C`` entries. Baik uses VGG19 relu2_2, relu3_4, relu4_4, relu5_2.

    Args:
        feats_a, feats_b: per-layer features (sequences or dicts of NHWC tensors).

    Returns:
        float32 scalar.
    """
    return sum(
        ops.mean(ops.abs(gram_matrix(fa) - gram_matrix(fb)))
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


def correlation_loss(feats_a, feats_b, reduction: str = "mean"):
    """Non-local correlation loss ``sum_l reduce|R(phi_l(a)) - R(phi_l(b))|``.

    Region-wise inpainting ``loss_cor``: L1 between :func:`correlation_matrix` of the stage-1
    composite and of the ground truth at VGG16 pool2. The official TF code uses
    ``reduce_sum`` (``reduction="sum"``) together with the weight ``1e-5``, at a 224x224 VGG
    input (56x56 at pool2). ``reduction="mean"`` (default) divides by ``N*(H*W)**2`` so that the
    weight does not depend on the image size; the official weight then corresponds to
    ``1e-5 * N * (56*56)**2``.

    Args:
        feats_a, feats_b: per-layer features (sequences or dicts of NHWC tensors); usually one
            layer (pool2).
        reduction: ``"mean"`` or ``"sum"``.

    Returns:
        float32 scalar.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum'. Received: reduction={reduction!r}")
    reduce = ops.mean if reduction == "mean" else ops.sum
    return sum(
        reduce(ops.abs(correlation_matrix(fa) - correlation_matrix(fb)))
        for fa, fb in _pairs(feats_a, feats_b, "correlation_loss")
    )
