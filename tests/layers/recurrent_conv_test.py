"""Recurrent convolution, contextual attention and dense multi-scale fusion (Baik's layers)."""

from __future__ import annotations

import numpy as np

from tests.test_case import TestCase
from tfinpaint.layers.contextual_attention import ContextualAttention
from tfinpaint.layers.dense_fusion import DenseMultiScaleFusion
from tfinpaint.layers.recurrent_conv import RecurrentConv2D


def _conv_same_np(x, k, b):
    """Zero-padded stride-1 'same' conv, NHWC, k (kh, kw, in, out)."""
    p = k.shape[0] // 2
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    h, w = x.shape[1:3]
    out = np.zeros(x.shape[:3] + (k.shape[-1],))
    for dy in range(k.shape[0]):
        for dx in range(k.shape[1]):
            out += xp[:, dy:dy + h, dx:dx + w] @ k[dy, dx]
    return out + b


def _attention_np(f, known, scale=10.0):
    """Direct loops over Yu et al.'s contextual attention as Baik's code computes it."""
    n, hh, ww, c = f.shape
    h, w = hh // 2, ww // 2
    fd = f[:, ::2, ::2]
    fp = np.pad(fd, ((0, 0), (1, 1), (1, 1), (0, 0)))
    xp = np.pad(f, ((0, 0), (1, 1), (1, 1), (0, 0)))
    hole = np.pad(1.0 - known[:, ::8, ::8, 0], ((0, 0), (1, 1), (1, 1)))
    out = np.zeros_like(f, dtype=np.float64)
    for b in range(n):
        pat = np.stack([fp[b, y:y + 3, x:x + 3].ravel() for y in range(h) for x in range(w)])
        usable = np.array([hole[b, y:y + 3, x:x + 3].sum() == 0 for y in range(h)
                           for x in range(w)], np.float64)
        keys = pat / np.maximum(np.linalg.norm(pat, axis=1, keepdims=True), 1e-4)
        s = pat @ keys.T * usable * scale
        a = np.exp(s - s.max(1, keepdims=True))
        a = a / a.sum(1, keepdims=True) * usable
        raw = [xp[b, 2 * y:2 * y + 4, 2 * x:2 * x + 4] for y in range(h) for x in range(w)]
        full = np.zeros((hh + 2, ww + 2, c))
        for py in range(h):
            for px in range(w):
                patch = sum(a[py * w + px, ll] * raw[ll] for ll in range(h * w))
                full[2 * py:2 * py + 4, 2 * px:2 * px + 4] += patch
        out[b] = full[1:-1, 1:-1] / 4.0
    return out


class RecurrentConvTest(TestCase):
    def test_layer_contract(self):
        rng = np.random.default_rng(0)

        def inputs(b, h, w):
            return [rng.normal(size=(b, h, w, 3)).astype("float32"),
                    rng.normal(size=(b, h, w, 4)).astype("float32")]

        # (The standard export check feeds every input at one size: stride 1 here; stride 2
        # and upsampling are checked below.)
        self.run_layer_test(RecurrentConv2D, {"filters": 4, "normalization": True},
                            inputs, sizes=((16, 16), (12, 20)), expected_num_trainable_weights=4)

    def test_equation_and_zero_state(self):
        rng = np.random.default_rng(1)
        x = rng.normal(size=(2, 8, 10, 3)).astype("float32")
        layer = RecurrentConv2D(5, 3, padding="zero", activation=None)
        first = np.asarray(layer([x]))
        k, b = (v.numpy() for v in layer.conv.weights)
        kb, bb = (v.numpy() for v in layer.buffer_conv.weights)
        want1 = _conv_same_np(x, k, b) + bb
        np.testing.assert_allclose(first, want1, atol=1e-4)
        # The zero state equals passing zeros explicitly.
        np.testing.assert_allclose(np.asarray(layer([x, np.zeros_like(first)])), first, atol=1e-6)
        second = np.asarray(layer([x, first]))
        np.testing.assert_allclose(second, _conv_same_np(x, k, b) + _conv_same_np(first, kb, bb),
                                   atol=1e-4)
        # Stateless: calling again with no state repeats the first pass.
        np.testing.assert_allclose(np.asarray(layer([x])), first, atol=0)
        # Upsampling variant: nearest x2 first; reflection padding at stride 2 is symmetric.
        up = RecurrentConv2D(2, 3, upsample=2)
        self.assertEqual(tuple(up([x]).shape), (2, 16, 20, 2))
        self.assertEqual(RecurrentConv2D(2, 3, strides=2).compute_output_shape((1, 9, 10, 3)),
                         (1, 5, 5, 2))
        with self.assertRaisesRegex(ValueError, "padding"):
            RecurrentConv2D(2, padding="same")
        with self.assertRaisesRegex(ValueError, "odd"):
            RecurrentConv2D(2, 4)


class ContextualAttentionTest(TestCase):
    def _inputs(self, rng, mask_stride=8):
        def fn(b, h, w):
            f = rng.normal(size=(b, h, w, 4)).astype("float32")
            s = mask_stride // 2
            m = np.ones((b, s * h, s * w, 1), "float32")
            for i in range(b):
                y, x = rng.integers(0, s * h // 2), rng.integers(0, s * w // 2)
                m[i, y:y + s * h // 2, x:x + s * w // 2] = 0
            return [f, m]
        return fn

    def test_layer_contract(self):
        # mask_stride 2: mask and features share a size, as the standard export check needs.
        self.run_layer_test(ContextualAttention, {"mask_stride": 2},
                            self._inputs(np.random.default_rng(0), 2),
                            sizes=((8, 8), (6, 10)), expected_num_trainable_weights=0,
                            atol=1e-4)

    def test_matches_numpy_reference_per_sample(self):
        rng = np.random.default_rng(2)
        f, m = self._inputs(rng)(2, 8, 12)
        got = np.asarray(ContextualAttention()([f, m]))
        np.testing.assert_allclose(got, _attention_np(f, m), atol=1e-4, rtol=1e-4)
        first = np.asarray(ContextualAttention(mask_mode="first")([f, m]))
        want = _attention_np(f, np.repeat(m[:1], 2, axis=0))
        np.testing.assert_allclose(first, want, atol=1e-4, rtol=1e-4)
        with self.assertRaisesRegex(ValueError, "even"):
            ContextualAttention()([f[:, :7], m])


class DenseMultiScaleFusionTest(TestCase):
    def test_layer_contract(self):
        rng = np.random.default_rng(0)
        self.run_layer_test(
            DenseMultiScaleFusion, {},
            lambda b, h, w: [rng.normal(size=(b, h, w, 8)).astype("float32")],
            sizes=((16, 16), (12, 20)), expected_num_trainable_weights=18,
        )
        with self.assertRaisesRegex(ValueError, "multiple of 4"):
            DenseMultiScaleFusion()(np.zeros((1, 8, 8, 6), "float32"))
