"""InpaintingTrainer: GAN / G-only steps checked against hand-computed updates, mixed precision,
fine-tune (frozen BatchNorm statistics), non-finite loss stop.

The tiny generator / discriminator / recipes here are reused by the other training tests
(``tiny_generator``, ``tiny_discriminator``, ``register_tiny``).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfinpaint.training.recipes import FineTuneStage, LossTerm, OptimizerSpec, Recipe

TINY_MODEL = "tiny_test_gen"
TINY_RECIPE = Recipe(
    name="tiny_test_l1",
    terms=(LossTerm("hole", 6.0), LossTerm("valid", 1.0)),
    g_optimizer=OptimizerSpec(learning_rate=2e-3),
    finetune=FineTuneStage(freeze_batchnorm="all", learning_rate=5e-4),
    data_policy="random_square_crop",
)
GAN_RECIPE = Recipe(
    name="tiny_test_gan",
    terms=(LossTerm("hole", 6.0), LossTerm("valid", 1.0), LossTerm("feature_matching", 0.5)),
    adversarial="hinge",
    adversarial_weight=0.1,
    g_optimizer=OptimizerSpec(learning_rate=1e-3),
    d_optimizer=OptimizerSpec(learning_rate=1e-3),
)


def tiny_generator(width: int = 8, bn: bool = False, nan: bool = False, seed: int = 0):
    """2-conv generator following the generator contract (dict with "output", size_multiple)."""
    init = keras.initializers.GlorotUniform(seed=seed)
    image = keras.Input((None, None, 3), name="image")
    mask = keras.Input((None, None, 1), name="mask")
    x = keras.layers.Concatenate()([keras.layers.Multiply()([image, mask]), mask])
    x = keras.layers.Conv2D(width, 3, padding="same", kernel_initializer=init, name="enc_conv")(x)
    if bn:
        x = keras.layers.BatchNormalization(name="enc_bn")(x)
    x = keras.layers.Activation("relu")(x)
    if bn:
        x = keras.layers.Conv2D(width, 3, padding="same", kernel_initializer=init,
                                name="dec_conv")(x)
        x = keras.layers.BatchNormalization(name="dec_bn")(x)
        x = keras.layers.Activation("relu")(x)
    out = keras.layers.Conv2D(3, 3, padding="same", activation="sigmoid",
                              kernel_initializer=init, name="out_conv")(x)
    if nan:  # 0 * log(-1) = NaN everywhere: a broken generator
        out = keras.layers.Lambda(lambda t: t + 0.0 * tf.math.log(-tf.ones_like(t)))(out)
    model = keras.Model([image, mask], {"output": out}, name="tiny_generator")
    model.size_multiple = 1
    return model


def tiny_discriminator(width: int = 8, features: bool = True, seed: int = 1):
    """PatchGAN-style D: stride-2 conv + leaky ReLU + 3x3 logits map."""
    init = keras.initializers.GlorotUniform(seed=seed)
    x_in = keras.Input((None, None, 3))
    h = keras.layers.Conv2D(width, 4, strides=2, padding="same", kernel_initializer=init)(x_in)
    h = keras.layers.LeakyReLU(0.2)(h)
    logits = keras.layers.Conv2D(1, 3, padding="same", kernel_initializer=init)(h)
    outputs = {"logits": logits, "features": [h]} if features else logits
    return keras.Model(x_in, outputs, name="tiny_discriminator")


def register_tiny():
    """Registers ``tiny_test_gen`` (recipe ``tiny_test_l1``) and ``tiny_test_gan_gen``."""
    from tfinpaint.models import registry
    from tfinpaint.training.recipes import register_recipe

    register_recipe(TINY_RECIPE)
    register_recipe(GAN_RECIPE)
    if TINY_MODEL not in registry._REGISTRY:
        registry.register_model(registry.ModelSpec(
            name=TINY_MODEL, builder=tiny_generator, config={"width": 8, "bn": False},
            recipe=TINY_RECIPE.name))
        registry.register_model(registry.ModelSpec(
            name="tiny_test_gan_gen", builder=tiny_generator, config={"width": 8, "bn": False},
            recipe=GAN_RECIPE.name, discriminator=tiny_discriminator))


def batch(n=2, size=16, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.uniform(0, 1, (n, size, size, 3)).astype("float32")
    mask = np.ones((n, size, size, 1), "float32")
    mask[:, size // 4: size // 2, size // 4: 3 * size // 4] = 0.0
    return tf.constant(image), tf.constant(mask)


def make_trainer(recipe=TINY_RECIPE, discriminator=None, generator=None, lr=0.1, **gkw):
    from tfinpaint.training.trainer import InpaintingTrainer

    generator = generator or tiny_generator(**gkw)
    trainer = InpaintingTrainer(generator, discriminator, recipe)
    d_opt = keras.optimizers.SGD(lr) if discriminator is not None else None
    trainer.compile(keras.optimizers.SGD(lr), d_opt)
    return trainer


def _copy(weights):
    return [np.array(w) for w in weights]


def test_g_only_step_equals_hand_computed_sgd_update():
    from tfinpaint.losses import hole_l1, valid_l1

    trainer = make_trainer(lr=0.5)
    g = trainer.generator
    image, mask = batch()
    before = _copy(g.get_weights())
    # Independent reference: Eq. "6 * L_hole + 1 * L_valid" with the pixel losses, one SGD step.
    with tf.GradientTape() as tape:
        out = g((image, mask), training=True)["output"]
        loss = 6.0 * hole_l1(image, out, mask) + valid_l1(image, out, mask)
    grads = tape.gradient(loss, g.trainable_variables)
    expected = [w.numpy() - 0.5 * gr.numpy() for w, gr in zip(g.trainable_variables, grads)]

    logs = trainer.train_step((image, mask))
    after = [v.numpy() for v in g.trainable_variables]
    for e, a, b in zip(expected, after, before):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)
        assert np.abs(a - b).max() > 1e-4  # the update is not negligible
    np.testing.assert_allclose(float(logs["g_total"]), float(loss), rtol=1e-6)
    assert set(logs) == {"g_total", "g_hole", "g_valid"}
    assert trainer.discriminator is None and not trainer.adversarial_trackers
    assert int(trainer.step.numpy()) == 1
    assert int(trainer.g_optimizer.iterations.numpy()) == 1


def test_gan_step_updates_discriminator_then_generator():
    from tfinpaint.losses import feature_matching_loss, get_adversarial_loss, hole_l1, valid_l1

    d = tiny_discriminator()
    trainer = make_trainer(GAN_RECIPE, discriminator=d, lr=0.2)
    g = trainer.generator
    image, mask = batch(size=16, seed=3)
    g0, d0 = _copy(g.get_weights()), _copy(d.get_weights())
    hinge = get_adversarial_loss("hinge")

    # Reference D update: hinge on D(real) vs D(composite), with the G forward before any update.
    out = g((image, mask), training=True)["output"]
    comp = mask * image + (1 - mask) * out
    with tf.GradientTape() as tape:
        d_loss = hinge.discriminator_loss(d(image)["logits"], d(comp)["logits"])
    d_grads = tape.gradient(d_loss, d.trainable_variables)
    d_expected = [w.numpy() - 0.2 * gr.numpy() for w, gr in zip(d.trainable_variables, d_grads)]
    # Reference G update: uses the *updated* discriminator.
    d_new = tiny_discriminator()
    d_new.set_weights(d_expected)
    with tf.GradientTape() as tape:
        out = g((image, mask), training=True)["output"]
        comp = mask * image + (1 - mask) * out
        fake = d_new(comp)
        real = d_new(image)
        g_loss = (6.0 * hole_l1(image, out, mask) + valid_l1(image, out, mask)
                  + 0.5 * feature_matching_loss(real["features"], fake["features"])
                  + 0.1 * hinge.generator_loss(fake["logits"]))
    g_grads = tape.gradient(g_loss, g.trainable_variables)
    g_expected = [w.numpy() - 0.2 * gr.numpy() for w, gr in zip(g.trainable_variables, g_grads)]

    logs = trainer.train_step((image, mask))
    for e, a in zip(d_expected, d.get_weights()):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)
    assert max(np.abs(a - b).max() for a, b in zip(d.get_weights(), d0)) > 1e-4
    for e, a in zip(g_expected, g.get_weights()):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)
    assert max(np.abs(a - b).max() for a, b in zip(g.get_weights(), g0)) > 1e-4
    np.testing.assert_allclose(float(logs["d_loss"]), float(d_loss), rtol=1e-5)
    np.testing.assert_allclose(float(logs["g_total"]), float(g_loss), rtol=1e-5)
    assert {"g_adv", "d_loss", "d_real", "d_fake", "g_feature_matching"} <= set(logs)


def test_recipe_and_discriminator_must_agree():
    from tfinpaint.training.trainer import InpaintingTrainer

    with pytest.raises(ValueError, match="needs a discriminator"):
        InpaintingTrainer(tiny_generator(), None, GAN_RECIPE)
    with pytest.raises(ValueError, match="no adversarial loss"):
        InpaintingTrainer(tiny_generator(), tiny_discriminator(), TINY_RECIPE)
    trainer = InpaintingTrainer(tiny_generator(), None, TINY_RECIPE)
    with pytest.raises(ValueError, match="d_optimizer"):
        trainer.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1))


def test_fit_and_evaluate_report_every_term_and_quality():
    trainer = make_trainer(lr=0.05)
    image, mask = batch(n=4, size=16)
    ds = tf.data.Dataset.from_tensors((image, mask)).repeat()
    hist = trainer.fit(ds, steps_per_epoch=3, epochs=1, verbose=0)
    assert set(hist.history) == {"g_total", "g_hole", "g_valid"}
    res = trainer.evaluate(ds.take(1), verbose=0, return_dict=True)
    out = trainer.generator((image, mask))["output"]
    comp = mask * image + (1 - mask) * out
    diff = np.abs(comp.numpy() - image.numpy())
    hole = 1 - mask.numpy()
    np.testing.assert_allclose(res["hole_l1"], (diff * hole).sum() / (3 * hole.sum()), rtol=1e-5)
    np.testing.assert_allclose(res["l1"], diff.mean(), rtol=1e-5)
    mse = ((comp.numpy() - image.numpy()) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(res["psnr"], np.mean(10 * np.log10(1 / mse)), rtol=1e-4)
    assert 0 < res["ssim"] <= 1
    assert int(trainer.step.numpy()) == 3


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_steps(policy):
    previous = keras.config.dtype_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        d = tiny_discriminator()
        trainer = make_trainer(GAN_RECIPE, discriminator=d, lr=0.05)
        g = trainer.generator
        image, mask = batch(size=16)
        out = g((image, mask), training=True)["output"]
        assert out.dtype == (tf.float16 if policy == "mixed_float16" else tf.bfloat16)
        lso = keras.optimizers.LossScaleOptimizer
        assert isinstance(trainer.g_optimizer, lso) == (policy == "mixed_float16")
        assert isinstance(trainer.d_optimizer, lso) == (policy == "mixed_float16")
        g0 = _copy(g.get_weights())
        for _ in range(2):
            logs = trainer.train_step((image, mask))
        for k, v in logs.items():
            assert np.isfinite(float(v)), (k, v)
            assert v.dtype == tf.float32
        for v in g.weights + d.weights:
            assert v.dtype == "float32", v.path
        assert max(np.abs(a - b).max() for a, b in zip(g.get_weights(), g0)) > 0
        if policy == "mixed_float16":  # the loss scale is applied (and checkpointed)
            assert float(trainer.g_optimizer.dynamic_scale.numpy()) > 1
    finally:
        keras.mixed_precision.set_global_policy(previous)


def test_finetune_freezes_batchnorm_statistics_but_trains_gamma():
    from tfinpaint.training.trainer import apply_finetune

    image, mask = batch(n=4, size=16, seed=5)
    # Reference without fine-tune: BN statistics move.
    trainer = make_trainer(generator=tiny_generator(bn=True), lr=0.1)
    bn = trainer.generator.get_layer("enc_bn")
    mm0 = bn.moving_mean.numpy().copy()
    trainer.train_step((image, mask))
    assert np.abs(bn.moving_mean.numpy() - mm0).max() > 1e-4

    g = tiny_generator(bn=True)
    opt = keras.optimizers.SGD(0.1)
    info = apply_finetune(g, FineTuneStage("all", learning_rate=5e-3), optimizer=opt)
    assert sorted(info["frozen_batchnorm"]) == ["dec_bn", "enc_bn"]
    assert float(opt.learning_rate.numpy()) == pytest.approx(5e-3)
    from tfinpaint.training.trainer import InpaintingTrainer

    trainer = InpaintingTrainer(g, None, TINY_RECIPE)
    trainer.compile(opt)
    stats0 = {n: (g.get_layer(n).moving_mean.numpy().copy(),
                  g.get_layer(n).moving_variance.numpy().copy(),
                  g.get_layer(n).gamma.numpy().copy()) for n in ("enc_bn", "dec_bn")}
    # In frozen mode, a training=True forward equals the inference forward.
    np.testing.assert_allclose(g((image, mask), training=True)["output"],
                               g((image, mask), training=False)["output"], atol=1e-6)
    for _ in range(2):
        trainer.train_step((image, mask))
    for name, (mm, mv, gamma) in stats0.items():
        layer = g.get_layer(name)
        np.testing.assert_array_equal(layer.moving_mean.numpy(), mm)
        np.testing.assert_array_equal(layer.moving_variance.numpy(), mv)
        assert np.abs(layer.gamma.numpy() - gamma).max() > 1e-6, name
        assert any(v is layer.gamma for v in g.trainable_variables)


def test_finetune_encoder_scope_and_tfinpaint_batchnorm():
    from tfinpaint.training.trainer import apply_finetune

    g = tiny_generator(bn=True)
    info = apply_finetune(g, FineTuneStage("encoder", learning_rate=1e-4))
    assert info["frozen_batchnorm"] == ["enc_bn"]
    assert g.get_layer("enc_bn").frozen_stats and not getattr(g.get_layer("dec_bn"),
                                                               "frozen_stats", False)
    trainer = make_trainer(generator=g, lr=0.1)
    image, mask = batch(n=4, size=16, seed=6)
    enc0 = g.get_layer("enc_bn").moving_mean.numpy().copy()
    dec0 = g.get_layer("dec_bn").moving_mean.numpy().copy()
    trainer.train_step((image, mask))
    np.testing.assert_array_equal(g.get_layer("enc_bn").moving_mean.numpy(), enc0)
    assert np.abs(g.get_layer("dec_bn").moving_mean.numpy() - dec0).max() > 1e-5

    batch_norm = pytest.importorskip("tfinpaint.layers.batch_norm")
    inp = keras.Input((None, None, 4))
    layer = batch_norm.BatchNorm(name="enc_bn2")
    model = keras.Model(inp, layer(inp))
    apply_finetune(model, FineTuneStage("all"))
    assert layer.frozen_stats is True and "call" not in layer.__dict__  # uses its own switch


@pytest.mark.parametrize("case", ["nan_generator", "inf_weight"])
def test_non_finite_loss_stops_and_names_the_term(case):
    from tfinpaint.training.callbacks import NonFiniteLossStop

    if case == "nan_generator":
        trainer = make_trainer(generator=tiny_generator(nan=True), lr=0.1)
        expected = ["'hole'", "'valid'"]
    else:
        recipe = TINY_RECIPE.replace(
            name="tiny_inf", terms=(LossTerm("hole", 6.0), LossTerm("valid", float("inf"))))
        trainer = make_trainer(recipe, lr=0.1)
        expected = ["'valid'", "weight inf"]
    image, mask = batch()
    ds = tf.data.Dataset.from_tensors((image, mask)).repeat()
    with pytest.raises(FloatingPointError) as info:
        trainer.fit(ds, steps_per_epoch=5, epochs=2, verbose=0, callbacks=[NonFiniteLossStop()])
    message = str(info.value)
    for text in expected:
        assert text in message, message
    if case == "inf_weight":
        assert "'hole'" not in message
    assert int(trainer.step.numpy()) == 1  # stopped at the first bad step


def test_d_loss_weight_scales_the_discriminator_loss_and_update():
    """Recipe data ``d_loss_weight`` (MANet halves its nsgan D loss): with SGD, the logged D
    loss and the D update scale by it; G's update is unchanged."""
    image, mask = batch(size=16, seed=5)
    runs = {}
    for weight in (1.0, 0.5):
        d = tiny_discriminator()
        trainer = make_trainer(GAN_RECIPE.replace(d_loss_weight=weight), discriminator=d,
                               lr=0.2)
        d0 = _copy(d.get_weights())
        logs = trainer.train_step((image, mask))
        runs[weight] = (float(logs["d_loss"]),
                        [a - b for a, b in zip(d.get_weights(), d0)])
    np.testing.assert_allclose(runs[0.5][0], 0.5 * runs[1.0][0], rtol=1e-6)
    for half, full in zip(runs[0.5][1], runs[1.0][1]):
        np.testing.assert_allclose(half, 0.5 * full, rtol=1e-4, atol=1e-7)
