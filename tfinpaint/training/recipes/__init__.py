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
from tfinpaint.losses.terms import LOSS_NAMES, ON_CHOICES, PIXEL_SPACES, LossTerm  # noqa: F401

ADVERSARIAL_KINDS = (None, "hinge", "nsgan", "lsgan")


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    name: str = "adam"
    learning_rate: float = 2e-4
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7  # Keras default; PyTorch Adam uses 1e-8 (recipes porting torch set it)

    def build(self):
        import keras

        if self.name != "adam":
            raise ValueError(f"Only 'adam' is supported. Received: name={self.name!r}")
        return keras.optimizers.Adam(
            learning_rate=self.learning_rate,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
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
    feature_normalization: str = "none"  # "none" | "imagenet" | "caffe"
    # Space of the pixel terms (valid, hole, l1, tv*, frequency): "image" ([0, 1]) or
    # "imagenet" ((x - mean) / std, where MADF's official code computes them).
    pixel_space: str = "image"
    adversarial: str | None = None  # one of ADVERSARIAL_KINDS
    adversarial_weight: float = 0.0
    adversarial_on: str = "composite"
    # Multiplier of the discriminator loss (MANet: (BCE(real) + BCE(fake)) / 2 -> 0.5).
    d_loss_weight: float = 1.0
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
        if self.pixel_space not in PIXEL_SPACES:
            raise ValueError(
                f"pixel_space must be one of {PIXEL_SPACES}. Received: {self.pixel_space!r}"
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
    "tfinpaint.training.recipes.msa_net",
    "tfinpaint.training.recipes.madf",
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
