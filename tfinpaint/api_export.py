"""Public-symbol registration, modeled on KerasHub's ``keras_hub_export``.

``@tfinpaint_export("tfinpaint.layers.PartialConv2D")`` registers a class with Keras
serialization under the ``tfinpaint`` package, so ``.keras`` files and ``from_config`` find it by
name. After a rename, keep the old name registered with ``aliases=`` so saved files still load.
"""

from __future__ import annotations

import keras

PACKAGE = "tfinpaint"


def tfinpaint_export(path: str, aliases: tuple[str, ...] = ()):
    """Decorator: registers ``cls`` as ``tfinpaint>ClassName`` (plus each alias)."""

    def decorator(cls):
        registered = keras.saving.register_keras_serializable(package=PACKAGE)(cls)
        for alias in aliases:
            keras.saving.get_custom_objects()[f"{PACKAGE}>{alias}"] = cls
        registered._tfinpaint_export_path = path
        return registered

    return decorator
