"""Training recipe of PConv U-Net (Liu et al., "Image Inpainting for Irregular Holes Using
Partial Convolutions", ECCV 2018, https://arxiv.org/abs/1804.07723).

Section 3.4 (Loss Functions), the total loss (weights found by a hyper-parameter search on 100
validation images)::

    L_total = L_valid + 6 L_hole + 0.05 L_perceptual + 120 (L_style_out + L_style_comp) + 0.1 L_tv

- ``L_hole`` / ``L_valid``: L1 on hole / known pixels, normalized by the element count of the
  ground truth (Eq. 1-2 of Section 3.4).
- ``L_perceptual`` (Eq. 3): L1 between VGG-16 pool1, pool2, pool3 features of both ``I_out``
  and ``I_comp`` against ``I_gt``, so ``on="both"``.
- ``L_style_out`` / ``L_style_comp`` (Eq. 4-5): L1 between Gram matrices (normalized by
  ``C*H*W``) of the same layers, on ``I_out`` and on ``I_comp``: one term with ``on="both"``.
- ``L_tv`` (Eq. 6): smoothing penalty on ``P``, the 1-pixel dilation of the hole region,
  computed on the composite (``tv_dilated``).

The paper's VGG-16 is ImageNet pretrained and takes ImageNet mean/std normalized input
(PyTorch torchvision; PConv-Keras applies the same normalization inside its VGG), hence
``feature_normalization="imagenet"``.

Section 4.1 (Training Procedure): Adam, learning rate 2e-4 for initial training with BatchNorm
everywhere, then fine-tuning at 5e-5 with the encoder's BatchNorm frozen (statistics fixed,
because the hole pixels make the batch statistics of the encoder wrong), decoder BN still
training. No discriminator: the paper trains with the losses above only.
"""

from __future__ import annotations

from tfinpaint.training.recipes import (
    FineTuneStage,
    LossTerm,
    OptimizerSpec,
    Recipe,
    register_recipe,
)

PCONV_UNET = register_recipe(
    Recipe(
        name="pconv_unet",
        terms=(
            # Section 3.4, L_valid: weight 1.
            LossTerm("valid", 1.0),
            # Section 3.4, L_hole: weight 6.
            LossTerm("hole", 6.0),
            # Section 3.4 Eq. 3, L_perceptual on I_out and I_comp: weight 0.05.
            LossTerm("perceptual", 0.05, on="both"),
            # Section 3.4 Eq. 4-5, L_style_out + L_style_comp: weight 120 each.
            LossTerm("style", 120.0, on="both"),
            # Section 3.4 Eq. 6, L_tv on the 1-px dilated hole region of I_comp: weight 0.1.
            LossTerm("tv_dilated", 0.1, on="composite"),
        ),
        feature_network="vgg16",  # Section 3.4: VGG-16 pretrained on ImageNet
        feature_layers=("pool1", "pool2", "pool3"),  # Section 3.4: pool1, pool2, pool3
        feature_normalization="imagenet",
        adversarial=None,  # no GAN loss in the paper
        adversarial_weight=0.0,
        # Section 4.1: Adam, lr 2e-4 for the initial stage (PyTorch Adam, eps 1e-8).
        g_optimizer=OptimizerSpec(name="adam", learning_rate=2e-4, epsilon=1e-8),
        d_optimizer=None,
        # Section 4.1: fine-tuning at lr 5e-5 with the encoder BatchNorm frozen.
        finetune=FineTuneStage(freeze_batchnorm="encoder", learning_rate=5e-5),
        data_policy="random_square_crop",
        notes=(
            "Liu et al. ECCV 2018, Sections 3.4 and 4.1. Paper trains at 512x512 with batch "
            "size 6 on irregular masks (NVIDIA mask set, dilated/rotated/cropped); the model "
            "has no discriminator. Perceptual and style terms use VGG-16 pool1-3 on both the "
            "raw output and the composite."
        ),
    )
)

# The offline demo recipe (``tfinpaint demo``): the pixel terms of Section 3.4 only. The
# perceptual and style terms need an ImageNet-pretrained VGG-16, which a fresh offline install
# does not have; with a random VGG they would push the generator towards arbitrary features, so
# they are dropped instead (as are their weights: L_valid + 6 L_hole + 0.1 L_tv, unchanged).
# Everything else (optimizer, fine-tune stage, crops) is the paper recipe's.
PCONV_UNET_PIXEL = register_recipe(
    PCONV_UNET.replace(
        name="pconv_unet_pixel",
        terms=tuple(t for t in PCONV_UNET.terms if t.loss not in ("perceptual", "style")),
        notes=(
            "Offline demo recipe: pconv_unet (Liu et al. ECCV 2018, Section 3.4) without the "
            "VGG-16 perceptual and style terms, which need ImageNet weights: "
            "L_valid + 6 L_hole + 0.1 L_tv. Used by `tfinpaint demo`; train with the full "
            "pconv_unet recipe and vgg_weights='imagenet' for real results."
        ),
    )
)

# The recipe of the shipped default model (``scripts/train_default.py``): the pixel terms of
# ``pconv_unet_pixel`` (no ImageNet VGG-16 can be had offline) plus an exponential moving
# average of the generator weights (momentum 0.999, i.e. about the last 1,000 steps), which
# smooths the noise of small-batch CPU training; the average is what is validated and exported.
PCONV_UNET_DEFAULT = register_recipe(
    PCONV_UNET_PIXEL.replace(
        name="pconv_unet_default",
        g_optimizer=OptimizerSpec(name="adam", learning_rate=2e-4, epsilon=1e-8,
                                  ema_momentum=0.999),
        notes=(
            "The shipped default model's recipe: pconv_unet_pixel (L_valid + 6 L_hole + "
            "0.1 L_tv, Liu et al. ECCV 2018 Section 3.4 without the VGG terms) with an EMA "
            "(momentum 0.999) of the generator weights, validated and exported."
        ),
    )
)

# The shipped default model's last fine-tuning stage (``scripts/train_default.py``, stage 4):
# ``pconv_unet_default`` plus the hole-border L1 (``tfinpaint.losses.pixel.hole_border_l1``,
# band 3 px) at weight 12, so hole pixels next to the known image weigh 3x the interior's 6.
# After stage 3 the first 1.5 px of a hole still had 2.8x OpenCV Telea's error on the
# evaluation photos (dark dots and lines along the hole's edge), which is what small holes lose.
PCONV_UNET_DEFAULT_BORDER = register_recipe(
    PCONV_UNET_DEFAULT.replace(
        name="pconv_unet_default_border",
        terms=PCONV_UNET_DEFAULT.terms + (
            LossTerm("hole_border", 12.0, options={"width": 3}),
        ),
        notes=(
            "pconv_unet_default plus 12 L_hole_border (L1 on the hole pixels within 3 px of a "
            "known pixel): the shipped default model's seam fine-tuning stage."
        ),
    )
)
