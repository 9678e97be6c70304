"""Adversarial losses on discriminator logits, feature matching and gradient penalties.

Each adversarial loss is a small class chosen by kind with :func:`get_adversarial_loss`
(LaMa ``make_discrim_loss`` style) and has ``discriminator_loss(real_logits, fake_logits)`` and
``generator_loss(fake_logits)``. Logits may be one tensor (a PatchGAN map or a vector) or a
list/tuple of tensors (multi-scale discriminators): each tensor is reduced by its mean and the
per-tensor losses are **summed** (pix2pixHD convention). Everything is computed in float32 and
works on raw logits (never on sigmoid outputs), which is the numerically stable form.

The discriminator loss is the sum of its real and fake parts, as in LaMa, Baik (hinge) and most
GAN codes. MANet halves its nsgan D loss (``(BCE(real) + BCE(fake)) / 2``); multiply by 0.5 to
reproduce it (Adam is nearly invariant to that scale).
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
from keras import ops


def _as_list(logits, name):
    if isinstance(logits, (list, tuple)):
        if not logits:
            raise ValueError(f"{name} is an empty list; expected at least one logits tensor.")
        return [ops.cast(t, "float32") for t in logits]
    return [ops.cast(logits, "float32")]


def _paired(real_logits, fake_logits):
    real = _as_list(real_logits, "real_logits")
    fake = _as_list(fake_logits, "fake_logits")
    if len(real) != len(fake):
        raise ValueError(
            f"real_logits and fake_logits must have the same number of scales. Received: "
            f"{len(real)} and {len(fake)}"
        )
    return list(zip(real, fake))


class AdversarialLoss:
    """Base class: subclasses implement the per-tensor ``_d`` and ``_g`` losses."""

    kind: str = ""

    def discriminator_loss(self, real_logits, fake_logits):
        """Discriminator loss summed over scales. Returns a float32 scalar."""
        return sum(self._d(r, f) for r, f in _paired(real_logits, fake_logits))

    def generator_loss(self, fake_logits):
        """Generator loss summed over scales. Returns a float32 scalar."""
        return sum(self._g(f) for f in _as_list(fake_logits, "fake_logits"))

    def _d(self, real, fake):  # pragma: no cover - abstract
        raise NotImplementedError

    def _g(self, fake):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class HingeLoss(AdversarialLoss):
    """Hinge GAN loss (SN-PatchGAN / Baik; Lim & Ye 2017).

    ``L_D = mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))``, ``L_G = -mean(D(fake))``.
    """

    kind = "hinge"

    def _d(self, real, fake):
        return ops.mean(ops.relu(1.0 - real)) + ops.mean(ops.relu(1.0 + fake))

    def _g(self, fake):
        return -ops.mean(fake)


class NonSaturatingLoss(AdversarialLoss):
    """Non-saturating GAN loss (Goodfellow et al. 2014), i.e. BCE on sigmoid(logits).

    ``L_D = mean(softplus(-D(real))) + mean(softplus(D(fake)))``,
    ``L_G = mean(softplus(-D(fake)))``. Equal to ``nn.BCELoss`` on sigmoid outputs with targets
    1 (real) and 0 (fake), as MANet / EdgeConnect ``AdversarialLoss('nsgan')`` compute it.
    """

    kind = "nsgan"

    def _d(self, real, fake):
        return ops.mean(ops.softplus(-real)) + ops.mean(ops.softplus(fake))

    def _g(self, fake):
        return ops.mean(ops.softplus(-fake))


class LeastSquaresLoss(AdversarialLoss):
    """Least-squares GAN loss (Mao et al. 2017) with targets 1 (real) and 0 (fake).

    ``L_D = mean((D(real) - 1)^2) + mean(D(fake)^2)``, ``L_G = mean((D(fake) - 1)^2)``
    (EdgeConnect's ``lsgan`` = ``nn.MSELoss``; no 1/2 factor).
    """

    kind = "lsgan"

    def _d(self, real, fake):
        return ops.mean(ops.square(real - 1.0)) + ops.mean(ops.square(fake))

    def _g(self, fake):
        return ops.mean(ops.square(fake - 1.0))


_KINDS = {"hinge": HingeLoss, "nsgan": NonSaturatingLoss, "lsgan": LeastSquaresLoss}


def get_adversarial_loss(kind: str) -> AdversarialLoss:
    """Returns the adversarial loss for ``kind`` in ``("hinge", "nsgan", "lsgan")``."""
    try:
        return _KINDS[kind]()
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown adversarial loss kind. Known: {tuple(_KINDS)}. Received: kind={kind!r}"
        ) from None


def feature_matching_loss(real_feats, fake_feats):
    """Discriminator feature matching ``sum_l mean|D_l(real) - D_l(fake)|``.

    Baik ``Feature`` loss (conv1 and conv2 activations of the discriminator), pix2pixHD-style.
    The real features are treated as constants (``stop_gradient``); gradients flow through the
    fake features only.

    Args:
        real_feats, fake_feats: sequences of tensors of matching shapes.

    Returns:
        float32 scalar.
    """
    real = _as_list(list(real_feats) if isinstance(real_feats, tuple) else real_feats, "real")
    fake = _as_list(list(fake_feats) if isinstance(fake_feats, tuple) else fake_feats, "fake")
    if len(real) != len(fake):
        raise ValueError(
            f"feature_matching_loss: got {len(real)} real and {len(fake)} fake feature tensors."
        )
    total = 0.0
    for r, f in zip(real, fake):
        if tuple(r.shape[1:]) != tuple(f.shape[1:]):
            raise ValueError(
                f"feature_matching_loss: feature shapes differ. Received: {tuple(r.shape)} and "
                f"{tuple(f.shape)}"
            )
        total = total + ops.mean(ops.abs(ops.stop_gradient(r) - f))
    return total


def _sum_logits(logits):
    return sum(ops.sum(t) for t in _as_list(logits, "discriminator output"))


def gradient_penalty(
    discriminator: Callable,
    real,
    fake=None,
    kind: str = "r1",
    seed=None,
):
    """Gradient penalty on the discriminator, as its own function (keras-io ``wgan_gp.py``).

    * ``kind="r1"`` (Mescheder et al. 2018, LaMa ``NonSaturatingWithR1``):
      ``mean_n ||grad_x D(x_n)||_2^2`` at the real images. The usual ``gamma / 2`` factor is
      left to the caller's weight.
    * ``kind="wgan_gp"`` (Gulrajani et al. 2017, Region-wise ``gradients_penalty``):
      ``mean_n (||grad_x D(x_hat_n)||_2 - 1)^2`` at ``x_hat = eps * real + (1 - eps) * fake``,
      ``eps ~ U(0, 1)`` per sample. Needs ``fake``.

    With a multi-scale discriminator the gradient of the sum of all logits is used. Uses
    ``tf.GradientTape`` (TensorFlow backend); call it inside the discriminator step's tape so the
    penalty is differentiable with respect to the discriminator weights.

    Args:
        discriminator: callable image -> logits (a tensor or a list). Wrap the discriminator to
            bind extra inputs, e.g. ``lambda x: disc((x, mask), training=True)``.
        real: real images ``(N, H, W, C)``.
        fake: generated images (``"wgan_gp"`` only).
        kind: ``"r1"`` or ``"wgan_gp"``. Defaults to ``"r1"``.
        seed: seed or ``keras.random.SeedGenerator`` for the interpolation weights.

    Returns:
        float32 scalar.
    """
    import keras

    if kind not in ("r1", "wgan_gp"):
        raise ValueError(f"kind must be 'r1' or 'wgan_gp'. Received: kind={kind!r}")
    real = ops.cast(real, "float32")
    if kind == "r1":
        x = real
    else:
        if fake is None:
            raise ValueError("gradient_penalty(kind='wgan_gp') needs fake images. Received: None")
        fake = ops.cast(ops.stop_gradient(fake), "float32")
        eps = keras.random.uniform((ops.shape(real)[0], 1, 1, 1), seed=seed)
        x = eps * real + (1.0 - eps) * fake
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = _sum_logits(discriminator(x))
    grads = ops.cast(tape.gradient(score, x), "float32")
    sq_norm = ops.sum(ops.square(ops.reshape(grads, (ops.shape(grads)[0], -1))), axis=1)
    if kind == "r1":
        return ops.mean(sq_norm)
    return ops.mean(ops.square(ops.sqrt(sq_norm + 1e-12) - 1.0))
