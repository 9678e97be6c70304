"""``tfinpaint demo`` end to end (small settings), run in-process."""

from __future__ import annotations

import csv
import json
import math
import shutil

import numpy as np
import pytest
from PIL import Image

from tfinpaint.cli import demo as demo_cli
from tfinpaint.cli import main
from tfinpaint.data.masks import BUCKET_NAMES


def test_skimage_photos_are_shipped_rgb_photos():
    data = demo_cli.skimage_data_dir()
    for name in demo_cli.SKIMAGE_PHOTOS:
        with Image.open(data / name) as img:
            assert img.mode == "RGB" and min(img.size) >= 256, (name, img.mode, img.size)


def test_demo_default_photos(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--per-bucket", "1", "--size", "128", "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for name in ("metrics.md", "metrics.csv", "metrics.json", "demo.png"):
        assert (out / name).is_file() and str(out / name) in printed

    # metrics.md: one table per model, each with total + all six buckets (1 image each).
    md = (out / "metrics.md").read_text()
    assert md.count("| bucket | images |") == 2 and "## cv2-telea" in md and "## cv2-ns" in md
    for bucket in BUCKET_NAMES:
        assert md.count(f"| {bucket} | 1 |") == 2, bucket
    assert md.count("| total | 6 |") == 2
    assert "| total | 6 |" in printed

    doc = json.loads((out / "metrics.json").read_text())
    assert doc["settings"]["size"] == 128 and len(doc["settings"]["images"]) == 5
    for name in ("cv2-telea", "cv2-ns"):
        groups = doc["models"][name]["groups"]
        assert list(groups) == ["total", *BUCKET_NAMES]
        assert all(groups[b]["count"] == 1 for b in BUCKET_NAMES)
        # Harder buckets score worse: the 1-10 % bucket beats the 50-60 % bucket.
        assert groups["1-10%"]["psnr"] > groups["50-60%"]["psnr"] + 3
        assert groups["1-10%"]["l1"] < groups["50-60%"]["l1"]
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 7 and {r["model"] for r in rows} == {"cv2-telea", "cv2-ns"}

    # demo.png: 4 rows (of the 6 pairs), 3 + 2 columns of 128 px tiles.
    picture = np.asarray(Image.open(out / "demo.png"))
    width, height = demo_cli.GAP + 5 * (128 + demo_cli.GAP), demo_cli.HEADER + 4 * (128 + 8)
    assert picture.shape == (height, width, 3) == (568, 688, 3)
    # The first row shows pair 0 (image 0, mask 0): its cv2-telea tile scores the PSNR that the
    # evaluation recorded for that pair (same composite, computed independently here).
    tile = lambda col: picture[24 : 24 + 128, 8 + col * 136 : 8 + col * 136 + 128]  # noqa: E731
    first_mask = json.loads((out / "masks" / "index.json").read_text())["masks"][0]
    mask_tile = np.asarray(Image.open(out / "masks" / first_mask["filename"])) > 127
    assert first_mask["bucket"] == "1-10%" and 0.01 <= mask_tile.mean() < 0.10
    # The mask column shows that mask (below the "NN% hole" label in its top-left corner).
    np.testing.assert_array_equal(tile(1)[20:, :, 0] > 127, mask_tile[20:])
    target, result = tile(0) / 255.0, tile(3) / 255.0
    mse = np.mean((target - result) ** 2)
    record = doc["models"]["cv2-telea"]["images"][0]
    assert record["bucket"] == "1-10%"
    assert math.isclose(10 * np.log10(1 / mse), record["psnr"], rel_tol=1e-9)
    np.testing.assert_array_equal(tile(3)[~mask_tile], tile(0)[~mask_tile])


def test_demo_custom_images_and_errors(tmp_path, photos_dir, capsys):
    images = tmp_path / "photos"
    (images / "sub").mkdir(parents=True)
    first, second = sorted((photos_dir / "val").glob("*.jpg"))[:2]
    shutil.copy(first, images / first.name)
    shutil.copy(second, images / "sub" / second.name)  # folders are searched recursively
    out = images / "out"  # inside --images: its PNGs must not become photos of a later run
    argv = ["demo", "--images", str(images), "--out", str(out), "--per-bucket", "1"]
    for _ in range(2):
        assert main(argv + ["--size", "64", "--models", "cv2-ns", "--no-progress"]) == 0
        doc = json.loads((out / "metrics.json").read_text())
        assert list(doc["models"]) == ["cv2-ns"] and len(doc["settings"]["images"]) == 2
        assert Image.open(out / "demo.png").size == (8 + 4 * 72, 24 + 4 * 72)
    capsys.readouterr()

    assert main(argv + ["--size", "64", "--models", "no-such-model"]) == 2
    assert "no-such-model" in capsys.readouterr().err
    assert main(["demo", "--images", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["demo", "--out", str(out), "--size", "16"]) == 2
    assert "--size must be >= 64. Received: --size 16" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["demo", "--out", str(tmp_path / "file"), "--size", "64"]) == 2
    assert "--out" in (err := capsys.readouterr().err) and "exists and is not a folder" in err


@pytest.mark.parametrize("n, rows, expected", [(12, 4, [0, 4, 7, 11]), (2, 4, [0, 1]), (1, 4, [0])])
def test_picture_rows_spread_over_masks(n, rows, expected):
    run = demo_cli.DemoRun(args=None, out=None, models=[], masks=list(range(n)))
    assert demo_cli.picture_rows(run, rows) == expected
