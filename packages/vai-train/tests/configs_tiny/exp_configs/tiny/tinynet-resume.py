"""Base + Adam + per-iteration StepLR + epoch_start_script; SIGKILLs itself mid-epoch when
VAI_TEST_KILL_EPOCH is set (used by the resume test)."""
# ruff: noqa: F821

include("tinynet-base.py")
import os  # noqa: E402
import signal  # noqa: E402

import torch  # noqa: E402
from vai_train.config.experiment import default_unpack  # noqa: E402
from vai_train.schedulers import step_lr  # noqa: E402

num_epochs = 4
_state = {"epoch": 0, "batches": 0}


def optimiser(params):
    return torch.optim.Adam(params, lr=0.02)


def scheduler(optimiser, iters_per_epoch, last_epoch=-1):
    return step_lr(optimiser, iters_per_epoch, step_epochs=1, gamma=0.7)


def epoch_start_script(epoch, exp, args, rank, world_size, train_kit):
    _state["epoch"], _state["batches"] = epoch, 0
    return train_kit


def get_data_unpack_func(split):
    def unpack(batch):
        if split == "train":
            _state["batches"] += 1
            if str(_state["epoch"]) == os.environ.get("VAI_TEST_KILL_EPOCH") and _state["batches"] == 4:
                os.kill(os.getpid(), signal.SIGKILL)
        return default_unpack(batch)

    return unpack
