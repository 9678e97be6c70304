"""Tests for ``tfinpaint masks`` (run in-process through tfinpaint.cli.main)."""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np
import pytest
from PIL import Image

from tfinpaint.cli import main
from tfinpaint.cli import masks as masks_cli
from tfinpaint.cli.common import parse_size
from tfinpaint.data import masks as M


def _rows(out):
    with open(out / "index.csv") as f:
        return list(csv.DictReader(f))


def test_writes_count_masks_and_index(tmp_path, capsys):
    out = tmp_path / "plain"
    rc = main(["masks", "--kind", "rect_random", "--count", "4", "--size", "64x48",
               "--seed", "3", "--no-progress", str(out)])
    assert rc == 0
    assert "wrote 4 masks" in capsys.readouterr().out
    rows = _rows(out)
    assert len(rows) == 4
    gen = M.get_mask_generator("rect_random")
    for i, row in enumerate(rows):
        png = np.asarray(Image.open(out / row["filename"]))
        assert png.shape == (64, 48) and png.dtype == np.uint8
        np.testing.assert_array_equal(png, gen((64, 48), seed=3, index=i) * 255)  # white = hole
        assert float(row["hole_ratio"]) == pytest.approx(np.count_nonzero(png) / png.size,
                                                         abs=1e-6)
    index = json.loads((out / "index.json").read_text())
    assert index["kind"] == "rect_random" and index["size"] == [64, 48] and index["seed"] == 3
    assert len(index["masks"]) == 4


def test_buckets_count_is_per_bucket(tmp_path):
    out = tmp_path / "buckets"
    rc = main(["masks", "--kind", "lama_medium", "--buckets", "10-20%,40-50%", "--count", "3",
               "--size", "64", "--no-progress", str(out)])
    assert rc == 0
    rows = _rows(out)
    assert [r["bucket"] for r in rows] == ["10-20%"] * 3 + ["40-50%"] * 3
    for r in rows:
        png = np.asarray(Image.open(out / r["filename"]))
        assert M.bucket_of(np.count_nonzero(png) / png.size) == r["bucket"]
    # Same command, same files.
    again = tmp_path / "again"
    assert main(["masks", "--kind", "lama_medium", "--buckets", "10-20%,40-50%", "--count",
                 "3", "--size", "64", "--no-progress", str(again)]) == 0
    for r in rows:
        np.testing.assert_array_equal(np.asarray(Image.open(out / r["filename"])),
                                      np.asarray(Image.open(again / r["filename"])))


def test_all_buckets_with_progress_bar(tmp_path, capsys):
    out = tmp_path / "all"
    assert main(["masks", "--kind", "deepfill_v2", "--buckets", "all", "--count", "1",
                 "--size", "48", str(out)]) == 0
    assert len(_rows(out)) == 6
    assert "6/6" in capsys.readouterr().err  # tqdm on stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--kind", "nope", "--count", "2"], "--kind 'nope' is not a mask kind"),
        (["--kind", "pconv", "--count", "0"], "--count must be >= 1"),
        (["--kind", "pconv", "--count", "2", "--buckets", "10-x"], "--buckets: Bad bucket"),
        (["--kind", "pconv", "--count", "2", "--seed", "-4"], "--seed must be >= 0"),
    ],
)
def test_bad_arguments_return_2(tmp_path, capsys, argv, message):
    out = tmp_path / "bad"
    assert main(["masks", *argv, "--no-progress", str(out)]) == 2
    err = capsys.readouterr().err
    assert "tfinpaint: error:" in err and message in err
    assert not (out / "index.json").exists()


def test_refuses_existing_set_without_overwrite(tmp_path, capsys):
    out = tmp_path / "set"
    args = ["masks", "--kind", "rect_center", "--count", "1", "--size", "32", "--no-progress"]
    assert main([*args, str(out)]) == 0
    assert main([*args, str(out)]) == 2
    assert "already holds a mask set" in capsys.readouterr().err
    assert main([*args, "--overwrite", str(out)]) == 0
    (tmp_path / "file").write_text("x")
    assert main([*args, str(tmp_path / "file")]) == 2
    assert "file: exists and is not a folder" in capsys.readouterr().err


def test_bad_size_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["masks", "--kind", "pconv", "--count", "1", "--size", "big", str(tmp_path)])
    assert e.value.code == 2
    assert "--size must be N or HxW" in capsys.readouterr().err
    assert parse_size("256x384") == (256, 384) and parse_size(" 32 , 48 ") == (32, 48)
    assert parse_size("64") == (64, 64) and parse_size("8X9") == (8, 9)
    for bad, message in (("4", "at least 8x8"), ("7x64", "at least 8x8"), ("1.5", "N or HxW")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            parse_size(bad)


def test_help_explains_polarity(capsys):
    with pytest.raises(SystemExit) as e:
        main(["masks", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "WHITE (255) = HOLE" in text and "PER BUCKET" in text
    for kind in M.list_mask_kinds():
        assert kind in text


def test_cli_kind_list_matches_library():
    assert masks_cli._KINDS == M.describe_mask_kinds()
