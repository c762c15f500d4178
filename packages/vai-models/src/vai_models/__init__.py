"""vai-models: video action-recognition architectures behind one registry."""

from . import feature_mlp, image, mvf, tdn, trn, tsn, video3d  # noqa: F401  (importing registers models)
from .checkpointing import enable_activation_checkpointing
from .complexity import flops, params
from .optim import get_optim_policies
from .registry import (
    UnknownModelError,
    create_model,
    get_model_builder,
    is_model,
    list_models,
    register_model,
)
from .weights import (
    CheckpointError,
    CheckpointMismatchError,
    LoadSummary,
    load_backbone_imagenet,
    load_pretrained,
)

__all__ = [
    "CheckpointError",
    "CheckpointMismatchError",
    "LoadSummary",
    "UnknownModelError",
    "create_model",
    "enable_activation_checkpointing",
    "flops",
    "get_optim_policies",
    "get_model_builder",
    "is_model",
    "list_models",
    "load_backbone_imagenet",
    "load_pretrained",
    "params",
    "register_model",
]
