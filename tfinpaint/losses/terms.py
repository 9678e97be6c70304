"""Loss-term vocabulary: the names :class:`tfinpaint.losses.GeneratorLoss` computes and the
:class:`LossTerm` record that a recipe lists.

It lives in ``losses/`` (the lower floor) so that recipes (``tfinpaint.training.recipes``, which
re-exports both names) import losses, never the reverse.
"""

from __future__ import annotations

import dataclasses

# Loss names understood by ``tfinpaint.losses`` (see ``tfinpaint.losses.generator_loss``).
LOSS_NAMES = (
    "valid",  # mean(|y - out| * M) over all elements
    "hole",  # mean(|y - out| * (1 - M)) over all elements
    "hole_border",  # the same on the hole pixels within `width` px of a known pixel (seams)
    "tv",  # total variation on the hole region
    "tv_image",  # total variation of the whole image (MADF loss.py::total_variation_loss)
    "tv_dilated",  # total variation on the 1-px dilated hole region (PConv paper)
    "perceptual",  # L1 between VGG features (layer set from the recipe)
    "style",  # L1 between Gram matrices / (C*H*W)
    "correlation",  # non-local correlation loss (HW x HW Gram at pool2)
    "low_frequency",  # L1 after a 5x5 box low-pass
    "high_frequency",  # L1 after a 3x3 sharpening high-pass
    "l1",  # plain mean L1
    "feature_matching",  # L1 between discriminator features of real and fake
    "sobel",  # Baik: L1 between batch-normalised Scharr-like edge maps, summed over channels
    "low_frequency_perceptual",  # perceptual loss between the 5x5 box low-passed images
)
# Keyword options a term may pass to its loss function (``LossTerm.options``).
LOSS_OPTIONS = {
    "hole_border": ("width",),  # band width in pixels (default 3)
    "l1": ("reduction",),  # "mean" | "sum" (Region-wise rec_loss: reduce_sum)
    "style": ("reduction",),  # "mean" | "sum" (Region-wise loss_style: reduce_sum)
    "correlation": ("reduction", "chunk_size"),  # + rows per block (None = dense)
}
ON_CHOICES = ("raw", "composite", "both")
# Space in which pixel losses are computed: [0, 1] images, or ImageNet-normalized (MADF).
PIXEL_SPACES = ("image", "imagenet")


@dataclasses.dataclass(frozen=True)
class LossTerm:
    """One weighted generator loss term.

    Args:
        loss: a name from ``LOSS_NAMES``.
        weight: multiplier in the total loss.
        output: which generator output it supervises (``"output"``, ``"coarse"``, ...).
        on: ``"raw"`` (the network output), ``"composite"`` (known pixels pasted back) or
            ``"both"`` (sum of the two, as RFR/PConv do for perceptual and style).
        name: metric name; defaults to ``loss`` (or ``f"{loss}_{output}"`` for non-final outputs).
        options: keyword arguments of the loss function, as a dict or ``(key, value)`` pairs
            (stored as sorted pairs); allowed keys per loss in ``LOSS_OPTIONS``, e.g.
            ``{"reduction": "sum", "chunk_size": 1024}`` for ``correlation``.
    """

    loss: str
    weight: float
    output: str = "output"
    on: str = "raw"
    name: str | None = None
    options: tuple = ()

    def __post_init__(self):
        if self.loss not in LOSS_NAMES:
            raise ValueError(f"Unknown loss; known: {LOSS_NAMES}. Received: loss={self.loss!r}")
        if self.on not in ON_CHOICES:
            raise ValueError(f"on must be one of {ON_CHOICES}. Received: on={self.on!r}")
        options = dict(self.options)
        unknown = sorted(set(options) - set(LOSS_OPTIONS.get(self.loss, ())))
        if unknown:
            raise ValueError(
                f"Loss {self.loss!r} takes the options {LOSS_OPTIONS.get(self.loss, ())}. "
                f"Received: options={options}"
            )
        object.__setattr__(self, "options", tuple(sorted(options.items())))

    @property
    def kwargs(self) -> dict:
        """The options as keyword arguments of the loss function."""
        return dict(self.options)

    @property
    def metric_name(self) -> str:
        if self.name:
            return self.name
        return self.loss if self.output == "output" else f"{self.loss}_{self.output}"
