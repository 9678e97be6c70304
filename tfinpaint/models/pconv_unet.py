"""PConv U-Net: Liu et al., "Image Inpainting for Irregular Holes Using Partial Convolutions",
ECCV 2018 (https://arxiv.org/abs/1804.07723). Official layer: NVIDIA/partialconv
(``PartialConv2d``); the paper's network was not released, so the layout follows the paper
(Section 3.3 and the architecture table of its supplementary material) and the public ports
(MANet ``net.py::PConvUNet``, naoto0804/pytorch-inpainting-with-partial-conv, PConv-Keras).

Architecture (``layer_size = L``; the paper uses L = 8 on 512 x 512 inputs, PConv1..PConv8):

- Encoder ``enc_1 .. enc_L``: partial convs with stride 2 and PyTorch-style symmetric padding
  ``(k - 1) // 2`` (DESIGN section 8), kernels 7, 5, 5, 3, 3, ... and channels 64, 128, 256,
  512, 512, ...; BatchNorm (``enc_i_bn``) on every level but the first; ReLU.
- Decoder ``dec_L .. dec_1``: nearest x2 upsampling of the features *and* of the mask
  (``dec_i_up``, ``dec_i_mask_up``), concatenation with the encoder skip of the level above
  (``dec_1`` concatenates the input image and mask instead), a 3 x 3 partial conv, BatchNorm
  (``dec_i_bn``) and LeakyReLU(0.2), except ``dec_1``: 3 channels, bias, no BN, no activation.
- Masks are per channel, as NVIDIA's ``multi_channel=True`` and naoto0804's port: the
  concatenation ``[up(h), skip]`` gets the mask ``[up(m) tiled to C_up, m_skip tiled to C_skip]``
  (layer ``dec_i_mask_concat``), so the renormalization ``Cin*k*k / sum(M)`` counts valid
  taps per channel group (Eq. 1).

Bias: the hidden partial convs have no bias (they are followed by BatchNorm, naoto0804's
``conv_bias=False``; ``enc_1`` has none either); ``dec_1`` has one. ``hidden_bias=True``
gives every layer a bias (MANet's ``PCBActiv`` uses ``bias=True``), for checkpoints that have one.

Input and output: the image enters in [0, 1] as is (MANet, PConv-Keras; naoto0804 normalizes
with ImageNet mean/std outside the network). ``output_activation="none"`` (default, as the
paper and NVIDIA/naoto0804/MANet code) returns the last partial conv **raw**: trained against
[0, 1] targets it lands in [0, 1] approximately but is not bounded; callers clip after
compositing (``Inpainter`` converts to uint8 with a clip). ``"sigmoid"`` (PConv-Keras' final
activation) or ``"clip"`` bound it to [0, 1].

Size: H and W must be multiples of ``size_multiple = 2 ** layer_size`` (256 for the paper's 8
levels): each level halves the size and the decoder concatenates with the skip of the same size.
The check runs whenever H and W are statically known (eager calls, fixed-size export); with
dynamic H, W (a ``[None, None]`` signature) the caller pads (``tfinpaint.inference`` does).
"""

from __future__ import annotations

import keras
from keras import ops

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.layers.batch_norm import BatchNorm
from tfinpaint.layers.partial_conv import PartialConv2D
from tfinpaint.layers.resize import NearestUpsample
from tfinpaint.models.inputs import validate_generator_inputs
from tfinpaint.models.registry import ModelSpec, register_model

# (kernel, channels) of the first encoder levels; every further level is (3, 512) (paper,
# supplementary architecture table: PConv1 7x7/64, PConv2 5x5/128, PConv3 5x5/256,
# PConv4..8 3x3/512).
_ENCODER_HEAD = ((7, 64), (5, 128), (5, 256), (3, 512))
OUTPUT_ACTIVATIONS = ("none", "sigmoid", "clip")
MIN_LAYER_SIZE = 4


def encoder_levels(layer_size: int, base_channels: int = 64) -> list[tuple[int, int]]:
    """``[(kernel, channels)]`` for ``enc_1 .. enc_L``; channels scale with
    ``base_channels / 64`` (64 = the paper's widths)."""
    levels = [_ENCODER_HEAD[i] if i < len(_ENCODER_HEAD) else (3, 512) for i in range(layer_size)]
    return [(k, c * base_channels // 64) for k, c in levels]


@tfinpaint_export("tfinpaint.layers.MaskConcat")
class MaskConcat(keras.layers.Layer):
    """Concatenates 1-channel masks, each repeated to the channel count of its feature group.

    NVIDIA ``multi_channel=True`` partial convs keep one mask channel per feature channel; the
    mask of ``concat([a, b])`` is ``concat([m_a] * C_a + [m_b] * C_b)``. Output float32.

    Args:
        channels: tuple of ints, channel count of each group.
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = tuple(int(c) for c in channels)
        if not self.channels or min(self.channels) < 1:
            raise ValueError(f"channels must be positive ints. Received: channels={channels}")

    def call(self, masks):
        if len(masks) != len(self.channels):
            raise ValueError(
                f"Expected {len(self.channels)} masks. Received: {len(masks)} masks"
            )
        # Repeated by a broadcast multiplication with ones (MUL, which XNNPACK runs) rather
        # than ops.repeat (TILE, a builtin fallback that split TFLite's delegated graph at
        # every decoder level); the values are the same 0/1.
        parts = [
            ops.cast(m, "float32") * ops.ones((c,), "float32") if c > 1
            else ops.cast(m, "float32")
            for m, c in zip(masks, self.channels)
        ]
        return ops.concatenate(parts, axis=-1)

    def compute_output_spec(self, masks):
        shape = masks[0].shape
        return keras.KerasTensor((*shape[:-1], sum(self.channels)), dtype="float32")

    def get_config(self):
        return {**super().get_config(), "channels": list(self.channels)}


def pconv_unet_graph(image_in, mask_in, layer_size, hidden_bias=False, freeze_encoder_bn=False,
                     after_decoder=None, base_channels=64, bn_unbiased_variance=False):
    """The functional U-Net of :class:`PConvUNet` (and MANet's :class:`MSANet`).

    Args:
        image_in, mask_in: the symbolic ``(N, H, W, 3)`` image and ``(N, H, W, 1)`` mask.
        layer_size, hidden_bias, freeze_encoder_bn, base_channels: see :class:`PConvUNet`.
        after_decoder: optional ``fn(level, x) -> x`` applied to the output of ``dec_level``
            (after its BatchNorm and activation), e.g. MANet's attention after ``dec_4`` and
            ``dec_3``; the mask path is unchanged.
        bn_unbiased_variance: BatchNorm moving variance updated with the unbiased batch
            variance, as PyTorch's ``BatchNorm2d`` (``BatchNorm(unbiased_variance=True)``).

    Returns:
        The raw ``dec_1`` output ``(N, H, W, 3)``.
    """
    levels = encoder_levels(layer_size, base_channels)
    feats = [image_in]  # h_0 = input image, h_i = output of enc_i
    masks = [mask_in]
    channels = [3]
    x, m = image_in, mask_in
    for i, (k, c) in enumerate(levels, start=1):
        # PyTorch Conv2d(k, stride 2, padding (k-1)//2): symmetric padding (DESIGN 8).
        x, m = PartialConv2D(
            c, k, strides=2, padding=(k - 1) // 2, use_bias=bool(hidden_bias),
            name=f"enc_{i}",
        )([x, m])
        if i > 1:  # no BatchNorm after the first layer (paper Section 3.3)
            x = BatchNorm(frozen_stats=bool(freeze_encoder_bn),
                          unbiased_variance=bn_unbiased_variance, name=f"enc_{i}_bn")(x)
        x = keras.layers.ReLU(name=f"enc_{i}_relu")(x)
        feats.append(x)
        masks.append(m)
        channels.append(c)

    for i in range(layer_size, 0, -1):
        out_c = 3 if i == 1 else levels[i - 2][1]
        x = NearestUpsample(2, name=f"dec_{i}_up")(x)
        m = NearestUpsample(2, name=f"dec_{i}_mask_up")(m)
        up_c = channels[i] if i == layer_size else levels[i - 1][1]
        x = keras.layers.Concatenate(axis=-1, name=f"dec_{i}_concat")([x, feats[i - 1]])
        m = MaskConcat((up_c, channels[i - 1]), name=f"dec_{i}_mask_concat")(
            [m, masks[i - 1]]
        )
        x, m = PartialConv2D(
            out_c, 3, strides=1, padding=1, use_bias=bool(hidden_bias) or i == 1,
            name=f"dec_{i}",
        )([x, m])
        if i > 1:
            x = BatchNorm(name=f"dec_{i}_bn")(x)
            x = keras.layers.LeakyReLU(negative_slope=0.2, name=f"dec_{i}_lrelu")(x)
        if after_decoder is not None:
            x = after_decoder(i, x)
    return x

@tfinpaint_export("tfinpaint.models.PConvUNet")
class PConvUNet(keras.Model):
    """Partial-convolution U-Net (Liu et al., ECCV 2018).

    Args:
        layer_size: int >= 4, number of encoder (and decoder) levels. Defaults to `8` (paper,
            512 x 512 training crops). ``size_multiple = 2 ** layer_size``. naoto0804's port
            uses 7 for 256 x 256 crops.
        output_activation: ``"none"`` (raw, paper/official), ``"sigmoid"`` (PConv-Keras) or
            ``"clip"`` (to [0, 1]). Defaults to `"none"`.
        hidden_bias: bool, bias in the hidden partial convs (MANet). Defaults to `False`.
        freeze_encoder_bn: bool, encoder BatchNorm layers normalize with (and keep) their moving
            statistics, the paper's fine-tuning stage (Section 4.1). Defaults to `False`.
        base_channels: int, channels of ``enc_1``; every level's width is the paper's times
            ``base_channels / 64`` (a compact network, e.g. 32: a quarter of the multiply-adds
            and parameters). Defaults to `64` (the paper's 64, 128, 256, 512, ...).

    Call arguments:
        inputs: ``(image, mask)``: image float ``(N, H, W, 3)`` in [0, 1], mask float
            ``(N, H, W, 1)`` exactly 0/1, **1 = known, 0 = hole**.
        training: BatchNorm mode.

    Returns:
        ``{"output": (N, H, W, 3)}`` (see ``output_activation`` for its range).

    Example:
    ```python
    model = PConvUNet(layer_size=4)
    image = np.random.rand(1, 64, 64, 3).astype("float32")
    mask = np.ones((1, 64, 64, 1), "float32"); mask[:, 16:40, 20:44] = 0
    out = model((image, mask))["output"]  # (1, 64, 64, 3)
    ```
    """

    def __init__(
        self,
        layer_size=8,
        output_activation="none",
        hidden_bias=False,
        freeze_encoder_bn=False,
        base_channels=64,
        **kwargs,
    ):
        if isinstance(layer_size, bool) or int(layer_size) != layer_size:
            raise ValueError(f"layer_size must be an int. Received: layer_size={layer_size!r}")
        layer_size = int(layer_size)
        if layer_size < MIN_LAYER_SIZE:
            raise ValueError(
                f"layer_size must be >= {MIN_LAYER_SIZE}. Received: layer_size={layer_size}"
            )
        if (isinstance(base_channels, bool) or int(base_channels) != base_channels
                or base_channels < 8 or base_channels % 8):
            raise ValueError(
                "base_channels must be a positive multiple of 8. "
                f"Received: base_channels={base_channels!r}"
            )
        base_channels = int(base_channels)
        if output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"output_activation must be one of {OUTPUT_ACTIVATIONS}. "
                f"Received: output_activation={output_activation!r}"
            )

        # === Functional Model ===
        image_in = keras.Input((None, None, 3), name="image")
        mask_in = keras.Input((None, None, 1), name="mask")

        x = pconv_unet_graph(image_in, mask_in, layer_size, hidden_bias, freeze_encoder_bn,
                             base_channels=base_channels)

        if output_activation == "sigmoid":
            x = keras.layers.Activation("sigmoid", name="output_sigmoid")(x)
        elif output_activation == "clip":
            x = keras.layers.ReLU(max_value=1.0, name="output_clip")(x)
        # The final output is float32 under mixed precision (loss and compositing precision).
        x = keras.layers.Activation("linear", dtype="float32", name="output")(x)

        super().__init__(
            inputs=(image_in, mask_in), outputs={"output": x}, **kwargs
        )

        # === Config ===
        self.layer_size = layer_size
        self.output_activation = output_activation
        self.hidden_bias = bool(hidden_bias)
        self.freeze_encoder_bn = bool(freeze_encoder_bn)
        self.base_channels = base_channels
        self.size_multiple = 2**layer_size

    # Validation happens before Keras' own input checks, so errors name the problem.
    def __call__(self, inputs, *args, **kwargs):
        self._validate_inputs(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def _validate_inputs(self, inputs):
        validate_generator_inputs(
            "PConvUNet", inputs, self.size_multiple,
            note=f" (2 ** layer_size, layer_size={self.layer_size})",
        )

    def get_config(self):
        # Constructor arguments only (KerasHub Backbone style); the graph is rebuilt from them.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "layer_size": self.layer_size,
            "output_activation": self.output_activation,
            "hidden_bias": self.hidden_bias,
            "freeze_encoder_bn": self.freeze_encoder_bn,
            "base_channels": self.base_channels,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_pconv_unet(**config) -> PConvUNet:
    """Registry builder: ``PConvUNet(**config)``."""
    return PConvUNet(**config)


def _build_discriminator(**kwargs):  # the paper trains without a discriminator
    raise ValueError("pconv_unet is trained without a discriminator (Liu et al. 2018).")


register_model(
    ModelSpec(
        name="pconv_unet",
        builder=build_pconv_unet,
        config={
            "layer_size": 8,
            "output_activation": "none",
            "hidden_bias": False,
            "freeze_encoder_bn": False,
            "base_channels": 64,
        },
        recipe="pconv_unet",
        discriminator=None,
        converter=None,
        size_multiple=2**8,
        metadata={
            "paper": "Image Inpainting for Irregular Holes Using Partial Convolutions",
            "authors": "Liu, Reda, Shih, Wang, Tao, Catanzaro",
            "venue": "ECCV 2018",
            "arxiv": "https://arxiv.org/abs/1804.07723",
            "official_repo": "https://github.com/NVIDIA/partialconv",
            "official_note": "NVIDIA released the PartialConv2d layer, not the inpainting "
            "network; the layout follows the paper and public ports.",
            "input_range": "[0, 1]",
            "output_range": "raw (approximately [0, 1]; unbounded) with "
            "output_activation='none'",
            "mask": "1 = known, 0 = hole",
            "size_multiple": "2 ** layer_size (256 at the default 8 levels)",
            "training_data": "ImageNet, Places2, CelebA-HQ at 512 x 512 (paper Section 4)",
            "params": "about 32.9 M at layer_size=8",
            # Small config for the registry-wide export/serving/TFLite tests (fast on 2 CPUs).
            "test_config": {"layer_size": 4},
        },
    )
)
