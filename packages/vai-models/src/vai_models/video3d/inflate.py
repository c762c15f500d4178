"""2D → 3D inflation: load an ImageNet torchvision ResNet state_dict into an I3D ResNet.

Mean inflation repeats each 2D kernel ``kt`` times along time and divides by ``kt``, so a static
video (one frame repeated) gives every 3D layer the 2D layer's response on that frame, away from
the zero-padded temporal borders.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ._report import LoadReport, load_converted

logger = logging.getLogger(__name__)


def inflate_weight(weight_2d: torch.Tensor, temporal_size: int) -> torch.Tensor:
    """``(O, I, kh, kw)`` → ``(O, I, kt, kh, kw)``: repeat along time and divide by ``kt``."""
    return weight_2d.unsqueeze(2).repeat(1, 1, temporal_size, 1, 1) / temporal_size


def _read_state_dict(source: str | Path | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if isinstance(source, Mapping):
        sd = dict(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(
                f"2D checkpoint {path} does not exist; pass a torchvision ResNet .pth file"
            )
        sd = torch.load(path, map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model_state", "model"):
        if isinstance(sd.get(wrapper), Mapping):
            sd = dict(sd[wrapper])
    return {k.removeprefix("module."): v for k, v in sd.items() if isinstance(v, torch.Tensor)}


def inflate_resnet2d_state_dict(
    state_dict_2d: Mapping[str, torch.Tensor], model_3d: nn.Module
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Map a 2D ResNet state_dict onto ``model_3d``'s keys, inflating 4D kernels to the 3D kernel depth.

    Returns the 3D state_dict and the 2D keys that have no counterpart in ``model_3d``. An RGB stem
    going into a model with another number of input channels is averaged over RGB and repeated first.
    Tensors whose shapes still differ (e.g. the classifier) are left to the loader to report.
    """
    own = model_3d.state_dict()
    converted: dict[str, torch.Tensor] = {}
    unmapped: list[str] = []
    for key, value in state_dict_2d.items():
        target = own.get(key)
        if target is None:
            unmapped.append(key)
        elif value.dim() == 4 and target.dim() == 5:
            if key == "conv1.weight" and value.shape[1] == 3 and target.shape[1] != 3:
                # RGB stem into a flow / grey model: average over RGB and repeat, as for 2D models
                logger.info("adapting %s from 3 to %d input channels", key, target.shape[1])
                value = value.mean(dim=1, keepdim=True).expand(-1, target.shape[1], -1, -1)
            converted[key] = inflate_weight(value, target.shape[2])
        else:
            converted[key] = value
    return converted, unmapped


def load_inflated_resnet2d(
    model_3d: nn.Module, source: str | Path | Mapping[str, torch.Tensor], strict: bool = False
) -> LoadReport:
    """Inflate a torchvision ResNet checkpoint (path or state_dict) into ``model_3d`` and report.

    With the default ``strict=False`` the non-local blocks and a classifier of another size stay
    at their initialisation and are listed in the report.
    """
    name = str(source) if not isinstance(source, Mapping) else "2D state_dict"
    converted, unmapped = inflate_resnet2d_state_dict(_read_state_dict(source), model_3d)
    report = load_converted(model_3d, converted, unmapped, strict, name)
    logger.info("inflated %s: %s", name, report.summary())
    return report
