"""Strict RFR-Net checkpoint conversion, the reusable porters, and ``tfinpaint convert``."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from tfinpaint.convert import common
from tfinpaint.convert.common import ConversionError
from tfinpaint.convert.fixture_params import fixture_state_dict
from tfinpaint.convert.rfr import (
    LOSS_NETWORK_PREFIXES,
    TABLE,
    convert_checkpoint,
    convert_config,
    export_state_dict,
)
from tfinpaint.models.rfr import RFRNet


@pytest.fixture(scope="module")
def state(fixtures_dir):
    full = fixture_state_dict(fixtures_dir / "rfr_net")
    generator = {k: v for k, v in full.items() if not k.startswith(LOSS_NETWORK_PREFIXES)}
    assert len(generator) == 96  # manifest: entries 0..95 are the RFRNet state_dict
    return generator


def _inputs(seed=0, n=1, h=32, w=48):
    rng = np.random.default_rng(seed)
    image = rng.uniform(size=(n, h, w, 3)).astype("float32")
    mask = np.ones((n, h, w, 1), "float32")
    mask[:, 8:20, 10:30] = 0.0
    return image, mask


# ----------------------------------------------------------------------------------------------
# Porters, checked against numpy transcriptions of PyTorch's conv2d / conv_transpose2d
# ----------------------------------------------------------------------------------------------
def _torch_conv2d(x, w, stride, pad):
    """PyTorch conv2d, NCHW x, OIHW w, symmetric zero padding."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    o, _, kh, kw = w.shape
    n, _, h, wd = x.shape
    ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, o, ho, wo))
    for y in range(ho):
        for xx in range(wo):
            patch = x[:, :, y * stride : y * stride + kh, xx * stride : xx * stride + kw]
            out[:, :, y, xx] = np.einsum("nchw,ochw->no", patch, w)
    return out


def _torch_conv_transpose2d(x, w, stride, pad):
    """PyTorch conv_transpose2d, NCHW x, weight (in, out, kh, kw): scatter then crop pad."""
    n, _, h, wd = x.shape
    _, o, kh, kw = w.shape
    full = np.zeros((n, o, (h - 1) * stride + kh, (wd - 1) * stride + kw))
    for y in range(h):
        for xx in range(wd):
            full[:, :, y * stride : y * stride + kh, xx * stride : xx * stride + kw] += np.einsum(
                "ni,iokl->nokl", x[:, :, y, xx], w
            )
    return full[:, :, pad : full.shape[2] - pad, pad : full.shape[3] - pad]


def test_conv_port_stride2_symmetric_padding():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 8, 6))
    w = rng.standard_normal((7, 5, 3, 3))
    want = _torch_conv2d(x, w, 2, 1)
    layer = keras.layers.Conv2D(7, 3, strides=2, padding="valid", use_bias=False)
    layer.build((None, None, None, 5))
    layer.kernel.assign(common.port_conv_kernel(w.astype("float32")))
    xt = np.transpose(x, (0, 2, 3, 1)).astype("float32")
    got = layer(np.pad(xt, ((0, 0), (1, 1), (1, 1), (0, 0))))
    np.testing.assert_allclose(np.transpose(got, (0, 3, 1, 2)), want, atol=1e-4)
    assert common.torch_conv_shape(layer.kernel.shape) == w.shape


def test_conv_transpose_port_4_2_1():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 6, 4, 5))
    w = rng.standard_normal((6, 3, 4, 4))  # (in, out, kh, kw)
    want = _torch_conv_transpose2d(x, w, 2, 1)
    layer = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", use_bias=False)
    layer.build((None, None, None, 6))
    assert common.torch_conv_shape(layer.kernel.shape) == w.shape
    layer.kernel.assign(common.port_conv_transpose_kernel(w.astype("float32")))
    got = layer(np.transpose(x, (0, 2, 3, 1)).astype("float32"))
    assert want.shape == (2, 3, 8, 10)
    np.testing.assert_allclose(np.transpose(got, (0, 3, 1, 2)), want, atol=1e-4)


# ----------------------------------------------------------------------------------------------
# Strict loading of the RFR-Net state_dict
# ----------------------------------------------------------------------------------------------
def test_fixture_params_load_exactly(state):
    model = convert_checkpoint(state)
    back = export_state_dict(model)
    assert sorted(back) == sorted(state)
    for key, value in state.items():
        np.testing.assert_array_equal(back[key], value, err_msg=key)
    # The KCA ratio is a plain parameter (const -0.7 in the fixture).
    np.testing.assert_array_equal(model.rfr_module.att.att.ratio.numpy(), np.float32([-0.7]))
    # Every Keras variable is covered by the table and every table row is used.
    assert len(TABLE) == 1 + 1 + 1 + 1 + 2 + 1 + 12 + 2 + 10 + 3 + 6 + 1


def test_container_dict_and_num_batches_tracked(state):
    checkpoint = {
        "n_iter": 400000,
        "generator": {**state, "bn1.num_batches_tracked": np.array(7)},
        "optimizer_G": {"state": {}},
    }
    model = convert_checkpoint(checkpoint)
    np.testing.assert_array_equal(model.bn1.moving_variance.numpy(), state["bn1.running_var"])


@pytest.mark.parametrize(
    "edit, pattern",
    [
        ("missing", r"missing keys \(1\): bn20\.running_var \(expected shape \[64\]"),
        ("extra", r"unexpected \(extra\) keys \(1\): RFRModule\.att\.att\.temperature"),
        ("misshapen", r"misshapen keys \(1\): RFRModule\.dec_3\.0\.weight: checkpoint shape "
                      r"\[512, 1024, 4, 4\], expected \[1024, 512, 4, 4\]"),
    ],
    ids=["missing", "extra", "misshapen"],
)
def test_refuses_bad_checkpoints_naming_the_key(state, edit, pattern):
    bad = dict(state)
    if edit == "missing":
        del bad["bn20.running_var"]
    elif edit == "extra":
        bad["RFRModule.att.att.temperature"] = np.ones((1,), "float32")
    else:
        bad["RFRModule.dec_3.0.weight"] = np.transpose(bad["RFRModule.dec_3.0.weight"],
                                                       (1, 0, 2, 3))
    model = RFRNet(iter_num=1)
    model.build(None)
    before = model.bn20.moving_variance.numpy().copy()
    with pytest.raises(ConversionError, match=pattern):
        common.load_state_dict(model, bad, TABLE)
    # Nothing was assigned.
    np.testing.assert_array_equal(model.bn20.moving_variance.numpy(), before)


def test_vgg_entries_are_extra_unless_ignored(fixtures_dir):
    full = fixture_state_dict(fixtures_dir / "rfr_net")
    with pytest.raises(ConversionError, match=r"extra.*vgg16\.features\.0\.weight"):
        convert_checkpoint(full)
    convert_checkpoint(full, ignore_prefixes=LOSS_NETWORK_PREFIXES)


def test_small_hole_variant_is_detected():
    model = RFRNet(iter_num=1, small_hole=True)
    model.build(None)
    exported = export_state_dict(model)
    assert exported["Pconv2.weight"].shape == (64, 64, 5, 5)
    assert convert_config(exported) == {"small_hole": True}
    converted = convert_checkpoint(exported, iter_num=1)
    assert converted.small_hole and converted.conversion_config["small_hole"]
    exported["Pconv21.weight"] = np.zeros((64, 64, 7, 7), "float32")
    with pytest.raises(ConversionError, match="Pconv2/Pconv21/Pconv22"):
        convert_config(exported)


def test_npz_round_trip(state, tmp_path):
    path = tmp_path / "rfr.npz"
    np.savez(path, **state)
    from_file = convert_checkpoint(path, iter_num=2)
    from_dict = convert_checkpoint(state, iter_num=2)
    inputs = _inputs()
    np.testing.assert_array_equal(from_file(inputs)["output"], from_dict(inputs)["output"])
    again = tmp_path / "again.npz"
    np.savez(again, **export_state_dict(from_file))
    with np.load(again) as data:
        assert sorted(data.files) == sorted(state)
        for key in data.files:
            np.testing.assert_array_equal(data[key], state[key], err_msg=key)


def test_pth_needs_torch_or_reads_it(state, tmp_path):
    path = tmp_path / "ckpt.pth"
    try:
        import torch
    except ImportError:
        path.write_bytes(b"not read")
        with pytest.raises(ImportError, match="torch"):
            common.read_checkpoint(path)
        return
    torch.save({"generator": {k: torch.from_numpy(v) for k, v in state.items()}}, path)
    model = convert_checkpoint(path)
    np.testing.assert_array_equal(model.bn3.gamma.numpy(), state["bn3.weight"])


def test_unknown_format(tmp_path):
    path = tmp_path / "weights.bin2"
    path.write_bytes(b"x")
    with pytest.raises(ConversionError, match="unknown checkpoint format"):
        common.read_checkpoint(path)


# ----------------------------------------------------------------------------------------------
# tfinpaint convert
# ----------------------------------------------------------------------------------------------
def test_cli_convert_writes_a_loadable_run_directory(state, tmp_path, capsys):
    from tfinpaint.cli import main
    from tfinpaint.inference import load

    ckpt = tmp_path / "official.npz"
    np.savez(ckpt, **state)
    out = tmp_path / "run"
    assert main(["convert", "--model", "rfr_net", str(ckpt), str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "rfr_net" and config["recipe"] == "rfr_net"
    assert config["config"] == {"iter_num": 6, "small_hole": False}
    assert (out / "generator.weights.h5").is_file()

    loaded = load(out)
    reference = convert_checkpoint(state)
    inputs = _inputs(n=1, h=32, w=32)
    np.testing.assert_array_equal(loaded(inputs)["output"], reference(inputs)["output"])

    # A second run refuses to overwrite; a broken checkpoint exits 2 naming the key.
    assert main(["convert", "--model", "rfr_net", str(ckpt), str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    bad = dict(state)
    del bad["out.weight"]
    bad_path = tmp_path / "bad.npz"
    np.savez(bad_path, **bad)
    assert main(["convert", "--model", "rfr_net", str(bad_path), str(tmp_path / "r2")]) == 2
    err = capsys.readouterr().err
    assert "out.weight" in err and "missing" in err
    assert main(["convert", "--model", "cv2-telea", str(ckpt), str(tmp_path / "r3")]) == 2
    assert "no checkpoint converter" in capsys.readouterr().err
