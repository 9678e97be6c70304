"""Training recipes as data (TF Model Garden / LaMa style).

A :class:`Recipe` lists the generator's loss terms (:class:`LossTerm`), the adversarial loss (kind,
weight, discriminator), the optimizers and learning rates (:class:`OptimizerSpec`) and the
fine-tune stage (:class:`FineTuneStage`). Each paper's recipe lives in its own module of this
package and is registered with :func:`register_recipe`; ``Recipe.replace(**kw)`` makes a copy
with overrides and raises ``KeyError`` on unknown keys.
"""

from __future__ import annotations

import dataclasses
import importlib

# The loss vocabulary lives in ``tfinpaint.losses.terms`` (losses never import training/);
# re-exported here because recipes are written with it.
from tfinpaint.losses.terms import LOSS_NAMES, LOSS_OPTIONS, ON_CHOICES, PIXEL_SPACES, LossTerm  # noqa: F401

ADVERSARIAL_KINDS = (None, "hinge", "nsgan", "lsgan")


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """Optimizer as data.

    ``ema_momentum``: ``None`` (no averaging) or the momentum ``m`` of an exponential moving
    average of the trained weights (``average = m_t * average + (1 - m_t) * weight`` after each
    step, ``m_t = min(m, (1 + t) / (10 + t))``: see
    :class:`tfinpaint.training.optimizers.WarmupEMAAdam`). The average lives in the optimizer
    (and its checkpoints); the trainer evaluates and exports it
    (``InpaintingTrainer.ema_weights``) while training continues on the raw weights.
    """

    name: str = "adam"
    learning_rate: float = 2e-4
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7  # Keras default; PyTorch Adam uses 1e-8 (recipes porting torch set it)
    ema_momentum: float | None = None

    def __post_init__(self):
        if self.ema_momentum is not None and not 0.0 < self.ema_momentum < 1.0:
            raise ValueError(
                f"ema_momentum must be None or in (0, 1). Received: {self.ema_momentum!r}"
            )

    def build(self, schedule: LRSchedule | None = None):
        """The Keras optimizer; ``schedule`` (a recipe's ``lr_schedule``) decays
        ``learning_rate`` over the optimizer's iterations."""
        import keras

        if self.name != "adam":
            raise ValueError(f"Only 'adam' is supported. Received: name={self.name!r}")
        lr = self.learning_rate if schedule is None else schedule.build(self.learning_rate)
        cls, ema = keras.optimizers.Adam, {}
        if self.ema_momentum is not None:
            from tfinpaint.training.optimizers import WarmupEMAAdam

            cls = WarmupEMAAdam
            ema = {"use_ema": True, "ema_momentum": self.ema_momentum,
                   "ema_overwrite_frequency": None}
        return cls(
            learning_rate=lr,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            **ema,
        )


LR_SCHEDULE_KINDS = ("constant", "step", "cosine")


@dataclasses.dataclass(frozen=True)
class LRSchedule:
    """Learning-rate schedule as recipe data, applied to each optimizer's base learning rate
    (``OptimizerSpec.learning_rate``) and driven by the optimizer's own step counter (saved in
    checkpoints, so a resumed run continues the schedule).

    Args:
        kind: ``"constant"``; ``"step"``: ``lr * gamma ** floor(step / step_size)`` (PyTorch
            ``StepLR``); ``"cosine"``: cosine decay from ``lr`` to ``alpha * lr`` over
            ``decay_steps`` (Keras ``CosineDecay``).
        step_size: steps between two ``gamma`` decays (``"step"``).
        gamma: multiplicative decay (``"step"``).
        decay_steps: length of the cosine (``"cosine"``).
        alpha: final fraction of the learning rate (``"cosine"``).
    """

    kind: str = "constant"
    step_size: int = 1
    gamma: float = 1.0
    decay_steps: int = 1
    alpha: float = 0.0

    def __post_init__(self):
        if self.kind not in LR_SCHEDULE_KINDS:
            raise ValueError(
                f"kind must be one of {LR_SCHEDULE_KINDS}. Received: kind={self.kind!r}"
            )
        if self.kind == "step" and (int(self.step_size) < 1 or not self.gamma > 0):
            raise ValueError(
                f"a step schedule needs step_size >= 1 and gamma > 0. Received: "
                f"step_size={self.step_size!r}, gamma={self.gamma!r}"
            )
        if self.kind == "cosine" and int(self.decay_steps) < 1:
            raise ValueError(f"decay_steps must be >= 1. Received: {self.decay_steps!r}")

    def build(self, learning_rate: float):
        """A float (constant) or a ``keras.optimizers.schedules.LearningRateSchedule``."""
        import keras

        if self.kind == "constant":
            return learning_rate
        if self.kind == "step":
            return keras.optimizers.schedules.ExponentialDecay(
                learning_rate, decay_steps=int(self.step_size), decay_rate=float(self.gamma),
                staircase=True,
            )
        return keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=int(self.decay_steps), alpha=float(self.alpha)
        )


@dataclasses.dataclass(frozen=True)
class FineTuneStage:
    """Second training stage: frozen BatchNorm statistics and a lower learning rate.

    Args:
        freeze_batchnorm: ``"all"`` (RFR: every BN in inference mode), ``"encoder"`` (PConv: the
            encoder's BN only) or ``"none"``. Gamma/beta stay trainable, as in the official codes.
        learning_rate: generator learning rate in this stage.
        d_learning_rate: discriminator learning rate in this stage, or ``None`` to keep the
            recipe's ``d_optimizer`` rate.
    """

    freeze_batchnorm: str = "all"
    learning_rate: float = 5e-5
    # Discriminator learning rate in this stage (MANet: 0.1 x the fine-tune lr); None keeps
    # the recipe's d_optimizer learning rate.
    d_learning_rate: float | None = None


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    terms: tuple[LossTerm, ...]
    feature_network: str = "vgg16"  # loss network for perceptual/style ("vgg16" | "vgg19")
    feature_layers: tuple[str, ...] = ("pool1", "pool2", "pool3")
    # Per-loss subsets of feature_layers, as ((loss, (layer, ...)), ...) with loss in
    # "perceptual" | "style" | "correlation" (Baik: VGG19 relu1_1..5_1 perceptual, relu2_2,
    # relu3_4, relu4_4, relu5_2 style); a loss not listed uses every feature layer.
    feature_layer_sets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    feature_normalization: str = "none"  # "none" | "imagenet" | "caffe"
    # Space of the pixel terms (valid, hole, l1, tv*, frequency): "image" ([0, 1]) or
    # "imagenet" ((x - mean) / std, where MADF's official code computes them).
    pixel_space: str = "image"
    feature_resize: int | None = None  # VGG input resized first (Region-wise: 224)
    adversarial: str | None = None  # one of ADVERSARIAL_KINDS
    adversarial_weight: float = 0.0
    adversarial_on: str = "composite"
    # Multiplier of the discriminator loss (MANet: (BCE(real) + BCE(fake)) / 2 -> 0.5).
    d_loss_weight: float = 1.0
    g_optimizer: OptimizerSpec = OptimizerSpec()
    d_optimizer: OptimizerSpec | None = None
    lr_schedule: LRSchedule | None = None  # applied to both optimizers' learning rates
    finetune: FineTuneStage | None = None
    data_policy: str = "random_square_crop"  # crop policy of tfinpaint.data.images
    notes: str = ""

    def __post_init__(self):
        if self.adversarial not in ADVERSARIAL_KINDS:
            raise ValueError(
                f"adversarial must be one of {ADVERSARIAL_KINDS}. Received: {self.adversarial!r}"
            )
        if self.pixel_space not in PIXEL_SPACES:
            raise ValueError(
                f"pixel_space must be one of {PIXEL_SPACES}. Received: {self.pixel_space!r}"
            )
        names = [t.metric_name for t in self.terms]
        if len(set(names)) != len(names):
            raise ValueError(f"Loss term names must be unique. Received: {names}")
        for entry in self.feature_layer_sets:
            loss, layers = entry
            outside = [name for name in layers if name not in self.feature_layers]
            if loss not in ("perceptual", "style", "correlation") or outside:
                raise ValueError(
                    "feature_layer_sets entries are (perceptual|style|correlation, layers) with "
                    f"layers among feature_layers {self.feature_layers}. Received: {entry!r}"
                )

    def layer_sets(self) -> dict[str, tuple[str, ...]]:
        """``feature_layer_sets`` as a dict (``GeneratorLoss(layer_sets=...)``)."""
        return {loss: tuple(layers) for loss, layers in self.feature_layer_sets}

    def with_loss_weights(self, weights: dict[str, float]) -> Recipe:
        """A copy with loss weights overridden by name (``tfinpaint train --loss-weight``).

        Names are the terms' metric names, as logged without the ``g_`` prefix (Baik:
        ``refine_l1``, ``perceptual``, ``style``, ``sobel``, ...), and ``adversarial`` for
        ``adversarial_weight``. A term given weight 0 is dropped (it is neither computed nor
        logged, as the VGG terms are in ``pconv_unet_pixel``); ``adversarial=0`` keeps the
        discriminator training (and feature matching) but removes the generator's adversarial
        term. Unknown names raise ``KeyError`` listing the known ones; weights must be finite
        and >= 0.
        """
        known = [t.metric_name for t in self.terms] + ["adversarial"]
        unknown = sorted(set(weights) - set(known))
        if unknown:
            raise KeyError(
                f"Unknown loss names {unknown} for recipe {self.name!r}. Known: {known}"
            )
        for name, weight in weights.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not (
                    0.0 <= weight < float("inf")):
                raise ValueError(
                    f"Loss weights must be finite numbers >= 0. Received: {name}={weight!r}"
                )
        terms = tuple(
            dataclasses.replace(t, weight=float(weights[t.metric_name]))
            if t.metric_name in weights else t
            for t in self.terms
        )
        return self.replace(
            terms=tuple(t for t in terms if t.weight != 0),
            adversarial_weight=float(weights.get("adversarial", self.adversarial_weight)),
        )

    def replace(self, **overrides) -> Recipe:
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise KeyError(f"Unknown recipe fields: {unknown}")
        return dataclasses.replace(self, **overrides)


_RECIPES: dict[str, Recipe] = {}
_RECIPE_MODULES = (
    "tfinpaint.training.recipes.pconv_unet",
    "tfinpaint.training.recipes.rfr_net",
    "tfinpaint.training.recipes.msa_net",
    "tfinpaint.training.recipes.madf",
    "tfinpaint.training.recipes.recurrent_refine",
    "tfinpaint.training.recipes.regionwise",
)
_loaded = False


def register_recipe(recipe: Recipe) -> Recipe:
    if recipe.name in _RECIPES and _RECIPES[recipe.name] != recipe:
        raise ValueError(f"A different recipe named {recipe.name!r} is already registered.")
    _RECIPES[recipe.name] = recipe
    return recipe


def _load_all():
    global _loaded
    if _loaded:
        return
    for module in _RECIPE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
            raise ImportError(
                f"Recipe module {module!r} is listed in _RECIPE_MODULES "
                "(tfinpaint/training/recipes/__init__.py) but does not exist."
            ) from e
    _loaded = True


def list_recipes() -> list[str]:
    _load_all()
    return sorted(_RECIPES)


def get_recipe(name: str) -> Recipe:
    _load_all()
    try:
        return _RECIPES[name]
    except KeyError:
        raise KeyError(f"Unknown recipe {name!r}. Registered: {list_recipes()}") from None
