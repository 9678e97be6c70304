"""VGG feature extractor: layer names, shapes, truncation, normalisation, weight loading."""

import warnings

import keras
import numpy as np
import pytest

from tfinpaint.losses import feature_network as fn


def _random_extractor(**kwargs):
    with pytest.warns(UserWarning, match="tests only"):
        return fn.FeatureExtractor(weights=None, **kwargs)


@pytest.fixture(scope="module")
def vgg16():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn.FeatureExtractor("vgg16", weights=None)


def test_layer_name_mapping():
    assert fn.keras_layer_name("vgg16", "pool3") == "block3_pool"
    assert fn.keras_layer_name("vgg16", "relu2_2") == "block2_conv2"
    assert fn.keras_layer_name("vgg19", "conv3_4") == "block3_conv4"
    assert fn.keras_layer_name("vgg19", "block5_conv2") == "block5_conv2"
    for bad in ("relu3_4", "pool6", "relu0_1", "fc1"):
        with pytest.raises(ValueError, match="Unknown vgg16 layer"):
            fn.keras_layer_name("vgg16", bad)
    idx16 = fn.torch_feature_indices("vgg16")
    assert list(idx16) == [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    idx19 = fn.torch_feature_indices("vgg19")
    assert list(idx19)[-4:] == [28, 30, 32, 34] and idx19[16] == "block3_conv4"
    assert len(idx19) == 16


def test_vgg16_default_layers_shapes_and_truncation(vgg16):
    x = np.random.default_rng(0).uniform(size=(2, 32, 48, 3)).astype("float32")
    feats = vgg16(x)
    assert list(feats) == ["pool1", "pool2", "pool3"]
    assert [tuple(f.shape) for f in feats.values()] == [
        (2, 16, 24, 64),
        (2, 8, 12, 128),
        (2, 4, 6, 256),
    ]
    assert all(keras.backend.standardize_dtype(f.dtype) == "float32" for f in feats.values())
    names = [layer.name for layer in vgg16.model.layers]
    assert names[-1] == "block3_pool" and not any(n.startswith("block4") for n in names)
    assert not vgg16.model.trainable and not vgg16.model.trainable_weights
    # Odd sizes floor, as torch MaxPool2d(2, 2).
    odd = vgg16(np.zeros((1, 35, 37, 3), "float32"))
    assert tuple(odd["pool3"].shape) == (1, 4, 4, 256)


def test_vgg19_paper_layer_sets():
    layers = fn.VGG19_PERCEPTUAL_LAYERS + ("relu3_4",)
    fx = _random_extractor(network="vgg19", layers=layers)
    feats = fx(np.zeros((1, 32, 32, 3), "float32"))
    assert [tuple(f.shape[1:]) for f in feats.values()] == [
        (32, 32, 64),
        (16, 16, 128),
        (8, 8, 256),
        (4, 4, 512),
        (2, 2, 512),
        (8, 8, 256),
    ]
    assert fx.keras_layer_names[-1] == "block3_conv4"
    assert fx.model.layers[-1].name in ("block5_conv1", "block3_conv4")
    assert "block5_conv2" not in [layer.name for layer in fx.model.layers]


def test_normalization_modes(vgg16):
    x = np.random.default_rng(1).uniform(size=(2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(vgg16.normalize(x)), x)
    fx_in = _random_extractor(normalization="imagenet", layers=("pool1",))
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(np.asarray(fx_in.normalize(x)), (x - mean) / std, rtol=1e-5)
    fx_caffe = _random_extractor(normalization="caffe", layers=("pool1",))
    ref = keras.applications.vgg16.preprocess_input(x.astype("float64") * 255.0)
    np.testing.assert_allclose(np.asarray(fx_caffe.normalize(x)), ref, rtol=1e-5, atol=1e-4)
    # The model sees the normalised image.
    direct = fx_caffe.model(fx_caffe.normalize(x))
    np.testing.assert_allclose(np.asarray(fx_caffe(x)["pool1"]), np.asarray(direct), atol=1e-5)


def _np_conv_relu(x, w, b):
    """NCHW conv, pad 1, torch OIHW weights, + bias, ReLU (independent of Keras)."""
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))  # N,C,H,W,3,3
    return np.maximum(np.einsum("nchwyx,ocyx->nohw", win, w) + b[None, :, None, None], 0)


def test_set_weights_from_torch_vgg_matches_numpy_reference():
    fx = _random_extractor(layers=("pool1",))
    rng = np.random.default_rng(2)
    params = {
        "features.0.weight": rng.normal(0, 0.3, (64, 3, 3, 3)),
        "features.0.bias": rng.normal(0, 0.1, (64,)),
        "features.2.weight": rng.normal(0, 0.06, (64, 64, 3, 3)),
        "features.2.bias": rng.normal(0, 0.1, (64,)),
        "features.5.weight": rng.normal(0, 0.06, (128, 64, 3, 3)),  # beyond pool1: skipped
        "features.5.bias": rng.normal(0, 0.1, (128,)),
    }
    skipped = fx.set_weights_from_torch_vgg(params, prefix="features.")
    assert skipped == ["features.5.bias", "features.5.weight"]
    x = rng.uniform(size=(2, 8, 6, 3))
    h = _np_conv_relu(
        np.transpose(x, (0, 3, 1, 2)), params["features.0.weight"], params["features.0.bias"]
    )
    h = _np_conv_relu(h, params["features.2.weight"], params["features.2.bias"])
    ref = h.reshape(2, 64, 4, 2, 3, 2).max(axis=(3, 5)).transpose(0, 2, 3, 1)
    got = np.asarray(fx(x.astype("float32"))["pool1"])
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_set_weights_errors():
    fx = _random_extractor(layers=("pool1",))
    w0, b0 = np.zeros((64, 3, 3, 3)), np.zeros(64)
    w2, b2 = np.zeros((64, 64, 3, 3)), np.zeros(64)
    with pytest.raises(ValueError, match="Missing torch weight or bias for block1_conv2"):
        fx.set_weights_from_torch_vgg({"0.weight": w0, "0.bias": b0, "2.weight": w2})
    with pytest.raises(ValueError, match="Shape mismatch for block1_conv1"):
        fx.set_weights_from_torch_vgg(
            {"0.weight": w0[:, :, :2], "0.bias": b0, "2.weight": w2, "2.bias": b2}
        )
    with pytest.raises(ValueError, match="not a conv weight/bias"):
        fx.set_weights_from_torch_vgg({"1.weight": w0})
    with pytest.raises(ValueError, match="prefix"):
        fx.set_weights_from_torch_vgg({"0.weight": w0}, prefix="vgg16.features.")


def test_weights_from_local_file(tmp_path):
    full = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    path = tmp_path / "vgg16_notop.weights.h5"
    full.save_weights(path)
    fx = fn.FeatureExtractor("vgg16", layers=("relu2_1",), weights=path)
    x = np.random.default_rng(3).uniform(size=(1, 16, 16, 3)).astype("float32")
    ref = keras.Model(full.input, full.get_layer("block2_conv1").output)(x)
    np.testing.assert_allclose(np.asarray(fx(x)["relu2_1"]), np.asarray(ref), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="not found"):
        fn.FeatureExtractor("vgg16", weights=tmp_path / "missing.h5")


def test_argument_errors():
    with pytest.raises(ValueError, match="network"):
        fn.FeatureExtractor("resnet50", weights=None)
    with pytest.raises(ValueError, match="normalization"):
        fn.FeatureExtractor(weights=None, normalization="torch")
    with pytest.raises(ValueError, match="unique"):
        fn.FeatureExtractor(weights=None, layers=("pool1", "pool1"))
    with pytest.raises(ValueError, match="same VGG layer"):
        fn.FeatureExtractor(weights=None, layers=("relu1_1", "conv1_1"))


def test_mixed_precision_policy():
    previous = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy("mixed_float16")
        fx32 = _random_extractor(layers=("pool1",))
        assert fx32.model.get_layer("block1_conv1").compute_dtype == "float32"
        fx16 = _random_extractor(layers=("pool1",), dtype=None)
        assert fx16.model.get_layer("block1_conv1").compute_dtype == "float16"
        out = fx16(np.ones((1, 8, 8, 3), "float32"))["pool1"]
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
        # The global policy is restored after building the float32 extractor.
        assert keras.config.dtype_policy().name == "mixed_float16"
    finally:
        keras.config.set_dtype_policy(previous)
