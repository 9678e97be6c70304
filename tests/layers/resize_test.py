"""Resize helpers against numpy re-implementations of PyTorch ``F.interpolate``."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.test_case import TestCase
from tfinpaint.layers.resize import (
    BilinearResize,
    NearestDownsample,
    NearestUpsample,
    downsample_nearest,
    resize_bilinear,
    upsample_nearest,
)


def torch_nearest(x, out_h, out_w, scale_h, scale_w):
    """PyTorch ``nearest``: src = min(floor(dst * scale), in - 1), scale = 1 / scale_factor."""
    n, h, w, c = x.shape
    ys = np.minimum(np.floor(np.arange(out_h) * scale_h).astype(int), h - 1)
    xs = np.minimum(np.floor(np.arange(out_w) * scale_w).astype(int), w - 1)
    return x[:, ys][:, :, xs]


def torch_bilinear(x, out_h, out_w, scale_h, scale_w):
    """PyTorch ``bilinear, align_corners=False`` (aten ``area_pixel_compute_source_index``)."""

    def axis(out, n_in, scale):
        src = np.maximum((np.arange(out) + 0.5) * scale - 0.5, 0.0)
        i0 = np.floor(src).astype(int)
        i0 = np.minimum(i0, n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        lam = src - i0
        return i0, i1, lam

    y0, y1, ly = axis(out_h, x.shape[1], scale_h)
    x0, x1, lx = axis(out_w, x.shape[2], scale_w)
    ly = ly[None, :, None, None]
    lx = lx[None, None, :, None]
    top = x[:, y0][:, :, x0] * (1 - lx) + x[:, y0][:, :, x1] * lx
    bot = x[:, y1][:, :, x0] * (1 - lx) + x[:, y1][:, :, x1] * lx
    return top * (1 - ly) + bot * ly


def _x(n, h, w, c=3, seed=0):
    return np.random.default_rng(seed).standard_normal((n, h, w, c)).astype("float32")


class ResizeTest(TestCase, parameterized.TestCase):
    @parameterized.parameters((2, 8, 12), (3, 5, 7), (4, 3, 2))
    def test_upsample_nearest_matches_pytorch(self, f, h, w):
        x = _x(2, h, w)
        got = upsample_nearest(x, f).numpy()
        self.assertAllEqual(got, torch_nearest(x, f * h, f * w, 1 / f, 1 / f))
        # independent formulation: out[i] = in[floor(i / f)]
        self.assertAllEqual(got, np.repeat(np.repeat(x, f, axis=1), f, axis=2))

    def test_upsample_keeps_binary_masks_exact(self):
        m = (np.random.default_rng(1).uniform(size=(1, 9, 11, 1)) > 0.5).astype("float32")
        up = upsample_nearest(m, 2).numpy()
        self.assertTrue(np.all((up == 0) | (up == 1)))
        self.assertEqual(up.sum(), 4 * m.sum())

    @parameterized.parameters((2, 8, 12), (2, 9, 11), (4, 17, 30), (3, 10, 9))
    def test_downsample_nearest_matches_pytorch(self, f, h, w):
        x = _x(2, h, w)
        got = downsample_nearest(x, f).numpy()
        want = torch_nearest(x, h // f, w // f, f, f)
        self.assertAllEqual(got, want)
        # TF2 resize(nearest) uses half-pixel centres and picks other pixels: the reason for
        # the strided slice.
        tf_nearest = tf.image.resize(x, (h // f, w // f), method="nearest").numpy()
        self.assertFalse(np.array_equal(tf_nearest, want))

    @parameterized.named_parameters(
        ("up2", None, 2.0, 8, 10),
        ("down2", None, 0.5, 16, 12),
        ("down4", None, 0.25, 32, 16),
        ("size_up_odd", (20, 13), None, 9, 7),
        ("size_down_odd", (5, 7), None, 16, 19),
    )
    def test_bilinear_matches_pytorch(self, size, factor, h, w):
        x = _x(2, h, w)
        got = resize_bilinear(x, size=size, factor=factor).numpy()
        if size is not None:
            out_h, out_w = size
            sh, sw = h / out_h, w / out_w  # PyTorch with size=: scale = in / out
        else:
            out_h, out_w = int(np.floor(h * factor)), int(np.floor(w * factor))
            sh = sw = 1 / factor  # PyTorch with scale_factor=: scale = 1 / factor
        self.assertEqual(got.shape, (2, out_h, out_w, 3))
        self.assertAllClose(got, torch_bilinear(x.astype(np.float64), out_h, out_w, sh, sw),
                            atol=1e-5)

    def test_bilinear_output_size_floors_like_pytorch(self):
        # PyTorch: floor(30 * 0.1) = 3 (not 2 from 3.0000000000000004 rounding), floor(25 * 0.1) = 2
        x = _x(1, 30, 25)
        self.assertEqual(tuple(resize_bilinear(x, factor=0.1).shape), (1, 3, 2, 3))
        self.assertEqual(BilinearResize(factor=0.1).compute_output_shape((1, 30, 25, 3)),
                         (1, 3, 2, 3))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "positive integer"):
            NearestUpsample(1.5)
        with self.assertRaisesRegex(ValueError, "positive integer"):
            NearestDownsample(0)
        with self.assertRaisesRegex(ValueError, "exactly one"):
            BilinearResize()
        with self.assertRaisesRegex(ValueError, "exactly one"):
            BilinearResize(size=(4, 4), factor=2)
        with self.assertRaisesRegex(ValueError, "rank 4"):
            upsample_nearest(np.zeros((4, 4, 3), "float32"))

    def test_layer_output_shapes_symbolic(self):
        import keras

        t = keras.KerasTensor((None, 16, None, 5))
        self.assertEqual(NearestUpsample(2)(t).shape, (None, 32, None, 5))
        self.assertEqual(NearestDownsample(4)(t).shape, (None, 4, None, 5))
        self.assertEqual(BilinearResize(factor=0.5)(t).shape, (None, 8, None, 5))
        self.assertEqual(BilinearResize(size=(3, 9))(t).shape, (None, 3, 9, 5))

    @parameterized.named_parameters(
        ("nearest_up", NearestUpsample, {"factor": 2}, (0,)),
        ("nearest_down", NearestDownsample, {"factor": 2}, (0,)),
        ("bilinear_factor", BilinearResize, {"factor": 2.0}, ()),
    )
    def test_layer_contract(self, cls, kwargs, binary):
        binary_input = bool(binary)

        def input_fn(b, h, w):
            rng = np.random.default_rng(b * 100 + h + w)
            if binary_input:  # a mask: outputs must stay exactly 0/1
                return [(rng.uniform(size=(b, h, w, 1)) > 0.5).astype("float32")]
            return [rng.standard_normal((b, h, w, 3)).astype("float32")]

        self.run_layer_test(
            cls, kwargs, input_fn, sizes=((16, 16), (12, 20)),
            expected_num_trainable_weights=0, binary_outputs=binary, run_fit=False,
        )


def test_upsample_nearest_gradient_is_the_block_sum_and_compiles_with_xla():
    # TensorFlow's ResizeNearestNeighborGrad has no XLA kernel; upsample_nearest (concatenations
    # and reshapes) has the same gradient, a sum over factor x factor blocks, and it compiles
    # (train steps with --jit-compile).
    import tensorflow as tf

    from tfinpaint.layers.resize import upsample_nearest

    x = tf.constant(_x(2, 5, 7))
    w = tf.constant(_x(2, 15, 21, seed=1))

    def grad(fn):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(fn(x) * w)
        return tape.gradient(y, x)

    want = grad(lambda t: tf.image.resize(t, (15, 21), method="nearest"))
    np.testing.assert_allclose(grad(lambda t: upsample_nearest(t, 3)), want, atol=1e-6)
    xla = tf.function(lambda: grad(lambda t: upsample_nearest(t, 3)), jit_compile=True)
    np.testing.assert_allclose(xla(), want, atol=1e-6)
