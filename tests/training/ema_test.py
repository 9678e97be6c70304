"""EMA of the generator weights as recipe data: the warm-up rule, the swap used by evaluation
and the weights file, and resuming with the average."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tfinpaint.models import registry
from tfinpaint.training.optimizers import WarmupEMAAdam
from tfinpaint.training.recipes import OptimizerSpec, get_recipe
from tfinpaint.training.run import train


def test_warmup_ema_follows_the_num_updates_rule():
    var = keras.Variable(np.zeros(3, "float32"))
    opt = WarmupEMAAdam(learning_rate=0.1, use_ema=True, ema_momentum=0.9)
    opt.build([var])
    grads = [np.array([1.0, -2.0, 0.5], "float32"), np.array([0.3, 0.3, -1.0], "float32"),
             np.array([-1.0, 2.0, 2.0], "float32"), np.array([0.1, 0.1, 0.1], "float32")]
    average = None
    for t, g in enumerate(grads):
        opt.apply([g], [var])
        w = var.numpy()
        # iterations is t when the average is updated (Keras increments it afterwards).
        m = min(0.9, (1 + t) / (10 + t))
        average = w.copy() if t == 0 else m * average + (1 - m) * w
        np.testing.assert_allclose(opt._model_variables_moving_average[0].numpy(), average,
                                   rtol=1e-5, atol=1e-7)


def test_spec_builds_warmup_ema_only_when_asked():
    assert type(OptimizerSpec().build()) is keras.optimizers.Adam
    opt = OptimizerSpec(ema_momentum=0.99).build()
    assert isinstance(opt, WarmupEMAAdam) and opt.use_ema and opt.ema_momentum == 0.99
    with pytest.raises(ValueError, match="ema_momentum"):
        OptimizerSpec(ema_momentum=1.0)
    assert get_recipe("pconv_unet_default").g_optimizer.ema_momentum == 0.999


@pytest.mark.large
def test_weights_file_and_validation_use_the_average_and_resume_keeps_it(tmp_path, photos_dir):
    kw = dict(out_dir=tmp_path / "run", size=32, batch=2, save_every=2, val_every=2,
              config={"layer_size": 4, "base_channels": 8}, recipe="pconv_unet_default",
              verbose=0, keep_weights=True, val_batches=1)
    images = photos_dir / "small"
    first = train("pconv_unet", images, images, steps=3, **kw)
    trainer = first["trainer"]
    raw = [v.numpy().copy() for v in trainer.generator.trainable_variables]
    averages = [a.numpy().copy() for a in trainer.g_optimizer._model_variables_moving_average]
    assert max(np.abs(r - a).max() for r, a in zip(raw, averages)) > 0
    with trainer.ema_weights() as swapped:
        assert swapped
        for v, a in zip(trainer.generator.trainable_variables, averages):
            np.testing.assert_array_equal(v.numpy(), a)
    for v, r in zip(trainer.generator.trainable_variables, raw):  # restored after the block
        np.testing.assert_array_equal(v.numpy(), r)
    # generator.weights.h5 (and the kept copy of the last save) hold the average.
    saved = registry.build("pconv_unet", layer_size=4, base_channels=8)
    saved.load_weights(str(tmp_path / "run" / "generator.weights.h5"))
    for v, a in zip(saved.trainable_variables, averages):
        np.testing.assert_array_equal(v.numpy(), a)
    kept = sorted(p.name for p in (tmp_path / "run" / "weights").iterdir())
    assert kept == ["step_0000002.weights.h5", "step_0000003.weights.h5"]
    # Resuming restores the average with the rest of the optimizer state.
    second = train("pconv_unet", images, images, steps=3 + 0 + 1, **kw)
    assert second["resumed_from"] == 3 and second["step"] == 4
    opt = second["trainer"].g_optimizer
    assert int(opt.iterations.numpy()) == 4
    w = [v.numpy() for v in second["trainer"].generator.trainable_variables]
    m = min(0.999, (1 + 3) / (10 + 3))
    for a, prev, now in zip(opt._model_variables_moving_average, averages, w):
        np.testing.assert_allclose(a.numpy(), m * prev + (1 - m) * now, rtol=1e-5, atol=1e-6)
