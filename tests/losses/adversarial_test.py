"""Adversarial losses vs closed forms, multi-scale lists, feature matching and penalties."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from tfinpaint.losses import adversarial


def _logits(seed, shape=(2, 5, 5, 1)):
    return (np.random.default_rng(seed).normal(0, 1.5, shape)).astype("float32")


def _softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


REAL, FAKE = _logits(0), _logits(1)
R, F = REAL.astype(np.float64), FAKE.astype(np.float64)
CLOSED_FORMS = {
    "hinge": (
        np.maximum(0, 1 - R).mean() + np.maximum(0, 1 + F).mean(),
        -F.mean(),
    ),
    "nsgan": (
        # -log(sigmoid(r)) = softplus(-r); -log(1 - sigmoid(f)) = softplus(f)
        -np.log(1 / (1 + np.exp(-R))).mean() - np.log(1 - 1 / (1 + np.exp(-F))).mean(),
        _softplus(-F).mean(),
    ),
    "lsgan": (((R - 1) ** 2).mean() + (F**2).mean(), ((F - 1) ** 2).mean()),
}


@pytest.mark.parametrize("kind", sorted(CLOSED_FORMS))
def test_closed_forms(kind):
    loss = adversarial.get_adversarial_loss(kind)
    assert loss.kind == kind
    d_ref, g_ref = CLOSED_FORMS[kind]
    np.testing.assert_allclose(float(loss.discriminator_loss(REAL, FAKE)), d_ref, rtol=1e-5)
    np.testing.assert_allclose(float(loss.generator_loss(FAKE)), g_ref, rtol=1e-5)


@pytest.mark.parametrize("kind", sorted(CLOSED_FORMS))
def test_list_of_logits_sums_scales(kind):
    loss = adversarial.get_adversarial_loss(kind)
    r2, f2 = _logits(2, (2, 3, 3, 1)), _logits(3, (2, 3, 3, 1))
    d_multi = loss.discriminator_loss([REAL, r2], [FAKE, f2])
    d_sum = loss.discriminator_loss(REAL, FAKE) + loss.discriminator_loss(r2, f2)
    np.testing.assert_allclose(float(d_multi), float(d_sum), rtol=1e-6)
    g_multi = loss.generator_loss((FAKE, f2))
    np.testing.assert_allclose(
        float(g_multi), float(loss.generator_loss(FAKE) + loss.generator_loss(f2)), rtol=1e-6
    )
    with pytest.raises(ValueError, match="number of scales"):
        loss.discriminator_loss([REAL, r2], [FAKE])


def test_nsgan_is_stable_for_large_logits_and_float16():
    loss = adversarial.get_adversarial_loss("nsgan")
    big = np.array([[200.0, -200.0]], "float32")
    assert np.isfinite(float(loss.discriminator_loss(big, big)))
    assert float(loss.generator_loss(np.array([[-200.0]], "float32"))) == pytest.approx(200.0)
    v = loss.generator_loss(ops.cast(FAKE, "float16"))
    assert keras.backend.standardize_dtype(v.dtype) == "float32"


def test_unknown_kind():
    with pytest.raises(ValueError, match="kind='wgan'"):
        adversarial.get_adversarial_loss("wgan")


def test_feature_matching_and_gradient_only_through_fake():
    rng = np.random.default_rng(4)
    real = [rng.normal(size=(2, 4, 4, 3)).astype("float32"), rng.normal(size=(2, 2, 2, 5))]
    fake = [rng.normal(size=(2, 4, 4, 3)).astype("float32"), rng.normal(size=(2, 2, 2, 5))]
    real = [r.astype("float32") for r in real]
    fake = [f.astype("float32") for f in fake]
    ref = sum(np.abs(r.astype(np.float64) - f).mean() for r, f in zip(real, fake))
    np.testing.assert_allclose(float(adversarial.feature_matching_loss(real, fake)), ref, rtol=1e-6)
    r_var, f_var = tf.Variable(real[0]), tf.Variable(fake[0])
    with tf.GradientTape() as tape:
        value = adversarial.feature_matching_loss([r_var], [f_var])
    g_real, g_fake = tape.gradient(value, [r_var, f_var])
    assert g_real is None
    np.testing.assert_allclose(
        g_fake.numpy(), -np.sign(real[0] - fake[0]) / real[0].size, rtol=1e-6
    )


def test_r1_penalty_closed_form():
    # D(x) = sum(x^2) per sample -> grad = 2x -> R1 = mean_n sum(4 x^2).
    x = np.random.default_rng(5).normal(size=(3, 4, 4, 2)).astype("float32")

    def disc(t):
        return ops.sum(ops.square(t), axis=(1, 2, 3))

    ref = (4 * x.astype(np.float64) ** 2).reshape(3, -1).sum(1).mean()
    np.testing.assert_allclose(float(adversarial.gradient_penalty(disc, x)), ref, rtol=1e-5)

    # Multi-scale: gradient of the sum of both outputs.
    def disc2(t):
        return [ops.sum(ops.square(t), axis=(1, 2, 3)), ops.sum(t, axis=(1, 2, 3))]

    ref2 = ((2 * x.astype(np.float64) + 1) ** 2).reshape(3, -1).sum(1).mean()
    np.testing.assert_allclose(float(adversarial.gradient_penalty(disc2, x)), ref2, rtol=1e-5)


def test_wgan_gp_closed_form():
    # Linear critic D(x) = <w, x>: grad = w everywhere -> (||w|| - 1)^2 whatever eps is.
    w = np.random.default_rng(6).normal(size=(1, 4, 4, 2)).astype("float32")
    real = np.random.default_rng(7).normal(size=(2, 4, 4, 2)).astype("float32")
    fake = np.zeros_like(real)

    def critic(t):
        return ops.sum(t * w, axis=(1, 2, 3))

    ref = (np.sqrt((w.astype(np.float64) ** 2).sum()) - 1) ** 2
    got = adversarial.gradient_penalty(critic, real, fake, kind="wgan_gp", seed=1)
    np.testing.assert_allclose(float(got), ref, rtol=1e-5)
    with pytest.raises(ValueError, match="fake"):
        adversarial.gradient_penalty(critic, real, kind="wgan_gp")
    with pytest.raises(ValueError, match="kind"):
        adversarial.gradient_penalty(critic, real, kind="r2")


def test_penalty_is_differentiable_wrt_discriminator_weights():
    disc = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.Conv2D(1, 3, activation="tanh")])
    x = np.random.default_rng(8).normal(size=(2, 4, 4, 2)).astype("float32")
    with tf.GradientTape() as tape:
        penalty = adversarial.gradient_penalty(lambda t: disc(t), x)
    grads = tape.gradient(penalty, disc.trainable_variables)
    assert all(g is not None for g in grads)
    assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0
