"""``tfinpaint demo`` end to end (small settings), run in-process."""

from __future__ import annotations

import csv
import json
import math
import pathlib
import shutil

import numpy as np
import pytest
from PIL import Image

from tfinpaint.cli import demo as demo_cli
from tfinpaint.cli import main
from tfinpaint.data.masks import BUCKET_NAMES
from tfinpaint.evaluation import read_image, read_mask
from tfinpaint.inference import Inpainter
from tfinpaint.training.recipes import get_recipe


def test_skimage_photos_are_shipped_rgb_photos():
    data = demo_cli.skimage_data_dir()
    for name in demo_cli.SKIMAGE_PHOTOS:
        with Image.open(data / name) as img:
            assert img.mode == "RGB" and min(img.size) >= 256, (name, img.mode, img.size)


def test_demo_default_photos(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--per-bucket", "1", "--size", "128", "--no-progress",
            "--models", "cv2-telea,cv2-ns"]
    assert main(argv + ["--train-steps", "0"]) == 0
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
    assert "[train] skipped" in printed and not (out / "run").exists()
    assert not (out / "saved_models").exists() and not (out / "served.png").exists()

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
        assert main(argv + ["--size", "64", "--models", "cv2-ns", "--no-progress",
                            "--train-steps", "0"]) == 0
        doc = json.loads((out / "metrics.json").read_text())
        assert list(doc["models"]) == ["cv2-ns"] and len(doc["settings"]["images"]) == 2
        assert Image.open(out / "demo.png").size == (8 + 4 * 72, 24 + 4 * 72)
    capsys.readouterr()

    assert main(argv + ["--size", "64", "--models", "no-such-model", "--train-steps", "0"]) == 2
    assert "no-such-model" in capsys.readouterr().err
    assert main(["demo", "--images", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["demo", "--out", str(out), "--size", "16"]) == 2
    assert "--size must be >= 64. Received: --size 16" in capsys.readouterr().err
    assert main(["demo", "--out", str(out), "--train-steps", "-1"]) == 2
    assert "--train-steps must be >= 0. Received: --train-steps -1" in capsys.readouterr().err
    # The trained pconv_unet (layer_size 4) needs sizes that are multiples of 16.
    assert main(argv + ["--size", "72", "--models", "cv2-ns", "--train-steps", "1"]) == 2
    assert "--size must be a multiple of 16" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["demo", "--out", str(tmp_path / "file"), "--size", "64"]) == 2
    assert "--out" in (err := capsys.readouterr().err) and "exists and is not a folder" in err


@pytest.mark.parametrize("n, rows, expected", [(12, 4, [0, 4, 7, 11]), (2, 4, [0, 1]), (1, 4, [0])])
def test_picture_rows_spread_over_masks(n, rows, expected):
    run = demo_cli.DemoRun(args=None, out=None, models=[], masks=list(range(n)))
    assert demo_cli.picture_rows(run, rows) == expected


def test_demo_recipe_drops_the_vgg_terms_only():
    paper, demo = get_recipe("pconv_unet"), get_recipe(demo_cli.TRAIN_RECIPE)
    assert [(t.loss, t.weight, t.on) for t in demo.terms] == [
        ("valid", 1.0, "raw"), ("hole", 6.0, "raw"), ("tv_dilated", 0.1, "composite")
    ]
    assert demo.replace(name="pconv_unet", terms=paper.terms, notes=paper.notes) == paper


def test_demo_trains_exports_and_serves(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--per-bucket", "1", "--size", "64", "--no-progress",
            "--models", "cv2-telea", "--train-steps", "6"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    title = "pconv_unet (6 steps)"
    steps = ("[train]", "[evaluate] " + title, "[picture]", "[export]", "[serve]", "Step times:")
    for step in steps:
        assert step in printed, step

    # train: a run directory of pconv_unet (layer_size 4, the demo recipe) at step 6.
    run_dir = out / "run"
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["model"], config["config"], config["recipe"]) == (
        "pconv_unet", {"layer_size": 4}, "pconv_unet_pixel"
    )
    assert (config["size"], config["batch"], config["steps"]) == (64, 4, 6)
    assert (run_dir / "generator.weights.h5").is_file()
    assert demo_cli._latest_step(run_dir / "checkpoints") == 6
    trained = Inpainter(run_dir)

    # evaluate + report: the trained run is a model of its own in metrics.md / .json / .csv.
    md = (out / "metrics.md").read_text()
    assert f"## {title}" in md and md.count("| total | 6 |") == 2 and f"## {title}" in printed
    doc = json.loads((out / "metrics.json").read_text())
    assert list(doc["models"]) == ["cv2-telea", title]
    assert doc["settings"]["train_steps"] == 6 and doc["settings"]["run_dir"] == str(run_dir)
    groups = doc["models"][title]["groups"]
    assert list(groups) == ["total", *BUCKET_NAMES] and groups["total"]["count"] == 6
    with open(out / "metrics.csv", newline="") as f:
        assert {r["model"] for r in csv.DictReader(f)} == {"cv2-telea", title}

    # picture: one more column, the trained run's Inpainter result of each row's pair.
    picture = np.asarray(Image.open(out / "demo.png"))
    assert picture.shape == (24 + 4 * 72, 8 + 5 * 72, 3)
    masks = json.loads((out / "masks" / "index.json").read_text())["masks"]
    images = [pathlib.Path(p) for p in doc["settings"]["images"]]
    for row, k in enumerate(demo_cli.picture_rows(demo_cli.DemoRun(None, None, [], masks=masks))):
        image = np.round(read_image(images[k % len(images)], 64) * 255).astype(np.uint8)
        hole = read_mask(out / "masks" / masks[k]["filename"], 64)[..., 0] < 0.5
        tile = picture[24 + row * 72 : 24 + row * 72 + 64, 8 + 4 * 72 : 8 + 4 * 72 + 64]
        np.testing.assert_array_equal(tile, trained(image, hole))
        np.testing.assert_array_equal(tile[~hole], image[~hole])
        assert np.abs(tile[hole].astype(int) - image[hole]).mean() > 1  # the holes were filled

    # export: the SavedModel version folder with TF Serving's layout.
    version = out / "saved_models" / "pconv_unet" / "1"
    assert (version / "saved_model.pb").is_file() and (version / "variables").is_dir()

    # serve: served.png is the served answer for the last pair (the 50-60 % bucket); it matches
    # the in-process Inpainter within one uint8 step and keeps the known pixels.
    served = np.asarray(Image.open(out / "served.png"))
    image = np.round(read_image(images[5 % len(images)], 64) * 255).astype(np.uint8)
    hole = read_mask(out / "masks" / masks[5]["filename"], 64)[..., 0] < 0.5
    assert masks[5]["bucket"] == "50-60%" and served.shape == (64, 64, 3)
    diff = np.abs(served.astype(int) - trained(image, hole)).max()
    assert diff <= 1 and f"max |served - in-process| = {diff} (uint8)" in printed
    np.testing.assert_array_equal(served[~hole], image[~hole])

    # A second run resumes the same run directory and trains --train-steps more steps.
    assert main(argv[:-1] + ["2", "--models", "cv2-ns"]) == 0
    printed = capsys.readouterr().out
    assert "steps 6 -> 8" in printed and "## pconv_unet (8 steps)" in printed
    assert demo_cli._latest_step(run_dir / "checkpoints") == 8
    assert json.loads((out / "metrics.json").read_text())["settings"]["train_steps"] == 8


def test_picture_shows_the_shipped_model_not_the_short_run():
    from tfinpaint.pretrained import DEFAULT_MODEL

    assert demo_cli.DEFAULT_MODELS.split(",") == [DEFAULT_MODEL, "cv2-telea", "cv2-ns"]
    run = demo_cli.DemoRun(args=None, out=None, models=[DEFAULT_MODEL, "cv2-telea", "out/run"],
                           trained_source="out/run")
    assert run.picture_models() == [DEFAULT_MODEL, "cv2-telea"]
    # Without a shipped network among --models the short run is the learned column.
    run = demo_cli.DemoRun(args=None, out=None, models=["cv2-telea", "out/run"],
                           trained_source="out/run")
    assert run.picture_models() == ["cv2-telea", "out/run"]
