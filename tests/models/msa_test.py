"""MSA-Net (MANet): parity with the official PyTorch code through the strict converter, and the
generator contract.

Fixture ``shared/fixtures/manet`` (official ``net.py::PConvUNet`` + ``Discriminator``, 256x256,
batch 2): parameters rebuilt from the manifest recipe, loaded with
:func:`tfinpaint.convert.msa.convert_checkpoint` (generator and discriminator, strict), every
array of every case compared within the manifest's tolerance.
"""

from __future__ import annotations

import re
import warnings

import keras
import numpy as np
import pytest

from tests.test_case import TestCase
from tfinpaint.convert.common import ConversionError
from tfinpaint.convert.fixture_params import fixture_cases, fixture_state_dict
from tfinpaint.convert.msa import (
    LOSS_NETWORK_PREFIXES,
    convert_checkpoint,
    export_state_dict,
    split_checkpoint,
)
from tfinpaint.layers.spectral_norm import SpectralNorm
from tfinpaint.models import build
from tfinpaint.models.msa import MSANet


@pytest.fixture(scope="module")
def manet(fixtures_dir):
    folder = fixtures_dir / "manet"
    arrays, tol = fixture_cases(folder)
    state = fixture_state_dict(folder)
    model = convert_checkpoint(state, return_intermediates=True,
                               ignore_prefixes=LOSS_NETWORK_PREFIXES)
    return {"state": state, "arrays": arrays, "tol": tol, "model": model, "report": {}}


def _check(fixture, case, key, got):
    want = fixture["arrays"][f"{case}/{key}"]
    got = np.asarray(keras.ops.convert_to_numpy(got), "float32").reshape(want.shape)
    diff = float(np.max(np.abs(got - want)))
    tol = fixture["tol"][case][key]
    fixture["report"][f"{case}/{key}"] = (diff, tol)
    print(f"{case}/{key}: max|diff| {diff:.3g} <= tol {tol:.3g}")
    assert diff <= tol, f"{case}/{key}: max |diff| {diff:.3g} > tolerance {tol:.3g}"


def _inputs(fixture, case):
    a = fixture["arrays"]
    mask = a[f"{case}/mask"]
    assert np.array_equal(mask, np.repeat(mask[..., :1], 3, -1))
    # The official net gets image * mask; the partial convs mask anyway, so the raw image works
    # too (checked by feeding the fixture's `input` here and the plain image in the train case).
    return a[f"{case}/input"] if f"{case}/input" in a else a[f"{case}/image"], mask[..., :1]


def test_parity_generator_eval_and_train(manet):
    model = manet["model"]
    out = model(_inputs(manet, "eval_forward"), training=False)
    for key in ("output", "ca1", "ca2", "ca1_attention"):
        _check(manet, "eval_forward", key, out[key])
    # Train mode: batch statistics (the moving-stat update does not change this output).
    image = manet["arrays"]["train_forward/image"]
    mask = manet["arrays"]["train_forward/mask"][..., :1]
    _check(manet, "train_forward", "output", model((image, mask), training=True)["output"])


def test_parity_discriminator_eval_and_train_spectral_norm(manet):
    a = manet["arrays"]
    _, d_state = split_checkpoint(manet["state"], LOSS_NETWORK_PREFIXES)
    disc = manet["model"].converted_discriminator
    sns = [disc.get_layer(f"conv_{k}") for k in range(1, 6)]
    assert all(isinstance(s, SpectralNorm) for s in sns)
    _check(manet, "discriminator", "sigma_eval", [s.sigma() for s in sns])
    for who, x in (("real", a["discriminator/image"]), ("fake", a["discriminator/fake"])):
        logits = disc(x, training=False)["logits"]
        _check(manet, "discriminator", f"d_{who}_logits", logits)
        _check(manet, "discriminator", f"d_{who}", keras.ops.sigmoid(logits))
    u_stored = [s.u.numpy().copy() for s in sns]
    for who, x in (("real", a["discriminator/image"]), ("fake", a["discriminator/fake"])):
        for s, u in zip(sns, u_stored):  # a fresh copy holding the manifest u, as the fixture
            s.u.assign(u)
        _check(manet, "discriminator", f"d_{who}_trainsn",
               keras.ops.sigmoid(disc(x, training=True)["logits"]))
        _check(manet, "discriminator", "sigma_trainsn", [s.sigma() for s in sns])
    # Eval mode never touched u, v; train mode wrote them (one power iteration).
    assert not np.allclose(sns[0].u.numpy(), d_state["conv1.0.weight_u"])


def test_parity_losses_through_recipe(manet, fixtures_dir):
    """Generator terms, weighted total (recipe msa_net) and the recipe-weighted D loss."""
    from tfinpaint.losses import FeatureExtractor, GeneratorLoss, get_adversarial_loss
    from tfinpaint.training.recipes import get_recipe

    a = manet["arrays"]
    recipe = get_recipe("msa_net")
    offset = {"1": 0, "2": 5, "3": 10}  # MANet's VGG16 slices enc_1..3 = features[:5|5:10|10:17]
    params = {}
    for key, value in manet["state"].items():
        if m := re.fullmatch(r"vgg16\.enc_(\d)\.(\d+)\.(weight|bias)", key):
            params[f"{offset[m.group(1)] + int(m.group(2))}.{m.group(3)}"] = value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fx = FeatureExtractor(recipe.feature_network, recipe.feature_layers, weights=None,
                              normalization=recipe.feature_normalization)
    fx.set_weights_from_torch_vgg(params)
    real, mask, fake = a["loss/image"], a["loss/mask"][..., :1], a["loss/output"]
    total, terms = GeneratorLoss(recipe.terms, fx)(real, mask, {"output": fake})
    for name in ("tv", "style", "perceptual", "valid", "hole"):
        _check(manet, "loss", name, terms[name])
    disc = manet["model"].converted_discriminator
    # Fresh stored u, v (the previous test ran training calls): reconvert the discriminator.
    disc = convert_checkpoint(manet["state"], ignore_prefixes=LOSS_NETWORK_PREFIXES
                              ).converted_discriminator
    assert recipe.adversarial == "nsgan" and recipe.adversarial_on == "raw"
    adv = get_adversarial_loss(recipe.adversarial)
    fake_logits = disc(fake)["logits"]
    real_logits = disc(real)["logits"]
    adv_g = adv.generator_loss(fake_logits)
    _check(manet, "loss", "adv_g", adv_g)
    _check(manet, "loss", "g_total", total + recipe.adversarial_weight * adv_g)
    _check(manet, "loss", "d",
           recipe.d_loss_weight * adv.discriminator_loss(real_logits, fake_logits))


def test_converter_is_strict_and_round_trips(manet):
    state = {k: v for k, v in manet["state"].items() if not k.startswith("vgg16.")}
    model = convert_checkpoint(state)  # fresh: the parity tests ran training-mode calls
    back = export_state_dict(model, model.converted_discriminator)
    for key, value in state.items():
        np.testing.assert_array_equal(back[key], value, err_msg=key)
    assert sorted(back) == sorted(state)
    bad = dict(state)
    bad["discriminator.features.0.weight_orig"] = bad["discriminator.features.0.weight_orig"] + 1
    with pytest.raises(ConversionError, match="same module"):
        split_checkpoint(bad)
    missing = {k: v for k, v in state.items() if k != "generator.CA_2.SqueezeExc.blocks.2.bias"}
    with pytest.raises(ConversionError, match="CA_2.SqueezeExc.blocks.2.bias"):
        convert_checkpoint(missing)
    with pytest.raises(ConversionError, match="vgg16"):
        convert_checkpoint(manet["state"])  # the loss network is not skipped silently
    # The official g_*.pth layout: {'n_iter', 'generator': state_dict, 'optimizer_G'}.
    g_only = {"n_iter": 3720000,
              "generator": {k[len("generator."):]: v for k, v in state.items()
                            if k.startswith("generator.")}}
    converted = convert_checkpoint(g_only)
    assert converted.converted_discriminator is None
    assert converted.conversion_config == {"layer_size": 8}


class MSANetContractTest(TestCase):
    def test_generator_contract(self):
        self.run_generator_test("msa_net", {"layer_size": 4}, input_size=(32, 48),
                                output_range=None)

    def test_intermediates_and_attention_blend(self):
        model = MSANet(layer_size=4, return_intermediates=True)
        rng = np.random.default_rng(0)
        image = rng.random((2, 32, 64, 3), "float32")
        mask = np.ones((2, 32, 64, 1), "float32")
        mask[0, 8:24, 8:40] = 0
        mask[1, 0:16, 32:64] = 0
        out = model((image, mask))
        self.assertEqual(out["ca1"].shape, (2, 4, 8, 256))
        self.assertEqual(out["ca2"].shape, (2, 8, 16, 128))
        # The official blend keeps the feature at known pixels: where the H/8 mask is 1 the
        # attention output equals the dec_4 feature.
        dec4 = keras.Model(model.inputs, model.get_layer("dec_4_lrelu").output)((image, mask))
        small = mask[:, ::8, ::8]
        known = np.broadcast_to(small, out["ca1_attention"].shape) == 1
        self.assertAllClose(np.asarray(out["ca1_attention"])[known], np.asarray(dec4)[known])
        self.assertFalse(np.allclose(np.asarray(out["ca1_attention"])[~known],
                                     np.asarray(dec4)[~known]))
        # PyTorch BatchNorm2d running_var: 0.9 old + 0.1 * n / (n - 1) * biased batch var.
        bn = model.get_layer("dec_2_bn")
        old = bn.moving_variance.numpy().copy()
        x = keras.Model(model.inputs, model.get_layer("dec_2").output[0])((image, mask),
                                                                          training=True)
        n = np.prod(x.shape[:3])
        model((image, mask), training=True)
        want = 0.9 * old + 0.1 * np.var(np.asarray(x), axis=(0, 1, 2)) * n / (n - 1)
        self.assertAllClose(bn.moving_variance, want, rtol=1e-4)
        with self.assertRaisesRegex(ValueError, "layer_size must be >= 4"):
            MSANet(layer_size=3)
        self.assertEqual(build("msa_net", layer_size=4).size_multiple, 16)
