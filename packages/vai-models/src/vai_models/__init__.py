"""vai-models: video action-recognition architectures behind one registry."""

from . import video3d  # noqa: F401  (registers the 3D models)
from .registry import create_model, get_model_builder, is_model, list_models, register_model

__all__ = ["create_model", "get_model_builder", "is_model", "list_models", "register_model"]
