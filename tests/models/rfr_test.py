"""RFR-Net: parity with the official PyTorch code, generator contract, variants.

Parity fixtures (``shared/fixtures/rfr_net``, via the ``fixtures_dir`` fixture): outputs of the
official ``modules/RFRNet.py::RFRNet`` run on the CPU with parameters rebuilt here from the
manifest recipe (``tfinpaint.convert.fixture_params``) and loaded through the strict converter.
Each key must stay within the manifest's tolerance (10x the official float32-vs-float64 noise).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from scipy import ndimage

from tests.test_case import TestCase
from tfinpaint.convert.fixture_params import fixture_cases, fixture_state_dict
from tfinpaint.convert.rfr import LOSS_NETWORK_PREFIXES, convert_checkpoint
from tfinpaint.layers.batch_norm import BatchNorm, set_batchnorm_frozen
from tfinpaint.models import build, get_spec
from tfinpaint.models.rfr import RFRNet


# ----------------------------------------------------------------------------------------------
# Parity with the official code
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rfr_fixture(fixtures_dir):
    folder = fixtures_dir / "rfr_net"
    arrays, tolerances = fixture_cases(folder)
    return {"state": fixture_state_dict(folder), "arrays": arrays, "tol": tolerances}


def _converted(fixture):
    # A fresh model per use: a training-mode call updates the BatchNorm moving statistics.
    return convert_checkpoint(
        fixture["state"], return_intermediates=True, ignore_prefixes=LOSS_NETWORK_PREFIXES
    )


def _check_case(fixture, case, outputs, keys):
    arrays, tol = fixture["arrays"], fixture["tol"][case]
    report = {}
    for key in keys:
        want = arrays[f"{case}/{key}"]
        got = outputs["iter_features"][:, 0] if key == "iter1" else outputs[key]
        got = keras.ops.convert_to_numpy(got)
        assert got.shape == want.shape, (case, key, got.shape, want.shape)
        diff = float(np.max(np.abs(got - want)))
        report[key] = (diff, tol[key])
        assert diff <= tol[key], f"{case}/{key}: max |diff| {diff:.3g} > tolerance {tol[key]:.3g}"
    print(case, {k: f"{d:.3g} <= {t:.3g}" for k, (d, t) in report.items()})


def _inputs(fixture, case):
    image = fixture["arrays"][f"{case}/image"]
    mask = fixture["arrays"][f"{case}/mask"]
    assert np.array_equal(mask, np.repeat(mask[..., :1], 3, -1)), "fixture masks are 3x 1-ch"
    return image, mask[..., :1]


def test_parity_eval_forward(rfr_fixture):
    model = _converted(rfr_fixture)
    outputs = model(_inputs(rfr_fixture, "eval_forward"), training=False)
    _check_case(rfr_fixture, "eval_forward", outputs, ("output", "stem", "iter1", "merged"))


def test_parity_eval_forward_large_hole(rfr_fixture):
    model = _converted(rfr_fixture)
    outputs = model(_inputs(rfr_fixture, "eval_forward_large_hole"), training=False)
    _check_case(
        rfr_fixture, "eval_forward_large_hole", outputs, ("output", "merged", "iter_masks")
    )
    # The hole closes progressively (boundary to centre) over several recurrences.
    holes = [1.0 - float(m.mean()) for m in np.asarray(outputs["iter_masks"])[0]]
    assert holes[0] > holes[1] > holes[2] > holes[3] > 0.0 and holes[-1] == 0.0, holes


def test_parity_train_forward(rfr_fixture):
    model = _converted(rfr_fixture)
    outputs = model(_inputs(rfr_fixture, "train_forward"), training=True)
    _check_case(rfr_fixture, "train_forward", outputs, ("output",))
    # training=True updated the moving statistics (bn2 six times per call); eval now differs.
    bn2 = model.bn2
    assert not np.allclose(bn2.moving_mean.numpy(), rfr_fixture["state"]["bn2.running_mean"])


def test_frozen_batchnorm_uses_running_statistics(rfr_fixture):
    # Fine-tuning (official RFRNet.train(finetune=True)): every BN in eval mode.
    model = _converted(rfr_fixture)
    bns = [la for la in model._flatten_layers(include_self=False) if isinstance(la, BatchNorm)]
    assert len(bns) == 18  # bn1, bn20, bn2, enc_1..6, dec_1..5, bn3, tail2.bn1..3
    assert len(set_batchnorm_frozen(model, True)) == 18
    inputs = _inputs(rfr_fixture, "eval_forward")
    outputs = model(inputs, training=True)
    _check_case(rfr_fixture, "eval_forward", outputs, ("output",))
    np.testing.assert_array_equal(model.bn2.moving_mean.numpy(),
                                  rfr_fixture["state"]["bn2.running_mean"])


# ----------------------------------------------------------------------------------------------
# Contract, variants, state
# ----------------------------------------------------------------------------------------------
def _draw(rng, n, h, w):
    image = rng.uniform(size=(n, h, w, 3)).astype("float32")
    mask = np.ones((n, h, w, 1), "float32")
    mask[:, h // 4 : h // 2 + 4, w // 3 : w // 3 + w // 4] = 0.0
    return image, mask


def _mask_growth_reference(mask, k, iters):
    """Masks after each recurrence from the mask alone (a pixel becomes valid when any tap of
    its zero-padded window is valid): Pconv1 (k7 s2 p3), Pconv2 (k, p=k//2), then two k x k
    dilations per recurrence."""
    m = np.pad(mask[..., 0] > 0, ((0, 0), (3, 3), (3, 3)))
    h, w = mask.shape[1] // 2, mask.shape[2] // 2
    stem = np.stack([
        ndimage.binary_dilation(mi, np.ones((7, 7)))[3:-3:2, 3:-3:2][:h, :w] for mi in m
    ])

    def grow(x):
        return np.stack([ndimage.binary_dilation(xi, np.ones((k, k))) for xi in x])

    m = grow(stem)
    out = []
    for _ in range(iters):
        m = grow(grow(m))
        out.append(m)
    return np.stack(out, 1)[..., None].astype("float32")


class RFRNetTest(TestCase):
    def test_generator_contract_square(self):
        # iter_num=2 keeps the test fast; the parity tests cover the official 6 recurrences.
        self.run_generator_test(
            "rfr_net", init_kwargs={"iter_num": 2}, input_size=(64, 64), output_range=None
        )

    def test_generator_contract_non_square(self):
        model, outputs = self.run_generator_test(
            "rfr_net", init_kwargs={"iter_num": 2}, input_size=(64, 96), output_range=None,
            check_errors=False, check_saving=False,
        )
        self.assertEqual(model.size_multiple, 16)
        self.assertEqual(get_spec("rfr_net").size_multiple, 16)

    def test_state_is_explicit(self):
        model = build("rfr_net", iter_num=3, return_intermediates=True)
        image, mask = _draw(np.random.default_rng(0), 2, 32, 48)
        a = model((image, mask))
        b = model((image, mask))
        for key in a:
            self.assertAllEqual(a[key], b[key])
        self.assertEqual(tuple(a["iter_masks"].shape), (2, 3, 16, 24, 1))
        self.assertEqual(tuple(a["iter_features"].shape), (2, 3, 16, 24, 64))
        self.assertEqual(tuple(a["stem"].shape), (2, 16, 24, 64))
        self.assertEqual(tuple(a["merged"].shape), (2, 16, 24, 64))

    def test_mask_growth_and_small_hole_variant(self):
        rng = np.random.default_rng(1)
        image, mask = _draw(rng, 1, 64, 64)
        mask[:, 4:60, 8:56] = 0.0  # a big hole needing several recurrences
        holes = {}
        for small_hole, k in ((False, 7), (True, 5)):
            model = RFRNet(iter_num=4, small_hole=small_hole, return_intermediates=True)
            out = model((image, mask))
            self.assertEqual(tuple(model.pconv21.kernel.shape), (k, k, 64, 64))
            self.assertEqual(tuple(model.pconv1.kernel.shape), (7, 7, 3, 64))
            self.assertAllEqual(out["iter_masks"], _mask_growth_reference(mask, k, 4))
            holes[small_hole] = 1.0 - np.asarray(out["iter_masks"]).mean(axis=(0, 2, 3, 4))
        # The 5x5 variant closes the hole more slowly.
        self.assertGreater(holes[True][0], holes[False][0])
        self.assertGreater(holes[False][0], holes[False][1])

    def test_validation_errors(self):
        model = RFRNet(iter_num=1)
        image, mask = _draw(np.random.default_rng(2), 1, 64, 64)
        with self.assertRaisesRegex(ValueError, r"W=72 is not a multiple of size_multiple=16"):
            model((np.zeros((1, 64, 72, 3), "float32"), np.ones((1, 64, 72, 1), "float32")))
        with self.assertRaisesRegex(ValueError, "same H and W"):
            model((image, np.ones((1, 32, 64, 1), "float32")))
        with self.assertRaisesRegex(ValueError, "1 channel"):
            model((image, np.ones((1, 64, 64, 3), "float32")))
        with self.assertRaisesRegex(ValueError, "iter_num"):
            RFRNet(iter_num=0)

    def test_registry_entry(self):
        spec = get_spec("rfr_net")
        self.assertEqual(spec.recipe, "rfr_net")
        self.assertEqual(spec.converter, "tfinpaint.convert.rfr:convert_checkpoint")
        self.assertEqual(spec.config["iter_num"], 6)
        model = build("rfr_net")
        self.assertIsInstance(model, RFRNet)
        self.assertEqual(RFRNet.from_config(model.get_config()).get_config(), model.get_config())

    def test_checkpoint_round_trip(self):
        # tf.train.Checkpoint (the trainer's resume path) and the .weights.h5 of a run dir.
        import tensorflow as tf

        model = RFRNet(iter_num=1)
        inputs = _draw(np.random.default_rng(3), 1, 32, 32)
        want = np.asarray(model(inputs)["output"])
        path = tf.train.Checkpoint(model=model).save(self.get_temp_dir() + "/ckpt")
        other = RFRNet(iter_num=1)
        other(inputs)
        tf.train.Checkpoint(model=other).restore(path).assert_existing_objects_matched()
        self.assertAllEqual(other(inputs)["output"], want)
        h5 = self.get_temp_dir() + "/generator.weights.h5"
        model.save_weights(h5)
        third = RFRNet(iter_num=1)
        third.build(None)
        third.load_weights(h5)
        self.assertAllEqual(third(inputs)["output"], want)

    def test_mixed_precision(self):
        policy = keras.config.dtype_policy()
        try:
            keras.config.set_dtype_policy("mixed_float16")
            model = RFRNet(iter_num=1, return_intermediates=True)
            out = model(_draw(np.random.default_rng(4), 1, 32, 32))
            self.assertEqual(keras.backend.standardize_dtype(out["output"].dtype), "float32")
            self.assertTrue(np.all(np.isfinite(out["output"])))
            self.assertEqual(model.pconv1.kernel.dtype, "float32")
            masks = np.asarray(out["iter_masks"])
            self.assertTrue(np.all((masks == 0) | (masks == 1)))
        finally:
            keras.config.set_dtype_policy(policy)


def test_recipe_matches_official_get_g_loss():
    from tfinpaint.training.recipes import get_recipe
    from tfinpaint.training.trainer import apply_finetune

    recipe = get_recipe("rfr_net")
    terms = {t.loss: (t.weight, t.on) for t in recipe.terms}
    assert terms == {
        "valid": (1.0, "raw"),
        "hole": (6.0, "raw"),
        "perceptual": (0.05, "both"),
        "style": (120.0, "both"),
        "tv": (0.1, "composite"),
    }
    assert recipe.feature_network == "vgg16"
    assert recipe.feature_layers == ("pool1", "pool2", "pool3")
    assert recipe.feature_normalization == "none"
    assert recipe.adversarial is None and recipe.d_optimizer is None
    assert recipe.g_optimizer.learning_rate == 2e-4 and recipe.g_optimizer.epsilon == 1e-8
    assert recipe.finetune.freeze_batchnorm == "all" and recipe.finetune.learning_rate == 5e-5
    assert recipe.data_policy == "random_square_crop"
    # The fine-tune stage freezes every BatchNorm of the generator (18) and sets the lr.
    model = RFRNet(iter_num=1)
    model.build(None)
    optimizer = recipe.g_optimizer.build()
    info = apply_finetune(model, recipe.finetune, optimizer)
    assert len(info["frozen_batchnorm"]) == 18
    assert all(la.frozen_stats for la in model._flatten_layers() if isinstance(la, BatchNorm))
    assert np.isclose(float(optimizer.learning_rate), 5e-5)
