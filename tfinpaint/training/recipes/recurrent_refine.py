"""Training recipe of Baik's recurrent coarse-to-refine network, as the official code trains it.

Official ``train.py`` loop with ``inpaint.yml`` (``jwbaik96/Image-inpainting``; no license,
read for facts only)::

    total = 0.01 * gen + 5 * L1(refine) + 1 * perceptual(refine) + 250 * style(refine)
            + 1 * feature + 10 * sobel(refine) + 1 * LP_L1(coarse) + 1 * LP_perceptual(coarse)
            + 1 * HP_L1(refine)

- ``gen`` = ``-mean(D(Gz))`` (hinge generator loss), ``dis`` = hinge (weight 1), where
  ``Gz = concat(refine * hole + image * (1 - hole), hole)``: the discriminator sees the
  **composite** with the mask channel (:class:`SobelEdgeDiscriminator` takes ``(image, mask)``).
- ``L1``: full-image mean L1 on the raw refine output.
- ``perceptual``: VGG19 relu1_1, relu2_1, relu3_1, relu4_1, relu5_1, L1 means summed; ``style``:
  Gram ``F F^T / (C H W)`` at relu2_2, relu3_4, relu4_4, relu5_2, L1 means summed; VGG19 fed
  [0, 1] images without normalisation.
- ``feature``: ``mean|f1(x) - f1(Gz)| + mean|f2(x) - f2(Gz)|`` (discriminator conv1, conv2).
- ``sobel``: :func:`tfinpaint.losses.sobel.sobel_edge_loss` on the refine output.
- frequency separation: ``LP_L1`` / ``LP_perceptual`` compare the 5x5 box low-pass of the
  **coarse** output with that of the target (valid conv, 252x252 at 256); ``HP_L1`` is
  ``mean(|HPF(y) - HPF(refine)| * hole)`` (3x3 sharpening kernel).
- Adam ``betas=(0.5, 0.9)`` (PyTorch eps 1e-8): G lr 1e-4, D lr 4e-4; both ``StepLR(step_size =
  0.01 * num_iter = 10000, gamma=0.97)``, stepped every iteration; batch 2 at 256x256, 1M
  iterations. D is updated before G on the same batch, as here.

Differences: the official code reuses one mask for the whole batch (its contextual attention
needs it); here each sample has its own mask and its own attention. Official data: CelebA-HQ
with random rotations/affine, or Places365.
"""

from __future__ import annotations

from tfinpaint.training.recipes import (
    LossTerm,
    LRSchedule,
    OptimizerSpec,
    Recipe,
    register_recipe,
)

PERCEPTUAL_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # VGGLoss p_loss
STYLE_LAYERS = ("relu2_2", "relu3_4", "relu4_4", "relu5_2")  # VGGLoss s_loss

RECURRENT_REFINE = register_recipe(
    Recipe(
        name="recurrent_refine",
        terms=(
            # L1_loss = L1Loss(refine_l1_weight=5.0)(imgs, refine_imgs).
            LossTerm("l1", 5.0, output="output", on="raw", name="refine_l1"),
            # VGG_loss = VGGLoss(Perceptual 1.0, Style 250): relu1_1..relu5_1 and Gram layers.
            LossTerm("perceptual", 1.0, output="output", on="raw"),
            LossTerm("style", 250.0, output="output", on="raw"),
            # Feature_loss = FeatureLoss(Freature_loss_weight=1.0)(real_features, fake_features).
            LossTerm("feature_matching", 1.0, name="feature"),
            # Sobel_loss = SobelEdgeLoss(Sobel_loss_weight=10)(imgs, refine_imgs).
            LossTerm("sobel", 10.0, output="output", on="raw"),
            # HP_L1_loss = L1LossWithMask(HP_l1_weight=1.0)(HPF(imgs), HPF(refine), mask).
            LossTerm("high_frequency", 1.0, output="output", on="raw", name="hp_l1"),
            # LP_L1_loss = L1Loss(LP_l1_weight=1.0)(LPF(imgs), LPF(coarse_imgs)).
            LossTerm("low_frequency", 1.0, output="coarse", on="raw", name="lp_l1"),
            # LP_Perceptual_loss = PerceptualLoss(LP_Perceptual_weight=1.0)(LPF(imgs), LPF(coarse)).
            LossTerm("low_frequency_perceptual", 1.0, output="coarse", on="raw",
                     name="lp_perceptual"),
        ),
        feature_network="vgg19",  # utils.VGG19: torchvision vgg19(pretrained=True).features
        feature_layers=PERCEPTUAL_LAYERS + STYLE_LAYERS,
        feature_layer_sets=(("perceptual", PERCEPTUAL_LAYERS), ("style", STYLE_LAYERS)),
        feature_normalization="none",  # [0, 1] images straight into VGG19
        adversarial="hinge",  # SNPatchDisLoss / SNPatchGenLoss
        adversarial_weight=0.01,  # Gen_loss_weight
        adversarial_on="composite",  # Gz = cat(refine * mask + imgs * (1 - mask), mask)
        # Adam(lr=1e-4, betas=(0.5, 0.9)) / Adam(lr=4e-4, ...), PyTorch eps 1e-8.
        g_optimizer=OptimizerSpec(name="adam", learning_rate=1e-4, beta_1=0.5, beta_2=0.9,
                                  epsilon=1e-8),
        d_optimizer=OptimizerSpec(name="adam", learning_rate=4e-4, beta_1=0.5, beta_2=0.9,
                                  epsilon=1e-8),
        # StepLR(step_size=int(0.01 * num_iter), gamma=0.97), num_iter 1M.
        lr_schedule=LRSchedule(kind="step", step_size=10_000, gamma=0.97),
        finetune=None,
        data_policy="random_square_crop",
        notes=(
            "Official Baik training (train.py, inpaint.yml): batch 2 at 256x256, 1M iterations, "
            "D then G on each batch; one mask per batch there, one per sample here."
        ),
    )
)
