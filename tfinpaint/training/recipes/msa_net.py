"""Training recipe of MSA-Net / MANet (Wang et al., "Multistage Attention Network for Image
Inpainting", Pattern Recognition 2020), as the official code ``wangning-001/MANet`` trains it.

``model.py::PconvUNetFull.updateG`` with the ``train.py`` defaults::

    loss_G = 0.1 tv + 120 style + 0.05 perceptual + 1 valid + 6 hole + 0.1 adv

- ``valid`` / ``hole``: ``mean(|real - fake| * mask)`` and with ``1 - mask``, means over all
  elements, on the raw output ``fake``.
- ``perceptual`` / ``style``: VGG16 ``pool1..pool3`` (``enc_1..3`` = ``features[:5]``,
  ``[5:10]``, ``[10:17]``) of ``fake`` and of ``comp``, both summed (``on="both"``); Gram
  matrices divided by ``C H W`` after the difference; VGG fed [0, 1] images without ImageNet
  normalisation.
- ``tv``: ``calculate_TV_loss(comp * (1 - mask))``, plain TV of the composite.
- ``adv``: ``AdversarialLoss('nsgan')`` = ``BCELoss(D(fake_B), 1)`` on the raw output
  (``adversarial_on="raw"``), D = the 5-conv SN PatchGAN with sigmoid (logits + softplus
  here, the same numbers).
- ``updateD``: ``(BCE(D(real), 1) + BCE(D(fake.detach()), 0)) / 2``: ``d_loss_weight=0.5``.

Optimisation: Adam (PyTorch defaults, eps 1e-8) with lr 2e-4 for G and ``lr * 0.1`` for D;
fine-tuning (``--finetune``): lr 5e-5 (D 5e-6) and ``G.train(freeze_enc_bn=True)``, which
puts **every** ``BatchNorm2d`` in eval mode (``freeze_batchnorm="all"``). Batch 6 at 256x256.

Known difference: the official step updates G first (its adversarial term sees the D of the
previous step), then D; :class:`~tfinpaint.training.trainer.InpaintingTrainer` updates D first
(keras-io GAN order), so G's adversarial term sees the just-updated D. Each step calls D three
times in training mode in both (three spectral-norm power iterations).
"""

from __future__ import annotations

from tfinpaint.training.recipes import (
    FineTuneStage,
    LossTerm,
    OptimizerSpec,
    Recipe,
    register_recipe,
)

MSA_NET = register_recipe(
    Recipe(
        name="msa_net",
        terms=(
            # updateG: valid_loss * lambda_valid (1), raw output.
            LossTerm("valid", 1.0, on="raw"),
            # updateG: hole_loss * lambda_hole (6), raw output.
            LossTerm("hole", 6.0, on="raw"),
            # updateG: preceptual(real, fake) + preceptual(real, comp), lambda 0.05.
            LossTerm("perceptual", 0.05, on="both"),
            # updateG: style(real, fake) + style(real, comp), lambda 120.
            LossTerm("style", 120.0, on="both"),
            # updateG: TV(comp * (1 - mask)), lambda 0.1.
            LossTerm("tv", 0.1, on="composite"),
        ),
        feature_network="vgg16",  # net.py::VGG16FeatureExtractor
        feature_layers=("pool1", "pool2", "pool3"),
        feature_normalization="none",
        adversarial="nsgan",  # Losses.AdversarialLoss('nsgan') = BCELoss on sigmoid outputs
        adversarial_weight=0.1,  # lambda_adv
        adversarial_on="raw",  # pred_fake = self.D(fake_B), not the composite
        d_loss_weight=0.5,  # updateD: (BCE(real) + BCE(fake)) / 2
        g_optimizer=OptimizerSpec(name="adam", learning_rate=2e-4, epsilon=1e-8),
        d_optimizer=OptimizerSpec(name="adam", learning_rate=2e-5, epsilon=1e-8),  # lr * 0.1
        finetune=FineTuneStage(freeze_batchnorm="all", learning_rate=5e-5,
                               d_learning_rate=5e-6),
        data_policy="random_square_crop",
        notes=(
            "Official MANet (model.py::PconvUNetFull): batch 6 at 256x256, G lr 2e-4, D lr 2e-5; "
            "fine-tune lr 5e-5 / 5e-6 with every BatchNorm frozen. Checkpoints every 240000 "
            "images (i counts images); the test default loads g_3720000.pth."
        ),
    )
)
