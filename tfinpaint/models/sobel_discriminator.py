"""Baik's SN-PatchGAN discriminator with a Sobel edge branch (``model.py::Discriminator``).

Official code ``jwbaik96/Image-inpainting`` (no license, read for facts only). The input is
``concat(image, hole)`` (4 channels, image in [0, 1], hole = 1 - mask):

- main branch: ``conv1..conv6``, 5x5 stride 2, zero padding 2, channels c, 2c, 4c, 4c, 4c, 8c
  (c = 48), each spectrally normalised with a bias and LeakyReLU(0.2);
- edge branch: per colour channel the squared Sobel magnitude
  (:class:`tfinpaint.layers.sobel.SquaredSobelMagnitude`) plus the hole channel ->
  ``edge1`` (5x5, **stride 4**) c/2 -> ``edge2..edge5`` (stride 2) c, 2c, 4c, 4c;
- ``concat``: both branches concatenated (12c at H/64) -> a 5x5 **stride 1** SN conv 12c -> 12c
  without activation: the logits.

It returns ``{"logits": (N, H/64, W/64, 12c), "features": [conv1, conv2 outputs]}``; the two
features feed the feature-matching loss (official ``FeatureLoss``).

Spectral normalisation is PyTorch's (:class:`tfinpaint.layers.spectral_norm.SpectralNorm`):
stored ``weight_orig``, ``u``, ``v``; one power iteration per training call; in inference the
stored ``u``, ``v`` are used as they are, as torch does in eval mode. Any H, W multiple of 64
(the branches must meet at the same size).
"""

from __future__ import annotations

import keras

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.layers.sobel import SquaredSobelMagnitude
from tfinpaint.layers.spectral_norm import SpectralNorm
from tfinpaint.models.discriminators import _check_positive, _Discriminator, _discriminator_inputs

MAIN = (("conv1", 1), ("conv2", 2), ("conv3", 4), ("conv4", 4), ("conv5", 4), ("conv6", 8))
EDGE = (("edge1", 0.5, 4), ("edge2", 1, 2), ("edge3", 2, 2), ("edge4", 4, 2), ("edge5", 4, 2))
LAYERS = tuple(n for n, _ in MAIN) + tuple(n for n, _, _ in EDGE) + ("concat",)


def _dis_conv(x, filters, stride, name, activation=True):
    """Official ``DisConv``: zero pad 2, 5x5 SN conv with bias, LeakyReLU(0.2)."""
    x = keras.layers.ZeroPadding2D(2, name=f"{name}_pad")(x)
    conv = keras.layers.Conv2D(filters, 5, strides=stride, padding="valid", name=f"{name}_conv")
    x = SpectralNorm(conv, n_power_iterations=1, eps=1e-12, name=name)(x)
    if activation:
        x = keras.layers.LeakyReLU(0.2, name=f"{name}_lrelu")(x)
    return x


@tfinpaint_export("tfinpaint.models.SobelEdgeDiscriminator")
class SobelEdgeDiscriminator(_Discriminator):
    """SN-PatchGAN with a Sobel edge branch (Baik; see the module docstring).

    Args:
        cnum: base channels (official 48, hard-coded there); even. Defaults to `48`.

    Call arguments:
        inputs: ``(image, mask)``: image ``(N, H, W, 3)`` in [0, 1], mask ``(N, H, W, 1)``
            1 = known; H, W multiples of 64.
        training: runs one power iteration per SN conv (and updates ``u``, ``v``).

    Returns:
        ``{"logits": (N, H/64, W/64, 12 cnum), "features": [(N, H/2, W/2, cnum),
        (N, H/4, W/4, 2 cnum)]}``.
    """

    size_multiple = 64

    def __init__(self, cnum=48, **kwargs):
        _check_positive(cnum=cnum)
        if cnum % 2:
            raise ValueError(f"cnum must be even. Received: cnum={cnum!r}")
        inputs, image, mask = _discriminator_inputs(True)
        hole = keras.layers.Rescaling(-1.0, offset=1.0, name="hole_mask")(mask)  # 1 = hole
        x = keras.layers.Concatenate(name="concat_mask")([image, hole])
        edges = SquaredSobelMagnitude(name="sobel")(image)
        edge = keras.layers.Concatenate(name="concat_edge_mask")([edges, hole])
        for name, mult, stride in EDGE:
            edge = _dis_conv(edge, int(mult * cnum), stride, name)
        features = []
        for name, mult in MAIN:
            x = _dis_conv(x, int(mult * cnum), 2, name)
            features.append(x)
        x = keras.layers.Concatenate(name="concat_branches")([x, edge])
        x = _dis_conv(x, 12 * cnum, 1, "concat", activation=False)
        logits = keras.layers.Activation("linear", dtype="float32", name="logits")(x)
        super().__init__(inputs=inputs, outputs={"logits": logits, "features": features[:2]},
                         **kwargs)
        self.cnum = int(cnum)
        self.with_mask = True

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, (tuple, list)) and inputs:
            shape = tuple(getattr(inputs[0], "shape", ()))
            if len(shape) == 4 and any(s is not None and s % 64 for s in shape[1:3]):
                raise ValueError(
                    "SobelEdgeDiscriminator needs H and W multiples of 64 (its stride-4 edge "
                    f"branch and six stride-2 convs meet at H/64). Received: image shape={shape}"
                )
        return super().__call__(inputs, *args, **kwargs)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "cnum": self.cnum}
