"""Reusable Keras layers, one concept per module (DESIGN section 1).

Every layer is serializable (registered as ``tfinpaint>Name``), dtype-policy aware and
stateless across calls (recurrent state is passed explicitly).
"""

from tfinpaint.layers.attention import (
    AttentionModule,
    KnowledgeConsistentAttention,
    PixelAttention,
    PixelContextualAttention,
)
from tfinpaint.layers.batch_norm import BatchNorm, set_batchnorm_frozen
from tfinpaint.layers.contextual_attention import ContextualAttention
from tfinpaint.layers.dense_fusion import DenseMultiScaleFusion
from tfinpaint.layers.dynamic_filter import MaskAwareDynamicConv
from tfinpaint.layers.feature_merge import AdaptiveFeatureMerge
from tfinpaint.layers.padding import reflect_pad, reflect_pad_to_multiple, sliced_reflect_padding
from tfinpaint.layers.partial_conv import PartialConv2D
from tfinpaint.layers.pointwise_norm import PointwiseNorm
from tfinpaint.layers.recurrent_conv import RecurrentConv2D
from tfinpaint.layers.region_conv import RegionConv2D
from tfinpaint.layers.resize import (
    BilinearResize,
    NearestDownsample,
    NearestUpsample,
    resize_nearest_align_corners,
)
from tfinpaint.layers.spectral_norm import SpectralNorm
from tfinpaint.layers.squeeze_excitation import SqueezeExcitation
from tfinpaint.layers.transpose_conv import PhaseConv2DTranspose

__all__ = [
    "AdaptiveFeatureMerge",
    "AttentionModule",
    "BatchNorm",
    "BilinearResize",
    "ContextualAttention",
    "DenseMultiScaleFusion",
    "KnowledgeConsistentAttention",
    "MaskAwareDynamicConv",
    "NearestDownsample",
    "NearestUpsample",
    "PartialConv2D",
    "PhaseConv2DTranspose",
    "PixelAttention",
    "PixelContextualAttention",
    "PointwiseNorm",
    "RecurrentConv2D",
    "RegionConv2D",
    "SpectralNorm",
    "SqueezeExcitation",
    "reflect_pad",
    "reflect_pad_to_multiple",
    "resize_nearest_align_corners",
    "set_batchnorm_frozen",
    "sliced_reflect_padding",
]
