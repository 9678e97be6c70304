"""MSA-Net (MANet): Wang, Li, Yuan, Wen, "Multistage Attention Network for Image Inpainting",
Pattern Recognition 106, 2020. Official code: ``wangning-001/MANet`` (MIT), ``net.py::PConvUNet``
(generator), ``Discriminator.py::Discriminator`` (SN PatchGAN), ``model.py::PconvUNetFull``
(losses and training).

Generator = the NVIDIA-style partial-conv U-Net of :mod:`tfinpaint.models.pconv_unet` (shared
graph, :func:`~tfinpaint.models.pconv_unet.pconv_unet_graph`) with MANet's settings and its two
attention stages:

- every partial conv has a bias (``PCBActiv(conv_bias=True)``, ``enc_1`` included);
- ``ca_1`` = ``CA_1 = PixelContextualAttention(256)`` right after ``dec_4`` (H/8) and
  ``ca_2`` = ``CA_2 = PixelContextualAttention(128)`` after ``dec_3`` (H/4)
  (:class:`~tfinpaint.layers.attention.PixelContextualAttention`): pixel-wise attention with
  hole-zeroed, L2-normalised keys, 3x3 score propagation, softmax, reconstruction from the
  normalised keys blended with the known features, then squeeze-and-excitation on
  ``[feature, attention]`` and a 1x1 combiner. Both see the *input* mask, subsampled with
  PyTorch's nearest rule (``mask[:, ::8, ::8]`` / ``::4``), as the official
  ``self.CA_1(h, input_mask[:, 0:1])``.

Input: ``(image, mask)``, image in [0, 1] (no normalisation, as the official code), mask
``(N, H, W, 1)`` 1 = known. The official network is fed ``image * mask`` and a 3-channel copy
of the mask; the partial convs multiply by the mask themselves and every mask channel is the
same, so the unmasked image and the 1-channel mask give the same numbers. Output: the raw
``dec_1`` output (unbounded; the official code composites ``out * (1 - m) + image * m`` and
clips at the inference edge). ``return_intermediates=True`` adds ``ca1``, ``ca2`` (the
attention stages' outputs) and ``ca1_attention``, ``ca2_attention`` (their
``PixelAttention`` outputs, the official ``CA_i.CA_0``).

H and W must be multiples of ``2 ** layer_size`` (256 at the official 8 levels, whose
``enc_8`` is 1x1 at 256x256; train-mode BatchNorm then needs batch >= 2). Non-square inputs
work (the official per-sample attention only names its axes ``w, h`` the other way round).

Note on the official test code: ``test.py`` never calls ``G.eval()``, so official test-time
images use batch-statistics BatchNorm (``training=True`` here).
"""

from __future__ import annotations

import keras

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.layers.attention import PixelContextualAttention
from tfinpaint.models import discriminators
from tfinpaint.models.inputs import validate_generator_inputs
from tfinpaint.models.pconv_unet import MIN_LAYER_SIZE, pconv_unet_graph
from tfinpaint.models.registry import ModelSpec, register_model

# Official placement: decoder level -> layer name (CA_1 after dec_4, CA_2 after dec_3); the
# mask stride of the stage is 2 ** (level - 1).
ATTENTION_STAGES = {4: "ca_1", 3: "ca_2"}


@tfinpaint_export("tfinpaint.models.MSANet")
class MSANet(keras.Model):
    """Multistage attention network (MANet ``PConvUNet``).

    Args:
        layer_size: U-Net levels, >= 4. Defaults to `8` (official).
            ``size_multiple = 2 ** layer_size``.
        return_intermediates: also return ``ca1``, ``ca2``, ``ca1_attention``,
            ``ca2_attention``. Defaults to `False`.

    Call arguments:
        inputs: ``(image, mask)``: image float ``(N, H, W, 3)`` in [0, 1], mask float
            ``(N, H, W, 1)`` exactly 0/1, **1 = known, 0 = hole**.
        training: BatchNorm mode.

    Returns:
        ``{"output": (N, H, W, 3)}`` raw float32, plus the intermediates if requested.

    Example:
    ```python
    model = MSANet(layer_size=4)
    image = np.random.rand(1, 64, 64, 3).astype("float32")
    mask = np.ones((1, 64, 64, 1), "float32"); mask[:, 16:40, 20:44] = 0
    out = model((image, mask))["output"]  # (1, 64, 64, 3)
    ```
    """

    def __init__(self, layer_size=8, return_intermediates=False, **kwargs):
        if isinstance(layer_size, bool) or int(layer_size) != layer_size:
            raise ValueError(f"layer_size must be an int. Received: layer_size={layer_size!r}")
        layer_size = int(layer_size)
        if layer_size < MIN_LAYER_SIZE:
            raise ValueError(
                f"layer_size must be >= {MIN_LAYER_SIZE} (attention after dec_4). "
                f"Received: layer_size={layer_size}"
            )
        # === Functional Model ===
        image_in = keras.Input((None, None, 3), name="image")
        mask_in = keras.Input((None, None, 1), name="mask")
        extra = {}

        def attention(level, x):
            if level not in ATTENTION_STAGES:
                return x
            name = ATTENTION_STAGES[level]
            x, att = PixelContextualAttention(mask_stride=2 ** (level - 1), name=name)(
                [x, mask_in]
            )
            key = name.replace("_", "")
            extra[key] = x
            extra[f"{key}_attention"] = att
            return x

        # PyTorch BatchNorm2d: running_var from the unbiased batch variance.
        x = pconv_unet_graph(image_in, mask_in, layer_size, hidden_bias=True,
                             after_decoder=attention, bn_unbiased_variance=True)
        # The final output is float32 under mixed precision (loss and compositing precision).
        outputs = {"output": keras.layers.Activation("linear", dtype="float32", name="output")(x)}
        if return_intermediates:
            for key in ("ca1", "ca2", "ca1_attention", "ca2_attention"):
                outputs[key] = keras.layers.Activation(
                    "linear", dtype="float32", name=key)(extra[key])
        super().__init__(inputs=(image_in, mask_in), outputs=outputs, **kwargs)

        # === Config ===
        self.layer_size = layer_size
        self.return_intermediates = bool(return_intermediates)
        self.size_multiple = 2**layer_size

    def __call__(self, inputs, *args, **kwargs):
        validate_generator_inputs(
            "MSANet", inputs, self.size_multiple,
            note=f" (2 ** layer_size, layer_size={self.layer_size})",
        )
        return super().__call__(inputs, *args, **kwargs)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "layer_size": self.layer_size,
            "return_intermediates": self.return_intermediates,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def msa_net(layer_size=8, return_intermediates=False) -> MSANet:
    """Registry builder: ``MSANet(layer_size, return_intermediates)``."""
    return MSANet(layer_size=layer_size, return_intermediates=return_intermediates)


def build_msa_discriminator(**config) -> discriminators.PatchGAN:
    """MANet ``Discriminator(3)``: the 5-conv PatchGAN, PyTorch spectral norm, no bias, no
    norm, image only; the official sigmoid is folded into the ``nsgan`` loss (logits)."""
    return discriminators.build_edgeconnect_discriminator(**config)


register_model(
    ModelSpec(
        name="msa_net",
        builder=msa_net,
        config={"layer_size": 8, "return_intermediates": False},
        kind="keras",
        recipe="msa_net",
        discriminator=build_msa_discriminator,
        converter="tfinpaint.convert.msa:convert_checkpoint",
        size_multiple=2**8,
        metadata={
            "paper": "Multistage Attention Network for Image Inpainting (Wang, Li, Yuan, Wen)",
            "venue": "Pattern Recognition 106, 2020",
            "official_repo": "https://github.com/wangning-001/MANet (MIT)",
            "official_class": "net.py::PConvUNet + Discriminator.py::Discriminator",
            "input_range": "[0, 1] RGB, no mean/std normalisation",
            "mask": "1 = known, 0 = hole",
            "output": "raw (unbounded) conv output; clip at the inference edge",
            "training_data": "Paris StreetView, CelebA-HQ, Places2 (no weights published)",
            "train_size": 256,
            "size_multiple": "2 ** layer_size (256 at the official 8 levels)",
            # Small config for the registry-wide export/serving/TFLite tests (fast on 2 CPUs).
            "test_config": {"layer_size": 4},
        },
    )
)
