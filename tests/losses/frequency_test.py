"""Low/high-pass filters vs scipy.ndimage.convolve, on a real photo crop, and their L1 losses."""

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from tfinpaint.losses import frequency

BOX = np.full((5, 5), 1 / 25)
SHARPEN = np.array([[-1, -1, -1], [-1, 9, -1], [-1, -1, -1]], dtype=np.float64)


@pytest.fixture(scope="module")
def photo(photos_dir):
    path = sorted((photos_dir / "small").glob("*.jpg"))[0]
    img = Image.open(path).convert("RGB").resize((40, 36), Image.BILINEAR)
    return (np.asarray(img, dtype=np.float32) / 255.0)[None]


def _scipy_per_channel(x, kernel, mode):
    out = np.empty(x.shape, np.float64)
    for n in range(x.shape[0]):
        for c in range(x.shape[-1]):
            out[n, :, :, c] = ndimage.convolve(x[n, :, :, c].astype(np.float64), kernel, mode=mode)
    return out


def test_low_pass_valid_matches_scipy(photo):
    ref = _scipy_per_channel(photo, BOX, "constant")[:, 2:-2, 2:-2]  # the valid part
    got = np.asarray(frequency.low_pass(photo))
    assert got.shape == (1, 32, 36, 3)
    np.testing.assert_allclose(got, ref, atol=1e-6)


@pytest.mark.parametrize("padding, mode", [("zero", "constant"), ("reflect", "mirror")])
def test_high_pass_matches_scipy(photo, padding, mode):
    # numpy/keras "reflect" padding (edge not repeated) is scipy's "mirror".
    ref = _scipy_per_channel(photo, SHARPEN, mode)
    got = np.asarray(frequency.high_pass(photo, padding=padding))
    np.testing.assert_allclose(got, ref, atol=2e-5)
    ref_lp = _scipy_per_channel(photo, BOX, mode)
    np.testing.assert_allclose(
        np.asarray(frequency.low_pass(photo, padding=padding)), ref_lp, atol=1e-6
    )


def test_high_pass_keeps_constant_images():
    x = np.full((1, 6, 6, 2), 0.3, "float32")
    np.testing.assert_allclose(np.asarray(frequency.high_pass(x, padding="reflect")), x, atol=1e-6)


def test_frequency_losses(photo):
    rng = np.random.default_rng(0)
    out = np.clip(photo + rng.normal(0, 0.1, photo.shape), 0, 1).astype("float32")
    mask = (rng.uniform(size=photo.shape[:3] + (1,)) > 0.5).astype("float32")
    lp = np.abs(
        _scipy_per_channel(photo, BOX, "constant") - _scipy_per_channel(out, BOX, "constant")
    )[:, 2:-2, 2:-2]
    np.testing.assert_allclose(
        float(frequency.low_frequency_loss(photo, out)), lp.mean(), rtol=1e-5
    )
    hp = np.abs(
        _scipy_per_channel(photo, SHARPEN, "constant")
        - _scipy_per_channel(out, SHARPEN, "constant")
    )
    # Baik: mean(|HPF(gt) - HPF(out)| * hole) over N*H*W*C elements; hole = 1 - known mask.
    np.testing.assert_allclose(
        float(frequency.high_frequency_loss(photo, out, mask)),
        (hp * (1 - mask)).mean(),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        float(frequency.high_frequency_loss(photo, out)), hp.mean(), rtol=1e-5
    )


def test_errors():
    x = np.zeros((1, 8, 8, 3), "float32")
    with pytest.raises(ValueError, match="padding"):
        frequency.low_pass(x, padding="same")
    with pytest.raises(ValueError, match="odd"):
        frequency.low_pass(x, size=4)
    with pytest.raises(ValueError, match="same shape"):
        frequency.low_frequency_loss(x, x[:, :4])
    with pytest.raises(ValueError, match="mask"):
        frequency.high_frequency_loss(x, x, np.ones((1, 8, 8, 2), "float32"))
