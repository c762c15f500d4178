"""Tiny synthetic dataset config for vai-train's tests: 4 classes of 3x2x8x8 clips, class = mean pattern."""

import torch
from torch.utils.data import Dataset

num_classes = 4
task = "single_label"
class_keys = ["a", "b", "c", "d"]
split2mode = {"train": "train", "val": "test", "multicropval": "test"}
SIZES = {"train": 64, "val": 24, "multicropval": 24, "odd": 23, "one": 1}


class TinyDataset(Dataset):
    """Sample dicts as in DESIGN.md; train clips get random noise from torch's global RNG (tests resume)."""

    def __init__(self, split, num_crops=1, augment=None):
        self.split = split
        self.num_crops = num_crops
        self.augment = split == "train" if augment is None else augment
        n = SIZES.get(split, 24)
        g = torch.Generator().manual_seed({"train": 1, "val": 2}.get(split, 2))
        self.labels = torch.arange(n) % num_classes
        patterns = 2.0 * torch.randn(num_classes, 3, 1, 1, 1, generator=torch.Generator().manual_seed(0))
        self.videos = patterns[self.labels] + torch.randn(n, 3, 2, 8, 8, generator=g)

    def __len__(self):
        return len(self.labels) * self.num_crops

    def __getitem__(self, i):
        vid, crop = divmod(i, self.num_crops)
        video = self.videos[vid].clone()
        if crop:
            video = video.roll(crop, dims=-1)
        if self.augment:
            video = video + 0.1 * torch.randn_like(video)
        return {
            "video": video,
            "label": int(self.labels[vid]),
            "video_id": vid,
            "spatial_idx": crop,
            "temporal_idx": 0,
            "frame_indices": torch.tensor([0, 1]),
        }
