"""Adaptive feature merging of RFR-Net (Li et al., CVPR 2020, Sec. 3.4, Eq. 3).

The recurrent feature reasoning produces one feature map per recurrence, each valid only where
its (growing) mask is 1. The merged map averages, at every location, only the feature maps that
were filled there::

    F_bar = (1/K) sum_k F_k * M_k  /  ((1/K) sum_k M_k + eps)

Official code (``modules/RFRNet.py::RFRNet.forward``): ``x3 = (x3 * m3).mean(dim=2) /
(m3.mean(dim=2) + 1e-7)`` over the stem output and the six recurrence outputs (K = 7). The
paper's Eq. 3 writes the ratio of sums, which differs only through ``eps`` (here ``K * eps``);
the code's mean/mean form is kept so the numbers match. Where no map is valid the result is 0.
"""

from __future__ import annotations

import keras
from keras import ops

from tfinpaint.api_export import tfinpaint_export


@tfinpaint_export("tfinpaint.layers.AdaptiveFeatureMerge")
class AdaptiveFeatureMerge(keras.layers.Layer):
    """Masked average of K feature maps (RFR-Net adaptive feature merging, Eq. 3).

    Args:
        epsilon: added to the mean of the masks. Defaults to `1e-7` (official code).

    Call arguments:
        inputs: ``(features, masks)``, two lists of K tensors, or the flat list
            ``[F_1, ..., F_K, M_1, ..., M_K]``. ``F_k`` is ``(N, H, W, C)``; ``M_k`` is
            ``(N, H, W, 1)`` or ``(N, H, W, C)``, **1 = valid (filled), 0 = hole**.

    Returns:
        ``(N, H, W, C)``: ``mean_k(F_k * M_k) / (mean_k(M_k) + epsilon)``, computed in float32
        and returned in the compute dtype.

    Example:
    ```python
    f1 = np.ones((1, 4, 4, 8), "float32"); f2 = 3 * f1
    m1 = np.ones((1, 4, 4, 1), "float32"); m2 = np.zeros_like(m1); m2[:, :2] = 1
    y = AdaptiveFeatureMerge()([f1, f2, m1, m2])  # 2.0 where both are valid, 1.0 elsewhere
    ```
    """

    def __init__(self, epsilon=1e-7, **kwargs):
        super().__init__(**kwargs)
        if not float(epsilon) > 0.0:
            raise ValueError(f"epsilon must be > 0. Received: epsilon={epsilon!r}")
        self.epsilon = float(epsilon)

    @staticmethod
    def _split(inputs):
        inputs = list(inputs)
        if len(inputs) == 2 and isinstance(inputs[0], (list, tuple)):
            features, masks = list(inputs[0]), list(inputs[1])
        else:
            if len(inputs) < 2 or len(inputs) % 2:
                raise ValueError(
                    "AdaptiveFeatureMerge takes (features, masks) or the flat list "
                    f"[F_1..F_K, M_1..M_K]. Received: {len(inputs)} tensors"
                )
            k = len(inputs) // 2
            features, masks = inputs[:k], inputs[k:]
        if len(features) != len(masks) or not features:
            raise ValueError(
                "AdaptiveFeatureMerge needs as many masks as feature maps (at least one). "
                f"Received: {len(features)} features, {len(masks)} masks"
            )
        channels = features[0].shape[-1]
        for i, (f, m) in enumerate(zip(features, masks)):
            if len(f.shape) != 4 or len(m.shape) != 4:
                raise ValueError(
                    f"Feature maps and masks must be rank-4 NHWC. Received: features[{i}].shape="
                    f"{tuple(f.shape)}, masks[{i}].shape={tuple(m.shape)}"
                )
            if f.shape[-1] != channels:
                raise ValueError(
                    f"Every feature map must have {channels} channels. Received: "
                    f"features[{i}].shape={tuple(f.shape)}"
                )
            if m.shape[-1] not in (1, channels):
                raise ValueError(
                    f"masks[{i}] must have 1 or {channels} channels (1 = valid). Received: "
                    f"masks[{i}].shape={tuple(m.shape)}"
                )
        return features, masks

    def call(self, inputs):
        features, masks = self._split(inputs)
        k = float(len(features))
        num = None
        den = None
        for f, m in zip(features, masks):
            m = ops.cast(m, "float32")
            fm = ops.cast(f, "float32") * m
            num = fm if num is None else num + fm
            den = m if den is None else den + m
        merged = (num / k) / (den / k + self.epsilon)
        return ops.cast(merged, self.compute_dtype)

    def compute_output_spec(self, inputs):
        features, _ = self._split(inputs)
        return keras.KerasTensor(tuple(features[0].shape), dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
