"""The ``madf`` recipe through :class:`GeneratorLoss` equals the official ``InpaintingLoss``
(``shared/fixtures/madf`` case ``loss``) term by term and in total, from the model's [0, 1]
outputs; the style-quirk option changes only the style term."""

import json
import warnings

import numpy as np
import pytest

from tfinpaint.convert.fixture_params import fixture_state_dict
from tfinpaint.losses import FeatureExtractor, GeneratorLoss
from tfinpaint.losses.feature_network import IMAGENET_MEAN, IMAGENET_STD
from tfinpaint.training.recipes import get_recipe
from tfinpaint.training.recipes.madf import madf_recipe

MEAN = np.asarray(IMAGENET_MEAN, "float32")
STD = np.asarray(IMAGENET_STD, "float32")


@pytest.fixture(scope="module")
def madf_loss_case(fixtures_dir):
    folder = fixtures_dir / "madf"
    manifest = json.loads((folder / "manifest.json").read_text())
    tol = next(c for c in manifest["cases"] if c["name"] == "loss")["tolerance"]
    with np.load(folder / "cases.npz") as data:
        a = {k[len("loss/"):]: data[k] for k in data.files if k.startswith("loss/")}
    recipe = get_recipe("madf")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # random init, then the fixture's VGG
        fx = FeatureExtractor(recipe.feature_network, recipe.feature_layers, weights=None,
                              normalization=recipe.feature_normalization)
    fx.set_weights_from_torch_vgg(fixture_state_dict(folder, prefix="vgg16."),
                                  prefix="vgg16.features.")
    # What MADFNet returns: the official normalised outputs mapped to [0, 1] space.
    outputs = {f"output_{k}": a[f"output_{k}"] * STD + MEAN for k in (1, 2, 3)}
    outputs["output"] = outputs["output_3"]
    target = a["gt"] * STD + MEAN
    return a, tol, fx, target, a["mask"][..., :1], outputs


def test_madf_recipe_matches_official_loss(madf_loss_case):
    a, tol, fx, target, mask, outputs = madf_loss_case
    recipe = get_recipe("madf")
    assert recipe.pixel_space == "imagenet" and recipe.g_optimizer.learning_rate == 2e-4
    loss = GeneratorLoss(recipe.terms, fx, pixel_space=recipe.pixel_space)
    total, values = loss(target, mask, outputs)
    official = {
        "hole": values["hole_1"] + values["hole_2"] + values["hole_3"],
        "valid": values["valid_1"] + values["valid_2"] + values["valid_3"],
        "prc": values["prc_2"] + values["prc_3"],
        "style": values["style"],
        "tv": values["tv"],
        "loss_total": total,
    }
    diffs = {k: abs(float(v) - float(a[k])) for k, v in official.items()}
    print({k: f"{float(official[k]):.6g} ({d:.2g} <= {tol[k]:.0g})" for k, d in diffs.items()})
    for key, diff in diffs.items():
        assert diff <= tol[key], f"{key}: {float(official[key])!r} vs official {float(a[key])!r}"
    # In [0, 1] space the same terms would be ~4x smaller: the space matters.
    _, plain = GeneratorLoss(recipe.terms, fx)(target, mask, outputs)
    assert float(plain["hole_1"]) < 0.5 * float(values["hole_1"])

    # The quirk option: only the style term moves, to the final output's style.
    fixed = madf_recipe(official_style_quirk=False)
    assert get_recipe("madf_style_last") == fixed
    _, values_fixed = GeneratorLoss(fixed.terms, fx, pixel_space="imagenet")(target, mask, outputs)
    for key in values:
        if key != "style":
            assert float(values_fixed[key]) == pytest.approx(float(values[key]), rel=1e-6)
    assert abs(float(values_fixed["style"]) - 0.01895203231109914) < 1e-5  # style_quirk_check
