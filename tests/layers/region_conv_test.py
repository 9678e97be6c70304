"""RegionConv2D against a numpy reference: two ordinary convolutions combined by the mask."""

from __future__ import annotations

import numpy as np
from absl.testing import parameterized

from tests.test_case import TestCase
from tfinpaint.layers.region_conv import RegionConv2D
from tfinpaint.layers.resize import resize_nearest_align_corners


# ----------------------------------------------------------------------------------------------
# numpy references
# ----------------------------------------------------------------------------------------------
def numpy_resize_align_corners(x, out_h, out_w):
    """TF1 resize_nearest_neighbor(align_corners=True): round(i * (in-1)/(out-1)), float32,
    half away from zero, clamped."""

    def index(n_in, n_out):
        scale = np.float32((n_in - 1) / (n_out - 1)) if n_out > 1 else np.float32(n_in / n_out)
        src = np.arange(n_out, dtype=np.float32) * scale
        src = np.floor(src + np.float32(0.5)).astype(int)  # src >= 0: round half away from 0
        return np.minimum(src, n_in - 1)

    return x[:, index(x.shape[1], out_h)][:, :, index(x.shape[2], out_w)]


def numpy_conv(x, kernel, stride=1, dilation=1, pad=0, mode="reflect", upsample=False):
    """Plain 2-D convolution: (optional nearest x2), symmetric pad, VALID, stride, dilation."""
    if upsample:
        x = x.repeat(2, axis=1).repeat(2, axis=2)
    if pad:
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)),
                   mode="reflect" if mode == "reflect" else "constant")
    n, h, w, _ = x.shape
    k = kernel.shape[0]
    span = dilation * (k - 1) + 1
    ho, wo = (h - span) // stride + 1, (w - span) // stride + 1
    out = np.zeros((n, ho, wo, kernel.shape[-1]), np.float64)
    for ky in range(k):
        for kx in range(k):
            ys = ky * dilation + stride * np.arange(ho)
            xs = kx * dilation + stride * np.arange(wo)
            patch = x[:, ys][:, :, xs].astype(np.float64)
            out += patch @ kernel[ky, kx].astype(np.float64)
    return out


def elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def numpy_region_conv(layer, x_known, x_missing, mask):
    """Eq. 1 from two ordinary convolutions: the known filter on the known region, the missing
    filter on the missing region, combined by the resized mask (input or output side)."""
    k, s, d = layer.kernel_size, layer.strides, layer.dilation_rate
    pad = d * (k - 1) // 2
    wk, wu = layer.kernel_known.numpy(), layer.kernel_missing.numpy()

    def conv(x, w):
        return numpy_conv(x, w, s, d, pad, layer.padding, layer.upsample)

    if layer.combine == "input":
        m = numpy_resize_align_corners(mask, *x_known.shape[1:3])
        y = conv(x_known * m, wk) + conv(x_missing * (1 - m), wu) + layer.bias.numpy()
    else:
        y_k = conv(x_known, wk) + layer.bias_known.numpy()
        y_u = conv(x_missing, wu) + layer.bias_missing.numpy()
        m = numpy_resize_align_corners(mask, *y_k.shape[1:3])
        y = m * y_k + (1 - m) * y_u
    return elu(y)


def _hole_mask(n, h, w):
    m = np.ones((n, h, w, 1), "float32")
    m[:, h // 4 : h // 2 + 3, w // 5 : w // 2 + 4] = 0  # an interior hole with long edges
    m[:, : h // 6, -w // 5 :] = 0  # a hole touching the border (reflect padding sees it)
    return m


class RegionConvTest(TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        ("input_k3", "input", 3, 1, 1, False, (19, 22)),
        ("input_k3_stride2", "input", 3, 2, 1, False, (19, 22)),
        ("input_k5_stride2_zero_pad", "input", 5, 2, 1, False, (19, 22)),
        ("input_dilated", "input", 3, 1, 2, False, (19, 22)),
        ("input_upsample_resized_mask", "input", 3, 1, 1, True, (61, 77)),
        ("input_resized_mask", "input", 3, 1, 1, False, (61, 77)),
        ("output_k3_stride2_resized_mask", "output", 3, 2, 1, False, (37, 45)),
        ("output_upsample", "output", 3, 1, 1, True, (64, 80)),
    )
    def test_matches_two_masked_convolutions(self, combine, k, s, d, up, mask_size):
        rng = np.random.default_rng(0)
        h, w = 19, 22
        x_known = rng.standard_normal((2, h, w, 5)).astype("float32")
        x_missing = rng.standard_normal((2, h, w, 3)).astype("float32")
        mask = _hole_mask(2, *mask_size)
        padding = "zero" if "zero" in self._testMethodName else "reflect"
        layer = RegionConv2D(4, k, strides=s, dilation_rate=d, upsample=up, combine=combine,
                             padding=padding, bias_initializer="random_normal")
        got = np.asarray(layer([x_known, x_missing, mask]))
        want = numpy_region_conv(layer, x_known, x_missing, mask)
        self.assertEqual(got.shape, want.shape)
        self.assertAllClose(got, want, atol=2e-5, rtol=1e-5)

        # On the hole edges both filters contribute: the result differs from the known-only and
        # the missing-only responses, which it equals deep inside each region.
        zeros_k, zeros_u = np.zeros_like(x_known), np.zeros_like(x_missing)
        known_only = numpy_region_conv(layer, x_known, zeros_u, mask)
        missing_only = numpy_region_conv(layer, zeros_k, x_missing, mask)
        if combine == "output":  # bias of the other region is still selected per pixel
            known_only = missing_only = None
        if known_only is not None:
            diff_k = np.abs(want - known_only).max(-1) > 1e-6
            diff_u = np.abs(want - missing_only).max(-1) > 1e-6
            both = diff_k & diff_u
            self.assertGreater(both.sum(), 0, "no output where both filters contribute")
            self.assertLess(both.mean(), 0.8, "the mask does not separate the regions")

    def test_mask_resize_is_tf1_align_corners(self):
        mask = (np.random.default_rng(1).uniform(size=(2, 61, 77, 1)) > 0.5).astype("float32")
        for size in ((16, 20), (61, 77), (122, 154), (1, 5)):
            got = np.asarray(resize_nearest_align_corners(mask, size))
            self.assertAllEqual(got, numpy_resize_align_corners(mask, *size))

    def test_all_known_is_one_plain_convolution(self):
        rng = np.random.default_rng(2)
        x = rng.standard_normal((1, 12, 14, 4)).astype("float32")
        layer = RegionConv2D(6, 3, strides=2, bias_initializer="random_normal")
        got = layer([x, x, np.ones((1, 48, 56, 1), "float32")])
        want = elu(numpy_conv(x, layer.kernel_known.numpy(), 2, 1, 1) + layer.bias.numpy())
        self.assertAllClose(got, want, atol=2e-5)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "kernel_size must be odd"):
            RegionConv2D(4, 4)
        with self.assertRaisesRegex(ValueError, "upsample=True needs strides=1"):
            RegionConv2D(4, upsample=True, strides=2)
        with self.assertRaisesRegex(ValueError, "combine"):
            RegionConv2D(4, combine="sum")
        x = np.zeros((1, 8, 8, 2), "float32")
        with self.assertRaisesRegex(ValueError, "mask must be"):
            RegionConv2D(4)([x, x, np.ones((1, 8, 8, 3), "float32")])
        with self.assertRaisesRegex(ValueError, "same H and W"):
            RegionConv2D(4)([x, np.zeros((1, 8, 6, 2), "float32"), np.ones((1, 8, 8, 1))])
        with self.assertRaisesRegex(ValueError, r"\[x_known, x_missing, mask\]"):
            RegionConv2D(4)([x, x])

    @parameterized.named_parameters(("input", "input", 3), ("output", "output", 4))
    def test_layer_contract(self, combine, n_weights):
        def input_fn(b, h, w):
            rng = np.random.default_rng(b * 1000 + h * 10 + w)
            x = rng.standard_normal((b, h, w, 4)).astype("float32")
            # run_layer_test exports every input at one fixed size: the mask at the feature
            # size here (resized masks are checked against numpy above).
            return [x, x[..., :3], _hole_mask(b, h, w)]

        self.run_layer_test(
            RegionConv2D,
            {"filters": 4, "strides": 2 if combine == "input" else 1,
             "upsample": combine == "output", "combine": combine},
            input_fn,
            expected_num_trainable_weights=n_weights,
            run_fit=combine == "input",
            atol=1e-4,
        )
