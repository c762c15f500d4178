"""``VideoClipDataset``: split file + storage -> sampled, transformed clips in the DESIGN.md sample dict.

Train mode yields one randomly sampled/augmented clip per video. Test mode yields every
(video x temporal view x spatial crop) as its own sample with the same ``video_id`` so the engine can
average view predictions per video.
"""

from __future__ import annotations

import logging
import os
import random
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..arguments import is_int, nonnegative_int, positive_int
from ..decode import BACKENDS
from ..frame_sources import JpegFrameSource
from ..sampling import (
    add_neighbour_frames,
    dense_frames,
    long_tensor,
    sparse_test_indices,
    sparse_train_frames,
)
from ..split_file import SplitFile, SplitRow, read_split_file
from ..transforms.clip import (
    ShortSideScale,
    check_num_spatial_crops,
    pair,
    spatial_crop,
    to_tchw,
)
from ..transforms.normalize import FLIP_PENDING, Normalize
from ..transforms.pending_resize import RESIZE_PENDING
from .device_options import resolve_flip_on_device, resolve_resize_on_device
from .flow import FlowSource, check_flow_dataset, check_flow_mode, invert_u, stack_neighbours
from .label_override import LabelOverride, target_from_indices
from .other_videos import dataset_on_videos
from .resilience import BadSampleTracker, sample_seed
from .split_dataset import SplitDataset, checked_crop_scales
from .storage import (
    STORAGES,
    check_storage_fits,
    detect_storage,
    make_frame_source,
    prepare_video_reading,
)
from .train_loading import DEVICE_RESIZE_MAX_SCALE, TrainClipLoading

logger = logging.getLogger(__name__)

_DECODER_READ_ARRAY = JpegFrameSource.read_array  # (frames from it are dense channels-last uint8 arrays)
SAMPLINGS = ("sparse", "dense")
__all__ = ["DEVICE_RESIZE_MAX_SCALE", "SAMPLINGS", "VideoClipDataset"]


class VideoClipDataset(TrainClipLoading, SplitDataset):
    """Clips from a split file over videos, JPEG frame folders, gulp directories or packed stores.

    Train: decode near a random short side in ``scale_jitter``, random ``crop_size``
    crop, horizontal flip (labels remapped by ``flip_label_map``), then ``train_transform`` (uint8
    ``(T, C, H, W)`` -> same) - or ``train_spatial_transform`` on clips decoded at ``test_scale``
    instead of jitter + crop. Test: decode at ``test_scale``, spatial crop ``spatial_idx`` of
    ``num_spatial_crops``, temporal view ``temporal_idx`` of ``num_temporal_views``. Then normalise - or,
    with ``normalise_on_device=True``, return uint8 channels-last clips and leave normalisation to
    ``device_transform``, which the vai-train engine applies to each batch on its device. Such a train
    dataset also leaves its random horizontal flips to ``device_transform`` (``flip_on_device``, on by
    default there): the worker returns the clip unmirrored with ``sample["flip_pending"]`` (labels already
    remapped by ``flip_label_map``) and the flagged clips are mirrored on the device - a pass over every
    flipped clip's memory less in the workers, the usual bottleneck of video training. Likewise, from video
    files and JPEG frames alike (both decode at or near their stored size) such a train dataset leaves the
    antialiased resize of its crops to ``device_transform`` (``resize_on_device``, also on by default there; frames stored at the
    training short side need none): the worker returns the source region the crop covers, uncopied, with
    ``sample["resize_pending"] = (h, w, crop_h, crop_w)``, ``collate_fn`` pads a batch's regions into
    one tensor, and the device resizes them (the same pixels as the worker's resize on the CPU; see
    :mod:`vai_data.transforms.pending_resize`). Regions more than ``DEVICE_RESIZE_MAX_SCALE`` (1.5) times
    the crop's side are still resized in the worker (their rows then read ``(crop_h, crop_w) * 2``).
    ``flow='RG'|'RR'|'grey'`` reads optical flow instead (see :mod:`vai_data.datasets.flow`): each sampled
    frame brings ``flow_neighbours`` consecutive (u, v) frames, stacked into ``C = 2 * flow_neighbours``.
    """

    def __init__(
        self,
        split_file: str | os.PathLike | SplitFile,
        data_root: str | os.PathLike | None,
        train: bool,
        num_frames: int = 8,
        sampling: str = "sparse",
        sampling_rate: int = 2,
        storage: str = "auto",
        backend: str = "decord",
        crop_size: int = 224,
        scale_jitter: tuple[int, int] = (256, 320),
        test_scale: int = 256,
        num_spatial_crops: int = 1,
        num_temporal_views: int = 1,
        horizontal_flip: bool = True,
        flip_label_map: Mapping[int, int] | None = None,
        mean: Sequence[float] = (0.485, 0.456, 0.406),
        std: Sequence[float] = (0.229, 0.224, 0.225),
        normalise: bool = True,
        bgr: bool = False,
        greyscale: bool = False,
        bad_sample_policy: str | None = None,
        num_neighbours: int = 0,
        flow_direction: str | None = None,
        flow: str | None = None,
        flow_neighbours: int = 5,
        flow_folders: tuple[str, str] = ("u", "v"),
        video_id_to_label: Mapping[int, Any] | None = None,
        train_transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        train_spatial_transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        seed: int = 0,
        split_format: str | None = None,
        normalise_on_device: bool = False,
        flip_on_device: bool | None = None,
        resize_on_device: bool | None = None,
    ):
        self.split = (
            split_file if isinstance(split_file, SplitFile) else read_split_file(split_file, split_format)
        )
        if storage not in STORAGES:
            raise ValueError(f"storage={storage!r}; choose one of {list(STORAGES)}")
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling={sampling!r}; choose one of {list(SAMPLINGS)}")
        if self.split.fmt == "image":
            raise ValueError(f"{self.split.path} is an image split (3 columns); use vai_data.ImageDataset")
        if backend not in BACKENDS:
            raise ValueError(f"backend={backend!r}; choose one of {list(BACKENDS)} (it decodes video files)")
        num_frames, num_temporal_views, test_scale, num_spatial_crops = (
            positive_int("num_frames", num_frames),
            positive_int("num_temporal_views", num_temporal_views),
            positive_int("test_scale", test_scale),
            check_num_spatial_crops(num_spatial_crops),  # (checked in train mode too, where it is unused)
        )
        num_neighbours = nonnegative_int("num_neighbours", num_neighbours)
        # (checked with or without flow: a bad value is a mistake either way)
        flow_neighbours = positive_int("flow_neighbours", flow_neighbours, " (frames per flow sample)")
        if sampling == "dense":  # (sparse sampling does not use it)
            sampling_rate = positive_int("sampling_rate", sampling_rate)
        self.data_root = None if data_root is None else os.fspath(data_root)
        self.storage = detect_storage(self.split, self.data_root) if storage == "auto" else storage
        check_storage_fits(self.storage, self.split, self.data_root)  # else every sample fails alone
        # a torchcodec check now; which files decord/torchcodec seek in exactly, probed once per file
        self._probe_verdicts = prepare_video_reading(self.storage, backend, len(self.split.rows))
        self.train, self.num_frames, self.sampling, self.sampling_rate = (
            train,
            num_frames,
            sampling,
            sampling_rate,
        )
        self.backend, self.crop_size, self.test_scale = backend, crop_size, test_scale
        # (train_spatial_transform crops train clips itself: crop_size is then unused)
        self.scale_jitter = checked_crop_scales(
            train, crop_size, scale_jitter, test_scale, train_spatial_transform is not None
        )
        self.num_spatial_crops = 1 if train else num_spatial_crops
        self.num_temporal_views = 1 if train else num_temporal_views
        self.horizontal_flip, self.flip_label_map = horizontal_flip, dict(flip_label_map or {})
        if not train and num_spatial_crops == 10 and self.flip_label_map:
            warnings.warn(
                "10-crop test views 5-9 are mirrored copies (as upstream's), but this dataset has "
                "direction-bearing classes (flip_label_map): averaging a mirrored view's scores under the "
                "video's own label mixes e.g. 'left' and 'right'; use num_spatial_crops=5 or 3",
                UserWarning,
                stacklevel=2,
            )
        if train and self.flip_label_map and _holds_a_flip(train_transform, train_spatial_transform):
            warnings.warn(
                "train_transform/train_spatial_transform holds a horizontal flip, which mirrors clips without "
                "remapping their labels through flip_label_map ('left' stays 'left'); leave flipping to the "
                "dataset (horizontal_flip=True), which remaps them",
                UserWarning,
                stacklevel=2,
            )
        self.num_neighbours, self.flow_direction = num_neighbours, flow_direction
        self.flow, self.flow_neighbours, self.flow_folders = (
            check_flow_mode(flow),
            flow_neighbours,
            flow_folders,
        )
        if self.flow is not None:
            check_flow_dataset(self, mean, std, bgr, greyscale)
            self.num_neighbours = flow_neighbours - 1  # upstream counts the sampled frame itself
        self.video_id_to_label = video_id_to_label
        self.train_transform = train_transform
        self.train_spatial_transform = train_spatial_transform
        normalize = Normalize(mean, std, scale_255=normalise, bgr=bgr, greyscale=greyscale)
        self.flip_on_device = resolve_flip_on_device(self, flip_on_device, normalise_on_device)
        self.resize_on_device = resolve_resize_on_device(self, resize_on_device, normalise_on_device)
        self._set_normalisation(
            normalize,
            normalise_on_device,
            self.flow_neighbours if self.flow else 1,
            self.flip_on_device,
            self.resize_on_device,
        )
        self.seed, self.epoch = int(seed), 0
        policy = bad_sample_policy or ("skip" if train else "raise")
        self.tracker = BadSampleTracker(policy)
        self._views = self.num_temporal_views * self.num_spatial_crops
        # test mode: the spatial views of one (video, temporal view) are consecutive samples reading the
        # same frames at the same scale; keep the last decoded clip so they decode once, not once per crop
        self._test_clip_cache: tuple | None = None

    def with_videos(self, paths: Sequence[str | os.PathLike]) -> VideoClipDataset:
        """This test-mode dataset's pipeline (sampling, views, crops, normalisation, backend) on the video
        files ``paths`` instead of its split: video ids ``0..n-1``, placeholder labels (see
        :func:`~vai_data.datasets.other_videos.dataset_on_videos`); ``vai-train predict`` uses it."""
        return dataset_on_videos(self, paths)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_test_clip_cache"] = None  # never ship a cached clip to DataLoader workers
        return state

    # ------------------------------------------------------------------ loading
    @property
    def video_id_to_label(self) -> Mapping | None:
        """Labels replacing the split's, by video id (see :mod:`vai_data.datasets.label_override`);
        assigning a new mapping (e.g. new pseudo-labels each epoch) checks and prepares it."""
        return self._video_id_to_label

    @video_id_to_label.setter
    def video_id_to_label(self, mapping: Mapping | None) -> None:
        self._override = None if mapping is None else LabelOverride.for_split(mapping, self.split)
        self._video_id_to_label = mapping
        self._check_flip_label_map()
        self._flip_perm = self._override.flip_permutation(self.flip_label_map) if self._override else None

    def _check_flip_label_map(self) -> None:
        """Refuse a ``flip_label_map`` entry that is not a pair of class ids ``0 <= id < num_classes``: a
        wrong map gives every flipped clip the label of a class that does not exist. Where the class count
        is only counted from a single-label split's labels (which need not hold the last classes), a
        train dataset refuses a target beyond them that has no entry of its own (a mirror map pairs
        classes: ``{2: 4, 4: 2}`` may name classes this split lacks, ``{0: 7}`` on a 2-class split is a
        mistake); a test dataset never emits mirrored labels, so only the ids themselves are checked."""
        known = self.split.num_classes > 0 or (self._override is not None and self._override.vectors)
        limit = self.num_classes if known or self.train else None
        for key, value in self.flip_label_map.items():
            entry = f"flip_label_map entry {key!r}: {value!r}"
            if not (is_int(key) and is_int(value) and key >= 0 and value >= 0):
                raise ValueError(f"{entry} is not a pair of class ids (ints >= 0)")
            if limit is None:
                continue
            if known and (key >= limit or value >= limit):
                raise ValueError(
                    f"{entry} names a class outside the dataset's classes: ids must be 0 <= id < "
                    f"num_classes={limit}"
                )
            if not known and value >= limit and value not in self.flip_label_map:
                raise ValueError(
                    f"{entry} gives flipped clips class {value}, beyond the split's labels (num_classes={limit}) "
                    f"and without an entry of its own: map to class ids 0 <= id < {limit} (or pair {value} "
                    "with its mirror class)"
                )

    @property
    def num_classes(self) -> int:
        """The split's classes, or those of ``video_id_to_label`` where it sets them (label vectors)."""
        return self._override.num_classes if self._override is not None else super().num_classes

    def _row_label(self, row: SplitRow):
        if self._override is not None:
            return self._override.get(row.video_id, row.label)
        return row.label

    def _label_value(self, label, flipped: bool):
        if type(label) is torch.Tensor:  # a label vector from video_id_to_label: the target itself
            return label[self._flip_perm] if flipped else label
        # (the split's multilabel, read without SplitDataset.multilabel's two property calls per sample)
        if self.split.num_classes > 0 or (self._override is not None and self._override.vectors):
            labs = label if isinstance(label, tuple) else (label,)
            if flipped:
                labs = tuple(self.flip_label_map.get(v, v) for v in labs)
            return target_from_indices(labs, self.num_classes)
        lab = int(label[0]) if isinstance(label, tuple) else int(label)
        return self.flip_label_map.get(lab, lab) if flipped else lab

    def make_source(self, row: SplitRow, flow_direction: str | None = None):
        """The frame source for one split row under this dataset's storage (``flow_direction`` fills
        the pattern's ``{flow_direction}`` instead of the dataset's)."""
        return make_frame_source(
            self.storage,
            self.data_root,
            row,
            self.backend,
            flow_direction or self.flow_direction,
            self._probe_verdicts,
        )

    def sample_rng(self, index: int, attempt: int = 0) -> random.Random:
        """The random generator of sample ``index`` in this epoch: a pure function of (seed, epoch, index,
        attempt), whatever process or worker loads it. Under ``skip`` the k-th substitute for an unreadable
        sample is loaded as ``(substitute's index, attempt=k)``."""
        return random.Random(sample_seed(self.seed, self.epoch, index, attempt))

    def sample_indices(
        self, num_video_frames: int, temporal_idx: int, rng: random.Random | None = None
    ) -> torch.Tensor:
        """Frame indices (0-based in the row's range) for one sample; train draws (one uniform number per
        sparse segment, one for a dense clip's start) come from ``rng`` (:meth:`sample_rng`; unseeded when
        ``None``)."""
        return long_tensor(self.sample_frame_list(num_video_frames, temporal_idx, rng))

    def sample_frame_list(
        self, num_video_frames: int, temporal_idx: int, rng: random.Random | None = None
    ) -> list[int]:
        """:meth:`sample_indices` as a list of ints (what the dataset itself uses: no tensor per sample)."""
        n_base = max(num_video_frames - self.num_neighbours, 1)
        if self.train:
            rng = rng or random.Random()
        if self.sampling == "sparse":
            if self.train:
                idx = sparse_train_frames(n_base, self.num_frames, rng.random)
            else:
                idx = sparse_test_indices(
                    n_base, self.num_frames, temporal_idx, self.num_temporal_views
                ).tolist()
        else:
            idx = dense_frames(
                n_base,
                self.num_frames,
                self.sampling_rate,
                self.train,
                self.num_temporal_views,
                temporal_idx,
                uniform=rng.random() if self.train else None,
            )
        if self.num_neighbours:
            idx = add_neighbour_frames(idx, self.num_neighbours, num_video_frames)
        return idx

    def _load(self, index: int, attempt: int) -> dict:
        if self.train:
            return self._load_train(index, attempt)
        row_idx, view = divmod(index, self._views)
        temporal_idx, spatial_idx = divmod(view, self.num_spatial_crops)
        row = self.split.rows[row_idx]
        source = self._source(row)
        idx = self.sample_frame_list(source.num_frames, temporal_idx)
        clip = self._test_clip(row_idx, temporal_idx, source, idx)
        clip = spatial_crop(clip, self.crop_size, self.num_spatial_crops, spatial_idx)
        if self.flow is not None and self.num_spatial_crops == 10 and spatial_idx >= 5:
            clip = invert_u(clip)  # flipped test views
        # labels stay unmapped for flipped test views: every view of a video must share its label
        return self._sample(row, source, idx, clip, False, temporal_idx, spatial_idx)

    def _source(self, row: SplitRow):
        """The frame source of a row: its frames, or with ``flow`` its (u, v) flow frames."""
        if self.flow is not None:
            return FlowSource(self.flow, row, self.make_source, self.flow_folders)
        return self.make_source(row)

    def _sample(
        self, row: SplitRow, source, idx: list[int], clip, flipped: bool, temporal_idx: int, spatial_idx: int
    ) -> dict:
        """The sample dict of a clip before :meth:`finish_clip` (``flipped``: mirrored, or to be mirrored on
        the device)."""
        # the region's size before it becomes a tensor (a numpy shape is a tuple; a torch.Size costs a call)
        region_hw = clip.shape[1:3] if type(clip) is np.ndarray else None
        if (
            region_hw is not None
            and self.normalise_on_device
            and getattr(type(source), "read_array", None) is _DECODER_READ_ARRAY
        ):
            # a window of vai's own JPEG decoder output (C-contiguous, writeable, uint8 (T, H, W, C)):
            # finish_clip would return its (C, T, H, W) view as it is (tested), so its checks are spared;
            # other sources' numpy frames (any layout) go through finish_clip
            video = torch.from_numpy(clip.transpose(3, 0, 1, 2))
        else:
            video = self.finish_clip(clip)
        if self.flow is not None:  # (uint8 on-device clips are (u, v): made dense for the regrouping)
            video = stack_neighbours(video.contiguous(), self.num_frames, self.flow_neighbours)
        sample = {
            "video": video,
            "label": self._label_value(self._row_label(row), flipped and bool(self.flip_label_map)),
            "video_id": row.video_id,
            "spatial_idx": spatial_idx,
            "temporal_idx": temporal_idx,
            "frame_indices": long_tensor(source.frame_list(idx)),
        }
        if self.flip_on_device:
            sample[FLIP_PENDING] = flipped
        if self.resize_on_device:
            sample[RESIZE_PENDING] = (*(region_hw or video.shape[-2:]), *pair(self.crop_size))
        return sample

    def _test_clip(self, row_idx: int, temporal_idx: int, source, idx: list[int]) -> torch.Tensor:
        """The test clip at ``test_scale`` (uint8 ``(T, C, H, W)``), decoded once for all spatial crops."""
        key = (row_idx, temporal_idx, self.test_scale, tuple(idx))
        if self._test_clip_cache is not None and self._test_clip_cache[0] == key:
            return self._test_clip_cache[1]
        clip = ShortSideScale(self.test_scale)(to_tchw(source.read(idx, short_side=self.test_scale)))
        if self.num_spatial_crops > 1:
            self._test_clip_cache = (key, clip)
        return clip


# how VideoClipDataset loads one sample; __getitems__ loads batches in steps only where a subclass keeps it
VideoClipDataset.loading_methods = (
    VideoClipDataset.__getitem__,
    VideoClipDataset._load,
    VideoClipDataset._load_train,
)


def _holds_a_flip(*transforms) -> bool:
    """Whether any of ``transforms`` is, or composes (``.transforms``), a horizontal-flip transform (vai's or
    torchvision's ``RandomHorizontalFlip``)."""
    todo = [t for t in transforms if t is not None]
    while todo:
        t = todo.pop()
        if "HorizontalFlip" in type(t).__name__:
            return True
        inner = getattr(t, "transforms", None)
        if isinstance(inner, (list, tuple)):
            todo.extend(inner)
    return False
