"""Evaluation runner: listing, pairing, geometry, mask polarity, scores vs direct computation."""

from __future__ import annotations

import math
import pathlib
import shutil

import numpy as np
import pytest
from PIL import Image

from tfinpaint import evaluation as E
from tfinpaint import metrics as M
from tfinpaint.models.classical import ClassicalInpainter


@pytest.fixture(scope="module")
def photo_files(photos_dir):
    return sorted((photos_dir / "small").glob("*.jpg"))[:5]


def _write_mask(path, size, box, mode="L", white=255):
    """A PNG mask, white (= hole) inside ``box = (top, bottom, left, right)``."""
    arr = np.zeros((size, size), np.uint8)
    t, b, l, r = box
    arr[t:b, l:r] = white
    img = Image.fromarray(arr)
    if mode != "L":
        img = img.convert(mode)
    img.save(path)
    return path


def test_list_image_files_sorted_filtered_and_errors(tmp_path):
    # The listing of the training pipelines: recursive, sorted by path, image extensions only
    # (the index.csv / index.json of a `tfinpaint masks` folder are skipped).
    for name in ("b.png", "a.JPG", "c.txt", "index.csv", "index.json"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.png").write_bytes(b"x")
    listed = E.list_image_files(tmp_path)
    assert all(isinstance(p, pathlib.Path) for p in listed)
    assert [p.relative_to(tmp_path).as_posix() for p in listed] == ["a.JPG", "b.png", "sub/d.png"]
    assert E.list_image_files(tmp_path / "b.png") == [tmp_path / "b.png"]
    assert E.list_image_files([tmp_path / "b.png", tmp_path / "a.JPG"]) == [
        tmp_path / "b.png", tmp_path / "a.JPG",
    ]  # a list keeps its order
    with pytest.raises(FileNotFoundError, match=r"image path .*missing: does not exist"):
        E.list_image_files(tmp_path / "missing")
    # Masks are listed as MaskFolder lists them (training): TIFF too, as they are read by Pillow.
    (tmp_path / "t.tif").write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in E.list_image_files(tmp_path)] == [
        "a.JPG", "b.png", "sub/d.png",
    ]
    assert [p.relative_to(tmp_path).as_posix() for p in E.list_image_files(tmp_path, "mask")] == [
        "a.JPG", "b.png", "sub/d.png", "t.tif",
    ]
    with pytest.raises(ValueError, match="what must be"):
        E.list_image_files(tmp_path, "photo")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"mask directory .*empty: contains no image files"):
        E.list_image_files(empty, "mask")
    with pytest.raises(FileNotFoundError, match="nope.png"):
        E.list_image_files([tmp_path / "nope.png"])


def test_pair_indices():
    assert E.pair_indices(5, 2) == [0, 1, 0, 1, 0]
    assert E.pair_indices(2, 5) == [0, 1]
    with pytest.raises(ValueError):
        E.pair_indices(3, 0)


def test_read_image_center_crop_and_resize(tmp_path):
    # 60 wide x 40 high: red | blue (40 px centre) | green. The centre crop is all blue.
    arr = np.zeros((40, 60, 3), np.uint8)
    arr[:, :10] = (255, 0, 0)
    arr[:, 10:50] = (0, 0, 255)
    arr[:, 50:] = (0, 255, 0)
    Image.fromarray(arr).save(tmp_path / "x.png")
    img = E.read_image(tmp_path / "x.png", size=20)
    assert img.shape == (20, 20, 3) and img.dtype == np.float32
    np.testing.assert_allclose(img, np.broadcast_to([0, 0, 1], img.shape), atol=1e-6)
    full = E.read_image(tmp_path / "x.png", size=30, crop="resize")
    assert full[:, 0, 0].min() > 0.9 and full[:, -1, 1].min() > 0.9  # sides kept
    same = E.read_image(tmp_path / "x.png", size=40, crop="center_crop")
    np.testing.assert_array_equal(same * 255, arr[:, 10:50].astype(np.float32))
    with pytest.raises(ValueError, match="x.png: is 60x40"):
        E.read_image(tmp_path / "x.png", size=40, crop="none")


def test_read_image_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(ValueError, match="broken.jpg"):
        E.read_image(bad, 32)
    with pytest.raises(FileNotFoundError, match="gone.png"):
        E.read_image(tmp_path / "gone.png", 32)


@pytest.mark.parametrize("mode", ["L", "RGB", "1", "P"])
def test_read_mask_polarity_nearest_and_modes(tmp_path, mode):
    path = _write_mask(tmp_path / f"m_{mode}.png", 128, (0, 32, 64, 96), mode=mode)
    known = E.read_mask(path, size=64)
    assert known.shape == (64, 64, 1) and known.dtype == np.float32
    assert set(np.unique(known)) == {0.0, 1.0}
    # 32x32 hole in 128x128 -> 16x16 hole in 64x64, at the same place.
    assert M.hole_ratio(known < 0.5) == 256 / 4096  # hole_ratio takes 1 = hole
    assert (known[:16, 32:48] == 0).all() and known[16:].min() == 1 and known[:, :32].min() == 1
    flipped = E.read_mask(path, size=64, mask_polarity="known")
    np.testing.assert_array_equal(flipped, 1 - known)
    with pytest.raises(ValueError, match="mask_polarity"):
        E.read_mask(path, 64, mask_polarity="white")


def test_read_mask_threshold_and_gray_levels(tmp_path):
    arr = np.zeros((16, 16), np.uint8)
    arr[:, :4] = 127  # not a hole (> 127 rule)
    arr[:, 4:8] = 128  # hole
    Image.fromarray(arr).save(tmp_path / "g.png")
    known = E.read_mask(tmp_path / "g.png", size=16, crop="none")
    assert known[:, :4].min() == 1 and known[:, 4:8].max() == 0 and known[:, 8:].min() == 1


@pytest.fixture()
def mask_dir(tmp_path):
    d = tmp_path / "masks"
    d.mkdir()
    _write_mask(d / "m0.png", 64, (0, 8, 0, 32))  # 256/4096 = 6.25 %
    _write_mask(d / "m1.png", 64, (10, 40, 10, 50))  # 1200/4096 = 29.3 %
    (d / "index.csv").write_text("filename,hole_ratio,bucket\nm0.png,0.0625,1-10%\n")
    return d


def test_evaluate_cv2_matches_direct_computation(photo_files, mask_dir, tmp_path):
    res = E.evaluate(
        "cv2-telea", photo_files[:4], mask_dir, size=64, batch_size=3, progress=False,
        save_images=tmp_path / "saved",
    )
    assert res["meta"]["model"] == "cv2-telea" and res["on"] == "composite"
    assert [r["mask"] for r in res["images"]] == ["m0.png", "m1.png", "m0.png", "m1.png"]
    assert [r["bucket"] for r in res["images"]] == ["1-10%", "20-30%", "1-10%", "20-30%"]
    assert res["images"][1]["hole_ratio"] == 1200 / 4096
    model = ClassicalInpainter("telea", radius=3)
    per_bucket = {"1-10%": [], "20-30%": []}
    for i, path in enumerate(photo_files[:4]):
        image = E.read_image(path, 64)
        mask = E.read_mask(mask_dir / f"m{i % 2}.png", 64)
        out = model((image[None], mask[None]))["output"].numpy()[0]
        comp = mask * image + (1 - mask) * out  # cv2 output is already 8-bit
        expected = M.image_metrics(image, comp)
        rec = res["images"][i]
        assert rec["name"] == path.name
        for m in ("psnr", "ssim", "l1"):
            assert rec[m] == pytest.approx(expected[m], abs=1e-9)
        per_bucket[rec["bucket"]].append(expected["psnr"])
        saved = np.asarray(Image.open(tmp_path / "saved" / f"{path.stem}.png"))
        np.testing.assert_array_equal(saved, np.round(comp * 255).astype(np.uint8))
    for bucket, values in per_bucket.items():
        assert res["groups"][bucket]["psnr"] == pytest.approx(np.mean(values), abs=1e-9)
    assert res["groups"]["total"]["count"] == 4
    # A bigger hole is harder: the 20-30 % bucket scores lower than 1-10 %.
    assert res["groups"]["20-30%"]["psnr"] < res["groups"]["1-10%"]["psnr"]


class _ConstantModel:
    """Generator-contract test double: outputs a constant gray image."""

    size_multiple = 8
    name = "constant"

    def __init__(self, value=0.5):
        self.value = value
        self.calls = []

    def __call__(self, inputs, training=None):
        image, mask = inputs
        self.calls.append((tuple(image.shape), tuple(mask.shape), training))
        return {"output": np.full(image.shape, self.value, np.float32)}


def test_evaluate_callable_raw_vs_composite_and_limit(photo_files, mask_dir):
    model = _ConstantModel(0.5)
    comp = E.evaluate(model, photo_files, mask_dir, size=32, batch_size=2, limit=3,
                      progress=False)
    assert model.calls == [((2, 32, 32, 3), (2, 32, 32, 1), False), ((1, 32, 32, 3),
                           (1, 32, 32, 1), False)]
    raw = E.evaluate(model, photo_files, mask_dir, size=32, limit=3, on="raw", progress=False)
    assert comp["meta"]["num_images"] == raw["meta"]["num_images"] == 3
    image = E.read_image(photo_files[2], 32)
    mask = E.read_mask(mask_dir / "m0.png", 32)
    gray = np.full_like(image, 0.5)  # 0.5 rounds to 128/255 with 8-bit quantization
    gray_q = np.round(gray * 255) / 255
    assert comp["images"][2]["psnr"] == pytest.approx(
        M.psnr(image, mask * image + (1 - mask) * gray_q), abs=1e-9
    )
    assert raw["images"][2]["psnr"] == pytest.approx(M.psnr(image, gray_q), abs=1e-9)
    unq = E.evaluate(model, photo_files, mask_dir, size=32, limit=3, on="raw", quantize=False,
                     progress=False)
    assert unq["images"][2]["psnr"] == pytest.approx(M.psnr(image, gray), abs=1e-9)
    assert raw["on"] == "raw" and raw["images"][2]["psnr"] < comp["images"][2]["psnr"]


def test_evaluate_perfect_model_gives_infinite_psnr(photo_files, tmp_path):
    class Perfect:
        size_multiple = 1

        def __call__(self, inputs, training=None):
            return {"output": inputs[0]}

    masks = tmp_path / "m"
    masks.mkdir()
    _write_mask(masks / "a.png", 32, (0, 8, 0, 8))
    res = E.evaluate(Perfect(), photo_files[:2], masks, size=32, progress=False)
    assert all(r["psnr"] == math.inf for r in res["images"])
    assert res["groups"]["total"]["psnr"] == math.inf
    assert res["groups"]["total"]["psnr_infinite"] == 2


def test_evaluate_edgeconnect_variant(photo_files, mask_dir):
    res = E.evaluate("cv2-ns", photo_files[:2], mask_dir, size=64, variant="edgeconnect",
                     progress=False)
    assert res["metrics"] == ["psnr", "ssim", "mae"] and res["variant"] == "edgeconnect"
    image = E.read_image(photo_files[1], 64)
    mask = E.read_mask(mask_dir / "m1.png", 64)
    out = ClassicalInpainter("ns")((image[None], mask[None]))["output"].numpy()[0]
    expected = M.edgeconnect_metrics(image, mask * image + (1 - mask) * out)
    for m in ("psnr", "ssim", "mae"):
        assert res["images"][1][m] == pytest.approx(expected[m], abs=1e-9)
    with pytest.raises(ValueError, match="size must be an integer >= 51"):
        E.evaluate("cv2-ns", photo_files[:1], mask_dir, size=48, variant="edgeconnect")


def test_evaluate_errors(photo_files, mask_dir, tmp_path):
    with pytest.raises(ValueError, match="not a multiple of the model's size_multiple 8"):
        E.evaluate(_ConstantModel(), photo_files[:1], mask_dir, size=36, progress=False)
    bad_dir = tmp_path / "imgs"
    bad_dir.mkdir()
    shutil.copy(photo_files[0], bad_dir / "a.jpg")
    (bad_dir / "b.jpg").write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="b.jpg"):
        E.evaluate("cv2-telea", bad_dir, mask_dir, size=32, progress=False)
    bad_masks = tmp_path / "bad_masks"
    bad_masks.mkdir()
    (bad_masks / "m.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(ValueError, match="m.png"):
        E.evaluate("cv2-telea", photo_files[:1], bad_masks, size=32, progress=False)
    with pytest.raises((ValueError, FileNotFoundError, KeyError), match="no-such-model"):
        E.evaluate("no-such-model", photo_files[:1], mask_dir, size=32, progress=False)
    with pytest.raises(ValueError, match="crop must be one of"):
        E.evaluate("cv2-telea", photo_files[:1], mask_dir, crop="random")
    with pytest.raises(ValueError, match="on must be one of"):
        E.evaluate("cv2-telea", photo_files[:1], mask_dir, on="output")
    with pytest.raises(TypeError, match="generator contract"):
        E.evaluate(42, photo_files[:1], mask_dir, size=32, progress=False)
