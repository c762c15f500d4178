"""Multi-label variant of the tiny dataset: 4 classes, multi-hot float labels (upstream-style task class)."""
# ruff: noqa: F821

include("tiny.py")


class MultiLabelClassificationTask:
    """Named like upstream's task class; the engine maps it to "multi_label"."""


task = MultiLabelClassificationTask()


class TinyMulti(TinyDataset):
    def __getitem__(self, i):
        sample = super().__getitem__(i)
        label = torch.zeros(num_classes)
        label[sample["label"]] = 1.0
        label[(sample["label"] + 1) % num_classes] = 1.0
        sample["label"] = label
        return sample
