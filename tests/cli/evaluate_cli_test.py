"""``tfinpaint evaluate`` end to end, in process: real photos, PNG masks (white = hole), errors."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from PIL import Image

from tfinpaint.cli import main
from tfinpaint.metrics import load_results, read_results_csv


@pytest.fixture()
def data(tmp_path, photos_dir):
    images = tmp_path / "images"
    images.mkdir()
    for src in sorted((photos_dir / "small").glob("*.jpg"))[:3]:
        shutil.copy(src, images / src.name)
    masks = tmp_path / "masks"
    masks.mkdir()
    for name, (t, b, l, r) in {"a.png": (0, 16, 0, 32), "b.png": (8, 56, 8, 48)}.items():
        arr = np.zeros((64, 64), np.uint8)
        arr[t:b, l:r] = 255  # white = hole: 512/4096 = 12.5 %, 1920/4096 = 46.9 %
        Image.fromarray(arr).save(masks / name)
    return images, masks


def test_evaluate_end_to_end(data, tmp_path, capsys):
    images, masks = data
    out = tmp_path / "out"
    rc = main([
        "evaluate", "--model", "cv2-telea", "--images", str(images), "--masks", str(masks),
        "--size", "64", "--out", str(out), "--save-images", "--no-progress",
    ])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert sorted(p.name for p in out.iterdir()) == [
        "images", "metrics.csv", "metrics.json", "metrics.md",
    ]
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(
        p.with_suffix(".png").name for p in images.iterdir()
    )
    results = load_results(out / "metrics.json")
    assert [r["mask"] for r in results["images"]] == ["a.png", "b.png", "a.png"]
    assert [r["bucket"] for r in results["images"]] == ["10-20%", "40-50%", "10-20%"]
    groups = results["groups"]
    assert list(groups) == ["total", "10-20%", "40-50%"]
    assert (groups["total"]["count"], groups["10-20%"]["count"]) == (3, 2)
    assert all(math.isfinite(g["psnr"]) and 10 < g["psnr"] < 60 for g in groups.values())
    assert groups["10-20%"]["psnr"] > groups["40-50%"]["psnr"]
    psnrs = [results["images"][i]["psnr"] for i in (0, 2)]
    assert groups["10-20%"]["psnr"] == pytest.approx(np.mean(psnrs), abs=1e-9)
    csv_groups = read_results_csv(out / "metrics.csv")
    assert csv_groups["total"]["psnr"] == groups["total"]["psnr"]
    # The printed table is the metrics.md content.
    md = (out / "metrics.md").read_text()
    assert md in captured.out
    assert f"| total | 3 | {groups['total']['psnr']:.2f} |" in md
    assert "model: cv2-telea" in md and "Scored on: composite" in md
    # Saved composites keep the known pixels of the (resized) input.
    saved = np.asarray(Image.open(out / "images" / results["images"][0]["name"].replace(
        ".jpg", ".png")))
    from tfinpaint.evaluation import read_image, read_mask

    first = sorted(images.iterdir())[0]
    image = np.round(read_image(first, 64) * 255).astype(np.uint8)
    known = read_mask(masks / "a.png", 64)[..., 0] == 1
    np.testing.assert_array_equal(saved[known], image[known])


def test_variant_polarity_and_limit(data, tmp_path, capsys):
    images, masks = data
    out = tmp_path / "out2"
    rc = main([
        "evaluate", "--model", "cv2-ns", "--images", str(images), "--masks", str(masks / "a.png"),
        "--size", "64", "--variant", "edgeconnect", "--mask-polarity", "known", "--limit", "2",
        "--out", str(out), "--no-progress",
    ])
    assert rc == 0, capsys.readouterr().err
    results = json.loads((out / "metrics.json").read_text())
    assert results["variant"] == "edgeconnect" and results["metrics"] == ["psnr", "ssim", "mae"]
    # White = known: the hole is everything but the 16x32 box -> 87.5 % -> "other".
    assert [r["hole_ratio"] for r in results["images"]] == [1 - 512 / 4096] * 2
    assert list(results["groups"]) == ["total", "other"]
    assert "MAE (rel.)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda i, m, t: ["--images", str(t / "missing")], "missing: does not exist"),
        (lambda i, m, t: ["--masks", str(t / "nomasks")], "nomasks: does not exist"),
        (lambda i, m, t: ["--model", "no-such-model"], "no-such-model"),
        (lambda i, m, t: ["--size", "60", "--variant", "standard", "--limit", "0"], "--limit"),
    ],
    ids=["missing-images", "missing-masks", "unknown-model", "bad-limit"],
)
def test_bad_arguments_exit_2(data, tmp_path, capsys, mutate, expected):
    images, masks = data
    args = {"--model": "cv2-telea", "--images": str(images), "--masks": str(masks)}
    extra = mutate(images, masks, tmp_path)
    for k, v in zip(extra[::2], extra[1::2]):
        args[k] = v
    argv = ["evaluate", "--size", "32", "--no-progress"]
    for k, v in args.items():
        argv += [k, v]
    assert main(argv) == 2
    assert expected in capsys.readouterr().err


def test_corrupt_image_and_empty_folder_exit_2(data, tmp_path, capsys):
    images, masks = data
    (images / "zz_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    rc = main(["evaluate", "--model", "cv2-telea", "--images", str(images), "--masks",
               str(masks), "--size", "32", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "zz_corrupt.jpg" in err and err.startswith("tfinpaint: error:")
    empty = tmp_path / "empty"
    empty.mkdir()
    rc = main(["evaluate", "--model", "cv2-telea", "--images", str(empty), "--masks",
               str(masks), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "empty: contains no image files" in err
    rc = main(["evaluate", "--model", "cv2-telea", "--images", str(images), "--masks",
               str(masks), "--save-images"])
    assert rc == 2 and "--save-images needs --out" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    rc = main(["evaluate", "--model", "cv2-telea", "--images", str(images), "--masks",
               str(masks), "--out", str(tmp_path / "file")])
    assert rc == 2 and "--out" in (err := capsys.readouterr().err)
    assert "file: exists and is not a folder" in err
    rc = main(["evaluate", "--model", "cv2-telea", "--images", str(images), "--masks",
               str(masks), "--batch-size", "0"])
    assert rc == 2 and "--batch-size must be >= 1. Received: --batch-size 0" in (
        capsys.readouterr().err)
