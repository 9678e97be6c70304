"""Non-local correlation loss (blockwise = dense = numpy), sum-reduced style and L1, the TF1
VGG resize, and the Region-wise recipe's loss against a hand computation."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfinpaint.losses import FeatureExtractor, GeneratorLoss, perceptual, pixel
from tfinpaint.training.recipes import LossTerm, get_recipe


def _feats(seed, shape=(2, 9, 11, 6)):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype("float32")


def numpy_correlation_l1(a, b, reduction):
    n, h, w, c = a.shape
    fa = a.reshape(n, h * w, c).astype(np.float64)
    fb = b.reshape(n, h * w, c).astype(np.float64)
    ra = fa @ fa.transpose(0, 2, 1) / c**2  # new_gram: F F^T / C^2
    rb = fb @ fb.transpose(0, 2, 1) / c**2
    d = np.abs(ra - rb)
    return d.sum() if reduction == "sum" else d.mean()


def numpy_style_l1(a, b, reduction):
    n, h, w, c = a.shape
    fa = a.reshape(n, h * w, c).astype(np.float64)
    fb = b.reshape(n, h * w, c).astype(np.float64)
    ga = fa.transpose(0, 2, 1) @ fa / (c * h * w)  # gram_matrix: F^T F / (C H W)
    gb = fb.transpose(0, 2, 1) @ fb / (c * h * w)
    d = np.abs(ga - gb)
    return d.sum() if reduction == "sum" else d.mean()


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("chunk_size", [None, 1, 16, 99, 4096])
def test_correlation_matches_numpy(reduction, chunk_size):
    a, b = _feats(0), _feats(1)
    got = float(perceptual.correlation_loss([a], [b], reduction, chunk_size=chunk_size))
    want = numpy_correlation_l1(a, b, reduction)
    np.testing.assert_allclose(got, want, rtol=2e-6)


def test_blockwise_equals_dense_value_and_gradient():
    a = tf.constant(_feats(2, (2, 16, 20, 8)))
    b = tf.constant(_feats(3, (2, 16, 20, 8)))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([a, b])
        dense = perceptual.correlation_loss([a], [b], "sum", chunk_size=None)
        blocks = perceptual.correlation_loss([a], [b], "sum", chunk_size=48)  # 320 = 6*48 + 32
    # Same value up to the float32 summation order (relative 1e-6).
    np.testing.assert_allclose(float(blocks), float(dense), rtol=1e-6)
    for x in (a, b):
        g_dense, g_blocks = tape.gradient(dense, x), tape.gradient(blocks, x)
        scale = float(tf.reduce_max(tf.abs(g_dense)))
        np.testing.assert_allclose(g_blocks, g_dense, atol=1e-6 * scale, rtol=0)


def test_blockwise_compiles_with_xla():
    # Equal-size blocks (zero-padded rows) keep every shape static, as XLA requires
    # (`tfinpaint train --jit-compile`).
    a, b = tf.constant(_feats(12, (2, 10, 12, 8))), tf.constant(_feats(13, (2, 10, 12, 8)))

    def loss_and_grad(a, b):
        with tf.GradientTape() as tape:
            tape.watch(b)
            loss = perceptual.correlation_loss([a], [b], "sum", chunk_size=50)  # 3 x 40 rows
        return loss, tape.gradient(loss, b)

    loss, grad = tf.function(loss_and_grad, jit_compile=True)(a, b)
    with tf.GradientTape() as tape:
        tape.watch(b)
        dense = perceptual.correlation_loss([a], [b], "sum", chunk_size=None)
    np.testing.assert_allclose(float(loss), float(dense), rtol=1e-6)
    g_dense = tape.gradient(dense, b)
    np.testing.assert_allclose(grad, g_dense, atol=1e-6 * float(tf.reduce_max(tf.abs(g_dense))))


def test_blockwise_in_tf_function_with_unknown_sizes():
    fn = tf.function(
        lambda a, b: perceptual.correlation_loss([a], [b], "mean", chunk_size=7),
        input_signature=[tf.TensorSpec((None, None, None, 6), tf.float32)] * 2,
    )
    for shape in ((2, 9, 11, 6), (1, 5, 4, 6)):
        a, b = _feats(4, shape), _feats(5, shape)
        np.testing.assert_allclose(float(fn(a, b)), numpy_correlation_l1(a, b, "mean"), rtol=2e-6)
    with pytest.raises(ValueError, match="chunk_size"):
        perceptual.correlation_loss([a], [b], chunk_size=0)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_style_and_l1_reductions_match_numpy(reduction):
    a, b = _feats(6), _feats(7)
    got = float(perceptual.style_loss([a, a[:, :4]], [b, b[:, :4]], reduction))
    want = numpy_style_l1(a, b, reduction) + numpy_style_l1(a[:, :4], b[:, :4], reduction)
    np.testing.assert_allclose(got, want, rtol=2e-6)
    y, x = _feats(8, (2, 8, 8, 3)), _feats(9, (2, 8, 8, 3))
    d = np.abs(y.astype(np.float64) - x)
    np.testing.assert_allclose(float(pixel.l1(y, x, reduction)),
                               d.sum() if reduction == "sum" else d.mean(), rtol=2e-6)


def numpy_tf1_bilinear(x, out_h, out_w):
    """TF1 resize_images (bilinear, align_corners=False, no half-pixel): src = i * in / out."""
    n, h, w, c = x.shape

    def axis(n_in, n_out):
        src = np.arange(n_out) * (n_in / n_out)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, src - lo

    y0, y1, fy = axis(h, out_h)
    x0, x1, fx = axis(w, out_w)
    top = x[:, y0][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y0][:, :, x1] * fx[
        None, None, :, None]
    bot = x[:, y1][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y1][:, :, x1] * fx[
        None, None, :, None]
    return top * (1 - fy)[None, :, None, None] + bot * fy[None, :, None, None]


def test_feature_extractor_resize_is_tf1_resize_images():
    with pytest.warns(UserWarning, match="RANDOM"):
        fx = FeatureExtractor("vgg16", ("pool2",), weights=None, normalization="caffe",
                              resize=24)
    images = np.random.default_rng(10).uniform(size=(2, 40, 56, 3)).astype("float32")
    got = np.asarray(fx.normalize(images))
    resized = numpy_tf1_bilinear(images.astype(np.float64), 24, 24)
    want = resized[..., ::-1] * 255.0 - np.array([103.939, 116.779, 123.68])
    np.testing.assert_allclose(got, want, atol=1e-3)  # float32 rounding at the 255 scale
    assert tuple(fx(images)["pool2"].shape) == (2, 6, 6, 128)
    with pytest.raises(ValueError, match="resize"):
        FeatureExtractor("vgg16", ("pool2",), weights=None, resize=(0, 3))


def test_loss_term_options_are_validated():
    term = LossTerm("correlation", 1.0, options={"reduction": "sum", "chunk_size": 8})
    assert term.kwargs == {"chunk_size": 8, "reduction": "sum"}
    assert term == LossTerm("correlation", 1.0, options=(("reduction", "sum"), ("chunk_size", 8)))
    hash(term)
    with pytest.raises(ValueError, match="takes the options"):
        LossTerm("hole", 1.0, options={"reduction": "sum"})
    with pytest.raises(ValueError, match="takes the options"):
        LossTerm("style", 1.0, options={"chunk_size": 8})


def test_regionwise_recipe_loss_equals_the_codes_formula():
    """g_loss = rec + 0.001 style(c2) + 1e-5 cor(c1) (build_graph_with_loss), by hand."""
    recipe = get_recipe("regionwise")
    with pytest.warns(UserWarning, match="RANDOM"):
        fx = FeatureExtractor(recipe.feature_network, recipe.feature_layers, weights=None,
                              normalization=recipe.feature_normalization,
                              resize=recipe.feature_resize)
    loss = GeneratorLoss(recipe.terms, feature_extractor=fx)
    rng = np.random.default_rng(11)
    gt = rng.uniform(size=(1, 32, 40, 3)).astype("float32")
    mask = np.ones((1, 32, 40, 1), "float32")
    mask[:, 8:24, 6:20] = 0
    outputs = {"stage_1": rng.uniform(size=gt.shape).astype("float32"),
               "output": rng.uniform(size=gt.shape).astype("float32")}
    total, values = loss(gt, mask, outputs)

    # The code's formula on [-1, 1] images, with this module's numpy references.
    g, x1, x2 = gt * 2 - 1, outputs["stage_1"] * 2 - 1, outputs["output"] * 2 - 1
    rec = np.abs(g - x1).sum(dtype=np.float64) + np.abs(g - x2).sum(dtype=np.float64)
    c1 = mask * gt + (1 - mask) * outputs["stage_1"]
    c2 = mask * gt + (1 - mask) * outputs["output"]
    f_gt, f_c1, f_c2 = (
        {k: np.asarray(v) for k, v in fx(im).items()} for im in (gt, c1, c2)
    )
    assert f_gt["pool2"].shape == (1, 56, 56, 128)  # VGG at 224 px
    style = sum(numpy_style_l1(f_c2[k], f_gt[k], "sum") for k in ("pool1", "pool2", "pool3"))
    cor = numpy_correlation_l1(f_c1["pool2"], f_gt["pool2"], "sum")
    np.testing.assert_allclose(float(values["l1_stage_1"]) * 2 + float(values["l1"]) * 2, rec,
                               rtol=1e-5)
    np.testing.assert_allclose(float(values["style"]), style, rtol=1e-4)
    np.testing.assert_allclose(float(values["correlation_stage_1"]), cor, rtol=1e-4)
    np.testing.assert_allclose(float(total), rec + 1e-3 * style + 1e-5 * cor, rtol=1e-4)
