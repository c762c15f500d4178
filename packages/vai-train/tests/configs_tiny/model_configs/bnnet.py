"""Tiny conv -> BatchNorm3d -> fc net for tests: its running statistics differ per DDP rank after training
(unless synchronised); ``trained_mean`` keeps the running mean after the last training step, before the
engine gives every rank rank 0's buffers for validation."""

from torch import nn


class BNNet(nn.Module):
    def __init__(self, num_classes, width=8):
        super().__init__()
        self.conv = nn.Conv3d(3, width, kernel_size=1)
        self.bn = nn.BatchNorm3d(width)
        self.fc = nn.Linear(width, num_classes)
        self.num_features = width

    def forward_features(self, x):
        out = self.bn(self.conv(x)).relu().mean(dim=(2, 3, 4))
        if self.training:
            self.trained_mean = self.bn.running_mean.detach().clone()
        return out

    def forward(self, x):
        return self.fc(self.forward_features(x))


def load_model(num_classes, input_frame_length, **kw):
    return BNNet(num_classes, **kw)
