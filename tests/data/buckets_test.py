"""Hole-ratio buckets (tfinpaint.data.buckets): names, parsing, the membership rule, hole ratio."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tfinpaint import metrics
from tfinpaint.data import buckets as B
from tfinpaint.data import masks


def test_standard_buckets_and_names():
    assert B.BUCKETS == ((0.01, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6))
    assert B.BUCKET_NAMES == ("1-10%", "10-20%", "20-30%", "30-40%", "40-50%", "50-60%")
    assert [B.bucket_name(b) for b in B.BUCKETS] == list(B.BUCKET_NAMES)
    # The edges are the correctly rounded k/100 fractions: count/size ratios hit them exactly.
    assert B.BUCKETS[0][0] == 1 / 100 and all(b[1] == (k + 1) / 10 for k, b in enumerate(B.BUCKETS))
    assert B.bucket_name((0.05, 0.15)) == "5-15%"
    assert B.bucket_name((0.125, 0.5)) == "12.5-50%"
    assert B.bucket_name((0.0, 1.0)) == "0-100%"
    for bad in ((0.2, 0.1), (0.1, 1.5), (0.1,), "ab"):
        with pytest.raises(ValueError, match="bucket"):
            B.bucket_name(bad)


@pytest.mark.parametrize(
    "ratio, bucket",
    [
        (0.0, None),
        (0.005, None),
        (0.01, "1-10%"),
        (0.0999, "1-10%"),
        (0.1, "10-20%"),  # [lo, hi), as LaMa's searchsorted(..., 'right') - 1
        (0.25, "20-30%"),
        (0.3, "30-40%"),
        (0.4999, "40-50%"),
        (0.5, "50-60%"),
        (0.55, "50-60%"),
        (0.6, "50-60%"),  # the last bucket holds its upper edge
        (0.6001, None),
        (1.0, None),
    ],
)
def test_bucket_of_standard(ratio, bucket):
    assert B.bucket_of(ratio) == bucket
    assert B.bucket_index(ratio) == (None if bucket is None else B.BUCKET_NAMES.index(bucket))


def test_membership_equals_lama_searchsorted():
    # Contiguous buckets: index = searchsorted(edges, r, 'right') - 1 (LaMa's evaluator), with
    # the top edge of the last bucket folded into it; outside the edges there is no bucket.
    edges = np.array([0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    ratios = np.concatenate([np.arange(0, 4097) / 4096, edges, np.nextafter(edges, 0)])
    for r in ratios:
        k = int(np.searchsorted(edges, r, side="right")) - 1
        if r == edges[-1]:
            k = len(edges) - 2
        expected = k if 0 <= k < len(edges) - 1 else None
        assert B.bucket_index(r) == expected, r


def test_custom_buckets_gaps_and_last_edge():
    custom = [(0.0, 0.5), (0.5, 1.0)]
    assert B.bucket_of(0.95, custom) == "50-100%"
    assert B.bucket_of(1.0, custom) == "50-100%"
    assert B.bucket_of(0.5, custom) == "50-100%"
    gaps = "10-20%,40-50%"
    assert B.bucket_of(0.2, gaps) is None  # 0.2 is the top of a bucket that is not the last
    assert B.bucket_of(0.3, gaps) is None
    assert B.bucket_of(0.5, gaps) == "40-50%"
    assert not B.in_bucket(0.2, (0.1, 0.2)) and B.in_bucket(0.2, (0.1, 0.2), last=True)
    assert B.in_bucket(0.1, (0.1, 0.2)) and not B.in_bucket(0.0999, (0.1, 0.2), last=True)
    with pytest.raises(ValueError, match="non-overlapping"):
        B.bucket_of(0.1, [(0.2, 0.3), (0.25, 0.4)])
    with pytest.raises(ValueError, match="non-overlapping"):
        B.parse_buckets("10-20%,10-20%")  # duplicates overlap
    with pytest.raises(ValueError, match="No bucket"):
        B.parse_buckets([])


def test_parse_buckets():
    assert B.parse_buckets("all") == B.BUCKETS
    assert B.parse_buckets(" ALL ") == B.BUCKETS
    assert B.parse_buckets("10-20%, 20-30") == ((0.1, 0.2), (0.2, 0.3))
    assert B.parse_buckets("5-15%") == ((0.05, 0.15),)
    assert B.parse_buckets([(0.1, 0.2), [0.3, 0.4]]) == ((0.1, 0.2), (0.3, 0.4))
    for bad in ("10-", "20-10%", "a-b", "", "0-120%", "20-30%,10-20%"):
        with pytest.raises(ValueError):
            B.parse_buckets(bad)
    with pytest.raises(ValueError, match="Bad bucket '10-x'"):
        B.parse_buckets("10-x")


def test_hole_ratio_counts_nonzero_as_hole():
    hole = np.zeros((8, 16), np.uint8)
    hole[:2, :4] = 255
    assert B.hole_ratio(hole) == 8 / 128
    assert B.hole_ratio(hole.astype(bool)[..., None]) == 8 / 128
    known = 1.0 - (hole > 0).astype(np.float32)  # library mask, 1 = known
    assert B.hole_ratio(known < 0.5) == 8 / 128
    assert B.hole_ratio(np.ones((3, 3))) == 1.0 and B.hole_ratio(np.zeros(5)) == 0.0
    with pytest.raises(ValueError, match="empty"):
        B.hole_ratio(np.zeros((0, 4)))


def test_masks_and_metrics_use_the_one_definition():
    for name in ("BUCKETS", "BUCKET_NAMES", "bucket_name", "bucket_of", "hole_ratio",
                 "parse_buckets"):
        assert getattr(masks, name) is getattr(B, name), name
        assert getattr(metrics, name) is getattr(B, name), name


def test_module_needs_neither_tensorflow_nor_opencv():
    code = (
        "import sys, tfinpaint.data.buckets as b; b.bucket_of(0.3); "
        "bad = [m for m in ('tensorflow', 'cv2', 'keras') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
