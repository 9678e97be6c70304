"""BatchNormalization with PyTorch defaults and freezable statistics.

PyTorch's ``nn.BatchNorm2d`` uses ``eps=1e-5`` and ``momentum=0.1`` (new = 0.9 * old + 0.1 *
batch), which is Keras ``epsilon=1e-5, momentum=0.9`` (DESIGN section 8). Those are the defaults
here.

Fine-tuning in RFR-Net (``RFRNet.train(finetune=True)``) and PConv puts BatchNorm layers in eval
mode, so they normalize with (and no longer update) their running statistics, while gamma and
beta stay trainable. Keras' ``trainable=False`` on a BatchNormalization layer would freeze gamma
and beta as well, so this layer has a separate switch, ``frozen_stats``: when ``True`` the layer
always runs in inference mode, whatever ``training`` says. The trainer's fine-tune stage
(``tfinpaint.training``) sets it; set it before tracing (``fit``/``tf.function``).

Running variance: PyTorch updates ``running_var`` with the *unbiased* batch variance
(n / (n - 1) times the biased one, n = N*H*W values per channel), Keras with the biased one.
Forward outputs are the same either way (both normalize a training batch with the biased
variance); only the running statistics differ. ``unbiased_variance=True`` reproduces PyTorch's
update exactly (``running_var = 0.9 * running_var + 0.1 * n / (n - 1) * var_biased``), which a
port checked against the official running statistics needs (MADF's train-mode fixture).
"""

from __future__ import annotations

import keras
from keras import ops

from tfinpaint.api_export import tfinpaint_export


@tfinpaint_export("tfinpaint.layers.BatchNorm")
class BatchNorm(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` with PyTorch defaults and ``frozen_stats``.

    Args:
        frozen_stats: bool, always normalize with the moving statistics and never update them
            (PyTorch ``module.eval()`` during fine-tuning). Gamma/beta stay trainable.
            Defaults to `False`.
        epsilon: Defaults to `1e-5` (PyTorch).
        momentum: Defaults to `0.9` (PyTorch ``momentum=0.1``).
        unbiased_variance: bool, update the moving variance with the unbiased batch variance
            ``n / (n - 1) * var`` as PyTorch's ``BatchNorm2d`` does (n = values per channel in
            the batch; n = 1 is treated as n / 1, where PyTorch raises). The normalization
            itself still uses the biased variance, as in both frameworks. Defaults to `False`
            (Keras' update).
        **kwargs: other ``BatchNormalization`` arguments.
    """

    def __init__(
        self, frozen_stats=False, epsilon=1e-5, momentum=0.9, unbiased_variance=False, **kwargs
    ):
        super().__init__(epsilon=epsilon, momentum=momentum, **kwargs)
        if unbiased_variance and self.renorm:
            raise ValueError(
                "unbiased_variance=True is not supported together with renorm=True. "
                f"Received: unbiased_variance={unbiased_variance}, renorm={self.renorm}"
            )
        self.frozen_stats = bool(frozen_stats)
        self.unbiased_variance = bool(unbiased_variance)

    def call(self, inputs, training=None, mask=None):
        if self.frozen_stats:
            training = False
        if not (self.unbiased_variance and training and self.trainable):
            return super().call(inputs, training=training, mask=mask)
        # Training step with PyTorch's running-variance update (the rest as Keras' own call).
        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        mean, variance = self._moments(x, mask)
        if mask is None:
            n = ops.cast(ops.size(x), x.dtype) / ops.cast(ops.shape(x)[self.axis], x.dtype)
        else:  # a Keras mask (one dimension less) selects the values that count
            n = ops.sum(ops.cast(mask, x.dtype))
        unbiased = variance * (n / ops.maximum(n - 1.0, 1.0))
        momentum = self.momentum
        self.moving_mean.assign(
            ops.cast(self.moving_mean, x.dtype) * momentum + mean * (1.0 - momentum)
        )
        self.moving_variance.assign(
            ops.cast(self.moving_variance, x.dtype) * momentum + unbiased * (1.0 - momentum)
        )
        outputs = ops.batch_normalization(
            x=x,
            mean=mean,
            variance=variance,
            axis=self.axis,
            offset=ops.cast(self.beta, x.dtype) if self.center else None,
            scale=ops.cast(self.gamma, x.dtype) if self.scale else None,
            epsilon=self.epsilon,
        )
        return ops.cast(outputs, self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "frozen_stats": self.frozen_stats,
            "unbiased_variance": self.unbiased_variance,
        }


def set_batchnorm_frozen(model, frozen: bool = True, name_filter=None) -> list[str]:
    """Freezes (or unfreezes) the statistics of the BatchNorm layers of ``model``.

    The one mechanism behind every fine-tune stage (``tfinpaint.training.trainer.apply_finetune``).
    :class:`BatchNorm` layers get ``frozen_stats``; a plain ``keras.layers.BatchNormalization``
    (a user's own model) gets an instance-level ``call`` that forces ``training=False`` (Keras'
    ``trainable=False`` would freeze gamma/beta too), undone by ``frozen=False``. Apply before
    the first traced step: a ``tf.function`` traced earlier keeps the old behaviour.

    Args:
        model: a Keras layer or model (nested models are walked).
        frozen: value to set.
        name_filter: optional ``callable(layer_path) -> bool`` selecting layers by their path
            ``"model/.../layer"`` (e.g. ``lambda p: "/enc_" in p`` for PConv's encoder-only
            freeze).

    Returns:
        The paths of the layers selected.
    """
    selected = []
    for path, layer in _walk(model, model.name):
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        if name_filter is not None and not name_filter(path):
            continue
        if isinstance(layer, BatchNorm):
            layer.frozen_stats = bool(frozen)
        elif frozen and not getattr(layer, "frozen_stats", False):
            original_call = layer.call

            def call(inputs, *args, training=None, _call=original_call, **kwargs):
                del training  # statistics frozen: always the inference-mode normalization
                return _call(inputs, *args, training=False, **kwargs)

            layer._unfrozen_call = original_call
            layer.call = call
            layer.frozen_stats = True
        elif not frozen and getattr(layer, "frozen_stats", False):
            layer.call = layer._unfrozen_call
            del layer._unfrozen_call
            layer.frozen_stats = False
        selected.append(path)
    return selected


def _walk(layer, path):
    yield path, layer
    for child in getattr(layer, "_layers", []) or []:
        yield from _walk(child, f"{path}/{child.name}")
