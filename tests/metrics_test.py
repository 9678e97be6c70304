"""Metrics: numbers against scikit-image on real photos, hand computations, buckets, files."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage.color import rgb2gray
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from tfinpaint import metrics as M


def _photo(photos_dir, index: int, size: int = 80) -> np.ndarray:
    """A top-left ``size`` crop of a real photo, float64 [0, 1] (independent of tfinpaint I/O)."""
    files = sorted((photos_dir / "small").glob("*.jpg"))
    with Image.open(files[index]) as img:
        arr = np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0
    return arr[:size, : size + 16]  # non-square on purpose


def _distort(x: np.ndarray, kind: str, rng) -> np.ndarray:
    if kind == "noise":
        return np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1)
    if kind == "blur":
        return cv2.GaussianBlur(x, (5, 5), 1.2)
    if kind == "jpeg":
        u8 = np.round(x * 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, 20])
        assert ok
        return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED).astype(np.float64) / 255.0
    if kind == "brightness":
        return np.clip(x * 0.8 + 0.1, 0, 1)
    if kind == "hole":  # a black rectangle, as an uncomposited failure
        y = x.copy()
        y[10:40, 20:50] = 0.0
        return y
    raise AssertionError(kind)


DISTORTIONS = ("noise", "blur", "jpeg", "brightness", "hole")


@pytest.mark.parametrize("kind", DISTORTIONS)
def test_standard_metrics_match_skimage_on_real_photos(photos_dir, kind):
    rng = np.random.default_rng(len(kind))
    for index in (0, 7):
        a = _photo(photos_dir, index)
        b = _distort(a, kind, rng)
        ref_psnr = peak_signal_noise_ratio(a, b, data_range=1)
        ref_ssim = structural_similarity(
            a, b, channel_axis=-1, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, data_range=1,
        )
        ref_l1 = np.abs(a - b).mean()
        assert M.psnr(a, b) == pytest.approx(ref_psnr, abs=1e-9)
        assert M.ssim(a, b) == pytest.approx(ref_ssim, abs=1e-9)
        assert M.l1(a, b) == pytest.approx(ref_l1, abs=1e-12)
        # Sanity: the distortion is real (metrics far from the identical-image values).
        assert ref_ssim < 0.999 and ref_psnr < 60


def test_float32_inputs_match_skimage_float32(photos_dir):
    a = _photo(photos_dir, 3).astype(np.float32)
    b = np.clip(a + 0.03, 0, 1).astype(np.float32)
    ref = structural_similarity(
        a, b, channel_axis=-1, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=1,
    )
    assert M.ssim(a, b) == pytest.approx(ref, abs=1e-5)  # skimage computes float32 here
    assert M.psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1), abs=1e-4)


def test_hand_computed_constant_images():
    a = np.full((16, 20, 3), 0.5)
    b = np.full((16, 20, 3), 0.6)
    # MSE = 0.01 -> PSNR = 10 log10(1 / 0.01) = 20 dB; L1 = 0.1.
    assert M.psnr(a, b) == pytest.approx(20.0, abs=1e-9)
    assert M.l1(a, b) == pytest.approx(0.1, abs=1e-12)
    # Constant images: variances and covariance 0, so SSIM = (2 mu_x mu_y + C1) / (mu_x^2 +
    # mu_y^2 + C1) with C1 = 0.01^2.
    c1 = 0.01**2
    expected = (2 * 0.5 * 0.6 + c1) / (0.25 + 0.36 + c1)
    assert M.ssim(a, b) == pytest.approx(expected, abs=1e-12)


def test_known_mse():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.2, 0.8, (32, 32, 3))
    b = a.copy()
    b[:8] += 0.1  # a quarter of the pixels off by 0.1 -> MSE 0.0025 -> PSNR 26.0206 dB
    assert M.psnr(a, b) == pytest.approx(10 * math.log10(1 / 0.0025), abs=1e-9)
    assert M.l1(a, b) == pytest.approx(0.025, abs=1e-12)
    assert M.psnr(a * 2, b * 2, data_range=2.0) == pytest.approx(M.psnr(a, b), abs=1e-9)


def test_identical_images_and_batches(photos_dir):
    a = _photo(photos_dir, 1, size=48)
    assert M.psnr(a, a) == math.inf
    assert M.ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert M.l1(a, a) == 0.0
    b = np.clip(a + 0.05, 0, 1)
    batch_a, batch_b = np.stack([a, a]), np.stack([a, b])
    np.testing.assert_array_equal(M.psnr(batch_a, batch_b), [math.inf, M.psnr(a, b)])
    np.testing.assert_allclose(M.ssim(batch_a, batch_b), [1.0, M.ssim(a, b)], atol=1e-12)


def test_input_errors():
    a = np.zeros((16, 16, 3))
    with pytest.raises(ValueError, match="same shape"):
        M.psnr(a, np.zeros((16, 15, 3)))
    with pytest.raises(ValueError, match="NaN"):
        M.l1(a, np.full((16, 16, 3), np.nan))
    with pytest.raises(ValueError, match="smaller than the 11x11 window"):
        M.ssim(np.zeros((10, 30, 3)), np.zeros((10, 30, 3)))
    with pytest.raises(ValueError, match="Received: shape"):
        M.psnr(np.zeros((16, 16)), np.zeros((16, 16)))
    with pytest.raises(ValueError, match="variant"):
        M.image_metrics(a, a, variant="lama")


def test_edgeconnect_variant_matches_direct_skimage(photos_dir):
    rng = np.random.default_rng(5)
    a = _photo(photos_dir, 4, size=96)
    b = _distort(a, "noise", rng)
    b[20:50, 10:60] = _distort(a, "blur", rng)[20:50, 10:60]
    ga, gb = rgb2gray(a), rgb2gray(b)
    got = M.edgeconnect_metrics(a, b)
    assert got["psnr"] == pytest.approx(peak_signal_noise_ratio(ga, gb, data_range=1), abs=1e-9)
    # compare_ssim(data_range=1, win_size=51): old defaults = uniform window, sample covariance.
    assert got["ssim"] == pytest.approx(
        structural_similarity(ga, gb, data_range=1, win_size=51), abs=1e-9
    )
    assert got["mae"] == pytest.approx(np.sum(np.abs(ga - gb)) / np.sum(ga + gb), abs=1e-12)
    np.testing.assert_allclose(M.rgb_to_gray(a), ga, atol=1e-12)
    # The variant is really different: grayscale + window 51 inflates SSIM on the same pair.
    assert got["ssim"] > M.ssim(a, b) + 0.05
    assert M.image_metrics(a, b, "edgeconnect") == got


def test_edgeconnect_identical_and_black():
    black = np.zeros((60, 60, 3))
    got = M.edgeconnect_metrics(black, black)
    assert got == {"psnr": math.inf, "ssim": 1.0, "mae": 0.0}


def test_tf_metrics_agree_with_numpy(photos_dir):
    import tensorflow as tf

    rng = np.random.default_rng(2)
    idx = (0, 2, 9, 12, 20, 31)
    a = np.stack([_photo(photos_dir, i, size=64) for i in idx])
    kinds = ("noise", "blur", "jpeg", "brightness", "hole", "jpeg")
    b = np.stack([_distort(x, k, rng) for x, k in zip(a, kinds)])
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    ref_ssim = M.ssim(a, b)
    np.testing.assert_allclose(M.tf_ssim_per_image(a32, b32).numpy(), ref_ssim, atol=2e-6)
    assert float(M.tf_ssim(a32, b32)) == pytest.approx(np.mean(ref_ssim), abs=2e-6)
    assert float(M.tf_psnr(a32, b32)) == pytest.approx(np.mean(M.psnr(a, b)), abs=2e-3)
    # tf.image.ssim has the same definition, up to its float32 cancellation (documented).
    np.testing.assert_allclose(tf.image.ssim(a32, b32, 1.0).numpy(), ref_ssim, atol=2e-3)


def test_tf_metrics_inside_tf_function():
    import tensorflow as tf

    spec = tf.TensorSpec([None, None, None, None], tf.float32)

    @tf.function(input_signature=[spec, spec])
    def step(x, y):
        return M.tf_psnr(x, y), M.tf_ssim(x, y)

    c1 = 0.01**2
    for shape in ((2, 16, 16, 3), (1, 24, 13, 1)):
        x = tf.fill(shape, 0.5)
        p, s = step(x, x + 0.1)
        assert float(p) == pytest.approx(20.0, abs=1e-3)
        assert float(s) == pytest.approx((2 * 0.5 * 0.6 + c1) / (0.25 + 0.36 + c1), abs=1e-6)
    assert step.experimental_get_tracing_count() == 1
    with pytest.raises(ValueError, match="smaller than the 11x11 window"):
        M.tf_ssim(tf.zeros((1, 8, 32, 3)), tf.zeros((1, 8, 32, 3)))


def test_accumulator_bucket_spec_and_other_group():
    # Buckets as a spec string; the last listed bucket holds its top edge, the rest is "other".
    acc = M.MetricAccumulator(buckets="10-20%,50-60%")
    target = np.full((4, 20, 20, 3), 0.5)
    mask = np.stack([_mask_with_holes(h) for h in (40, 80, 240, 20)])
    records = acc.update(target, np.zeros_like(target), mask)
    assert [r["bucket"] for r in records] == ["10-20%", "other", "50-60%", "other"]
    res = acc.result()
    assert res["buckets"] == [["10-20%", 0.1, 0.2], ["50-60%", 0.5, 0.6]]
    assert {g: res["groups"][g]["count"] for g in res["groups"]} == {
        "total": 4, "10-20%": 1, "50-60%": 1, "other": 2,
    }


def _mask_with_holes(n_hole: int, side: int = 20) -> np.ndarray:
    m = np.ones((side * side,))
    m[:n_hole] = 0.0
    return m.reshape(side, side, 1)


def test_accumulator_buckets_and_means():
    rng = np.random.default_rng(3)
    # 400-pixel masks: 4 -> 1 %, 40 -> 10 %, 100 -> 25 %, 240 -> 60 %, 0 and 400 -> other.
    holes = [4, 40, 100, 240, 0, 400, 30]
    expected_bucket = ["1-10%", "10-20%", "20-30%", "50-60%", "other", "other", "1-10%"]
    target = rng.uniform(0, 1, (len(holes), 20, 20, 3))
    output = rng.uniform(0, 1, target.shape)
    mask = np.stack([_mask_with_holes(h) for h in holes])
    acc = M.MetricAccumulator(meta={"model": "test"})
    records = acc.update(target, output, mask, names=[f"img{i}" for i in range(len(holes))])
    assert [r["bucket"] for r in records] == expected_bucket
    assert [r["hole_ratio"] for r in records] == [h / 400 for h in holes]
    # Each per-image score equals a direct computation on the composite.
    comp = mask * target + (1 - mask) * output
    for i, r in enumerate(records):
        assert r["ssim"] == pytest.approx(M.ssim(target[i], comp[i]), abs=1e-12)
    res = acc.result()
    assert list(res["groups"]) == ["total", "1-10%", "10-20%", "20-30%", "50-60%", "other"]
    g = res["groups"]
    assert g["total"]["count"] == 7 and g["1-10%"]["count"] == 2 and g["other"]["count"] == 2
    ix = [0, 6]
    assert g["1-10%"]["l1"] == pytest.approx(np.mean([records[i]["l1"] for i in ix]), abs=1e-15)
    assert g["1-10%"]["psnr"] == pytest.approx(
        np.mean([M.psnr(target[i], comp[i]) for i in ix]), abs=1e-12
    )
    # Image 4 has no hole: composite == target -> inf PSNR, excluded from the PSNR means.
    assert records[4]["psnr"] == math.inf
    assert g["other"]["psnr_infinite"] == 1 and g["total"]["psnr_infinite"] == 1
    finite = [r["psnr"] for r in records if math.isfinite(r["psnr"])]
    assert g["total"]["psnr"] == pytest.approx(np.mean(finite), abs=1e-12)
    assert g["other"]["psnr"] == pytest.approx(records[5]["psnr"], abs=1e-12)
    assert res["on"] == "composite" and res["variant"] == "standard"


def test_all_hole_composite_equals_raw_and_raw_mode():
    rng = np.random.default_rng(4)
    target = rng.uniform(0, 1, (1, 24, 24, 3))
    output = rng.uniform(0, 1, target.shape)
    full_hole = np.zeros((1, 24, 24, 1))
    no_hole = np.ones((1, 24, 24, 1))
    comp, raw = M.MetricAccumulator(), M.MetricAccumulator(on="raw")
    for acc in (comp, raw):
        acc.update(target, output, full_hole)
    assert comp.records[0]["psnr"] == raw.records[0]["psnr"] == M.psnr(target[0], output[0])
    # With no hole, composite scoring is perfect but raw scoring is not.
    comp.update(target, output, no_hole)
    raw.update(target, output, no_hole)
    assert comp.records[1]["psnr"] == math.inf and comp.records[1]["ssim"] == pytest.approx(1.0)
    assert raw.records[1]["psnr"] == pytest.approx(M.psnr(target[0], output[0]))
    assert raw.result()["on"] == "raw"


def test_all_infinite_group_and_markdown():
    target = np.full((1, 16, 16, 3), 0.3)
    acc = M.MetricAccumulator()
    acc.update(target, target, np.ones((1, 16, 16, 1)))
    res = acc.result()
    assert res["groups"]["total"]["psnr"] == math.inf
    md = acc.to_markdown()
    assert "| other | 1 | inf | 1.0000 | 0.0000 |" in md
    assert "infinite PSNR" in md


def test_accumulator_errors():
    acc = M.MetricAccumulator()
    with pytest.raises(ValueError, match="mask.shape"):
        acc.update(np.zeros((1, 16, 16, 3)), np.zeros((1, 16, 16, 3)), np.ones((1, 16, 16, 3)))
    with pytest.raises(ValueError, match="lack the metrics"):
        acc.add({"psnr": 1.0}, 0.1)
    with pytest.raises(ValueError, match="on must be"):
        M.MetricAccumulator(on="output")


def test_results_round_trip(tmp_path):
    rng = np.random.default_rng(6)
    holes = [10, 60, 150, 0]
    target = rng.uniform(0, 1, (4, 20, 20, 3))
    mask = np.stack([_mask_with_holes(h) for h in holes])
    acc = M.MetricAccumulator(variant="standard", meta={"model": "roundtrip", "size": 20})
    acc.update(target, np.clip(target + 0.1, 0, 1), mask, names=list("abcd"))
    res = acc.result()
    paths = acc.write(tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "metrics.csv", "metrics.json", "metrics.md",
    ]
    # JSON is strict (no Infinity / NaN literals) and loads back to the same results.
    text = paths["json"].read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert M.load_results(paths["json"]) == res
    # CSV holds every digit.
    csv_groups = M.read_results_csv(paths["csv"])
    assert list(csv_groups) == list(res["groups"])
    for group, agg in res["groups"].items():
        row = csv_groups[group]
        assert row["count"] == agg["count"] and row["psnr_infinite"] == agg["psnr_infinite"]
        for m in ("psnr", "ssim", "l1"):
            assert row[m] == agg[m]
        assert row["variant"] == "standard" and row["on"] == "composite"
    assert csv_groups["other"]["psnr"] == math.inf
    # The markdown table has one row per group with the rounded values.
    md = paths["md"].read_text()
    assert md == M.results_to_markdown(res)
    total = res["groups"]["total"]
    assert f"| total | 4 | {total['psnr']:.2f} | {total['ssim']:.4f} | {total['l1']:.4f} |" in md
    assert "model: roundtrip" in md and "Scored on: composite" in md


def test_edgeconnect_accumulator_labels(tmp_path):
    rng = np.random.default_rng(7)
    target = rng.uniform(0, 1, (2, 64, 64, 3))
    mask = np.ones((2, 64, 64, 1))
    mask[:, :20, :20] = 0
    acc = M.MetricAccumulator(variant="edgeconnect")
    recs = acc.update(target, np.zeros_like(target), mask)
    comp = mask * target
    assert recs[0] == {
        "name": "image_000000",
        "hole_ratio": 400 / 4096,
        "bucket": "1-10%",
        **M.edgeconnect_metrics(target[0], comp[0]),
    }
    res = acc.result()
    assert res["metrics"] == ["psnr", "ssim", "mae"]
    assert "edgeconnect" in res["variant_description"]
    md = acc.to_markdown()
    assert "MAE (rel.)" in md and "SSIM uniform 51x51" in md
    paths = acc.write(tmp_path)
    assert M.read_results_csv(paths["csv"])["total"]["variant"] == "edgeconnect"
