"""Tests for RFR-Net's knowledge-consistent attention, the AttentionModule and feature merge.

The reference below is a direct numpy transcription of the official per-sample formulas
(``modules/Attention.py::KnowledgeConsistentAttention.forward``, read for facts): per sample,
keys = feature + 1e-7 L2-normalised per pixel, a 1x1 correlation of the raw feature with every
key (a ``(h*w, h, w)`` score map), ``avg_pool2d(., 3, 1, 1, count_include_pad=True) * 9``,
softmax over the key axis, the knowledge-consistency blend with ``|ratio| + 1e-7``, and the
transposed 1x1 convolution with the normalised keys. It is written in float64 with loops and a
score-map pooling, unlike the layer (batched float32, propagation applied to the queries).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.test_case import TestCase
from tfinpaint.layers.attention import (
    AttentionModule,
    KnowledgeConsistentAttention,
)
from tfinpaint.layers.feature_merge import AdaptiveFeatureMerge
from tfinpaint.layers.resize import downsample_nearest


def official_kca(feature, mask, prev_scores=None, prev_mask=None, ratio=1.0, propagate=3):
    """Official KCA, per sample, NCHW internally. feature (N,h,w,C), mask (N,h,w,1) at h, w.

    Returns (output (N,h,w,C), scores (N, h*w, h, w) official layout, mask (N,1,h,w)).
    """
    x = np.transpose(feature.astype(np.float64), (0, 3, 1, 2))  # NCHW
    n, c, h, w = x.shape
    kernels_all = np.transpose(x.reshape(n, c, h * w), (0, 2, 1))  # (n, hw, c): key k=(y*w+x)
    outputs, scores_all = [], []
    for i in range(n):
        kern = kernels_all[i] + 1e-7
        kern = kern / np.sqrt(np.sum(kern**2, axis=1, keepdims=True))
        conv = np.einsum("kc,cyx->kyx", kern, x[i])  # F.conv2d(feature, kernels), 1x1
        if propagate != 1:
            padded = np.pad(conv, ((0, 0), (1, 1), (1, 1)))
            pooled = np.zeros_like(conv)
            for dy in range(3):
                for dx in range(3):
                    pooled += padded[:, dy : dy + h, dx : dx + w]
            conv = pooled / 9.0 * 9.0  # avg_pool2d(count_include_pad=True) * 9
        e = np.exp(conv - conv.max(axis=0, keepdims=True))
        att = e / e.sum(axis=0, keepdims=True)
        if prev_scores is not None:
            r = abs(ratio) + 1e-7
            pm = prev_mask[i]  # (1, h, w)
            att = (prev_scores[i] * pm + att * r) / (pm + r)
        scores_all.append(att)
        outputs.append(np.einsum("kyx,kc->cyx", att, kern))  # conv_transpose2d, 1x1
    out = np.transpose(np.stack(outputs), (0, 2, 3, 1))
    masks_prev = np.transpose(mask, (0, 3, 1, 2)).astype(np.float64)
    return out, np.stack(scores_all), masks_prev


def scores_to_official(scores):
    """(N, h, w, h*w) layer layout -> (N, h*w, h, w) official layout."""
    return np.transpose(np.asarray(scores), (0, 3, 1, 2))


@keras.saving.register_keras_serializable(package="tfinpaint_tests")
class KCAOutputOnly(KnowledgeConsistentAttention):
    """KCA without its state outputs, for ``run_layer_test``, which assumes every output has a
    fixed channel count (the state's last axis is h*w). The state is checked separately."""

    def call(self, inputs):
        out, _, mask = super().call(inputs)
        return out, mask

    def compute_output_spec(self, inputs):
        out, _, mask = super().compute_output_spec(inputs)
        return out, mask


@keras.saving.register_keras_serializable(package="tfinpaint_tests")
class AttentionModuleOutputOnly(AttentionModule):
    """AttentionModule without the state outputs (see ``KCAOutputOnly``)."""

    def call(self, inputs):
        out, _, mask = super().call(inputs)
        return out, mask

    def compute_output_spec(self, inputs):
        out, _, mask = super().compute_output_spec(inputs)
        return out, mask


def random_case(rng, n, h, w, c, hole_frac=0.3):
    feature = (rng.standard_normal((n, h, w, c)) * 0.7 + 0.2).astype("float32")
    mask = (rng.uniform(size=(n, h, w, 1)) > hole_frac).astype("float32")
    return feature, mask


class KnowledgeConsistentAttentionTest(TestCase):
    def test_matches_official_formulas_over_recurrences(self):
        rng = np.random.default_rng(1)
        for (h, w), propagate in (((8, 8), 3), ((6, 10), 3), ((5, 7), 1)):
            layer = KnowledgeConsistentAttention(propagate_size=propagate)
            f1, m1 = random_case(rng, 2, h, w, 16)
            f2, m2 = random_case(rng, 2, h, w, 16)
            f3, m3 = random_case(rng, 2, h, w, 16)
            out1, s1, mm1 = layer([f1, m1])
            layer.ratio.assign(np.array([-0.7], "float32"))  # the code uses |ratio|
            out2, s2, mm2 = layer([f2, m2, s1, mm1])
            out3, s3, _ = layer([f3, m3, s2, mm2])

            r_out1, r_s1, r_m1 = official_kca(f1, m1, propagate=propagate)
            r_out2, r_s2, r_m2 = official_kca(f2, m2, r_s1, r_m1, ratio=-0.7,
                                              propagate=propagate)
            r_out3, r_s3, _ = official_kca(f3, m3, r_s2, r_m2, ratio=-0.7, propagate=propagate)
            for got, want in ((out1, r_out1), (out2, r_out2), (out3, r_out3)):
                self.assertAllClose(got, want, atol=2e-5, rtol=1e-5)
            for got, want in ((s1, r_s1), (s2, r_s2), (s3, r_s3)):
                self.assertEqual(tuple(got.shape), (2, h, w, h * w))
                self.assertAllClose(scores_to_official(got), want, atol=1e-6, rtol=1e-5)
            self.assertAllEqual(mm1, m1)

    def test_blend_hand_computed(self):
        # With prev_mask = 1 and |ratio| = 1 the result is the average of old and new scores;
        # with prev_mask = 0 it is the new scores (up to the 1e-7).
        rng = np.random.default_rng(2)
        f, _ = random_case(rng, 1, 4, 4, 8)
        layer = KnowledgeConsistentAttention()
        _, fresh, _ = layer([f, np.ones((1, 4, 4, 1), "float32")])
        prev = rng.uniform(size=(1, 4, 4, 16)).astype("float32")
        prev_mask = np.zeros((1, 4, 4, 1), "float32")
        prev_mask[:, :2] = 1.0
        _, blended, _ = layer([f, np.ones((1, 4, 4, 1), "float32"), prev, prev_mask])
        blended, fresh = np.asarray(blended), np.asarray(fresh)
        self.assertAllClose(blended[:, :2], (prev[:, :2] + fresh[:, :2]) / 2, atol=1e-6)
        self.assertAllClose(blended[:, 2:], fresh[:, 2:], atol=1e-6)
        # Every attention row is a distribution over the keys.
        self.assertAllClose(fresh.sum(-1), np.ones((1, 4, 4)), atol=1e-5)

    def test_stateless_and_batched(self):
        rng = np.random.default_rng(3)
        f, m = random_case(rng, 3, 6, 6, 8)
        layer = KnowledgeConsistentAttention()
        a = layer([f, m])
        b = layer([f, m])  # no hidden state: a second call is identical
        for x, y in zip(a, b):
            self.assertAllEqual(x, y)
        single = layer([f[1:2], m[1:2]])
        self.assertAllClose(a[0][1:2], single[0], atol=1e-6)

    def test_layer_checks(self):
        def input_fn(b, h, w):
            rng = np.random.default_rng(b * 100 + h + w)
            return list(random_case(rng, b, h, w, 8))

        self.run_layer_test(
            KCAOutputOnly,
            {"propagate_size": 3},
            input_fn,
            sizes=((8, 8), (6, 10)),
            expected_num_trainable_weights=1,
            binary_outputs=(1,),
            run_fit=False,  # ratio only acts from the 2nd recurrence: see test_gradients
        )

    def test_gradients(self):
        import tensorflow as tf

        rng = np.random.default_rng(8)
        f1, m1 = random_case(rng, 2, 6, 6, 8)
        f2, m2 = random_case(rng, 2, 6, 6, 8)
        layer = KnowledgeConsistentAttention()
        f2 = tf.constant(f2)
        with tf.GradientTape() as tape:
            tape.watch(f2)
            _, s1, mm1 = layer([f1, m1])
            out, _, _ = layer([f2, m2, s1, mm1])
            loss = tf.reduce_sum(out**2)
        g_ratio, g_f = tape.gradient(loss, [layer.ratio, f2])
        self.assertTrue(np.all(np.isfinite(g_ratio)) and np.abs(g_ratio).sum() > 0)
        self.assertTrue(np.all(np.isfinite(g_f)) and np.abs(g_f).sum() > 0)

    def test_mixed_precision(self):
        policy = keras.config.dtype_policy()
        try:
            keras.config.set_dtype_policy("mixed_float16")
            layer = KnowledgeConsistentAttention()
            f, m = random_case(np.random.default_rng(4), 2, 6, 6, 8)
            out, scores, mask = layer([f, m])
            self.assertEqual(keras.backend.standardize_dtype(out.dtype), "float16")
            self.assertEqual(keras.backend.standardize_dtype(scores.dtype), "float32")
            self.assertEqual(layer.ratio.dtype, "float32")
            ref, _, _ = official_kca(f, m)
            self.assertAllClose(np.asarray(out, "float32"), ref, atol=2e-3)
        finally:
            keras.config.set_dtype_policy(policy)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "propagate_size"):
            KnowledgeConsistentAttention(propagate_size=5)
        layer = KnowledgeConsistentAttention()
        f, m = random_case(np.random.default_rng(5), 1, 4, 4, 8)
        with self.assertRaisesRegex(ValueError, "1 channel"):
            layer([f, np.ones((1, 4, 4, 2), "float32")])
        with self.assertRaisesRegex(ValueError, "height"):
            layer([f, np.ones((1, 8, 4, 1), "float32")])
        with self.assertRaisesRegex(ValueError, "h\\*w"):
            layer([f, m, np.ones((1, 4, 4, 9), "float32"), m])
        with self.assertRaisesRegex(ValueError, "inputs"):
            layer([f, m, m])


class AttentionModuleTest(TestCase):
    def test_matches_official_with_combiner_and_mask_resize(self):
        rng = np.random.default_rng(6)
        h, w, c, s = 4, 6, 8, 4
        f1 = rng.standard_normal((2, h, w, c)).astype("float32")
        f2 = rng.standard_normal((2, h, w, c)).astype("float32")
        big1 = (rng.uniform(size=(2, h * s, w * s, 1)) > 0.4).astype("float32")
        big2 = (rng.uniform(size=(2, h * s, w * s, 1)) > 0.2).astype("float32")
        module = AttentionModule(mask_stride=s)
        y1, s1, m1 = module([f1, big1])
        y2, _, _ = module([f2, big2, s1, m1])

        # PyTorch nearest (F.interpolate(mask, size)): source index floor(i * in / out).
        def torch_nearest(m):
            iy = np.floor(np.arange(h) * (h * s) / h).astype(int)
            ix = np.floor(np.arange(w) * (w * s) / w).astype(int)
            return m[:, iy][:, :, ix]

        self.assertAllEqual(m1, torch_nearest(big1))
        kernel = module.combiner.kernel.numpy()[0, 0]  # (2C, C)
        bias = module.combiner.bias.numpy()
        a1, r_s1, r_m1 = official_kca(f1, torch_nearest(big1))
        a2, _, _ = official_kca(f2, torch_nearest(big2), r_s1, r_m1)
        for y, a, f in ((y1, a1, f1), (y2, a2, f2)):
            want = np.concatenate([a, f], -1) @ kernel + bias  # combiner(cat(att, feature))
            self.assertAllClose(y, want, atol=3e-5, rtol=1e-5)

    def test_nearest_downsample_is_floor_index(self):
        m = np.arange(2 * 16 * 8).reshape(2, 16, 8, 1).astype("float32")
        got = downsample_nearest(keras.ops.convert_to_tensor(m), 4)
        self.assertAllEqual(got, m[:, [0, 4, 8, 12]][:, :, [0, 4]])

    # ratio only acts from the second recurrence, so the fit step has no gradient for it.
    @pytest.mark.filterwarnings("ignore:Gradients do not exist")
    def test_layer_checks(self):
        def input_fn(b, h, w):
            rng = np.random.default_rng(b * 7 + h * w)
            f = rng.standard_normal((b, h, w, 8)).astype("float32")
            m = (rng.uniform(size=(b, h, w, 1)) > 0.3).astype("float32")
            return [f, m]

        # mask_stride 1: the export step feeds every input at the same size (stride 4 is
        # checked against PyTorch's nearest index rule above).
        self.run_layer_test(
            AttentionModuleOutputOnly,
            {"mask_stride": 1},
            input_fn,
            sizes=((6, 6), (4, 10)),
            expected_num_trainable_weights=3,  # ratio, combiner kernel and bias
            binary_outputs=(1,),
        )


class AdaptiveFeatureMergeTest(TestCase):
    def test_hand_computed(self):
        f1 = np.ones((1, 2, 2, 3), "float32")
        f2 = 3.0 * f1
        m1 = np.ones((1, 2, 2, 1), "float32")
        m2 = np.array([1, 0, 1, 0], "float32").reshape(1, 2, 2, 1)
        got = np.asarray(AdaptiveFeatureMerge()([f1, f2, m1, m2]))
        # (1 + 3) / 2 = 2 where both are valid; 1 where only the first is.
        want = np.array([2, 1, 2, 1], "float32").reshape(1, 2, 2, 1) * np.ones((1, 1, 1, 3))
        self.assertAllClose(got, want, atol=1e-6)
        none_valid = AdaptiveFeatureMerge()([[f1, f2], [0 * m1, 0 * m2]])
        self.assertAllEqual(none_valid, np.zeros_like(f1))

    def test_matches_official_mean_ratio(self):
        rng = np.random.default_rng(7)
        feats = [rng.standard_normal((2, 5, 6, 4)).astype("float32") for _ in range(7)]
        masks = [(rng.uniform(size=(2, 5, 6, 1)) > 0.5).astype("float32") for _ in range(7)]
        x = np.stack([f.astype(np.float64) for f in feats], 1)
        m = np.stack([np.broadcast_to(k, f.shape) for k, f in zip(masks, feats)], 1)
        want = (x * m).mean(1) / (m.mean(1) + 1e-7)  # official x3 (per-channel masks)
        got = AdaptiveFeatureMerge()([feats, masks])
        self.assertAllClose(got, want, atol=1e-5)
        # per-channel masks give the same numbers
        got_c = AdaptiveFeatureMerge()([feats, [np.tile(k, (1, 1, 1, 4)) for k in masks]])
        self.assertAllClose(got_c, got, atol=1e-6)

    def test_layer_checks(self):
        def input_fn(b, h, w):
            rng = np.random.default_rng(b + h + w)
            fs = [rng.standard_normal((b, h, w, 4)).astype("float32") for _ in range(3)]
            ms = [(rng.uniform(size=(b, h, w, 1)) > 0.5).astype("float32") for _ in range(3)]
            return fs + ms

        self.run_layer_test(
            AdaptiveFeatureMerge, {}, input_fn, expected_num_trainable_weights=0, run_fit=False
        )

    def test_errors(self):
        f = np.ones((1, 2, 2, 3), "float32")
        m = np.ones((1, 2, 2, 1), "float32")
        with self.assertRaisesRegex(ValueError, "as many masks"):
            AdaptiveFeatureMerge()([[f, f], [m]])
        with self.assertRaisesRegex(ValueError, "channels"):
            AdaptiveFeatureMerge()([[f], [np.ones((1, 2, 2, 2), "float32")]])
        with self.assertRaisesRegex(ValueError, "epsilon"):
            AdaptiveFeatureMerge(epsilon=0.0)
