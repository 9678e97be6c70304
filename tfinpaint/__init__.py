"""tfinpaint: image inpainting networks for TensorFlow and Keras 3.

Public API: :func:`build_model`, :func:`list_models`, :class:`Inpainter`, :func:`load`.
Imports are lazy so that ``tfinpaint --help`` and the data tools start quickly.
"""

__version__ = "0.1.0"

__all__ = ["build_model", "list_models", "Inpainter", "load"]


def __getattr__(name):
    if name == "build_model":
        from tfinpaint.models.registry import build

        return build
    if name == "list_models":
        from tfinpaint.models.registry import list_models

        return list_models
    if name in ("Inpainter", "load"):
        from tfinpaint import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'tfinpaint' has no attribute {name!r}")
