import numpy as np
import tensorflow as tf

from tfinpaint.layers.padding import reflect_pad, reflect_pad_to_multiple, sliced_reflect_padding


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


class ReflectPadTest(tf.test.TestCase):
    def test_sliced_form_equals_mirror_pad_and_numpy(self):
        rng = np.random.default_rng(1)
        for h, w, p in [(5, 7, 1), (9, 6, 4), (20, 18, 16)]:
            x = rng.random((2, h, w, 3)).astype("float32")
            want = np.pad(x, [(0, 0), (p, p), (p, p), (0, 0)], mode="reflect")
            self.assertAllEqual(reflect_pad(tf.constant(x), p), want)
            with sliced_reflect_padding():
                sliced = tf.function(lambda t, p=p: reflect_pad(t, p),
                                     input_signature=[tf.TensorSpec((None, None, None, 3))])
                self.assertAllEqual(sliced(tf.constant(x)), want)

    def test_tflite_has_no_mirror_pad_and_is_delegated(self):
        from tfinpaint.export import tflite_profile

        with sliced_reflect_padding():
            fn = tf.function(lambda t: reflect_pad(t, 16),
                             input_signature=[tf.TensorSpec((1, 20, 18, 4))])
            flat = tf.lite.TFLiteConverter.from_concrete_functions(
                [fn.get_concrete_function()]).convert()
        rows = tflite_profile.profile(flat, num_threads=1, reps=1)
        self.assertEqual({r["op"] for r in rows}, {"STRIDED_SLICE", "CONCATENATION"})
        self.assertTrue(all(r["delegated"] for r in rows))

    def test_padding_not_smaller_than_size_is_refused(self):
        with self.assertRaisesRegex(ValueError, "p < size"):
            reflect_pad(tf.zeros((1, 4, 8, 1)), 4)
