"""Recurrent-convolution coarse-to-refine inpainting (Baik, "Image Inpainting", Stanford report).

Official code: ``jwbaik96/Image-inpainting`` (no license: read for facts only),
``model.py::WrappingModule`` (``RecurrentModule``, ``ResModule``, ``AttentionModule``) and
``model_ops.py``. This re-implementation reproduces the official forward pass number for number
(``tests/models/recurrent_test.py`` against ``shared/fixtures/baik``).

Network (``cnum`` = 48; ``hole = 1 - mask``):

- coarse pass: ``main(concat(image * mask + hole, hole), bottleneck=coarse)`` (holes white);
- refine pass: ``main(concat(image * mask + coarse * hole, hole), bottleneck=refine)`` with the
  **same** encoder-decoder weights; every recurrent convolution adds the state convolution of
  its own coarse-pass output (:class:`tfinpaint.layers.recurrent_conv.RecurrentConv2D`).
- encoder: ``encoder_layer1`` 4 -> c (5x5), ``2`` c -> 2c (stride 2), ``3`` 2c -> 2c,
  ``4`` 2c -> 4c (stride 2, IN), ``5``, ``6`` 4c -> 4c (IN); reflection padding, ELU.
- bottleneck at H/4: coarse = 8 :class:`ResnetBlock` (dilation 2); refine =
  ``concat(8 ResnetBlocks(x), ContextualAttention(x, mask), 4 DMFBlocks(x))`` (12c) ->
  3x3 conv 8c, IN, ELU -> 3x3 conv 4c, IN, ELU.
- decoder: ``decoder_layer1``, ``2`` 4c -> 4c (IN); ``3`` nearest x2 + 4c -> 2c (IN);
  concat ``encoder_layer3`` output -> ``4`` 4c -> 2c; ``5`` nearest x2 + 2c -> c; concat
  ``encoder_layer1`` output and ``mask`` (the official ``1 - hole``) -> ``6`` 2c+1 -> c;
  ``7`` c -> c/2; ``8`` c/2 -> 3 (no activation); output ``(tanh + 1) / 2``.

Paper/code vs. port (the code is followed):

- The official state buffers live on the modules, are sized from the first call (batch) and
  from H only (square inputs), and are reset by ``zero_buffer()`` after each step. Here the 14
  states are passed explicitly from the coarse pass to the refine pass inside one call: any
  batch size, any H, W multiple of 8 (two stride-2 encoders and the attention's half-resolution
  patches), nothing kept between calls.
- Contextual attention uses the first sample's mask for the whole batch in the official code;
  here each sample uses its own (``attention_mask_mode="per_sample"``); ``"first"`` reproduces
  the official behaviour (parity tests).
- Mask polarity: the official mask is 1 = hole; the library's is 1 = known, converted here.

Output contract: ``model((image, mask))``, ``image`` float ``(N, H, W, 3)`` in [0, 1], ``mask``
``(N, H, W, 1)`` with **1 = known, 0 = hole**; returns ``{"output": refine, "coarse": coarse}``,
both float32 in [0, 1] (not composited), plus with ``return_intermediates=True``
``"coarse_bottleneck"`` (coarse ResModule output), ``"state_dec8"`` (the pre-tanh coarse-pass
``decoder_layer8`` output, its recurrent state) and ``"refine_attention"`` (the attention
output of the refine pass).

Layer names mirror the official ``state_dict`` (``encoder_layer1/conv`` <->
``main_module.encoder_layer1.conv``); the converter (:mod:`tfinpaint.convert.recurrent`) keys on
them.
"""

from __future__ import annotations

import keras
from keras import ops

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.layers.contextual_attention import ContextualAttention
from tfinpaint.layers.dense_fusion import DenseMultiScaleFusion
from tfinpaint.layers.recurrent_conv import RecurrentConv2D, instance_norm, symmetric_pad
from tfinpaint.models.inputs import validate_generator_inputs
from tfinpaint.models.registry import ModelSpec, register_model

SIZE_MULTIPLE = 8
NUM_RES_BLOCKS = 8
NUM_DMF_BLOCKS = 4
ENCODER = (  # (name, out channels / cnum, kernel, stride, instance norm)
    ("encoder_layer1", 1, 5, 1, False),
    ("encoder_layer2", 2, 3, 2, False),
    ("encoder_layer3", 2, 3, 1, False),
    ("encoder_layer4", 4, 3, 2, True),
    ("encoder_layer5", 4, 3, 1, True),
    ("encoder_layer6", 4, 3, 1, True),
)
DECODER = (  # (name, out channels / cnum, upsample, instance norm, activation)
    ("decoder_layer1", 4, 1, True, "elu"),
    ("decoder_layer2", 4, 1, True, "elu"),
    ("decoder_layer3", 2, 2, True, "elu"),
    ("decoder_layer4", 2, 1, False, "elu"),
    ("decoder_layer5", 1, 2, False, "elu"),
    ("decoder_layer6", 1, 1, False, "elu"),
    ("decoder_layer7", 0.5, 1, False, "elu"),
    ("decoder_layer8", None, 1, False, None),
)
RECURRENT_LAYERS = tuple(e[0] for e in ENCODER) + tuple(d[0] for d in DECODER)


@tfinpaint_export("tfinpaint.models.recurrent.ResnetBlock")
class ResnetBlock(keras.layers.Layer):
    """``x + IN(conv_2(reflectpad1(relu(IN(conv_1(reflectpad_d(x)))))))`` (official
    ``model_ops.py::ResnetBlock(dim, dilation)``; 3x3 convs with bias, ``conv_1`` dilated).

    Args:
        dilation: dilation (and reflection padding) of the first conv. Defaults to `2`.
    """

    def __init__(self, dilation=2, **kwargs):
        super().__init__(**kwargs)
        if isinstance(dilation, bool) or int(dilation) != dilation or dilation < 1:
            raise ValueError(f"dilation must be a positive int. Received: dilation={dilation!r}")
        self.dilation = int(dilation)

    def build(self, input_shape):
        channels = input_shape[-1]
        dt = self.dtype_policy
        self.conv_1 = keras.layers.Conv2D(channels, 3, dilation_rate=self.dilation, dtype=dt,
                                          name="conv_1")
        self.conv_2 = keras.layers.Conv2D(channels, 3, dtype=dt, name="conv_2")
        self.conv_1.build((input_shape[0], None, None, channels))
        self.conv_2.build((input_shape[0], None, None, channels))

    def call(self, x):
        h = ops.relu(instance_norm(self.conv_1(symmetric_pad(x, self.dilation))))
        h = instance_norm(self.conv_2(symmetric_pad(h, 1)))
        return x + h

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "dilation": self.dilation}


@tfinpaint_export("tfinpaint.models.RecurrentRefineNet")
class RecurrentRefineNet(keras.Model):
    """Baik's recurrent-convolution coarse-to-refine generator (see the module docstring).

    Args:
        cnum: base channel count (official 48); even. Defaults to `48`.
        attention_mask_mode: ``"per_sample"`` or ``"first"`` (official: the first sample's
            mask for the whole batch). Defaults to `"per_sample"`.
        return_intermediates: also return ``"coarse_bottleneck"``, ``"state_dec8"`` and
            ``"refine_attention"``. Defaults to `False`.

    Call arguments:
        inputs: ``(image, mask)``; image ``(N, H, W, 3)`` in [0, 1], mask ``(N, H, W, 1)``,
            1 = known; H, W multiples of 8.

    Returns:
        dict with ``"output"`` (refine) and ``"coarse"``, float32 in [0, 1].

    Example:
    ```python
    model = RecurrentRefineNet(cnum=8)
    image = np.random.rand(1, 64, 96, 3).astype("float32")
    mask = np.ones((1, 64, 96, 1), "float32"); mask[:, 16:40, 24:60] = 0
    out = model((image, mask))  # {"output", "coarse"}: (1, 64, 96, 3)
    ```
    """

    size_multiple = SIZE_MULTIPLE

    def __init__(self, cnum=48, attention_mask_mode="per_sample", return_intermediates=False,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(cnum, bool) or int(cnum) != cnum or cnum < 2 or cnum % 2:
            raise ValueError(f"cnum must be an even int >= 2. Received: cnum={cnum!r}")
        self.cnum = int(cnum)
        self.attention_mask_mode = attention_mask_mode
        self.return_intermediates = bool(return_intermediates)
        c = self.cnum
        dt = self.dtype_policy

        # === Layers ===
        # Shared encoder-decoder (official RecurrentModule); every sublayer is an attribute so
        # tf.train.Checkpoint (the trainer's resume path) sees it.
        for name, mult, kernel, stride, norm in ENCODER:
            setattr(self, name, RecurrentConv2D(int(mult * c), kernel, strides=stride,
                                                normalization=norm, dtype=dt, name=name))
        for name, mult, up, norm, act in DECODER:
            filters = 3 if mult is None else int(mult * c)
            setattr(self, name, RecurrentConv2D(filters, 3, normalization=norm, activation=act,
                                                upsample=up, dtype=dt, name=name))
        # Bottlenecks (official coarse_module = ResModule, refine_module = AttentionModule).
        for i in range(NUM_RES_BLOCKS):
            setattr(self, f"coarse_res_{i}", ResnetBlock(2, dtype=dt, name=f"coarse_res_{i}"))
            setattr(self, f"refine_res_{i}", ResnetBlock(2, dtype=dt, name=f"refine_res_{i}"))
        for i in range(NUM_DMF_BLOCKS):
            setattr(self, f"dmfb_{i}", DenseMultiScaleFusion(dtype=dt, name=f"dmfb_{i}"))
        self.attention = ContextualAttention(
            softmax_scale=10.0, mask_stride=8, mask_mode=attention_mask_mode, dtype=dt,
            name="attention",
        )
        self.refine_concat_1 = keras.layers.Conv2D(8 * c, 3, padding="same", dtype=dt,
                                                   name="refine_concat_1")
        self.refine_concat_2 = keras.layers.Conv2D(4 * c, 3, padding="same", dtype=dt,
                                                   name="refine_concat_2")

    # === Build ===
    def build(self, input_shape=None):
        c = self.cnum
        hw = (None, None, None)
        ins = {"encoder_layer1": 4, "encoder_layer2": c, "encoder_layer3": 2 * c,
               "encoder_layer4": 2 * c, "encoder_layer5": 4 * c, "encoder_layer6": 4 * c,
               "decoder_layer1": 4 * c, "decoder_layer2": 4 * c, "decoder_layer3": 4 * c,
               "decoder_layer4": 4 * c, "decoder_layer5": 2 * c, "decoder_layer6": 2 * c + 1,
               "decoder_layer7": c, "decoder_layer8": c // 2}
        for name in RECURRENT_LAYERS:
            getattr(self, name).build((*hw, ins[name]))
        for i in range(NUM_RES_BLOCKS):
            getattr(self, f"coarse_res_{i}").build((*hw, 4 * c))
            getattr(self, f"refine_res_{i}").build((*hw, 4 * c))
        for i in range(NUM_DMF_BLOCKS):
            getattr(self, f"dmfb_{i}").build((*hw, 4 * c))
        self.attention.build([(*hw, 4 * c), (*hw, 1)])
        self.refine_concat_1.build((*hw, 12 * c))
        self.refine_concat_2.build((*hw, 8 * c))
        self.built = True

    # === Forward ===
    def _coarse_bottleneck(self, x, mask):
        for i in range(NUM_RES_BLOCKS):
            x = getattr(self, f"coarse_res_{i}")(x)
        return x, None

    def _refine_bottleneck(self, x, mask):
        res = x
        for i in range(NUM_RES_BLOCKS):
            res = getattr(self, f"refine_res_{i}")(res)
        att = self.attention([x, mask])
        dmf = x
        for i in range(NUM_DMF_BLOCKS):
            dmf = getattr(self, f"dmfb_{i}")(dmf)
        h = ops.concatenate([res, att, dmf], axis=-1)
        h = ops.elu(instance_norm(self.refine_concat_1(h)))
        h = ops.elu(instance_norm(self.refine_concat_2(h)))
        return h, att

    def _main(self, x, mask, bottleneck, states):
        """One pass of the shared encoder-decoder (official ``RecurrentModule.forward``).
        Returns ``(image, new_states, bottleneck_output, attention_output)``."""
        new = {}

        def rc(name, h):
            prev = states.get(name)
            out = getattr(self, name)([h] if prev is None else [h, prev])
            new[name] = out
            return out

        transfer_1 = rc("encoder_layer1", x)
        h = rc("encoder_layer2", transfer_1)
        transfer_2 = rc("encoder_layer3", h)
        h = rc("encoder_layer4", transfer_2)
        h = rc("encoder_layer5", h)
        h = rc("encoder_layer6", h)
        h, att = bottleneck(h, mask)
        bottleneck_out = h
        h = rc("decoder_layer1", h)
        h = rc("decoder_layer2", h)
        h = rc("decoder_layer3", h)
        h = rc("decoder_layer4", ops.concatenate([h, transfer_2], axis=-1))
        h = rc("decoder_layer5", h)
        h = ops.concatenate([h, transfer_1, ops.cast(mask, h.dtype)], axis=-1)
        h = rc("decoder_layer6", h)
        h = rc("decoder_layer7", h)
        h = rc("decoder_layer8", h)
        image = (ops.tanh(ops.cast(h, "float32")) + 1.0) / 2.0
        return image, new, bottleneck_out, att

    def call(self, inputs, training=None):
        image, mask = validate_generator_inputs(
            "RecurrentRefineNet", inputs, SIZE_MULTIPLE,
            note=" (two stride-2 encoders and the attention's half-resolution patches)",
        )
        mask = ops.cast(mask, "float32")
        image = ops.cast(image, "float32")
        hole = 1.0 - mask
        dt = self.compute_dtype
        known = image * mask
        x = ops.cast(ops.concatenate([known + hole, hole], axis=-1), dt)
        coarse, states, coarse_bottleneck, _ = self._main(x, mask, self._coarse_bottleneck, {})
        x = ops.cast(ops.concatenate([known + coarse * hole, hole], axis=-1), dt)
        refine, _, _, att = self._main(x, mask, self._refine_bottleneck, states)
        result = {"output": refine, "coarse": coarse}
        if self.return_intermediates:
            result["coarse_bottleneck"] = ops.cast(coarse_bottleneck, "float32")
            result["state_dec8"] = ops.cast(states["decoder_layer8"], "float32")
            result["refine_attention"] = ops.cast(att, "float32")
        return result

    def compute_output_spec(self, inputs, training=None):
        n, h, w, _ = inputs[0].shape
        spec = {"output": keras.KerasTensor((n, h, w, 3), dtype="float32"),
                "coarse": keras.KerasTensor((n, h, w, 3), dtype="float32")}
        if self.return_intermediates:
            h4 = h // 4 if h is not None else None
            w4 = w // 4 if w is not None else None
            c4 = 4 * self.cnum
            spec["coarse_bottleneck"] = keras.KerasTensor((n, h4, w4, c4), dtype="float32")
            spec["state_dec8"] = keras.KerasTensor((n, h, w, 3), dtype="float32")
            spec["refine_attention"] = keras.KerasTensor((n, h4, w4, c4), dtype="float32")
        return spec

    # === Config ===
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "cnum": self.cnum,
            "attention_mask_mode": self.attention_mask_mode,
            "return_intermediates": self.return_intermediates,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_recurrent_refine(cnum=48, attention_mask_mode="per_sample",
                           return_intermediates=False):
    """Registry builder: an (unbuilt) :class:`RecurrentRefineNet`."""
    return RecurrentRefineNet(cnum=cnum, attention_mask_mode=attention_mask_mode,
                              return_intermediates=return_intermediates,
                              name="recurrent_refine")


def build_recurrent_refine_discriminator(cnum=48):
    """Registry discriminator builder: Baik's SN-PatchGAN with the Sobel edge branch.

    ``cnum`` is the generator's (``discriminator_config=("cnum",)``): the official
    ``Discriminator`` hard-codes 48, the width ``inpaint.yml`` gives the generator, so the two
    are equal in the official code and a narrowed generator (``--config cnum=8``) gets an
    equally narrowed discriminator instead of the full 48-channel one.
    """
    from tfinpaint.models.sobel_discriminator import SobelEdgeDiscriminator

    return SobelEdgeDiscriminator(cnum=cnum)


register_model(
    ModelSpec(
        name="recurrent_refine",
        builder=build_recurrent_refine,
        config={"cnum": 48, "attention_mask_mode": "per_sample", "return_intermediates": False},
        kind="keras",
        recipe="recurrent_refine",
        discriminator=build_recurrent_refine_discriminator,
        discriminator_config=("cnum",),
        converter="tfinpaint.convert.recurrent:convert_checkpoint",
        size_multiple=SIZE_MULTIPLE,
        metadata={
            "paper": "Image Inpainting (J. Baik), recurrent-convolution coarse-to-refine network",
            "venue": "Stanford course report",
            "official_repo": "https://github.com/jwbaik96/Image-inpainting (no license)",
            "official_class": "model.py::WrappingModule, model.py::Discriminator",
            "input_range": "[0, 1] RGB; holes filled white inside the model",
            "mask": "1 = known, 0 = hole (official: 1 = hole, converted inside)",
            "output": "(tanh + 1) / 2 in [0, 1]; outputs 'output' (refine) and 'coarse'",
            "training_data": "CelebA-HQ, Places365 (official weights for both)",
            "train_size": 256,
            "size_multiple": SIZE_MULTIPLE,
            "test_config": {"cnum": 8},
        },
    )
)
