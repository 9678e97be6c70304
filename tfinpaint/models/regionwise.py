"""Region-wise coarse-to-fine inpainting (Ma, Liu, Bai, Wang, He, Liu, "Coarse-to-Fine Image
Inpainting via Region-wise Convolutions and Non-Local Correlation", IJCAI 2019).

Paper: https://www.ijcai.org/proceedings/2019/0433.pdf. Public code (MIT):
``vickyFox/Region-wise-Inpainting`` (TF1), which is the *journal* extension ("Region-wise
Generative Adversarial Image Inpainting for Large Missing Areas", arXiv 1909.12507: the same
generator plus a region-wise discriminator). This module builds the IJCAI generator (two stages,
no discriminator); where the paper leaves a choice open the code's ``inpaint_model.py``
(``SINet``, ``GPNet``, ``RW_generator``) and ``inpaint_ops.py`` (``standard_conv``,
``standard_dconv``) are followed. No official checkpoint is converted (the TF1 checkpoints are
on Google Drive, out of reach here), so there is no number-for-number fixture; the layers and
losses are checked against the authors' own functions instead
(``benchmarks/regionwise_official_check.py``).

Architecture (``c = cnum``, every convolution ``standard_conv``: reflect padding by
``rate * (k - 1) / 2``, VALID convolution, bias, ELU, **including the last one**):

- input: the image in [-1, 1] (``/127.5 - 1`` in the code, ``2 x - 1`` here), masked
  (``x * M``), concatenated with the mask: 4 channels.
- stage 1 (coarse, the code's ``SINet``, layer prefix ``stage1_``): ``conv1`` 5x5 c;
  ``conv2_downsample`` 3x3 s2 2c; ``conv3`` 2c; ``conv4_downsample`` s2 4c; ``conv5``,
  ``conv6`` 4c; dilated trunk ``conv7_atrous`` .. with rates ``dilation_rates`` (2, 4, 8, 16);
  ``conv11`` on ``cat(x10, x6)``, ``conv12`` on ``cat(x11, x5)``; then the decoder of
  **region-wise** layers (:class:`tfinpaint.layers.RegionConv2D`): ``com_13`` upsampling,
  known branch ``cat(x12, x4)``, missing branch ``x12``; ``com_14`` known ``cat(x13, x3)``,
  missing ``x13``; ``com_15`` upsampling, known ``cat(x14, x2)``, missing ``x14`` (4c each, the
  code's ``shape[-1]`` of the missing branch); ``conv16`` c, ``conv17`` c/2, ``conv18`` 3;
  ``clip(-1, 1)``.
- stage 2 (refinement, the code's ``GPNet``, prefix ``stage2_``) on ``x M + stage_1 (1 - M)``
  (and the mask): the same encoder and trunk, then a plain U-Net decoder: ``conv13_upsample``
  (nearest x2, 3x3) 2c on ``cat(x12, x4)``, ``conv14`` 2c on ``cat(x13, x3)``,
  ``conv15_upsample`` c on ``cat(x14, x2)``, ``conv16`` c/2 on ``cat(x15, x1)``, ``conv17``
  3; ``clip(-1, 1)``.

Choices the paper leaves open, with their source:

- channel widths, kernel sizes, dilation rates, the skip connections and which decoder layers
  are region-wise: the code (``SINet``/``GPNet``); the paper's figure shows an encoder,
  dilated convolutions and a region-wise decoder in stage 1 and an encoder-decoder in stage 2.
- how Eq. 1 is realised: the code's input-side form (one conv over the two masked branches,
  one bias; ``region_combine="input"``); the literal per-pixel selection with two biases is
  ``region_combine="output"`` (see :mod:`tfinpaint.layers.region_conv`).
- mask resizing to a feature size: TF1 ``resize_nearest_neighbor(align_corners=True)`` (code).
- padding: reflect + VALID (code, ``standard_conv``); activation ELU everywhere, then
  ``clip_by_value(-1, 1)`` on each stage's output (code); upsampling: nearest x2 then a 3x3
  conv (code, ``standard_dconv``); initialisers: TF1 ``tf.layers.conv2d`` defaults (glorot
  uniform, zero bias).
- no normalisation layers (code); no discriminator (paper: the region-wise discriminator is the
  journal's addition, trained in the code only with ``--stage 1``).

Size: H and W multiples of ``size_multiple = 4`` (two stride-2 convolutions; reflect padding
keeps ``H / 4`` exact), and ``H / 4`` larger than the largest dilation rate, because a reflect
pad must be smaller than the padded size: ``min_size = 4 * (max(dilation_rates) + 1)`` (68 px
for the official rates; the code trains at 256). ``Inpainter`` pads to both.

Output contract: ``model((image, mask))``, image float ``(N, H, W, 3)`` in [0, 1], mask
``(N, H, W, 1)`` **1 = known, 0 = hole**; returns ``{"stage_1": coarse, "output": refined}``,
both float32 in [0, 1] (``(y + 1) / 2`` of the clipped [-1, 1] outputs), before compositing.
"""

from __future__ import annotations

import keras
from keras import ops

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.layers.padding import reflect_pad
from tfinpaint.layers.region_conv import COMBINE_CHOICES, RegionConv2D
from tfinpaint.layers.resize import upsample_nearest
from tfinpaint.models.inputs import validate_generator_inputs
from tfinpaint.models.registry import ModelSpec, register_model

SIZE_MULTIPLE = 4
OFFICIAL_DILATION_RATES = (2, 4, 8, 16)


@tfinpaint_export("tfinpaint.models.regionwise.ReflectConv2D")
class ReflectConv2D(keras.layers.Layer):
    """The code's ``standard_conv`` / ``standard_dconv``: (nearest x2), reflect pad, VALID
    conv with bias, ELU.

    Args:
        filters: output channels.
        kernel_size: odd int. Defaults to `3`.
        strides: int. Defaults to `1`.
        dilation_rate: int. Defaults to `1`.
        upsample: nearest x2 before the convolution (``standard_dconv``). Defaults to `False`.
        activation: Defaults to `"elu"`.
    """

    def __init__(self, filters, kernel_size=3, strides=1, dilation_rate=1, upsample=False,
                 activation="elu", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        if self.filters < 1 or self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(
                f"filters must be >= 1 and kernel_size odd. Received: filters={filters}, "
                f"kernel_size={kernel_size}"
            )
        self.strides = int(strides)
        self.dilation_rate = int(dilation_rate)
        self.upsample = bool(upsample)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        k = self.kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(k, k, input_shape[-1], self.filters),
                                      initializer="glorot_uniform", dtype=self.dtype)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros",
                                    dtype=self.dtype)

    def call(self, x):
        if self.upsample:
            x = upsample_nearest(x, 2)
        p = self.dilation_rate * (self.kernel_size - 1) // 2
        x = reflect_pad(x, p)
        y = ops.conv(x, ops.cast(self.kernel, x.dtype), strides=self.strides, padding="valid",
                     dilation_rate=self.dilation_rate)
        return self.activation(y + ops.cast(self.bias, y.dtype))

    def compute_output_shape(self, input_shape):
        n, h, w, _ = tuple(input_shape)

        def size(v):
            if v is None:
                return None
            return 2 * v if self.upsample else (v - 1) // self.strides + 1

        return (n, size(h), size(w), self.filters)

    def get_config(self):
        return {
            **super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
            "strides": self.strides, "dilation_rate": self.dilation_rate,
            "upsample": self.upsample,
            "activation": keras.activations.serialize(self.activation),
        }


@tfinpaint_export("tfinpaint.models.RegionwiseInpaintNet")
class RegionwiseInpaintNet(keras.Model):
    """Two-stage region-wise inpainting generator (Ma et al., IJCAI 2019).

    See the module docstring for the layout, the open choices and their sources.

    Args:
        cnum: base width. Defaults to `32` (code).
        dilation_rates: rates of the dilated trunk of both stages. Defaults to
            `(2, 4, 8, 16)` (code).
        region_combine: ``"input"`` (code) or ``"output"`` (literal Eq. 1), see
            :class:`tfinpaint.layers.RegionConv2D`. Defaults to `"input"`.

    Call arguments:
        inputs: ``(image, mask)``, image float ``(N, H, W, 3)`` in [0, 1], mask float
            ``(N, H, W, 1)``, 1 = known, 0 = hole; H, W multiples of 4 and >= ``min_size``.

    Returns:
        ``{"stage_1": (N, H, W, 3), "output": (N, H, W, 3)}`` float32 in [0, 1].

    Example:
    ```python
    model = RegionwiseInpaintNet(cnum=8, dilation_rates=(2, 4))
    image = np.random.rand(1, 64, 64, 3).astype("float32")
    mask = np.ones((1, 64, 64, 1), "float32"); mask[:, 16:40, 20:44] = 0
    out = model((image, mask))  # {"stage_1": (1, 64, 64, 3), "output": (1, 64, 64, 3)}
    ```
    """

    size_multiple = SIZE_MULTIPLE

    def __init__(self, cnum=32, dilation_rates=OFFICIAL_DILATION_RATES, region_combine="input",
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(cnum, bool) or int(cnum) != cnum or cnum < 2:
            raise ValueError(f"cnum must be an int >= 2. Received: cnum={cnum!r}")
        rates = tuple(int(r) for r in dilation_rates)
        if not rates or min(rates) < 1:
            raise ValueError(
                f"dilation_rates must be positive ints. Received: dilation_rates={dilation_rates}"
            )
        if region_combine not in COMBINE_CHOICES:
            raise ValueError(
                f"region_combine must be one of {COMBINE_CHOICES}. "
                f"Received: region_combine={region_combine!r}"
            )
        self.cnum = int(cnum)
        self.dilation_rates = rates
        self.region_combine = region_combine
        self.min_size = SIZE_MULTIPLE * (max(rates) + 1)

        # === Layers ===
        # Sublayers are direct attributes (not lists) so tf.train.Checkpoint sees them.
        c = self.cnum
        dt = self.dtype_policy

        def conv(stage, name, filters, k=3, s=1, rate=1, up=False):
            layer = ReflectConv2D(filters, k, s, rate, upsample=up, dtype=dt,
                                  name=f"stage{stage}_{name}")
            setattr(self, f"s{stage}_{name}", layer)

        for stage in (1, 2):
            conv(stage, "conv1", c, 5)
            conv(stage, "conv2_downsample", 2 * c, 3, 2)
            conv(stage, "conv3", 2 * c)
            conv(stage, "conv4_downsample", 4 * c, 3, 2)
            conv(stage, "conv5", 4 * c)
            conv(stage, "conv6", 4 * c)
            for i, rate in enumerate(rates):
                conv(stage, f"conv{7 + i}_atrous", 4 * c, 3, 1, rate)
            conv(stage, "conv11", 4 * c)
            conv(stage, "conv12", 4 * c)
        for name, up in (("com_13", True), ("com_14", False), ("com_15", True)):
            setattr(self, f"s1_{name}", RegionConv2D(4 * c, 3, upsample=up, combine=region_combine,
                                                     dtype=dt, name=f"stage1_{name}"))
        conv(1, "conv16", c)
        conv(1, "conv17", c // 2)
        conv(1, "conv18", 3)
        conv(2, "conv13_upsample", 2 * c, up=True)
        conv(2, "conv14", 2 * c)
        conv(2, "conv15_upsample", c, up=True)
        conv(2, "conv16", c // 2)
        conv(2, "conv17", 3)

    def _l(self, stage, name):
        return getattr(self, f"s{stage}_{name}")

    # === Build ===
    def build(self, input_shape=None):
        hw = (None, None, None)
        c = self.cnum
        for stage in (1, 2):
            self._l(stage, "conv1").build((*hw, 4))
            self._l(stage, "conv2_downsample").build((*hw, c))
            self._l(stage, "conv3").build((*hw, 2 * c))
            self._l(stage, "conv4_downsample").build((*hw, 2 * c))
            self._l(stage, "conv5").build((*hw, 4 * c))
            self._l(stage, "conv6").build((*hw, 4 * c))
            for i in range(len(self.dilation_rates)):
                self._l(stage, f"conv{7 + i}_atrous").build((*hw, 4 * c))
            self._l(stage, "conv11").build((*hw, 8 * c))
            self._l(stage, "conv12").build((*hw, 8 * c))
        m = (*hw, 1)
        self.s1_com_13.build([(*hw, 8 * c), (*hw, 4 * c), m])
        self.s1_com_14.build([(*hw, 6 * c), (*hw, 4 * c), m])
        self.s1_com_15.build([(*hw, 6 * c), (*hw, 4 * c), m])
        self.s1_conv16.build((*hw, 4 * c))
        self.s1_conv17.build((*hw, c))
        self.s1_conv18.build((*hw, c // 2))
        self.s2_conv13_upsample.build((*hw, 8 * c))
        self.s2_conv14.build((*hw, 4 * c))
        self.s2_conv15_upsample.build((*hw, 4 * c))
        self.s2_conv16.build((*hw, 2 * c))
        self.s2_conv17.build((*hw, c // 2))
        self.built = True

    # === Forward ===
    def _encoder(self, stage, x):
        """conv1 .. conv12 (encoder, dilated trunk, two skip convs): x1, x2, x3, x4, x12."""
        x1 = self._l(stage, "conv1")(x)
        x2 = self._l(stage, "conv2_downsample")(x1)
        x3 = self._l(stage, "conv3")(x2)
        x4 = self._l(stage, "conv4_downsample")(x3)
        x5 = self._l(stage, "conv5")(x4)
        x6 = self._l(stage, "conv6")(x5)
        h = x6
        for i in range(len(self.dilation_rates)):
            h = self._l(stage, f"conv{7 + i}_atrous")(h)
        x11 = self._l(stage, "conv11")(ops.concatenate([h, x6], axis=-1))
        x12 = self._l(stage, "conv12")(ops.concatenate([x11, x5], axis=-1))
        return x1, x2, x3, x4, x12

    def _stage1(self, x, mask):
        _, x2, x3, x4, x12 = self._encoder(1, x)
        x13 = self.s1_com_13([ops.concatenate([x12, x4], axis=-1), x12, mask])
        x14 = self.s1_com_14([ops.concatenate([x13, x3], axis=-1), x13, mask])
        x15 = self.s1_com_15([ops.concatenate([x14, x2], axis=-1), x14, mask])
        y = self.s1_conv18(self.s1_conv17(self.s1_conv16(x15)))
        return ops.clip(y, -1.0, 1.0)

    def _stage2(self, x):
        x1, x2, x3, x4, x12 = self._encoder(2, x)
        x13 = self.s2_conv13_upsample(ops.concatenate([x12, x4], axis=-1))
        x14 = self.s2_conv14(ops.concatenate([x13, x3], axis=-1))
        x15 = self.s2_conv15_upsample(ops.concatenate([x14, x2], axis=-1))
        x16 = self.s2_conv16(ops.concatenate([x15, x1], axis=-1))
        return ops.clip(self.s2_conv17(x16), -1.0, 1.0)

    def call(self, inputs, training=None):
        image, mask = validate_generator_inputs("RegionwiseInpaintNet", inputs, SIZE_MULTIPLE)
        for axis, size in (("H", image.shape[1]), ("W", image.shape[2])):
            if size is not None and size < self.min_size:
                raise ValueError(
                    f"RegionwiseInpaintNet: image {axis}={size} is smaller than min_size="
                    f"{self.min_size} (4 * (max(dilation_rates) + 1): the reflect padding of "
                    f"the rate-{max(self.dilation_rates)} convolution at H/4 must be smaller "
                    f"than H/4). Pad the image (tfinpaint.inference.Inpainter does). Received: "
                    f"image.shape={tuple(image.shape)}"
                )
        dt = self.compute_dtype
        m = ops.cast(mask, dt)
        x = ops.cast(image, dt) * 2.0 - 1.0  # [0, 1] -> [-1, 1] (code: /127.5 - 1)
        x = x * m  # batch_incomplete = image_gt * mask
        stage_1 = self._stage1(ops.concatenate([x, m], axis=-1), mask)
        x_combine = x * m + stage_1 * (1.0 - m)  # RW_generator
        output = self._stage2(ops.concatenate([x_combine, m], axis=-1))
        return {
            "stage_1": ops.cast((stage_1 + 1.0) * 0.5, "float32"),
            "output": ops.cast((output + 1.0) * 0.5, "float32"),
        }

    def compute_output_spec(self, inputs, training=None):
        n, h, w, _ = inputs[0].shape
        spec = keras.KerasTensor((n, h, w, 3), dtype="float32")
        return {"stage_1": spec, "output": keras.KerasTensor((n, h, w, 3), dtype="float32")}

    # === Config ===
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "cnum": self.cnum,
            "dilation_rates": list(self.dilation_rates),
            "region_combine": self.region_combine,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_regionwise(cnum=32, dilation_rates=OFFICIAL_DILATION_RATES, region_combine="input"):
    """Registry builder: an (unbuilt) :class:`RegionwiseInpaintNet`."""
    return RegionwiseInpaintNet(cnum=cnum, dilation_rates=dilation_rates,
                                region_combine=region_combine, name="regionwise")


register_model(
    ModelSpec(
        name="regionwise",
        builder=build_regionwise,
        config={"cnum": 32, "dilation_rates": list(OFFICIAL_DILATION_RATES),
                "region_combine": "input"},
        kind="keras",
        recipe="regionwise",
        discriminator=None,
        converter=None,
        size_multiple=SIZE_MULTIPLE,
        metadata={
            "paper": "Coarse-to-Fine Image Inpainting via Region-wise Convolutions and "
            "Non-Local Correlation (Ma, Liu, Bai, Wang, He, Liu)",
            "venue": "IJCAI 2019",
            "url": "https://www.ijcai.org/proceedings/2019/0433.pdf",
            "official_repo": "https://github.com/vickyFox/Region-wise-Inpainting (MIT; TF1; "
            "the journal extension's code)",
            "official_functions": "inpaint_model.py::SINet, GPNet; region_conv.py",
            "input_range": "[0, 1] outside, [-1, 1] inside (x * 2 - 1)",
            "mask": "1 = known, 0 = hole",
            "output": "stage_1 and output in [0, 1] (clipped inside)",
            "training_data": "CelebA-HQ, Paris StreetView, Places2 at 256 x 256",
            "train_size": 256,
            "size_multiple": SIZE_MULTIPLE,
            "min_size": 4 * (max(OFFICIAL_DILATION_RATES) + 1),
            "params": "about 4.7 M at cnum=32",
            # Small config for the registry-wide export/serving/TFLite tests (fast on 2 CPUs).
            "test_config": {"cnum": 8, "dilation_rates": [2, 4]},
        },
    )
)
