"""Inpainting metrics (PSNR, SSIM, L1) overall and per hole-ratio bucket.

Two metric variants, always labelled in every result:

``"standard"`` (default): on float RGB images in ``[0, 1]``

- PSNR, data range 1: ``10 * log10(1 / MSE)`` with MSE over all pixels and channels; identical
  images give ``inf``.
- SSIM of Wang et al., "Image Quality Assessment: From Error Visibility to Structural
  Similarity", IEEE TIP 2004, Eq. (13): ``SSIM = (2 mu_x mu_y + C1)(2 sigma_xy + C2) /
  ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))`` with ``C1 = (0.01 L)^2``,
  ``C2 = (0.03 L)^2``, ``L = 1``; local statistics under an 11x11 Gaussian window (sigma 1.5,
  population covariance), averaged over the positions where the window lies inside the image,
  then over the channels. Equals ``skimage.metrics.structural_similarity(a, b, channel_axis=-1,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1)`` and, to
  float32 precision, :func:`tf_ssim`. ``tf.image.ssim`` has the same definition but loses up to
  ~1e-3 per position to float32 cancellation in flat regions.
- L1: mean absolute error over all pixels and channels (fraction of the range, not percent).

``"edgeconnect"``: the formulas of EdgeConnect ``scripts/metrics.py`` (also MANet
``quality_test.py``), used by several papers of this family; they inflate SSIM relative to the
standard variant and are **not comparable** with it

- images converted to grayscale with ``skimage.color.rgb2gray`` weights
  ``(0.2125, 0.7154, 0.0721)``;
- PSNR: ``compare_psnr(gray_a, gray_b, data_range=1)``;
- SSIM: ``compare_ssim(gray_a, gray_b, data_range=1, win_size=51)`` with old skimage defaults:
  uniform 51x51 window, sample covariance (``N / (N - 1)``), K1 0.01, K2 0.03;
- MAE: **relative** ``sum|a - b| / sum(a + b)`` (named ``mae``, not plain L1).

Hole-ratio buckets are those of :mod:`tfinpaint.data.buckets` (re-exported here): PConv/NVIDIA
ranges with LaMa-style names ``"1-10%"``, ``"10-20%"``, ..., ``"50-60%"``. The ratio is the
fraction of hole pixels (``mask < 0.5`` of the library mask) at evaluation resolution. Bucket
``[lo, hi)`` holds ``lo <= ratio < hi`` (LaMa's ``searchsorted(edges, ratio, 'right') - 1``),
except that the last bucket also includes its upper edge (``0.6``); anything else (no hole,
``< 1%``, ``> 60%``) goes to ``"other"``. Every group (``"total"``, each non-empty bucket,
``"other"``) reports the mean of each metric over its images.

Infinite PSNR (a scored image identical to its target, e.g. a mask without hole on the composite)
is kept as ``inf`` per image; a group's PSNR is the mean over its **finite** values and the
number of infinite values is reported as ``psnr_infinite`` (the mean is ``inf`` only when every
value is infinite). In JSON, infinities are written as the string ``"inf"`` (strict JSON has no
infinity); :func:`load_results` turns them back into floats.

Every result records whether the composite (``mask * target + (1 - mask) * output``, the default,
as in LaMa, EdgeConnect and the papers' tables) or the raw output was scored.
"""

from __future__ import annotations

import csv
import json
import math
import os
import pathlib
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from tfinpaint.data.buckets import (  # noqa: F401  (re-exported)
    BUCKET_NAMES,
    BUCKETS,
    bucket_name,
    bucket_of,
    hole_ratio,
    parse_buckets,
)

VARIANTS = ("standard", "edgeconnect")
METRICS = {"standard": ("psnr", "ssim", "l1"), "edgeconnect": ("psnr", "ssim", "mae")}
VARIANT_DESCRIPTIONS = {
    "standard": (
        "standard: RGB in [0,1]; PSNR data range 1; SSIM Gaussian 11x11 sigma 1.5, K1 0.01, "
        "K2 0.03, channel-averaged; L1 = mean |a-b|"
    ),
    "edgeconnect": (
        "edgeconnect (EdgeConnect/MANet scripts): grayscale (rgb2gray); PSNR data range 1; "
        "SSIM uniform 51x51 window, sample covariance; MAE = sum|a-b| / sum(a+b)"
    ),
}
METRIC_LABELS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "l1": "L1", "mae": "MAE (rel.)"}
SCORED_ON = ("composite", "raw")

OTHER = "other"
TOTAL = "total"

RGB2GRAY_WEIGHTS = np.array([0.2125, 0.7154, 0.0721])  # skimage.color.rgb2gray


# --------------------------------------------------------------------------------------------
# Per-image metrics (numpy)
# --------------------------------------------------------------------------------------------


def _pair(a, b, name: str) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(
            f"{name}: images must have the same shape. Received: a.shape={a.shape}, "
            f"b.shape={b.shape}"
        )
    if a.ndim not in (3, 4):
        raise ValueError(
            f"{name}: expected an image (H, W, C) or a batch (N, H, W, C). "
            f"Received: shape={a.shape}"
        )
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError(f"{name}: images contain NaN or Inf values.")
    return a, b


def _per_image(fn, a: np.ndarray, b: np.ndarray):
    if a.ndim == 3:
        return fn(a, b)
    return np.array([fn(x, y) for x, y in zip(a, b)], dtype=np.float64)


def _psnr_single(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    mse = np.mean((a - b) ** 2)
    if mse == 0:
        return math.inf
    return float(10.0 * np.log10(data_range**2 / mse))


def psnr(a, b, data_range: float = 1.0):
    """Peak signal-to-noise ratio ``10 log10(R^2 / MSE)``, in dB.

    Args:
        a, b: images ``(H, W, C)`` or batches ``(N, H, W, C)``, float in ``[0, data_range]``.
        data_range: ``R``. Defaults to ``1.0``.

    Returns:
        float (one image) or float64 array ``(N,)``; ``inf`` where the images are identical.
        Equals ``skimage.metrics.peak_signal_noise_ratio(a, b, data_range=R)`` per image.
    """
    a, b = _pair(a, b, "psnr")
    return _per_image(lambda x, y: _psnr_single(x, y, data_range), a, b)


def l1(a, b):
    """Mean absolute error over all pixels and channels (per image)."""
    a, b = _pair(a, b, "l1")
    return _per_image(lambda x, y: float(np.mean(np.abs(x - y))), a, b)


def _ssim_map_mean(
    x: np.ndarray,
    y: np.ndarray,
    *,
    data_range: float,
    gaussian: bool,
    win_size: int,
    sigma: float,
    sample_covariance: bool,
    k1: float = 0.01,
    k2: float = 0.03,
) -> float:
    """Mean SSIM of 2-D or (H, W, C) arrays, filtering over the first two axes only.

    Per channel this is Wang et al. 2004 Eq. (13) at every pixel, cropped by
    ``(win_size - 1) // 2`` on each side (positions whose window lies inside the image, so the
    boundary mode of the filter does not matter), averaged; channels are then averaged.
    """
    h, w = x.shape[:2]
    if min(h, w) < win_size:
        raise ValueError(
            f"ssim: image is smaller than the {win_size}x{win_size} window. "
            f"Received: shape={x.shape}"
        )
    axes = (0, 1)
    if gaussian:
        # scipy.ndimage.gaussian_filter with truncate 3.5: radius int(3.5 * sigma + 0.5),
        # i.e. the 11-tap kernel for sigma 1.5 (as skimage and tf.image.ssim).
        def filt(z):
            return ndimage.gaussian_filter(z, sigma=sigma, truncate=3.5, mode="reflect", axes=axes)

        n = win_size**2
    else:

        def filt(z):
            return ndimage.uniform_filter(z, size=win_size, mode="reflect", axes=axes)

        n = win_size**2
    cov_norm = n / (n - 1.0) if sample_covariance else 1.0
    ux, uy = filt(x), filt(y)
    uxx, uyy, uxy = filt(x * x), filt(y * y), filt(x * y)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    pad = (win_size - 1) // 2
    s = s[pad : h - pad, pad : w - pad]
    if s.ndim == 3:
        return float(np.mean(s.mean(axis=(0, 1))))
    return float(s.mean())


def ssim(a, b, data_range: float = 1.0):
    """Standard SSIM: Gaussian 11x11 window (sigma 1.5), K1 0.01, K2 0.03, channel-averaged.

    Wang et al. 2004, Eq. (13), with population covariance. Equals
    ``skimage.metrics.structural_similarity(a, b, channel_axis=-1, gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=data_range)`` (computed in float64),
    :func:`tf_ssim` and, up to float32 rounding, ``tf.image.ssim(a, b, data_range)``.

    Args:
        a, b: ``(H, W, C)`` or ``(N, H, W, C)`` float, H and W at least 11.
        data_range: dynamic range ``L`` of the images. Defaults to ``1.0``.

    Returns:
        float (one image) or float64 array ``(N,)``.
    """
    a, b = _pair(a, b, "ssim")
    return _per_image(
        lambda x, y: _ssim_map_mean(
            x, y, data_range=data_range, gaussian=True, win_size=11, sigma=1.5,
            sample_covariance=False,
        ),
        a,
        b,
    )


def rgb_to_gray(image) -> np.ndarray:
    """``skimage.color.rgb2gray``: ``0.2125 R + 0.7154 G + 0.0721 B`` over the last axis."""
    image = np.asarray(image, dtype=np.float64)
    if image.shape[-1] != 3:
        raise ValueError(
            f"rgb_to_gray expects 3 RGB channels in the last axis. Received: shape={image.shape}"
        )
    return image @ RGB2GRAY_WEIGHTS


def edgeconnect_metrics(a, b) -> dict:
    """EdgeConnect / MANet metrics of one RGB image pair ``(H, W, 3)`` in ``[0, 1]``.

    ``a`` is the ground truth, ``b`` the prediction (the formulas are symmetric). Returns
    ``{"psnr", "ssim", "mae"}`` computed on ``rgb2gray`` images: ``compare_psnr(data_range=1)``,
    ``compare_ssim(data_range=1, win_size=51)`` (uniform window, sample covariance) and the
    relative ``mae = sum|a-b| / sum(a+b)`` (0 when both images are all black).
    """
    a, b = _pair(a, b, "edgeconnect_metrics")
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(
            f"edgeconnect_metrics expects one RGB image (H, W, 3). Received: shape={a.shape}"
        )
    ga, gb = rgb_to_gray(a), rgb_to_gray(b)
    denom = np.sum(ga + gb)
    return {
        "psnr": _psnr_single(ga, gb, 1.0),
        "ssim": _ssim_map_mean(
            ga, gb, data_range=1.0, gaussian=False, win_size=51, sigma=0.0,
            sample_covariance=True,
        ),
        "mae": float(np.sum(np.abs(ga - gb)) / denom) if denom > 0 else 0.0,
    }


def image_metrics(target, prediction, variant: str = "standard") -> dict:
    """All metrics of one ``(H, W, 3)`` pair for ``variant``; keys as in :data:`METRICS`."""
    _check_variant(variant)
    if variant == "edgeconnect":
        return edgeconnect_metrics(target, prediction)
    t, p = _pair(target, prediction, "image_metrics")
    if t.ndim != 3:
        raise ValueError(f"image_metrics expects one image (H, W, C). Received: shape={t.shape}")
    return {"psnr": psnr(t, p), "ssim": ssim(t, p), "l1": l1(t, p)}


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}. Received: variant={variant!r}")


# --------------------------------------------------------------------------------------------
# TensorFlow metrics (for a trainer's test_step)
# --------------------------------------------------------------------------------------------


def tf_psnr(a, b, max_val: float = 1.0):
    """Batch mean of per-image PSNR (``tf.image.psnr``), float32 scalar tensor.

    ``a``, ``b``: ``(N, H, W, C)`` in ``[0, max_val]``. An image identical to its target gives
    ``inf`` (and so does the mean), as in :func:`psnr`; score composites of masks with holes.
    """
    import tensorflow as tf

    a = tf.cast(a, tf.float32)
    b = tf.cast(b, tf.float32)
    return tf.reduce_mean(tf.image.psnr(a, b, max_val=max_val))


def tf_ssim_per_image(a, b, max_val: float = 1.0):
    """Per-image standard SSIM in TensorFlow, float32 ``(N,)``.

    Same definition as :func:`ssim` and ``tf.image.ssim`` (Wang et al. 2004 Eq. 13, 11x11
    Gaussian window with sigma 1.5 normalized over its 11 taps, K1 0.01, K2 0.03, population
    covariance, positions whose window lies inside the image, channel-averaged). Computed with
    two separable 11-tap depthwise convolutions, and with the second moments taken of images
    centred on their own global mean (``var = E[(x-c)^2] - (E[x]-c)^2`` is exact for any ``c``):
    this avoids the float32 cancellation of ``E[x^2] - E[x]^2`` that makes ``tf.image.ssim`` differ
    from the float64 value by up to ~1e-3 per position in flat regions. Agrees with :func:`ssim`
    to ~1e-6. Works inside ``tf.function`` with unknown H, W and C; H and W must be >= 11.
    """
    import tensorflow as tf

    a = tf.convert_to_tensor(a)
    b = tf.convert_to_tensor(b)
    a = tf.cast(a, tf.float32)
    b = tf.cast(b, tf.float32)
    if a.shape.rank is not None and a.shape.rank != 4:
        raise ValueError(f"tf_ssim expects (N, H, W, C) images. Received: shape={a.shape}")
    for dim in a.shape[1:3]:
        if dim is not None and dim < 11:
            raise ValueError(
                f"tf_ssim: image is smaller than the 11x11 window. Received: shape={a.shape}"
            )
    coords = tf.range(11, dtype=tf.float32) - 5.0
    g = tf.exp(-(coords**2) / (2.0 * 1.5**2))
    g = g / tf.reduce_sum(g)
    channels = tf.shape(a)[-1]
    k_h = tf.tile(tf.reshape(g, [11, 1, 1, 1]), tf.stack([1, 1, channels, 1]))
    k_w = tf.tile(tf.reshape(g, [1, 11, 1, 1]), tf.stack([1, 1, channels, 1]))

    def filt(z):
        z = tf.nn.depthwise_conv2d(z, k_h, [1, 1, 1, 1], "VALID")
        return tf.nn.depthwise_conv2d(z, k_w, [1, 1, 1, 1], "VALID")

    ux, uy = filt(a), filt(b)
    ca = tf.reduce_mean(a, axis=[1, 2], keepdims=True)
    cb = tf.reduce_mean(b, axis=[1, 2], keepdims=True)
    ac, bc = a - ca, b - cb
    uxc, uyc = ux - ca, uy - cb
    vx = filt(ac * ac) - uxc * uxc
    vy = filt(bc * bc) - uyc * uyc
    vxy = filt(ac * bc) - uxc * uyc
    c1 = (0.01 * max_val) ** 2
    c2 = (0.03 * max_val) ** 2
    s = ((2.0 * ux * uy + c1) * (2.0 * vxy + c2)) / (
        (ux * ux + uy * uy + c1) * (vx + vy + c2)
    )
    return tf.reduce_mean(tf.reduce_mean(s, axis=[1, 2]), axis=-1)


def tf_ssim(a, b, max_val: float = 1.0):
    """Batch mean of :func:`tf_ssim_per_image` (standard SSIM), float32 scalar tensor."""
    import tensorflow as tf

    return tf.reduce_mean(tf_ssim_per_image(a, b, max_val=max_val))


# --------------------------------------------------------------------------------------------
# Accumulator and result files
# --------------------------------------------------------------------------------------------


class MetricAccumulator:
    """Collects per-image scores and aggregates them overall and per hole-ratio bucket.

    Args:
        variant: ``"standard"`` or ``"edgeconnect"`` (see the module docstring).
        on: ``"composite"`` (default: ``mask * target + (1 - mask) * output`` is scored) or
            ``"raw"`` (the model output itself is scored).
        buckets: ``(lo, hi)`` hole-ratio pairs or a spec such as ``"10-20%,20-30%"``
            (:func:`tfinpaint.data.buckets.parse_buckets`). Defaults to :data:`BUCKETS`.
        meta: free-form description stored in the results (model name, size, ...).

    Examples:
    ```python
    import numpy as np
    from tfinpaint.metrics import MetricAccumulator
    acc = MetricAccumulator()
    target = np.random.rand(2, 32, 32, 3)
    mask = np.ones((2, 32, 32, 1)); mask[:, :8, :16] = 0  # 12.5 % hole
    acc.update(target, np.zeros_like(target), mask)
    assert acc.result()["groups"]["10-20%"]["count"] == 2
    ```
    """

    def __init__(
        self,
        variant: str = "standard",
        on: str = "composite",
        buckets: Sequence[tuple[float, float]] | str = BUCKETS,
        meta: dict | None = None,
    ):
        _check_variant(variant)
        if on not in SCORED_ON:
            raise ValueError(f"on must be one of {SCORED_ON}. Received: on={on!r}")
        self.variant = variant
        self.on = on
        self.buckets = parse_buckets(buckets)
        self.metrics = METRICS[variant]
        self.meta = dict(meta or {})
        self.records: list[dict] = []

    def reset(self) -> None:
        self.records = []

    def add(self, scores: dict, hole_ratio: float, name: str | None = None) -> dict:
        """Adds one image's precomputed ``scores`` (keys :attr:`metrics`) and its hole ratio."""
        missing = [m for m in self.metrics if m not in scores]
        if missing:
            raise ValueError(
                f"scores lack the metrics {missing} of variant {self.variant!r}. "
                f"Received: keys={sorted(scores)}"
            )
        ratio = float(hole_ratio)
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"hole_ratio must lie in [0, 1]. Received: hole_ratio={ratio}")
        record = {
            "name": name if name is not None else f"image_{len(self.records):06d}",
            "hole_ratio": ratio,
            "bucket": bucket_of(ratio, self.buckets) or OTHER,
            **{m: float(scores[m]) for m in self.metrics},
        }
        self.records.append(record)
        return record

    def update(self, target, output, mask, names: Sequence[str] | None = None) -> list[dict]:
        """Scores a batch and records it.

        Args:
            target: ground truth ``(N, H, W, 3)`` (or one ``(H, W, 3)``) in ``[0, 1]``.
            output: model output, same shape, in ``[0, 1]``; composited with ``mask`` when
                ``on == "composite"``.
            mask: ``(N, H, W, 1)``, **1 = known, 0 = hole**, at evaluation resolution; its hole
                fraction decides the bucket.
            names: optional per-image names.

        Returns:
            The per-image records added (name, hole_ratio, bucket and the metrics).
        """
        target = np.asarray(target, dtype=np.float64)
        output = np.asarray(output, dtype=np.float64)
        mask = np.asarray(mask, dtype=np.float64)
        if target.ndim == 3:
            target, output, mask = target[None], output[None], mask[None]
        if target.ndim != 4 or output.shape != target.shape:
            raise ValueError(
                "target and output must be (N, H, W, 3) of equal shape. "
                f"Received: target.shape={target.shape}, output.shape={output.shape}"
            )
        if mask.shape != target.shape[:3] + (1,):
            raise ValueError(
                "mask must be (N, H, W, 1) with 1 = known, matching the target. "
                f"Received: mask.shape={mask.shape}, target.shape={target.shape}"
            )
        if names is not None and len(names) != target.shape[0]:
            raise ValueError(
                f"names must have one entry per image. Received: len(names)={len(names)}, "
                f"batch={target.shape[0]}"
            )
        from tfinpaint.edge import composite

        scored = composite(target, mask, output) if self.on == "composite" else output
        records = []
        for i in range(target.shape[0]):
            scores = image_metrics(target[i], scored[i], self.variant)
            records.append(
                self.add(scores, hole_ratio(mask[i] < 0.5), None if names is None else names[i])
            )
        return records

    def result(self) -> dict:
        """JSON-ready results: variant, scored-on, buckets, meta, groups and per-image rows."""
        groups: dict[str, dict] = {}
        order = [TOTAL] + [bucket_name(b) for b in self.buckets] + [OTHER]
        for group in order:
            rows = [r for r in self.records if group == TOTAL or r["bucket"] == group]
            if not rows and group != TOTAL:
                continue
            groups[group] = aggregate(rows, self.metrics)
        return {
            "variant": self.variant,
            "variant_description": VARIANT_DESCRIPTIONS[self.variant],
            "on": self.on,
            "metrics": list(self.metrics),
            "buckets": [[bucket_name((lo, hi)), lo, hi] for lo, hi in self.buckets],
            "meta": dict(self.meta),
            "groups": groups,
            "images": [dict(r) for r in self.records],
        }

    def to_markdown(self) -> str:
        return results_to_markdown(self.result())

    def write(self, out_dir, stem: str = "metrics") -> dict[str, pathlib.Path]:
        return write_results(self.result(), out_dir, stem=stem)


def aggregate(rows: Sequence[dict], metrics: Sequence[str]) -> dict:
    """Mean of each metric over ``rows``; PSNR over its finite values (see module docstring).

    Returns ``{"count", <metric>: mean, ..., "psnr_infinite": number of inf PSNR values}``;
    metrics are NaN for an empty group.
    """
    out: dict = {"count": len(rows)}
    for m in metrics:
        values = np.array([r[m] for r in rows], dtype=np.float64)
        if m == "psnr":
            finite = values[np.isfinite(values)]
            if finite.size:
                out[m] = float(finite.mean())
            else:
                out[m] = math.inf if values.size else math.nan
            out["psnr_infinite"] = int(values.size - finite.size)
        else:
            out[m] = float(values.mean()) if values.size else math.nan
    return out


def _fmt(metric: str, value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "inf"
    return f"{value:.2f}" if metric == "psnr" else f"{value:.4f}"


def results_to_markdown(results: dict) -> str:
    """Markdown table (one row per group) with a header line naming variant and scored image."""
    metrics = results["metrics"]
    meta = results.get("meta") or {}
    head = ", ".join(f"{k}: {v}" for k, v in meta.items() if k != "images")
    lines = []
    if head:
        lines.append(head)
    lines.append(f"Variant: {results['variant_description']}. Scored on: {results['on']}.")
    lines.append("")
    cols = ["bucket", "images"] + [METRIC_LABELS.get(m, m) for m in metrics]
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(cols) - 1)) + "|")
    notes = []
    for group, agg in results["groups"].items():
        cells = [group, str(agg["count"])] + [_fmt(m, agg[m]) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
        if agg.get("psnr_infinite"):
            notes.append(f"{group}: {agg['psnr_infinite']} image(s) with infinite PSNR excluded")
    if notes:
        lines.append("")
        lines.append("PSNR means exclude identical images (infinite PSNR): " + "; ".join(notes))
    return "\n".join(lines) + "\n"


def _json_safe(value):
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def _json_restore(value):
    if value == "inf":
        return math.inf
    if value == "-inf":
        return -math.inf
    if isinstance(value, dict):
        return {k: _json_restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_restore(v) for v in value]
    return value


def write_results(results: dict, out_dir, stem: str = "metrics") -> dict[str, pathlib.Path]:
    """Writes ``<stem>.md``, ``<stem>.csv`` (one row per group) and ``<stem>.json`` (everything,
    including per-image rows) into ``out_dir`` (created). Returns the paths by extension."""
    out_dir = pathlib.Path(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    paths = {ext: out_dir / f"{stem}.{ext}" for ext in ("md", "csv", "json")}
    paths["md"].write_text(results_to_markdown(results), encoding="utf-8")
    metrics = results["metrics"]
    fields = ["group", "count", *metrics, "psnr_infinite", "variant", "on"]
    with open(paths["csv"], "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for group, agg in results["groups"].items():
            row = {"group": group, "variant": results["variant"], "on": results["on"]}
            row.update({k: agg.get(k, "") for k in ("count", *metrics, "psnr_infinite")})
            for m in metrics:
                row[m] = repr(float(row[m]))  # repr keeps every digit; "inf"/"nan" as such
            writer.writerow(row)
    with open(paths["json"], "w", encoding="utf-8") as f:
        json.dump(_json_safe(results), f, indent=2, allow_nan=False)
        f.write("\n")
    return paths


def load_results(path) -> dict:
    """Reads a ``metrics.json`` written by :func:`write_results` (``"inf"`` back to ``inf``)."""
    with open(path, encoding="utf-8") as f:
        return _json_restore(json.load(f))


def read_results_csv(path) -> dict[str, dict]:
    """Reads a ``metrics.csv`` back into ``{group: {"count": int, metric: float, ...}}``."""
    out = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            group = row.pop("group")
            parsed: dict = {"variant": row.pop("variant"), "on": row.pop("on")}
            for k, v in row.items():
                parsed[k] = int(v) if k in ("count", "psnr_infinite") else float(v)
            out[group] = parsed
    return out
