"""``tfinpaint inpaint`` run in-process on real photos: single file, folders, errors."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from PIL import Image

from tfinpaint.cli import main
from tfinpaint.data.images import load_image
from tfinpaint.inference import Inpainter


def _save_mask(path, hole):
    Image.fromarray(hole.astype(np.uint8) * 255, mode="L").save(path)
    return path


@pytest.fixture(scope="module")
def val_photos(photos_dir):
    return sorted((photos_dir / "val").glob("*.jpg"))


def _box_hole(shape, top, left, h, w):
    hole = np.zeros(shape[:2], bool)
    hole[top : top + h, left : left + w] = True
    return hole


def test_single_image_matches_opencv(tmp_path, val_photos, capsys):
    src = val_photos[0]
    image = load_image(src)
    hole = _box_hole(image.shape, 100, 150, 60, 90)
    mask = _save_mask(tmp_path / "mask.png", hole)
    out = tmp_path / "result.png"
    args = ["inpaint", str(src), "--mask", str(mask), "-o", str(out), "--model", "cv2-telea"]
    assert main(args) == 0
    assert f"Wrote {out}" in capsys.readouterr().out
    result = np.asarray(Image.open(out))
    # Independent reference: OpenCV Telea (radius 3) on the decoded photo.
    expected = cv2.inpaint(image, hole.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(result[~hole], image[~hole])


def test_half_size_mask_and_known_polarity(tmp_path, val_photos):
    src = val_photos[1]
    image = load_image(src)
    h, w = image.shape[:2]
    small = np.zeros((h // 2, w // 2), bool)
    small[40:70, 60:100] = True
    mask = _save_mask(tmp_path / "small.png", small)
    inverted = _save_mask(tmp_path / "known.png", ~small)
    out1, out2 = tmp_path / "a.png", tmp_path / "b.png"
    assert (
        main(["inpaint", str(src), "--mask", str(mask), "-o", str(out1), "--model", "cv2-ns"]) == 0
    )
    args = ["inpaint", str(src), "--mask", str(inverted), "-o", str(out2), "--model", "cv2-ns"]
    assert main(args + ["--mask-polarity", "known"]) == 0
    a, b = np.asarray(Image.open(out1)), np.asarray(Image.open(out2))
    np.testing.assert_array_equal(a, b)
    # The half-size mask was upsampled with nearest neighbour: rows 80..139, cols 120..199.
    hole = np.asarray(Image.fromarray(small).resize((w, h), Image.NEAREST))
    assert hole[80:140, 120:200].all() and hole.sum() == 60 * 80
    np.testing.assert_array_equal(
        a, cv2.inpaint(image, hole.astype(np.uint8) * 255, 3, cv2.INPAINT_NS)
    )


def test_crop_strategy_on_large_photo(tmp_path, val_photos):
    src = next(p for p in val_photos if max(Image.open(p).size) > 800)
    image = load_image(src)
    hole = _box_hole(image.shape, 200, 300, 30, 40)
    mask = _save_mask(tmp_path / "m.png", hole)
    out = tmp_path / "r.png"
    args = ["inpaint", str(src), "--mask", str(mask), "-o", str(out), "--strategy", "crop",
            "--model", "cv2-telea"]
    assert main(args + ["--crop-margin", "64"]) == 0
    result = np.asarray(Image.open(out))
    # Telea on the crop only (box grown by 64 px each side) gives the hole pixels.
    crop = np.ascontiguousarray(image[136:294, 236:404])
    expected = cv2.inpaint(
        crop, hole[136:294, 236:404].astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA
    )
    np.testing.assert_array_equal(result[200:230, 300:340], expected[64:94, 64:104])
    np.testing.assert_array_equal(result[~hole], image[~hole])


def test_folder_mode(tmp_path, val_photos):
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    images.mkdir()
    masks.mkdir()
    holes = {}
    for i, src in enumerate(val_photos[:3]):
        shutil.copy(src, images / src.name)
        shape = load_image(src).shape
        holes[src.stem] = _box_hole(shape, 30 + 20 * i, 40, 50, 70)
        name = f"{src.stem}_mask.png" if i == 2 else f"{src.stem}.png"  # both naming rules
        _save_mask(masks / name, holes[src.stem])
    assert (
        main(["inpaint", str(images), "--mask", str(masks), "-o", str(out), "--no-progress",
              "--model", "cv2-telea"]) == 0
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{p.stem}.png" for p in val_photos[:3])
    inpainter = Inpainter("cv2-telea")
    for src in val_photos[:3]:
        image = load_image(src)
        result = np.asarray(Image.open(out / f"{src.stem}.png"))
        np.testing.assert_array_equal(result, inpainter(image, holes[src.stem]))
        assert not np.array_equal(result, image)


def test_all_black_mask_copies_image_with_warning(tmp_path, val_photos, capsys):
    src = val_photos[0]
    mask = _save_mask(tmp_path / "black.png", np.zeros(load_image(src).shape[:2], bool))
    out = tmp_path / "copy.png"
    assert main(["inpaint", str(src), "--mask", str(mask), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "marks no pixel to fill" in err and str(mask) in err
    np.testing.assert_array_equal(np.asarray(Image.open(out)), load_image(src))


def test_errors_exit_2_and_name_the_file(tmp_path, val_photos, capsys):
    src = val_photos[0]
    shape = load_image(src).shape
    mask = _save_mask(tmp_path / "m.png", _box_hole(shape, 10, 10, 20, 20))
    out = str(tmp_path / "o.png")

    def check(argv, *needles):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("tfinpaint: error:"), err
        for needle in needles:
            assert needle in err, (needle, err)

    check(
        ["inpaint", str(src), "--mask", str(tmp_path / "nope.png"), "-o", out],
        "nope.png",
        "does not exist",
    )
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    check(["inpaint", str(bad), "--mask", str(mask), "-o", out], "broken.jpg")
    notmask = tmp_path / "notmask.png"
    notmask.write_text("hello")
    check(["inpaint", str(src), "--mask", str(notmask), "-o", out], "notmask.png", "cannot be read")
    square = _save_mask(tmp_path / "square.png", np.ones((64, 64), bool))
    check(["inpaint", str(src), "--mask", str(square), "-o", out], "square.png", "aspect")
    check(
        ["inpaint", str(src), "--mask", str(mask), "-o", str(tmp_path / "o.xyz")],
        "o.xyz",
        "extension",
    )
    check(["inpaint", str(src), "--mask", str(mask), "-o", out, "--model", "nope"], "model nope:")
    check(["inpaint", str(src), "--mask", str(mask), "-o", out, "--max-size", "4"],
          "--max-size must be >= 8. Received: --max-size 4")
    # Folder mode: an image without a mask is reported before anything is written.
    images, masks = tmp_path / "imgs", tmp_path / "msks"
    images.mkdir()
    masks.mkdir()
    shutil.copy(src, images / "a.jpg")
    shutil.copy(src, images / "b.jpg")
    _save_mask(masks / "a.png", _box_hole(shape, 10, 10, 20, 20))
    check(
        ["inpaint", str(images), "--mask", str(masks), "-o", str(tmp_path / "res")],
        "b.jpg",
        "no mask",
    )
    assert not (tmp_path / "res").exists()
    check(
        ["inpaint", str(images), "--mask", str(mask), "-o", str(tmp_path / "res")],
        "must be a folder",
    )
