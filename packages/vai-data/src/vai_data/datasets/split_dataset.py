"""``SplitDataset``: what every split-file-backed dataset shares (class count, views, bad-sample count, epoch)."""

from __future__ import annotations

from torch.utils.data import Dataset

from ..split_file import SplitFile, SplitRow
from .resilience import BadSampleTracker


class SplitDataset(Dataset):
    """Base of ``VideoClipDataset`` and ``ImageDataset``: subclasses set ``split``, ``tracker``, ``epoch``
    and ``_views`` (samples per split row) and may override ``_row_label`` (pseudo-label hooks)."""

    split: SplitFile
    tracker: BadSampleTracker
    epoch: int
    _views: int

    @property
    def num_classes(self) -> int:
        """Classes in the split header for multi-label files; else 1 + the largest label seen."""
        if self.split.multilabel:
            return self.split.num_classes
        return 1 + max((int(r.label) for r in self.split.rows), default=-1)

    @property
    def multilabel(self) -> bool:
        return self.split.multilabel

    @property
    def video_ids(self) -> list[int]:
        """One video_id per sample (views of one video repeat it)."""
        return [r.video_id for r in self.split.rows for _ in range(self._views)]

    @property
    def labels(self) -> list:
        """One label per split row (int or tuple of ints)."""
        return [self._row_label(r) for r in self.split.rows]

    def _row_label(self, row: SplitRow):
        return row.label

    @property
    def bad_samples(self) -> int:
        """How many unreadable samples were substituted so far (summed over DataLoader workers)."""
        return self.tracker.count

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch that, with the seed and the index, determines every sample's randomness."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.split.rows) * self._views
