"""Hole masks: generators, named presets, hole-ratio buckets, mask folders and mask sets.

Generators follow LaMa (``saicinpainting/training/data/masks.py``): small classes with explicit
knobs, LaMa's argument names (``max_angle``, ``max_len``, ``max_width``, ``min_times``,
``max_times``, ``margin``, ``bbox_min_size``, ``bbox_max_size``), a :class:`MixedMaskGenerator`
with renormalized probabilities, and named presets built by :func:`get_mask_generator`, which
raises on an unknown kind.

Polarity. A generator returns a ``(H, W)`` array with **1 = hole** (as LaMa's generators do).
The library convention inside models is ``1 = known`` (DESIGN.md section 2); the ``tf.data``
sources (:func:`mask_dataset`, :meth:`MaskFolder.as_dataset`) convert exactly once, through
:func:`tfinpaint.data.polarity.known_from_hole`, and yield float32 ``(H, W, 1)`` with
**1 = known**. Files written by :func:`write_mask_set` are uint8 PNGs with **white (255) =
hole**, as the NVIDIA irregular-mask set, OpenCV ``cv2.inpaint`` and LaMa.

Determinism. Every random draw comes from ``numpy.random.default_rng(SeedSequence([seed,
index]))``: mask ``index`` of a seed never depends on how many masks were drawn before it, so an
evaluation set is reproducible mask by mask and can be generated in any order or in parallel.

Sizes. Pixel parameters are given at a ``reference_size`` (LaMa's presets at 256 or 512,
DeepFill's at 256); they are scaled by ``min(H, W) / reference_size`` at draw time, so a preset
keeps its hole-ratio distribution at other output sizes. ``reference_size=None`` uses the
parameters as raw pixels (LaMa's classes do that).

Hole-ratio buckets (NVIDIA test-set ranges, LaMa names, the membership rule and
:func:`hole_ratio`) are defined in :mod:`tfinpaint.data.buckets` and re-exported here.
:func:`make_bucketed_set` keeps a mask for bucket ``(lo, hi)`` only when ``lo <= ratio < hi``
(or ``ratio == 1`` for a bucket ending at 100 %), so it lies in that bucket under the shared rule
whatever other buckets are listed with it.
"""

from __future__ import annotations

import csv
import json
import math
import os
import pathlib
from collections.abc import Callable, Iterator, Sequence

import cv2
import numpy as np

from tfinpaint.data.buckets import (
    BUCKET_NAMES,
    BUCKETS,
    bucket_name,
    bucket_of,
    hole_ratio,
    in_bucket,
    parse_buckets,
)

__all__ = [
    "BUCKETS",
    "BUCKET_NAMES",
    "BucketFillError",
    "DeepFillV2StrokeGenerator",
    "LamaBoxGenerator",
    "LamaIrregularGenerator",
    "MASK_EXTENSIONS",
    "MaskFolder",
    "MaskGenerator",
    "MixedMaskGenerator",
    "PConvMaskGenerator",
    "RectangleMaskGenerator",
    "bucket_name",
    "bucket_of",
    "describe_mask_kinds",
    "get_mask_generator",
    "hole_ratio",
    "list_mask_files",
    "list_mask_kinds",
    "make_bucketed_set",
    "mask_dataset",
    "parse_buckets",
    "write_mask_set",
]

#: Extensions of mask files (compared lower-cased). Masks are read with Pillow
#: (``_read_mask_file``), so TIFF is listed too, unlike the TF-decoded
#: :data:`tfinpaint.data.images.IMAGE_EXTENSIONS`.
MASK_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _as_size(size) -> tuple[int, int]:
    """``int`` or ``(H, W)`` -> ``(H, W)`` of positive ints."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        hw = (int(size), int(size))
    else:
        try:
            hw = tuple(int(s) for s in size)
        except TypeError as e:
            raise ValueError(f"`size` must be an int or a (height, width) pair. Received: "
                             f"size={size!r}") from e
        if len(hw) != 2:
            raise ValueError(f"`size` must be an int or a (height, width) pair. Received: "
                             f"size={size!r}")
    if min(hw) < 1:
        raise ValueError(f"Mask size must be positive. Received: size={size!r}")
    return hw


def _check_seed(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"`{name}` must be a non-negative int. Received: {name}={value!r}")
    return int(value)


def _resolve_seed(seed) -> int:
    """``None`` -> a fresh seed from OS entropy (a new stream every run); else a checked int."""
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    return _check_seed("seed", seed)


def _rng(*entropy: int) -> np.random.Generator:
    """A fresh generator for one (seed, index, ...) tuple: stateless, order independent."""
    return np.random.default_rng(np.random.SeedSequence([int(e) for e in entropy]))


def _cast(mask: np.ndarray, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return mask.astype(bool)
    if dtype.kind not in "uif":
        raise ValueError(f"`dtype` must be bool, an integer or a float type. Received: "
                         f"dtype={dtype}")
    return mask.astype(dtype)


# --------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------


class MaskGenerator:
    """Base class: ``generator(size, seed=0, index=0)`` -> ``(H, W)`` mask, **1 = hole**.

    Subclasses implement :meth:`sample`, which draws from a given ``numpy`` generator; the call
    builds that generator from ``(seed, index)`` alone, so masks are stateless per index.

    Args:
        reference_size: int or None. Size at which pixel parameters are given; they are scaled by
            ``min(H, W) / reference_size`` at draw time. ``None`` keeps raw pixels.
    """

    def __init__(self, reference_size: int | None = None):
        if reference_size is not None:
            if isinstance(reference_size, bool) or int(reference_size) != reference_size or (
                reference_size < 1
            ):
                raise ValueError(f"`reference_size` must be a positive int or None. Received: "
                                 f"reference_size={reference_size!r}")
            reference_size = int(reference_size)
        self.reference_size = reference_size

    def scale(self, height: int, width: int) -> float:
        """Factor applied to pixel parameters at output size ``(height, width)``."""
        if self.reference_size is None:
            return 1.0
        return min(height, width) / self.reference_size

    def sample(self, rng: np.random.Generator, size) -> np.ndarray:
        """Draws one mask from ``rng``: uint8 ``(H, W)``, values 0/1, 1 = hole."""
        raise NotImplementedError

    def __call__(self, size, seed: int = 0, index: int = 0, dtype=np.uint8) -> np.ndarray:
        """Mask number ``index`` of the set ``seed`` at ``size`` (int or ``(H, W)``).

        Returns an array ``(H, W)`` of ``dtype`` (uint8 by default) with 1 = hole, 0 = known.
        """
        hw = _as_size(size)
        rng = _rng(_check_seed("seed", seed), _check_seed("index", index))
        return _cast(self.sample(rng, hw), dtype)

    def batch(self, size, seed: int = 0, indices: Sequence[int] | int = 1, dtype=np.uint8):
        """Masks for ``indices`` (or ``range(indices)`` for an int), stacked ``(N, H, W)``."""
        if isinstance(indices, (int, np.integer)):
            indices = range(int(indices))
        return np.stack([self(size, seed=seed, index=i, dtype=dtype) for i in indices])

    def get_config(self) -> dict:
        return {"reference_size": self.reference_size}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class PConvMaskGenerator(MaskGenerator):
    """Random lines, filled circles and elliptic arcs, as NVIDIA PConv followers draw them.

    Follows PConv-Keras ``libs/util.py::MaskGenerator._generate_mask`` (Liu et al. 2018,
    "Image Inpainting for Irregular Holes Using Partial Convolutions", arXiv:1804.07723; the
    Keras reimplementation by MathiasGruber): ``randint(1, max_lines)`` lines,
    ``randint(1, max_circles)`` circles and ``randint(1, max_ellipses)`` ellipse arcs, all with
    ``size = int(size_fraction * (W + H))``:

    * line: end points uniform in ``[1, W] x [1, H]``, thickness ``randint(3, size)``;
    * circle: filled, centre uniform, radius ``randint(3, size)``;
    * ellipse arc: centre uniform, axes ``randint(1, W), randint(1, H)``, rotation, start and
      end angle each ``randint(3, 180)`` degrees, thickness ``randint(3, size)``.

    All ``randint`` bounds are inclusive (Python's ``random.randint``). PConv-Keras requires
    ``H, W >= 64``; here ``size`` is clamped to at least 3 instead, so small masks still work.

    Args:
        max_lines: int. Defaults to `20`.
        max_circles: int. Defaults to `20`.
        max_ellipses: int. Defaults to `20`.
        size_fraction: float. Thickness / radius cap relative to ``W + H``. Defaults to `0.03`.

    Examples:
    ```python
    gen = PConvMaskGenerator()
    hole = gen((128, 128), seed=0, index=3)   # uint8 (128, 128), 1 = hole
    ```
    """

    def __init__(self, max_lines: int = 20, max_circles: int = 20, max_ellipses: int = 20,
                 size_fraction: float = 0.03):
        super().__init__(reference_size=None)
        for name, v in (("max_lines", max_lines), ("max_circles", max_circles),
                        ("max_ellipses", max_ellipses)):
            if int(v) != v or v < 0:
                raise ValueError(f"`{name}` must be a non-negative int. Received: {name}={v!r}")
        if not size_fraction > 0:
            raise ValueError(f"`size_fraction` must be > 0. Received: "
                             f"size_fraction={size_fraction!r}")
        self.max_lines = int(max_lines)
        self.max_circles = int(max_circles)
        self.max_ellipses = int(max_ellipses)
        self.size_fraction = float(size_fraction)

    def sample(self, rng, size):
        h, w = _as_size(size)
        mask = np.zeros((h, w), np.uint8)
        cap = max(3, int((w + h) * self.size_fraction))

        def randint(lo, hi):  # inclusive, like random.randint
            return int(rng.integers(lo, hi, endpoint=True))

        for _ in range(randint(1, self.max_lines) if self.max_lines else 0):
            p1 = (randint(1, w), randint(1, h))
            p2 = (randint(1, w), randint(1, h))
            cv2.line(mask, p1, p2, 1, randint(3, cap))
        for _ in range(randint(1, self.max_circles) if self.max_circles else 0):
            centre = (randint(1, w), randint(1, h))
            cv2.circle(mask, centre, randint(3, cap), 1, -1)
        for _ in range(randint(1, self.max_ellipses) if self.max_ellipses else 0):
            centre = (randint(1, w), randint(1, h))
            axes = (randint(1, w), randint(1, h))
            rot, start, end = randint(3, 180), randint(3, 180), randint(3, 180)
            cv2.ellipse(mask, centre, axes, rot, start, end, 1, randint(3, cap))
        return mask

    def get_config(self):
        return {"max_lines": self.max_lines, "max_circles": self.max_circles,
                "max_ellipses": self.max_ellipses, "size_fraction": self.size_fraction}


class DeepFillV2StrokeGenerator(MaskGenerator):
    """DeepFill v2 free-form brush strokes, optionally OR-ed with a random box.

    Follows ``generative_inpainting/inpaint_ops.py::brush_stroke_mask`` (Yu et al. 2019,
    "Free-Form Image Inpainting with Gated Convolution", arXiv:1806.03589):
    ``randint(1, max_strokes)`` strokes; each has ``num_vertex`` in ``[min_num_vertex,
    max_num_vertex)``; ``angle_min = mean_angle - U(0, angle_range)``, ``angle_max = mean_angle
    + U(0, angle_range)`` with ``mean_angle = 2*pi/5``, ``angle_range = 2*pi/15``; vertex angles
    alternate between ``2*pi - U(angle_min, angle_max)`` (even) and ``U(angle_min, angle_max)``
    (odd); segment length ``r = clip(N(R, R // 2), 0, 2R)`` with ``R = sqrt(H^2 + W^2) / 8``;
    width ``int(U(min_width, max_width))`` (12..40 at 256, scaled with the size), drawn as a
    polyline plus a round cap (disc of radius ``width // 2``) at every vertex.

    Differences from the official code, on purpose: the start vertex is uniform in ``[0, W) x
    [0, H)`` (the official code swaps PIL's ``(W, H)`` size, which only matters off-square), and
    the official random flips are omitted because they are no-ops there (their ``transpose``
    results are discarded).

    With ``with_box=True`` the strokes are OR-ed with DeepFill's training box
    (``random_bbox`` + ``bbox2mask``, ``inpaint.yml``): a ``box_size`` square placed uniformly
    inside ``box_margin``, shrunk on each side by ``randint(max_delta // 2 + 1)`` rows/columns.

    Args:
        min_num_vertex: int. Defaults to `4`.
        max_num_vertex: int (exclusive). Defaults to `12`.
        min_width: float. Brush width at ``reference_size``. Defaults to `12`.
        max_width: float. Defaults to `40`.
        max_strokes: int. Defaults to `3`.
        with_box: bool. OR the strokes with a random box. Defaults to `False`.
        box_size: int. Box side at ``reference_size``. Defaults to `128`.
        max_delta: int. Maximal total shrink of the box per axis. Defaults to `32`.
        box_margin: int. Defaults to `0`.
        reference_size: int. Defaults to `256`.
    """

    MEAN_ANGLE = 2 * math.pi / 5
    ANGLE_RANGE = 2 * math.pi / 15

    def __init__(self, min_num_vertex: int = 4, max_num_vertex: int = 12, min_width: float = 12,
                 max_width: float = 40, max_strokes: int = 3, with_box: bool = False,
                 box_size: int = 128, max_delta: int = 32, box_margin: int = 0,
                 reference_size: int | None = 256):
        super().__init__(reference_size=reference_size)
        if not 1 <= min_num_vertex < max_num_vertex:
            raise ValueError(f"Need 1 <= min_num_vertex < max_num_vertex. Received: "
                             f"min_num_vertex={min_num_vertex}, max_num_vertex={max_num_vertex}")
        if not 0 < min_width <= max_width:
            raise ValueError(f"Need 0 < min_width <= max_width. Received: min_width={min_width}, "
                             f"max_width={max_width}")
        if max_strokes < 1:
            raise ValueError(f"`max_strokes` must be >= 1. Received: max_strokes={max_strokes}")
        if box_size < 1 or max_delta < 0 or box_margin < 0:
            raise ValueError(f"Box parameters must be positive. Received: box_size={box_size}, "
                             f"max_delta={max_delta}, box_margin={box_margin}")
        self.min_num_vertex = int(min_num_vertex)
        self.max_num_vertex = int(max_num_vertex)
        self.min_width = float(min_width)
        self.max_width = float(max_width)
        self.max_strokes = int(max_strokes)
        self.with_box = bool(with_box)
        self.box_size = int(box_size)
        self.max_delta = int(max_delta)
        self.box_margin = int(box_margin)

    def sample(self, rng, size):
        h, w = _as_size(size)
        s = self.scale(h, w)
        mask = np.zeros((h, w), np.uint8)
        radius = math.sqrt(h * h + w * w) / 8
        for _ in range(int(rng.integers(1, self.max_strokes + 1))):
            num_vertex = int(rng.integers(self.min_num_vertex, self.max_num_vertex))
            angle_min = self.MEAN_ANGLE - rng.uniform(0, self.ANGLE_RANGE)
            angle_max = self.MEAN_ANGLE + rng.uniform(0, self.ANGLE_RANGE)
            vertices = [(int(rng.integers(0, w)), int(rng.integers(0, h)))]
            for i in range(num_vertex):
                angle = rng.uniform(angle_min, angle_max)
                if i % 2 == 0:
                    angle = 2 * math.pi - angle
                r = min(max(float(rng.normal(radius, radius // 2)), 0.0), 2 * radius)
                x = min(max(vertices[-1][0] + r * math.cos(angle), 0.0), float(w))
                y = min(max(vertices[-1][1] + r * math.sin(angle), 0.0), float(h))
                vertices.append((int(x), int(y)))
            width = max(1, int(rng.uniform(self.min_width, self.max_width) * s))
            for p, q in zip(vertices[:-1], vertices[1:]):
                cv2.line(mask, p, q, 1, width)
            for v in vertices:  # round caps
                cv2.circle(mask, v, width // 2, 1, -1)
        if self.with_box:
            mask |= self._box(rng, h, w, s)
        return mask

    def _box(self, rng, h, w, s):
        margin = int(round(self.box_margin * s))
        bh = min(max(1, int(round(self.box_size * s))), max(1, h - 2 * margin))
        bw = min(max(1, int(round(self.box_size * s))), max(1, w - 2 * margin))
        top = int(rng.integers(margin, max(margin + 1, h - margin - bh)))
        left = int(rng.integers(margin, max(margin + 1, w - margin - bw)))
        delta = int(round(self.max_delta * s))
        dh = int(rng.integers(delta // 2 + 1))
        dw = int(rng.integers(delta // 2 + 1))
        box = np.zeros((h, w), np.uint8)
        box[top + dh:top + bh - dh, left + dw:left + bw - dw] = 1
        return box

    def get_config(self):
        return {"min_num_vertex": self.min_num_vertex, "max_num_vertex": self.max_num_vertex,
                "min_width": self.min_width, "max_width": self.max_width,
                "max_strokes": self.max_strokes, "with_box": self.with_box,
                "box_size": self.box_size, "max_delta": self.max_delta,
                "box_margin": self.box_margin, "reference_size": self.reference_size}


class LamaIrregularGenerator(MaskGenerator):
    """LaMa's random irregular strokes (``RandomIrregularMaskGenerator`` with ``DrawMethod.LINE``).

    Follows ``saicinpainting/training/data/masks.py::make_random_irregular_mask`` (Suvorov et al.
    2022, "Resolution-robust Large Mask Inpainting with Fourier Convolutions", arXiv:2109.07161):
    ``times`` strokes; each starts at a uniform pixel and has ``1 + randint(5)`` segments with
    ``angle = 0.01 + randint(max_angle)`` radians (mirrored to ``2*pi - angle`` on even strokes),
    ``length = 10 + randint(max_len)`` and ``brush_w = 5 + randint(max_width)``; the end point is
    ``clip(int(start + length * (sin, cos)(angle)), 0, (W, H))`` and each segment is a
    ``cv2.line`` of thickness ``brush_w``. ``randint(n)`` is uniform in ``[0, n)``.

    ``times`` is uniform in ``[min_times, max_times + 1]``: LaMa's generator class without a
    ramp passes ``max_times + 1`` on to ``make_random_irregular_mask``, so the published mask
    sets were drawn that way and the presets reproduce it.

    Pixel quantities (the 10 and 5 offsets included) are scaled by ``min(H, W) /
    reference_size``; at the reference size the arithmetic is LaMa's.

    Args:
        max_angle: int. Defaults to `4`.
        max_len: int. Defaults to `60`.
        max_width: int. Defaults to `20`.
        min_times: int. Defaults to `0`.
        max_times: int. Defaults to `10`.
        reference_size: int or None. Defaults to `None` (raw pixels, as LaMa).
    """

    def __init__(self, max_angle: int = 4, max_len: int = 60, max_width: int = 20,
                 min_times: int = 0, max_times: int = 10, reference_size: int | None = None):
        super().__init__(reference_size=reference_size)
        for name, v in (("max_angle", max_angle), ("max_len", max_len),
                        ("max_width", max_width)):
            if int(v) != v or v < 1:
                raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={v!r}")
        if not 0 <= min_times <= max_times:
            raise ValueError(f"Need 0 <= min_times <= max_times. Received: min_times="
                             f"{min_times}, max_times={max_times}")
        self.max_angle = int(max_angle)
        self.max_len = int(max_len)
        self.max_width = int(max_width)
        self.min_times = int(min_times)
        self.max_times = int(max_times)

    def sample(self, rng, size):
        h, w = _as_size(size)
        s = self.scale(h, w)
        mask = np.zeros((h, w), np.uint8)
        times = int(rng.integers(self.min_times, self.max_times + 2))
        for i in range(times):
            x, y = int(rng.integers(w)), int(rng.integers(h))
            for _ in range(1 + int(rng.integers(5))):
                angle = 0.01 + int(rng.integers(self.max_angle))
                if i % 2 == 0:
                    angle = 2 * 3.1415926 - angle  # LaMa's literal pi
                length = (10 + int(rng.integers(self.max_len))) * s
                brush_w = max(1, int(round((5 + int(rng.integers(self.max_width))) * s)))
                end_x = min(max(int(x + length * math.sin(angle)), 0), w)
                end_y = min(max(int(y + length * math.cos(angle)), 0), h)
                cv2.line(mask, (x, y), (end_x, end_y), 1, brush_w)
                x, y = end_x, end_y
        return mask

    def get_config(self):
        return {"max_angle": self.max_angle, "max_len": self.max_len,
                "max_width": self.max_width, "min_times": self.min_times,
                "max_times": self.max_times, "reference_size": self.reference_size}


class LamaBoxGenerator(MaskGenerator):
    """LaMa's random boxes (``RandomRectangleMaskGenerator``).

    Follows ``make_random_rectangle_mask``: ``randint(min_times, max_times + 1)`` axis-aligned
    boxes with sides uniform in ``[bbox_min_size, bbox_max_size]`` (LaMa's class without a ramp
    passes ``bbox_max_size + 1`` as the exclusive bound), the upper bound clipped to
    ``H - 2 * margin`` and ``W - 2 * margin``, each placed uniformly inside the margin.

    Args:
        margin: int. Defaults to `10`.
        bbox_min_size: int. Defaults to `30`.
        bbox_max_size: int. Defaults to `100`.
        min_times: int. Defaults to `0`.
        max_times: int. Defaults to `3`.
        reference_size: int or None. Defaults to `None` (raw pixels, as LaMa).
    """

    def __init__(self, margin: int = 10, bbox_min_size: int = 30, bbox_max_size: int = 100,
                 min_times: int = 0, max_times: int = 3, reference_size: int | None = None):
        super().__init__(reference_size=reference_size)
        if margin < 0 or not 1 <= bbox_min_size <= bbox_max_size:
            raise ValueError(f"Need margin >= 0 and 1 <= bbox_min_size <= bbox_max_size. "
                             f"Received: margin={margin}, bbox_min_size={bbox_min_size}, "
                             f"bbox_max_size={bbox_max_size}")
        if not 0 <= min_times <= max_times:
            raise ValueError(f"Need 0 <= min_times <= max_times. Received: min_times="
                             f"{min_times}, max_times={max_times}")
        self.margin = int(margin)
        self.bbox_min_size = int(bbox_min_size)
        self.bbox_max_size = int(bbox_max_size)
        self.min_times = int(min_times)
        self.max_times = int(max_times)

    def sample(self, rng, size):
        h, w = _as_size(size)
        s = self.scale(h, w)
        margin = int(round(self.margin * s))
        room = min(h, w) - 2 * margin
        if room < 1:
            raise ValueError(f"Mask size {h}x{w} leaves no room inside margin {margin}. "
                             f"Received: size={(h, w)}, margin={self.margin}")
        lo = min(max(1, int(round(self.bbox_min_size * s))), room)
        hi = min(max(lo, int(round(self.bbox_max_size * s))), h - 2 * margin, w - 2 * margin)
        hi = max(hi, lo)
        mask = np.zeros((h, w), np.uint8)
        for _ in range(int(rng.integers(self.min_times, self.max_times + 1))):
            bw = int(rng.integers(lo, hi + 1))
            bh = int(rng.integers(lo, hi + 1))
            x = int(rng.integers(margin, w - margin - bw + 1))
            y = int(rng.integers(margin, h - margin - bh + 1))
            mask[y:y + bh, x:x + bw] = 1
        return mask

    def get_config(self):
        return {"margin": self.margin, "bbox_min_size": self.bbox_min_size,
                "bbox_max_size": self.bbox_max_size, "min_times": self.min_times,
                "max_times": self.max_times, "reference_size": self.reference_size}


class RectangleMaskGenerator(MaskGenerator):
    """One rectangular hole, centred or at a random position.

    Box sides are fractions of the output sides (so sizes scale with the output): height
    ``round(U(min_size, max_size) * H)`` and width ``round(U(min_size, max_size) * W)`` (one
    shared draw and ``min(H, W)`` with ``square=True``). A centred box of side ``0.5`` is the
    classic 128x128 hole in a 256x256 image (25 % of the pixels). ``margin`` (a fraction of the
    side) keeps random boxes away from the border.

    Args:
        min_size: float in (0, 1]. Defaults to `0.25`.
        max_size: float in [min_size, 1]. Defaults to `0.5`.
        centered: bool. Defaults to `False`.
        square: bool. Defaults to `False`.
        margin: float in [0, 0.5). Defaults to `0.0`.
    """

    def __init__(self, min_size: float = 0.25, max_size: float = 0.5, centered: bool = False,
                 square: bool = False, margin: float = 0.0):
        super().__init__(reference_size=None)
        if not 0 < min_size <= max_size <= 1:
            raise ValueError(f"Need 0 < min_size <= max_size <= 1 (fractions of the side). "
                             f"Received: min_size={min_size}, max_size={max_size}")
        if not 0 <= margin < 0.5 or max_size + 2 * margin > 1 + 1e-9:
            raise ValueError(f"Need 0 <= margin < 0.5 and max_size + 2 * margin <= 1. "
                             f"Received: margin={margin}, max_size={max_size}")
        self.min_size = float(min_size)
        self.max_size = float(max_size)
        self.centered = bool(centered)
        self.square = bool(square)
        self.margin = float(margin)

    def sample(self, rng, size):
        h, w = _as_size(size)
        fh = rng.uniform(self.min_size, self.max_size)
        fw = fh if self.square else rng.uniform(self.min_size, self.max_size)
        if self.square:
            bh = bw = max(1, int(round(fh * min(h, w))))
        else:
            bh, bw = max(1, int(round(fh * h))), max(1, int(round(fw * w)))
        if self.centered:
            top, left = (h - bh) // 2, (w - bw) // 2
        else:
            mh, mw = int(round(self.margin * h)), int(round(self.margin * w))
            top = int(rng.integers(mh, max(mh, h - mh - bh) + 1))
            left = int(rng.integers(mw, max(mw, w - mw - bw) + 1))
        mask = np.zeros((h, w), np.uint8)
        mask[top:top + bh, left:left + bw] = 1
        return mask

    def get_config(self):
        return {"min_size": self.min_size, "max_size": self.max_size, "centered": self.centered,
                "square": self.square, "margin": self.margin}


class MixedMaskGenerator(MaskGenerator):
    """Chooses one generator per mask with renormalized probabilities (LaMa's mixed generator).

    Follows ``saicinpainting/training/data/masks.py::MixedMaskGenerator``: every family with a
    positive ``*_proba`` is kept, the probabilities are divided by their sum, one family is drawn
    per mask, and with probability ``invert_proba`` the mask is inverted. Segmentation, super-res
    and outpainting families of LaMa are not provided (the first needs a segmentation network);
    other tfinpaint generators can be mixed in through ``extra_generators``.

    ``max_tamper_area`` reproduces LaMa's evaluation-set filter (``bin/gen_mask_dataset.py``:
    masks with ``mean > max_tamper_area`` are dropped): the draw is repeated from the same
    random stream, up to ``max_redraws`` times, until the hole ratio is at most that value.

    Args:
        irregular_proba: float. Defaults to `1/3`.
        irregular_kwargs: dict for :class:`LamaIrregularGenerator`. Defaults to `None`.
        box_proba: float. Defaults to `1/3`.
        box_kwargs: dict for :class:`LamaBoxGenerator`. Defaults to `None`.
        extra_generators: sequence of ``(generator, proba)`` pairs. Defaults to `None`.
        invert_proba: float. Defaults to `0`.
        max_tamper_area: float or None. Defaults to `None` (no filter).
        max_redraws: int. Defaults to `32`.
        reference_size: int or None, passed to the irregular and box generators unless their
            kwargs set it. Defaults to `None`.
    """

    def __init__(self, irregular_proba: float = 1 / 3, irregular_kwargs: dict | None = None,
                 box_proba: float = 1 / 3, box_kwargs: dict | None = None,
                 extra_generators: Sequence[tuple[MaskGenerator, float]] | None = None,
                 invert_proba: float = 0.0, max_tamper_area: float | None = None,
                 max_redraws: int = 32, reference_size: int | None = None):
        super().__init__(reference_size=reference_size)
        self.irregular_proba = float(irregular_proba)
        self.irregular_kwargs = dict(irregular_kwargs or {})
        self.box_proba = float(box_proba)
        self.box_kwargs = dict(box_kwargs or {})
        self.extra_generators = list(extra_generators or [])
        self.invert_proba = float(invert_proba)
        self.max_tamper_area = None if max_tamper_area is None else float(max_tamper_area)
        self.max_redraws = int(max_redraws)
        if not 0 <= self.invert_proba <= 1:
            raise ValueError(f"`invert_proba` must be in [0, 1]. Received: "
                             f"invert_proba={invert_proba}")
        if self.max_tamper_area is not None and not 0 < self.max_tamper_area <= 1:
            raise ValueError(f"`max_tamper_area` must be in (0, 1]. Received: "
                             f"max_tamper_area={max_tamper_area}")

        gens, probas = [], []
        if self.irregular_proba < 0 or self.box_proba < 0:
            raise ValueError(f"Probabilities must be >= 0. Received: irregular_proba="
                             f"{irregular_proba}, box_proba={box_proba}")
        if self.irregular_proba > 0:
            kw = {"reference_size": reference_size, **self.irregular_kwargs}
            gens.append(LamaIrregularGenerator(**kw))
            probas.append(self.irregular_proba)
        if self.box_proba > 0:
            kw = {"reference_size": reference_size, **self.box_kwargs}
            gens.append(LamaBoxGenerator(**kw))
            probas.append(self.box_proba)
        for item in self.extra_generators:
            try:
                gen, p = item
            except (TypeError, ValueError) as e:
                raise ValueError(f"`extra_generators` items must be (generator, proba) pairs. "
                                 f"Received: {item!r}") from e
            if not isinstance(gen, MaskGenerator) or p < 0:
                raise ValueError(f"`extra_generators` items must be (MaskGenerator, proba >= 0)."
                                 f" Received: {item!r}")
            if p > 0:
                gens.append(gen)
                probas.append(float(p))
        if not gens:
            raise ValueError("MixedMaskGenerator needs at least one positive probability. "
                             f"Received: irregular_proba={irregular_proba}, "
                             f"box_proba={box_proba}, extra_generators={extra_generators!r}")
        self.generators = gens
        self.probas = np.asarray(probas, np.float64) / np.sum(probas)

    def _draw_once(self, rng, hw):
        kind = int(rng.choice(len(self.probas), p=self.probas))
        mask = self.generators[kind].sample(rng, hw)
        if self.invert_proba > 0 and rng.random() < self.invert_proba:
            mask = 1 - mask
        return mask

    def sample(self, rng, size):
        hw = _as_size(size)
        mask = self._draw_once(rng, hw)
        if self.max_tamper_area is None:
            return mask
        for _ in range(self.max_redraws):
            if hole_ratio(mask) <= self.max_tamper_area:
                return mask
            mask = self._draw_once(rng, hw)
        if hole_ratio(mask) <= self.max_tamper_area:
            return mask
        raise ValueError(f"No mask with hole ratio <= max_tamper_area={self.max_tamper_area} in "
                         f"{self.max_redraws + 1} draws at size {hw}; raise max_tamper_area or "
                         f"use thinner strokes.")

    def get_config(self):
        return {"irregular_proba": self.irregular_proba,
                "irregular_kwargs": self.irregular_kwargs, "box_proba": self.box_proba,
                "box_kwargs": self.box_kwargs,
                "extra_generators": [(repr(g), p) for g, p in self.extra_generators],
                "invert_proba": self.invert_proba, "max_tamper_area": self.max_tamper_area,
                "max_redraws": self.max_redraws, "reference_size": self.reference_size}


# --------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------

# LaMa evaluation sets, configs/data_gen/random_{thin,medium,thick}_{256,512}.yaml: irregular
# strokes with proba 1 plus boxes with proba 0.3 (renormalized: 1/1.3 and 0.3/1.3), masks with a
# hole ratio above max_tamper_area 0.5 rejected.
_LAMA = {
    "lama_thin": dict(
        irregular_proba=1,
        irregular_kwargs=dict(min_times=4, max_times=50, max_width=10, max_angle=4, max_len=40),
        box_proba=0, max_tamper_area=0.5, reference_size=256),
    "lama_medium": dict(
        irregular_proba=1,
        irregular_kwargs=dict(min_times=4, max_times=5, max_width=50, max_angle=4, max_len=100),
        box_proba=0.3,
        box_kwargs=dict(margin=0, bbox_min_size=10, bbox_max_size=50, min_times=1, max_times=5),
        max_tamper_area=0.5, reference_size=256),
    "lama_thick": dict(
        irregular_proba=1,
        irregular_kwargs=dict(min_times=1, max_times=5, max_width=100, max_angle=4, max_len=200),
        box_proba=0.3,
        box_kwargs=dict(margin=10, bbox_min_size=30, bbox_max_size=150, min_times=1, max_times=3),
        max_tamper_area=0.5, reference_size=256),
    "lama_thin_512": dict(
        irregular_proba=1,
        irregular_kwargs=dict(min_times=4, max_times=70, max_width=20, max_angle=4, max_len=100),
        box_proba=0, max_tamper_area=0.5, reference_size=512),
    "lama_medium_512": dict(
        irregular_proba=1,
        irregular_kwargs=dict(min_times=4, max_times=10, max_width=100, max_angle=4, max_len=200),
        box_proba=0.3,
        box_kwargs=dict(margin=0, bbox_min_size=30, bbox_max_size=150, min_times=1, max_times=5),
        max_tamper_area=0.5, reference_size=512),
    "lama_thick_512": dict(
        irregular_proba=1,
        irregular_kwargs=dict(min_times=1, max_times=5, max_width=250, max_angle=4, max_len=450),
        box_proba=0.3,
        box_kwargs=dict(margin=10, bbox_min_size=30, bbox_max_size=300, min_times=1, max_times=4),
        max_tamper_area=0.5, reference_size=512),
}

_PRESETS: dict[str, tuple[type[MaskGenerator], dict, str]] = {
    "pconv": (PConvMaskGenerator, {},
              "NVIDIA/PConv-Keras lines, circles and ellipses (1-20 each)"),
    "deepfill_v2": (DeepFillV2StrokeGenerator, {},
                    "DeepFill v2 free-form brush strokes (1-3 strokes, width 12-40 at 256)"),
    "deepfill_v2_box": (DeepFillV2StrokeGenerator, {"with_box": True},
                        "DeepFill v2 training masks: strokes OR a random box (<=128 at 256)"),
    **{name: (MixedMaskGenerator, kw, f"LaMa random_{name[5:].replace('_512', '')}_"
              f"{kw['reference_size']} evaluation masks") for name, kw in _LAMA.items()},
    "rect_center": (RectangleMaskGenerator, {"min_size": 0.5, "max_size": 0.5, "centered": True},
                    "centred box of half the side (25 % of the image)"),
    "rect_random": (RectangleMaskGenerator, {"min_size": 0.25, "max_size": 0.5},
                    "one box at a random position, sides 25-50 % of the image's"),
}

# Raw classes by LaMa-style kind, for get_mask_generator("irregular", max_width=...).
_CLASSES: dict[str, type[MaskGenerator]] = {
    "mixed": MixedMaskGenerator,
    "irregular": LamaIrregularGenerator,
    "box": LamaBoxGenerator,
    "rect": RectangleMaskGenerator,
    "strokes": DeepFillV2StrokeGenerator,
    "lines": PConvMaskGenerator,
}


def list_mask_kinds(presets_only: bool = True) -> list[str]:
    """Names accepted by :func:`get_mask_generator` (presets, and optionally raw classes)."""
    names = list(_PRESETS)
    return names if presets_only else names + list(_CLASSES)


def describe_mask_kinds() -> dict[str, str]:
    """One-line description of each preset (used by ``tfinpaint masks --help``)."""
    return {name: desc for name, (_, _, desc) in _PRESETS.items()}


def get_mask_generator(kind, **kwargs) -> MaskGenerator:
    """Builds a mask generator from a preset or class name (LaMa's ``get_mask_generator``).

    Presets: ``pconv``, ``deepfill_v2``, ``deepfill_v2_box``, ``lama_thin``, ``lama_medium``,
    ``lama_thick`` (LaMa's 256 parameters scaled by ``min(H, W) / 256``), ``lama_thin_512``,
    ``lama_medium_512``, ``lama_thick_512`` (LaMa's 512 parameters, scaled by ``min(H, W) /
    512``; identical to LaMa's at 512), ``rect_center``, ``rect_random``. ``kwargs`` override
    the preset's arguments (dict-valued arguments such as ``irregular_kwargs`` are merged one
    level deep). Raw kinds ``mixed``, ``irregular``, ``box``, ``rect``, ``strokes``, ``lines``
    build the class from ``kwargs`` alone. A :class:`MaskGenerator` is returned as is.

    Raises:
        ValueError: unknown kind (the message lists the known ones).
    """
    if isinstance(kind, MaskGenerator):
        if kwargs:
            raise ValueError(f"Cannot apply kwargs to a generator instance. Received: "
                             f"kind={kind!r}, kwargs={kwargs}")
        return kind
    if not isinstance(kind, str):
        raise ValueError(f"`kind` must be a preset name or a MaskGenerator. Received: "
                         f"kind={kind!r}")
    key = kind.strip().lower().replace("-", "_")
    if key in _PRESETS:
        cls, preset, _ = _PRESETS[key]
        config = dict(preset)
        for k, v in kwargs.items():
            if isinstance(v, dict) and isinstance(config.get(k), dict):
                config[k] = {**config[k], **v}
            else:
                config[k] = v
        return cls(**config)
    if key in _CLASSES:
        return _CLASSES[key](**kwargs)
    raise ValueError(f"Unknown mask kind {kind!r}. Known presets: {', '.join(_PRESETS)}; "
                     f"classes: {', '.join(_CLASSES)}.")


# --------------------------------------------------------------------------------------------
# tf.data source
# --------------------------------------------------------------------------------------------


def mask_dataset(kind_or_generator, size, seed: int | None = 0, count: int | None = None,
                 start: int = 0, **generator_kwargs):
    """A ``tf.data.Dataset`` of generated masks, float32 ``(H, W, 1)`` with **1 = known**.

    Element ``i`` is ``generator(size, seed=seed, index=start + i)`` converted once from the
    generators' ``1 = hole`` to the library's ``1 = known`` by
    :func:`tfinpaint.data.polarity.known_from_hole`. The dataset is deterministic (per-index
    seeding; parallel map with ``deterministic=True``) and infinite when ``count`` is ``None``.

    Args:
        kind_or_generator: preset name (see :func:`get_mask_generator`) or a generator.
        size: int or ``(H, W)``.
        seed: int, or None for a fresh random seed (not reproducible). Defaults to `0`.
        count: int or None. Number of masks; ``None`` for an endless stream.
        start: int. Index of the first mask. Defaults to `0`.
        **generator_kwargs: preset overrides.
    """
    import tensorflow as tf

    from tfinpaint.data.polarity import known_from_hole

    gen = get_mask_generator(kind_or_generator, **generator_kwargs)
    h, w = _as_size(size)
    seed = _resolve_seed(seed)
    start = _check_seed("start", start)
    if count is not None and (int(count) != count or count < 0):
        raise ValueError(f"`count` must be a non-negative int or None. Received: count={count!r}")

    def draw(i):
        hole = gen((h, w), seed=seed, index=start + int(i), dtype=np.float32)
        return known_from_hole(hole)[..., None].astype(np.float32)

    def load(i):
        m = tf.numpy_function(draw, [i], tf.float32, stateful=False)
        return tf.ensure_shape(m, (h, w, 1))

    ds = tf.data.Dataset.range(int(count)) if count is not None else tf.data.Dataset.counter()
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


# --------------------------------------------------------------------------------------------
# Hole-ratio buckets
# --------------------------------------------------------------------------------------------


class BucketFillError(RuntimeError):
    """A hole-ratio bucket could not be filled within the attempt budget."""


_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _in_bucket(ratio: float, lo: float, hi: float) -> bool:
    """Membership of a mask made for ``(lo, hi)`` alone: in that bucket in any bucket list."""
    return in_bucket(ratio, (lo, hi), last=hi >= 1.0)


def _fit_to_bucket(gen: MaskGenerator, rng, hw, lo, hi, max_combine, max_morph):
    """One candidate for bucket ``[lo, hi)``, or ``None``.

    A target ratio ``t ~ U(lo, hi)`` spreads the accepted ratios over the bucket. Starting from
    one draw, further draws are OR-ed in while the ratio is below ``t`` (a draw that would push
    the union to ``hi`` or beyond is skipped). A mask still below ``lo`` is dilated, one at or
    above ``hi`` eroded, with a 3x3 cross one pixel at a time until it reaches ``t``; the
    candidate is kept only if its final ratio lies in the bucket.
    """
    target = rng.uniform(lo, hi)
    mask = gen.sample(rng, hw).astype(np.uint8)
    ratio = hole_ratio(mask)
    for _ in range(max_combine):
        if ratio >= target:
            break
        union = mask | gen.sample(rng, hw).astype(np.uint8)
        r = hole_ratio(union)
        if r < hi:
            mask, ratio = union, r
    if ratio < lo and ratio > 0:  # grow towards the target
        for _ in range(max_morph):
            mask = cv2.dilate(mask, _CROSS)
            ratio = hole_ratio(mask)
            if ratio >= target:
                break
    elif ratio >= hi and not _in_bucket(ratio, lo, hi):  # shrink towards the target
        for _ in range(max_morph):
            mask = cv2.erode(mask, _CROSS, borderType=cv2.BORDER_REPLICATE)
            ratio = hole_ratio(mask)
            if ratio <= target:
                break
    return mask if _in_bucket(ratio, lo, hi) else None


def make_bucketed_set(kind, size, per_bucket: int, seed: int = 0,
                      buckets: Sequence[tuple[float, float]] | str = BUCKETS,
                      max_attempts: int | None = None, max_combine: int = 64,
                      progress: Callable[[int], None] | None = None,
                      **generator_kwargs) -> dict[str, np.ndarray]:
    """Draws exactly ``per_bucket`` masks per hole-ratio bucket (NVIDIA-style test sets).

    The ratio is measured on the final mask at the output resolution ``size``. Candidate ``a``
    of bucket ``[lo, hi)`` is drawn from the stream ``(seed, lo, hi, a)`` only, so a bucket's
    masks do not depend on which other buckets are requested, and the first ``n`` masks of a
    bucket are the same for any ``per_bucket >= n``. Candidates are made by combining draws of
    the generator (OR) and by one-pixel dilation / erosion (see ``_fit_to_bucket``); a candidate
    that still misses the bucket is rejected.

    Args:
        kind: preset name or generator.
        size: int or ``(H, W)``.
        per_bucket: int >= 1.
        seed: int. Defaults to `0`.
        buckets: sequence of ``(lo, hi)`` or a spec for :func:`parse_buckets`. Defaults to
            :data:`BUCKETS`.
        max_attempts: candidates tried per bucket before giving up. Defaults to
            ``20 * per_bucket + 100``.
        max_combine: draws OR-ed into one candidate at most. Defaults to `64`.
        progress: called with 1 for every accepted mask (e.g. ``tqdm.update``).

    Returns:
        dict bucket name -> uint8 array ``(per_bucket, H, W)``, 1 = hole, in bucket order.

    Raises:
        BucketFillError: a bucket could not be filled within ``max_attempts``.
    """
    gen = get_mask_generator(kind, **generator_kwargs)
    hw = _as_size(size)
    seed = _check_seed("seed", seed)
    if isinstance(per_bucket, bool) or int(per_bucket) != per_bucket or per_bucket < 1:
        raise ValueError(f"`per_bucket` must be an int >= 1. Received: per_bucket={per_bucket!r}")
    per_bucket = int(per_bucket)
    buckets = parse_buckets(buckets)  # also rejects duplicate / overlapping buckets
    names = [bucket_name(b) for b in buckets]
    if max_attempts is None:
        max_attempts = 20 * per_bucket + 100
    max_morph = max(hw) // 2
    out: dict[str, np.ndarray] = {}
    for (lo, hi), name in zip(buckets, names):
        masks = []
        key = (int(round(lo * 1e6)), int(round(hi * 1e6)))
        for attempt in range(max_attempts):
            rng = _rng(seed, *key, attempt)
            m = _fit_to_bucket(gen, rng, hw, lo, hi, max_combine, max_morph)
            if m is not None:
                masks.append(m)
                if progress is not None:
                    progress(1)
                if len(masks) == per_bucket:
                    break
        if len(masks) < per_bucket:
            raise BucketFillError(
                f"Could not fill bucket {name} with {kind!r} masks at {hw[0]}x{hw[1]}: "
                f"{len(masks)} of {per_bucket} after {max_attempts} attempts. Use another "
                f"kind for this bucket or raise max_attempts.")
        out[name] = np.stack(masks)
    return out


# --------------------------------------------------------------------------------------------
# Mask folders
# --------------------------------------------------------------------------------------------


def _read_mask_file(path: pathlib.Path) -> np.ndarray:
    """:func:`tfinpaint.data.polarity.read_mask_file`, the one reader of mask files."""
    from tfinpaint.data.polarity import read_mask_file

    return read_mask_file(path)


def list_mask_files(source) -> list[pathlib.Path]:
    """Mask files of a folder (recursive, sorted by path), a single file, or a list of files.

    A folder yields its files with an extension in :data:`MASK_EXTENSIONS` (so the
    ``index.csv`` / ``index.json`` of :func:`write_mask_set` are skipped); a list keeps its order.
    :class:`MaskFolder` (training) and :func:`tfinpaint.evaluation.evaluate` list masks this way.

    Raises:
        FileNotFoundError: the path or a listed file does not exist.
        ValueError: a folder without mask images, or an empty list.
    """
    if isinstance(source, (str, os.PathLike)):
        path = pathlib.Path(source)
        if not path.exists():
            raise FileNotFoundError(f"Mask folder {path} does not exist.")
        if path.is_file():
            return [path]
        files = sorted(p for p in path.rglob("*")
                       if p.is_file() and p.suffix.lower() in MASK_EXTENSIONS)
        if not files:
            raise ValueError(f"folder {path}: no mask images ({', '.join(MASK_EXTENSIONS)}).")
        return files
    files = [pathlib.Path(p) for p in source]
    if not files:
        raise ValueError(f"No mask file given. Received: source={source!r}")
    for p in files:
        if not p.is_file():
            raise FileNotFoundError(f"file {p}: mask file does not exist")
    return files


class MaskFolder:
    """Hole masks read from image files (e.g. NVIDIA's irregular masks), with augmentation.

    Files (png, jpg, bmp, webp, tif; recursive, sorted by path) are binarized by
    :func:`tfinpaint.data.polarity.hole_from_user_mask` with ``hole_is_white`` (the one mask rule;
    NVIDIA masks are white = hole). Masks are resized to ``size`` with nearest
    neighbour and re-binarized, so they stay exactly 0/1.

    Training augmentation (``augment=True``), as used by PConv followers (anchors section 7.1:
    RFR issue #30, PConv-Keras ``_load_mask``): random rotation in ``[-max_rotation,
    max_rotation]`` degrees (nearest, outside = known), random crop of ``U(min_crop, 1)`` of each
    side, horizontal and vertical flips with probability 1/2, resize to ``size``, then dilation of
    the hole with a random elliptic kernel of ``1..max_dilation`` pixels (1 = none; max-pooling,
    as ``cv2.dilate``). Each draw is seeded by ``(seed, index, epoch)`` alone.

    Numpy access returns uint8 ``(H, W)`` with **1 = hole**; :meth:`as_dataset` yields float32
    ``(H, W, 1)`` with **1 = known** (converted once by ``known_from_hole``).

    Args:
        path: folder (or a single file).
        hole_is_white: bool. Defaults to `True`.
        size: int, ``(H, W)`` or None (keep each file's size; then no batching of mixed sizes).
        augment: bool. Defaults to `False`.
        seed: int, or None for a fresh random seed (not reproducible). Defaults to `0`.
        max_rotation: float degrees. Defaults to `180`.
        min_crop: float in (0, 1]. Defaults to `0.7`.
        max_dilation: int >= 1, at the output size. Defaults to `9`.
        flip: bool. Defaults to `True`.
    """

    def __init__(self, path, hole_is_white: bool = True, size=None, augment: bool = False,
                 seed: int | None = 0, max_rotation: float = 180.0, min_crop: float = 0.7,
                 max_dilation: int = 9, flip: bool = True):
        self.path = pathlib.Path(path)
        files = list_mask_files(self.path)
        if not 0 < min_crop <= 1:
            raise ValueError(f"`min_crop` must be in (0, 1]. Received: min_crop={min_crop}")
        if int(max_dilation) != max_dilation or max_dilation < 1:
            raise ValueError(f"`max_dilation` must be an int >= 1. Received: "
                             f"max_dilation={max_dilation}")
        self.files = files
        self.hole_is_white = bool(hole_is_white)
        self.size = None if size is None else _as_size(size)
        self.augment = bool(augment)
        self.seed = _resolve_seed(seed)
        self.max_rotation = float(max_rotation)
        self.min_crop = float(min_crop)
        self.max_dilation = int(max_dilation)
        self.flip = bool(flip)
        self._perm_cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.files)

    def read(self, index: int) -> np.ndarray:
        """File ``index`` binarized at its own size, uint8 ``(H, W)``, 1 = hole."""
        from tfinpaint.data.polarity import hole_from_user_mask

        path = self.files[index]
        try:
            hole = hole_from_user_mask(_read_mask_file(path), hole_is_white=self.hole_is_white)
        except (ValueError, TypeError) as e:
            raise ValueError(f"file {path}: {e}") from e
        return (hole[..., 0] > 0.5).astype(np.uint8)

    def load(self, index: int, epoch: int = 0) -> np.ndarray:
        """Mask ``index`` (augmented for ``epoch`` when ``augment``), uint8 ``(H, W)``, 1 = hole."""
        index = int(index)
        if not 0 <= index < len(self.files):
            raise IndexError(f"Mask index out of range. Received: index={index}, "
                             f"len={len(self.files)}")
        hole = self.read(index)
        if self.augment:
            rng = _rng(self.seed, index, _check_seed("epoch", epoch))
            hole = self._augment_geometry(hole, rng)
        if self.size is not None and hole.shape != self.size:
            hole = cv2.resize(hole, (self.size[1], self.size[0]), interpolation=cv2.INTER_NEAREST)
        if self.augment and self.max_dilation > 1:
            k = int(rng.integers(1, self.max_dilation + 1))
            if k > 1:
                kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
                hole = cv2.dilate(hole, kernel)
        return (hole > 0).astype(np.uint8)  # re-binarize

    def _augment_geometry(self, hole, rng):
        h, w = hole.shape
        if self.max_rotation > 0:
            angle = rng.uniform(-self.max_rotation, self.max_rotation)
            rot = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
            hole = cv2.warpAffine(hole, rot, (w, h), flags=cv2.INTER_NEAREST,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        if self.min_crop < 1:
            f = rng.uniform(self.min_crop, 1.0)
            ch, cw = max(1, int(round(h * f))), max(1, int(round(w * f)))
            top = int(rng.integers(0, h - ch + 1))
            left = int(rng.integers(0, w - cw + 1))
            hole = hole[top:top + ch, left:left + cw]
            if self.size is None:  # keep the file's size
                hole = cv2.resize(hole, (w, h), interpolation=cv2.INTER_NEAREST)
        if self.flip:
            if rng.random() < 0.5:
                hole = hole[:, ::-1]
            if rng.random() < 0.5:
                hole = hole[::-1, :]
        return np.ascontiguousarray(hole)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.load(index, epoch=0)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self.files)):
            yield self.load(i, epoch=0)

    def _order(self, epoch: int, shuffle: bool) -> np.ndarray:
        if not shuffle:
            return np.arange(len(self.files))
        if epoch not in self._perm_cache:
            if len(self._perm_cache) > 8:
                self._perm_cache.clear()
            self._perm_cache[epoch] = _rng(self.seed, 2**31 - 1, epoch).permutation(
                len(self.files))
        return self._perm_cache[epoch]

    def as_dataset(self, shuffle: bool = False, repeat: bool = False):
        """``tf.data`` of float32 ``(H, W, 1)`` masks with **1 = known**.

        ``shuffle`` permutes the files per epoch (seeded by ``(seed, epoch)``); ``repeat`` makes
        the stream endless with a new augmentation per epoch. Deterministic for a seed.
        """
        import tensorflow as tf

        from tfinpaint.data.polarity import known_from_hole

        n = len(self.files)
        shape = (self.size[0], self.size[1], 1) if self.size is not None else (None, None, 1)

        def draw(counter):
            epoch, pos = divmod(int(counter), n)
            index = int(self._order(epoch, shuffle)[pos])
            hole = self.load(index, epoch=epoch).astype(np.float32)
            return known_from_hole(hole)[..., None].astype(np.float32)

        def load(c):
            m = tf.numpy_function(draw, [c], tf.float32, stateful=False)
            return tf.ensure_shape(m, shape)

        ds = tf.data.Dataset.counter() if repeat else tf.data.Dataset.range(n)
        return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


# --------------------------------------------------------------------------------------------
# Mask sets on disk
# --------------------------------------------------------------------------------------------


def _save_png(path: pathlib.Path, hole: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray((hole > 0).astype(np.uint8) * 255, mode="L").save(path)


def write_mask_set(out_dir, kind, size, count: int | None = None, buckets=None,
                   per_bucket: int | None = None, seed: int = 0,
                   progress: Callable[[int], None] | None = None, **generator_kwargs) -> dict:
    """Writes a mask set as PNGs (uint8, **white 255 = hole**, black 0 = known) plus an index.

    Either ``count`` masks (``mask_000000.png`` ..., mask ``i`` = ``generator(size, seed, i)``)
    or, with ``buckets`` (``"all"``, ``"10-20%,20-30%"`` or ``(lo, hi)`` pairs), ``per_bucket``
    masks per hole-ratio bucket from :func:`make_bucketed_set` (``10-20_00000.png`` ...).
    ``index.csv`` has the columns ``filename, hole_ratio, bucket`` (the bucket of
    :data:`BUCKETS` holding the ratio, or the requested bucket; empty outside every bucket);
    ``index.json`` has the same rows plus the kind, generator config, size, seed and polarity.

    Returns:
        The ``index.json`` content as a dict.
    """
    hw = _as_size(size)
    seed = _check_seed("seed", seed)
    gen = get_mask_generator(kind, **generator_kwargs)
    kind_name = kind if isinstance(kind, str) else type(kind).__name__
    out = pathlib.Path(out_dir)
    rows = []
    if buckets is not None:
        if per_bucket is None:
            raise ValueError("`per_bucket` is required with `buckets`.")
        if count is not None:
            raise ValueError(f"Give either `count` or `buckets` + `per_bucket`, not both. "
                             f"Received: count={count}, per_bucket={per_bucket}")
        bucket_list = parse_buckets(buckets)
        out.mkdir(parents=True, exist_ok=True)
        sets = make_bucketed_set(gen, hw, per_bucket, seed=seed, buckets=bucket_list,
                                 progress=progress)
        for name, masks in sets.items():
            stem = name.rstrip("%").replace(".", "p")
            for i, m in enumerate(masks):
                fname = f"{stem}_{i:05d}.png"
                _save_png(out / fname, m)
                rows.append({"filename": fname, "hole_ratio": round(hole_ratio(m), 6),
                             "bucket": name, "index": i})
        mode = {"buckets": [bucket_name(b) for b in bucket_list], "per_bucket": int(per_bucket)}
    else:
        if per_bucket is not None:
            raise ValueError("`per_bucket` needs `buckets`; use `count` for a plain set.")
        if count is None or isinstance(count, bool) or int(count) != count or count < 1:
            raise ValueError(f"`count` must be an int >= 1. Received: count={count!r}")
        out.mkdir(parents=True, exist_ok=True)
        width = max(6, len(str(int(count) - 1)))
        for i in range(int(count)):
            m = gen(hw, seed=seed, index=i)
            fname = f"mask_{i:0{width}d}.png"
            _save_png(out / fname, m)
            r = hole_ratio(m)
            rows.append({"filename": fname, "hole_ratio": round(r, 6),
                         "bucket": bucket_of(r) or "", "index": i})
            if progress is not None:
                progress(1)
        mode = {"count": int(count)}

    with open(out / "index.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["filename", "hole_ratio", "bucket"])
        for r in rows:
            writer.writerow([r["filename"], f"{r['hole_ratio']:.6f}", r["bucket"]])
    index = {
        "kind": kind_name,
        "generator": {"class": type(gen).__name__, "config": gen.get_config()},
        "size": list(hw),
        "seed": seed,
        "polarity": "white (255) = hole, black (0) = known",
        **mode,
        "masks": rows,
    }
    tmp = out / "index.json.tmp"
    with open(tmp, "w") as f:
        json.dump(index, f, indent=1, default=str)
    os.replace(tmp, out / "index.json")
    return index
