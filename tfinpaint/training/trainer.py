"""``InpaintingTrainer``: one ``keras.Model`` that trains an inpainting generator (and its
discriminator) with a :class:`~tfinpaint.training.recipes.Recipe`.

The structure follows the keras-io GAN written through ``train_step``
(``guides/custom_train_step_in_tensorflow.py``): metric trackers are made in ``__init__`` and
listed in :attr:`InpaintingTrainer.metrics` so that ``fit``/``evaluate`` reset them;
``compile(g_optimizer, d_optimizer)`` calls ``super().compile()`` first; updates go through
``optimizer.apply(grads, variables)``; the discriminator is updated before the generator. Loss
code returns ``(total, {term: value})`` as LaMa's ``generator_loss`` does.

One training step (``train_step``), for a batch ``(image, mask)`` with mask 1 = known:

1. ``outputs = G((image, mask))`` (every output cast to float32, so losses run in float32 under
   any mixed-precision policy);
2. with a discriminator: ``fake = composite`` (or the raw output, ``recipe.adversarial_on``),
   D is updated on ``D(image)`` vs ``D(stop_gradient(fake))``;
3. G's loss = every recipe term + ``recipe.adversarial_weight * adv.generator_loss(D(fake))``
   computed with the *updated* D, then G is updated.

Distribution: the per-replica loss is multiplied by ``local_batch / global_batch`` (the global
batch is all-reduced over the replicas), the Keras optimizer then sums the gradients of all
replicas, so the update equals the gradient of the mean loss over the global batch, exactly as
``tf.nn.compute_average_loss`` does, and stays exact for uneven last batches.

Mixed precision: under ``mixed_float16`` both optimizers are wrapped in
``keras.optimizers.LossScaleOptimizer`` (Keras' own ``compile(auto_scale_loss=True)`` only
wraps ``self.optimizer``, which a GAN trainer does not use); the step multiplies the loss with
``optimizer.scale_loss`` and ``LossScaleOptimizer.apply`` unscales the gradients and skips the
update when they are not finite. ``mixed_bfloat16`` needs no scaling.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinpaint.layers.batch_norm import set_batchnorm_frozen
from tfinpaint.training.recipes import FineTuneStage, Recipe, get_recipe

FEATURE_LOSSES = ("perceptual", "style", "correlation")
BN_FREEZE_CHOICES = ("all", "encoder", "none")


# --------------------------------------------------------------------------------------------
# Fine-tuning: BatchNorm statistics frozen, gamma/beta trainable
# --------------------------------------------------------------------------------------------
def apply_finetune(generator, stage: FineTuneStage, optimizer=None) -> dict:
    """Applies a fine-tune stage: frozen BN statistics and the stage's learning rate.

    Args:
        generator: the generator ``keras.Model``.
        stage: a :class:`FineTuneStage`; ``freeze_batchnorm`` is ``"all"`` (RFR-Net), ``"encoder"``
            (PConv U-Net: ``train_bn=False`` in the encoder only) or ``"none"``.
        optimizer: optional generator optimizer whose learning rate is set to
            ``stage.learning_rate`` (RFR-Net and PConv fine-tune with Adam lr 5e-5).

    Returns:
        ``{"frozen_batchnorm": [layer names], "learning_rate": stage.learning_rate}``.
    """
    if not isinstance(stage, FineTuneStage):
        raise ValueError(f"stage must be a FineTuneStage. Received: stage={stage!r}")
    if stage.freeze_batchnorm not in BN_FREEZE_CHOICES:
        raise ValueError(
            f"freeze_batchnorm must be one of {BN_FREEZE_CHOICES}. "
            f"Received: freeze_batchnorm={stage.freeze_batchnorm!r}"
        )
    frozen = []
    if stage.freeze_batchnorm == "all":
        frozen = set_batchnorm_frozen(generator, True)
    elif stage.freeze_batchnorm == "encoder":
        # Layers under a name containing "enc" (enc_3_bn, encoder/...), the naming convention
        # of tfinpaint's U-Net encoders; the root model's own name is not part of the test.
        frozen = set_batchnorm_frozen(generator, True, lambda p: "enc" in p.split("/", 1)[-1])
        if not frozen and set_batchnorm_frozen(generator, False):
            raise ValueError(
                "freeze_batchnorm='encoder' found BatchNormalization layers but none whose "
                "name contains 'enc'."
            )
    if optimizer is not None:
        optimizer.learning_rate = stage.learning_rate
    names = [path.rsplit("/", 1)[-1] for path in frozen]
    return {"frozen_batchnorm": names, "learning_rate": stage.learning_rate}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------
def composite(image, mask, output):
    """``mask * image + (1 - mask) * output`` (mask 1 = known): :func:`tfinpaint.edge.composite`,
    the one composite formula."""
    from tfinpaint.edge import composite as edge_composite

    return edge_composite(image, mask, output)


def _as_float32_dict(outputs) -> dict:
    if not isinstance(outputs, dict) or "output" not in outputs:
        raise ValueError(
            "The generator must return a dict with an 'output' entry. Received: "
            f"outputs={type(outputs).__name__}"
            + (f" with keys {sorted(outputs)}" if isinstance(outputs, dict) else "")
        )
    return {k: tf.cast(v, tf.float32) if tf.is_tensor(v) else v for k, v in outputs.items()}


def _unpack_discriminator(out):
    """A discriminator returns logits, or a dict ``{"logits": ..., "features": [...]}``."""
    if isinstance(out, dict):
        if "logits" not in out:
            raise ValueError(
                f"A discriminator dict output needs 'logits'. Received keys: {sorted(out)}"
            )
        logits, feats = out["logits"], out.get("features")
    else:
        logits, feats = out, None
    if isinstance(logits, (list, tuple)):  # multi-scale discriminator
        logits = [tf.cast(t, tf.float32) for t in logits]
    else:
        logits = tf.cast(logits, tf.float32)
    if feats is not None:
        feats = [tf.cast(f, tf.float32) for f in feats]
    return logits, feats


def _mean_logits(logits):
    if isinstance(logits, (list, tuple)):
        return tf.add_n([tf.reduce_mean(t) for t in logits]) / len(logits)
    return tf.reduce_mean(logits)


def _scalar(value):
    if isinstance(value, (tuple, list)):  # (total, metrics) from a loss object
        value = value[0]
    return tf.cast(value, tf.float32)


def is_mixed_float16(model=None) -> bool:
    policy = model.dtype_policy if model is not None else keras.config.dtype_policy()
    return policy.name == "mixed_float16" or (
        keras.config.dtype_policy().name == "mixed_float16"
    )


class InpaintingTrainer(keras.Model):
    """Trains ``generator`` (and ``discriminator``) with a recipe through ``fit``.

    Args:
        generator: ``keras.Model`` called as ``generator((image, mask), training=...)``
            returning a dict with ``"output"`` (and the intermediates the recipe supervises).
        discriminator: ``keras.Model`` or ``None``. Called as ``discriminator(x)`` (or
            ``discriminator((x, mask))`` when it has ``takes_mask = True``); returns logits, or a
            dict ``{"logits", "features"}`` (features feed the ``feature_matching`` term).
            Required when ``recipe.adversarial`` is set, forbidden when it is not.
        recipe: a :class:`Recipe` or a registered recipe name.
        feature_extractor: a ``tfinpaint.losses.FeatureExtractor`` for perceptual/style terms;
            built from the recipe (``feature_network``, ``feature_layers``,
            ``feature_normalization``) with ``vgg_weights`` when omitted and needed.
        vgg_weights: ``"imagenet"``, a local weights file, or ``None`` (random, tests only).
        generator_loss: optional replacement for ``tfinpaint.losses.GeneratorLoss(recipe.terms,
            feature_extractor)``; any callable ``(target, mask, outputs, disc_features=None) ->
            (total, {term: value})``.
        adversarial_loss: optional replacement for
            ``tfinpaint.losses.get_adversarial_loss(recipe.adversarial)``.

    Metrics (``g_`` = generator): ``g_total``, ``g_<term>`` for every recipe term,
    ``g_adv``, ``d_loss``, ``d_real``, ``d_fake`` (mean logits) when adversarial; evaluation
    adds ``psnr``, ``ssim`` (of the composite), ``l1`` (composite, all pixels) and ``hole_l1``
    (hole pixels only).
    """

    def __init__(
        self,
        generator,
        discriminator=None,
        recipe: Recipe | str = None,
        feature_extractor=None,
        vgg_weights=None,
        generator_loss=None,
        adversarial_loss=None,
        name="inpainting_trainer",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if recipe is None:
            raise ValueError("A recipe is required. Received: recipe=None")
        if isinstance(recipe, str):
            recipe = get_recipe(recipe)
        if not isinstance(recipe, Recipe):
            raise ValueError(f"recipe must be a Recipe or a name. Received: recipe={recipe!r}")
        if recipe.adversarial is not None and discriminator is None:
            raise ValueError(
                f"Recipe {recipe.name!r} has adversarial={recipe.adversarial!r} and needs a "
                "discriminator. Received: discriminator=None"
            )
        if recipe.adversarial is None and discriminator is not None:
            raise ValueError(
                f"Recipe {recipe.name!r} has no adversarial loss, so a discriminator would never "
                f"be trained. Received: discriminator={discriminator.name!r}"
            )
        self.generator = generator
        self.discriminator = discriminator
        self.recipe = recipe
        self.term_names = tuple(t.metric_name for t in recipe.terms)
        self.term_weights = {t.metric_name: float(t.weight) for t in recipe.terms}

        if generator_loss is None:
            from tfinpaint import losses

            if feature_extractor is None and any(t.loss in FEATURE_LOSSES for t in recipe.terms):
                feature_extractor = losses.FeatureExtractor(
                    recipe.feature_network,
                    recipe.feature_layers,
                    weights=vgg_weights,
                    normalization=recipe.feature_normalization,
                )
            generator_loss = losses.GeneratorLoss(recipe.terms, feature_extractor=feature_extractor)
        self.generator_loss = generator_loss
        self.feature_extractor = feature_extractor
        if recipe.adversarial is not None and adversarial_loss is None:
            from tfinpaint import losses

            adversarial_loss = losses.get_adversarial_loss(recipe.adversarial)
        self.adversarial_loss = adversarial_loss
        self._needs_disc_features = any(t.loss == "feature_matching" for t in recipe.terms)

        # === Trackers ===
        mean = keras.metrics.Mean
        self.g_total_tracker = mean(name="g_total")
        self.term_trackers = {n: mean(name=f"g_{n}") for n in self.term_names}
        self.adversarial_trackers = {}
        if discriminator is not None:
            for n in ("g_adv", "d_loss", "d_real", "d_fake"):
                self.adversarial_trackers[n] = mean(name=n)
        self.eval_trackers = {n: mean(name=n) for n in ("l1", "hole_l1", "psnr", "ssim")}
        # Number of completed training steps (saved in checkpoints; not the optimizer's count,
        # which LossScaleOptimizer does not advance on a skipped step).
        self.step = keras.Variable(
            0, dtype="int64", trainable=False, aggregation="only_first_replica", name="step"
        )
        self.g_optimizer = None
        self.d_optimizer = None
        # The trainer owns no layers of its own: mark it built so that ``fit`` never tries a
        # symbolic build through ``call`` with Keras' (x, y) split of the (image, mask) batch.
        self.built = True

    # === Keras plumbing ===
    @property
    def metrics(self):
        return [
            self.g_total_tracker,
            *self.term_trackers.values(),
            *self.adversarial_trackers.values(),
            *self.eval_trackers.values(),
        ]

    @property
    def train_metric_names(self) -> list[str]:
        return [
            "g_total",
            *(f"g_{n}" for n in self.term_names),
            *self.adversarial_trackers,
        ]

    def compile(self, g_optimizer, d_optimizer=None, loss_scale=None, **kwargs):
        """Sets the optimizers (build them inside ``strategy.scope()`` when distributing).

        Args:
            g_optimizer: generator optimizer.
            d_optimizer: discriminator optimizer; required iff there is a discriminator.
            loss_scale: ``None`` = wrap both in ``LossScaleOptimizer`` when the generator's
                policy is ``mixed_float16``; ``True`` / ``False`` forces it.
            **kwargs: passed to ``keras.Model.compile`` (``run_eagerly``, ``jit_compile``,
                ``steps_per_execution``).
        """
        super().compile(**kwargs)
        if (self.discriminator is None) != (d_optimizer is None):
            raise ValueError(
                "d_optimizer is required with a discriminator and must be None without one. "
                f"Received: discriminator={self.discriminator is not None}, "
                f"d_optimizer={d_optimizer!r}"
            )
        if loss_scale is None:
            loss_scale = is_mixed_float16(self.generator)
        LSO = keras.optimizers.LossScaleOptimizer
        if loss_scale:
            if not isinstance(g_optimizer, LSO):
                g_optimizer = LSO(g_optimizer, name="g_loss_scale_optimizer")
            if d_optimizer is not None and not isinstance(d_optimizer, LSO):
                d_optimizer = LSO(d_optimizer, name="d_loss_scale_optimizer")
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.build_optimizers()
        # Retrace after a fine-tune patch or a new optimizer.
        self.train_function = None
        self.test_function = None

    def build_optimizers(self) -> None:
        """Creates the optimizer slots now (inside the active strategy scope), so checkpoints
        can restore them before the first step."""
        if self.g_optimizer is not None and self.generator.built:
            if not self.g_optimizer.built:
                self.g_optimizer.build(self.generator.trainable_variables)
        if self.d_optimizer is not None and self.discriminator.built:
            if not self.d_optimizer.built:
                self.d_optimizer.build(self.discriminator.trainable_variables)

    def call(self, inputs, training=False):
        """Runs the generator: ``inputs = (image, mask)`` -> dict of outputs."""
        return self.generator(inputs, training=training)

    # === Pieces of a step ===
    @staticmethod
    def _split_batch(data):
        if isinstance(data, dict):
            image, mask = data["image"], data["mask"]
        else:
            if len(data) != 2:
                raise ValueError(
                    f"A batch must be (image, mask). Received a {type(data).__name__} of "
                    f"{len(data)} elements"
                )
            image, mask = data
        image = tf.cast(image, tf.float32)
        mask = tf.cast(mask, tf.float32)
        return image, mask

    @staticmethod
    def replica_fraction(batch_size):
        """``local_batch / global_batch`` (1 without distribution). Multiplying a per-replica
        mean loss by it, then summing the gradients over replicas (what Keras' optimizers do
        under ``tf.distribute``), gives the gradient of the mean over the global batch."""
        strategy = tf.distribute.get_strategy()
        ctx = tf.distribute.get_replica_context()
        local = tf.cast(batch_size, tf.float32)
        if ctx is None or strategy.num_replicas_in_sync == 1:
            return tf.constant(1.0)
        total = ctx.all_reduce(tf.distribute.ReduceOp.SUM, local)
        return local / total

    def _disc(self, x, mask, training):
        if getattr(self.discriminator, "takes_mask", False):
            out = self.discriminator((x, mask), training=training)
        else:
            out = self.discriminator(x, training=training)
        return _unpack_discriminator(out)

    def _fake(self, image, mask, outputs):
        if self.recipe.adversarial_on == "raw":
            return outputs["output"]
        return composite(image, mask, outputs["output"])

    def _apply(self, optimizer, loss, tape, variables):
        grads = tape.gradient(loss, variables)
        optimizer.apply(grads, variables)

    def discriminator_step(self, image, mask, fake, fraction):
        """One D update on ``image`` (real) vs ``fake`` (gradient-stopped)."""
        fake = tf.stop_gradient(fake)
        with tf.GradientTape() as tape:
            real_logits, _ = self._disc(image, mask, training=True)
            fake_logits, _ = self._disc(fake, mask, training=True)
            d_loss = _scalar(self.adversarial_loss.discriminator_loss(real_logits, fake_logits))
            scaled = self.d_optimizer.scale_loss(d_loss * fraction)
        self._apply(self.d_optimizer, scaled, tape, self.discriminator.trainable_variables)
        return d_loss, _mean_logits(real_logits), _mean_logits(fake_logits)

    def train_step(self, data):
        """G forward, every term, D update then G update (see the module docstring)."""
        if self.g_optimizer is None:
            raise ValueError("Call compile(g_optimizer, d_optimizer) before training.")
        image, mask = self._split_batch(data)
        batch = tf.shape(image)[0]
        fraction = self.replica_fraction(batch)
        weight = tf.cast(batch, tf.float32)  # metrics average over the global batch
        adv_logs = {}
        with tf.GradientTape() as g_tape:
            outputs = _as_float32_dict(self.generator((image, mask), training=True))
            disc_features = None
            adv = None
            if self.discriminator is not None:
                fake = self._fake(image, mask, outputs)
                with g_tape.stop_recording():
                    d_loss, d_real, d_fake = self.discriminator_step(image, mask, fake, fraction)
                    real_features = None
                    if self._needs_disc_features:
                        _, real_features = self._disc(image, mask, training=True)
                fake_logits, fake_features = self._disc(fake, mask, training=True)
                if self._needs_disc_features:
                    disc_features = (
                        [tf.stop_gradient(f) for f in real_features],
                        fake_features,
                    )
                adv = _scalar(self.adversarial_loss.generator_loss(fake_logits))
                adv_logs = {"g_adv": adv, "d_loss": d_loss, "d_real": d_real, "d_fake": d_fake}
            g_total, terms = self.generator_loss(image, mask, outputs, disc_features=disc_features)
            g_total = tf.cast(g_total, tf.float32)
            if adv is not None:
                g_total = g_total + self.recipe.adversarial_weight * adv
            scaled = self.g_optimizer.scale_loss(g_total * fraction)
        self._apply(self.g_optimizer, scaled, g_tape, self.generator.trainable_variables)
        self.step.assign_add(1)

        self.g_total_tracker.update_state(g_total, sample_weight=weight)
        self._update_terms(terms, weight)
        for name, value in adv_logs.items():
            self.adversarial_trackers[name].update_state(value, sample_weight=weight)
        names = self.train_metric_names
        return {m.name: m.result() for m in self.metrics if m.name in names}

    def _update_terms(self, terms, weight):
        unknown = sorted(set(terms) - set(self.term_trackers))
        if unknown:
            raise ValueError(
                f"The generator loss returned terms that are not in recipe {self.recipe.name!r}: "
                f"{unknown}. Recipe terms: {list(self.term_names)}"
            )
        for name, value in terms.items():
            self.term_trackers[name].update_state(tf.cast(value, tf.float32), sample_weight=weight)

    def test_step(self, data):
        """Generator losses (no adversarial term) plus PSNR / SSIM / L1 of the composite."""
        image, mask = self._split_batch(data)
        weight = tf.cast(tf.shape(image)[0], tf.float32)
        outputs = _as_float32_dict(self.generator((image, mask), training=False))
        g_total, terms = self.generator_loss(image, mask, outputs, disc_features=None)
        self.g_total_tracker.update_state(tf.cast(g_total, tf.float32), sample_weight=weight)
        self._update_terms(terms, weight)
        comp = tf.clip_by_value(composite(image, mask, outputs["output"]), 0.0, 1.0)
        for name, value in image_quality(image, mask, comp).items():
            self.eval_trackers[name].update_state(value, sample_weight=weight)
        names = ["g_total", *(f"g_{n}" for n in self.term_names), *self.eval_trackers]
        return {m.name: m.result() for m in self.metrics if m.name in names}


def image_quality(target, mask, comp) -> dict:
    """Batch means of PSNR and SSIM (max value 1) of the composite, its L1 over all pixels and
    over the hole pixels only (``sum(|comp - y| * (1 - M)) / (3 * sum(1 - M))``)."""
    try:
        from tfinpaint.metrics import tf_psnr, tf_ssim
    except ImportError:  # metrics.py not present: TensorFlow's definitions (same formulas)
        tf_psnr = tf_ssim = None
    if tf_psnr is not None:
        psnr = tf_psnr(target, comp)
        ssim = tf_ssim(target, comp)
    else:
        psnr = tf.image.psnr(target, comp, max_val=1.0)
        ssim = tf.image.ssim(target, comp, max_val=1.0)
    diff = tf.abs(comp - target)
    hole = 1.0 - mask
    hole_l1 = tf.reduce_sum(diff * hole) / tf.maximum(3.0 * tf.reduce_sum(hole), 1.0)
    return {
        "psnr": tf.reduce_mean(tf.cast(psnr, tf.float32)),
        "ssim": tf.reduce_mean(tf.cast(ssim, tf.float32)),
        "l1": tf.reduce_mean(diff),
        "hole_l1": hole_l1,
    }
