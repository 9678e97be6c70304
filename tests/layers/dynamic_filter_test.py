"""MaskAwareDynamicConv: the official per-pixel-kernel computation (numpy, unfold order
(c, ky, kx)) against the factorised layer, the layer contract, and the builtins-only export."""

import numpy as np

from tests.test_case import TestCase
from tfinpaint.layers.dynamic_filter import MaskAwareDynamicConv


def _official(x, m, mask_w, mask_b, kernel, bias, k, s, p, cout):
    """net.py FilterGen + ConvWithFilter in numpy: materialises one kernel per output pixel."""
    def conv(t, w, b):  # w (k, k, cin, cout), zero pad p, stride s
        t = np.pad(t, ((0, 0), (p, p), (p, p), (0, 0)))
        n, h, ww, _ = t.shape
        ho, wo = (h - k) // s + 1, (ww - k) // s + 1
        out = np.zeros((n, ho, wo, w.shape[-1]))
        for ky in range(k):
            for kx in range(k):
                out += t[:, ky:ky + s * ho:s, kx:kx + s * wo:s] @ w[ky, kx]
        return out + b

    hidden = np.maximum(conv(m, mask_w, mask_b), 0.0)
    filters = hidden @ kernel[0, 0] + bias  # (n, ho, wo, cin*k*k*cout), channel j*cout + o
    n, ho, wo, _ = filters.shape
    cin = x.shape[-1]
    filters = filters.reshape(n, ho, wo, cin * k * k, cout)
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    patches = np.zeros((n, ho, wo, cin, k, k))  # torch unfold order (c, ky, kx)
    for ky in range(k):
        for kx in range(k):
            patches[..., ky, kx] = xp[:, ky:ky + s * ho:s, kx:kx + s * wo:s]
    patches = patches.reshape(n, ho, wo, cin * k * k)
    return np.einsum("nyxj,nyxjo->nyxo", patches, filters), hidden


class MaskAwareDynamicConvTest(TestCase):
    def test_matches_official_per_pixel_kernels(self):
        rng = np.random.default_rng(0)
        for k, s, cin, cout, cm, (h, w) in ((7, 2, 6, 4, 3, (14, 20)), (3, 2, 5, 3, 16, (9, 8)),
                                             (5, 1, 2, 2, 4, (6, 7))):
            layer = MaskAwareDynamicConv(cout, k, strides=s, hidden_channels=16)
            x = rng.standard_normal((2, h, w, cin)).astype("float32")
            m = (rng.uniform(size=(2, h, w, cm)) > 0.3).astype("float32")
            layer([x, m])
            for v in layer.weights:
                v.assign(rng.standard_normal(v.shape).astype("float32") * 0.3)
            out, hidden = layer([x, m])
            want, want_hidden = _official(
                x.astype(np.float64), m, layer.mask_conv.kernel.numpy(),
                layer.mask_conv.bias.numpy(), layer.kernel.numpy(), layer.bias.numpy(),
                k, s, (k - 1) // 2, cout,
            )
            self.assertEqual(tuple(out.shape), want.shape)
            self.assertAllClose(hidden, want_hidden, atol=1e-5)
            self.assertAllClose(out, want, atol=1e-4, rtol=1e-5)
            # A (ky, kx, c) patch order (tf.image.extract_patches) would give other numbers.
            self.assertGreater(float(np.abs(want).mean()), 0.1)

    def test_layer_contract(self):
        def input_fn(b, h, w):
            rng = np.random.default_rng(b * 100 + h)
            return [rng.standard_normal((b, h, w, 4)).astype("float32"),
                    (rng.uniform(size=(b, h, w, 3)) > 0.4).astype("float32")]

        self.run_layer_test(
            MaskAwareDynamicConv, {"filters": 5, "kernel_size": 3, "hidden_channels": 4},
            input_fn, expected_num_trainable_weights=4, atol=1e-4,
        )

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "filters"):
            MaskAwareDynamicConv(0, 3)
        with self.assertRaisesRegex(ValueError, "padding"):
            MaskAwareDynamicConv(4, 3, padding=-1)
        layer = MaskAwareDynamicConv(4, 3)
        with self.assertRaisesRegex(ValueError, "rank 4"):
            layer([np.zeros((1, 8, 8), "float32"), np.zeros((1, 8, 8, 1), "float32")])
