"""Pixel-space inpainting losses: known/hole L1, the hole-border L1, plain L1 and total
variation.

Conventions (DESIGN.md section 2): images NHWC, mask ``1 = known pixel, 0 = hole`` with 1 channel
(broadcast to the image channels) or as many channels as the image. Every loss is computed in
float32 whatever the dtype policy, so ``mixed_float16`` training gets float32 losses.

The normalisation follows the official codes, not the papers' per-area formulas: RFR-Net
(``model.py::RFRNetModel.l1_loss``), MADF (``loss.py``, ``nn.L1Loss``) and MANet all take the
mean over *all* ``N*H*W*C`` elements of the masked difference, not over the hole area. With a
1-channel mask the mean is still over ``N*H*W*C`` (C = image channels), exactly as in RFR where the
mask is tiled to 3 channels.
"""

from __future__ import annotations

from keras import ops


def _as_float32(x):
    return ops.cast(x, "float32")


def _check_image_pair(y, out, fn):
    y_shape, out_shape = tuple(y.shape), tuple(out.shape)
    if len(y_shape) != 4 or len(out_shape) != 4:
        raise ValueError(
            f"{fn} expects NHWC images of rank 4. Received: y.shape={y_shape}, "
            f"out.shape={out_shape}"
        )
    for a, b in zip(y_shape, out_shape):
        if a is not None and b is not None and a != b:
            raise ValueError(
                f"{fn}: target and output shapes differ. Received: y.shape={y_shape}, "
                f"out.shape={out_shape}"
            )


def _check_mask(mask, image, fn):
    m_shape, i_shape = tuple(mask.shape), tuple(image.shape)
    if len(m_shape) != 4:
        raise ValueError(
            f"{fn} expects a mask of shape (N, H, W, 1) or (N, H, W, C), 1 = known. "
            f"Received: mask.shape={m_shape}"
        )
    c_m, c_i = m_shape[-1], i_shape[-1]
    if c_m is not None and c_i is not None and c_m not in (1, c_i):
        raise ValueError(
            f"{fn}: the mask must have 1 channel or as many as the image ({c_i}). "
            f"Received: mask.shape={m_shape}, image.shape={i_shape}"
        )


def l1(y, out, reduction: str = "mean"):
    """Plain L1: ``mean(|y - out|)`` over all elements (Baik's ``refine_l1``).

    Args:
        y: target images ``(N, H, W, C)``.
        out: predicted images, same shape.
        reduction: ``"mean"`` (default) or ``"sum"`` (Region-wise ``rec_loss``:
            ``reduce_sum(|gt - x|)``).

    Returns:
        float32 scalar.
    """
    _check_image_pair(y, out, "l1")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum'. Received: reduction={reduction!r}")
    reduce = ops.mean if reduction == "mean" else ops.sum
    return reduce(ops.abs(_as_float32(y) - _as_float32(out)))


def valid_l1(y, out, mask):
    """Known-region L1 ``L_valid = mean(|y - out| * M)`` over all ``N*H*W*C`` elements.

    RFR-Net ``get_g_loss``: ``l1_loss(gt, out, mask)``; PConv (Liu et al. 2018) ``L_valid`` with the
    official codes' normalisation by the element count (not the known area).

    Args:
        y: target images ``(N, H, W, C)``.
        out: raw network output, same shape.
        mask: ``(N, H, W, 1)`` or ``(N, H, W, C)``, 1 = known.

    Returns:
        float32 scalar.
    """
    return _weighted_l1(y, out, mask, known=True, name="valid_l1")


def hole_l1(y, out, mask):
    """Hole-region L1 ``L_hole = mean(|y - out| * (1 - M))`` over all ``N*H*W*C`` elements.

    RFR-Net ``get_g_loss``: ``l1_loss(gt, out, 1 - mask)``; PConv (Liu et al. 2018) ``L_hole``
    with the official codes' normalisation by the element count.

    Args:
        y: target images ``(N, H, W, C)``.
        out: raw network output, same shape.
        mask: ``(N, H, W, 1)`` or ``(N, H, W, C)``, 1 = known.

    Returns:
        float32 scalar.
    """
    return _weighted_l1(y, out, mask, known=False, name="hole_l1")


def hole_border_l1(y, out, mask, width: int = 3):
    """L1 on the hole's border band, ``mean(|y - out| * B)`` over all ``N*H*W*C`` elements.

    ``B = (1 - M) * dilate(M, width)``: the hole pixels within ``width`` pixels (chessboard
    distance, a ``(2 width + 1)``-square structuring element clipped at the image border) of a
    known pixel. The band is where a fill meets the known image, so an error there is a visible
    seam; ``L_hole`` weighs it like any hole pixel, so on small holes, where the band is most of
    the hole, seams dominate the error. tfinpaint's own term (not from a paper), normalised like
    ``L_hole`` (the official codes' element count) so its weight compares with ``L_hole``'s:
    a term of weight ``w`` next to ``6 L_hole`` weighs band pixels ``(6 + w) / 6`` times as much
    as the hole's interior.

    Args:
        y: target images ``(N, H, W, C)``.
        out: raw network output, same shape.
        mask: ``(N, H, W, 1)`` or ``(N, H, W, C)``, 1 = known.
        width: band width in pixels, >= 1.

    Returns:
        float32 scalar.
    """
    _check_image_pair(y, out, "hole_border_l1")
    _check_mask(mask, y, "hole_border_l1")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"hole_border_l1: width must be an int >= 1. Received: width={width!r}")
    known = _as_float32(mask)
    # 'same' max pooling only looks at in-image neighbours: a binary dilation of the known region.
    near_known = ops.max_pool(known, pool_size=2 * width + 1, strides=1, padding="same")
    band = (1.0 - known) * near_known
    diff = ops.abs(_as_float32(y) - _as_float32(out))
    return ops.mean(diff * band)


def _weighted_l1(y, out, mask, known: bool, name: str):
    """``mean(|y - out| * W)`` with ``W = M`` (known) or ``1 - M`` (hole), over all elements."""
    _check_image_pair(y, out, name)
    _check_mask(mask, y, name)
    diff = ops.abs(_as_float32(y) - _as_float32(out))
    weight = _as_float32(mask) if known else 1.0 - _as_float32(mask)
    # A 1-channel mask broadcasts to diff's shape, so the mean runs over N*H*W*C elements.
    return ops.mean(diff * weight)


def _dilated_hole(mask):
    """1-pixel (3x3, 8-neighbour) dilation of the hole region ``1 - M``; 1 = in the region."""
    hole = 1.0 - _as_float32(mask)
    # 'same' max pooling only looks at in-image neighbours, which is exactly a binary dilation
    # with a 3x3 structuring element clipped at the border.
    return ops.max_pool(hole, pool_size=3, strides=1, padding="same")


def total_variation(comp, mask=None, dilated: bool = False):
    """Total-variation smoothness loss, in one of three official variants.

    * ``mask=None``: TV of the whole image, ``mean|x[:, 1:] - x[:, :-1]| +
      mean|x[:, :, 1:] - x[:, :, :-1]|`` (MADF ``loss.py::total_variation_loss`` on the
      composite).
    * ``mask`` given, ``dilated=False`` (default): RFR-Net ``RFRNetModel.TV_loss(comp * (1 - M))``,
      the same two means on the composite with its known pixels zeroed. Note the means run over
      all ``N*(H-1)*W*C`` (resp. ``N*H*(W-1)*C``) differences, and the differences across the
      hole border (hole pixel next to a zeroed known pixel) are included, as in the official code.
      MANet uses the same formula.
    * ``mask`` given, ``dilated=True``: PConv (Liu et al., ECCV 2018, ``L_tv``, arXiv 1804.07723)
      ``L_tv = sum_{(i,j) in P, (i,j+1) in P} |I(i,j+1) - I(i,j)| / N_I + (same vertically)``
      with ``P`` the hole region dilated by 1 pixel (3x3 structuring element) and
      ``N_I = N*H*W*C`` the number of elements of the composite (the paper normalises every
      term by the element count of the image it is computed on). A difference counts only when
      both of its pixels lie in ``P``.

    Args:
        comp: composite image ``(N, H, W, C)`` (``M * y + (1 - M) * out``).
        mask: ``(N, H, W, 1)`` or ``(N, H, W, C)``, 1 = known; ``None`` for the whole image.
        dilated: use the PConv dilated-hole variant (requires ``mask``).

    Returns:
        float32 scalar.
    """
    shape = tuple(comp.shape)
    if len(shape) != 4:
        raise ValueError(
            f"total_variation expects an NHWC image of rank 4. Received: comp.shape={shape}"
        )
    x = _as_float32(comp)
    if mask is None:
        if dilated:
            raise ValueError("total_variation(dilated=True) needs a mask. Received: mask=None")
        return _tv_means(x)
    _check_mask(mask, comp, "total_variation")
    if not dilated:
        return _tv_means(x * (1.0 - _as_float32(mask)))

    region = _dilated_hole(mask)
    dy = ops.abs(x[:, 1:, :, :] - x[:, :-1, :, :]) * region[:, 1:, :, :] * region[:, :-1, :, :]
    dx = ops.abs(x[:, :, 1:, :] - x[:, :, :-1, :]) * region[:, :, 1:, :] * region[:, :, :-1, :]
    n_elements = ops.cast(ops.size(x), "float32")
    return (ops.sum(dy) + ops.sum(dx)) / n_elements


def _tv_means(x):
    dy = ops.abs(x[:, 1:, :, :] - x[:, :-1, :, :])
    dx = ops.abs(x[:, :, 1:, :] - x[:, :, :-1, :])
    return ops.mean(dy) + ops.mean(dx)
