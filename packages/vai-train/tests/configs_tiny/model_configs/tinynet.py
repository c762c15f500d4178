"""Tiny 3D conv net for tests: (N, C, T, H, W) -> logits."""

from torch import nn


class TinyNet(nn.Module):
    def __init__(self, num_classes, width=8, dropout=0.2):
        super().__init__()
        self.conv = nn.Conv3d(3, width, kernel_size=1)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(width, num_classes)
        self.num_features = width

    def forward_features(self, x):
        return self.conv(x).relu().mean(dim=(2, 3, 4))

    def forward(self, x):
        return self.fc(self.drop(self.forward_features(x)))


def load_model(num_classes, input_frame_length, **kw):
    return TinyNet(num_classes, **kw)


ddp_find_unused_parameters = False
use_amp = False
