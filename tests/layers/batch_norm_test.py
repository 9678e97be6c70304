import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from tfinpaint.layers.batch_norm import BatchNorm, set_batchnorm_frozen


def _numpy_bn(x, gamma, beta, mean, var, eps=1e-5):
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


class BatchNormTest(TestCase):
    def test_train_and_eval_match_pytorch_formulas(self):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((4, 5, 6, 3)).astype("float32") * 3 + 1
        bn = BatchNorm()
        bn.build(x.shape)
        bn.gamma.assign(rng.uniform(0.5, 1.5, 3))
        bn.beta.assign(rng.standard_normal(3))
        bn.moving_mean.assign(rng.standard_normal(3))
        bn.moving_variance.assign(rng.uniform(0.5, 2, 3))
        g, b = bn.gamma.numpy(), bn.beta.numpy()
        m0, v0 = bn.moving_mean.numpy(), bn.moving_variance.numpy()
        self.assertAllClose(bn(x, training=False), _numpy_bn(x, g, b, m0, v0), atol=1e-5)
        mu, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))  # biased, as PyTorch's forward
        self.assertAllClose(bn(x, training=True), _numpy_bn(x, g, b, mu, var), atol=1e-4)
        # PyTorch momentum 0.1: new = 0.9 * old + 0.1 * batch mean
        self.assertAllClose(bn.moving_mean, 0.9 * m0 + 0.1 * mu, atol=1e-5)

    def test_frozen_stats_ignores_training_but_keeps_gamma_trainable(self):
        x = np.random.default_rng(1).standard_normal((4, 8, 8, 2)).astype("float32") + 5
        inp = keras.Input((8, 8, 2))
        model = keras.Model(inp, BatchNorm(name="enc_bn")(keras.layers.Conv2D(2, 1)(inp)))
        self.assertLen(set_batchnorm_frozen(model, True, lambda p: "enc" in p), 1)
        bn = model.get_layer("enc_bn")
        before_mean = bn.moving_mean.numpy().copy()
        before_gamma = bn.gamma.numpy().copy()
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        model.fit(x, np.ones_like(x), epochs=1, batch_size=4, verbose=0)
        self.assertAllEqual(bn.moving_mean, before_mean)
        self.assertNotAllClose(bn.gamma, before_gamma)
        self.assertAllClose(bn(x, training=True), bn(x, training=False))

    def test_layer_contract(self):
        def input_fn(b, h, w):
            return [np.random.default_rng(b + h).standard_normal((b, h, w, 4)).astype("float32")]

        self.run_layer_test(
            BatchNorm, {"frozen_stats": True}, input_fn, expected_num_trainable_weights=2,
        )

    def test_unbiased_variance_matches_pytorch_running_var(self):
        # torch.nn.BatchNorm2d: running_var = 0.9 * old + 0.1 * unbiased batch variance, while
        # the forward normalizes with the biased one.
        rng = np.random.default_rng(2)
        x = rng.standard_normal((2, 3, 5, 4)).astype("float32") * 2 + 0.5
        biased, unbiased = BatchNorm(), BatchNorm(unbiased_variance=True)
        for bn in (biased, unbiased):
            bn.build(x.shape)
            bn.moving_variance.assign(np.full(4, 0.7, "float32"))
        out_b, out_u = biased(x, training=True), unbiased(x, training=True)
        self.assertAllClose(out_u, out_b, atol=1e-6)
        var = x.var(axis=(0, 1, 2), ddof=1)  # n = 30 values per channel
        self.assertAllClose(unbiased.moving_variance, 0.9 * 0.7 + 0.1 * var, atol=1e-6)
        self.assertAllClose(biased.moving_variance, 0.9 * 0.7 + 0.1 * var * 29 / 30, atol=1e-6)
        self.assertAllClose(unbiased.moving_mean, 0.1 * x.mean(axis=(0, 1, 2)), atol=1e-6)
        # inside a traced function (dynamic shape), with frozen stats nothing moves
        fn = tf.function(lambda t: unbiased(t, training=True),
                         input_signature=[tf.TensorSpec((None, None, None, 4))])
        before = unbiased.moving_variance.numpy().copy()
        fn(x)
        self.assertAllClose(unbiased.moving_variance, 0.9 * before + 0.1 * var, atol=1e-6)
        unbiased.frozen_stats = True
        after = unbiased.moving_variance.numpy().copy()
        unbiased(x, training=True)
        self.assertAllEqual(unbiased.moving_variance, after)
        with self.assertRaisesRegex(ValueError, "renorm"):
            BatchNorm(unbiased_variance=True, renorm=True)

    def test_unbiased_layer_contract(self):
        def input_fn(b, h, w):
            return [np.random.default_rng(b + h).standard_normal((b, h, w, 3)).astype("float32")]

        self.run_layer_test(
            BatchNorm, {"unbiased_variance": True, "center": False, "scale": False}, input_fn,
            expected_num_trainable_weights=0, run_export=False,
        )
