"""Tiny experiment defining the optional hooks, each recording its calls in $VAI_TEST_HOOK_LOG (JSON lines)."""
# ruff: noqa: F821

import os

import torch
from torch.utils.data import default_collate

include("_record.py")  # batch_size, input_frame_length, num_workers, _record
num_epochs = 3


class EpochAwareDataset(dataset_cfg.TinyDataset):
    """Records set_epoch calls and reports a fixed number of substituted samples, like vai_data's datasets;
    hands out float64 clips that its ``device_transform`` turns into float32 (as vai_data's uint8 clips
    with ``normalise_on_device``) and batches them with its own ``collate_fn``. Train samples carry
    ``flip_pending`` (odd indices True), as vai_data's datasets that leave their flips to the device."""

    bad_samples = 2

    def set_epoch(self, epoch):
        _record("set_epoch", split=self.split, epoch=epoch)

    def __getitem__(self, i):
        sample = super().__getitem__(i)
        sample["video"] = sample["video"].double()
        if self.split == "train":
            sample["flip_pending"] = i % 2 == 1
        return sample

    def collate_fn(self, samples):
        _record("collate", split=self.split)
        return default_collate(samples)

    def device_transform(self, video, flip_pending=None):
        flags = None if flip_pending is None else [bool(f) for f in flip_pending]
        _record(
            "device_transform",
            split=self.split,
            dtype=str(video.dtype),
            device=str(video.device),
            flags=flags,
        )
        return video.float()


def get_torch_dataset(split):
    return EpochAwareDataset(split)


def get_input_reshape_func(split):
    def reshape(x):
        _record("input_reshape", split=split, shape=list(x.shape), dtype=str(x.dtype))
        return x

    return reshape


def load_pretrained(model):
    _record("load_pretrained")


def load_pretrained_postDDP(model):
    _record("load_pretrained_postDDP", wrapped=type(model).__name__)


def get_optim_policies(model):
    _record("get_optim_policies")
    return [{"params": list(model.parameters()), "lr": 0.05}]


def optimiser(params):
    return torch.optim.SGD(params, lr=0.05, momentum=0.9)


def early_stopping_condition(exp, metric_info):
    _record("early_stopping_condition", epochs=len(exp.summary) if hasattr(exp, "summary") else None)
    return False


def epoch_start_script(epoch, exp, args, rank, world_size, train_kit):
    _record("epoch_start_script", epoch=epoch, rank=rank, world_size=world_size)


def predictions_gatherers_val(video_ids, probs, labels):
    _record("predictions_gatherer", n=int(video_ids.numel()))
    return video_ids, probs, labels


predictions_gatherers = {"val": predictions_gatherers_val}


def metric_plotter(summary_csv, plots_dir):
    _record("metric_plotter", summary=os.path.basename(summary_csv))
    return []
