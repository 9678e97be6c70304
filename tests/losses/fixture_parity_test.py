"""Number-for-number parity of the losses with the official codes' fixtures.

``shared/fixtures/<model>/cases.npz`` case ``loss`` holds what the official PyTorch loss code
returned; the loss-network VGG weights are rebuilt from the manifest recipe with
``tfinpaint.convert.fixture_params.fixture_state_dict`` and loaded with
``FeatureExtractor.set_weights_from_torch_vgg``. Tolerances come from the manifests.
"""

import json
import re
import warnings

import numpy as np
import pytest

from tfinpaint.convert.fixture_params import fixture_state_dict
from tfinpaint.losses import (
    VGG19_PERCEPTUAL_LAYERS,
    VGG19_STYLE_LAYERS,
    FeatureExtractor,
    GeneratorLoss,
    feature_matching_loss,
    get_adversarial_loss,
    high_frequency_loss,
    hole_l1,
    l1,
    low_frequency_loss,
    low_pass,
    perceptual_loss,
    style_loss,
    total_variation,
    valid_l1,
)
from tfinpaint.training.recipes import LossTerm


def _load(fixtures_dir, model):
    folder = fixtures_dir / model
    if not (folder / "cases.npz").exists():
        pytest.skip(f"no {model} fixture")
    manifest = json.loads((folder / "manifest.json").read_text())
    arrays = np.load(folder / "cases.npz")
    case = next(c for c in manifest["cases"] if c["name"] == "loss")
    return folder, arrays, case["tolerance"]


def _extractor(network, layers=None, normalization="none"):
    kwargs = {} if layers is None else {"layers": layers}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # random init, then fixture weights
        return FeatureExtractor(network, weights=None, normalization=normalization, **kwargs)


def _check(got, arrays, key, tol):
    want = float(arrays[key])
    assert abs(float(got) - want) <= tol, f"{key}: got {float(got)!r}, official {want!r}"


RFR_TERMS = (
    LossTerm("valid", 1.0),
    LossTerm("hole", 6.0),
    LossTerm("perceptual", 0.05, on="both"),
    LossTerm("style", 120.0, on="both"),
    LossTerm("tv", 0.1, on="composite"),
)


def test_rfr_net_loss_parity(fixtures_dir):
    folder, a, tol = _load(fixtures_dir, "rfr_net")
    gt, mask, out, comp = (a[f"loss/{k}"] for k in ("gt", "mask", "output", "comp"))
    fx = _extractor("vgg16")
    skipped = fx.set_weights_from_torch_vgg(
        fixture_state_dict(folder / "manifest.json", prefix="vgg16."), prefix="vgg16.features."
    )
    assert skipped == []
    fg, fo, fc = fx(gt), fx(out), fx(comp)
    _check(valid_l1(gt, out, mask), a, "loss/loss_valid", tol["loss_valid"])
    _check(hole_l1(gt, out, mask), a, "loss/loss_hole", tol["loss_hole"])
    _check(
        perceptual_loss(fg, fo) + perceptual_loss(fg, fc),
        a,
        "loss/loss_perceptual",
        tol["loss_perceptual"],
    )
    _check(style_loss(fg, fo) + style_loss(fg, fc), a, "loss/loss_style", tol["loss_style"])
    _check(total_variation(comp, mask), a, "loss/loss_tv", tol["loss_tv"])

    # The recipe-driven loss: composite built inside, 1-channel mask, weighted total.
    total, values = GeneratorLoss(RFR_TERMS, fx)(gt, mask[..., :1], {"output": out})
    for name in ("valid", "hole", "perceptual", "style", "tv"):
        _check(values[name], a, f"loss/loss_{name}", tol[f"loss_{name}"])
    _check(total, a, "loss/loss_total", tol["loss_total"])


def test_madf_loss_parity(fixtures_dir):
    folder, a, tol = _load(fixtures_dir, "madf")
    L = lambda k: a[f"loss/{k}"]  # noqa: E731
    gt, mask, net_input = L("gt"), L("mask"), L("net_input")
    outs = [L(f"output_{i}") for i in (1, 2, 3)]
    comps = [mask * net_input + (1 - mask) * o for o in outs]
    params = fixture_state_dict(folder / "manifest.json", prefix="vgg16.")
    fx = _extractor("vgg16")  # MADF feeds its normalised-space tensors as they are
    fx.set_weights_from_torch_vgg(params, prefix="vgg16.features.")
    fg = fx(gt)
    _check(sum(hole_l1(gt, o, mask) for o in outs), a, "loss/hole", tol["hole"])
    _check(sum(valid_l1(gt, o, mask) for o in outs), a, "loss/valid", tol["valid"])
    prc = sum(
        perceptual_loss(fx(o), fg) + perceptual_loss(fx(c), fg) for o, c in zip(outs[1:], comps[1:])
    )
    _check(prc, a, "loss/prc", tol["prc"])
    # Official index quirk: style uses output 2's features.
    _check(
        style_loss(fx(outs[1]), fg) + style_loss(fx(comps[1]), fg), a, "loss/style", tol["style"]
    )
    _check(total_variation(comps[2]), a, "loss/tv", tol["tv"])  # whole-image TV

    # normalization="imagenet" on [0, 1] images reproduces MADF's VGG input space.
    mean = np.array([0.485, 0.456, 0.406], "float32")
    std = np.array([0.229, 0.224, 0.225], "float32")
    fx_in = _extractor("vgg16", normalization="imagenet")
    fx_in.set_weights_from_torch_vgg(params, prefix="vgg16.features.")
    for i, f in enumerate(fx_in(gt * std + mean).values(), start=1):
        np.testing.assert_allclose(np.asarray(f), L(f"vgg_gt_{i}"), atol=tol[f"vgg_gt_{i}"])


def test_manet_loss_parity(fixtures_dir):
    folder, a, tol = _load(fixtures_dir, "manet")
    L = lambda k: a[f"loss/{k}"]  # noqa: E731
    real, mask, fake = L("image"), L("mask"), L("output")
    comp = fake * (1 - mask) + real * mask
    # MANet names the VGG16 slices enc_1 = features[:5], enc_2 = [5:10], enc_3 = [10:17].
    offset = {"1": 0, "2": 5, "3": 10}
    params = {}
    for key, value in fixture_state_dict(folder / "manifest.json", prefix="vgg16.").items():
        m = re.fullmatch(r"vgg16\.enc_(\d)\.(\d+)\.(weight|bias)", key)
        params[f"{offset[m.group(1)] + int(m.group(2))}.{m.group(3)}"] = value
    fx = _extractor("vgg16")
    fx.set_weights_from_torch_vgg(params)
    fr, ff, fc = fx(real), fx(fake), fx(comp)
    _check(total_variation(comp, mask), a, "loss/tv", tol["tv"])
    _check(style_loss(fr, ff) + style_loss(fr, fc), a, "loss/style", tol["style"])
    _check(
        perceptual_loss(fr, ff) + perceptual_loss(fr, fc), a, "loss/perceptual", tol["perceptual"]
    )
    _check(valid_l1(real, fake, mask), a, "loss/valid", tol["valid"])
    _check(hole_l1(real, fake, mask), a, "loss/hole", tol["hole"])
    nsgan = get_adversarial_loss("nsgan")
    d_real, d_fake = a["discriminator/d_real_logits"], a["discriminator/d_fake_logits"]
    _check(nsgan.generator_loss(d_fake), a, "loss/adv_g", tol["adv_g"])
    # MANet halves its discriminator loss: (BCE(real, 1) + BCE(fake, 0)) / 2.
    _check(0.5 * nsgan.discriminator_loss(d_real, d_fake), a, "loss/d", tol["d"])


@pytest.mark.large  # VGG19 at 256x256 on 4 image pairs
def test_baik_loss_parity(fixtures_dir):
    folder, a, tol = _load(fixtures_dir, "baik")
    L = lambda k: a[f"loss/{k}"]  # noqa: E731
    D = lambda k: a[f"discriminator/{k}"]  # noqa: E731
    image, hole, coarse, refine = L("image"), L("mask"), L("coarse"), L("refine")
    known = 1.0 - hole  # Baik's mask is 1 = hole
    # Baik names its VGG19 convs "relu1_1.0", "relu1_2.2", ...: the number is the features index.
    params = {
        re.sub(r"^vgg19\.relu\d_\d\.", "", k): v
        for k, v in fixture_state_dict(folder / "manifest.json", prefix="vgg19.").items()
    }
    layers = VGG19_PERCEPTUAL_LAYERS + VGG19_STYLE_LAYERS
    fx = _extractor("vgg19", layers=layers)
    assert fx.set_weights_from_torch_vgg(params) == ["32.bias", "32.weight", "34.bias", "34.weight"]

    def pick(feats, names):
        return [feats[n] for n in names]

    fi, fr = fx(image), fx(refine)
    perc = perceptual_loss(pick(fr, VGG19_PERCEPTUAL_LAYERS), pick(fi, VGG19_PERCEPTUAL_LAYERS))
    _check(perc, a, "loss/perceptual", tol["perceptual"])
    style = style_loss(pick(fr, VGG19_STYLE_LAYERS), pick(fi, VGG19_STYLE_LAYERS))
    _check(250.0 * style, a, "loss/style", tol["style"])
    _check(5.0 * l1(image, refine), a, "loss/refine_l1", tol["refine_l1"])
    _check(high_frequency_loss(image, refine, known), a, "loss/hp_l1", tol["hp_l1"])
    _check(low_frequency_loss(image, coarse), a, "loss/lp_l1", tol["lp_l1"])
    fli, flc = fx(low_pass(image)), fx(low_pass(coarse))
    lp_perc = perceptual_loss(
        pick(flc, VGG19_PERCEPTUAL_LAYERS), pick(fli, VGG19_PERCEPTUAL_LAYERS)
    )
    _check(lp_perc, a, "loss/lp_perceptual", tol["lp_perceptual"])
    hinge = get_adversarial_loss("hinge")
    _check(hinge.discriminator_loss(D("real_logits"), D("fake_logits")), a, "loss/dis", tol["dis"])
    _check(0.01 * hinge.generator_loss(D("fake_logits")), a, "loss/gen", tol["gen"])
    fm = feature_matching_loss([D("real_f1"), D("real_f2")], [D("fake_f1"), D("fake_f2")])
    _check(fm, a, "loss/feature", tol["feature"])
