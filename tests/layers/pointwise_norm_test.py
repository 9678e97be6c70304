"""PointwiseNorm: official PN formula (numpy) in eval and train mode, PyTorch's running-variance
update, the layer contract."""

import numpy as np

from tests.test_case import TestCase
from tfinpaint.layers.pointwise_norm import PointwiseNorm


def _conv3(t, w, b):
    tp = np.pad(t, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros(t.shape[:3] + (w.shape[-1],))
    for ky in range(3):
        for kx in range(3):
            out += tp[:, ky:ky + t.shape[1], kx:kx + t.shape[2]] @ w[ky, kx]
    return out + b


class PointwiseNormTest(TestCase):
    def test_matches_official_pn(self):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2, 6, 10, 4)).astype("float32") * 2 + 1
        g = rng.standard_normal((2, 6, 10, 5)).astype("float32")
        pn = PointwiseNorm(hidden_channels=8)
        pn([x, g])
        for v in pn.weights:
            v.assign(rng.uniform(0.5, 1.5, v.shape).astype("float32") if "variance" in v.path
                     else rng.standard_normal(v.shape).astype("float32") * 0.2)
        mean0, var0 = pn.batch_norm.moving_mean.numpy(), pn.batch_norm.moving_variance.numpy()

        def reference(mean, var):
            a = np.maximum(_conv3(g, pn.mlp_shared.kernel.numpy(), pn.mlp_shared.bias.numpy()), 0)
            scale = _conv3(a, pn.mlp_scale.kernel.numpy(), pn.mlp_scale.bias.numpy())
            bias = _conv3(a, pn.mlp_bias.kernel.numpy(), pn.mlp_bias.bias.numpy())
            return (x - mean) / np.sqrt(var + 1e-5) * (1 + scale) + bias

        self.assertAllClose(pn([x, g], training=False), reference(mean0, var0), atol=1e-4)
        mu, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
        self.assertAllClose(pn([x, g], training=True), reference(mu, var), atol=1e-4)
        # BatchNorm2d(affine=False): momentum 0.1, unbiased variance into running_var
        self.assertAllClose(pn.batch_norm.moving_mean, 0.9 * mean0 + 0.1 * mu, atol=1e-6)
        self.assertAllClose(pn.batch_norm.moving_variance,
                            0.9 * var0 + 0.1 * x.var(axis=(0, 1, 2), ddof=1), atol=1e-6)
        self.assertEqual(len(pn.batch_norm.trainable_weights), 0)  # affine=False
        # a guide of another size is resized bilinearly to x's size
        out = pn([x, g[:, ::2, ::2]], training=False)
        self.assertEqual(tuple(out.shape), x.shape)

    def test_layer_contract(self):
        def input_fn(b, h, w):
            rng = np.random.default_rng(b * 10 + h)
            return [rng.standard_normal((b, h, w, 3)).astype("float32"),
                    rng.standard_normal((b, h, w, 2)).astype("float32")]

        self.run_layer_test(
            PointwiseNorm, {"hidden_channels": 4}, input_fn, expected_num_trainable_weights=6,
            atol=1e-4,
        )
