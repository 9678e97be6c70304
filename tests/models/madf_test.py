"""MADF: parity with the official PyTorch code, generator contract, options, converter.

Parity fixtures (``shared/fixtures/madf``, via the ``fixtures_dir`` fixture): outputs of the
official ``net.py::MADFNet`` (layer_size 7, two refinement decoders) run on the CPU with
parameters rebuilt here from the manifest recipe and loaded through the strict converter. Every
stored array of the eval and train cases must stay within the manifest's tolerance (10x the
official float32-vs-float64 noise). The official outputs live in ImageNet-normalised space; the
model returns ``y * STD + MEAN``, mapped back here with ``(out - MEAN) / STD``.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from tests.test_case import TestCase
from tfinpaint.convert.common import ConversionError
from tfinpaint.convert.fixture_params import fixture_cases, fixture_state_dict
from tfinpaint.convert.madf import (
    LOSS_NETWORK_PREFIXES,
    convert_checkpoint,
    convert_config,
    export_state_dict,
)
from tfinpaint.layers.batch_norm import BatchNorm
from tfinpaint.losses.feature_network import IMAGENET_MEAN, IMAGENET_STD
from tfinpaint.models import build, get_spec
from tfinpaint.models.madf import MADFNet

MEAN = np.asarray(IMAGENET_MEAN, "float32")
STD = np.asarray(IMAGENET_STD, "float32")


# ----------------------------------------------------------------------------------------------
# Parity with the official code
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def madf_fixture(fixtures_dir):
    folder = fixtures_dir / "madf"
    arrays, tolerances = fixture_cases(folder)
    return {"state": fixture_state_dict(folder), "arrays": arrays, "tol": tolerances}


def _converted(fixture):
    # A fresh model per use: a training-mode call updates the BatchNorm moving statistics.
    return convert_checkpoint(
        fixture["state"], return_intermediates=True, ignore_prefixes=LOSS_NETWORK_PREFIXES
    )


def _inputs(fixture, case):
    a = fixture["arrays"]
    image, mask = a[f"{case}/image"], a[f"{case}/mask"]
    assert np.array_equal(mask, np.repeat(mask[..., :1], 3, -1)), "fixture masks are 3x 1-ch"
    # The model normalises inside; its net_input equals the official one to float rounding.
    want = ((image - MEAN) / STD) * mask
    np.testing.assert_allclose(want, a[f"{case}/net_input"], atol=1e-6)
    return image, mask[..., :1]


def _check(fixture, case, got_by_key):
    tol = fixture["tol"][case]
    report = {}
    for key, got in got_by_key.items():
        want = fixture["arrays"][f"{case}/{key}"]
        got = np.asarray(keras.ops.convert_to_numpy(got))
        assert got.shape == want.shape, (case, key, got.shape, want.shape)
        diff = float(np.max(np.abs(got - want)))
        report[key] = f"{diff:.2g} <= {tol[key]:.2g}"
        assert diff <= tol[key], f"{case}/{key}: max |diff| {diff:.3g} > tolerance {tol[key]:.3g}"
    assert set(report) == set(tol), f"{case}: unchecked arrays {set(tol) - set(report)}"
    print(case, report)


def _normalised(x):
    return (np.asarray(x) - MEAN) / STD


def test_parity_eval_forward(madf_fixture):
    model = _converted(madf_fixture)
    image, mask = _inputs(madf_fixture, "eval_forward")
    out = model((image, mask), training=False)
    got = {f"output_{k}": _normalised(out[f"output_{k}"]) for k in (1, 2, 3)}
    a = madf_fixture["arrays"]
    mask3, net_input = a["eval_forward/mask"], a["eval_forward/net_input"]
    got["comp_3"] = mask3 * net_input + (1 - mask3) * got["output_3"]  # test.py's composite
    for key in ("mask_feat_1", "enc_1_raw", "enc_1", "enc_up_1", "h_7", "dec_att_2",
                "dec_ref0_2", "dec_ref1_2"):
        got[key] = out[key]
    _check(madf_fixture, "eval_forward", got)
    np.testing.assert_array_equal(np.asarray(out["output"]), np.asarray(out["output_3"]))


def test_parity_train_forward_and_running_statistics(madf_fixture):
    model = _converted(madf_fixture)
    out = model(_inputs(madf_fixture, "train_forward"), training=True)
    got = {f"output_{k}": _normalised(out[f"output_{k}"]) for k in (1, 2, 3)}
    # PyTorch: running_var <- 0.9 running_var + 0.1 * UNBIASED batch variance.
    for key, layer in (("deconv_7.1", model.deconv_7_bn),
                       ("dec_ref1_2.bn.batch_norm", model.dec_ref1_2_pn.batch_norm)):
        got[f"running_mean_{key}"] = layer.moving_mean
        got[f"running_var_{key}"] = layer.moving_variance
    _check(madf_fixture, "train_forward", got)
    # The encoder's BatchNorm is dead in the official forward: untouched by a training call.
    state = madf_fixture["state"]
    np.testing.assert_array_equal(model.enc_conv_3_bn.moving_mean.numpy(),
                                  state["enc_conv_3.bn.running_mean"])


def test_converter_prefixes_round_trip_and_strictness():
    # A small random MADF (4 levels) as an official state_dict; the official configuration is
    # converted by the parity tests above.
    source = MADFNet(layer_size=4, n_refinement=2)
    source.build()
    for v in source.weights:
        v.assign(np.random.default_rng(len(v.path)).uniform(0.5, 1.5, v.shape).astype("float32"))
    state = export_state_dict(source)
    assert convert_config(state) == {"layer_size": 4, "n_refinement": 2}
    assert "enc_conv_4.bn.running_var" in state and "dec_ref1_2.bn.batch_norm.running_var" in state
    assert "dec_ref1_2.bn.batch_norm.weight" not in state  # PN's BatchNorm2d(affine=False)
    assert tuple(state["dec_ref0_3.deconv.weight"].shape) == (256, 128, 4, 4)  # (in, out, kh, kw)
    assert tuple(state["filter_gen_2.conv1.0.weight"].shape) == (16 * 25 * 32, 16, 1, 1)
    # As train.py saves it: DataParallel(FullModel) -> module.model.* plus the VGG extractor.
    saved = {"n_iter": 10, "model": {
        **{f"module.model.{k}": v for k, v in state.items()},
        **{f"module.model.{k[:-len('running_mean')]}num_batches_tracked": np.zeros((), "int64")
           for k in state if k.endswith("running_mean")},
        "module.extractor.enc_1.0.weight": np.zeros((64, 3, 3, 3), "float32"),
    }}
    model = convert_checkpoint(saved)
    assert model.conversion_config == {"layer_size": 4, "n_refinement": 2}
    back = export_state_dict(model)
    assert back.keys() == state.keys()
    for key, value in state.items():
        np.testing.assert_array_equal(back[key], value, err_msg=key)
    inputs = _draw(np.random.default_rng(1), 1, 32, 32)
    np.testing.assert_array_equal(np.asarray(model(inputs)["output"]),
                                  np.asarray(source(inputs)["output"]))
    # Strict: a missing, an extra and a misshapen key are all named.
    broken = dict(state)
    del broken["dec_ref1_3.bn.mlp_bias.bias"]
    broken["deconv_9.0.weight"] = np.zeros((2, 2), "float32")
    broken["att_conv_2.conv.0.bias"] = np.zeros((65,), "float32")
    with pytest.raises(ConversionError) as err:
        convert_checkpoint(broken)
    for name in ("dec_ref1_3.bn.mlp_bias.bias", "deconv_9.0.weight", "att_conv_2.conv.0.bias"):
        assert name in str(err.value)
    with pytest.raises(ConversionError, match="filter_gen"):
        convert_checkpoint({"deconv_1.0.weight": np.zeros((64, 3, 4, 4), "float32")})


def test_cli_convert_writes_a_loadable_run_directory(tmp_path, capsys):
    from tfinpaint.cli import main
    from tfinpaint.inference import load

    source = MADFNet(layer_size=4, n_refinement=1)
    source.build()
    for v in source.weights:
        v.assign(np.random.default_rng(len(v.path)).normal(0, 0.05, v.shape).astype("float32"))
    state = export_state_dict(source)
    ckpt = tmp_path / "official.npz"  # FullModel key layout, flattened
    np.savez(ckpt, **{f"module.model.{k}": v for k, v in state.items()},
             **{"module.extractor.enc_1.0.bias": np.zeros(64, "float32")})
    out = tmp_path / "run"
    assert main(["convert", "--model", "madf", str(ckpt), str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "madf" and config["recipe"] == "madf"
    assert config["config"] == {"layer_size": 4, "n_refinement": 1}
    inputs = _draw(np.random.default_rng(2), 1, 32, 48)
    np.testing.assert_array_equal(np.asarray(load(out)(inputs)["output"]),
                                  np.asarray(source(inputs)["output"]))
    del state["enc_conv_2.bn.running_var"]  # the dead encoder BN must be there too
    np.savez(tmp_path / "bad.npz", **state)
    assert main(["convert", "--model", "madf", str(tmp_path / "bad.npz"),
                 str(tmp_path / "r2")]) == 2
    err = capsys.readouterr().err
    assert "enc_conv_2.bn.running_var" in err and "missing" in err


# ----------------------------------------------------------------------------------------------
# Contract and options (small configurations)
# ----------------------------------------------------------------------------------------------
def _draw(rng, n, h, w):
    image = rng.uniform(size=(n, h, w, 3)).astype("float32")
    mask = np.ones((n, h, w, 1), "float32")
    mask[:, h // 4 : h // 2 + 4, w // 3 : w // 3 + w // 4] = 0.0
    return image, mask


class MADFNetTest(TestCase):
    def test_generator_contract_non_square(self):
        model, outputs = self.run_generator_test(
            "madf", init_kwargs={"layer_size": 4, "n_refinement": 2}, input_size=(32, 48),
            output_range=None, atol=1e-4,
        )
        self.assertEqual(model.size_multiple, 16)
        self.assertEqual(sorted(outputs), ["output", "output_1", "output_2", "output_3"])
        self.assertAllEqual(outputs["output"], outputs["output_3"])

    def test_options_and_shapes(self):
        rng = np.random.default_rng(0)
        image, mask = _draw(rng, 2, 32, 64)
        for n_ref in (0, 1):
            model = MADFNet(layer_size=4, n_refinement=n_ref, return_intermediates=True)
            out = model((image, mask), training=False)
            keys = {f"output_{k}" for k in range(1, n_ref + 2)}
            self.assertTrue(keys | {"output"} <= set(out), sorted(out))
            self.assertNotIn(f"output_{n_ref + 2}", out)
            self.assertAllEqual(out["output"], out[f"output_{n_ref + 1}"])
            self.assertEqual(tuple(out["h_4"].shape), (2, 2, 4, 512))
            self.assertEqual(tuple(out["enc_1"].shape), (2, 16, 32, 16))
        # BatchNorm layers: decoders use PyTorch's unbiased running variance; the encoder's
        # dead BN is not trainable (never called, so it must receive no gradient).
        model = MADFNet(layer_size=5, n_refinement=2)
        model((image[:, :, :32], mask[:, :, :32]))
        bns = [la for la in model._flatten_layers() if isinstance(la, BatchNorm)]
        self.assertEqual(len(bns), 5 + 4 + 2 * 4)  # dead enc BN, deconv BN, PN BN
        for i in range(1, 6):
            self.assertFalse(getattr(model, f"enc_conv_{i}_bn").trainable)
        for i in range(2, 6):
            self.assertTrue(getattr(model, f"deconv_{i}_bn").unbiased_variance)
            self.assertTrue(getattr(model, f"dec_ref1_{i}_pn").batch_norm.unbiased_variance)

    def test_validation_errors(self):
        with self.assertRaisesRegex(ValueError, "layer_size"):
            MADFNet(layer_size=3)
        with self.assertRaisesRegex(ValueError, "n_refinement"):
            MADFNet(n_refinement=3)
        with self.assertRaisesRegex(ValueError, "std"):
            MADFNet(std=(1.0, 0.0, 1.0))
        model = MADFNet(layer_size=4, n_refinement=0)
        with self.assertRaisesRegex(ValueError, r"W=40 is not a multiple of size_multiple=16"):
            model((np.zeros((1, 32, 40, 3), "float32"), np.ones((1, 32, 40, 1), "float32")))

    def test_registry_entry(self):
        spec = get_spec("madf")
        self.assertEqual(spec.recipe, "madf")
        self.assertEqual(spec.converter, "tfinpaint.convert.madf:convert_checkpoint")
        self.assertEqual((spec.config["layer_size"], spec.config["n_refinement"]), (7, 2))
        model = build("madf", **spec.metadata["test_config"])
        self.assertIsInstance(model, MADFNet)
        self.assertEqual(MADFNet.from_config(model.get_config()).get_config(), model.get_config())
