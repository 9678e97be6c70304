"""Training recipe of RFR-Net (Li et al., "Recurrent Feature Reasoning for Image Inpainting",
CVPR 2020, https://arxiv.org/abs/2008.03737), as the official code trains it.

Official ``model.py::RFRNetModel.get_g_loss`` (``jingyuanli001/RFR-Inpainting``)::

    loss = 0.1 * tv + 120 * style + 0.05 * perceptual + 1 * valid + 6 * hole

- ``valid`` / ``hole``: ``l1_loss(gt, out, mask)`` = ``mean(|gt - out| * mask)`` and the same
  with ``1 - mask``, means over all elements (not normalised by the hole area); on the raw
  output.
- ``perceptual``: ``preceptual_loss(f(gt), f(out)) + preceptual_loss(f(gt), f(comp))``, the
  mean L1 of VGG16 pool1, pool2, pool3 features (``features[:5]``, ``[5:10]``, ``[10:17]``), so
  ``on="both"``.
- ``style``: ``style_loss`` of the Gram matrices ``F F^T / (C H W)``, same layers, on ``out``
  and on ``comp``: ``on="both"``.
- ``tv``: ``TV_loss(comp * (1 - mask))``: plain (not dilated) total variation of the
  composite with its known pixels zeroed (``tfinpaint.losses.pixel.total_variation(comp,
  mask)``), on the composite.
- The VGG16 is fed the [0, 1] image **without** ImageNet normalisation, for the target and the
  predictions alike (``feature_normalization="none"``); the paper Sec. 4 mentions the same
  losses as PConv with these weights.
- No discriminator: ``update_D`` is empty in the official model.

Optimisation (README and ``model.py::initialize_model`` / ``train``): Adam, lr 2e-4 (PyTorch
defaults ``betas=(0.9, 0.999)``, ``eps=1e-8``), batch 6, 256x256; then fine-tuning
(``--finetune``) with **every** BatchNorm in eval mode (``RFRNet.train(finetune=True)``; gamma
and beta keep training) and lr 5e-5. Paris StreetView: 400k + 200k iterations, CelebA:
350k + 150k, Places2: 2M + 1M.

Data (``dataset.py::load_item``): random square crop of a side in [256, min side), resized to
256 (``data_policy="random_square_crop"``); image and mask flipped independently.
"""

from __future__ import annotations

from tfinpaint.training.recipes import (
    FineTuneStage,
    LossTerm,
    OptimizerSpec,
    Recipe,
    register_recipe,
)

RFR_NET = register_recipe(
    Recipe(
        name="rfr_net",
        terms=(
            # get_g_loss: 1 * l1_loss(gt, out, mask) (raw output).
            LossTerm("valid", 1.0, on="raw"),
            # get_g_loss: 6 * l1_loss(gt, out, 1 - mask) (raw output).
            LossTerm("hole", 6.0, on="raw"),
            # get_g_loss: 0.05 * (perceptual(out) + perceptual(comp)), VGG16 pool1-3.
            LossTerm("perceptual", 0.05, on="both"),
            # get_g_loss: 120 * (style(out) + style(comp)), Gram / (C*H*W), VGG16 pool1-3.
            LossTerm("style", 120.0, on="both"),
            # get_g_loss: 0.1 * TV_loss(comp * (1 - mask)), not dilated.
            LossTerm("tv", 0.1, on="composite"),
        ),
        feature_network="vgg16",  # VGG16FeatureExtractor: torchvision vgg16(pretrained=True)
        feature_layers=("pool1", "pool2", "pool3"),  # features[:5], [5:10], [10:17]
        feature_normalization="none",  # fed [0, 1] images, no ImageNet mean/std
        adversarial=None,  # no discriminator (update_D is empty)
        adversarial_weight=0.0,
        # initialize_model: torch.optim.Adam(lr=2e-4), PyTorch eps 1e-8.
        g_optimizer=OptimizerSpec(name="adam", learning_rate=2e-4, epsilon=1e-8),
        d_optimizer=None,
        # train(finetune=True): every BatchNorm in eval mode, Adam lr 5e-5.
        finetune=FineTuneStage(freeze_batchnorm="all", learning_rate=5e-5),
        data_policy="random_square_crop",
        notes=(
            "Official RFR-Net (model.py::get_g_loss): batch 6 at 256x256; Paris 400k + 200k "
            "fine-tune iterations, CelebA 350k + 150k, Places2 2M + 1M. The generator output "
            "is the raw (unclipped) conv output, which every term sees."
        ),
    )
)
