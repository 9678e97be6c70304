"""PConv U-Net: architecture, mask propagation against numpy, the generator contract, training,
frozen encoder BatchNorm, export, registry and recipe."""

import json
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tests.test_case import TestCase
from tfinpaint.layers.batch_norm import set_batchnorm_frozen
from tfinpaint.models import registry
from tfinpaint.models.pconv_unet import MaskConcat, PConvUNet, encoder_levels
from tfinpaint.training.recipes import get_recipe, list_recipes


def numpy_mask_update(mask, k, s, p):
    """NVIDIA mask update: 1 where the k x k window (stride s, zero padding p) sees a valid
    pixel in *any* channel. mask (N, H, W, C) 0/1 -> (N, H', W', 1)."""
    m = np.pad(mask.max(axis=-1), [(0, 0), (p, p), (p, p)])
    n, hp, wp = m.shape
    ho, wo = (hp - k) // s + 1, (wp - k) // s + 1
    out = np.zeros((n, ho, wo, 1), "float32")
    for i in range(ho):
        for j in range(wo):
            out[:, i, j, 0] = m[:, i * s : i * s + k, j * s : j * s + k].max(axis=(1, 2))
    return out


def _inputs(n, h, w, seed=0, hole=(slice(20, 44), slice(16, 40))):
    rng = np.random.default_rng(seed)
    image = rng.uniform(size=(n, h, w, 3)).astype("float32")
    mask = np.ones((n, h, w, 1), "float32")
    mask[:, hole[0], hole[1]] = 0.0
    return image, mask


def _probe(model, names):
    """Functional probe returning each named partial conv's (features, mask) outputs."""
    outs = {n: model.get_layer(n).output for n in names}
    return keras.Model(model.inputs, outs)


class PConvUNetTest(TestCase):
    def test_architecture_matches_paper_table(self):
        model = PConvUNet(layer_size=8)
        self.assertEqual(model.size_multiple, 256)
        ks = [7, 5, 5, 3, 3, 3, 3, 3]
        cs = [64, 128, 256, 512, 512, 512, 512, 512]
        self.assertEqual(encoder_levels(8), list(zip(ks, cs)))
        cin = 3
        expected_params = 0
        for i, (k, c) in enumerate(zip(ks, cs), start=1):
            layer = model.get_layer(f"enc_{i}")
            self.assertEqual(tuple(layer.kernel.shape), (k, k, cin, c))
            self.assertEqual((layer.strides, layer.padding), ((2, 2), ((k - 1) // 2,) * 2))
            self.assertIsNone(layer.bias)
            expected_params += k * k * cin * c + (4 * c if i > 1 else 0)
            cin = c
        names = {la.name for la in model.layers}
        self.assertNotIn("enc_1_bn", names)  # first layer has no BatchNorm
        # Decoder: dec_i sees cat(up(dec_{i+1} or enc_L), skip h_{i-1}) -> channels of h_{i-1}.
        skips = [3] + cs
        up = cs[-1]
        for i in range(8, 0, -1):
            out = 3 if i == 1 else cs[i - 2]
            layer = model.get_layer(f"dec_{i}")
            self.assertEqual(tuple(layer.kernel.shape), (3, 3, up + skips[i - 1], out))
            self.assertEqual(layer.strides, (1, 1))
            expected_params += 9 * (up + skips[i - 1]) * out + (4 * out if i > 1 else out)
            up = out
        self.assertIsNotNone(model.get_layer("dec_1").bias)
        self.assertNotIn("dec_1_bn", names)
        self.assertEqual(model.count_params(), expected_params)
        self.assertGreater(expected_params, 32_000_000)  # paper-sized network

    def test_mask_propagation_matches_numpy(self):
        model = PConvUNet(layer_size=5)
        image, mask = _inputs(1, 64, 64)
        names = [f"enc_{i}" for i in range(1, 6)] + [f"dec_{i}" for i in range(5, 0, -1)]
        got = {k: [np.asarray(t) for t in v] for k, v in
               _probe(model, names)((image, mask), training=False).items()}
        ref_enc = [mask]
        for i, (k, _) in enumerate(encoder_levels(5), start=1):
            want = numpy_mask_update(ref_enc[-1], k, 2, (k - 1) // 2)
            self.assertAllEqual(got[f"enc_{i}"][1], want, msg=f"enc_{i} mask")
            ref_enc.append(want)
        # The hole shrinks level by level: enc_1 still has holes, a 24 px hole is gone by enc_3.
        self.assertGreater((got["enc_1"][1] == 0).sum(), 0)
        self.assertTrue(np.all(got["enc_3"][1] == 1))
        prev = ref_enc[-1]
        for i in range(5, 0, -1):
            up = np.repeat(np.repeat(prev, 2, 1), 2, 2)
            cat = np.concatenate([up, ref_enc[i - 1]], axis=-1)
            prev = numpy_mask_update(cat, 3, 1, 1)
            self.assertAllEqual(got[f"dec_{i}"][1], prev, msg=f"dec_{i} mask")
        self.assertTrue(np.all(prev == 1))  # every output pixel is filled
        # Features are zero exactly where the updated mask is zero (no bias leak, NVIDIA).
        feats, upd = got["enc_1"]
        self.assertTrue(np.all(feats[upd[..., 0] == 0] == 0))

    def test_mask_concat_is_per_channel(self):
        a = np.zeros((1, 2, 2, 1), "float32")
        a[0, 0, 0] = 1
        b = np.ones((1, 2, 2, 1), "float32")
        out = np.asarray(MaskConcat((3, 2))([a, b]))
        self.assertEqual(out.shape, (1, 2, 2, 5))
        self.assertAllEqual(out[..., :3], np.repeat(a, 3, -1))
        self.assertAllEqual(out[..., 3:], np.repeat(b, 2, -1))
        self.assertEqual(out.dtype, np.float32)

    def test_decoder_masks_are_per_channel(self):
        # dec_1 sees cat(up(dec_2 features), image): its mask is up(m_dec_2) repeated 64 times
        # followed by the input mask repeated 3 times (NVIDIA multi_channel semantics).
        model = PConvUNet(layer_size=4)
        image, mask = _inputs(1, 32, 32, hole=(slice(4, 14), slice(6, 22)))
        probe = keras.Model(model.inputs, {"cat": model.get_layer("dec_1_mask_concat").output,
                                           "dec_2": model.get_layer("dec_2").output[1]})
        got = {k: np.asarray(v) for k, v in probe((image, mask), training=False).items()}
        up = np.repeat(np.repeat(got["dec_2"], 2, 1), 2, 2)
        self.assertEqual(got["cat"].shape, (1, 32, 32, 67))
        self.assertAllEqual(got["cat"][..., :64], np.repeat(up, 64, -1))
        self.assertAllEqual(got["cat"][..., 64:], np.repeat(mask, 3, -1))
        self.assertFalse(np.array_equal(up, mask))  # the two groups really differ here

    def test_generator_contract_raw_output(self):
        # Default output_activation="none": raw output (paper / NVIDIA), not bounded.
        model, outputs = self.run_generator_test(
            "pconv_unet", {"layer_size": 4}, input_size=(64, 80), output_range=None
        )
        self.assertEqual(sorted(outputs), ["output"])

    def test_bounded_output_activations(self):
        image, mask = _inputs(2, 32, 32)
        for act in ("sigmoid", "clip"):
            model = PConvUNet(layer_size=4, output_activation=act)
            # Large weights push the raw output far outside [0, 1].
            dec1 = model.get_layer("dec_1")
            dec1.kernel.assign(dec1.kernel * 50.0)
            raw = np.asarray(model((image, mask), training=False)["output"])
            self.assertGreaterEqual(raw.min(), 0.0)
            self.assertLessEqual(raw.max(), 1.0)
            self.assertTrue(np.any((raw > 0) & (raw < 1)))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "layer_size must be >= 4"):
            PConvUNet(layer_size=3)
        with self.assertRaisesRegex(ValueError, "output_activation"):
            PConvUNet(layer_size=4, output_activation="tanh")
        model = PConvUNet(layer_size=4)
        image, mask = _inputs(1, 32, 32)
        with self.assertRaisesRegex(ValueError, r"W=40 is not a multiple of size_multiple=16"):
            model((np.zeros((1, 32, 40, 3), "float32"), np.ones((1, 32, 40, 1), "float32")))
        with self.assertRaisesRegex(ValueError, "mask must have 1 channel"):
            model((image, np.ones((1, 32, 32, 3), "float32")))
        with self.assertRaisesRegex(ValueError, "same H and W"):
            model((image, np.ones((1, 48, 32, 1), "float32")))
        with self.assertRaisesRegex(ValueError, r"model\(\(image, mask\)\)"):
            model(image)

    def test_config_round_trip(self):
        model = PConvUNet(layer_size=4, output_activation="sigmoid", hidden_bias=True,
                          freeze_encoder_bn=True, name="g")
        config = json.loads(json.dumps(model.get_config()))
        revived = PConvUNet.from_config(config)
        self.assertEqual(revived.get_config(), config)
        self.assertIsNotNone(revived.get_layer("enc_3").bias)
        self.assertTrue(revived.get_layer("enc_2_bn").frozen_stats)
        self.assertFalse(revived.get_layer("dec_2_bn").frozen_stats)

    def test_base_channels_scales_every_width(self):
        # The shipped default's configuration: 7 levels at half the paper's widths.
        self.assertEqual([c for _, c in encoder_levels(7, 32)],
                         [32, 64, 128, 256, 256, 256, 256])
        model = PConvUNet(layer_size=4, base_channels=16)
        self.assertEqual(tuple(model.get_layer("enc_4").kernel.shape), (3, 3, 64, 128))
        # dec_4 sees up(enc_4) (128) + the enc_3 skip (64) and gives 64 channels.
        self.assertEqual(tuple(model.get_layer("dec_4").kernel.shape), (3, 3, 192, 64))
        self.assertEqual(model.get_config()["base_channels"], 16)
        out = model(_inputs(2, 16, 32))["output"]
        self.assertEqual(tuple(out.shape), (2, 16, 32, 3))
        for bad in (0, 12, 32.5, True):
            with self.assertRaisesRegex(ValueError, "base_channels must be a positive multiple"):
                PConvUNet(layer_size=4, base_channels=bad)

    def test_training_reduces_loss(self):
        keras.utils.set_random_seed(1)
        model = PConvUNet(layer_size=4)
        image, mask = _inputs(2, 32, 32, hole=(slice(8, 20), slice(6, 22)))
        target = tf.constant(image)
        opt = keras.optimizers.Adam(1e-3)

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                out = model((image, mask), training=True)["output"]
                loss = tf.reduce_mean(tf.abs(out - target))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply(grads, model.trainable_variables)
            return loss, grads

        losses = []
        for _ in range(8):
            loss, grads = step()
            losses.append(float(loss))
        self.assertTrue(all(g is not None for g in grads))
        self.assertLess(losses[-1], 0.7 * losses[0], msg=f"losses={losses}")

    def test_frozen_encoder_batchnorm_statistics_do_not_move(self):
        model = PConvUNet(layer_size=4)
        recipe = get_recipe("pconv_unet")
        # The recipe's fine-tune stage freezes the encoder BN only; set_batchnorm_frozen with the
        # encoder name filter is how it is applied.
        self.assertEqual(recipe.finetune.freeze_batchnorm, "encoder")
        n = set_batchnorm_frozen(model, True, name_filter=lambda p: "/enc_" in p)
        self.assertLen(n, 3)  # enc_2_bn .. enc_4_bn
        image, mask = _inputs(2, 32, 32, hole=(slice(8, 20), slice(6, 22)))
        before = {la.name: [w.numpy().copy() for w in la.non_trainable_weights]
                  for la in model.layers if la.name.endswith("_bn")}
        opt = keras.optimizers.Adam(1e-2)
        with tf.GradientTape() as tape:
            out = model((image, mask), training=True)["output"]
            loss = tf.reduce_mean(tf.abs(out - image))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply(grads, model.trainable_variables)
        for la in model.layers:
            if not la.name.endswith("_bn"):
                continue
            moved = any(not np.array_equal(w.numpy(), b)
                        for w, b in zip(la.non_trainable_weights, before[la.name]))
            self.assertEqual(moved, la.name.startswith("dec_"), msg=la.name)
            # gamma / beta still train in the frozen encoder layers (paper Section 4.1)
            self.assertTrue(la.gamma.trainable and la.beta.trainable)
        gamma = model.get_layer("enc_2_bn").gamma
        self.assertFalse(np.allclose(gamma.numpy(), 1.0))

        # freeze_encoder_bn=True at construction gives the same behaviour: with frozen
        # statistics, training=True equals training=False for the encoder.
        frozen = PConvUNet(layer_size=4, freeze_encoder_bn=True)
        probe = _probe(frozen, ["enc_4_relu"])
        a = np.asarray(probe((image, mask), training=True)["enc_4_relu"])
        b = np.asarray(probe((image, mask), training=False)["enc_4_relu"])
        self.assertAllClose(a, b, atol=1e-6)

    def test_export_saved_model_and_tflite(self):
        model = PConvUNet(layer_size=4)
        image, mask = _inputs(1, 32, 48, hole=(slice(8, 20), slice(6, 30)))
        want = np.asarray(model((image, mask), training=False)["output"])
        specs = [tf.TensorSpec((None, None, None, 3), tf.float32, name="image"),
                 tf.TensorSpec((None, None, None, 1), tf.float32, name="mask")]
        fixed = [tf.TensorSpec((1, 32, 48, 3), tf.float32, name="image"),
                 tf.TensorSpec((1, 32, 48, 1), tf.float32, name="mask")]
        with tempfile.TemporaryDirectory() as d:
            archive = keras.export.ExportArchive()
            archive.track(model)
            archive.add_endpoint("serve", lambda x, m: model((x, m), training=False), specs)
            archive.add_endpoint("fixed", lambda x, m: model((x, m), training=False), fixed)
            archive.write_out(d, verbose=False)
            loaded = tf.saved_model.load(d)
            self.assertAllClose(loaded.serve(image, mask)["output"], want, atol=1e-5)
            img2, m2 = _inputs(2, 48, 32)  # another size through the dynamic signature
            self.assertAllClose(loaded.serve(img2, m2)["output"],
                                model((img2, m2), training=False)["output"], atol=1e-5)
            converter = tf.lite.TFLiteConverter.from_saved_model(d, signature_keys=["fixed"])
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            tflite_model = converter.convert()
        from ai_edge_litert.interpreter import Interpreter

        runner = Interpreter(model_content=tflite_model).get_signature_runner("fixed")
        got = runner(image=image, mask=mask)["output"]
        self.assertAllClose(got, want, atol=1e-4, rtol=1e-4)

    def test_mixed_precision(self):
        policy = keras.config.dtype_policy()
        try:
            keras.config.set_dtype_policy("mixed_float16")
            model = PConvUNet(layer_size=4)
            image, mask = _inputs(1, 32, 32, hole=(slice(8, 20), slice(6, 22)))
            out = model((image, mask), training=False)["output"]
            self.assertEqual(out.dtype, tf.float32)
            self.assertTrue(np.all(np.isfinite(out)))
            self.assertTrue(all(w.dtype == "float32" for w in model.weights))
        finally:
            keras.config.set_dtype_policy(policy)

    def test_registry_and_recipe(self):
        self.assertIn("pconv_unet", registry.list_models(kind="keras"))
        spec = registry.get_spec("pconv_unet")
        self.assertEqual((spec.recipe, spec.size_multiple, spec.discriminator),
                         ("pconv_unet", 256, None))
        self.assertEqual(spec.metadata["venue"], "ECCV 2018")
        self.assertIn("NVIDIA/partialconv", spec.metadata["official_repo"])
        self.assertEqual(spec.config["layer_size"], 8)
        model = registry.build("pconv_unet", layer_size=4)
        self.assertIsInstance(model, PConvUNet)
        self.assertEqual(model.size_multiple, 16)
        with self.assertRaisesRegex(KeyError, "layer_sizes"):
            registry.build("pconv_unet", layer_sizes=4)

        self.assertIn("pconv_unet", list_recipes())
        recipe = get_recipe("pconv_unet")
        weights = {t.loss: (t.weight, t.on) for t in recipe.terms}
        self.assertEqual(weights, {
            "valid": (1.0, "raw"), "hole": (6.0, "raw"), "perceptual": (0.05, "both"),
            "style": (120.0, "both"), "tv_dilated": (0.1, "composite"),
        })
        self.assertEqual(recipe.feature_layers, ("pool1", "pool2", "pool3"))
        self.assertEqual((recipe.feature_network, recipe.feature_normalization),
                         ("vgg16", "imagenet"))
        self.assertIsNone(recipe.adversarial)
        self.assertEqual(recipe.g_optimizer.learning_rate, 2e-4)
        self.assertEqual(recipe.finetune.learning_rate, 5e-5)

    def test_recipe_loss_on_model_output(self):
        import warnings

        from tfinpaint.losses import FeatureExtractor, GeneratorLoss

        recipe = get_recipe("pconv_unet")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # random VGG weights warn (tests only)
            fx = FeatureExtractor(recipe.feature_network, recipe.feature_layers, weights=None,
                                  normalization=recipe.feature_normalization)
        loss_fn = GeneratorLoss(recipe.terms, feature_extractor=fx)
        model = PConvUNet(layer_size=4)
        image, mask = _inputs(2, 32, 32, hole=(slice(8, 20), slice(6, 22)))
        total, values = loss_fn(image, mask, model((image, mask), training=True))
        self.assertEqual(sorted(values), ["hole", "perceptual", "style", "tv_dilated", "valid"])
        weighted = sum(t.weight * float(values[t.metric_name]) for t in recipe.terms)
        self.assertAllClose(float(total), weighted, rtol=1e-5)
        self.assertTrue(all(np.isfinite(float(v)) and float(v) > 0 for v in values.values()))
