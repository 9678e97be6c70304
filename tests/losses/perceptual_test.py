"""Perceptual, Gram/style and correlation losses vs numpy einsum references."""

import numpy as np
import pytest

from tfinpaint.losses import perceptual


def _feats(seed, shapes=((2, 8, 8, 4), (2, 4, 5, 6))):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1, s).astype("float32") for s in shapes]


def _np_gram(f):
    n, h, w, c = f.shape
    flat = f.astype(np.float64).reshape(n, h * w, c)
    return np.einsum("npc,npd->ncd", flat, flat) / (c * h * w)


def test_gram_matrix_vs_einsum():
    f = _feats(0)[1]
    g = np.asarray(perceptual.gram_matrix(f))
    assert g.shape == (2, 6, 6)
    np.testing.assert_allclose(g, _np_gram(f), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g, np.transpose(g, (0, 2, 1)), atol=1e-7)  # symmetric


def test_perceptual_loss_sum_of_layer_means():
    a, b = _feats(1), _feats(2)
    ref = sum(np.abs(x.astype(np.float64) - y).mean() for x, y in zip(a, b))
    np.testing.assert_allclose(float(perceptual.perceptual_loss(a, b)), ref, rtol=1e-6)
    da = {"pool1": a[0], "pool2": a[1]}
    db = {"pool1": b[0], "pool2": b[1]}
    np.testing.assert_allclose(float(perceptual.perceptual_loss(da, db)), ref, rtol=1e-6)


def test_style_loss_matches_rfr_formula():
    # RFR: per layer mean(|F_A F_A^T - F_B F_B^T| / (C*H*W)) with NCHW features.
    a, b = _feats(3), _feats(4)
    ref = 0.0
    for x, y in zip(a, b):
        n, h, w, c = x.shape
        xa = np.transpose(x, (0, 3, 1, 2)).reshape(n, c, h * w).astype(np.float64)
        xb = np.transpose(y, (0, 3, 1, 2)).reshape(n, c, h * w).astype(np.float64)
        ga, gb = xa @ xa.transpose(0, 2, 1), xb @ xb.transpose(0, 2, 1)
        ref += np.mean(np.abs(ga - gb) / (c * h * w))
    np.testing.assert_allclose(float(perceptual.style_loss(a, b)), ref, rtol=1e-5)


def test_correlation_loss_region_wise_new_gram():
    # Region-wise new_gram: F F^T / C^2 over positions (HW x HW), L1.
    a, b = _feats(5, ((2, 3, 4, 5),)), _feats(6, ((2, 3, 4, 5),))
    fa = a[0].reshape(2, 12, 5).astype(np.float64)
    fb = b[0].reshape(2, 12, 5).astype(np.float64)
    ra = np.einsum("npc,nqc->npq", fa, fa) / 25
    rb = np.einsum("npc,nqc->npq", fb, fb) / 25
    np.testing.assert_allclose(
        np.asarray(perceptual.correlation_matrix(a[0])), ra, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        float(perceptual.correlation_loss(a, b)), np.abs(ra - rb).mean(), rtol=1e-5
    )
    np.testing.assert_allclose(
        float(perceptual.correlation_loss(a, b, reduction="sum")), np.abs(ra - rb).sum(), rtol=1e-5
    )


def test_identical_features_give_zero_and_errors():
    a = _feats(7)
    assert float(perceptual.style_loss(a, a)) == 0.0
    assert float(perceptual.perceptual_loss(a, a)) == 0.0
    with pytest.raises(ValueError, match="feature layers"):
        perceptual.perceptual_loss(a, a[:1])
    with pytest.raises(ValueError, match="same layers"):
        perceptual.style_loss({"pool1": a[0]}, {"pool2": a[0]})
    with pytest.raises(ValueError, match="equal shape"):
        perceptual.perceptual_loss([a[0]], [a[0][:, :4]])
    with pytest.raises(ValueError, match="reduction"):
        perceptual.correlation_loss(a, a, reduction="max")
