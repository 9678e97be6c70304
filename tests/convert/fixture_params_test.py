"""fixture_state_dict: the manifest recipe, prefix filtering, aliases and errors."""

import json

import numpy as np
import pytest

from tfinpaint.convert.fixture_params import fixture_state_dict

MANIFEST = {
    "seed": 123,
    "params": [
        {"name": "a.weight", "shape": [4, 3, 3, 3], "dist": "normal", "mean": 1.0, "std": 0.5},
        {"name": "a.bias", "shape": [4], "dist": "uniform", "low": -2.0, "high": -1.0},
        {"name": "vgg16.features.0.weight", "shape": [2, 2], "dist": "const", "value": -0.7},
    ],
    "param_aliases": {"b.weight": "a.weight"},
}


@pytest.fixture()
def manifest_path(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(MANIFEST))
    return path


def test_recipe_per_entry_seed(manifest_path):
    sd = fixture_state_dict(manifest_path)
    assert list(sd) == ["a.weight", "a.bias", "vgg16.features.0.weight", "b.weight"]
    assert all(v.dtype == np.float32 for v in sd.values())
    # Entry i uses its own generator seeded with [seed, i], independent of the other entries.
    rng0 = np.random.default_rng([123, 0])
    np.testing.assert_array_equal(
        sd["a.weight"], (rng0.standard_normal((4, 3, 3, 3)) * 0.5 + 1.0).astype(np.float32)
    )
    b = sd["a.bias"]
    assert b.shape == (4,) and np.all((b >= -2) & (b < -1))
    np.testing.assert_array_equal(
        b, np.random.default_rng([123, 1]).uniform(-2, -1, 4).astype(np.float32)
    )
    np.testing.assert_array_equal(sd["vgg16.features.0.weight"], np.full((2, 2), -0.7, "float32"))
    assert sd["b.weight"] is sd["a.weight"]


def test_prefix_and_folder(manifest_path):
    sd = fixture_state_dict(manifest_path.parent, prefix="vgg16.")
    assert list(sd) == ["vgg16.features.0.weight"]
    assert "b.weight" not in fixture_state_dict(manifest_path, include_aliases=False)


def test_real_fixture_shapes(fixtures_dir):
    manifest = fixtures_dir / "rfr_net" / "manifest.json"
    if not manifest.exists():
        pytest.skip("no rfr_net fixture")
    sd = fixture_state_dict(manifest, prefix="vgg16.")
    assert len(sd) == 14 and sd["vgg16.features.14.weight"].shape == (256, 256, 3, 3)
    ratio = fixture_state_dict(manifest, prefix="RFRModule.att.att.ratio")
    np.testing.assert_array_equal(ratio["RFRModule.att.att.ratio"], np.float32([-0.7]))
    # He-normal weights: the sample std is close to the recipe's std.
    w = sd["vgg16.features.12.weight"]
    assert abs(w.std() / np.sqrt(2 / 2304) - 1) < 0.01


def test_errors(tmp_path, manifest_path):
    with pytest.raises(ValueError, match="not found"):
        fixture_state_dict(tmp_path / "nope.json")
    bad = dict(MANIFEST, params=[{"name": "x", "shape": [1], "dist": "laplace"}])
    manifest_path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="dist='laplace'"):
        fixture_state_dict(manifest_path)
