"""Tests for tfinpaint.data.masks: generators, presets, buckets, mask folders, mask sets."""

from __future__ import annotations

import csv
import json
import math

import cv2
import numpy as np
import pytest
from PIL import Image

from tfinpaint.data import masks as M

SIZE = 128
N = 100  # masks per statistic


def _ratios(kind, size=SIZE, n=N, seed=0):
    gen = M.get_mask_generator(kind)
    return np.array([M.hole_ratio(gen(size, seed=seed, index=i)) for i in range(n)])


# --------------------------------------------------------------------------------------------
# Determinism, polarity, dtype
# --------------------------------------------------------------------------------------------

ALL_KINDS = M.list_mask_kinds()


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_deterministic_binary_and_stateless(kind):
    gen = M.get_mask_generator(kind)
    a = gen((96, 64), seed=3, index=7)
    assert a.shape == (96, 64) and a.dtype == np.uint8
    assert set(np.unique(a)) <= {0, 1}
    np.testing.assert_array_equal(a, M.get_mask_generator(kind)((96, 64), seed=3, index=7))
    # Stateless: index 7 does not depend on what was drawn before.
    batch = gen.batch((96, 64), seed=3, indices=range(10))
    np.testing.assert_array_equal(batch[7], a)
    np.testing.assert_array_equal(gen.batch((96, 64), seed=3, indices=[7, 0])[0], a)
    f = gen((96, 64), seed=3, index=7, dtype=np.float32)
    assert f.dtype == np.float32 and np.array_equal(f, a.astype(np.float32))


@pytest.mark.parametrize("kind", [k for k in ALL_KINDS if k != "rect_center"])
def test_different_across_seeds_and_indices(kind):
    gen = M.get_mask_generator(kind)
    base = [gen(64, seed=0, index=i) for i in range(4)]
    other = [gen(64, seed=1, index=i) for i in range(4)]
    assert sum(not np.array_equal(x, y) for x, y in zip(base, other)) >= 3
    assert not np.array_equal(base[0], base[1])


def test_rect_center_is_the_central_half_box():
    hole = M.get_mask_generator("rect_center")(SIZE, seed=5, index=2)
    expected = np.zeros((SIZE, SIZE), np.uint8)
    expected[32:96, 32:96] = 1  # side 0.5 * 128 = 64, offset (128 - 64) // 2 = 32
    np.testing.assert_array_equal(hole, expected)
    assert M.hole_ratio(hole) == 0.25


# --------------------------------------------------------------------------------------------
# Hole-ratio statistics against bounds derived from the published parameters
# --------------------------------------------------------------------------------------------


def _lama_union_bound(kind, hw):
    """Expected summed area of all shapes / (H*W): an upper bound on the mean hole ratio.

    Irregular strokes: E[times] = (min + max + 1) / 2 (LaMa passes max_times + 1), 3 segments on
    average (1 + randint(5)), each a thick line of area L*w + pi*w^2/4 (round caps), with
    L = (10 + U{0..max_len-1}) * s and w = round((5 + U{0..max_width-1}) * s). Boxes: E[times]
    times E[side]^2. Mixed with the renormalized probabilities 1/(1+p) and p/(1+p).
    """
    cfg = M._LAMA[kind]
    s = hw / cfg["reference_size"]
    p = cfg["irregular_kwargs"]
    times = (p["min_times"] + p["max_times"] + 1) / 2
    length = np.mean(10 + np.arange(p["max_len"])) * s
    w = np.maximum(1, np.round((5 + np.arange(p["max_width"])) * s))
    irregular = times * 3 * (length * w.mean() + math.pi / 4 * np.mean(w**2)) / hw**2
    pb = cfg["box_proba"] / (1 + cfg["box_proba"])
    if not pb:
        return irregular
    b = cfg["box_kwargs"]
    lo = max(1, round(b["bbox_min_size"] * s))
    hi = min(round(b["bbox_max_size"] * s), hw - 2 * round(b["margin"] * s))
    box = (b["min_times"] + b["max_times"]) / 2 * np.arange(lo, hi + 1).mean() ** 2 / hw**2
    return (1 - pb) * irregular + pb * box


LAMA_KINDS = [k for k in ALL_KINDS if k.startswith("lama_")]


@pytest.mark.parametrize("kind", LAMA_KINDS)
def test_lama_ratio_bounds_and_size_invariance(kind):
    r128 = _ratios(kind)
    # LaMa's eval sets drop masks with mean > max_tamper_area = 0.5.
    assert r128.max() <= 0.5 and r128.min() > 0
    assert r128.mean() <= min(_lama_union_bound(kind, SIZE), 0.5)
    assert r128.mean() > 0.15  # the published sets are dense; an empty-ish generator fails
    # Pixel parameters scale with min(H, W) / reference_size: the distribution is kept.
    r256 = _ratios(kind, size=256)
    assert abs(r128.mean() - r256.mean()) < 0.03


def _area_over_inner_perimeter(m):
    """~ half the stroke width for long strokes (inner boundary pixels count the edges)."""
    eroded = cv2.erode(m, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT,
                       borderValue=0)
    return m.sum() / max(1, np.count_nonzero(m ^ eroded))


def test_lama_thin_medium_thick_widths():
    # Mean brush widths at 128 px (s = 0.5): thin (5 + 4.5) * s = 4.75, medium (5 + 24.5) * s
    # = 14.75, thick (5 + 49.5) * s = 27.25 -> area / perimeter ~ w / 2 (less for diagonal
    # edges, more where strokes overlap).
    ap = {}
    for kind in ("lama_thin", "lama_medium", "lama_thick"):
        gen = M.get_mask_generator(kind)
        ap[kind] = np.mean([_area_over_inner_perimeter(gen(SIZE, seed=0, index=i))
                            for i in range(40)])
    assert 1.5 <= ap["lama_thin"] <= 3.5
    assert 4.0 <= ap["lama_medium"] <= 8.5
    assert ap["lama_thick"] >= 8.0
    assert ap["lama_thin"] < ap["lama_medium"] < ap["lama_thick"]


def test_pconv_ratio_bounds():
    r = _ratios("pconv")
    # Union bound: 10.5 expected lines, circles and arcs each; thickness / radius U{3..7}
    # (int(0.03 * 256) = 7); line length E|p1 - p2| for uniform points, arc length
    # E|a3 - a2| / 360 * Ramanujan perimeter for semi-axes U{1..128}.
    hw = SIZE
    t = np.arange(3, max(3, int(2 * hw * 0.03)) + 1)
    d = np.arange(hw)
    pd = np.where(d == 0, hw, 2 * (hw - d)) / hw**2
    e_dist = (pd[:, None] * pd[None, :] * np.hypot(d[:, None], d[None, :])).sum()
    a, b = np.meshgrid(np.arange(1, hw + 1), np.arange(1, hw + 1))
    perimeter = math.pi * (3 * (a + b) - np.sqrt((3 * a + b) * (a + 3 * b)))
    ang = np.arange(3, 181)
    e_delta = np.abs(ang[:, None] - ang[None, :]).mean()
    cap = math.pi / 4 * np.mean(t**2)
    area = (e_dist * t.mean() + cap) + math.pi * np.mean(t**2) + (
        e_delta / 360 * perimeter.mean() * t.mean() + cap)
    bound = 10.5 * area / hw**2
    assert 0.3 < bound < 0.7
    assert r.mean() <= bound
    assert r.mean() > 0.2 and r.min() > 0


def test_deepfill_ratio_bounds_and_box():
    strokes = M.get_mask_generator("deepfill_v2")
    boxed = M.get_mask_generator("deepfill_v2_box")
    r = _ratios("deepfill_v2")
    # Union bound: 2 strokes x (7.5 segments x E[r] = R x E[w] + 8.5 caps x pi (w//2)^2),
    # R = sqrt(2) * 128 / 8, w = int(U(12, 40) * 0.5).
    s, big_r = 0.5, math.sqrt(2) * SIZE / 8
    w = np.floor(np.linspace(12, 40, 10001) * s)
    bound = 2 * (7.5 * big_r * w.mean() + 8.5 * math.pi * np.mean((w // 2) ** 2)) / SIZE**2
    assert 0.05 < r.mean() <= bound
    # The box is drawn after the strokes from the same stream, so it only adds pixels.
    # Box side 128 * s = 64, each side shrunk by U{0..8} (max_delta 32 * s // 2): the smallest
    # box is 48 x 48, the mean ~ 56 x 56.
    extra = []
    for i in range(N):
        a, bx = strokes(SIZE, seed=0, index=i), boxed(SIZE, seed=0, index=i)
        assert np.all(bx >= a)
        assert M.hole_ratio(bx) >= 48 * 48 / SIZE**2
        only_box = bx - a
        extra.append(M.hole_ratio(only_box))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(bx)
        assert stats[1:, cv2.CC_STAT_WIDTH].max() >= 48
    expected_extra = (56 * 56 / SIZE**2) * (1 - r.mean())
    assert abs(np.mean(extra) - expected_extra) < 0.04


def test_rect_random_ratio_distribution():
    r = _ratios("rect_random")
    # sides U(0.25, 0.5) * 128 -> ratio in [0.0625, 0.25], E = 0.375^2 = 0.140625.
    assert r.min() >= 0.0625 - 1e-9 and r.max() <= 0.25 + 1e-9
    assert abs(r.mean() - 0.140625) < 0.015


# --------------------------------------------------------------------------------------------
# Parameters of the LaMa classes
# --------------------------------------------------------------------------------------------


def test_lama_irregular_widths_follow_params_and_scale():
    # max_len=1, max_width=1: every segment is 10 px long with brush_w = 5 px; max_angle=1:
    # angle 0.01 rad, i.e. nearly vertical. max_times=0 -> 0 or 1 stroke (LaMa's +1).
    kw = dict(max_angle=1, max_len=1, max_width=1, min_times=0, max_times=0)
    gen = M.LamaIrregularGenerator(**kw)
    scaled = M.LamaIrregularGenerator(**kw, reference_size=96)
    rows, rows_scaled, heights = [], [], []
    for i in range(20):
        m = gen(96, seed=0, index=i)
        if m.any():
            rows.append(np.median(m.sum(axis=1)[m.any(axis=1)]))
            heights.append(np.ptp(np.flatnonzero(m.any(axis=1))) + 1)
        m2 = scaled(192, seed=0, index=i)
        if m2.any():
            rows_scaled.append(np.median(m2.sum(axis=1)[m2.any(axis=1)]))
    assert len(rows) >= 5 and len(rows_scaled) >= 5
    # Median row width of the stroke: cv2 draws a thickness-t line about t + 2 px wide.
    assert 5 <= min(rows) and max(rows) <= 7  # a 5 px brush
    assert 10 <= min(rows_scaled) and max(rows_scaled) <= 13  # 10 px at twice the reference
    # 1..5 segments of 10 px plus the round caps (shorter where the border clips them).
    assert max(heights) <= 5 * 10 + 6 and max(heights) >= 20


def test_lama_box_params():
    gen = M.LamaBoxGenerator(margin=10, bbox_min_size=20, bbox_max_size=20, min_times=1,
                             max_times=1)
    for i in range(10):
        m = gen(100, seed=1, index=i)
        assert m.sum() == 400
        assert not m[:10].any() and not m[-10:].any()
        assert not m[:, :10].any() and not m[:, -10:].any()


def test_mixed_renormalizes_and_inverts():
    big = M.RectangleMaskGenerator(0.5, 0.5, centered=True)  # ratio 0.25
    small = M.RectangleMaskGenerator(0.25, 0.25, centered=True)  # ratio 0.0625
    mixed = M.MixedMaskGenerator(irregular_proba=0, box_proba=0,
                                 extra_generators=[(big, 1.0), (small, 3.0)])
    r = np.array([M.hole_ratio(mixed(64, seed=0, index=i)) for i in range(400)])
    assert set(np.round(r, 6)) == {0.25, 0.0625}
    assert abs(np.mean(r == 0.0625) - 0.75) < 0.07  # 3 / (1 + 3), binomial sd 0.022
    scaled = M.MixedMaskGenerator(irregular_proba=0, box_proba=0,
                                  extra_generators=[(big, 10.0), (small, 30.0)])
    for i in range(20):
        np.testing.assert_array_equal(mixed(64, seed=0, index=i), scaled(64, seed=0, index=i))
    inverted = M.MixedMaskGenerator(irregular_proba=0, box_proba=0, invert_proba=1.0,
                                    extra_generators=[(big, 1.0)])
    assert M.hole_ratio(inverted(64, seed=0, index=0)) == 0.75
    tamper = M.MixedMaskGenerator(irregular_proba=0, box_proba=0, max_tamper_area=0.1,
                                  extra_generators=[(big, 1.0), (small, 1.0)])
    assert all(M.hole_ratio(tamper(64, seed=0, index=i)) == 0.0625 for i in range(20))
    never = M.MixedMaskGenerator(irregular_proba=0, box_proba=0, max_tamper_area=0.2,
                                 max_redraws=3, extra_generators=[(big, 1.0)])
    with pytest.raises(ValueError, match="max_tamper_area"):
        never(64)


def test_get_mask_generator_presets_overrides_errors():
    thin = M.get_mask_generator("lama_thin", irregular_kwargs={"max_width": 1})
    assert thin.irregular_kwargs == dict(min_times=4, max_times=50, max_width=1, max_angle=4,
                                         max_len=40)
    assert thin.max_tamper_area == 0.5 and thin.reference_size == 256
    medium = M.get_mask_generator("lama_medium")
    np.testing.assert_allclose(medium.probas, [1 / 1.3, 0.3 / 1.3])
    assert M.get_mask_generator("deepfill_v2_box").with_box
    gen = M.PConvMaskGenerator()
    assert M.get_mask_generator(gen) is gen
    assert isinstance(M.get_mask_generator("irregular", max_width=3), M.LamaIrregularGenerator)
    with pytest.raises(ValueError, match="Unknown mask kind 'nope'.*lama_thin"):
        M.get_mask_generator("nope")
    with pytest.raises(ValueError, match="size"):
        gen((0, 10))
    with pytest.raises(ValueError, match="seed"):
        gen(32, seed=-1)
    with pytest.raises(ValueError, match="min_times"):
        M.LamaIrregularGenerator(min_times=5, max_times=2)


# --------------------------------------------------------------------------------------------
# tf.data source
# --------------------------------------------------------------------------------------------


def test_mask_dataset_is_known_float_and_matches_numpy():
    import tensorflow as tf

    ds = M.mask_dataset("lama_medium", (48, 40), seed=4, count=5)
    assert ds.element_spec.shape == (48, 40, 1) and ds.element_spec.dtype == tf.float32
    gen = M.get_mask_generator("lama_medium")
    items = list(ds.as_numpy_iterator())
    assert len(items) == 5
    for i, known in enumerate(items):
        hole = gen((48, 40), seed=4, index=i)
        np.testing.assert_array_equal(known[..., 0], 1.0 - hole)  # 1 = known
        assert known.dtype == np.float32
    fresh = [next(iter(M.mask_dataset("pconv", 32, seed=None))).numpy() for _ in range(2)]
    assert not np.array_equal(*fresh)  # seed=None: a new stream each time
    endless = M.mask_dataset(gen, 32, seed=4, start=2).take(3)
    np.testing.assert_array_equal(next(iter(endless)).numpy()[..., 0],
                                  1.0 - gen(32, seed=4, index=2))


# --------------------------------------------------------------------------------------------
# Bucketed sets (bucket definitions and the membership rule: tests/data/buckets_test.py)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lama_thin", "pconv", "rect_center"])
def test_bucketed_set_lands_in_buckets(kind):
    sets = M.make_bucketed_set(kind, 64, per_bucket=3, seed=2)
    assert list(sets) == list(M.BUCKET_NAMES)
    for (lo, hi), (name, masks) in zip(M.BUCKETS, sets.items()):
        assert masks.shape == (3, 64, 64) and masks.dtype == np.uint8
        assert set(np.unique(masks)) <= {0, 1}
        for m in masks:
            r = M.hole_ratio(m)
            assert lo <= r < hi and M.bucket_of(r) == name
    if kind == "rect_center":  # targets spread the ratios inside a bucket
        assert len({M.hole_ratio(m) for m in sets["40-50%"]}) > 1


def test_bucketed_set_is_reproducible_and_independent_of_other_buckets():
    full = M.make_bucketed_set("deepfill_v2", 64, per_bucket=3, seed=5)
    again = M.make_bucketed_set("deepfill_v2", 64, per_bucket=3, seed=5)
    one = M.make_bucketed_set("deepfill_v2", 64, per_bucket=2, seed=5, buckets="30-40%")
    for name in full:
        np.testing.assert_array_equal(full[name], again[name])
    np.testing.assert_array_equal(one["30-40%"], full["30-40%"][:2])
    other = M.make_bucketed_set("deepfill_v2", 64, per_bucket=3, seed=6, buckets="30-40%")
    assert not np.array_equal(other["30-40%"], full["30-40%"])


def test_bucketed_set_unfillable_raises():
    class Empty(M.MaskGenerator):
        def sample(self, rng, size):
            return np.zeros(size, np.uint8)

    with pytest.raises(M.BucketFillError, match=r"10-20%.*0 of 2 after 5 attempts"):
        M.make_bucketed_set(Empty(), 32, per_bucket=2, buckets="10-20%", max_attempts=5)
    with pytest.raises(ValueError, match="per_bucket"):
        M.make_bucketed_set("pconv", 64, per_bucket=0)


def test_bucketed_set_top_edge_only_for_a_bucket_ending_at_100():
    class Full(M.MaskGenerator):
        def sample(self, rng, size):
            return np.ones(size, np.uint8)

    # A full mask (ratio 1.0) lies in "90-100%" in every bucket list, so it is kept as is.
    full = M.make_bucketed_set(Full(), 20, per_bucket=1, buckets="90-100%")["90-100%"][0]
    assert M.hole_ratio(full) == 1.0 and M.bucket_of(1.0, "50-60%,90-100%") == "90-100%"

    class TwelveRows(M.MaskGenerator):  # 240 / 400 = exactly 0.6
        def sample(self, rng, size):
            m = np.zeros(size, np.uint8)
            m[:12] = 1
            return m

    # For "50-60%" a 0.6 mask is eroded into [0.5, 0.6): listed with "60-70%", 0.6 belongs there.
    assert M.bucket_of(0.6, "50-60%,60-70%") == "60-70%"
    (m,) = M.make_bucketed_set(TwelveRows(), 20, per_bucket=1, buckets="50-60%")["50-60%"]
    assert M.hole_ratio(m) in (0.5, 0.55)


# --------------------------------------------------------------------------------------------
# Mask folders
# --------------------------------------------------------------------------------------------


@pytest.fixture()
def mask_dir(tmp_path):
    """Three 64x48 masks: white left half; white top rows 0..15 (RGB); grey 100 everywhere
    except a white 8x8 square at (40, 30)."""
    d = tmp_path / "masks"
    (d / "sub").mkdir(parents=True)
    a = np.zeros((64, 48), np.uint8)
    a[:, :24] = 255
    Image.fromarray(a).save(d / "a.png")
    b = np.zeros((64, 48, 3), np.uint8)
    b[:16] = 255
    Image.fromarray(b).save(d / "b.png")
    c = np.full((64, 48), 100, np.uint8)
    c[40:48, 30:38] = 255
    Image.fromarray(c).save(d / "sub" / "c.png")
    (d / "notes.txt").write_text("not a mask")
    return d


def test_mask_folder_polarity(mask_dir):
    white = M.MaskFolder(mask_dir, hole_is_white=True)
    black = M.MaskFolder(mask_dir, hole_is_white=False)
    assert len(white) == 3 and [p.name for p in white.files] == ["a.png", "b.png", "c.png"]
    a, b, c = list(white)
    assert a.dtype == np.uint8 and a.shape == (64, 48)
    assert a[:, :24].all() and not a[:, 24:].any()
    assert b[:16].all() and not b[16:].any()
    assert c.sum() == 64 and c[40:48, 30:38].all()  # grey 100 <= 127 is known
    for x, y in zip(white, black):
        np.testing.assert_array_equal(y, 1 - x)
    small = M.MaskFolder(mask_dir, size=(32, 24))[0]
    assert small.shape == (32, 24) and small[:, :12].all() and not small[:, 12:].any()


def test_mask_folder_augmentation(mask_dir):
    plain = M.MaskFolder(mask_dir, size=32)
    aug = M.MaskFolder(mask_dir, size=32, augment=True, seed=3)
    changed = 0
    for i in range(len(aug)):
        for epoch in range(3):
            m = aug.load(i, epoch=epoch)
            assert m.shape == (32, 32) and set(np.unique(m)) <= {0, 1}
            np.testing.assert_array_equal(m, aug.load(i, epoch=epoch))
            changed += not np.array_equal(m, plain[i])
    assert changed >= 7
    assert not all(np.array_equal(aug.load(0, epoch=0), aug.load(0, epoch=e)) for e in (1, 2, 3))
    # Dilation alone only grows the hole.
    dil = M.MaskFolder(mask_dir, size=32, augment=True, max_rotation=0, min_crop=1,
                       flip=False, max_dilation=7)
    grew = 0
    for e in range(4):
        m = dil.load(2, epoch=e)
        assert np.all(m >= plain[2])
        grew += m.sum() > plain[2].sum()
    assert grew >= 2


def test_mask_folder_dataset(mask_dir):
    import tensorflow as tf

    folder = M.MaskFolder(mask_dir, size=(32, 24))
    ds = folder.as_dataset()
    assert ds.element_spec.shape == (32, 24, 1) and ds.element_spec.dtype == tf.float32
    for known, hole in zip(ds.as_numpy_iterator(), folder):
        np.testing.assert_array_equal(known[..., 0], 1.0 - hole)
    stream = list(M.MaskFolder(mask_dir, size=16, seed=1).as_dataset(shuffle=True, repeat=True)
                  .take(6).as_numpy_iterator())
    sums = [float(s.sum()) for s in stream]
    plain_sums = sorted(float((1 - m).sum()) for m in M.MaskFolder(mask_dir, size=16))
    assert sorted(sums[:3]) == plain_sums and sorted(sums[3:]) == plain_sums


def test_mask_folder_errors(tmp_path, mask_dir):
    with pytest.raises(FileNotFoundError):
        M.MaskFolder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no mask images"):
        M.MaskFolder(tmp_path / "empty")
    assert M.list_mask_files([mask_dir / "b.png", mask_dir / "a.png"]) == [
        mask_dir / "b.png", mask_dir / "a.png",
    ]  # a list keeps its order
    with pytest.raises(FileNotFoundError, match="nope.png"):
        M.list_mask_files([mask_dir / "a.png", mask_dir / "nope.png"])
    with pytest.raises(ValueError, match="No mask file"):
        M.list_mask_files([])
    (mask_dir / "broken.png").write_bytes(b"not a png")
    folder = M.MaskFolder(mask_dir)
    broken = [p.name for p in folder.files].index("broken.png")
    with pytest.raises(ValueError, match="broken.png"):
        folder.read(broken)
    with pytest.raises(IndexError):
        folder.load(len(folder))


# --------------------------------------------------------------------------------------------
# Mask sets on disk
# --------------------------------------------------------------------------------------------


def test_write_mask_set_count(tmp_path):
    out = tmp_path / "set"
    index = M.write_mask_set(out, "lama_thick", 48, count=5, seed=9)
    gen = M.get_mask_generator("lama_thick")
    with open(out / "index.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["filename"] for r in rows] == [f"mask_{i:06d}.png" for i in range(5)]
    for i, row in enumerate(rows):
        png = np.asarray(Image.open(out / row["filename"]))
        assert png.dtype == np.uint8 and set(np.unique(png)) <= {0, 255}
        hole = gen(48, seed=9, index=i)
        np.testing.assert_array_equal(png, hole * 255)  # white = hole
        assert float(row["hole_ratio"]) == pytest.approx(hole.mean(), abs=1e-6)
        assert row["bucket"] == (M.bucket_of(hole.mean()) or "")
    on_disk = json.loads((out / "index.json").read_text())
    assert on_disk == json.loads(json.dumps(index))
    assert on_disk["size"] == [48, 48] and on_disk["seed"] == 9 and on_disk["count"] == 5
    assert "white" in on_disk["polarity"]
    back = M.MaskFolder(out, hole_is_white=True)
    np.testing.assert_array_equal(back[3], gen(48, seed=9, index=3))


def test_write_mask_set_buckets(tmp_path):
    out = tmp_path / "b"
    M.write_mask_set(out, "deepfill_v2", (40, 56), buckets="10-20%,30-40%", per_bucket=2, seed=1)
    with open(out / "index.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["bucket"] for r in rows] == ["10-20%"] * 2 + ["30-40%"] * 2
    for r in rows:
        png = np.asarray(Image.open(out / r["filename"]))
        assert png.shape == (40, 56)
        ratio = np.count_nonzero(png) / png.size
        assert M.bucket_of(ratio) == r["bucket"]
    with pytest.raises(ValueError, match="not both"):
        M.write_mask_set(out, "pconv", 64, count=3, buckets="all", per_bucket=2)
    with pytest.raises(ValueError, match="per_bucket"):
        M.write_mask_set(out, "pconv", 64, buckets="all")
    with pytest.raises(ValueError, match="count"):
        M.write_mask_set(out, "pconv", 64)
