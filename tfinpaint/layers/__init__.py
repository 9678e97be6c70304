"""Reusable Keras layers, one concept per module (DESIGN section 1).

Every layer is serializable (registered as ``tfinpaint>Name``), dtype-policy aware and
stateless across calls (recurrent state is passed explicitly).
"""

from tfinpaint.layers.attention import AttentionModule, KnowledgeConsistentAttention
from tfinpaint.layers.batch_norm import BatchNorm, set_batchnorm_frozen
from tfinpaint.layers.feature_merge import AdaptiveFeatureMerge
from tfinpaint.layers.padding import reflect_pad_to_multiple
from tfinpaint.layers.partial_conv import PartialConv2D
from tfinpaint.layers.resize import BilinearResize, NearestDownsample, NearestUpsample
from tfinpaint.layers.transpose_conv import PhaseConv2DTranspose

__all__ = [
    "AdaptiveFeatureMerge",
    "AttentionModule",
    "BatchNorm",
    "BilinearResize",
    "KnowledgeConsistentAttention",
    "NearestDownsample",
    "NearestUpsample",
    "PartialConv2D",
    "PhaseConv2DTranspose",
    "reflect_pad_to_multiple",
    "set_batchnorm_frozen",
]
