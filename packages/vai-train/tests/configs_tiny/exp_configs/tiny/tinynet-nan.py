"""Base whose training loss becomes NaN in epoch 2 (tests the non-finite loss stop)."""
# ruff: noqa: F821

include("tinynet-base.py")
from torch import nn  # noqa: E402

_state = {"epoch": 0}


class NanAtEpoch2(nn.CrossEntropyLoss):
    def forward(self, logits, labels):
        loss = super().forward(logits, labels)
        return loss * float("nan") if _state["epoch"] == 2 else loss


def get_criterion(split):
    return NanAtEpoch2()


def epoch_start_script(epoch, exp, args, rank, world_size, train_kit):
    _state["epoch"] = epoch
