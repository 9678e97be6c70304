"""Hole-ratio buckets: the one definition used by mask sets, metrics and evaluation.

Buckets follow the NVIDIA irregular-mask test set of Liu et al. 2018 ("Image Inpainting for
Irregular Holes Using Partial Convolutions": 1-10 %, 10-20 %, ..., 50-60 %) with LaMa's names
(``"10-20%"``, ``saicinpainting/evaluation/evaluator.py``). A bucket is a pair ``(lo, hi)`` of
hole ratios with ``0 <= lo < hi <= 1``; a list of buckets is increasing and non-overlapping
(gaps are allowed: the standard list starts at 1 %).

Membership rule (one rule for the whole library):

- bucket ``(lo, hi)`` holds ``lo <= ratio < hi``, i.e. LaMa's
  ``np.searchsorted(edges, ratio, side="right") - 1``: a ratio equal to an edge belongs to the
  bucket that **starts** there (``0.1 -> "10-20%"``);
- the **last** bucket of a list also holds its upper edge (``0.6 -> "50-60%"`` for
  :data:`BUCKETS`), so that the top of the evaluated range is not lost;
- a ratio outside every bucket (no hole, ``< 1 %``, ``> 60 %``) has no bucket:
  :func:`bucket_of` returns ``None`` (the metrics report such images in the group ``"other"``).

The hole ratio is the fraction of hole pixels of a mask with **1 / nonzero = hole**
(:func:`hole_ratio`), measured at the resolution the mask is used at. Library masks are
``1 = known``; convert them first (``hole_ratio(known < 0.5)``).

This module depends on numpy only (no TensorFlow, no OpenCV), so the CLI and the metrics can use
it without loading either.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = [
    "BUCKETS",
    "BUCKET_NAMES",
    "bucket_index",
    "bucket_name",
    "bucket_of",
    "hole_ratio",
    "in_bucket",
    "parse_buckets",
]

#: NVIDIA/PConv irregular-mask test buckets (anchors sections 7.1 and 8). The edges are the
#: correctly rounded k/100 fractions, so a ratio computed as ``count / size`` that equals an edge
#: (e.g. ``410 / 4100 == 0.1``) compares equal to it.
BUCKETS: tuple[tuple[float, float], ...] = (
    (0.01, 0.1),
    (0.1, 0.2),
    (0.2, 0.3),
    (0.3, 0.4),
    (0.4, 0.5),
    (0.5, 0.6),
)


def _pct(x: float) -> str:
    """``0.1 -> "10"``, ``0.125 -> "12.5"`` (percent, at most 6 decimals, no trailing zeros)."""
    return f"{round(x * 100, 6):g}"


def _check_bucket(bucket) -> tuple[float, float]:
    try:
        lo, hi = (float(b) for b in bucket)
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"A bucket is a (lo, hi) pair of hole ratios. Received: bucket={bucket!r}"
        ) from e
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"A bucket needs 0 <= lo < hi <= 1. Received: bucket={bucket!r}")
    return lo, hi


def bucket_name(bucket: tuple[float, float]) -> str:
    """LaMa-style name of a ``(lo, hi)`` bucket: ``(0.1, 0.2) -> "10-20%"``."""
    lo, hi = _check_bucket(bucket)
    return f"{_pct(lo)}-{_pct(hi)}%"


BUCKET_NAMES: tuple[str, ...] = tuple(bucket_name(b) for b in BUCKETS)


def _check_buckets(buckets) -> tuple[tuple[float, float], ...]:
    out = []
    for item in buckets:
        lo, hi = _check_bucket(item)
        if out and lo < out[-1][1]:
            raise ValueError(
                "Buckets must be increasing and non-overlapping (lo of each >= hi of the "
                f"previous). Received: buckets={list(buckets)!r}"
            )
        out.append((lo, hi))
    if not out:
        raise ValueError(f"No bucket given. Received: buckets={buckets!r}")
    return tuple(out)


def parse_buckets(spec) -> tuple[tuple[float, float], ...]:
    """Bucket list from ``"all"``, ``"10-20%,20-30%"`` (``%`` optional) or ``(lo, hi)`` pairs.

    ``"all"`` gives :data:`BUCKETS`. Any ``"a-b%"`` with ``0 <= a < b <= 100`` is accepted, so
    custom buckets such as ``"5-15%"`` work too. The result is checked: every pair has
    ``0 <= lo < hi <= 1`` and the list is non-empty, increasing and non-overlapping.

    Raises:
        ValueError: naming the bad item.
    """
    if not isinstance(spec, str):
        return _check_buckets(spec)
    if spec.strip().lower() == "all":
        return BUCKETS
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if not items:
        raise ValueError(f"No bucket given. Received: buckets={spec!r}")
    out = []
    for item in items:
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*%?", item)
        if not m:
            raise ValueError(
                f"Bad bucket {item!r}: expected 'LO-HI%' such as '10-20%' or 'all' "
                f"(standard: {', '.join(BUCKET_NAMES)}). Received: buckets={spec!r}"
            )
        lo, hi = float(m.group(1)) / 100, float(m.group(2)) / 100
        if not 0 <= lo < hi <= 1:
            raise ValueError(
                f"Bad bucket {item!r}: need 0 <= LO < HI <= 100. Received: buckets={spec!r}"
            )
        out.append((lo, hi))
    return _check_buckets(out)


def in_bucket(ratio: float, bucket: tuple[float, float], last: bool = False) -> bool:
    """``lo <= ratio < hi``, or also ``ratio == hi`` when ``bucket`` is the ``last`` of its list.

    A mask made for one bucket without knowing the rest of the list (as
    :func:`tfinpaint.data.masks.make_bucketed_set` does) belongs to that bucket in every list
    when ``in_bucket(ratio, bucket, last=bucket[1] >= 1)``: only a bucket ending at 100 % is the
    last of every list that holds it.
    """
    lo, hi = bucket
    return lo <= ratio < hi or (last and ratio == hi)


def bucket_index(ratio: float, buckets: Sequence[tuple[float, float]] | str = BUCKETS):
    """Index in ``buckets`` of the bucket holding ``ratio`` (module rule), or ``None``."""
    buckets = parse_buckets(buckets)
    ratio = float(ratio)
    for i, bucket in enumerate(buckets):
        if in_bucket(ratio, bucket, last=i == len(buckets) - 1):
            return i
    return None


def bucket_of(ratio: float, buckets: Sequence[tuple[float, float]] | str = BUCKETS) -> str | None:
    """Name of the bucket holding ``ratio`` (module rule), or ``None`` outside every bucket."""
    buckets = parse_buckets(buckets)
    i = bucket_index(ratio, buckets)
    return None if i is None else bucket_name(buckets[i])


def hole_ratio(hole) -> float:
    """Fraction of hole pixels of a **1 = hole** mask (any shape; nonzero / True = hole).

    A library mask (``1 = known``, float) is converted by the caller, e.g.
    ``hole_ratio(known < 0.5)``.
    """
    hole = np.asarray(hole)
    if hole.size == 0:
        raise ValueError(f"Mask is empty. Received: shape={hole.shape}")
    return float(np.count_nonzero(hole) / hole.size)
