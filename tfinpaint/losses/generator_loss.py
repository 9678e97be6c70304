"""Recipe-driven generator loss: ``(total, {metric: value})`` from a list of :class:`LossTerm`.

LaMa's ``generator_loss`` returns the total and a dict of named terms; here the terms come from
a recipe (``tfinpaint.training.recipes``): each ``LossTerm(loss, weight, output, on)`` names a
loss from ``LOSS_NAMES``, its weight, which generator output it supervises and whether it is
computed on the raw output, on the composite ``M * y + (1 - M) * out`` or on both (sum, as RFR /
PConv do for perceptual and style).

Pixel terms are computed on ``[0, 1]`` images (``pixel_space="image"``) or, as MADF's official
``loss.py`` does, on ImageNet-normalised tensors ``(x - mean) / std`` (``pixel_space="imagenet"``;
an L1 there is the ``[0, 1]`` L1 weighted by ``1 / std`` per channel, and so is the TV). The
composite is formed in ``[0, 1]`` and normalised after, which equals the official composite of
normalised tensors (the map is affine). Feature terms are unaffected: the extractor applies its
own input normalisation.

VGG features are computed **once per distinct image** (the target, and each supervised output's
raw and composite images) and shared between the perceptual, style and correlation terms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf
from keras import ops

from tfinpaint.edge import composite
from tfinpaint.losses import adversarial, frequency, perceptual, pixel, sobel
from tfinpaint.losses.feature_network import IMAGENET_MEAN, IMAGENET_STD
from tfinpaint.losses.terms import LOSS_NAMES, PIXEL_SPACES, LossTerm

FEATURE_LOSSES = ("perceptual", "style", "correlation")
# Losses that need the feature extractor (the low-frequency perceptual loss uses the
# "perceptual" layer set).
NEEDS_FEATURES = (*FEATURE_LOSSES, "low_frequency_perceptual")


def _pick(feats: Mapping, layers: Sequence[str]):
    return {name: feats[name] for name in layers}


class GeneratorLoss:
    """Weighted sum of recipe loss terms.

    Args:
        terms: sequence of :class:`tfinpaint.losses.terms.LossTerm`.
        feature_extractor: a :class:`tfinpaint.losses.FeatureExtractor` (or any callable
            ``images -> dict[layer, features]`` with a ``layers`` attribute); required when a
            term is ``perceptual``, ``style`` or ``correlation``.
        layer_sets: optional ``{"perceptual"|"style"|"correlation": layer names}`` choosing a
            subset of the extractor's layers per loss (Baik: VGG19 relu1_1..relu5_1 for
            perceptual, relu2_2/relu3_4/relu4_4/relu5_2 for style; Region-wise: pool1..3 for
            style, pool2 for correlation). Defaults: every extractor layer for perceptual and
            style, ``("pool2",)`` for correlation.
        pixel_space: ``"image"`` (default) or ``"imagenet"``: the space of the pixel terms
            (see the module docstring).

    Call arguments:
        target: ground truth ``(N, H, W, 3)`` in ``[0, 1]``.
        mask: ``(N, H, W, 1)`` (or 3 channels), 1 = known.
        outputs: the generator's dict (``"output"``, ``"coarse"``, ...).
        disc_features: ``(real_features, fake_features)`` from the discriminator, needed by a
            ``feature_matching`` term.

    Returns:
        ``(total, values)``: ``total`` is the float32 weighted sum; ``values`` maps each term's
        ``metric_name`` to its **unweighted** float32 value.

    Per-loss behaviour (see each function): ``valid``/``hole`` :func:`pixel.valid_l1` /
    :func:`pixel.hole_l1`; ``hole_border`` :func:`pixel.hole_border_l1` (option ``width``);
    ``tv`` :func:`pixel.total_variation` on the hole region (``tv_dilated`` with
    ``dilated=True``; ``tv_image`` on the whole image, MADF); ``l1`` :func:`pixel.l1`;
    ``perceptual``/``style``/``correlation`` against the target's features; ``low_frequency``
    :func:`frequency.low_frequency_loss`;
    ``high_frequency`` :func:`frequency.high_frequency_loss` weighted by the hole (Baik);
    ``feature_matching`` :func:`adversarial.feature_matching_loss` (ignores ``output``/``on``);
    ``sobel`` :func:`sobel.sobel_edge_loss` (Baik); ``low_frequency_perceptual`` the perceptual
    loss (``layer_sets["perceptual"]``) between the 5x5 box low-passed images (Baik's
    ``LP_Perceptual`` on the coarse output).
    """

    def __init__(
        self,
        terms: Sequence[LossTerm],
        feature_extractor=None,
        layer_sets: Mapping[str, Sequence[str]] | None = None,
        pixel_space: str = "image",
    ):
        if pixel_space not in PIXEL_SPACES:
            raise ValueError(
                f"pixel_space must be one of {PIXEL_SPACES}. Received: pixel_space={pixel_space!r}"
            )
        self.pixel_space = pixel_space
        terms = tuple(terms)
        if not terms:
            raise ValueError("GeneratorLoss needs at least one LossTerm. Received: terms=()")
        names = []
        for term in terms:
            if not isinstance(term, LossTerm):
                raise ValueError(f"Each term must be a LossTerm. Received: {term!r}")
            if term.loss not in LOSS_NAMES:  # LossTerm validates too; kept for duck types
                raise ValueError(f"Unknown loss {term.loss!r}. Received: term={term!r}")
            names.append(term.metric_name)
            if term.loss in NEEDS_FEATURES and feature_extractor is None:
                raise ValueError(
                    f"Loss term {term.metric_name!r} ({term.loss}) needs a feature extractor "
                    f"(VGG); pass feature_extractor=FeatureExtractor(...). Received: "
                    f"feature_extractor=None"
                )
        if len(set(names)) != len(names):
            raise ValueError(f"Loss term metric names must be unique. Received: {names}")
        self.terms = terms
        self.feature_extractor = feature_extractor

        layer_sets = dict(layer_sets or {})
        unknown = sorted(set(layer_sets) - set(FEATURE_LOSSES))
        if unknown:
            raise ValueError(f"layer_sets keys must be among {FEATURE_LOSSES}. Received: {unknown}")
        self.layer_sets: dict[str, tuple[str, ...]] = {}
        if feature_extractor is not None:
            available = tuple(feature_extractor.layers)
            defaults = {"perceptual": available, "style": available, "correlation": ("pool2",)}
            used = {t.loss for t in terms if t.loss in FEATURE_LOSSES}
            if any(t.loss == "low_frequency_perceptual" for t in terms):
                used.add("perceptual")
            for loss in FEATURE_LOSSES:
                chosen = tuple(layer_sets.get(loss, defaults[loss]))
                missing = [name for name in chosen if name not in available]
                if missing and loss in used:
                    raise ValueError(
                        f"The {loss} loss uses layers {missing} that the feature extractor does "
                        f"not produce. Extractor layers: {available}. Received: "
                        f"layer_sets[{loss!r}]={chosen}"
                    )
                self.layer_sets[loss] = chosen

    # ------------------------------------------------------------------------------------------
    # Plain Python control flow over the (static) terms: no AutoGraph conversion needed, which
    # keeps tracing inside a train_step fast.
    @tf.autograph.experimental.do_not_convert
    def __call__(self, target, mask, outputs: Mapping, disc_features=None):
        if not isinstance(outputs, Mapping):
            raise ValueError(
                f"outputs must be the generator's dict of outputs. Received: {type(outputs)}"
            )
        target = ops.cast(target, "float32")
        mask = ops.cast(mask, "float32")
        if len(mask.shape) != 4 or mask.shape[-1] not in (1, target.shape[-1], None):
            raise ValueError(
                f"mask must be (N, H, W, 1) or (N, H, W, C), 1 = known. Received: "
                f"mask.shape={tuple(mask.shape)}, target.shape={tuple(target.shape)}"
            )

        images: dict[tuple[str, str], object] = {}
        feature_cache: dict[tuple[str, str], dict] = {}

        def image(output_key: str, kind: str):
            key = (output_key, kind)
            if key not in images:
                raw = ops.cast(outputs[output_key], "float32")
                images[(output_key, "raw")] = raw
                images[(output_key, "composite")] = composite(target, mask, raw)
            return images[key]

        def features(key: tuple[str, str], low_pass: bool = False):
            cache_key = (*key, low_pass)
            if cache_key not in feature_cache:
                img = target if key == ("__target__", "") else image(*key)
                if low_pass:
                    img = frequency.low_pass(img)
                feature_cache[cache_key] = self.feature_extractor(img)
            return feature_cache[cache_key]

        values: dict[str, object] = {}
        total = ops.zeros((), dtype="float32")
        for term in self.terms:
            if term.loss != "feature_matching" and term.output not in outputs:
                raise ValueError(
                    f"Loss term {term.metric_name!r} supervises output {term.output!r}, which "
                    f"the generator did not return. Available outputs: {sorted(outputs)}"
                )
            if term.loss == "feature_matching":
                if disc_features is None:
                    raise ValueError(
                        f"Loss term {term.metric_name!r} (feature_matching) needs "
                        f"disc_features=(real_features, fake_features). Received: None"
                    )
                real_f, fake_f = disc_features
                value = adversarial.feature_matching_loss(real_f, fake_f)
            else:
                kinds = ("raw", "composite") if term.on == "both" else (term.on,)
                value = None
                for kind in kinds:
                    part = self._term_value(term, target, mask, image, features, kind)
                    value = part if value is None else value + part
            value = ops.cast(value, "float32")
            values[term.metric_name] = value
            total = total + float(term.weight) * value
        return total, values

    def _to_pixel_space(self, x):
        if self.pixel_space == "imagenet":
            mean = ops.convert_to_tensor(IMAGENET_MEAN, dtype="float32")
            std = ops.convert_to_tensor(IMAGENET_STD, dtype="float32")
            return (x - mean) / std
        return x

    def _term_value(self, term, target, mask, image, features, kind):
        x = image(term.output, kind)
        loss = term.loss
        if loss not in FEATURE_LOSSES:
            x, target = self._to_pixel_space(x), self._to_pixel_space(target)
        if loss == "valid":
            return pixel.valid_l1(target, x, mask)
        if loss == "hole":
            return pixel.hole_l1(target, x, mask)
        if loss == "hole_border":
            return pixel.hole_border_l1(target, x, mask, **term.kwargs)
        if loss == "l1":
            return pixel.l1(target, x, **term.kwargs)
        if loss == "tv":
            return pixel.total_variation(x, mask)
        if loss == "tv_dilated":
            return pixel.total_variation(x, mask, dilated=True)
        if loss == "tv_image":
            return pixel.total_variation(x)
        if loss == "low_frequency":
            return frequency.low_frequency_loss(target, x)
        if loss == "high_frequency":
            return frequency.high_frequency_loss(target, x, mask)
        if loss == "sobel":
            return sobel.sobel_edge_loss(target, x)
        if loss == "low_frequency_perceptual":
            layers = self.layer_sets["perceptual"]
            return perceptual.perceptual_loss(
                _pick(features(("__target__", ""), low_pass=True), layers),
                _pick(features((term.output, kind), low_pass=True), layers),
            )
        if loss in FEATURE_LOSSES:
            layers = self.layer_sets[loss]
            f_target = _pick(features(("__target__", "")), layers)
            f_x = _pick(features((term.output, kind)), layers)
            if loss == "perceptual":
                return perceptual.perceptual_loss(f_target, f_x)
            if loss == "style":
                return perceptual.style_loss(f_target, f_x, **term.kwargs)
            return perceptual.correlation_loss(f_target, f_x, **term.kwargs)
        raise ValueError(f"Loss {loss!r} of term {term.metric_name!r} is not implemented.")
