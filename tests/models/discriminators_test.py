"""SN-PatchGAN and PatchGAN: output sizes by hand, receptive field by gradients, spectral norm
by SVD, feature lists, mask polarity, serialization and the trainer's calling convention.

Tested here: logits/feature shapes at 64/128/256 px computed from the conv arithmetic; the
pix2pix receptive field is 70 px (gradient support of one logit); after training-mode calls
the SN sigma reaches the largest singular value of weight_orig (numpy SVD); DeepFill's
hole-mask channel is ``1 - mask``; ``.keras`` round trip; ``tf.function`` with unknown H, W;
mixed precision logits are float32; ``tfinpaint.training.trainer`` unpacks the outputs.
"""

import tempfile

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.test_case import TestCase
from tfinpaint.layers.spectral_norm import SpectralNorm
from tfinpaint.models.discriminators import (
    PatchGAN,
    SNPatchGAN,
    build_edgeconnect_discriminator,
)


def _image(n, h, w, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, h, w, 3)).astype("float32")


def _mask(n, h, w):
    m = np.ones((n, h, w, 1), "float32")
    m[:, h // 4 : h // 2, w // 3 : w // 2 + 4] = 0
    return m


def _sn_size(n, layers):  # TF 'same', stride 2: ceil(n / 2) per layer
    for _ in range(layers):
        n = -(-n // 2)
    return n


def _patchgan_sizes(n, downs=3):  # PyTorch k4 p1: (n + 2 - 4) // s + 1
    sizes = []
    for s in [2] * downs + [1, 1]:
        n = (n + 2 - 4) // s + 1
        sizes.append(n)
    return sizes


class DiscriminatorTest(TestCase, parameterized.TestCase):
    @parameterized.parameters(64, 128, 256)
    def test_sn_patchgan_shapes(self, size):
        d = SNPatchGAN()
        out = d((_image(1, size, size), _mask(1, size, size)))
        self.assertEqual(sorted(out), ["features", "logits"])
        n = _sn_size(size, 6)
        self.assertEqual(tuple(out["logits"].shape), (1, n, n, 256))
        chans = [64, 128, 256, 256, 256]
        self.assertEqual([tuple(f.shape) for f in out["features"]],
                         [(1, _sn_size(size, i + 1), _sn_size(size, i + 1), c)
                          for i, c in enumerate(chans)])

    @parameterized.parameters(64, 128, 256)
    def test_patchgan_shapes(self, size):
        out = PatchGAN()(_image(1, size, size))
        sizes = _patchgan_sizes(size)
        self.assertEqual(tuple(out["logits"].shape), (1, sizes[-1], sizes[-1], 1))
        self.assertEqual(sizes[-1], size // 8 - 2)  # 30 for 256 (pix2pix)
        self.assertEqual([tuple(f.shape) for f in out["features"]],
                         [(1, s, s, c) for s, c in zip(sizes[:-1], (64, 128, 256, 512))])

    def test_patchgan_receptive_field_is_70(self):
        d = PatchGAN(norm="none")
        x = tf.constant(_image(1, 128, 128))
        with tf.GradientTape() as tape:
            tape.watch(x)
            logit = d(x)["logits"][0, 6, 6, 0]
        grad = np.abs(tape.gradient(logit, x).numpy()[0]).sum(axis=-1)
        rows = np.nonzero(grad.sum(axis=1))[0]
        cols = np.nonzero(grad.sum(axis=0))[0]
        self.assertEqual((rows.max() - rows.min() + 1, cols.max() - cols.min() + 1), (70, 70))
        # Composing the windows [s*o - p, s*o - p + 3] of the five k4/p1 convs back to the input
        # gives [8*o - 23, 8*o + 46] for logit o.
        self.assertEqual((rows.min(), cols.min()), (8 * 6 - 23, 8 * 6 - 23))

    def test_spectral_norm(self):
        for d, inputs in (
            (SNPatchGAN(num_layers=4), (_image(2, 64, 64), _mask(2, 64, 64))),
            (build_edgeconnect_discriminator(), _image(2, 64, 64)),
        ):
            sn = [la for la in d.layers if isinstance(la, SpectralNorm)]
            self.assertLen(sn, 4 if isinstance(d, SNPatchGAN) else 5)
            d(inputs)  # build
            for la in sn:  # scale the kernels so their spectral norm is far from 1
                la.weight_orig.assign(la.weight_orig * 5.0)
            sigma0 = [np.linalg.svd(la.weight_matrix().numpy(), compute_uv=False)[0] for la in sn]
            self.assertTrue(all(s > 2.0 for s in sigma0), msg=f"sigma0={sigma0}")
            for _ in range(15):
                d(inputs, training=True)
            for la, s0 in zip(sn, sigma0):
                # the power iteration's sigma converges to the largest singular value, so the
                # effective kernel weight_orig / sigma has spectral norm 1
                self.assertAllClose(la.sigma(), s0, rtol=0.05, msg=la.name)
        self.assertEqual(
            [la.name for la in build_edgeconnect_discriminator().layers
             if isinstance(la, (SpectralNorm, keras.layers.Conv2D))],
            [f"conv_{i}" for i in range(1, 6)],
        )
        # EdgeConnect: no bias with spectral norm; pix2pix: BN on layers 2-4 only.
        self.assertTrue(all(not la.layer.use_bias for la in build_edgeconnect_discriminator().layers
                            if isinstance(la, SpectralNorm)))
        names = {la.name for la in PatchGAN().layers}
        self.assertEqual({n for n in names if n.endswith("_bn")},
                         {"conv_2_bn", "conv_3_bn", "conv_4_bn"})

    def test_mask_channel_is_hole_indicator(self):
        d = SNPatchGAN(num_layers=2)
        self.assertTrue(d.takes_mask)
        self.assertFalse(PatchGAN().takes_mask)
        probe = keras.Model(d.inputs, d.get_layer("concat_mask").output)
        image, mask = _image(1, 16, 16), _mask(1, 16, 16)
        cat = np.asarray(probe((image, mask)))
        self.assertAllClose(cat[..., :3], image * 2 - 1, atol=1e-6)
        self.assertAllEqual(cat[..., 3:], 1 - mask)
        a = np.asarray(d((image, mask))["logits"])
        b = np.asarray(d((image, np.ones_like(mask)))["logits"])
        self.assertFalse(np.allclose(a, b))

    def test_serialization_and_tf_function(self):
        for d, inputs in (
            (SNPatchGAN(num_layers=3, base_filters=8), (_image(2, 32, 48), _mask(2, 32, 48))),
            (PatchGAN(base_filters=8, spectral_norm=True, with_mask=True),
             (_image(2, 32, 48), _mask(2, 32, 48))),
        ):
            d(inputs, training=True)  # SN writes the normalized kernel
            want = d(inputs)
            revived_cfg = type(d).from_config(d.get_config())
            self.assertEqual(revived_cfg.get_config(), d.get_config())
            with tempfile.TemporaryDirectory() as tmp:
                d.save(f"{tmp}/d.keras")
                revived = keras.saving.load_model(f"{tmp}/d.keras")
            self.assertIsInstance(revived, type(d))
            got = revived(inputs)
            self.assertAllClose(got["logits"], want["logits"], atol=1e-6)
            for g, w in zip(got["features"], want["features"]):
                self.assertAllClose(g, w, atol=1e-6)
            fn = tf.function(lambda x, m, d=d: d((x, m)), input_signature=[
                tf.TensorSpec((None, None, None, 3)), tf.TensorSpec((None, None, None, 1))])
            self.assertAllClose(fn(*inputs)["logits"], want["logits"], atol=1e-5)
            other = (_image(1, 64, 32), _mask(1, 64, 32))
            self.assertAllClose(fn(*other)["logits"], d(other)["logits"], atol=1e-5)

    def test_trainer_contract_and_mixed_precision(self):
        from tfinpaint.training.trainer import _unpack_discriminator

        policy = keras.config.dtype_policy()
        try:
            keras.config.set_dtype_policy("mixed_float16")
            d = SNPatchGAN(num_layers=3, base_filters=8)
            logits, feats = _unpack_discriminator(d((_image(2, 32, 32), _mask(2, 32, 32)),
                                                    training=True))
            self.assertEqual(d.get_layer("logits").output.dtype, "float32")
            self.assertLen(feats, 2)
            self.assertTrue(np.all(np.isfinite(logits.numpy())))
        finally:
            keras.config.set_dtype_policy(policy)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "num_layers"):
            SNPatchGAN(num_layers=0)
        with self.assertRaisesRegex(ValueError, "norm"):
            PatchGAN(norm="instance")
        with self.assertRaisesRegex(ValueError, r"called as model\(\(image, mask\)\)"):
            SNPatchGAN(num_layers=2)(_image(1, 16, 16))
        with self.assertRaisesRegex(ValueError, r"image must be \(N, H, W, 3\)"):
            PatchGAN()(np.zeros((1, 32, 32, 4), "float32"))
