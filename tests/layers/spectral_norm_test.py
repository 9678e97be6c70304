"""SpectralNorm against a numpy transcription of ``torch.nn.utils.spectral_norm``."""

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from tfinpaint.layers.spectral_norm import SpectralNorm


def _normalize(x, eps=1e-12):
    return x / max(np.linalg.norm(x), eps)


def _torch_matrix(kernel, kind):
    """Keras kernel -> torch ``weight_orig.reshape(out, -1)`` (dim 1 first for transposed)."""
    if kind == "conv":  # (kh, kw, in, out) -> torch (out, in, kh, kw)
        return kernel.transpose(3, 2, 0, 1).reshape(kernel.shape[3], -1)
    if kind == "conv_transpose":  # (kh, kw, out, in) -> torch (in, out, kh, kw) -> dim 1 first
        return kernel.transpose(2, 3, 0, 1).reshape(kernel.shape[2], -1)
    return kernel.T  # Dense (in, out) -> Linear (out, in)


def _torch_step(w_mat, u, v, training, iterations=1):
    """One torch forward: (sigma, new u, new v)."""
    if training:
        for _ in range(iterations):
            v = _normalize(w_mat.T @ u)
            u = _normalize(w_mat @ v)
    return float(u @ (w_mat @ v)), u, v


class SpectralNormTest(TestCase):
    def _check(self, inner, kind, x, twin, rng):
        sn = SpectralNorm(inner)
        sn(x)  # build
        kernel = rng.standard_normal(sn.weight_orig.shape).astype("float32")
        sn.weight_orig.assign(kernel)
        # Stored u, v NOT normalized, v chosen so sigma is negative: used as they are.
        w_mat = _torch_matrix(kernel, kind)
        u0 = rng.standard_normal(sn.u.shape).astype("float32") * 1.7
        v0 = -2.0 * w_mat.T @ u0 / np.linalg.norm(w_mat.T @ u0)
        sn.u.assign(u0)
        sn.v.assign(v0.astype("float32"))
        twin(x)
        if getattr(inner, "use_bias", False):
            bias = rng.standard_normal(inner.bias.shape).astype("float32")
            inner.bias.assign(bias)
            twin.bias.assign(bias)

        def reference(sigma):
            twin.kernel.assign(kernel / sigma)
            return np.asarray(twin(x))

        # Inference: stored u, v, no iteration, no update.
        sigma, _, _ = _torch_step(w_mat, u0, v0, training=False)
        self.assertLess(sigma, 0)
        self.assertAllClose(sn.sigma(), sigma, rtol=1e-5)
        self.assertAllClose(sn(x), reference(sigma), atol=1e-5, rtol=1e-5)
        self.assertAllEqual(sn.u, u0)
        self.assertAllEqual(sn.v, v0.astype("float32"))
        # Two training calls: one power iteration each, written back.
        u, v = u0, v0
        for _ in range(2):
            sigma, u, v = _torch_step(w_mat, u, v, training=True)
            self.assertAllClose(sn(x, training=True), reference(sigma), atol=1e-5, rtol=1e-5)
            self.assertAllClose(sn.u, u, atol=1e-6)
            self.assertAllClose(sn.v, v, atol=1e-6)
            self.assertAllClose(sn.sigma(), sigma, rtol=1e-5)
        self.assertGreater(sigma, 0)
        self.assertAllEqual(sn.weight_orig, kernel)  # the raw weight is never overwritten
        return sn

    def test_conv2d_matches_torch_formulas(self):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2, 9, 7, 3)).astype("float32")
        for use_bias in (False, True):
            conv = dict(filters=5, kernel_size=(4, 3), strides=2, use_bias=use_bias)
            self._check(keras.layers.Conv2D(**conv), "conv", x, keras.layers.Conv2D(**conv), rng)

    def test_conv2d_transpose_and_dense(self):
        rng = np.random.default_rng(1)
        x = rng.standard_normal((2, 5, 6, 3)).astype("float32")
        conv = dict(filters=4, kernel_size=4, strides=2, padding="same")
        self._check(keras.layers.Conv2DTranspose(**conv), "conv_transpose", x,
                    keras.layers.Conv2DTranspose(**conv), rng)
        x = rng.standard_normal((3, 6)).astype("float32")
        self._check(keras.layers.Dense(4, activation="relu"), "dense", x,
                    keras.layers.Dense(4, activation="relu"), rng)

    def test_gradient_flows_through_sigma_not_u_v(self):
        """torch: u, v are constants of the graph, sigma = u . (W v) is differentiated."""
        rng = np.random.default_rng(2)
        x = rng.standard_normal((2, 8, 8, 3)).astype("float32")
        sn = SpectralNorm(keras.layers.Conv2D(4, 3, use_bias=False))
        sn(x)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(sn(x, training=True)))
        (grad,) = tape.gradient(loss, [sn.weight_orig.value])
        u, v = tf.constant(sn.u.numpy()), tf.constant(sn.v.numpy())
        w = tf.Variable(sn.weight_orig.numpy())
        with tf.GradientTape() as tape:
            w_mat = tf.reshape(tf.transpose(w, (3, 2, 0, 1)), (4, -1))
            sigma = tf.reduce_sum(u * tf.linalg.matvec(w_mat, v))
            y = tf.nn.conv2d(x, w / sigma, 1, "VALID")
            want = tape.gradient(tf.reduce_sum(tf.square(y)), w)
        self.assertAllClose(grad, want, atol=1e-4, rtol=1e-4)
        self.assertEqual([w.name for w in sn.trainable_weights], ["kernel"])
        self.assertEqual(sorted(w.name for w in sn.non_trainable_weights), ["u", "v"])

    def test_power_iteration_converges_to_largest_singular_value(self):
        rng = np.random.default_rng(3)
        x = rng.standard_normal((1, 6, 6, 8)).astype("float32")
        sn = SpectralNorm(keras.layers.Conv2D(16, 3, use_bias=False), n_power_iterations=2)
        sn(x)
        sn.weight_orig.assign(sn.weight_orig * 7.0)
        w_mat = _torch_matrix(sn.weight_orig.numpy(), "conv")
        for _ in range(30):
            sn(x, training=True)
        self.assertAllClose(sn.sigma(), np.linalg.svd(w_mat, compute_uv=False)[0], rtol=1e-3)
        self.assertAllClose(np.linalg.norm(sn.u), 1.0, atol=1e-6)

    def test_standard_layer_checks(self):
        inner = keras.saving.serialize_keras_object(keras.layers.Conv2D(4, 3, padding="same"))
        self.run_layer_test(
            SpectralNorm,
            {"layer": inner},
            lambda b, h, w: [np.random.default_rng(b * h).random((b, h, w, 3), "float32")],
            expected_num_trainable_weights=2,
        )

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "Conv1D/2D/3D"):
            SpectralNorm(keras.layers.DepthwiseConv2D(3))
        with self.assertRaisesRegex(ValueError, "n_power_iterations"):
            SpectralNorm(keras.layers.Conv2D(2, 3), n_power_iterations=0)
        with self.assertRaisesRegex(ValueError, "eps"):
            SpectralNorm(keras.layers.Conv2D(2, 3), eps=0.0)

    def test_converter_kinds_spectral_norm_and_linear(self):
        """``convert.common`` kinds: torch ``weight_orig/u/v`` (+ bias) and ``Linear``."""
        from tfinpaint.convert import common

        inp = keras.Input((8, 8, 3))
        x = SpectralNorm(keras.layers.Conv2D(4, 4, strides=2), name="sn_conv")(inp)
        x = keras.layers.GlobalAveragePooling2D()(x)
        x = SpectralNorm(keras.layers.Dense(3, use_bias=False), name="sn_dense")(x)
        out = keras.layers.Dense(2, name="fc")(x)
        model = keras.Model(inp, out)
        table = [common.Row("sn_conv", "D.conv", "spectral_norm"),
                 common.Row("sn_dense", "D.lin", "spectral_norm"),
                 common.Row("fc", "D.fc", "linear")]
        rng = np.random.default_rng(4)
        shapes = {"D.conv.weight_orig": (4, 3, 4, 4), "D.conv.weight_u": (4,),
                  "D.conv.weight_v": (48,), "D.conv.bias": (4,), "D.lin.weight_orig": (3, 4),
                  "D.lin.weight_u": (3,), "D.lin.weight_v": (4,), "D.fc.weight": (2, 3),
                  "D.fc.bias": (2,)}
        state = {k: rng.standard_normal(s).astype("float32") for k, s in shapes.items()}
        self.assertEqual(common.load_state_dict(model, state, table)["assigned"], 9)
        for name, prefix in (("sn_conv", "D.conv"), ("sn_dense", "D.lin")):
            w = state[f"{prefix}.weight_orig"]
            want = state[f"{prefix}.weight_u"] @ (w.reshape(w.shape[0], -1)
                                                  @ state[f"{prefix}.weight_v"])
            self.assertAllClose(model.get_layer(name).sigma(), want, rtol=1e-5)
        self.assertAllClose(model.get_layer("fc").kernel, state["D.fc.weight"].T)
        back = common.table_to_state_dict(model, table)
        self.assertEqual(sorted(back), sorted(state))
        for k in state:
            self.assertAllEqual(back[k], state[k])
        broken = {k: v for k, v in state.items() if k != "D.conv.weight_u"}
        with self.assertRaisesRegex(common.ConversionError, "D.conv.weight_u"):
            common.load_state_dict(model, broken, table)
