"""Base whose datasets return upstream-style tuples (frames, video_id, label, spatial_idx, temporal_idx,
index, frame_indices) instead of sample dicts; the default unpack handles them."""
# ruff: noqa: F821

include("tinynet-base.py")
from torch.utils.data import Dataset  # noqa: E402

num_epochs = 1


class TupleDataset(Dataset):
    def __init__(self, split):
        self.ds = dataset_cfg.TinyDataset(split)

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        s = self.ds[i]
        return (
            s["video"],
            s["video_id"],
            s["label"],
            s["spatial_idx"],
            s["temporal_idx"],
            i,
            s["frame_indices"],
        )


def get_torch_dataset(split):
    return TupleDataset(split)
