"""Pixel losses vs numpy references written from the formulas, and a hand-worked dilated TV."""

import keras
import numpy as np
import pytest

from tfinpaint.losses import pixel


def _data(seed=0, n=2, h=6, w=7, mask_channels=1):
    rng = np.random.default_rng(seed)
    y = rng.uniform(0, 1, (n, h, w, 3)).astype("float32")
    out = rng.normal(0.5, 0.6, (n, h, w, 3)).astype("float32")
    mask = (rng.uniform(0, 1, (n, h, w, 1)) > 0.4).astype("float32")
    if mask_channels == 3:
        mask = np.repeat(mask, 3, axis=-1)
    return y, out, mask


@pytest.mark.parametrize("mask_channels", [1, 3])
def test_valid_and_hole_l1_mean_over_all_elements(mask_channels):
    y, out, mask = _data(mask_channels=mask_channels)
    m3 = np.broadcast_to(mask, y.shape)
    diff = np.abs(y.astype(np.float64) - out)
    ref_valid = (diff * m3).sum() / y.size  # N*H*W*3 elements, not the known area
    ref_hole = (diff * (1 - m3)).sum() / y.size
    np.testing.assert_allclose(float(pixel.valid_l1(y, out, mask)), ref_valid, rtol=1e-6)
    np.testing.assert_allclose(float(pixel.hole_l1(y, out, mask)), ref_hole, rtol=1e-6)
    # The two split the plain L1 exactly.
    np.testing.assert_allclose(
        float(pixel.valid_l1(y, out, mask) + pixel.hole_l1(y, out, mask)),
        float(pixel.l1(y, out)),
        rtol=1e-6,
    )
    np.testing.assert_allclose(float(pixel.l1(y, out)), diff.mean(), rtol=1e-6)


def test_hole_l1_hand_example():
    y = np.zeros((1, 1, 2, 3), "float32")
    out = np.array([[[[1, 2, 3], [4, 5, 6]]]], "float32")
    mask = np.array([[[[1], [0]]]], "float32")  # pixel 0 known, pixel 1 hole
    assert float(pixel.hole_l1(y, out, mask)) == pytest.approx((4 + 5 + 6) / 6)
    assert float(pixel.valid_l1(y, out, mask)) == pytest.approx((1 + 2 + 3) / 6)


def test_hole_border_l1_hand_worked_band():
    # A 1x7 strip: known | 5 hole pixels | known. With width 1 the band is the two hole pixels
    # next to a known pixel; with width 2 four; with width 3 all five.
    y = np.zeros((1, 1, 7, 1), "float32")
    out = np.array([0, 1, 2, 4, 8, 16, 0], "float32").reshape(1, 1, 7, 1)
    mask = np.array([1, 0, 0, 0, 0, 0, 1], "float32").reshape(1, 1, 7, 1)
    assert float(pixel.hole_border_l1(y, out, mask, width=1)) == pytest.approx((1 + 16) / 7)
    assert float(pixel.hole_border_l1(y, out, mask, width=2)) == pytest.approx((1 + 2 + 8 + 16) / 7)
    assert float(pixel.hole_border_l1(y, out, mask, width=3)) == pytest.approx(31 / 7)
    # Known pixels never count, and a hole without known pixels in reach has no band.
    assert float(pixel.hole_border_l1(y, out + 100 * mask, mask, width=1)) == pytest.approx(
        17 / 7)
    assert float(pixel.hole_border_l1(y, out, np.zeros_like(mask), width=3)) == 0.0


@pytest.mark.parametrize("mask_channels", [1, 3])
def test_hole_border_l1_matches_a_distance_transform(mask_channels):
    from scipy import ndimage

    y, out, mask = _data(seed=3, h=9, w=11, mask_channels=mask_channels)
    m3 = np.broadcast_to(mask, y.shape)
    diff = np.abs(y.astype(np.float64) - out)
    for width in (1, 2):
        # Chessboard distance of each hole pixel to the nearest known pixel (per image).
        band = np.stack([
            ndimage.distance_transform_cdt(1 - m[..., :1], metric="chessboard") <= width
            for m in mask
        ]) * (1 - m3)
        ref = (diff * band).sum() / y.size
        np.testing.assert_allclose(
            float(pixel.hole_border_l1(y, out, mask, width=width)), ref, rtol=1e-6)
    # The band is part of the hole: never more than L_hole.
    assert float(pixel.hole_border_l1(y, out, mask, 5)) <= float(pixel.hole_l1(y, out, mask))
    with pytest.raises(ValueError, match="width must be an int >= 1"):
        pixel.hole_border_l1(y, out, mask, width=0)


def _np_tv_means(x):
    return np.abs(np.diff(x, axis=1)).mean() + np.abs(np.diff(x, axis=2)).mean()


def test_total_variation_rfr_and_whole_image():
    _, comp, mask = _data(seed=3)
    ref = _np_tv_means(comp.astype(np.float64) * (1 - mask))
    np.testing.assert_allclose(float(pixel.total_variation(comp, mask)), ref, rtol=1e-6)
    np.testing.assert_allclose(
        float(pixel.total_variation(comp)), _np_tv_means(comp.astype(np.float64)), rtol=1e-6
    )


def test_total_variation_dilated_hand_worked_5x5():
    # x[i, j] = 10 i + j^2 on a 5x5 single-channel image, two samples:
    #  sample 0: one hole pixel at the centre (2, 2) -> P = rows 1..3 x cols 1..3
    #    horizontal pairs inside P: per row |4-1| + |9-4| = 8, 3 rows -> 24
    #    vertical pairs inside P: |10| for i = 1, 2 and j = 1..3 -> 60;  sum 84
    #  sample 1: one hole pixel at the corner (0, 0) -> P = rows 0..1 x cols 0..1
    #    horizontal: |1 - 0| in rows 0, 1 -> 2; vertical: 10 in cols 0, 1 -> 20;  sum 22
    # PConv Eq. 6 normalised by N_I = N*H*W*C = 2*5*5*1 = 50: (84 + 22) / 50 = 2.12
    i, j = np.meshgrid(np.arange(5), np.arange(5), indexing="ij")
    x = (10.0 * i + j**2).astype("float32")[None, :, :, None]
    comp = np.concatenate([x, x])
    mask = np.ones((2, 5, 5, 1), "float32")
    mask[0, 2, 2, 0] = 0
    mask[1, 0, 0, 0] = 0
    assert float(pixel.total_variation(comp, mask, dilated=True)) == pytest.approx(2.12, rel=1e-6)


def test_total_variation_dilated_broadcasts_mask_channels():
    _, comp, mask = _data(seed=5)
    one = float(pixel.total_variation(comp, mask, dilated=True))
    three = float(pixel.total_variation(comp, np.repeat(mask, 3, -1), dilated=True))
    assert one == pytest.approx(three, rel=1e-6)
    assert one > 0


def test_float32_under_mixed_inputs_and_errors():
    y, out, mask = _data()
    v = pixel.hole_l1(keras.ops.cast(y, "float16"), keras.ops.cast(out, "float16"), mask)
    assert keras.backend.standardize_dtype(v.dtype) == "float32"
    with pytest.raises(ValueError, match="mask.shape"):
        pixel.valid_l1(y, out, np.ones((2, 6, 7, 2), "float32"))
    with pytest.raises(ValueError, match="shapes differ"):
        pixel.hole_l1(y, out[:, :5], mask)
    with pytest.raises(ValueError, match="needs a mask"):
        pixel.total_variation(out, dilated=True)
    with pytest.raises(ValueError, match="rank 4"):
        pixel.total_variation(out[0])
