"""Pixel-wise attention layers: knowledge-consistent attention (KCA) of RFR-Net and MANet's
contextual attention (:class:`ContextualAttention`, :class:`PixelContextualAttention`, at the
end of this module), which share steps 1-4 below (:func:`attention_scores`).

Li et al., "Recurrent Feature Reasoning for Image Inpainting", CVPR 2020, Section 3.3
(https://arxiv.org/abs/2008.03737); official code ``jingyuanli001/RFR-Inpainting``,
``modules/Attention.py`` (``KnowledgeConsistentAttention``, ``AttentionModule``).

What the official code computes (``patch_size=1``, ``propagate_size=3``), for a feature map
``F`` of shape ``(h, w, C)``, query pixel ``q`` and key pixel ``k`` (every pixel is a key, hole
pixels included):

1. normalised keys: ``K_k = (F_k + 1e-7) / ||F_k + 1e-7||_2`` (L2 over channels);
2. cosine-like scores against the *raw* query: ``s(q, k) = F_q . K_k``;
3. propagation: ``s'(q, k) = sum_{q' in 3x3(q)} s(q', k)`` with zero padding (the official
   ``avg_pool2d(s, 3, 1, 1) * 9``; ``count_include_pad=True``, so average x 9 is the plain sum);
4. ``a(q, .) = softmax_k s'(q, k)`` (no temperature);
5. knowledge consistency (Eq. 4-5 of the paper) from the second recurrence on, with the
   scores ``a_prev`` and the mask ``m_prev`` (at the query pixel) of the previous recurrence and
   the learnable scalar ``ratio``::

       a(q, k) <- (a_prev(q, k) * m_prev(q) + a(q, k) * (|ratio| + 1e-7))
                  / (m_prev(q) + |ratio| + 1e-7)

   (the paper writes a learnable lambda; the code uses ``|ratio| + 1e-7`` as the weight of the
   new scores, so a negative ``ratio`` acts like its absolute value);
6. reconstruction: ``out_q = sum_k a(q, k) K_k``, a weighted sum of the *normalised* keys
   (``conv_transpose2d`` with the normalised kernels), not of the raw features.

``AttentionModule`` then merges ``concat(out, F)`` with a 1x1 convolution (with bias) back to
``C`` channels.

Port notes:

- The official code loops over the batch; here everything is batched (matrix products). Since
  step 3 is linear in the queries, the 3x3 sum is applied to the query *features* before the
  product (``s'(q, k) = (sum_{q'} F_q') . K_k``), which is the same number with O(hw C)
  instead of O((hw)^2) work for the propagation. Zero padding of the score map equals zero
  padding of the features (a padded query has score 0).
- The official recurrent state (``att_scores_prev``, ``masks_prev``) lives on the module and is
  reset at the start of every ``RFRNet.forward``. Here it is passed explicitly: the layer takes
  the previous scores and mask as inputs and returns the new ones, so the layer keeps no state
  across calls (``tf.function``, SavedModel, TFLite stay stateless and batch-size agnostic).
- Scores are laid out ``(N, h, w, h*w)``: query pixel ``(y, x)`` along the spatial axes, key
  ``k = ky * w + kx`` (row-major, as PyTorch's ``view``) along the last axis, the NHWC image of
  the official ``(N, h*w, h, w)`` tensor.
- The attention runs in float32 under mixed precision (large raw scores, a softmax over
  ``h*w`` keys); its output is cast back to the compute dtype.
- ``AttentionModule`` resizes the mask to the feature size like the official
  ``F.interpolate(mask, size)`` (nearest, PyTorch picks source index ``floor(i * scale)``) by
  strided slicing ``mask[:, ::s, ::s]`` for an integer factor ``s`` (``mask_stride``); TF2's
  ``resize(..., "nearest")`` uses half-pixel centres and would pick other pixels.
"""

from __future__ import annotations

import keras
from keras import ops

from tfinpaint.api_export import tfinpaint_export
from tfinpaint.layers.resize import downsample_nearest
from tfinpaint.layers.torch_init import torch_default_initializers

KEY_EPSILON = 1e-7  # added to every key before the L2 normalisation (official code)
RATIO_EPSILON = 1e-7  # added to |ratio| in the knowledge-consistency blend (official code)


def _check_rank4(name, shape):
    if len(shape) != 4:
        raise ValueError(f"{name} must be a rank-4 NHWC tensor. Received: {name}.shape={shape}")


def _attention_output_spec(feature_shape, dtype):
    """``(out, scores, mask)`` specs of the attention layers: ``out`` like the feature in the
    compute dtype, ``scores`` ``(N, H, W, H*W)`` and ``mask`` ``(N, H, W, 1)`` in float32."""
    n, h, w, c = feature_shape
    k = h * w if h is not None and w is not None else None
    return (
        keras.KerasTensor((n, h, w, c), dtype=dtype),
        keras.KerasTensor((n, h, w, k), dtype="float32"),
        keras.KerasTensor((n, h, w, 1), dtype="float32"),
    )


def attention_scores(feature, key_source, propagate_size=3):
    """Steps 1-4 of the module docstring, shared by RFR-Net's KCA and MANet's attention.

    Args:
        feature: float32 ``(N, h, w, C)``, the queries.
        key_source: float32 ``(N, h, w, C)``, the features the keys are made of: ``feature``
            itself (RFR-Net) or ``feature * mask`` (MANet's ``background``, hole keys zeroed
            before the ``+ 1e-7``, so they normalise to ``1 / sqrt(C)`` everywhere).
        propagate_size: ``3`` (zero-padded 3x3 sum over neighbouring queries) or ``1``.

    Returns:
        ``(scores, keys)``: softmax scores ``(N, h*w, h*w)`` (query, key; row-major pixel
        order) and the normalised keys ``(N, h*w, C)``.
    """
    shape = ops.shape(feature)
    n, hw = shape[0], shape[1] * shape[2]
    c = feature.shape[-1]
    # 1. keys: every pixel, + 1e-7, L2-normalised over channels (official conv_kernels).
    # Computed as (x / 1e-7 + 1) / ||x / 1e-7 + 1||, the same unit vector: the TFLite converter
    # fuses x / sqrt(sum(x^2)) into L2_NORMALIZATION, whose epsilon (1e-6) would otherwise
    # change MANet's zeroed hole keys (norm ~1e-7); scaled, every norm is >= ~1. The squares are
    # a MUL (keys * keys, the same values as SQUARE): the converter still fused the SQUARE form
    # into L2_NORMALIZATION, which XNNPACK does not take (it split the delegated graph).
    keys = ops.reshape(key_source, (n, hw, c)) * (1.0 / KEY_EPSILON) + 1.0
    keys = keys / ops.sqrt(ops.sum(keys * keys, axis=-1, keepdims=True))
    # 3. propagation as a zero-padded 3x3 sum of the raw queries (linear, so equal to the
    # official avg_pool2d(scores, 3, 1, 1) * 9 with count_include_pad=True, or MANet's grouped
    # 3x3 ones conv with padding 1).
    queries = feature
    if propagate_size == 3:
        ones = ops.ones((3, 3, c, 1), dtype="float32")
        queries = ops.depthwise_conv(
            ops.pad(feature, [[0, 0], [1, 1], [1, 1], [0, 0]]), ones, padding="valid"
        )
    queries = ops.reshape(queries, (n, hw, c))
    # 2. scores of every query against every normalised key; 4. softmax over the keys.
    scores = ops.matmul(queries, ops.transpose(keys, (0, 2, 1)))  # (N, Q, K)
    return ops.softmax(scores, axis=-1), keys


@tfinpaint_export("tfinpaint.layers.KnowledgeConsistentAttention")
class KnowledgeConsistentAttention(keras.layers.Layer):
    """Knowledge-consistent attention (RFR-Net, Li et al. CVPR 2020, Sec. 3.3, Eq. 4-5).

    Every pixel of the feature map attends to every pixel (keys L2-normalised, hole pixels
    included), scores are summed over a 3x3 query neighbourhood, soft-maxed over the keys, and,
    when the previous recurrence's scores are given, blended with them weighted by the previous
    mask and the learnable ``ratio`` (see the module docstring for the formulas). The output is
    the attention-weighted sum of the normalised keys.

    Args:
        propagate_size: ``3`` (official: a zero-padded 3x3 sum of the scores over neighbouring
            queries) or ``1`` (no propagation). The official code uses a 3x3 window for any
            value other than 1, so only these two are accepted. Defaults to `3`.
        ratio_initializer: initializer of the scalar ``ratio`` (shape ``(1,)``). Defaults to
            `"ones"` (official ``nn.Parameter(torch.ones(1))``).

    Call arguments:
        inputs: ``[feature, mask]`` (first recurrence) or ``[feature, mask, prev_scores,
            prev_mask]``. ``feature``: ``(N, h, w, C)``. ``mask``: ``(N, h, w, 1)`` at the
            feature's resolution, **1 = known, 0 = hole**; it is only stored as the next
            state. ``prev_scores``: ``(N, h, w, h*w)`` from the previous call; ``prev_mask``:
            ``(N, h, w, 1)``, the ``mask`` of the previous call.

    Returns:
        ``(output, scores, mask)``: ``output`` ``(N, h, w, C)`` in the compute dtype;
        ``scores`` ``(N, h, w, h*w)`` float32, the (blended) attention, to pass as
        ``prev_scores`` to the next call; ``mask`` ``(N, h, w, 1)`` float32, to pass as
        ``prev_mask``.

    Example:
    ```python
    f = np.random.rand(2, 8, 8, 16).astype("float32")
    m = np.ones((2, 8, 8, 1), "float32")
    kca = KnowledgeConsistentAttention()
    out, scores, m1 = kca([f, m])  # first recurrence
    out2, scores2, _ = kca([f, m, scores, m1])  # later recurrences: state passed explicitly
    ```
    """

    def __init__(self, propagate_size=3, ratio_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        if propagate_size not in (1, 3):
            raise ValueError(
                "propagate_size must be 1 or 3 (the official code propagates over 3x3 for any "
                f"value other than 1). Received: propagate_size={propagate_size!r}"
            )
        self.propagate_size = int(propagate_size)
        self.ratio_initializer = keras.initializers.get(ratio_initializer)

    def build(self, input_shape):
        shapes = list(input_shape)
        if len(shapes) not in (2, 4):
            raise ValueError(
                "KnowledgeConsistentAttention takes [feature, mask] or [feature, mask, "
                f"prev_scores, prev_mask]. Received: {len(shapes)} inputs"
            )
        _check_rank4("feature", tuple(shapes[0]))
        if shapes[0][-1] is None:
            raise ValueError(f"The channel dimension of feature must be known. Received: "
                             f"feature.shape={tuple(shapes[0])}")
        self.ratio = self.add_weight(
            name="ratio", shape=(1,), initializer=self.ratio_initializer, dtype=self.dtype
        )

    def _validate(self, feature, mask, prev_scores, prev_mask):
        _check_feature_mask(feature, mask)
        if prev_scores is not None:
            _check_rank4("prev_scores", tuple(prev_scores.shape))
            h, w, k = feature.shape[1], feature.shape[2], prev_scores.shape[-1]
            if h is not None and w is not None and k is not None and k != h * w:
                raise ValueError(
                    "prev_scores must be (N, h, w, h*w) for this feature map. Received: "
                    f"prev_scores.shape={tuple(prev_scores.shape)}, "
                    f"feature.shape={tuple(feature.shape)}"
                )

    def call(self, inputs):
        inputs = list(inputs)
        if len(inputs) == 2:
            feature, mask = inputs
            prev_scores = prev_mask = None
        elif len(inputs) == 4:
            feature, mask, prev_scores, prev_mask = inputs
        else:
            raise ValueError(
                "KnowledgeConsistentAttention takes [feature, mask] or [feature, mask, "
                f"prev_scores, prev_mask]. Received: {len(inputs)} inputs"
            )
        self._validate(feature, mask, prev_scores, prev_mask)
        f = ops.cast(feature, "float32")
        n, h, w = ops.shape(f)[0], ops.shape(f)[1], ops.shape(f)[2]
        c = f.shape[-1]  # static (checked in build)
        hw = h * w
        scores, keys = attention_scores(f, f, self.propagate_size)

        # 5. knowledge-consistent blend with the previous recurrence.
        if prev_scores is not None:
            weight = ops.abs(ops.cast(self.ratio, "float32")) + RATIO_EPSILON
            prev = ops.reshape(ops.cast(prev_scores, "float32"), (n, hw, hw))
            pm = ops.reshape(ops.cast(prev_mask, "float32"), (n, hw, 1))
            scores = (prev * pm + scores * weight) / (pm + weight)

        # 6. reconstruction from the normalised keys.
        out = ops.matmul(scores, keys)  # (N, Q, C)
        out = ops.reshape(out, (n, h, w, c))
        scores = ops.reshape(scores, (n, h, w, hw))
        return ops.cast(out, self.compute_dtype), scores, ops.cast(mask, "float32")

    def compute_output_spec(self, inputs):
        return _attention_output_spec(list(inputs)[0].shape, self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "propagate_size": self.propagate_size,
            "ratio_initializer": keras.initializers.serialize(self.ratio_initializer),
        }


@tfinpaint_export("tfinpaint.layers.AttentionModule")
class AttentionModule(keras.layers.Layer):
    """RFR-Net ``AttentionModule``: KCA then a 1x1 convolution of ``concat(attention, input)``.

    Official ``AttentionModule(inchannel)`` with ``patch_size_list=[1]``,
    ``propagate_size_list=[3]``: ``combiner(concat(KCA(F, mask), F))``, ``combiner`` a 1x1
    ``Conv2d(2C, C)`` **with** bias (the only bias in RFR-Net). Child layers: ``att``
    (:class:`KnowledgeConsistentAttention`) and ``combiner`` (``keras.layers.Conv2D``), named
    like the official ``att.att`` / ``att.combiner``.

    Args:
        propagate_size: see :class:`KnowledgeConsistentAttention`. Defaults to `3`.
        mask_stride: integer factor between the mask's resolution and the feature's; the mask
            is subsampled as PyTorch's nearest ``F.interpolate`` does (``mask[:, ::s, ::s]``).
            RFR-Net passes the H/2 mask to the H/8 attention: ``4``. Defaults to `1`.
        kernel_initializer, bias_initializer: of the combiner. Default to PyTorch's
            ``Conv2d`` initialisation (uniform with variance ``1 / (3 fan_in)``, bias
            ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``).

    Call arguments:
        inputs: ``[feature, mask]`` or ``[feature, mask, prev_scores, prev_mask]``; ``mask``
            ``(N, h*s, w*s, 1)`` (1 = known), the others as for
            :class:`KnowledgeConsistentAttention` (``prev_mask`` at the feature resolution,
            as returned by the previous call).

    Returns:
        ``(output, scores, mask)``: ``output`` ``(N, h, w, C)``; ``scores`` and the resized
        ``mask`` are the state for the next recurrence.

    Example:
    ```python
    f = np.random.rand(1, 8, 8, 32).astype("float32")
    m = np.ones((1, 32, 32, 1), "float32")
    att = AttentionModule(mask_stride=4)
    y, scores, m_small = att([f, m])  # y: (1, 8, 8, 32)
    y2, _, _ = att([f, m, scores, m_small])
    ```
    """

    def __init__(
        self,
        propagate_size=3,
        mask_stride=1,
        kernel_initializer=None,
        bias_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(mask_stride, bool) or int(mask_stride) != mask_stride or mask_stride < 1:
            raise ValueError(
                f"mask_stride must be an int >= 1. Received: mask_stride={mask_stride!r}"
            )
        self.mask_stride = int(mask_stride)
        self.propagate_size = propagate_size
        self.kernel_initializer = (
            keras.initializers.get(kernel_initializer) if kernel_initializer is not None else None
        )
        self.bias_initializer = (
            keras.initializers.get(bias_initializer) if bias_initializer is not None else None
        )
        self.att = KnowledgeConsistentAttention(
            propagate_size=propagate_size, dtype=self.dtype_policy, name="att"
        )
        self.combiner = None

    def build(self, input_shape):
        shapes = list(input_shape)
        feature_shape = tuple(shapes[0])
        _check_rank4("feature", feature_shape)
        channels = feature_shape[-1]
        if channels is None:
            raise ValueError(f"The channel dimension of feature must be known. Received: "
                             f"feature.shape={feature_shape}")
        torch_kernel, torch_bias = torch_default_initializers(2 * channels)
        kernel_init = self.kernel_initializer or torch_kernel
        bias_init = self.bias_initializer or torch_bias
        self.combiner = keras.layers.Conv2D(
            channels, 1, use_bias=True, kernel_initializer=kernel_init,
            bias_initializer=bias_init, dtype=self.dtype_policy, name="combiner",
        )
        small = (feature_shape[0], feature_shape[1], feature_shape[2], 1)
        att_shapes = [feature_shape, small]
        if len(shapes) == 4:
            att_shapes += [tuple(shapes[2]), small]
        self.att.build(att_shapes)
        self.combiner.build((*feature_shape[:3], 2 * channels))

    def call(self, inputs):
        inputs = list(inputs)
        if len(inputs) not in (2, 4):
            raise ValueError(
                "AttentionModule takes [feature, mask] or [feature, mask, prev_scores, "
                f"prev_mask]. Received: {len(inputs)} inputs"
            )
        feature, mask = inputs[0], inputs[1]
        _check_rank4("mask", tuple(mask.shape))
        # PyTorch F.interpolate(nearest) takes the source index floor(i * scale) = i * stride.
        mask = downsample_nearest(ops.cast(mask, "float32"), self.mask_stride)
        att_out, scores, mask = self.att([feature, mask, *inputs[2:]])
        out = self.combiner(ops.concatenate([att_out, feature], axis=-1))
        return out, scores, mask

    def compute_output_spec(self, inputs):
        return _attention_output_spec(list(inputs)[0].shape, self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "propagate_size": self.propagate_size,
            "mask_stride": self.mask_stride,
            "kernel_initializer": (
                keras.initializers.serialize(self.kernel_initializer)
                if self.kernel_initializer is not None else None
            ),
            "bias_initializer": (
                keras.initializers.serialize(self.bias_initializer)
                if self.bias_initializer is not None else None
            ),
        }


def _check_feature_mask(feature, mask):
    _check_rank4("feature", tuple(feature.shape))
    _check_rank4("mask", tuple(mask.shape))
    if mask.shape[-1] != 1:
        raise ValueError(
            f"mask must have 1 channel (1 = known). Received: mask.shape={tuple(mask.shape)}"
        )
    for a, b, what in ((feature.shape[1], mask.shape[1], "height"),
                       (feature.shape[2], mask.shape[2], "width")):
        if a is not None and b is not None and a != b:
            raise ValueError(
                f"mask must have the feature's {what} (resize it first). Received: "
                f"feature.shape={tuple(feature.shape)}, mask.shape={tuple(mask.shape)}"
            )


@tfinpaint_export("tfinpaint.layers.PixelAttention")
class PixelAttention(keras.layers.Layer):
    """MANet's pixel-wise contextual attention (``ContextualAttentionModule``, patch 1).

    Wang et al., "Multistage Attention Network for Image Inpainting", Pattern Recognition 2020;
    official ``wangning-001/MANet`` ``ContextualAttention.py``. With ``m`` the mask at the
    feature's resolution (1 = known):

    1. keys from the known features only: ``K_k = (F_k m_k + 1e-7) / ||F_k m_k + 1e-7||``
       (hole keys become the constant ``1 / sqrt(C)``, they are not removed);
    2.-4. scores against the raw queries, summed over the 3x3 query neighbourhood, softmax over
       the keys (no temperature): :func:`attention_scores`, shared with RFR-Net's KCA;
    5. reconstruction ``rec_q = sum_k a(q, k) K_k`` (``conv_transpose2d`` with the normalised
       keys) and the official blend ``out = rec * (1 - m) + F * m`` (``/ patch_size**2 = 1``).

    The official code loops over the batch; here it is batched. Runs in float32 under mixed
    precision; the output is cast back to the compute dtype.

    Args:
        propagate_size: ``3`` (official) or ``1``. Defaults to `3`.

    Call arguments:
        inputs: ``[feature, mask]``, feature ``(N, h, w, C)``, mask ``(N, h, w, 1)``.

    Returns:
        ``(N, h, w, C)``.
    """

    def __init__(self, propagate_size=3, **kwargs):
        super().__init__(**kwargs)
        if propagate_size not in (1, 3):
            raise ValueError(f"propagate_size must be 1 or 3. Received: "
                             f"propagate_size={propagate_size!r}")
        self.propagate_size = int(propagate_size)

    def call(self, inputs):
        feature, mask = inputs
        _check_feature_mask(feature, mask)
        f = ops.cast(feature, "float32")
        m = ops.cast(mask, "float32")
        scores, keys = attention_scores(f, f * m, self.propagate_size)
        rec = ops.reshape(ops.matmul(scores, keys), ops.shape(f))
        return ops.cast(rec * (1.0 - m) + f * m, self.compute_dtype)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(tuple(inputs[0].shape), dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "propagate_size": self.propagate_size}


@tfinpaint_export("tfinpaint.layers.PixelContextualAttention")
class PixelContextualAttention(keras.layers.Layer):
    """MANet ``PixelContextualAttention(C)``: attention, squeeze-excitation, 1x1 combiner.

    ``combiner(SE(concat([F, CA(F, m)])))`` with ``m`` the full-resolution mask subsampled
    like the official ``F.interpolate(mask, size)`` (nearest, source index ``i * stride``),
    ``SE`` a :class:`~tfinpaint.layers.squeeze_excitation.SqueezeExcitation` of ``2C``
    channels (ratio 1) and ``combiner`` a 1x1 ``Conv2d(2C, C)`` with bias. Child layers are
    named like the official modules: ``ca`` (``CA_0``), ``squeeze_excitation``
    (``SqueezeExc``: ``fc1`` = ``blocks.0``, ``fc2`` = ``blocks.2``) and ``combiner``.

    Args:
        mask_stride: resolution factor between the mask and the feature (MANet: 8 after
            ``dec_4``, 4 after ``dec_3``). Defaults to `1`.
        propagate_size: see :class:`PixelAttention`. Defaults to `3`.

    Call arguments:
        inputs: ``[feature, mask]``, feature ``(N, h, w, C)``, mask ``(N, h*s, w*s, 1)``
            (1 = known).

    Returns:
        ``(output, attention)``: ``output`` ``(N, h, w, C)`` (the official module's output)
        and ``attention`` ``(N, h, w, C)``, the :class:`PixelAttention` output.
    """

    def __init__(self, mask_stride=1, propagate_size=3, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_stride, bool) or int(mask_stride) != mask_stride or mask_stride < 1:
            raise ValueError(
                f"mask_stride must be an int >= 1. Received: mask_stride={mask_stride!r}"
            )
        from tfinpaint.layers.squeeze_excitation import SqueezeExcitation

        self.mask_stride = int(mask_stride)
        self.propagate_size = int(propagate_size)
        self.ca = PixelAttention(propagate_size, dtype=self.dtype_policy, name="ca")
        self.squeeze_excitation = SqueezeExcitation(1.0, dtype=self.dtype_policy,
                                                    name="squeeze_excitation")
        self.combiner = None

    def build(self, input_shape):

        feature_shape = tuple(input_shape[0])
        _check_rank4("feature", feature_shape)
        channels = feature_shape[-1]
        if channels is None:
            raise ValueError(f"The channel dimension of feature must be known. Received: "
                             f"feature.shape={feature_shape}")
        kernel_init, bias_init = torch_default_initializers(2 * channels)
        self.combiner = keras.layers.Conv2D(
            channels, 1, kernel_initializer=kernel_init, bias_initializer=bias_init,
            dtype=self.dtype_policy, name="combiner",
        )
        self.squeeze_excitation.build((*feature_shape[:3], 2 * channels))
        self.combiner.build((*feature_shape[:3], 2 * channels))

    def call(self, inputs):
        feature, mask = inputs
        _check_rank4("mask", tuple(mask.shape))
        s = self.mask_stride
        fh, mh = feature.shape[1], mask.shape[1]
        if fh is not None and mh is not None and fh * s != mh:
            raise ValueError(
                f"mask must be mask_stride={s} times the feature's size. Received: "
                f"feature.shape={tuple(feature.shape)}, mask.shape={tuple(mask.shape)}"
            )
        small = downsample_nearest(ops.cast(mask, "float32"), s)
        attention = self.ca([feature, small])
        merged = self.squeeze_excitation(ops.concatenate([feature, attention], axis=-1))
        return self.combiner(merged), attention

    def compute_output_spec(self, inputs):
        # Two distinct tensors: a functional graph maps outputs by tensor identity.
        shape = tuple(inputs[0].shape)
        return (keras.KerasTensor(shape, dtype=self.compute_dtype),
                keras.KerasTensor(shape, dtype=self.compute_dtype))

    def get_config(self):
        return {**super().get_config(), "mask_stride": self.mask_stride,
                "propagate_size": self.propagate_size}
