"""Training recipe of region-wise coarse-to-fine inpainting (Ma et al., "Coarse-to-Fine Image
Inpainting via Region-wise Convolutions and Non-Local Correlation", IJCAI 2019), as the authors'
code trains it (``vickyFox/Region-wise-Inpainting``, ``inpaint_model.py::build_graph_with_loss``
with its defaults, stage 0 = no discriminator)::

    g_loss = rec + 0.001 * style + 1e-5 * cor
    rec   = reduce_sum|gt - x1| + reduce_sum|gt - x2|           ([-1, 1] images)
    style = sum_{pool1..3} reduce_sum|G(phi(c2)) - G(phi(gt))|  (G = F^T F / (C H W))
    cor   = reduce_sum|R(phi_pool2(c1)) - R(phi_pool2(gt))|     (R = F F^T / C^2, Eq. 4)

with ``x1`` / ``x2`` the stage-1 / stage-2 outputs, ``c1`` / ``c2`` their composites
``x M + gt (1 - M)``, and ``phi`` VGG16 (``vgg/vgg16.py::Vgg16.build``) on the image resized to
224x224 (TF1 ``resize_images``, bilinear), scaled to [0, 255], RGB -> BGR, minus the ImageNet BGR
mean (``feature_normalization="caffe"``, ``feature_resize=224``).

Mapping to tfinpaint terms (images in [0, 1] here):

- ``rec``: ``l1`` with ``reduction="sum"`` on ``stage_1`` and on ``output``, weight **2**:
  a difference in [-1, 1] space is twice the [0, 1] one.
- ``style``: on the stage-2 composite (``output``, ``on="composite"``), pool1..pool3,
  ``reduction="sum"``, weight 0.001 (``lambda_style``). The VGG input ``(x + 1) * 127.5`` of
  the code equals ``255 x`` of the [0, 1] image, so no factor.
- ``correlation``: on the stage-1 composite (``stage_1``, ``on="composite"``), pool2
  (``loss_cor`` takes ``output[1]`` of ``[pool1, pool2, pool3]``), ``reduction="sum"``, weight
  1e-5 (``lambda_cor``), computed in blocks of ``chunk_size`` rows (the value is the dense one;
  at the 224 resize pool2 is 56x56, a 3136 x 3136 matrix per image; without the resize, e.g.
  ``feature_resize=None`` at 512 px, pool2 is 128x128 and the dense matrix would be 1 GiB per
  image, which the blocks never hold).

The reductions are sums, as in the code, so the loss scales with the batch and image size; Adam
is invariant to that scale (up to its epsilon), so the code's relative weights are what matter.
For mean reductions, ``replace()`` the terms with ``options={"reduction": "mean"}`` and
re-derived weights.

Optimisation (``train.py``): Adam, lr 1e-4 (hard-coded), beta_1 0.5, beta_2 0.9 (TF1 Adam,
epsilon 1e-8), batch 8, 256 x 256, 20 epochs. No fine-tune stage and no discriminator: the
region-wise discriminator (``RW_discriminator``, ``--stage 1``) belongs to the journal version
(arXiv 1909.12507), not to the IJCAI paper, so it is not part of this recipe.

Data (``train.py``): images resized (not cropped) to 256 with OpenCV; the closest tfinpaint
policy is ``"random_square_crop"`` then resize, as the other recipes.
"""

from __future__ import annotations

from tfinpaint.training.recipes import LossTerm, OptimizerSpec, Recipe, register_recipe

SUM = {"reduction": "sum"}

REGIONWISE = register_recipe(
    Recipe(
        name="regionwise",
        terms=(
            # rec_loss: reduce_sum|gt - x1| in [-1, 1] (= 2 x the [0, 1] sum).
            LossTerm("l1", 2.0, output="stage_1", on="raw", options=SUM),
            # rec_loss: reduce_sum|gt - x2|.
            LossTerm("l1", 2.0, output="output", on="raw", options=SUM),
            # lambda_cor * loss_cor(vgg(c1), vgg(gt)): pool2, reduce_sum, blockwise.
            LossTerm("correlation", 1e-5, output="stage_1", on="composite",
                     options={"reduction": "sum", "chunk_size": 1024}),
            # lambda_style * loss_style(vgg(c2), vgg(gt)): pool1..3, reduce_sum.
            LossTerm("style", 1e-3, output="output", on="composite", options=SUM),
        ),
        feature_network="vgg16",  # vgg/vgg16.py (npy weights of the Caffe VGG16)
        feature_layers=("pool1", "pool2", "pool3"),  # vgg_pos = [pool1, pool2, pool3]
        feature_normalization="caffe",  # (x + 1) * 127.5, RGB -> BGR, minus VGG_MEAN
        feature_resize=224,  # tf.image.resize_images(rgb, (224, 224))
        adversarial=None,  # stage 0: no discriminator (IJCAI paper)
        adversarial_weight=0.0,
        # train.py: tf.train.AdamOptimizer(1e-4, beta1=0.5, beta2=0.9) (TF1 epsilon 1e-8).
        g_optimizer=OptimizerSpec(name="adam", learning_rate=1e-4, beta_1=0.5, beta_2=0.9,
                                  epsilon=1e-8),
        d_optimizer=None,
        finetune=None,
        data_policy="random_square_crop",
        notes=(
            "Region-wise inpainting (Ma et al. IJCAI 2019), authors' build_graph_with_loss "
            "defaults: rec (sum, both stages) + 0.001 style (stage-2 composite, pool1-3) + "
            "1e-5 correlation (stage-1 composite, pool2); VGG16 at 224 px, Caffe input. Batch 8, "
            "256 x 256, 20 epochs."
        ),
    )
)

# The same objective with the VGG16 at the training resolution (no 224 px resize): the
# correlation then grows as (H/4 * W/4)**2 per image (pool2), 1 GiB per dense matrix at 512 px,
# which the blockwise correlation never holds. Cheaper than the 224 px resize below 224 px
# crops (the CLI training test uses it at 64 px).
REGIONWISE_FULLRES = register_recipe(
    REGIONWISE.replace(
        name="regionwise_fullres",
        feature_resize=None,
        notes=(
            "regionwise with VGG16 at the training resolution (no 224 px resize); the "
            "non-local correlation at pool2 is computed in blocks of 1024 rows."
        ),
    )
)
