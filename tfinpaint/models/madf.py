"""MADF: Image Inpainting by End-to-End Cascaded Refinement With Mask Awareness (Zhu et al., IEEE
TIP 2021).

Paper: https://arxiv.org/abs/2104.13743. Official code (GPL-3.0, read for behaviour only, nothing
copied): ``MADF-inpainting/Pytorch-MADF``, ``net.py::MADFNet`` (checked at commit 6fdbf44). This
re-implementation reproduces the official forward pass number for number
(``tests/models/madf_test.py`` against ``shared/fixtures/madf``).

Architecture, in the order of the paper's Fig. 2 (``L = layer_size`` levels, official 7; H and W
multiples of ``2**L``):

- **input**: ``x = (image - MEAN) / STD`` (ImageNet statistics, the official ``Normalize``),
  ``net_input = x * mask`` (holes become 0, the ImageNet mean colour), the mask tiled to 3
  channels (the official masks are RGB), ``h_0 = concat(net_input, mask)`` (6 channels).
- **encoder, mask-aware dynamic filtering** (:class:`tfinpaint.layers.MaskAwareDynamicConv`),
  levels ``i = 1..L`` with kernel/stride/pad 7/2/3, 5/2/2, then 3/2/1 and 16, 32, 64, 128, 128,
  ... channels: the mask feature ``M_i = ReLU(conv(M_{i-1}))`` (``M_0`` = the mask) generates one
  kernel per output pixel, which filters the previous feature: ``e_i = ReLU(dynconv(e_{i-1}))``
  (``e_0 = h_0``); ``h_i = ReLU(conv1x1(e_i))`` (``enc_up_i``: 64, 128, 256, then 512 channels)
  are the skip features. The official ``ConvWithFilter`` registers a BatchNorm it never applies
  (``enc_conv_i.bn``; it compares the module to the string ``"batchnorm"``): it is kept here as
  ``enc_conv_i_bn``, never called and not trainable, so official checkpoints load strictly.
- **recovery decoder**, ``i = L..1``: ``d = LeakyReLU_0.2(BN(convT_4/2/1(a_i)))`` (``deconv_i``;
  ``deconv_1`` is a bare transposed conv to 3 channels), ``a_{i-1} = ReLU(conv3x3(concat(h_{i-1},
  d)))`` (``att_conv_i``; no ReLU at ``i = 1``). Despite its name the official ``AttConv`` is a
  concatenation and a convolution. ``a_0`` is output 1; ``a_L = h_L``.
- **refinement decoders** ``r = 0..n_refinement-1`` (official 2), each starting from ``h_L``:
  ``g_{i-1} = LeakyReLU_0.2(PN(convT_4/2/1(g_i), guide))`` (``dec_ref{r}_i``,
  :class:`tfinpaint.layers.PointwiseNorm`) for ``i = L..2``, where the guide is the recovery
  decoder's ``a_{i-1}`` for ``r = 0`` and refinement ``r-1``'s feature of the same level for
  ``r = 1``. At full resolution the feature is upsampled x2 (bilinear, ``align_corners=False``)
  and a 1x1 conv (``dec_ref{r}_1``) maps ``concat(g, output 1, ..., output r+1, h_0)`` to output
  ``r + 2``.

Paper vs. official code (the code is followed; it trained the released weights):

- The encoder BatchNorm is never applied (see above); the decoders' BatchNorm and PN's
  affine-free BatchNorm update ``running_var`` with the unbiased batch variance (PyTorch), here
  :class:`tfinpaint.layers.BatchNorm` ``unbiased_variance=True``.
- No output activation: every output is an unbounded conv output in normalised space.
- Only ``n_refinement <= 2`` exists in the code (``n_refinement_D > 0``, ``> 1``).

Memory: the official code holds every per-pixel kernel (``Cin*k*k*Cout`` values per output
pixel, 2.7 GiB per 512x512 sample); :class:`MaskAwareDynamicConv` computes the same result by an
exact factorisation through an ordinary convolution, without them.

Output contract: ``model((image, mask))`` with ``image`` float ``[0, 1]`` ``(N, H, W, 3)``,
``mask`` float ``(N, H, W, 1)``, **1 = known, 0 = hole**. Returns a dict with ``"output_1"``
(recovery decoder), ``"output_2"``, ... (one per refinement decoder) and ``"output"`` (= the last;
the official ``test.py`` uses ``outputs[-1]``), each mapped back to ``[0, 1]`` space
(``y * STD + MEAN``), raw (not clipped), in train and eval mode alike; the inference edges clip
and composite. ``return_intermediates=True`` adds, in the official normalised space:
``"mask_feat_1"``, ``"enc_1_raw"`` (before the ReLU), ``"enc_1"``, ``"enc_up_1"``,
``f"h_{L}"`` (bottleneck), ``"dec_att_2"``, ``"dec_ref0_2"``, ``"dec_ref1_2"`` (when present).

Layer names mirror the official ``state_dict`` (``enc_conv_1`` holds ``filter_gen_1.*``,
``dec_ref0_3_pn`` is ``dec_ref0_3.bn``, ...); the converter (:mod:`tfinpaint.convert.madf`) keys on
them.
"""

from __future__ import annotations

import keras
from keras import ops

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.layers.batch_norm import BatchNorm
from tfinpaint.layers.dynamic_filter import MaskAwareDynamicConv
from tfinpaint.layers.pointwise_norm import PointwiseNorm
from tfinpaint.layers.resize import resize_bilinear
from tfinpaint.layers.torch_init import torch_kernel_initializer
from tfinpaint.layers.transpose_conv import PhaseConv2DTranspose
from tfinpaint.losses.feature_network import IMAGENET_MEAN, IMAGENET_STD
from tfinpaint.models.inputs import validate_generator_inputs
from tfinpaint.models.registry import ModelSpec, register_model

MASK_HIDDEN = 16  # FilterGen nhidden
PN_HIDDEN = 128  # PN nhidden
DECODER_SLOPE = 0.2  # nn.LeakyReLU(negative_slope=0.2)
MAX_REFINEMENT = 2  # the official code builds dec_ref0_* and dec_ref1_* only


def encoder_level(i: int) -> tuple[int, int, int, int]:
    """``(kernel, pad, dynamic-conv channels, enc_up channels)`` of encoder level ``i``
    (official ``FilterGen``/``ConvWithFilter``/``enc_up`` arguments)."""
    kernel, pad = {1: (7, 3), 2: (5, 2)}.get(i, (3, 1))
    return kernel, pad, {1: 16, 2: 32, 3: 64}.get(i, 128), skip_channels(i)


def skip_channels(i: int) -> int:
    """Channels of the skip feature ``h_i`` (``h_0`` = image + mask = 6)."""
    return {0: 6, 1: 64, 2: 128, 3: 256}.get(i, 512)


@tfinpaint_export("tfinpaint.models.MADFNet")
class MADFNet(keras.Model):
    """MADF generator (Zhu et al., TIP 2021), a faithful port of the official ``MADFNet``.

    See the module docstring for the architecture, the paper-vs-code differences and the output
    contract.

    Args:
        layer_size: encoder levels ``L`` (official 7); H and W must be multiples of ``2**L``.
            At least 4 (levels 1-4 have fixed shapes in the official code). Defaults to `7`.
        n_refinement: refinement decoders, 0, 1 or 2 (official ``n_refinement_D = 2``).
            Defaults to `2`.
        mean, std: per-channel input normalisation (official ImageNet ``MEAN``/``STD`` of
            ``opt.py``). Defaults to the ImageNet values.
        return_intermediates: also return the official intermediates (module docstring).
            Defaults to `False`.

    Call arguments:
        inputs: ``(image, mask)``; image float ``(N, H, W, 3)`` in [0, 1], mask float
            ``(N, H, W, 1)``, 1 = known, 0 = hole.
        training: BatchNorm mode.

    Example:
    ```python
    model = MADFNet(layer_size=4, n_refinement=1)
    image = np.random.rand(1, 32, 48, 3).astype("float32")
    mask = np.ones((1, 32, 48, 1), "float32"); mask[:, 8:20, 10:30] = 0
    out = model((image, mask))["output"]  # (1, 32, 48, 3), [0, 1] space, raw
    ```
    """

    def __init__(
        self,
        layer_size=7,
        n_refinement=2,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        return_intermediates=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(layer_size, bool) or int(layer_size) != layer_size or layer_size < 4:
            raise ValueError(
                f"layer_size must be an int >= 4 (levels 1-4 are fixed in the official code). "
                f"Received: layer_size={layer_size!r}"
            )
        if (isinstance(n_refinement, bool) or int(n_refinement) != n_refinement
                or not 0 <= n_refinement <= MAX_REFINEMENT):
            raise ValueError(
                f"n_refinement must be 0, 1 or 2 (the official decoders). Received: "
                f"n_refinement={n_refinement!r}"
            )
        mean, std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(
                f"mean and std must be 3 values each, std > 0. Received: mean={mean}, std={std}"
            )
        self.layer_size = int(layer_size)
        self.n_refinement = int(n_refinement)
        self.mean, self.std = mean, std
        self.return_intermediates = bool(return_intermediates)
        self.size_multiple = 2 ** self.layer_size

        # === Layers ===
        # Sublayers are direct attributes (setattr), never lists: tf.train.Checkpoint (the
        # trainer's resume path) does not see layers inside Keras' list wrappers.
        init = torch_kernel_initializer()
        dt = self.dtype_policy

        def conv(filters, kernel, name):
            return keras.layers.Conv2D(filters, kernel, padding="same", kernel_initializer=init,
                                       dtype=dt, name=name)

        def conv_t(filters, name):
            # PyTorch ConvTranspose2d(4, 2, 1) == Conv2DTranspose(4, 2, 'same') (DESIGN sec. 8)
            # computed as 4 phase convolutions (PhaseConv2DTranspose: same variables; XNNPACK's
            # TRANSPOSE_CONV was 38% of the float32 TFLite time)
            return PhaseConv2DTranspose(filters, 4, strides=2, padding="same",
                                        kernel_initializer=init, dtype=dt, name=name)

        for i in range(1, self.layer_size + 1):
            k, p, ch, up = encoder_level(i)
            setattr(self, f"enc_conv_{i}", MaskAwareDynamicConv(
                ch, k, strides=2, padding=p, hidden_channels=MASK_HIDDEN,
                kernel_initializer=init, dtype=dt, name=f"enc_conv_{i}"))
            # Registered but never applied in the official ConvWithFilter (dead weights).
            setattr(self, f"enc_conv_{i}_bn",
                    BatchNorm(trainable=False, dtype=dt, name=f"enc_conv_{i}_bn"))
            setattr(self, f"enc_up_{i}", conv(up, 1, f"enc_up_{i}"))
        for i in range(self.layer_size, 0, -1):
            out = skip_channels(i - 1) if i > 1 else 3
            setattr(self, f"deconv_{i}", conv_t(out, f"deconv_{i}"))
            if i > 1:
                setattr(self, f"deconv_{i}_bn",
                        BatchNorm(unbiased_variance=True, dtype=dt, name=f"deconv_{i}_bn"))
            setattr(self, f"att_conv_{i}", conv(out, 3, f"att_conv_{i}"))
        for r in range(self.n_refinement):
            for i in range(self.layer_size, 1, -1):
                setattr(self, f"dec_ref{r}_{i}_deconv",
                        conv_t(skip_channels(i - 1), f"dec_ref{r}_{i}_deconv"))
                setattr(self, f"dec_ref{r}_{i}_pn", PointwiseNorm(
                    PN_HIDDEN, unbiased_variance=True, kernel_initializer=init, dtype=dt,
                    name=f"dec_ref{r}_{i}_pn"))
            setattr(self, f"dec_ref{r}_1", conv(3, 1, f"dec_ref{r}_1"))

    def _layer(self, name):
        return getattr(self, name)

    # === Build ===
    def build(self, input_shape=None):
        n = None
        if input_shape is not None:
            try:
                n = tuple(input_shape[0])[0]
            except (TypeError, IndexError):
                n = None

        def shape(c):
            return (n, None, None, c)

        prev, mask_ch = skip_channels(0), 3
        for i in range(1, self.layer_size + 1):
            _, _, ch, up = encoder_level(i)
            self._layer(f"enc_conv_{i}").build([shape(prev), shape(mask_ch)])
            self._layer(f"enc_conv_{i}_bn").build(shape(ch))
            self._layer(f"enc_up_{i}").build(shape(ch))
            prev, mask_ch = ch, MASK_HIDDEN
        query = skip_channels(self.layer_size)
        for i in range(self.layer_size, 0, -1):
            out = skip_channels(i - 1) if i > 1 else 3
            self._layer(f"deconv_{i}").build(shape(query))
            if i > 1:
                self._layer(f"deconv_{i}_bn").build(shape(out))
            self._layer(f"att_conv_{i}").build(shape(skip_channels(i - 1) + out))
            query = out
        for r in range(self.n_refinement):
            feat = skip_channels(self.layer_size)
            for i in range(self.layer_size, 1, -1):
                out = skip_channels(i - 1)
                self._layer(f"dec_ref{r}_{i}_deconv").build(shape(feat))
                self._layer(f"dec_ref{r}_{i}_pn").build([shape(out), shape(out)])
                feat = out
            # concat(g (64), output 1 .. output r+1 (3 each), h_0 (6))
            self._layer(f"dec_ref{r}_1").build(shape(skip_channels(1) + 3 * (r + 1) + 6))
        self.built = True

    # === Forward ===
    def call(self, inputs, training=None):
        image, mask = validate_generator_inputs(
            "MADFNet", inputs, self.size_multiple, note=f" (2**layer_size, layer_size="
            f"{self.layer_size})",
        )
        dt = self.compute_dtype
        mean = ops.convert_to_tensor(self.mean, dtype=dt)
        std = ops.convert_to_tensor(self.std, dtype=dt)
        # Official masks are RGB: repeated by a broadcast MUL (XNNPACK; TILE is a fallback).
        mask3 = ops.cast(mask, dt) * ops.ones((3,), dt)
        net_input = (ops.cast(image, dt) - mean) / std * mask3  # dataset.py: Normalize(gt)*mask
        skips = [ops.concatenate([net_input, mask3], axis=-1)]  # h_0
        inter = {}

        # Encoder: mask-aware dynamic filtering.
        feature, mask_feature = skips[0], mask3
        for i in range(1, self.layer_size + 1):
            raw, mask_feature = self._layer(f"enc_conv_{i}")([feature, mask_feature])
            feature = ops.relu(raw)  # ConvWithFilter's ReLU; its BatchNorm is never applied
            skips.append(ops.relu(self._layer(f"enc_up_{i}")(feature)))
            if i == 1:
                inter.update(mask_feat_1=mask_feature, enc_1_raw=raw, enc_1=feature,
                             enc_up_1=skips[1])
        inter[f"h_{self.layer_size}"] = skips[-1]

        # Recovery decoder and the refinement decoders, level by level.
        att = skips[-1]
        refined = [skips[-1]] * self.n_refinement
        outputs = []
        for i in range(self.layer_size, 0, -1):
            d = self._layer(f"deconv_{i}")(att)
            if i > 1:
                d = self._layer(f"deconv_{i}_bn")(d, training=training)
                d = ops.leaky_relu(d, negative_slope=DECODER_SLOPE)
            # AttConv(query=d, key=h_{i-1}): conv(concat([key, query])), key first.
            att = self._layer(f"att_conv_{i}")(ops.concatenate([skips[i - 1], d], axis=-1))
            if i > 1:
                att = ops.relu(att)
                guide = att
                for r in range(self.n_refinement):
                    g = self._layer(f"dec_ref{r}_{i}_deconv")(refined[r])
                    g = self._layer(f"dec_ref{r}_{i}_pn")([g, guide], training=training)
                    refined[r] = guide = ops.leaky_relu(g, negative_slope=DECODER_SLOPE)
                if i == 2:
                    inter["dec_att_2"] = att
                    for r in range(self.n_refinement):
                        inter[f"dec_ref{r}_2"] = refined[r]
            else:
                outputs.append(att)
                for r in range(self.n_refinement):
                    g = resize_bilinear(refined[r], factor=2)  # F.interpolate(x2, bilinear)
                    g = ops.concatenate([g, *outputs, skips[0]], axis=-1)
                    outputs.append(self._layer(f"dec_ref{r}_1")(g))

        result = {}
        for k, out in enumerate(outputs, start=1):
            # Official outputs live in normalised space; unnormalize (util/image.py) to [0, 1].
            result[f"output_{k}"] = ops.cast(out * std + mean, "float32")
        result["output"] = result[f"output_{len(outputs)}"]
        if self.return_intermediates:
            result.update({k: ops.cast(v, "float32") for k, v in inter.items()})
        return result

    def compute_output_spec(self, inputs, training=None):
        n, h, w, _ = inputs[0].shape
        spec = {f"output_{k}": keras.KerasTensor((n, h, w, 3), dtype="float32")
                for k in range(1, self.n_refinement + 2)}
        spec["output"] = keras.KerasTensor((n, h, w, 3), dtype="float32")
        if self.return_intermediates:
            def at(level, c):
                f = 2 ** level
                return keras.KerasTensor(
                    (n, None if h is None else h // f, None if w is None else w // f, c),
                    dtype="float32")

            spec.update(mask_feat_1=at(1, MASK_HIDDEN), enc_1_raw=at(1, 16), enc_1=at(1, 16),
                        enc_up_1=at(1, 64), dec_att_2=at(1, 64))
            spec[f"h_{self.layer_size}"] = at(self.layer_size, 512)
            for r in range(self.n_refinement):
                spec[f"dec_ref{r}_2"] = at(1, 64)
        return spec

    # === Config ===
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "layer_size": self.layer_size,
            "n_refinement": self.n_refinement,
            "mean": list(self.mean),
            "std": list(self.std),
            "return_intermediates": self.return_intermediates,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_madf(layer_size=7, n_refinement=2, mean=IMAGENET_MEAN, std=IMAGENET_STD,
               return_intermediates=False):
    """Registry builder: an (unbuilt) :class:`MADFNet`."""
    return MADFNet(layer_size=layer_size, n_refinement=n_refinement, mean=mean, std=std,
                   return_intermediates=return_intermediates, name="madf")


register_model(
    ModelSpec(
        name="madf",
        builder=build_madf,
        config={
            "layer_size": 7,
            "n_refinement": 2,
            "mean": IMAGENET_MEAN,
            "std": IMAGENET_STD,
            "return_intermediates": False,
        },
        kind="keras",
        recipe="madf",
        discriminator=None,
        converter="tfinpaint.convert.madf:convert_checkpoint",
        size_multiple=2 ** 7,
        metadata={
            "paper": "Image Inpainting by End-to-End Cascaded Refinement With Mask Awareness "
                     "(Zhu, He, Li, Li, Li, Liu, Ding, Zhang)",
            "venue": "IEEE TIP 2021",
            "arxiv": "https://arxiv.org/abs/2104.13743",
            "official_repo": "https://github.com/MADF-inpainting/Pytorch-MADF (GPL-3.0)",
            "official_class": "net.py::MADFNet",
            "input_range": "[0, 1] RGB, ImageNet mean/std normalisation inside the model",
            "mask": "1 = known, 0 = hole",
            "output": "raw conv outputs mapped back to [0, 1] space; clip at the inference edge",
            "training_data": "Places2, CelebA, Paris StreetView (official weights at 512x512)",
            "train_size": 512,
            "size_multiple": 2 ** 7,
            # Small config for the registry-wide export/serving/TFLite tests (fast on 2 CPUs):
            # 4 levels (size multiple 16), one refinement decoder.
            "test_config": {"layer_size": 4, "n_refinement": 1},
        },
    )
)
