"""Optimizers built from :class:`tfinpaint.training.recipes.OptimizerSpec`."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfinpaint")
class WarmupEMAAdam(keras.optimizers.Adam):
    """Adam with ``use_ema`` whose average warms up: after step ``t`` (0-based) the momentum is
    ``min(ema_momentum, (1 + t) / (10 + t))``, the ``num_updates`` rule of
    ``tf.train.ExponentialMovingAverage`` (0 at ``t = 0``: the average starts as the weights).

    Keras' plain EMA uses ``ema_momentum`` from the second step on, so after ``n`` steps a
    fraction ``ema_momentum ** n`` of the average is still the first step's (nearly random)
    weights: 37 % after 1,000 steps at 0.999. With the warm-up the average covers roughly the
    last ``t / 10`` steps early in training and ``1 / (1 - ema_momentum)`` steps later on. Same
    variables as ``keras.optimizers.Adam(use_ema=True)`` (checkpoints are interchangeable).
    """

    def _update_model_variables_moving_average(self, trainable_variables):
        if not self.use_ema:
            return
        step = ops.cast(self.iterations, "float32")
        momentum = ops.minimum(
            ops.cast(self.ema_momentum, "float32"), (1.0 + step) / (10.0 + step)
        )
        # The first update copies the weights (the average variables start at zeros).
        momentum = ops.where(ops.equal(self.iterations, 0), 0.0, momentum)
        for var, average in zip(trainable_variables, self._model_variables_moving_average):
            if average is None:
                continue
            m = ops.cast(momentum, var.dtype)
            average.assign(ops.add(ops.multiply(m, average), ops.multiply(1 - m, var)))
