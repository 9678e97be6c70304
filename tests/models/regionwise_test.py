"""Region-wise inpainting generator: contract, sizes, variants, mixed precision, checkpoints."""

from __future__ import annotations

import keras
import numpy as np

from tests.test_case import TestCase
from tfinpaint.layers.region_conv import RegionConv2D
from tfinpaint.models import build, get_spec
from tfinpaint.models.regionwise import RegionwiseInpaintNet

SMALL = get_spec("regionwise").metadata["test_config"]


def _draw(rng, n, h, w):
    image = rng.uniform(size=(n, h, w, 3)).astype("float32")
    mask = np.ones((n, h, w, 1), "float32")
    mask[:, h // 4 : h // 2 + 4, w // 3 : w // 3 + w // 4] = 0.0
    return image, mask


class RegionwiseTest(TestCase):
    def test_generator_contract(self):
        model, outputs = self.run_generator_test("regionwise", init_kwargs=SMALL)
        self.assertEqual(sorted(outputs), ["output", "stage_1"])
        self.assertGreaterEqual(float(outputs["stage_1"].min()), 0.0)
        self.assertLessEqual(float(outputs["stage_1"].max()), 1.0)
        self.assertEqual(model.size_multiple, 4)
        self.assertEqual(model.min_size, 20)  # 4 * (max rate 4 + 1)

    def test_region_layers_and_official_config(self):
        spec = get_spec("regionwise")
        self.assertEqual(spec.recipe, "regionwise")
        self.assertEqual(spec.config["dilation_rates"], [2, 4, 8, 16])
        model = build("regionwise", **SMALL)
        regions = [la for la in model._flatten_layers() if isinstance(la, RegionConv2D)]
        # Three region-wise decoder layers in stage 1 (com_13 up, com_14, com_15 up).
        self.assertEqual([la.upsample for la in regions], [True, False, True])
        self.assertEqual(tuple(model.s1_com_13.kernel_known.shape), (3, 3, 64, 32))
        self.assertEqual(tuple(model.s1_com_13.kernel_missing.shape), (3, 3, 32, 32))
        self.assertEqual(RegionwiseInpaintNet.from_config(model.get_config()).get_config(),
                         model.get_config())

    def test_min_size_error_and_variant(self):
        model = RegionwiseInpaintNet(cnum=4, dilation_rates=(2, 4, 8, 16))
        self.assertEqual(model.min_size, 68)
        with self.assertRaisesRegex(ValueError, r"H=64 is smaller than min_size=68"):
            model(_draw(np.random.default_rng(0), 1, 64, 72))
        out = model(_draw(np.random.default_rng(0), 1, 68, 72))
        self.assertEqual(tuple(out["output"].shape), (1, 68, 72, 3))
        literal = RegionwiseInpaintNet(cnum=4, dilation_rates=(2,), region_combine="output")
        out = literal(_draw(np.random.default_rng(1), 2, 16, 24))
        self.assertTrue(np.all(np.isfinite(out["stage_1"])))
        self.assertLen(literal.s1_com_14.weights, 4)  # two kernels, two biases

    def test_mixed_precision_and_checkpoint(self):
        import tensorflow as tf

        inputs = _draw(np.random.default_rng(2), 1, 32, 32)
        policy = keras.config.dtype_policy()
        try:
            keras.config.set_dtype_policy("mixed_float16")
            mp = RegionwiseInpaintNet(cnum=4, dilation_rates=(2, 4))
            out = mp(inputs)
            self.assertEqual(keras.backend.standardize_dtype(out["output"].dtype), "float32")
            self.assertTrue(np.all(np.isfinite(out["output"])))
            self.assertEqual(mp.s1_com_14.kernel_known.dtype, "float32")
        finally:
            keras.config.set_dtype_policy(policy)
        model = RegionwiseInpaintNet(cnum=4, dilation_rates=(2, 4))
        want = np.asarray(model(inputs)["output"])
        path = tf.train.Checkpoint(model=model).save(self.get_temp_dir() + "/ckpt")
        other = RegionwiseInpaintNet(cnum=4, dilation_rates=(2, 4))
        other.build(None)
        tf.train.Checkpoint(model=other).restore(path).assert_existing_objects_matched()
        self.assertAllEqual(other(inputs)["output"], want)


def test_export_pads_small_images_to_min_size(tmp_path):
    """The SavedModel graph pads (reflect) to min_size as Inpainter does: a 32 x 44 request
    reaches a model whose rate-16 trunk needs 68 px, and the warmup request is 68 px."""
    import json

    import tensorflow as tf

    from tfinpaint.export.saved_model import export_saved_model
    from tfinpaint.inference import Inpainter

    model = build("regionwise", cnum=4)  # official rates (2, 4, 8, 16): min_size 68
    assert model.min_size == 68
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (1, 32, 44, 3), dtype=np.uint8)
    hole = np.zeros((1, 32, 44, 1), bool)
    hole[:, 8:20, 10:30] = True
    want = Inpainter(model)(image, hole)
    path = export_saved_model(model, tmp_path, "rw", warmup=True)
    assert json.loads((path / "assets.extra" / "tfinpaint.json").read_text())["min_size"] == 68
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    got = serve(image=tf.constant(image), mask=tf.constant(hole.astype(np.uint8)))["inpainted"]
    got = got.numpy()
    assert got.shape == image.shape
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    np.testing.assert_array_equal(got[~hole[..., 0]], image[~hole[..., 0]])
