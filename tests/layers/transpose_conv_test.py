"""PhaseConv2DTranspose against keras.layers.Conv2DTranspose with the same weights."""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.test_case import TestCase
from tfinpaint.export import tflite
from tfinpaint.layers.transpose_conv import PhaseConv2DTranspose


class PhaseConv2DTransposeTest(TestCase, parameterized.TestCase):
    @parameterized.parameters(
        (4, 2, 5, 7, True), (2, 2, 4, 3, False), (6, 3, 3, 5, True), (3, 1, 6, 4, True)
    )
    def test_matches_conv2d_transpose(self, k, s, h, w, bias):
        x = np.random.default_rng(k + s).standard_normal((2, h, w, 6)).astype("float32")
        phase = PhaseConv2DTranspose(5, k, strides=s, padding="same", use_bias=bias,
                                     bias_initializer="random_normal")
        ref = keras.layers.Conv2DTranspose(5, k, strides=s, padding="same", use_bias=bias)
        got = np.asarray(phase(x))
        ref.build(x.shape)
        ref.set_weights(phase.get_weights())
        want = np.asarray(ref(x))
        self.assertEqual(got.shape, (2, h * s, w * s, 5))
        # Same multiply-adds in another order: float32 rounding only.
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
        self.assertEqual([v.path.split("/")[-1] for v in phase.weights],
                         [v.path.split("/")[-1] for v in ref.weights])

    def test_other_settings_fall_back_to_the_parent(self):
        x = np.random.default_rng(0).standard_normal((1, 5, 5, 2)).astype("float32")
        phase = PhaseConv2DTranspose(3, 3, strides=2, padding="valid")
        self.assertFalse(phase._phase_path())
        ref = keras.layers.Conv2DTranspose(3, 3, strides=2, padding="valid")
        ref.build(x.shape)
        phase.build(x.shape)
        ref.set_weights(phase.get_weights())
        np.testing.assert_allclose(np.asarray(phase(x)), np.asarray(ref(x)), atol=1e-6)

    def test_serializes_and_runs_on_dynamic_shapes(self):
        layer = PhaseConv2DTranspose(4, 4, strides=2, padding="same", name="up")
        clone = PhaseConv2DTranspose.from_config(layer.get_config())
        self.assertEqual(clone.get_config(), layer.get_config())
        fn = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, 3])])
        self.assertEqual(fn(tf.zeros((1, 3, 5, 3))).shape, (1, 6, 10, 4))

    def test_tflite_has_no_transpose_conv(self):
        layer = PhaseConv2DTranspose(4, 4, strides=2, padding="same")
        layer.build((1, 8, 8, 3))
        fn = tf.function(layer, input_signature=[tf.TensorSpec([1, 8, 8, 3])])
        holder = tf.Module()
        holder.v = [v.value for v in layer.variables]
        flat = tf.lite.TFLiteConverter.from_concrete_functions(
            [fn.get_concrete_function()], holder).convert()
        ops = tflite.list_ops(flat)
        self.assertNotIn("TRANSPOSE_CONV", ops)
        self.assertIn("DEPTH_TO_SPACE", ops)
