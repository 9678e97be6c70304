"""RFR-Net: Recurrent Feature Reasoning for Image Inpainting (Li et al., CVPR 2020).

Paper: https://arxiv.org/abs/2008.03737. Official code (MIT): ``jingyuanli001/RFR-Inpainting``,
``modules/RFRNet.py::RFRNet`` (checked at commit e1cad6a). This is a re-implementation that
reproduces the official forward pass number for number (see ``tests/models/rfr_test.py``, which
compares against outputs of the official code in ``shared/fixtures/rfr_net``).

Architecture (H, W multiples of 16; biases off everywhere except the KCA combiner):

- stem: ``pconv1`` (partial conv 3->64, 7x7, stride 2, pad 3) -> ``bn1`` -> ReLU;
  ``pconv2`` (64->64, 7x7, pad 3) -> ``bn20`` -> ReLU. Resolution H/2.
- recurrence (``iter_num`` times, shared weights): ``pconv21``, ``pconv22`` (each grows the
  known region) -> ``bn2`` -> LeakyReLU(0.01) -> ``rfr_module`` (a U-Net with
  knowledge-consistent attention, :class:`RFRModule`) -> ``x * m`` (features outside the
  updated mask are dropped, so holes are filled boundary to centre).
- adaptive feature merge (Eq. 3) of the stem output and every recurrence output
  (:class:`tfinpaint.layers.feature_merge.AdaptiveFeatureMerge`).
- tail: ``tconv`` (ConvTranspose 4/2/1) -> ``bn3`` -> LeakyReLU(0.01); the last mask is
  upsampled x2 (nearest); ``tail1`` partial conv (67->32, 3x3) on ``concat(image*mask, x4)``
  with the per-channel mask ``concat(mask x3, m4 x64)`` -> LeakyReLU(0.01); ``tail2``
  (:class:`Bottleneck` 32->8->32 with residual); ``out`` 3x3 conv on ``concat(x5, x6)``.

Paper vs. official code (the code is followed; the differences are documented here):

- Eq. 3 (feature merge) is written as a ratio of sums; the code uses ``mean / (mean + 1e-7)``.
- Eq. 4-5 (knowledge consistency) use a learnable weight; the code blends with
  ``|ratio| + 1e-7`` and the previous mask at the query pixel (see
  :mod:`tfinpaint.layers.attention`). Keys include hole pixels; the reconstruction uses the
  L2-normalised keys; the scores are propagated over a 3x3 query neighbourhood.
- The paper describes area identification with partial convolutions of unspecified size; the
  code uses two 7x7 partial convs per recurrence (``small_hole=True``: 5x5, the official
  ``RFRNet_Smaller_Hole.py`` variant for small holes, which grows the mask more slowly).
- The paper's final output is an image; the code's ``out`` is a plain 3x3 convolution with no
  activation, so the prediction is unbounded (trained toward [0, 1] targets).
- ``F.leaky_relu`` after ``bn2``, ``bn3`` and ``tail1`` uses PyTorch's default slope 0.01; the
  RFRModule decoders use ``LeakyReLU(0.2)``.
- The official model loops over the batch inside the attention and keeps the attention state
  on the module (reset at each forward); here the attention is batched and its state passed
  explicitly between recurrences.

Output contract: ``model((image, mask))`` with ``image`` float ``[0, 1]`` ``(N, H, W, 3)`` and
``mask`` float ``(N, H, W, 1)``, **1 = known, 0 = hole**. The network sees ``image * mask``
(the official ``in_image``), so hole pixels never matter. It returns a dict:

- ``"output"``: the raw prediction ``(N, H, W, 3)`` float32 in [0, 1] *space* but **not
  clipped** (the official output is unbounded and the official losses are computed on it, so
  training keeps it raw for parity and gradients). Values are clipped to [0, 1] at the
  inference edge (``tfinpaint.inference.Inpainter`` and the exports composite and clip).
- with ``return_intermediates=True`` also ``"stem"`` (x1, ``(N, H/2, W/2, 64)``),
  ``"iter_features"`` (``(N, iter_num, H/2, W/2, 64)``, recurrence outputs ``x_k * m_k``),
  ``"iter_masks"`` (``(N, iter_num, H/2, W/2, 1)``, the mask after each recurrence) and
  ``"merged"`` (the merged features, ``(N, H/2, W/2, 64)``).

Layer names are fixed and mirror the official ``state_dict`` names (``pconv1`` <-> ``Pconv1``,
``rfr_module/enc_1_conv`` <-> ``RFRModule.enc_1.0``, ...); the converter
(:mod:`tfinpaint.convert.rfr`) keys on them.
"""

from __future__ import annotations

import keras
from keras import ops

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.layers.attention import AttentionModule
from tfinpaint.layers.batch_norm import BatchNorm
from tfinpaint.layers.feature_merge import AdaptiveFeatureMerge
from tfinpaint.layers.partial_conv import PartialConv2D
from tfinpaint.layers.resize import upsample_nearest
from tfinpaint.layers.torch_init import torch_kernel_initializer
from tfinpaint.layers.transpose_conv import PhaseConv2DTranspose
from tfinpaint.models.inputs import validate_generator_inputs
from tfinpaint.models.registry import ModelSpec, register_model

SIZE_MULTIPLE = 16  # Pconv1 (stride 2) + three stride-2 encoders with skip connections
FEATURES = 64
LEAKY_SLOPE = 0.01  # F.leaky_relu default (after bn2, bn3, tail1)
DECODER_SLOPE = 0.2  # nn.LeakyReLU(0.2) in the RFRModule decoders


def _pad(x, p):
    # PyTorch Conv2d(padding=p) pads symmetrically; TF 'same' at stride 2 pads less before
    # than after (DESIGN section 8), so pad explicitly and convolve 'valid'.
    return ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]])


@tfinpaint_export("tfinpaint.models.rfr.Bottleneck")
class Bottleneck(keras.layers.Layer):
    """ResNet bottleneck of the RFR-Net tail (official ``Bottleneck(inplanes, planes)``).

    ``relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + x)`` with 1x1 ``inplanes ->
    planes``, 3x3 ``planes -> planes`` (pad 1), 1x1 ``planes -> 4 * planes``; no biases. The
    residual needs ``inplanes == 4 * planes`` (official ``Bottleneck(32, 8)``).

    Args:
        planes: bottleneck width. Defaults to `8`.
    """

    expansion = 4

    def __init__(self, planes=8, **kwargs):
        super().__init__(**kwargs)
        if isinstance(planes, bool) or int(planes) != planes or planes < 1:
            raise ValueError(f"planes must be a positive int. Received: planes={planes!r}")
        self.planes = int(planes)
        init = torch_kernel_initializer()
        dt = self.dtype_policy
        p = self.planes
        self.conv1 = keras.layers.Conv2D(p, 1, use_bias=False, kernel_initializer=init,
                                         dtype=dt, name="conv1")
        self.bn1 = BatchNorm(dtype=dt, name="bn1")
        self.conv2 = keras.layers.Conv2D(p, 3, padding="same", use_bias=False,
                                         kernel_initializer=init, dtype=dt, name="conv2")
        self.bn2 = BatchNorm(dtype=dt, name="bn2")
        self.conv3 = keras.layers.Conv2D(p * self.expansion, 1, use_bias=False,
                                         kernel_initializer=init, dtype=dt, name="conv3")
        self.bn3 = BatchNorm(dtype=dt, name="bn3")

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels != self.planes * self.expansion:
            raise ValueError(
                f"Bottleneck({self.planes}) needs {self.planes * self.expansion} input channels "
                f"for its residual. Received: input_shape={tuple(input_shape)}"
            )
        s = tuple(input_shape[:3])
        self.conv1.build((*s, channels))
        self.bn1.build((*s, self.planes))
        self.conv2.build((*s, self.planes))
        self.bn2.build((*s, self.planes))
        self.conv3.build((*s, self.planes))
        self.bn3.build((*s, channels))

    def call(self, x, training=None):
        out = ops.relu(self.bn1(self.conv1(x), training=training))
        out = ops.relu(self.bn2(self.conv2(out), training=training))
        out = self.bn3(self.conv3(out), training=training)
        return ops.relu(out + x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "planes": self.planes}


@tfinpaint_export("tfinpaint.models.rfr.RFRModule")
class RFRModule(keras.layers.Layer):
    """The feature-reasoning U-Net of RFR-Net (official ``RFRModule(layer_size=6,
    in_channel=64)``), with knowledge-consistent attention after ``dec_3``.

    Encoder: ``enc_1..3`` 3x3 stride-2 convs (pad 1, symmetric) 64->128->256->512, ``enc_4..6``
    3x3 dilation-2 convs 512->512, each BN + ReLU. Decoder (``h = concat(h, h_i)`` first):
    ``dec_5``, ``dec_4`` 3x3 dilation-2 convs 1024->512; ``dec_3`` ConvTranspose 4/2/1
    1024->512 followed by the attention (``att``, mask subsampled from H/2 to H/8);
    ``dec_2`` ConvTranspose 768->256; ``dec_1`` ConvTranspose 384->64; each BN +
    LeakyReLU(0.2). There is no skip from the module input. No biases.

    Call arguments:
        inputs: ``[x, mask]`` (first recurrence) or ``[x, mask, prev_scores, prev_mask]``:
            ``x`` ``(N, h, w, 64)``, ``mask`` ``(N, h, w, 1)`` (1 = known) at the same
            resolution, the state as returned by the previous call.
        training: BatchNorm mode.

    Returns:
        ``(features, scores, att_mask)``: ``(N, h, w, 64)`` and the attention state for the
        next recurrence (see :class:`tfinpaint.layers.attention.AttentionModule`).
    """

    def __init__(self, in_channels=FEATURES, **kwargs):
        super().__init__(**kwargs)
        if int(in_channels) != in_channels or in_channels < 1:
            raise ValueError(f"in_channels must be a positive int. Received: {in_channels!r}")
        self.in_channels = int(in_channels)
        init = torch_kernel_initializer()
        dt = self.dtype_policy
        c = self.in_channels
        # Every sublayer is a direct attribute: Keras 3 puts layers held in a list or dict in
        # its own tracking wrappers, which tf.train.Checkpoint (the trainer's resume path) does
        # not see, so their weights would silently not be restored.
        self.enc_channels = (c * 2, c * 4, c * 8, c * 8, c * 8, c * 8)
        for i, out_ch in enumerate(self.enc_channels, start=1):
            if i <= 3:
                conv = keras.layers.Conv2D(out_ch, 3, strides=2, padding="valid", use_bias=False,
                                           kernel_initializer=init, dtype=dt,
                                           name=f"enc_{i}_conv")
            else:  # stride 1, dilation 2, pad 2: 'same' is symmetric here
                conv = keras.layers.Conv2D(out_ch, 3, padding="same", dilation_rate=2,
                                           use_bias=False, kernel_initializer=init, dtype=dt,
                                           name=f"enc_{i}_conv")
            setattr(self, f"enc_{i}_conv", conv)
            setattr(self, f"enc_{i}_bn", BatchNorm(dtype=dt, name=f"enc_{i}_bn"))
        top = c * 8
        # Decoder levels in call order i = 5, 4, 3, 2, 1.
        self.dec_levels = (5, 4, 3, 2, 1)
        self.dec_channels = (top, top, top, c * 4, c)
        for i, out_ch in zip(self.dec_levels, self.dec_channels):
            if i >= 4:
                conv = keras.layers.Conv2D(out_ch, 3, padding="same", dilation_rate=2,
                                           use_bias=False, kernel_initializer=init, dtype=dt,
                                           name=f"dec_{i}_conv")
            else:  # PyTorch ConvTranspose2d(4, 2, 1) == Conv2DTranspose(4, 2, 'same')
                conv = PhaseConv2DTranspose(out_ch, 4, strides=2, padding="same",
                                            use_bias=False, kernel_initializer=init,
                                            dtype=dt, name=f"dec_{i}_conv")
            setattr(self, f"dec_{i}_conv", conv)
            setattr(self, f"dec_{i}_bn", BatchNorm(dtype=dt, name=f"dec_{i}_bn"))
        # The attention runs at H/8 of the image (after dec_3), the mask comes at H/2.
        self.att = AttentionModule(propagate_size=3, mask_stride=4, dtype=dt, name="att")

    def _enc(self):
        return [(getattr(self, f"enc_{i}_conv"), getattr(self, f"enc_{i}_bn"))
                for i in range(1, len(self.enc_channels) + 1)]

    def _dec(self):
        return [(i, getattr(self, f"dec_{i}_conv"), getattr(self, f"dec_{i}_bn"))
                for i in self.dec_levels]

    def build(self, input_shape):
        shapes = list(input_shape)
        x_shape = tuple(shapes[0])
        if x_shape[-1] != self.in_channels:
            raise ValueError(
                f"RFRModule expects {self.in_channels} input channels. Received: "
                f"x.shape={x_shape}"
            )
        n = x_shape[0]
        any_hw = (n, None, None)
        ch = self.in_channels
        skips = [ch]
        for (conv, bn), out_ch in zip(self._enc(), self.enc_channels):
            conv.build((*any_hw, ch))
            bn.build((*any_hw, out_ch))
            ch = out_ch
            skips.append(out_ch)
        for (i, conv, bn), out_ch in zip(self._dec(), self.dec_channels):
            conv.build((*any_hw, ch + skips[i]))
            bn.build((*any_hw, out_ch))
            ch = out_ch
            if i == 3:
                att_shapes = [(*any_hw, ch), (*any_hw, 1)]
                if len(shapes) == 4:
                    att_shapes += [(n, None, None, None), (*any_hw, 1)]
                self.att.build(att_shapes)

    def call(self, inputs, training=None):
        inputs = list(inputs)
        if len(inputs) not in (2, 4):
            raise ValueError(
                "RFRModule takes [x, mask] or [x, mask, prev_scores, prev_mask]. Received: "
                f"{len(inputs)} inputs"
            )
        x, mask = inputs[0], inputs[1]
        state = inputs[2:]
        h = x
        skips = [x]
        for i, (conv, bn) in enumerate(self._enc(), start=1):
            if i <= 3:
                h = _pad(h, 1)
            h = ops.relu(bn(conv(h), training=training))
            skips.append(h)
        scores = att_mask = None
        for i, conv, bn in self._dec():
            h = ops.concatenate([h, skips[i]], axis=-1)
            h = bn(conv(h), training=training)
            h = ops.leaky_relu(h, negative_slope=DECODER_SLOPE)
            if i == 3:
                h, scores, att_mask = self.att([h, mask, *state])
        return h, scores, att_mask

    def compute_output_spec(self, inputs, training=None):
        x = list(inputs)[0]
        n, h, w, _ = x.shape
        hs = h // 4 if h is not None else None
        ws = w // 4 if w is not None else None
        k = hs * ws if hs is not None and ws is not None else None
        return (
            keras.KerasTensor((n, h, w, self.in_channels), dtype=self.compute_dtype),
            keras.KerasTensor((n, hs, ws, k), dtype="float32"),
            keras.KerasTensor((n, hs, ws, 1), dtype="float32"),
        )

    def get_config(self):
        return {**super().get_config(), "in_channels": self.in_channels}


@tfinpaint_export("tfinpaint.models.RFRNet")
class RFRNet(keras.Model):
    """RFR-Net generator (Li et al., CVPR 2020), a faithful port of the official ``RFRNet``.

    See the module docstring for the architecture, the paper-vs-code differences and the output
    contract.

    Args:
        iter_num: number of recurrences (official: 6, hard-coded). Defaults to `6`.
        small_hole: use 5x5 (pad 2) kernels for ``pconv2``, ``pconv21``, ``pconv22``, as the
            official ``RFRNet_Smaller_Hole.py`` ("speed-up for small holes"). Defaults to
            `False`.
        return_intermediates: also return ``"stem"``, ``"iter_features"``, ``"iter_masks"`` and
            ``"merged"`` (for parity checks and analysis). Defaults to `False`.

    Call arguments:
        inputs: ``(image, mask)``; ``image`` float ``(N, H, W, 3)`` in [0, 1], ``mask`` float
            ``(N, H, W, 1)`` with **1 = known, 0 = hole** (exactly 0/1); H and W multiples of 16.
        training: BatchNorm mode (batch statistics when True, unless frozen for fine-tuning).

    Returns:
        dict with ``"output"`` (raw, unclipped, float32 ``(N, H, W, 3)``) and, optionally, the
        intermediates.

    Example:
    ```python
    model = RFRNet(iter_num=2)
    image = np.random.rand(1, 64, 64, 3).astype("float32")
    mask = np.ones((1, 64, 64, 1), "float32"); mask[:, 16:40, 16:40] = 0
    out = model((image, mask))["output"]  # (1, 64, 64, 3), raw
    ```
    """

    size_multiple = SIZE_MULTIPLE

    def __init__(self, iter_num=6, small_hole=False, return_intermediates=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(iter_num, bool) or int(iter_num) != iter_num or iter_num < 1:
            raise ValueError(f"iter_num must be an int >= 1. Received: iter_num={iter_num!r}")
        self.iter_num = int(iter_num)
        self.small_hole = bool(small_hole)
        self.return_intermediates = bool(return_intermediates)

        # === Layers ===
        init = torch_kernel_initializer()
        dt = self.dtype_policy
        k, p = (5, 2) if self.small_hole else (7, 3)

        def pconv(filters, kernel, pad, name, strides=1):
            return PartialConv2D(filters, kernel, strides=strides, padding=pad, use_bias=False,
                                 kernel_initializer=init, dtype=dt, name=name)

        self.pconv1 = pconv(FEATURES, 7, 3, "pconv1", strides=2)
        self.bn1 = BatchNorm(dtype=dt, name="bn1")
        self.pconv2 = pconv(FEATURES, k, p, "pconv2")
        self.bn20 = BatchNorm(dtype=dt, name="bn20")
        self.pconv21 = pconv(FEATURES, k, p, "pconv21")
        self.pconv22 = pconv(FEATURES, k, p, "pconv22")
        self.bn2 = BatchNorm(dtype=dt, name="bn2")  # shared by every recurrence
        self.rfr_module = RFRModule(FEATURES, dtype=dt, name="rfr_module")
        self.feature_merge = AdaptiveFeatureMerge(dtype=dt, name="feature_merge")
        self.tconv = PhaseConv2DTranspose(
            FEATURES, 4, strides=2, padding="same", use_bias=False, kernel_initializer=init,
            dtype=dt, name="tconv",
        )
        self.bn3 = BatchNorm(dtype=dt, name="bn3")
        self.tail1 = pconv(32, 3, 1, "tail1")
        self.tail2 = Bottleneck(8, dtype=dt, name="tail2")
        self.out_conv = keras.layers.Conv2D(
            3, 3, padding="same", use_bias=False, kernel_initializer=init, dtype=dt, name="out"
        )

    # === Build ===
    def build(self, input_shape=None):
        n = None
        if input_shape is not None:
            try:
                n = tuple(input_shape[0])[0]
            except (TypeError, IndexError):
                n = None
        hw = (n, None, None)
        c = FEATURES
        self.pconv1.build(((*hw, 3), (*hw, 1)))
        self.bn1.build((*hw, c))
        self.pconv2.build(((*hw, c), (*hw, 1)))
        self.bn20.build((*hw, c))
        self.pconv21.build(((*hw, c), (*hw, 1)))
        self.pconv22.build(((*hw, c), (*hw, 1)))
        self.bn2.build((*hw, c))
        self.rfr_module.build([(*hw, c), (*hw, 1), (n, None, None, None), (*hw, 1)])
        self.tconv.build((*hw, c))
        self.bn3.build((*hw, c))
        self.tail1.build(((*hw, 3 + c), (*hw, 3 + c)))
        self.tail2.build((*hw, 32))
        self.out_conv.build((*hw, 64))
        self.built = True

    # === Forward ===
    def call(self, inputs, training=None):
        image, mask = validate_generator_inputs("RFRNet", inputs, SIZE_MULTIPLE)
        mask = ops.cast(mask, "float32")
        image = ops.cast(image, self.compute_dtype)
        in_image = image * ops.cast(mask, self.compute_dtype)  # official in_image = gt * mask

        # Stem (H/2).
        x1, m1 = self.pconv1([in_image, mask])
        x1 = ops.relu(self.bn1(x1, training=training))
        x1, m1 = self.pconv2([x1, m1])
        x1 = ops.relu(self.bn20(x1, training=training))

        # Recurrent feature reasoning; the attention state is passed explicitly.
        features, masks = [x1], [m1]
        x2, m2 = x1, m1
        state = []
        for _ in range(self.iter_num):
            x2, m2 = self.pconv21([x2, m2])
            x2, m2 = self.pconv22([x2, m2])
            x2 = ops.leaky_relu(self.bn2(x2, training=training), negative_slope=LEAKY_SLOPE)
            x2, scores, att_mask = self.rfr_module([x2, m2, *state], training=training)
            state = [scores, att_mask]
            x2 = x2 * ops.cast(m2, x2.dtype)
            features.append(x2)
            masks.append(m2)

        # Adaptive feature merge (Eq. 3); the final mask is the last recurrence's.
        x3 = self.feature_merge([features, masks])
        m3 = masks[-1]

        # Tail (full resolution).
        x4 = self.tconv(x3)
        x4 = ops.leaky_relu(self.bn3(x4, training=training), negative_slope=LEAKY_SLOPE)
        m4 = upsample_nearest(m3, 2)  # F.interpolate(x2, nearest)
        x5 = ops.concatenate([in_image, ops.cast(x4, in_image.dtype)], axis=-1)
        # Per-channel mask as the official cat([mask (3 ch), m4 (64 ch)]).
        # Repeated by a broadcast MUL with ones (XNNPACK runs it; TILE is a builtin fallback).
        m5 = ops.concatenate(
            [mask * ops.ones((3,), mask.dtype), m4 * ops.ones((FEATURES,), m4.dtype)], axis=-1
        )
        x5, _ = self.tail1([x5, m5])
        x5 = ops.leaky_relu(x5, negative_slope=LEAKY_SLOPE)
        x6 = self.tail2(x5, training=training)
        output = self.out_conv(ops.concatenate([x5, x6], axis=-1))

        result = {"output": ops.cast(output, "float32")}
        if self.return_intermediates:
            result["stem"] = ops.cast(x1, "float32")
            result["iter_features"] = ops.stack(
                [ops.cast(f, "float32") for f in features[1:]], axis=1
            )
            result["iter_masks"] = ops.stack(masks[1:], axis=1)
            result["merged"] = ops.cast(x3, "float32")
        return result

    def compute_output_spec(self, inputs, training=None):
        image = inputs[0]
        n, h, w, _ = image.shape
        h2 = h // 2 if h is not None else None
        w2 = w // 2 if w is not None else None
        spec = {"output": keras.KerasTensor((n, h, w, 3), dtype="float32")}
        if self.return_intermediates:
            spec["stem"] = keras.KerasTensor((n, h2, w2, FEATURES), dtype="float32")
            spec["iter_features"] = keras.KerasTensor(
                (n, self.iter_num, h2, w2, FEATURES), dtype="float32"
            )
            spec["iter_masks"] = keras.KerasTensor((n, self.iter_num, h2, w2, 1), dtype="float32")
            spec["merged"] = keras.KerasTensor((n, h2, w2, FEATURES), dtype="float32")
        return spec

    # === Config ===
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "iter_num": self.iter_num,
            "small_hole": self.small_hole,
            "return_intermediates": self.return_intermediates,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_rfr_net(iter_num=6, small_hole=False, return_intermediates=False):
    """Registry builder: an (unbuilt) :class:`RFRNet` with the given options."""
    return RFRNet(
        iter_num=iter_num, small_hole=small_hole, return_intermediates=return_intermediates,
        name="rfr_net",
    )


register_model(
    ModelSpec(
        name="rfr_net",
        builder=build_rfr_net,
        config={"iter_num": 6, "small_hole": False, "return_intermediates": False},
        kind="keras",
        recipe="rfr_net",
        discriminator=None,
        converter="tfinpaint.convert.rfr:convert_checkpoint",
        size_multiple=SIZE_MULTIPLE,
        metadata={
            "paper": "Recurrent Feature Reasoning for Image Inpainting (Li, Wang, Zhang, Tao)",
            "venue": "CVPR 2020",
            "arxiv": "https://arxiv.org/abs/2008.03737",
            "official_repo": "https://github.com/jingyuanli001/RFR-Inpainting (MIT)",
            "official_class": "modules/RFRNet.py::RFRNet",
            "input_range": "[0, 1] RGB, no mean/std normalisation",
            "mask": "1 = known, 0 = hole",
            "output": "raw (unbounded) conv output; clip at the inference edge",
            "training_data": "Paris StreetView, CelebA, Places2 (official weights: Paris, CelebA)",
            "train_size": 256,
            "size_multiple": SIZE_MULTIPLE,
            # Small config for the registry-wide export/serving/TFLite tests (fast on 2 CPUs).
            "test_config": {"iter_num": 2},
        },
    )
)
