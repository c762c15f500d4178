"""``feature_mlp``: an MLP over pre-extracted clip features (upstream ``FeatureModel``):
``[Linear → ReLU → BatchNorm1d] × num_layers → Linear``. Input (N, feature_dim); frames are ignored."""

from __future__ import annotations

import torch
from torch import nn

from .checks import check_input_dtype, check_int
from .registry import register_model
from .segment import new_linear_like, reject_unknown_kwargs

#: ``input_feature_dim`` is upstream's name for ``feature_dim``
FEATURE_MLP_OPTIONS = ("feature_dim", "input_feature_dim", "num_layers", "num_units")


class FeatureMLP(nn.Module):
    """MLP classifier on feature vectors with the uniform vai interface."""

    def __init__(self, feature_dim: int, num_classes: int, num_layers: int = 2, num_units: int = 128) -> None:
        super().__init__()
        if feature_dim < 1 or num_layers < 0 or num_units < 1:
            raise ValueError(
                f"feature_mlp: need feature_dim >= 1, num_layers >= 0, num_units >= 1; "
                f"got {feature_dim}, {num_layers}, {num_units}"
            )
        layers: list[nn.Module] = []
        width = feature_dim
        for _ in range(num_layers):
            layers += [nn.Linear(width, num_units), nn.ReLU(inplace=True), nn.BatchNorm1d(num_units)]
            width = num_units
        self.layers = nn.Sequential(*layers)
        self.num_features = width
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        self.fc = nn.Linear(width, num_classes)
        self.default_cfg = {
            "architecture": "feature_mlp",
            "mean": None,
            "std": None,
            "input_range": 1.0,
            "bgr": False,
            "crop_size": None,
            "num_frames": 1,
            "input_size": (feature_dim,),
            "test_input_size": (feature_dim,),
        }

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden features after the last block, shape (N, num_features)."""
        if x.dim() != 2 or x.shape[1] != self.feature_dim:
            raise ValueError(
                f"feature_mlp expects (N, {self.feature_dim}) features, got {tuple(x.shape)}; "
                "build it with feature_dim=<your feature width>"
            )
        check_input_dtype(x, self, what="feature batch")
        return self.layers(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """The final Linear (an Identity after ``reset_classifier(0)``)."""
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the final Linear for ``num_classes`` outputs (same device and dtype as the old one);
        ``0`` gives an Identity, so the model outputs its ``(N, num_features)`` hidden features."""
        num_classes = check_int("num_classes", num_classes, minimum=0)
        self.num_classes = num_classes
        self.fc = new_linear_like(self.fc, self.num_features, num_classes, model=self)


@register_model(options=FEATURE_MLP_OPTIONS, default_num_frames=1)
def feature_mlp(num_classes: int, num_frames: int = 1, in_channels: int = 3, **kw) -> FeatureMLP:
    """MLP on features: ``feature_dim`` (default 2048), ``num_layers`` (2), ``num_units`` (128)."""
    if in_channels != 3:  # 3 is create_model's default, so only an explicit other value gets here
        raise TypeError(
            f"feature_mlp takes (N, feature_dim) feature vectors, so in_channels={in_channels} does not "
            "apply; set the input width with feature_dim"
        )
    feature_dim = kw.pop("feature_dim", kw.pop("input_feature_dim", 2048))
    num_layers, num_units = kw.pop("num_layers", 2), kw.pop("num_units", 128)
    reject_unknown_kwargs("feature_mlp", kw, FEATURE_MLP_OPTIONS)
    return FeatureMLP(feature_dim, num_classes, num_layers, num_units)
