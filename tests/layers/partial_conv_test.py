"""PartialConv2D against a direct numpy implementation of NVIDIA's PartialConv2d."""

import numpy as np
from absl.testing import parameterized

from tests.test_case import TestCase
from tfinpaint.layers.partial_conv import PartialConv2D, quantizable_renormalization


def numpy_partial_conv(x, mask, kernel, bias, stride, pad, dilation=1):
    """Direct loops over output pixels, following NVIDIA's PartialConv2d.forward.

    x (N,H,W,C), mask (N,H,W,1|C) with 1 = valid, kernel (kh,kw,C,F).
    """
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    if mask.shape[-1] == 1:
        mask = np.repeat(mask, c, axis=-1)
    xp = np.pad(x * mask, [(0, 0), (pad, pad), (pad, pad), (0, 0)])
    mp = np.pad(mask, [(0, 0), (pad, pad), (pad, pad), (0, 0)])
    ho = (h + 2 * pad - dilation * (kh - 1) - 1) // stride + 1
    wo = (w + 2 * pad - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, ho, wo, f), np.float64)
    upd = np.zeros((n, ho, wo, 1), np.float64)
    winsize = c * kh * kw
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                ys = i * stride + dilation * np.arange(kh)
                xs = j * stride + dilation * np.arange(kw)
                patch = xp[b][np.ix_(ys, xs)]  # (kh, kw, C)
                mpatch = mp[b][np.ix_(ys, xs)]
                msum = mpatch.sum()
                raw = np.tensordot(patch, kernel, axes=3)  # (F,)
                if msum > 0:
                    ratio = winsize / (msum + 1e-8)
                    out[b, i, j] = raw * ratio + (bias if bias is not None else 0.0)
                    upd[b, i, j] = 1.0
    return out, upd


def _inputs(rng, n, h, w, c, mask_channels):
    x = rng.standard_normal((n, h, w, c)).astype("float32")
    m = np.ones((n, h, w, mask_channels), "float32")
    m[:, h // 4 : h // 2 + 3, w // 5 : w // 2 + 4, :] = 0  # a hole larger than the kernel
    m[:, :3, -4:, :] = 0  # a hole touching the border
    if mask_channels > 1:
        m[:, -5:, :6, 0] = 0  # channels disagree here
    return x, m


class PartialConvTest(TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        ("k7_s2_p3_bias_free", 7, 2, 3, 1, False, 1),
        ("k3_s1_p1_bias", 3, 1, 1, 1, True, 1),
        ("k5_s2_p2_bias_multichannel", 5, 2, 2, 1, True, 3),
        ("k3_s1_p2_dilated", 3, 1, 2, 2, False, 3),
        ("k4_s2_p1_odd_size", 4, 2, 1, 1, True, 1),
    )
    def test_matches_numpy(self, k, s, p, d, use_bias, mask_channels):
        rng = np.random.default_rng(0)
        x, m = _inputs(rng, 2, 19, 22, 3, mask_channels)
        layer = PartialConv2D(4, k, strides=s, padding=p, dilation_rate=d, use_bias=use_bias,
                              bias_initializer="random_normal")
        out, upd = layer([x, m])
        kernel = layer.kernel.numpy()
        bias = layer.bias.numpy() if use_bias else None
        ref_out, ref_upd = numpy_partial_conv(x, m, kernel, bias, s, p, d)
        self.assertAllClose(upd, ref_upd, atol=0)
        self.assertAllClose(out, ref_out, atol=2e-4, rtol=1e-4)
        # Fully-hole windows give exactly zero output (bias removed there, NVIDIA).
        holes = np.asarray(out)[np.asarray(upd)[..., 0] == 0]
        self.assertGreater(holes.size, 0)
        self.assertTrue(np.all(holes == 0.0))
        # The int8-quantizable form (full-int8 TFLite export) is the same function.
        with quantizable_renormalization():
            q_out, q_upd = layer([x, m])
        self.assertAllClose(q_upd, ref_upd, atol=0)
        self.assertAllClose(q_out, ref_out, atol=2e-4, rtol=1e-4)

    def test_all_valid_mask_is_plain_conv(self):
        rng = np.random.default_rng(1)
        x = rng.standard_normal((1, 16, 16, 3)).astype("float32")
        m = np.ones((1, 16, 16, 1), "float32")
        layer = PartialConv2D(5, 3, padding=0, use_bias=False)
        out, upd = layer([x, m])
        ref = numpy_partial_conv(x, m, layer.kernel.numpy(), None, 1, 0)[0]
        self.assertAllClose(out, ref, atol=1e-4)
        self.assertAllEqual(upd, np.ones_like(upd))

    def test_stride2_padding_is_symmetric_like_pytorch(self):
        # One valid pixel at the top-left corner: with PyTorch padding 3 the first output
        # window (rows -3..3) sees it; TF 'same' (pad 2 before) would see rows -2..4 too, but
        # the telling case is the last row: symmetric padding keeps 8 outputs for 16 inputs.
        x = np.ones((1, 16, 16, 1), "float32")
        m = np.zeros((1, 16, 16, 1), "float32")
        m[0, 0, 0, 0] = 1
        out, upd = PartialConv2D(1, 7, strides=2, padding=3, use_bias=False)([x, m])
        self.assertEqual(tuple(out.shape), (1, 8, 8, 1))
        expected = np.zeros((8, 8))
        expected[:2, :2] = 1  # output rows 0,1 cover input rows -3..3 and -1..5
        self.assertAllEqual(np.asarray(upd)[0, ..., 0], expected)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "filters"):
            PartialConv2D(0, 3)
        with self.assertRaisesRegex(ValueError, "mask must have 1 channel"):
            PartialConv2D(2, 3)([np.zeros((1, 8, 8, 4), "float32"),
                                 np.zeros((1, 8, 8, 2), "float32")])

    def test_layer_contract(self):
        def input_fn(b, h, w):
            rng = np.random.default_rng(b * 1000 + h * 10 + w)
            return list(_inputs(rng, b, h, w, 3, 1))

        self.run_layer_test(
            PartialConv2D,
            {"filters": 4, "kernel_size": 3, "strides": 2, "padding": 1},
            input_fn,
            expected_num_trainable_weights=2,
            binary_outputs=(1,),
        )
