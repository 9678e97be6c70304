"""Patch discriminators for the GAN recipes.

Both return ``{"logits": (N, h, w, 1 or C), "features": [activations]}``: the logits map is
scored per patch (the adversarial loss averages over it) and ``features`` are the intermediate
activations used by the feature-matching loss (EdgeConnect/MANet style). Logits are raw: the
sigmoid that EdgeConnect/MANet apply before their BCE loss is folded into the ``nsgan`` loss.

- :class:`SNPatchGAN`: DeepFill v2 (Yu et al., "Free-Form Image Inpainting with Gated
  Convolution", ICCV 2019; JiahuiYu/generative_inpainting ``build_sn_patch_gan_discriminator``):
  six spectrally normalized 5x5 stride-2 convolutions, channels 64, 128, 256, 256, 256, 256,
  each followed by LeakyReLU(0.2) (the last one included; DeepFill flattens that map and uses it
  as logits for its hinge loss). DeepFill is TensorFlow code and pads with ``'SAME'``, which is
  kept here. Input: the image mapped to [-1, 1] (DeepFill's range) and the hole mask (1 = hole,
  DeepFill's polarity; the library's known-mask is inverted inside), 4 channels.
- :class:`PatchGAN`: pix2pix 70x70 (Isola et al., CVPR 2017): 4x4 convolutions C64-C128-C256
  (stride 2), C512 (stride 1), then a 1-channel 4x4 conv (stride 1), PyTorch padding 1 on every
  side (explicit ``ZeroPadding2D`` + ``'valid'``, DESIGN section 8), LeakyReLU(0.2), BatchNorm
  on all but the first and last layer. ``spectral_norm=True, norm="none"`` is EdgeConnect's
  (and MANet's) inpainting discriminator; there every conv has ``bias=False``
  (``bias=not use_spectral_norm``).

Spectral normalization is :class:`tfinpaint.layers.SpectralNorm`, PyTorch's
``torch.nn.utils.spectral_norm``: the raw kernel (``weight_orig``) and the power-iteration
vectors ``u``, ``v`` are variables, a ``training=True`` call runs one power iteration and
updates ``u``/``v``, and inference divides by ``sigma = u . (W v)`` from the stored vectors, so
official (EdgeConnect/MANet) discriminator checkpoints load and match in both modes. (Keras'
``SpectralNormalization`` overwrites the kernel with ``W / sigma`` instead.)
"""

from __future__ import annotations

import keras

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.layers.batch_norm import BatchNorm
from tfinpaint.layers.spectral_norm import SpectralNorm


def _conv(filters, kernel, stride, padding, use_bias, spectral_norm, name):
    conv = keras.layers.Conv2D(
        filters, kernel, strides=stride, padding=padding, use_bias=use_bias,
        name=f"{name}_conv" if spectral_norm else name,
    )
    if spectral_norm:
        return SpectralNorm(conv, n_power_iterations=1, name=name)
    return conv


def _check_positive(**values):
    for key, value in values.items():
        if isinstance(value, bool) or int(value) != value or int(value) < 1:
            raise ValueError(f"{key} must be a positive int. Received: {key}={value!r}")


def _discriminator_inputs(with_mask):
    image = keras.Input((None, None, 3), name="image")
    if not with_mask:
        return image, image, None
    mask = keras.Input((None, None, 1), name="mask")
    return (image, mask), image, mask


class _Discriminator(keras.Model):
    """Shared call-time validation; ``takes_mask`` tells the trainer how to call it."""

    @property
    def takes_mask(self) -> bool:
        return self.with_mask

    def __call__(self, inputs, *args, **kwargs):
        if self.with_mask:
            if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
                raise ValueError(
                    f"{type(self).__name__}(with_mask=True) is called as model((image, mask)). "
                    f"Received: inputs of type {type(inputs).__name__}"
                )
            tensors = (("image", inputs[0], 3), ("mask", inputs[1], 1))
        else:
            tensors = (("image", inputs, 3),)
        for name, t, channels in tensors:
            shape = tuple(getattr(t, "shape", ()))
            if len(shape) != 4 or shape[-1] not in (None, channels):
                raise ValueError(
                    f"{name} must be (N, H, W, {channels}). Received: {name} shape={shape}"
                )
        return super().__call__(inputs, *args, **kwargs)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@tfinpaint_export("tfinpaint.models.SNPatchGAN")
class SNPatchGAN(_Discriminator):
    """SN-PatchGAN discriminator (DeepFill v2).

    Args:
        num_layers: number of 5x5 stride-2 SN convs. Defaults to `6` (DeepFill v2).
        base_filters: channels of the first conv (DeepFill ``cnum``). Defaults to `64`.
        max_filters: channel cap; channels are ``min(base * 2**i, max_filters)``.
            Defaults to `256` (64, 128, 256, 256, 256, 256).
        kernel_size: Defaults to `5`.
        with_mask: take ``(image, mask)`` and append the hole mask as a 4th channel.
            Defaults to `True` (DeepFill v2).
        spectral_norm: wrap each conv in ``SpectralNorm``. Defaults to `True`.

    Call arguments:
        inputs: ``(image, mask)`` (image float [0, 1] ``(N, H, W, 3)``, mask ``(N, H, W, 1)``
            1 = known), or ``image`` alone with ``with_mask=False``.

    Returns:
        ``{"logits": (N, ceil(H / 2**L), ceil(W / 2**L), C_last), "features": [L - 1 maps]}``.
    """

    def __init__(self, num_layers=6, base_filters=64, max_filters=256, kernel_size=5,
                 with_mask=True, spectral_norm=True, **kwargs):
        _check_positive(num_layers=num_layers, base_filters=base_filters,
                        max_filters=max_filters, kernel_size=kernel_size)
        # === Functional Model ===
        inputs, image, mask = _discriminator_inputs(with_mask)
        x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(image)  # DeepFill
        if with_mask:
            hole = keras.layers.Rescaling(-1.0, offset=1.0, name="hole_mask")(mask)  # 1 = hole
            x = keras.layers.Concatenate(name="concat_mask")([x, hole])
        features = []
        for i in range(int(num_layers)):
            filters = min(int(base_filters) * 2**i, int(max_filters))
            x = _conv(filters, kernel_size, 2, "same", True, spectral_norm, f"conv_{i + 1}")(x)
            x = keras.layers.LeakyReLU(0.2, name=f"conv_{i + 1}_lrelu")(x)
            features.append(x)
        logits = keras.layers.Activation("linear", dtype="float32", name="logits")(features[-1])
        super().__init__(inputs=inputs, outputs={"logits": logits, "features": features[:-1]},
                         **kwargs)
        # === Config ===
        self.num_layers = int(num_layers)
        self.base_filters = int(base_filters)
        self.max_filters = int(max_filters)
        self.kernel_size = int(kernel_size)
        self.with_mask = bool(with_mask)
        self.spectral_norm = bool(spectral_norm)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_layers": self.num_layers,
            "base_filters": self.base_filters,
            "max_filters": self.max_filters,
            "kernel_size": self.kernel_size,
            "with_mask": self.with_mask,
            "spectral_norm": self.spectral_norm,
        }


@tfinpaint_export("tfinpaint.models.PatchGAN")
class PatchGAN(_Discriminator):
    """pix2pix 70x70 PatchGAN, optionally spectrally normalized (EdgeConnect / MANet).

    Args:
        base_filters: channels of the first conv. Defaults to `64` (C64-C128-C256-C512).
        num_downsampling: stride-2 convs. Defaults to `3` (70x70 receptive field).
        spectral_norm: wrap each conv in ``SpectralNorm``. Defaults to `False`.
        norm: ``"batch"`` (pix2pix) or ``"none"`` (EdgeConnect with spectral norm).
            Defaults to `"batch"`.
        with_mask: take ``(image, mask)`` and append the hole mask (1 = hole). Defaults to
            `False` (EdgeConnect's inpainting discriminator sees the image only).

    Returns:
        ``{"logits": (N, h, w, 1), "features": [num_downsampling + 1 maps]}``; for an
        ``n``-pixel side, ``h = n / 2**num_downsampling - 2`` (e.g. 30 for 256).
    """

    def __init__(self, base_filters=64, num_downsampling=3, spectral_norm=False, norm="batch",
                 with_mask=False, **kwargs):
        _check_positive(base_filters=base_filters, num_downsampling=num_downsampling)
        if norm not in ("batch", "none"):
            raise ValueError(f"norm must be 'batch' or 'none'. Received: norm={norm!r}")
        # === Functional Model ===
        inputs, image, mask = _discriminator_inputs(with_mask)
        x = image
        if with_mask:
            hole = keras.layers.Rescaling(-1.0, offset=1.0, name="hole_mask")(mask)
            x = keras.layers.Concatenate(name="concat_mask")([x, hole])
        n = int(num_downsampling)
        # (filters, stride) per layer; pix2pix n_layers=3: 64/2, 128/2, 256/2, 512/1, then 1/1.
        plan = [(min(int(base_filters) * 2**i, int(base_filters) * 8), 2) for i in range(n)]
        plan.append((min(int(base_filters) * 2**n, int(base_filters) * 8), 1))
        features = []
        for i, (filters, stride) in enumerate(plan, start=1):
            normed = norm == "batch" and i > 1
            # PyTorch Conv2d(k4, padding 1): symmetric padding, unlike TF 'same' (DESIGN 8).
            x = keras.layers.ZeroPadding2D(1, name=f"conv_{i}_pad")(x)
            use_bias = not spectral_norm and not normed
            x = _conv(filters, 4, stride, "valid", use_bias, spectral_norm, f"conv_{i}")(x)
            if normed:
                x = BatchNorm(name=f"conv_{i}_bn")(x)
            x = keras.layers.LeakyReLU(0.2, name=f"conv_{i}_lrelu")(x)
            features.append(x)
        x = keras.layers.ZeroPadding2D(1, name=f"conv_{len(plan) + 1}_pad")(x)
        x = _conv(1, 4, 1, "valid", not spectral_norm, spectral_norm, f"conv_{len(plan) + 1}")(x)
        logits = keras.layers.Activation("linear", dtype="float32", name="logits")(x)
        super().__init__(inputs=inputs, outputs={"logits": logits, "features": features},
                         **kwargs)
        # === Config ===
        self.base_filters = int(base_filters)
        self.num_downsampling = n
        self.spectral_norm = bool(spectral_norm)
        self.norm = norm
        self.with_mask = bool(with_mask)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "base_filters": self.base_filters,
            "num_downsampling": self.num_downsampling,
            "spectral_norm": self.spectral_norm,
            "norm": self.norm,
            "with_mask": self.with_mask,
        }


def build_sn_patchgan(**config) -> SNPatchGAN:
    """Discriminator builder for registry entries (DeepFill v2 defaults)."""
    return SNPatchGAN(**config)


def build_patchgan(**config) -> PatchGAN:
    """Discriminator builder for registry entries (pix2pix defaults)."""
    return PatchGAN(**config)


def build_edgeconnect_discriminator(**config) -> PatchGAN:
    """EdgeConnect/MANet inpainting discriminator: SN PatchGAN, no norm, image only."""
    return PatchGAN(**{"spectral_norm": True, "norm": "none", "with_mask": False, **config})
