"""Training recipe of MADF (Zhu et al., "Image Inpainting by End-to-End Cascaded Refinement With
Mask Awareness", TIP 2021, https://arxiv.org/abs/2104.13743), as the official code trains it.

Official ``loss.py::InpaintingLoss`` with ``--use_incremental_supervision`` (``train.sh``) on the
three outputs of ``MADFNet`` (recovery decoder, refinement decoders 0 and 1), weights from
``train.py``'s arguments, summed as ``sum(weight * term)``::

    loss = 6 hole + 1 valid + 0.05 prc + 120 style + 0.1 tv

- ``hole`` / ``valid``: ``nn.L1Loss((1 - M) * out, (1 - M) * gt)`` and the same with ``M``,
  means over all elements, summed over **all three outputs** (one term per output here:
  ``hole_1..3``, ``valid_1..3``, each with the full weight, so the total is the same).
- ``prc``: VGG16 pool1, pool2, pool3 (``features[:5]``, ``[5:10]``, ``[10:17]``) L1 of the output
  and of the composite against the target, for **outputs 2 and 3** (``on="both"``).
- ``style``: Gram matrices ``F F^T / (C H W)``, same layers, raw and composite. The loop starts at
  output 3 (``start = 2``) but reads ``feats[i - start] = feats[0]``, the features of **output 2**
  (checked on the fixture: the official value equals the style of output 2, not of output 3).
  :func:`madf_recipe` ``official_style_quirk=True`` (the registered ``madf``, what trained the
  released weights) reproduces this; ``False`` (registered ``madf_style_last``) puts the style term
  on the final output, the loop's evident intent.
- ``tv``: ``total_variation_loss`` of the composite of **output 3**, over the whole image
  (``tv_image``), ``mean|dx| + mean|dy|``.

Space: the official tensors are ImageNet-normalised (``x_n = (x - MEAN) / STD``, ``dataset.py``):
the L1 and TV terms are computed there (``pixel_space="imagenet"``: on ``[0, 1]`` tensors this
is the L1/TV weighted by ``1 / STD`` per channel, about 4.4x the ``[0, 1]`` values), and the VGG16
receives the normalised tensors, i.e. ``[0, 1]`` images with ImageNet normalisation
(``feature_normalization="imagenet"``). The model returns ``[0, 1]`` outputs (``x_n * STD +
MEAN``) and every term maps them back, so each term equals the official one (checked against the
``loss`` case of ``shared/fixtures/madf``).

Optimisation (``train.py``): Adam lr 2e-4 (PyTorch defaults: betas (0.9, 0.999), eps 1e-8),
constant, batch 6 (``train.sh``: 4) at 512x512 crops; no fine-tune stage (the BatchNorm freezing
code is commented out), no discriminator.

Data (``dataset.py``): resize the shorter side to 572, random crop 512, horizontal flip
(``data_policy="random_crop"``, the closest crop policy here); masks resized with bilinear
filtering (soft edges), rotated up to 10 degrees, flipped.
"""

from __future__ import annotations

from tfinpaint.training.recipes import LossTerm, OptimizerSpec, Recipe, register_recipe


def madf_recipe(official_style_quirk: bool = True, name: str | None = None) -> Recipe:
    """The MADF recipe for the official three-output network (``n_refinement=2``).

    Args:
        official_style_quirk: style term on output 2 as the official code computes it (True)
            or on the final output (False). Defaults to `True`.
        name: recipe name. Defaults to ``"madf"`` / ``"madf_style_last"``.
    """
    style_output = "output_2" if official_style_quirk else "output"
    terms = []
    for k, output in enumerate(("output_1", "output_2", "output"), start=1):
        # InpaintingLoss: hole += L1((1-M)*out, (1-M)*gt); valid += L1(M*out, M*gt), outputs 1-3.
        terms.append(LossTerm("hole", 6.0, output=output, name=f"hole_{k}"))
        terms.append(LossTerm("valid", 1.0, output=output, name=f"valid_{k}"))
    for k, output in ((2, "output_2"), (3, "output")):
        # prc += L1(f(out), f(gt)) + L1(f(comp), f(gt)) over pool1-3, outputs 2 and 3.
        terms.append(LossTerm("perceptual", 0.05, output=output, on="both", name=f"prc_{k}"))
    # style: Gram L1 of raw and composite features (official index quirk: output 2).
    terms.append(LossTerm("style", 120.0, output=style_output, on="both", name="style"))
    # tv: total_variation_loss(mask * input + (1 - mask) * output_3), the whole image.
    terms.append(LossTerm("tv_image", 0.1, output="output", on="composite", name="tv"))
    return Recipe(
        name=name or ("madf" if official_style_quirk else "madf_style_last"),
        terms=tuple(terms),
        feature_network="vgg16",  # net.py::VGG16FeatureExtractor, torchvision vgg16(True)
        feature_layers=("pool1", "pool2", "pool3"),
        feature_normalization="imagenet",  # the VGG sees the normalised tensors
        pixel_space="imagenet",  # L1 / TV computed on normalised tensors
        adversarial=None,
        adversarial_weight=0.0,
        g_optimizer=OptimizerSpec(name="adam", learning_rate=2e-4, epsilon=1e-8),
        d_optimizer=None,
        finetune=None,
        data_policy="random_crop",
        notes=(
            "Official MADF (loss.py::InpaintingLoss, --use_incremental_supervision): batch 6 "
            "at 512x512, Adam 2e-4; terms on outputs 1-3 as in the module docstring. Needs the "
            "official n_refinement=2 (outputs output_1, output_2, output)."
            + ("" if official_style_quirk else " Style on the final output (not the code's).")
        ),
    )


MADF = register_recipe(madf_recipe(official_style_quirk=True))
MADF_STYLE_LAST = register_recipe(madf_recipe(official_style_quirk=False))
