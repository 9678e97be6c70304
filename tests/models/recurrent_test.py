"""Baik's recurrent coarse-to-refine generator: parity with the official code, contract, any size.

Parity fixture ``shared/fixtures/baik``: outputs of the official ``model.py::WrappingModule``
(PyTorch, CPU) with parameters rebuilt from the manifest recipe and loaded through the strict
converter. The fixture feeds the same mask to both samples (the official contextual attention
uses the first sample's mask); the port is run with ``attention_mask_mode="first"`` for it, and
separately shown to give each sample its own attention with ``"per_sample"``.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from tests.test_case import TestCase
from tfinpaint.convert.common import ConversionError
from tfinpaint.convert.fixture_params import fixture_cases, fixture_state_dict
from tfinpaint.convert.recurrent import (
    GENERATOR_TABLE,
    LOSS_NETWORK_PREFIXES,
    convert_checkpoint,
    export_state_dict,
)
from tfinpaint.models import build

GEN_KEYS = ("coarse", "refine", "coarse_bottleneck", "state_dec8", "refine_attention")


@pytest.fixture(scope="module")
def baik(fixtures_dir):
    folder = fixtures_dir / "baik"
    arrays, tol = fixture_cases(folder)
    return {"state": fixture_state_dict(folder, prefix="generator."), "arrays": arrays,
            "tol": tol}


@pytest.fixture(scope="module")
def converted(baik):
    return convert_checkpoint(baik["state"], attention_mask_mode="first",
                              return_intermediates=True)


def _check(baik, case, outputs, keys):
    report = {}
    for key in keys:
        want = baik["arrays"][f"{case}/{key}"]
        got = keras.ops.convert_to_numpy(outputs["output" if key == "refine" else key])
        assert got.shape == want.shape, (case, key, got.shape, want.shape)
        diff = float(np.max(np.abs(got - want)))
        tol = baik["tol"][case][key]
        report[key] = f"{diff:.3g} <= {tol:.3g}"
        assert diff <= tol, f"{case}/{key}: max |diff| {diff:.3g} > tolerance {tol:.3g}"
    print(case, report)


def _inputs(baik, case):
    a = baik["arrays"]
    # Official mask: 1 = hole; the library's: 1 = known.
    return a[f"{case}/image"], 1.0 - a[f"{case}/mask"]


def test_parity_eval_and_train_forward(baik, converted):
    _check(baik, "eval_forward", converted(_inputs(baik, "eval_forward"), training=False),
           GEN_KEYS)
    _check(baik, "train_forward", converted(_inputs(baik, "train_forward"), training=True),
           ("coarse", "refine"))


def test_converter_is_strict_and_round_trips(baik, converted):
    state = dict(baik["state"])
    exported = export_state_dict(converted)
    stripped = {k[len("generator."):]: v for k, v in state.items()}
    assert set(exported) == set(stripped)
    for key, value in exported.items():
        np.testing.assert_array_equal(value, stripped[key])
    assert len(GENERATOR_TABLE) * 2 == len(stripped)
    broken = dict(stripped)
    del broken["main_module.decoder_layer3.recurrent_conv.buffer_conv.bias"]
    broken["main_module.extra.weight"] = np.zeros(3, np.float32)
    with pytest.raises(ConversionError, match=r"(?s)missing keys.*buffer_conv.bias.*extra"):
        convert_checkpoint(broken)
    # A fixture with the loss network must name it to be skipped.
    with pytest.raises(ConversionError, match="ignore_prefixes"):
        convert_checkpoint({**state, "vgg19.relu1_1.0.bias": np.zeros(64, np.float32)})
    convert_checkpoint({**state, "vgg19.relu1_1.0.bias": np.zeros(64, np.float32)},
                       ignore_prefixes=LOSS_NETWORK_PREFIXES)


class RecurrentRefineContractTest(TestCase):
    def test_generator_contract(self):
        model, outputs = self.run_generator_test("recurrent_refine", {"cnum": 8})
        self.assertEqual(model.size_multiple, 8)
        self.assertEqual(set(outputs), {"output", "coarse"})
        self.assertGreaterEqual(float(outputs["coarse"].min()), 0.0)
        self.assertLessEqual(float(outputs["coarse"].max()), 1.0)

    def test_non_square_batch3_per_sample_equals_alone(self):
        # 256x384-like aspect at a small size: every sample with its own mask gives what it
        # gives alone (the official code would use sample 0's mask for the whole batch).
        model = build("recurrent_refine", cnum=8, return_intermediates=True)
        rng = np.random.default_rng(3)
        image = rng.uniform(size=(3, 64, 96, 3)).astype("float32")
        mask = np.ones((3, 64, 96, 1), "float32")
        mask[0, 8:40, 8:50] = 0
        mask[1, 30:60, 40:90] = 0
        mask[2, :, 70:] = 0
        batch = model((image, mask))
        for i in range(3):
            alone = model((image[i:i + 1], mask[i:i + 1]))
            for key in ("output", "coarse", "refine_attention"):
                np.testing.assert_allclose(np.asarray(batch[key])[i:i + 1],
                                           np.asarray(alone[key]), atol=2e-5, rtol=1e-4)
        # The official first-sample mask changes samples 1 and 2 (a parity option only).
        first = build("recurrent_refine", cnum=8, attention_mask_mode="first",
                      return_intermediates=True)
        first.set_weights(model.get_weights())
        shared = np.asarray(first((image, mask))["refine_attention"])
        own = np.asarray(batch["refine_attention"])
        np.testing.assert_allclose(shared[0], own[0], atol=1e-5)
        self.assertGreater(float(np.abs(shared[1:] - own[1:]).max()), 1e-3)

    def test_discriminator_follows_the_generator_cnum(self):
        # The official Discriminator hard-codes 48 = inpaint.yml's generator cnum: the registry
        # gives the discriminator the generator's cnum (what `tfinpaint train --config` uses).
        from tfinpaint.models.registry import build_discriminator

        self.assertEqual(build_discriminator("recurrent_refine").cnum, 48)
        disc = build_discriminator("recurrent_refine", cnum=8, attention_mask_mode="first")
        self.assertEqual(disc.cnum, 8)
        out = disc((np.zeros((1, 64, 128, 3), "float32"), np.ones((1, 64, 128, 1), "float32")))
        self.assertEqual(tuple(out["logits"].shape), (1, 1, 2, 96))
        self.assertEqual(tuple(out["features"][0].shape), (1, 32, 64, 8))
        with self.assertRaisesRegex(KeyError, "width"):
            build_discriminator("recurrent_refine", width=8)
        with self.assertRaisesRegex(ValueError, "no discriminator"):
            build_discriminator("rfr_net")

    def test_bad_config(self):
        with self.assertRaisesRegex(ValueError, "cnum"):
            build("recurrent_refine", cnum=7)
        with self.assertRaisesRegex(ValueError, "mask_mode"):
            build("recurrent_refine", cnum=8, attention_mask_mode="last")


# ----------------------------------------------------------------------------------------------
# Discriminator and losses
# ----------------------------------------------------------------------------------------------
SN_ORDER = ("conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "edge1", "edge2", "edge3",
            "edge4", "edge5", "concat")


def _disc_check(baik, key, got):
    want = baik["arrays"][f"discriminator/{key}"]
    got = keras.ops.convert_to_numpy(got)
    assert got.shape == want.shape, (key, got.shape, want.shape)
    diff = float(np.max(np.abs(got - want)))
    tol = baik["tol"]["discriminator"][key]
    assert diff <= tol, f"discriminator/{key}: max |diff| {diff:.3g} > tolerance {tol:.3g}"
    return f"{diff:.3g} <= {tol:.3g}"


def test_discriminator_parity_eval_and_train_sn(fixtures_dir, baik):
    from tfinpaint.convert.recurrent import convert_discriminator

    state = fixture_state_dict(fixtures_dir / "baik", prefix="discriminator.")
    assert any(".spec_norm." in k for k in state)  # the official duplicate names are accepted
    a = baik["arrays"]
    known = 1.0 - a["discriminator/mask"]
    disc = convert_discriminator(state)
    report = {"sigma_eval": _disc_check(
        baik, "sigma_eval", np.array([float(disc.get_layer(n).sigma()) for n in SN_ORDER]))}
    for which, x in (("real", a["discriminator/image"]), ("fake", a["discriminator/complete"])):
        out = disc((x, known), training=False)
        report[which] = [_disc_check(baik, f"{which}_logits", out["logits"]),
                         _disc_check(baik, f"{which}_f1", out["features"][0]),
                         _disc_check(baik, f"{which}_f2", out["features"][1])]
    for which, x in (("real", a["discriminator/image"]), ("fake", a["discriminator/complete"])):
        fresh = convert_discriminator(state)  # each train-mode call starts from the stored u
        out = fresh((x, known), training=True)
        report[f"{which}_trainsn"] = _disc_check(baik, f"{which}_logits_trainsn", out["logits"])
    sig = np.array([float(fresh.get_layer(n).sigma()) for n in SN_ORDER])
    report["sigma_trainsn"] = _disc_check(baik, "sigma_trainsn", sig)
    print(report)
    # Strict: a spec_norm alias that differs from its conv entry is refused.
    bad = dict(state)
    bad["discriminator.conv1.spec_norm.bias"] = bad["discriminator.conv1.conv.bias"] + 1.0
    with pytest.raises(ConversionError, match="spec_norm"):
        convert_discriminator(bad)
    with pytest.raises(ValueError, match="multiples of 64"):
        disc((np.zeros((1, 96, 64, 3), "float32"), np.ones((1, 96, 64, 1), "float32")))


def _loss_check(a, tol, key, got):
    want = float(a[f"loss/{key}"])
    got = float(got)
    assert abs(got - want) <= tol[key], f"loss/{key}: got {got!r}, official {want!r}"
    return f"{abs(got - want):.3g} <= {tol[key]:.3g}"


def test_sobel_loss_parity(baik):
    from tfinpaint.losses import sobel_edge_loss

    a, tol = baik["arrays"], baik["tol"]["loss"]
    print(_loss_check(a, tol, "sobel", 10.0 * sobel_edge_loss(a["loss/image"], a["loss/refine"])))


@pytest.mark.large  # VGG19 at 256x256 on 6 images
def test_recipe_loss_parity_every_term_and_totals(fixtures_dir, baik):
    """The recipe's terms through GeneratorLoss (as the trainer computes them), the hinge
    losses and the totals against the official train.py composition."""
    import re
    import warnings

    from tfinpaint.losses import FeatureExtractor, GeneratorLoss, get_adversarial_loss
    from tfinpaint.training.recipes import get_recipe

    recipe = get_recipe("recurrent_refine")
    a, tol = baik["arrays"], baik["tol"]["loss"]
    params = {re.sub(r"^vgg19\.relu\d_\d\.", "", k): v for k, v in
              fixture_state_dict(fixtures_dir / "baik", prefix="vgg19.").items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fx = FeatureExtractor("vgg19", recipe.feature_layers, weights=None, normalization="none")
    fx.set_weights_from_torch_vgg(params)
    loss = GeneratorLoss(recipe.terms, feature_extractor=fx, layer_sets=recipe.layer_sets())
    d = {k.split("/", 1)[1]: a[k] for k in a if k.startswith("discriminator/")}
    disc_features = ([d["real_f1"], d["real_f2"]], [d["fake_f1"], d["fake_f2"]])
    known = 1.0 - a["loss/mask"]
    total, values = loss(a["loss/image"], known,
                         {"output": a["loss/refine"], "coarse": a["loss/coarse"]},
                         disc_features=disc_features)
    weights = {t.metric_name: t.weight for t in recipe.terms}
    report = {key: _loss_check(a, tol, key, weights[key] * values[key]) for key in values}
    hinge = get_adversarial_loss(recipe.adversarial)
    gen = recipe.adversarial_weight * hinge.generator_loss(d["fake_logits"])
    report["gen"] = _loss_check(a, tol, "gen", gen)
    report["dis"] = _loss_check(a, tol, "dis",
                                hinge.discriminator_loss(d["real_logits"], d["fake_logits"]))
    report["g_total"] = _loss_check(a, tol, "g_total", total + gen)
    assert set(report) == {"refine_l1", "perceptual", "style", "feature", "sobel", "hp_l1",
                           "lp_l1", "lp_perceptual", "gen", "dis", "g_total"}
    print(report)


def test_cli_convert_generator_and_discriminator(fixtures_dir, tmp_path):
    """``tfinpaint convert --model recurrent_refine GEN.npz --discriminator DIS.npz``."""
    from tfinpaint.cli import main

    folder = fixtures_dir / "baik"
    gen = {k[len("generator."):]: v
           for k, v in fixture_state_dict(folder, prefix="generator.").items()}
    dis = {k[len("discriminator."):]: v
           for k, v in fixture_state_dict(folder, prefix="discriminator.").items()}
    np.savez(tmp_path / "gen.npz", **gen)
    np.savez(tmp_path / "dis.npz", **dis)
    out = tmp_path / "run"
    assert main(["convert", "--model", "recurrent_refine", str(tmp_path / "gen.npz"), str(out),
                 "--discriminator", str(tmp_path / "dis.npz")]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["config"] == {"cnum": 48}
    assert (out / "discriminator.weights.h5").stat().st_size > 1e6
    model = build("recurrent_refine", **config["config"])
    model.load_weights(str(out / "generator.weights.h5"))
    np.testing.assert_array_equal(
        model.refine_concat_2.kernel.numpy(),
        np.transpose(gen["refine_module.concatenation.3.weight"], (2, 3, 1, 0)))
