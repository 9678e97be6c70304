"""GeneratorLoss: weighted totals, raw/composite/both, shared features, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from tfinpaint.losses import GeneratorLoss, pixel
from tfinpaint.training.recipes import LossTerm


class CountingExtractor:
    """Cheap stand-in for the VGG extractor: avg-pool pyramids, counts its calls."""

    layers = ("pool1", "pool2", "pool3")

    def __init__(self):
        self.calls = 0

    def __call__(self, images):
        self.calls += 1
        x = ops.cast(images, "float32")
        feats = {}
        for name in self.layers:
            x = ops.average_pool(x, 2, 2)
            feats[name] = ops.concatenate([x, ops.square(x)], axis=-1)
        return feats


def _np_feats(x):
    out = []
    for _ in range(3):
        n, h, w, c = x.shape
        x = x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))
        out.append(np.concatenate([x, x**2], axis=-1))
    return out


def _np_gram(f):
    n, h, w, c = f.shape
    flat = f.reshape(n, h * w, c)
    return np.einsum("npc,npd->ncd", flat, flat) / (c * h * w)


def _data(seed=0, size=16):
    rng = np.random.default_rng(seed)
    y = rng.uniform(size=(2, size, size, 3))
    out = rng.normal(0.5, 0.5, (2, size, size, 3))
    coarse = rng.normal(0.5, 0.5, (2, size, size, 3))
    mask = (rng.uniform(size=(2, size, size, 1)) > 0.5).astype(np.float64)
    return y, out, coarse, mask


RFR_TERMS = (
    LossTerm("valid", 1.0),
    LossTerm("hole", 6.0),
    LossTerm("tv", 0.1, on="composite"),
    LossTerm("perceptual", 0.05, on="both"),
    LossTerm("style", 120.0, on="both"),
)


def test_weighted_total_and_unweighted_values_vs_numpy():
    y, out, coarse, mask = _data()
    terms = RFR_TERMS + (
        LossTerm("l1", 2.0, output="coarse"),
        LossTerm("hole", 3.0, output="coarse"),
    )
    fx = CountingExtractor()
    loss = GeneratorLoss(terms, feature_extractor=fx)
    f32 = lambda a: a.astype("float32")  # noqa: E731
    total, values = loss(f32(y), f32(mask), {"output": f32(out), "coarse": f32(coarse)})

    comp = mask * y + (1 - mask) * out
    fy, fo, fc = _np_feats(y), _np_feats(out), _np_feats(comp)
    perc = lambda a, b: sum(np.abs(p - q).mean() for p, q in zip(a, b))  # noqa: E731
    style = lambda a, b: sum(np.abs(_np_gram(p) - _np_gram(q)).mean() for p, q in zip(a, b))  # noqa: E731
    hole_region = comp * (1 - mask)
    ref = {
        "valid": (np.abs(y - out) * mask).mean(),
        "hole": (np.abs(y - out) * (1 - mask)).mean(),
        "tv": np.abs(np.diff(hole_region, axis=1)).mean()
        + np.abs(np.diff(hole_region, axis=2)).mean(),
        "perceptual": perc(fy, fo) + perc(fy, fc),
        "style": style(fy, fo) + style(fy, fc),
        "l1_coarse": np.abs(y - coarse).mean(),
        "hole_coarse": (np.abs(y - coarse) * (1 - mask)).mean(),
    }
    assert list(values) == list(ref)
    for name, value in ref.items():
        np.testing.assert_allclose(float(values[name]), value, rtol=2e-5, err_msg=name)
    weights = {t.metric_name: t.weight for t in terms}
    np.testing.assert_allclose(float(total), sum(weights[k] * v for k, v in ref.items()), rtol=2e-5)
    assert keras.backend.standardize_dtype(total.dtype) == "float32"
    # target, raw output, composite: features computed once each and shared by both terms.
    assert fx.calls == 3


def test_features_computed_once_per_distinct_image():
    y, out, coarse, mask = _data(1)
    terms = (
        LossTerm("perceptual", 1.0, on="both"),
        LossTerm("style", 1.0, on="raw"),
        LossTerm("perceptual", 1.0, output="coarse", on="composite"),
        LossTerm("style", 1.0, output="coarse", on="composite"),
    )
    fx = CountingExtractor()
    GeneratorLoss(terms, fx)(y, mask, {"output": out, "coarse": coarse})
    assert fx.calls == 4  # target, output raw, output composite, coarse composite


def test_on_both_is_raw_plus_composite_and_layer_sets():
    y, out, _, mask = _data(2)
    fx = CountingExtractor()
    outputs = {"output": out}

    def value(term, **kw):
        return float(GeneratorLoss((term,), fx, **kw)(y, mask, outputs)[1][term.metric_name])

    raw = value(LossTerm("style", 1.0, on="raw"))
    comp = value(LossTerm("style", 1.0, on="composite"))
    both = value(LossTerm("style", 1.0, on="both"))
    assert both == pytest.approx(raw + comp, rel=1e-6)
    assert raw != pytest.approx(comp)
    only2 = value(LossTerm("style", 1.0), layer_sets={"style": ("pool2",)})
    fy, fo = _np_feats(y), _np_feats(out)
    assert only2 == pytest.approx(np.abs(_np_gram(fy[1]) - _np_gram(fo[1])).mean(), rel=1e-5)
    # Correlation defaults to pool2 (Region-wise).
    corr = value(LossTerm("correlation", 1.0))
    a, b = fy[1].reshape(2, -1, 6), fo[1].reshape(2, -1, 6)
    ref = np.abs(np.einsum("npc,nqc->npq", a, a) / 36 - np.einsum("npc,nqc->npq", b, b) / 36).mean()
    assert corr == pytest.approx(ref, rel=1e-5)


def test_other_terms_and_feature_matching():
    y, out, _, mask = _data(3)
    rng = np.random.default_rng(3)
    real_f = [rng.normal(size=(2, 4, 4, 8)).astype("float32")]
    fake_f = [rng.normal(size=(2, 4, 4, 8)).astype("float32")]
    terms = (
        LossTerm("tv_dilated", 1.0, on="composite"),
        LossTerm("low_frequency", 1.0),
        LossTerm("high_frequency", 1.0),
        LossTerm("feature_matching", 0.5),
        LossTerm("hole_border", 12.0, options={"width": 2}),
    )
    total, values = GeneratorLoss(terms)(y, mask, {"output": out}, disc_features=(real_f, fake_f))
    assert float(values["feature_matching"]) == pytest.approx(np.abs(real_f[0] - fake_f[0]).mean())
    assert float(values["hole_border"]) == pytest.approx(
        float(pixel.hole_border_l1(y, out, mask, width=2)), rel=1e-6)
    expected = sum(float(v) * t.weight for v, t in zip(values.values(), terms))
    assert float(total) == pytest.approx(expected, rel=1e-6)
    assert all(float(v) > 0 for v in values.values())
    with pytest.raises(ValueError, match="'feature_matching'.*disc_features"):
        GeneratorLoss(terms)(y, mask, {"output": out})


def test_errors_name_the_term():
    y, out, _, mask = _data(4)
    with pytest.raises(ValueError, match="'style'.*needs a feature extractor"):
        GeneratorLoss((LossTerm("valid", 1.0), LossTerm("style", 1.0)))
    with pytest.raises(ValueError, match="'hole_coarse'.*'coarse'"):
        GeneratorLoss((LossTerm("hole", 1.0, output="coarse"),))(y, mask, {"output": out})
    with pytest.raises(ValueError, match="does not produce"):
        GeneratorLoss((LossTerm("style", 1.0),), CountingExtractor(), {"style": ("pool4",)})
    with pytest.raises(ValueError, match="layer_sets keys"):
        GeneratorLoss((LossTerm("style", 1.0),), CountingExtractor(), {"hole": ("pool1",)})
    with pytest.raises(ValueError, match="mask"):
        GeneratorLoss((LossTerm("hole", 1.0),))(y, mask[..., :0], {"output": out})


def test_mixed_precision_outputs_and_tf_function():
    y, out, _, mask = _data(5)
    loss = GeneratorLoss(RFR_TERMS, CountingExtractor())
    eager_total, _ = loss(y.astype("float32"), mask.astype("float32"), {"output": out})

    @tf.function
    def step(y, mask, out):
        return loss(y, mask, {"output": tf.cast(out, tf.float16)})

    total, values = step(
        tf.constant(y, tf.float32), tf.constant(mask, tf.float32), tf.constant(out, tf.float32)
    )
    assert total.dtype == tf.float32 and all(v.dtype == tf.float32 for v in values.values())
    np.testing.assert_allclose(float(total), float(eager_total), rtol=2e-3)  # fp16 output
