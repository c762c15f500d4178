"""Tiny experiment with a mixing train collate (soft labels + ``hard_label``, like vai_data's
MixupCutmixCollate), datasets wrapped in ``Subset`` whose base brings a ``device_transform``, and an
``epoch_start_script`` that swaps the train loader at epoch 2. Calls are recorded in $VAI_TEST_HOOK_LOG."""
# ruff: noqa: F821

import torch
from torch.utils.data import DataLoader, Subset, default_collate

include("_record.py")  # batch_size, input_frame_length, num_workers, _record
num_epochs = 2


class TaggedDataset(dataset_cfg.TinyDataset):
    """float64 clips that its device_transform turns into float32, recording which dataset it is."""

    def __init__(self, split, tag):
        super().__init__(split)
        self.tag = tag

    def __getitem__(self, i):
        sample = super().__getitem__(i)
        sample["video"] = sample["video"].double()
        return sample

    def device_transform(self, video):
        _record("device_transform", tag=self.tag, split=self.split)
        return video.float()


def get_torch_dataset(split):
    ds = TaggedDataset(split, "original")
    return Subset(ds, list(range(len(ds))))


def _mix(samples):
    batch = default_collate(samples)
    _record("mix")
    hard = batch["label"]
    soft = torch.nn.functional.one_hot(hard, dataset_cfg.num_classes).float()
    batch["video"] = 0.5 * (batch["video"] + batch["video"].flip(0))
    batch["hard_label"], batch["label"] = hard, 0.5 * (soft + soft.flip(0))
    return batch


def get_collate_fn(split):
    return _mix if split == "train" else None


def epoch_start_script(epoch, exp, args, rank, world_size, train_kit):
    if epoch == 2:
        swapped = TaggedDataset("train", "swapped")
        return {"train_loader": DataLoader(swapped, batch_size=batch_size, shuffle=True, collate_fn=_mix)}
    return None
