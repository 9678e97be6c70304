"""Model registry: one entry per network (or classical method), KerasHub-preset style.

A registry entry holds everything needed to build, train and convert a model by name:

- ``builder(**config)`` returning the generator (a ``keras.Model`` taking ``(image, mask)``,
  image float ``[0, 1]`` ``(N, H, W, 3)``, mask float ``(N, H, W, 1)`` with 1 = known, and
  returning a dict with at least ``"output"`` in ``[0, 1]`` space before compositing);
- ``config``: the official default constructor arguments;
- ``recipe``: the name of its training recipe (``tfinpaint.training.recipes``);
- ``discriminator``: builder of its discriminator, or ``None``;
- ``discriminator_config``: the generator config keys the discriminator builder receives too,
  where the official code gives both networks the same value (Baik: ``cnum``); built with
  :func:`build_discriminator`, so ``--config cnum=8`` narrows both networks;
- ``converter``: dotted path ``"module:function"`` converting an official checkpoint, or ``None``;
- ``size_multiple``: H and W must be multiples of it (``Inpainter`` pads to it);
- ``metadata``: paper, venue, official repository, input range, notes.

``kind`` is ``"keras"`` for networks and ``"classical"`` for non-learned methods such as OpenCV's
``cv2.inpaint``, which are accepted wherever a model name is (evaluation, inference).
Adding a model = one model module calling :func:`register_model` + a recipe.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

# Modules that register models when imported (one per paper / method).
_MODEL_MODULES = (
    "tfinpaint.models.classical",
    "tfinpaint.models.pconv_unet",
    "tfinpaint.models.rfr",
    "tfinpaint.models.msa",
    "tfinpaint.models.madf",
    "tfinpaint.models.recurrent",
    "tfinpaint.models.regionwise",
)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[..., Any]
    config: dict = dataclasses.field(default_factory=dict)
    kind: str = "keras"
    recipe: str | None = None
    discriminator: Callable[..., Any] | None = None
    discriminator_config: tuple[str, ...] = ()
    converter: str | None = None
    size_multiple: int = 1
    metadata: dict = dataclasses.field(default_factory=dict)


_REGISTRY: dict[str, ModelSpec] = {}
_loaded = False


def register_model(spec: ModelSpec) -> ModelSpec:
    if spec.kind not in ("keras", "classical"):
        raise ValueError(f"kind must be 'keras' or 'classical'. Received: kind={spec.kind!r}")
    if spec.name in _REGISTRY and _REGISTRY[spec.name] is not spec:
        raise ValueError(f"A model named {spec.name!r} is already registered.")
    _REGISTRY[spec.name] = spec
    return spec


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for module in _MODEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
            raise ImportError(
                f"Model module {module!r} is listed in _MODEL_MODULES "
                "(tfinpaint/models/registry.py) but does not exist."
            ) from e
    _loaded = True


def list_models(kind: str | None = None) -> list[str]:
    """Registered names, sorted; ``kind="keras"`` or ``"classical"`` filters."""
    _load_all()
    return sorted(n for n, s in _REGISTRY.items() if kind is None or s.kind == kind)


def get_spec(name: str) -> ModelSpec:
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"Unknown model {name!r}. Registered models: {', '.join(list_models())}"
        ) from None


# Edge settings every model accepts as a build override besides its own config: they change how
# the edge path (:func:`tfinpaint.edge.run_padded`: Inpainter, evaluation, SavedModel and TFLite
# graphs) runs the network, not the network. ``context_margin``: pixels of reflected context
# added on every side before the network runs (see ``run_padded``).
EDGE_CONFIG = {"context_margin": 0}


def build(name: str, **overrides):
    """Builds a registered model with its official config, updated by ``overrides``.

    Unknown override keys raise ``KeyError`` naming them (nothing is silently ignored). The
    result is ready for ``load_weights``, export and conversion: its variables exist (a
    subclassed network is called once, see :func:`ensure_built`), it has a ``size_multiple``
    (the model's own, else the registry entry's), and it remembers where it came from in
    ``registry_name`` / ``registry_config`` (the overrides), which exports record so a SavedModel
    can be traced back to its registry entry. The :data:`EDGE_CONFIG` keys are accepted for every
    model and set as attributes of the same name.
    """
    spec = get_spec(name)
    edge = {key: overrides.pop(key) for key in list(overrides) if key in EDGE_CONFIG}
    for key, value in edge.items():
        _check_override_type(name, key, EDGE_CONFIG[key], value)
        if value < 0:
            raise ValueError(f"{key} must be >= 0. Received: {key}={value!r}")
    unknown = sorted(set(overrides) - set(spec.config))
    if unknown:
        raise KeyError(
            f"Unknown config keys for model {name!r}: {unknown}. Known keys: "
            f"{sorted(spec.config)} and the edge settings {sorted(EDGE_CONFIG)}"
        )
    for key, value in overrides.items():
        _check_override_type(name, key, spec.config[key], value)
    model = spec.builder(**{**spec.config, **overrides})
    for attr, value in (
        ("size_multiple", getattr(model, "size_multiple", None) or spec.size_multiple),
        ("min_size", getattr(model, "min_size", None) or spec.metadata.get("min_size")),
        *edge.items(),
        ("registry_name", name),
        ("registry_config", {**overrides, **edge}),
    ):
        try:
            setattr(model, attr, value)
        except AttributeError:  # an object refusing new attributes
            pass
    if spec.kind == "keras":
        ensure_built(model)
    return model


def build_discriminator(name: str, **overrides):
    """Builds the discriminator of a registered model for the generator config ``overrides``.

    The builder receives the keys of ``spec.discriminator_config`` from the generator's config
    (official defaults updated by ``overrides``, checked as in :func:`build`), nothing else, so
    a discriminator follows the generator only where the official code ties them.
    """
    spec = get_spec(name)
    if spec.discriminator is None:
        raise ValueError(f"Model {name!r} registers no discriminator builder.")
    unknown = sorted(set(overrides) - set(spec.config))
    if unknown:
        raise KeyError(
            f"Unknown config keys for model {name!r}: {unknown}. Known keys: {sorted(spec.config)}"
        )
    config = {**spec.config, **overrides}
    return spec.discriminator(**{key: config[key] for key in spec.discriminator_config})


def _check_override_type(name: str, key: str, default, value) -> None:
    """``ValueError`` naming ``key`` when an override's type cannot be what the default is
    (e.g. ``--config layer_size=notjson`` for an int)."""
    if default is None or value is None:
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ValueError(
            f"config key {key!r} of model {name!r} takes a {type(default).__name__} (default "
            f"{default!r}). Received: {key}={value!r} ({type(value).__name__})"
        )


def ensure_built(model, size: int | None = None) -> None:
    """Creates the variables of an unbuilt (subclassed) generator by one call.

    The call uses a ``size x size`` all-known input, ``size`` defaulting to the smallest
    multiple of ``model.size_multiple`` that is at least 64 (and at least ``model.min_size``).
    Functional models are built at construction and are left alone.
    """
    if getattr(model, "built", True) and getattr(model, "weights", None):
        return
    import numpy as np

    multiple = int(getattr(model, "size_multiple", None) or 1)
    side = size or max(64, int(getattr(model, "min_size", None) or 0))
    side = -(-side // multiple) * multiple
    model((np.zeros((1, side, side, 3), np.float32), np.ones((1, side, side, 1), np.float32)),
          training=False)
