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

# Loss names understood by ``tfinpaint.losses`` (see ``tfinpaint.losses.generator_loss``).
LOSS_NAMES = (
    "valid",  # mean(|y - out| * M) over all elements
    "hole",  # mean(|y - out| * (1 - M)) over all elements
    "tv",  # total variation on the hole region
    "tv_dilated",  # total variation on the 1-px dilated hole region (PConv paper)
    "perceptual",  # L1 between VGG features (layer set from the recipe)
    "style",  # L1 between Gram matrices / (C*H*W)
    "correlation",  # non-local correlation loss (HW x HW Gram at pool2)
    "low_frequency",  # L1 after a 5x5 box low-pass
    "high_frequency",  # L1 after a 3x3 sharpening high-pass
    "l1",  # plain mean L1
    "feature_matching",  # L1 between discriminator features of real and fake
)
ON_CHOICES = ("raw", "composite", "both")
ADVERSARIAL_KINDS = (None, "hinge", "nsgan", "lsgan")


@dataclasses.dataclass(frozen=True)
class LossTerm:
    """One weighted generator loss term.

    Args:
        loss: a name from ``LOSS_NAMES``.
        weight: multiplier in the total loss.
        output: which generator output it supervises (``"output"``, ``"coarse"``, ...).
        on: ``"raw"`` (the network output), ``"composite"`` (known pixels pasted back) or
            ``"both"`` (sum of the two, as RFR/PConv do for perceptual and style).
        name: metric name; defaults to ``loss`` (or ``f"{loss}_{output}"`` for non-final outputs).
    """

    loss: str
    weight: float
    output: str = "output"
    on: str = "raw"
    name: str | None = None

    def __post_init__(self):
        if self.loss not in LOSS_NAMES:
            raise ValueError(f"Unknown loss; known: {LOSS_NAMES}. Received: loss={self.loss!r}")
        if self.on not in ON_CHOICES:
            raise ValueError(f"on must be one of {ON_CHOICES}. Received: on={self.on!r}")

    @property
    def metric_name(self) -> str:
        if self.name:
            return self.name
        return self.loss if self.output == "output" else f"{self.loss}_{self.output}"


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

    def build(self):
        import keras

        if self.name != "adam":
            raise ValueError(f"Only 'adam' is supported. Received: name={self.name!r}")
        cls, ema = keras.optimizers.Adam, {}
        if self.ema_momentum is not None:
            from tfinpaint.training.optimizers import WarmupEMAAdam

            cls = WarmupEMAAdam
            ema = {"use_ema": True, "ema_momentum": self.ema_momentum,
                   "ema_overwrite_frequency": None}
        return cls(
            learning_rate=self.learning_rate,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            **ema,
        )


@dataclasses.dataclass(frozen=True)
class FineTuneStage:
    """Second training stage: frozen BatchNorm statistics and a lower learning rate.

    Args:
        freeze_batchnorm: ``"all"`` (RFR: every BN in inference mode), ``"encoder"`` (PConv: the
            encoder's BN only) or ``"none"``. Gamma/beta stay trainable, as in the official codes.
        learning_rate: generator learning rate in this stage.
    """

    freeze_batchnorm: str = "all"
    learning_rate: float = 5e-5


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    terms: tuple[LossTerm, ...]
    feature_network: str = "vgg16"  # loss network for perceptual/style ("vgg16" | "vgg19")
    feature_layers: tuple[str, ...] = ("pool1", "pool2", "pool3")
    feature_normalization: str = "none"  # "none" | "imagenet" | "caffe"
    adversarial: str | None = None  # one of ADVERSARIAL_KINDS
    adversarial_weight: float = 0.0
    adversarial_on: str = "composite"
    g_optimizer: OptimizerSpec = OptimizerSpec()
    d_optimizer: OptimizerSpec | None = None
    finetune: FineTuneStage | None = None
    data_policy: str = "random_square_crop"  # crop policy of tfinpaint.data.images
    notes: str = ""

    def __post_init__(self):
        if self.adversarial not in ADVERSARIAL_KINDS:
            raise ValueError(
                f"adversarial must be one of {ADVERSARIAL_KINDS}. Received: {self.adversarial!r}"
            )
        names = [t.metric_name for t in self.terms]
        if len(set(names)) != len(names):
            raise ValueError(f"Loss term names must be unique. Received: {names}")

    def replace(self, **overrides) -> Recipe:
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise KeyError(f"Unknown recipe fields: {unknown}")
        return dataclasses.replace(self, **overrides)


_RECIPES: dict[str, Recipe] = {}
_RECIPE_MODULES = (
    "tfinpaint.training.recipes.pconv_unet",
    "tfinpaint.training.recipes.rfr_net",
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
