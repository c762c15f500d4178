"""``ImageDataset``: an image split (3 columns) as ``T = 1`` clips in the DESIGN.md sample dict."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from ..arguments import positive_int
from ..errors import VideoDecodeError
from ..jpeg import decode_jpeg
from ..pathio import join, read_bytes
from ..split_file import SplitFile, read_split_file
from ..transforms.clip import RandomCrop, ShortSideScale, check_num_spatial_crops, spatial_crop
from ..transforms.normalize import Normalize
from .resilience import BadSampleTracker, SampleRNG, sample_seed
from .split_dataset import SplitDataset, checked_crop_scales


class ImageDataset(SplitDataset):
    """Images as one-frame clips: ``video`` is ``(C, 1, H, W)``; test mode yields one sample per crop."""

    def __init__(
        self,
        split_file: str | os.PathLike | SplitFile,
        data_root: str | os.PathLike | None,
        train: bool,
        crop_size: int = 224,
        scale_jitter: tuple[int, int] = (256, 320),
        test_scale: int = 256,
        num_spatial_crops: int = 1,
        horizontal_flip: bool = True,
        mean: Sequence[float] = (0.485, 0.456, 0.406),
        std: Sequence[float] = (0.229, 0.224, 0.225),
        normalise: bool = True,
        bgr: bool = False,
        greyscale: bool = False,
        bad_sample_policy: str | None = None,
        seed: int = 0,
        normalise_on_device: bool = False,
    ):
        self.split = split_file if isinstance(split_file, SplitFile) else read_split_file(split_file, "image")
        self.data_root = None if data_root is None else os.fspath(data_root)
        self.train, self.crop_size, self.test_scale = train, crop_size, test_scale
        if not train:
            self.test_scale = positive_int("test_scale", test_scale)
        self.scale_jitter = checked_crop_scales(train, crop_size, scale_jitter, self.test_scale)
        num_spatial_crops = check_num_spatial_crops(num_spatial_crops)  # (train mode too, where it is unused)
        self._views = 1 if train else num_spatial_crops
        self.horizontal_flip = horizontal_flip
        normalize = Normalize(mean, std, scale_255=normalise, bgr=bgr, greyscale=greyscale)
        self._set_normalisation(normalize, normalise_on_device)
        self.tracker = BadSampleTracker(bad_sample_policy or ("skip" if train else "raise"))
        self.seed, self.epoch = int(seed), 0

    def _load(self, index: int, attempt: int) -> dict:
        row_idx, spatial_idx = divmod(index, self._views)
        row = self.split.rows[row_idx]
        path = join(self.data_root, row.path)
        with SampleRNG(sample_seed(self.seed, self.epoch, index, attempt)):
            short = (
                int(torch.randint(self.scale_jitter[0], self.scale_jitter[1] + 1, (1,)))
                if self.train
                else self.test_scale
            )
            try:
                img = decode_jpeg(read_bytes(path), short)
            except Exception as e:
                raise VideoDecodeError(path, f"cannot read image ({type(e).__name__}: {e})") from None
            clip = ShortSideScale(short)(torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None])
            if self.train:
                clip = RandomCrop(self.crop_size)(clip)
                if self.horizontal_flip and torch.rand(1).item() < 0.5:
                    clip = clip.flip(-1)
            else:
                clip = spatial_crop(clip, self.crop_size, self._views, spatial_idx)
        if self.multilabel:
            label = torch.zeros(self.num_classes)
            label[list(row.label)] = 1.0
        else:
            label = int(row.label)
        return {
            "video": self.finish_clip(clip),
            "label": label,
            "video_id": row.video_id,
            "spatial_idx": spatial_idx,
            "temporal_idx": 0,
            "frame_indices": torch.zeros(1, dtype=torch.long),
        }
