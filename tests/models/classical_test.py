"""OpenCV cv2.inpaint baselines: registry entries, generator contract, fill quality on photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from tfinpaint.metrics import psnr
from tfinpaint.models import build, get_spec, list_models
from tfinpaint.models.classical import ClassicalInpainter


def _photo(photos_dir, index: int, size: int = 96) -> np.ndarray:
    files = sorted((photos_dir / "small").glob("*.jpg"))
    with Image.open(files[index]) as img:
        arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return arr[:size, :size]


def _square_hole(size: int, top: int, left: int, side: int) -> np.ndarray:
    mask = np.ones((1, size, size, 1), np.float32)
    mask[:, top : top + side, left : left + side] = 0.0
    return mask


@pytest.mark.parametrize("name, method", [("cv2-telea", "telea"), ("cv2-ns", "ns")])
def test_registered_and_built_by_name(name, method):
    assert name in list_models(kind="classical")
    assert name not in list_models(kind="keras")
    spec = get_spec(name)
    assert spec.kind == "classical" and spec.size_multiple == 1
    assert spec.config == {"radius": 3}
    assert spec.metadata["flag"] == f"cv2.INPAINT_{method.upper()}"
    model = build(name)
    assert isinstance(model, ClassicalInpainter)
    assert (model.method, model.radius, model.size_multiple) == (method, 3, 1)
    assert build(name, radius=4).radius == 4  # IOPaint's cv2 setting: NS, radius 4
    with pytest.raises(KeyError, match="Unknown config keys"):
        build(name, flags=1)


@pytest.mark.parametrize("method, flag", [("telea", cv2.INPAINT_TELEA), ("ns", cv2.INPAINT_NS)])
def test_matches_direct_cv2_and_keeps_known_pixels(photos_dir, method, flag):
    image = np.stack([_photo(photos_dir, 2, 64), _photo(photos_dir, 5, 64)])
    mask = np.ones((2, 64, 64, 1), np.float32)
    mask[0, 10:30, 12:40] = 0.0
    mask[1, 40:60, 5:20] = 0.0
    model = ClassicalInpainter(method, radius=5)
    out = model((image, mask))["output"].numpy()
    assert out.dtype == np.float32 and out.shape == image.shape
    u8 = np.round(image * 255).astype(np.uint8)
    for i in range(2):
        hole = ((mask[i, ..., 0] == 0) * 255).astype(np.uint8)
        ref = cv2.inpaint(u8[i], hole, 5, flag).astype(np.float32) / 255.0
        np.testing.assert_array_equal(out[i], ref)
    # Known pixels equal the input (8-bit levels): after compositing the image is unchanged
    # there, and the hole really was filled (not left black).
    known = mask[..., 0] == 1
    np.testing.assert_allclose(out[known], image[known], atol=0.5 / 255 + 1e-6)
    comp = mask * image + (1 - mask) * out
    np.testing.assert_array_equal(comp[known], image[known])
    assert out[~known].mean() > 0.05


def test_fills_better_than_zeros_or_mean_on_real_photos(photos_dir):
    """Telea and NS on a 12x12 hole in 96x96 real photos beat constant fills clearly."""
    gains_mean = {"telea": [], "ns": []}
    for index in range(6):
        image = _photo(photos_dir, index)[None]
        mask = _square_hole(96, 40, 30, 12)
        known = mask[0, ..., 0] == 1
        zeros = mask * image
        mean = mask * image + (1 - mask) * image[0][known].mean(axis=0)
        p_zero, p_mean = psnr(image[0], zeros[0]), psnr(image[0], mean[0])
        for method in gains_mean:
            out = ClassicalInpainter(method)((image, mask))["output"].numpy()
            p = psnr(image[0], (mask * image + (1 - mask) * out)[0])
            assert p > p_zero + 8.0, (index, method, p, p_zero)
            gains_mean[method].append(p - p_mean)
    for method, gains in gains_mean.items():
        assert np.mean(gains) > 3.0, (method, gains)
        assert np.median(gains) > 1.0, (method, gains)


def test_no_hole_returns_input_and_batch_is_per_image(photos_dir):
    image = np.stack([_photo(photos_dir, 1, 48), _photo(photos_dir, 3, 48)])
    mask = np.ones((2, 48, 48, 1), np.float32)
    mask[1, 5:15, 5:15] = 0
    model = ClassicalInpainter("telea")
    out = model((image, mask), training=False)["output"].numpy()
    np.testing.assert_array_equal(out[0], np.round(image[0] * 255) / 255)
    single = model((image[1:], mask[1:]))["output"].numpy()
    np.testing.assert_array_equal(out[1], single[0])


def test_accepts_tensors_and_soft_masks():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (1, 32, 32, 3)).astype(np.float32)
    mask = np.ones((1, 32, 32, 1), np.float32)
    mask[:, 8:16, 8:16] = 0.3  # < 0.5 counts as hole
    model = ClassicalInpainter("ns")
    a = model((tf.constant(image), tf.constant(mask)))["output"].numpy()
    b = model((image, (mask > 0.5).astype(np.float32)))["output"].numpy()
    np.testing.assert_array_equal(a, b)


def test_validation_errors():
    with pytest.raises(ValueError, match="method must be one of"):
        ClassicalInpainter("fsr")
    with pytest.raises(ValueError, match="radius must be an integer >= 1"):
        ClassicalInpainter("telea", radius=0)
    model = ClassicalInpainter()
    image = np.zeros((1, 16, 16, 3), np.float32)
    with pytest.raises(ValueError, match="image.shape"):
        model((image[0], np.ones((16, 16, 1), np.float32)))
    with pytest.raises(ValueError, match="mask.shape"):
        model((image, np.ones((1, 16, 16, 3), np.float32)))
    with pytest.raises(ValueError, match="inputs=\\(image, mask\\)"):
        model(image)
    with pytest.raises(ValueError, match="NaN"):
        model((np.full_like(image, np.nan), np.ones((1, 16, 16, 1), np.float32)))
