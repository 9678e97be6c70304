"""Per-op TFLite profile: every operator appears once, XNNPACK delegation is told apart."""

import numpy as np
import tensorflow as tf

from tfinpaint.export import tflite, tflite_profile


def _model():
    kernel = tf.constant(np.random.default_rng(0).standard_normal((3, 3, 2, 4)), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 2], tf.float32)])
    def fn(x):
        y = tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "SAME"))
        return tf.tile(y, [1, 1, 1, 2])  # TILE: not taken by XNNPACK

    return tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()]).convert()


def test_profile_names_ops_and_delegation():
    flat = _model()
    rows = tflite_profile.profile(flat, num_threads=1, reps=2)
    assert sorted(r["op"] for r in rows) == sorted(tflite.list_ops(flat))  # one op each here
    by_op = {r["op"]: r for r in rows}
    assert by_op["CONV_2D"]["delegated"] is True
    assert by_op["TILE"]["delegated"] is False
    assert by_op["TILE"]["shape"] == [1, 8, 8, 8]
    assert all(r["ms"] is not None and r["ms"] >= 0 for r in rows)
    table = tflite_profile.format_profile(rows)
    assert "TILE" in table and "NO" in table
    assert tflite_profile.whole_model_ms(flat, num_threads=1, reps=2) > 0
