import numpy as np
import tensorflow as tf

from tfinpaint.layers.padding import reflect_pad_to_multiple


class PaddingTest(tf.test.TestCase):
    def test_equals_numpy_reflect_for_any_amount(self):
        rng = np.random.default_rng(0)
        for h, w, m in [(5, 7, 4), (45, 70, 16), (3, 40, 128), (16, 32, 16), (2, 9, 8)]:
            x = rng.random((2, h, w, 3)).astype("float32")
            ph, pw = (-h) % m, (-w) % m
            want = np.pad(x, [(0, 0), (0, ph), (0, pw), (0, 0)], mode="reflect")
            got = reflect_pad_to_multiple(tf.constant(x), m)
            self.assertAllEqual(got, want)

    def test_dynamic_shapes_in_tf_function(self):
        fn = tf.function(lambda x: reflect_pad_to_multiple(x, 16),
                         input_signature=[tf.TensorSpec((None, None, None, 1))])
        self.assertEqual(tuple(fn(tf.zeros((1, 17, 33, 1))).shape), (1, 32, 48, 1))
        self.assertEqual(tuple(fn(tf.zeros((1, 16, 16, 1))).shape), (1, 16, 16, 1))

    def test_one_pixel_dimension_repeats(self):
        x = tf.constant(np.arange(3, dtype="float32").reshape(1, 1, 3, 1))
        got = reflect_pad_to_multiple(x, 4)
        self.assertEqual(tuple(got.shape), (1, 4, 4, 1))
        self.assertAllEqual(got[0, :, :, 0], np.tile([0, 1, 2, 1], (4, 1)))
