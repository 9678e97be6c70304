"""Recipe data added for recurrent_refine and usable by every recipe: per-loss VGG layer sets,
learning-rate schedules, feature matching in validation."""

from __future__ import annotations

import numpy as np
import pytest

from tfinpaint.training.recipes import LossTerm, LRSchedule, OptimizerSpec, get_recipe


def test_recipe_recurrent_refine_is_the_official_configuration():
    r = get_recipe("recurrent_refine")
    weights = {t.metric_name: (t.loss, t.weight, t.output) for t in r.terms}
    assert weights == {
        "refine_l1": ("l1", 5.0, "output"), "perceptual": ("perceptual", 1.0, "output"),
        "style": ("style", 250.0, "output"), "feature": ("feature_matching", 1.0, "output"),
        "sobel": ("sobel", 10.0, "output"), "hp_l1": ("high_frequency", 1.0, "output"),
        "lp_l1": ("low_frequency", 1.0, "coarse"),
        "lp_perceptual": ("low_frequency_perceptual", 1.0, "coarse"),
    }
    assert (r.adversarial, r.adversarial_weight, r.feature_network) == ("hinge", 0.01, "vgg19")
    assert r.layer_sets() == {
        "perceptual": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        "style": ("relu2_2", "relu3_4", "relu4_4", "relu5_2"),
    }
    assert (r.g_optimizer.learning_rate, r.d_optimizer.learning_rate) == (1e-4, 4e-4)
    assert (r.g_optimizer.beta_1, r.g_optimizer.beta_2) == (0.5, 0.9)
    with pytest.raises(ValueError, match="feature_layer_sets"):
        r.replace(feature_layer_sets=(("style", ("relu1_2",)),))


def test_lr_schedules_follow_their_formulas_on_the_optimizer_step():
    step = LRSchedule(kind="step", step_size=10, gamma=0.97)
    opt = OptimizerSpec(learning_rate=1e-4).build(step)
    for it in (0, 9, 10, 25, 1000):
        want = 1e-4 * 0.97 ** (it // 10)  # torch StepLR(step_size=10, gamma=0.97)
        np.testing.assert_allclose(float(opt._learning_rate(it)), want, rtol=1e-5)
    opt.iterations.assign(25)  # the optimizer's own (checkpointed) step counter drives it
    np.testing.assert_allclose(float(opt.learning_rate), 1e-4 * 0.97 ** 2, rtol=1e-5)
    cos = OptimizerSpec(learning_rate=2e-4).build(LRSchedule("cosine", decay_steps=100,
                                                              alpha=0.1))
    for it in (0, 50, 100, 150):
        frac = min(it, 100) / 100
        want = 2e-4 * ((1 - 0.1) * 0.5 * (1 + np.cos(np.pi * frac)) + 0.1)
        np.testing.assert_allclose(float(cos._learning_rate(it)), want, rtol=1e-5)
    assert float(OptimizerSpec(learning_rate=3e-4).build(LRSchedule()).learning_rate) == (
        pytest.approx(3e-4))
    with pytest.raises(ValueError, match="kind"):
        LRSchedule("linear")
    with pytest.raises(ValueError, match="step_size"):
        LRSchedule("step", step_size=0, gamma=0.5)


def test_validation_computes_feature_matching_with_the_discriminator():
    import tensorflow as tf

    from tfinpaint.models import build
    from tfinpaint.models.sobel_discriminator import SobelEdgeDiscriminator
    from tfinpaint.training.trainer import InpaintingTrainer

    recipe = get_recipe("recurrent_refine").replace(
        terms=(LossTerm("l1", 5.0, name="refine_l1"), LossTerm("feature_matching", 1.0,
                                                                name="feature")))
    gen = build("recurrent_refine", cnum=8)
    disc = SobelEdgeDiscriminator(cnum=8)
    trainer = InpaintingTrainer(gen, disc, recipe)
    trainer.compile(recipe.g_optimizer.build(recipe.lr_schedule),
                    recipe.d_optimizer.build(recipe.lr_schedule))
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(2, 64, 64, 3)).astype("float32")
    mask = np.ones((2, 64, 64, 1), "float32")
    mask[:, 16:40, 20:50] = 0
    u_before = [w.numpy().copy() for w in disc.non_trainable_weights]
    logs = trainer.evaluate(tf.data.Dataset.from_tensors((image, mask)), verbose=0,
                            return_dict=True)
    assert np.isfinite(logs["g_feature"]) and logs["g_feature"] > 0
    # Inference mode: no power iteration, the stored u, v are unchanged.
    for before, after in zip(u_before, disc.non_trainable_weights):
        np.testing.assert_array_equal(before, after.numpy())


@pytest.mark.large  # 60 training steps at 64x64 on the real photos
def test_pixel_terms_lower_validation_l1_on_real_photos(photos_dir):
    """The generator learns through both passes: with the recipe's pixel terms (refine L1,
    low-pass L1 on the coarse output), its optimizer and step decay, the validation L1 of the
    composite falls. (With the full official mix the 10x Sobel term dominates the first
    hundred steps and the pixel error grows; README.)"""
    import keras

    from tfinpaint.data.inpainting_dataset import inpainting_dataset
    from tfinpaint.models import build
    from tfinpaint.training.trainer import InpaintingTrainer

    keras.utils.set_random_seed(0)
    recipe = get_recipe("recurrent_refine").replace(
        name="recurrent_refine_pixel",
        terms=(LossTerm("l1", 5.0, name="refine_l1"),
               LossTerm("low_frequency", 1.0, output="coarse", name="lp_l1")),
        adversarial=None, adversarial_weight=0.0,
    )
    trainer = InpaintingTrainer(build("recurrent_refine", cnum=8), None, recipe)
    trainer.compile(recipe.g_optimizer.build(recipe.lr_schedule))
    train_ds = inpainting_dataset(photos_dir / "train", "lama_thick", size=64, batch_size=4,
                                  seed=0)
    val_ds = inpainting_dataset(
        photos_dir / "val", "lama_thick", size=64, batch_size=4, seed=1, crop="center_crop",
        flip=False, shuffle=False, repeat=False, drop_remainder=False, mask_augment=False,
    ).take(3).cache()
    before = trainer.evaluate(val_ds, verbose=0, return_dict=True)["l1"]
    hist = trainer.fit(train_ds, steps_per_epoch=20, epochs=3, validation_data=val_ds,
                       verbose=0)
    curve = [before, *hist.history["val_l1"]]
    print("validation L1", [round(v, 4) for v in curve])
    assert curve[-1] < 0.8 * curve[0]
