"""``SplitDataset``: what every split-file-backed dataset shares (class count, views, bad-sample count, epoch)."""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch.utils.data import Dataset

from ..arguments import check_short_side_limit
from ..memory import keep_freed_memory_once
from ..split_file import SplitFile, SplitRow
from ..transforms.clip import pair
from ..transforms.collate import collate_clips, is_channels_last_clip
from ..transforms.normalize import DeviceNormalize, Normalize
from .resilience import BadSampleTracker, SharedInt

logger = logging.getLogger(__name__)


def checked_crop_scales(train: bool, crop_size, scale_jitter, test_scale: int, crops_itself: bool = False):
    """``scale_jitter`` as ``(min, max)`` ints (train; as given in test, which never uses it), after refusing
    a bad jitter and a crop with a side larger than the scale - ``scale_jitter``'s min in train,
    ``test_scale`` in test - which would be zero-padded (black borders in every clip): frames are resized
    so that their short side is the scale, and a video may be portrait or landscape, so an ``(h, w)`` crop
    fits every frame only when both sides do. ``crops_itself``: a train transform crops instead, so
    ``crop_size`` is unused in train (but still has to be a size)."""
    crop_hw = pair(crop_size, "crop_size")  # (0, -16, 224.0, "16": one TypeError/ValueError line)
    if train:
        try:
            ok = len(scale_jitter) == 2 and 1 <= int(scale_jitter[0]) <= int(scale_jitter[1])
        except (TypeError, ValueError, IndexError):  # (a single number, not a pair: one line too)
            ok = False
        if not ok:
            raise ValueError(
                f"scale_jitter={scale_jitter} must be (min, max) short sides with 1 <= min <= max"
            )
        scale_jitter = (int(scale_jitter[0]), int(scale_jitter[1]))
    # the decoders' limit, checked here rather than at the first sample
    check_short_side_limit(
        *(("scale_jitter's largest short side", scale_jitter[1]) if train else ("test_scale", test_scale))
    )
    scale, what = (
        (scale_jitter[0], "the smallest short side of scale_jitter") if train else (test_scale, "test_scale")
    )
    if max(crop_hw) > scale and not (train and crops_itself):
        either = (
            ""
            if crop_hw[0] == crop_hw[1]
            else " (either side of the crop may lie along a frame's short side)"
        )
        raise ValueError(
            f"crop_size={crop_size} is larger than {what} ({scale}): crops would be zero-padded{either}; "
            "lower crop_size or raise the scale"
        )
    return scale_jitter


class SplitDataset(Dataset):
    """Base of ``VideoClipDataset`` and ``ImageDataset``: subclasses set ``split``, ``tracker``, ``epoch``
    and ``_views`` (samples per split row), implement ``_load(index, attempt)`` and may override
    ``_row_label`` (pseudo-label hooks).

    Normalisation happens in ``finish_clip``: in the worker (float ``video``), or - with
    ``normalise_on_device`` - on the training device, where the engine applies ``device_transform`` to
    each batch; ``video`` is then a uint8 channels-last clip and ``collate_fn`` batches it without a copy
    that would change its layout.
    """

    split: SplitFile
    tracker: BadSampleTracker
    #: ``set_epoch`` reaches DataLoader workers that are already running (the epoch is in shared memory),
    #: so persistent workers are safe: vai-train checks this before keeping workers between epochs
    epoch_reaches_workers = True
    _views: int
    normalize: Normalize
    normalise_on_device: bool = False
    device_transform: DeviceNormalize | None = None
    collate_fn = staticmethod(collate_clips)

    def _load(self, index: int, attempt: int) -> dict:
        raise NotImplementedError

    def check_index(self, index: int) -> int:
        """``len(self)``, after checking ``index`` is in ``[0, len)`` (one IndexError line otherwise)."""
        n = len(self)
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for a dataset of {n} samples")
        return n

    def __getitem__(self, index: int) -> dict:
        n = self.check_index(index)
        keep_freed_memory_once()  # this process reuses freed clip buffers (vai_data.memory)
        if self.train:
            self._note_served(1)
        return self.tracker.run(index, n, self._load, self._views, self.epoch)

    # ------------------------------------------------------------------ epoch
    @property
    def epoch(self) -> int:
        """The epoch that, with the seed and the index, determines every sample's randomness. It lives in
        shared memory, so ``set_epoch`` reaches DataLoader workers that are already running
        (``persistent_workers=True``), not only those started after it."""
        return self._epoch.value

    @epoch.setter
    def epoch(self, value: int) -> None:
        if "_epoch" not in self.__dict__:  # (the constructor's first assignment)
            self._epoch, self._served, self._warned_unset = SharedInt(int(value)), SharedInt(0), SharedInt(0)
        else:
            self._epoch.value = int(value)
            self._served.value = 0

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch that, with the seed and the index, determines every sample's randomness. Call it
        at the start of every training epoch: without it every epoch repeats the same clips."""
        self.epoch = int(epoch)

    def _note_served(self, k: int) -> None:
        """Count train samples served since ``set_epoch``; past twice the dataset's length, warn once (in
        any process) that every epoch is repeating the same clips."""
        if self._served.add(k) > 2 * len(self) and not self._warned_unset.value:
            self._warned_unset.value = 1
            logger.warning(
                "this train dataset has served more than twice its %d samples under epoch %d: call "
                "dataset.set_epoch(epoch) at the start of every epoch, or every epoch gets the same clips "
                "(the same frames, crops and flips)",
                len(self),
                self.epoch,
            )

    def _set_normalisation(
        self,
        normalize: Normalize,
        on_device: bool,
        channel_repeat: int = 1,
        flips_pending: bool = False,
        resizes_pending: bool = False,
    ) -> None:
        self.normalize, self.normalise_on_device = normalize, bool(on_device)
        self.device_transform = (
            DeviceNormalize(normalize, channel_repeat, flips_pending, resizes_pending) if on_device else None
        )

    def finish_clip(self, clip: torch.Tensor | np.ndarray) -> torch.Tensor:
        """uint8 ``(T, C, H, W)`` (or a numpy ``(T, H, W, C)`` array, as decoders write frames) -> normalised
        float ``(C, T, H, W)``, or with ``normalise_on_device`` the uint8 ``(C, T, H, W)`` view of a
        channels-last buffer. A crop stays a view of the decoded frames (no copy here: ``collate_fn`` copies
        it straight into the batch); other layouts are made dense."""
        if isinstance(clip, np.ndarray):
            if clip.dtype.char != "B" or clip.ndim != 4:  # (not `!= np.uint8`: a conversion per sample)
                raise TypeError(f"expected uint8 (T, H, W, C) frames, got {clip.dtype} {clip.shape}")
            (t, h, w, c), (st, sh, sw, sc) = clip.shape, clip.strides  # (bytes = elements for uint8)
            channels_last = sc == 1 and (t == 1 or st >= c) and (h == 1 or sh >= c) and (w == 1 or sw >= c)
            if not (channels_last and clip.flags.writeable):  # other layouts, negative strides, read-only
                clip = np.array(clip, order="C")
            if self.normalise_on_device:  # the (C, T, H, W) view in one tensor call
                return torch.from_numpy(clip.transpose(3, 0, 1, 2))
            clip = torch.from_numpy(clip).permute(0, 3, 1, 2)
        if not self.normalise_on_device:
            return self.normalize(clip)
        if clip.dtype != torch.uint8:
            raise TypeError(f"normalise_on_device expects uint8 clips from the transforms, got {clip.dtype}")
        video = clip.permute(1, 0, 2, 3)
        if is_channels_last_clip(video):
            return video
        return clip.contiguous(memory_format=torch.channels_last).permute(1, 0, 2, 3)

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
        """How many samples were unreadable and substituted so far, over all epochs (summed over
        DataLoader workers; a sample whose substitutes were unreadable too counts once)."""
        return self.tracker.count

    def __len__(self) -> int:
        return len(self.split.rows) * self._views
