"""Inpainting losses: pixel, perceptual/style/correlation, frequency, adversarial, and the
recipe-driven :class:`GeneratorLoss`.

Conventions: images NHWC in ``[0, 1]``; mask ``1 = known, 0 = hole`` (1 channel or as many as
the image); every loss is computed and returned in float32, whatever the dtype policy.
"""

from tfinpaint.losses.adversarial import (
    AdversarialLoss,
    HingeLoss,
    LeastSquaresLoss,
    NonSaturatingLoss,
    feature_matching_loss,
    get_adversarial_loss,
    gradient_penalty,
)
from tfinpaint.losses.feature_network import (
    VGG16_POOL_LAYERS,
    VGG19_PERCEPTUAL_LAYERS,
    VGG19_STYLE_LAYERS,
    FeatureExtractor,
    keras_layer_name,
    torch_feature_indices,
)
from tfinpaint.losses.frequency import (
    high_frequency_loss,
    high_pass,
    low_frequency_loss,
    low_pass,
)
from tfinpaint.losses.generator_loss import GeneratorLoss
from tfinpaint.losses.perceptual import (
    correlation_loss,
    correlation_matrix,
    gram_matrix,
    perceptual_loss,
    style_loss,
)
from tfinpaint.losses.pixel import hole_border_l1, hole_l1, l1, total_variation, valid_l1
from tfinpaint.losses.sobel import sobel_edge_loss

__all__ = [
    "AdversarialLoss",
    "FeatureExtractor",
    "GeneratorLoss",
    "HingeLoss",
    "LeastSquaresLoss",
    "NonSaturatingLoss",
    "VGG16_POOL_LAYERS",
    "VGG19_PERCEPTUAL_LAYERS",
    "VGG19_STYLE_LAYERS",
    "correlation_loss",
    "correlation_matrix",
    "feature_matching_loss",
    "get_adversarial_loss",
    "gradient_penalty",
    "gram_matrix",
    "high_frequency_loss",
    "high_pass",
    "hole_border_l1",
    "hole_l1",
    "keras_layer_name",
    "l1",
    "low_frequency_loss",
    "sobel_edge_loss",
    "low_pass",
    "perceptual_loss",
    "style_loss",
    "torch_feature_indices",
    "total_variation",
    "valid_l1",
]
