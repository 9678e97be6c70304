"""Inpainting networks, one module per paper, and the registry that names them."""

from tfinpaint.models.registry import ModelSpec, build, get_spec, list_models, register_model

__all__ = ["ModelSpec", "build", "get_spec", "list_models", "register_model"]
