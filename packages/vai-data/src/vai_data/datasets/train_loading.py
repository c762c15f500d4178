"""How ``VideoClipDataset`` loads train samples: a sample's plan (every random draw, made before its decode),
its decode, and its crop and sample dict - one sample at a time (``ds[i]``) or a batch in three steps
(``__getitems__``, what a DataLoader worker calls), which gives the same samples with the per-sample Python
run back to back instead of cold after each decode."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import torch

from ..errors import VideoDecodeError
from ..frame_sources import JpegFrameSource
from ..memory import keep_freed_memory_once
from ..transforms.clip import hflip_bgr, pair, scaled_crop_box, scaled_random_crop, to_tchw
from .flow import invert_u
from .resilience import SampleRNG, sample_seed

# resize_on_device leaves a crop's resize to the device when its source region is at most this many times
# the crop's side (2.25x its pixels); larger regions (JPEG frames far above the training size that DCT
# scaling could not reduce, video frames 1.5-2x the short side drawn) are resized in the worker: copying
# them into the batch and sending them would cost more than the resize (in DataLoader workers regions of
# ~1.4x the side gained 0.9-1.3x, smaller ones more)
DEVICE_RESIZE_MAX_SCALE = 1.5


class TrainClipLoading:
    """The train-sample methods of :class:`~vai_data.datasets.VideoClipDataset` (a mixin: it reads the
    dataset's options, ``_source``, ``sample_frame_list`` and ``_sample``)."""

    loading_methods: tuple = ()  # (__getitem__, _load, _load_train) of the class whose loading this reproduces

    def _load_train(self, index: int, attempt: int) -> dict:
        """Train sample ``index`` (one per row). Between two decodes every call runs cold (about a
        microsecond each), so this path is kept to few calls; :meth:`__getitems__` runs its three steps
        for a whole batch at a time instead."""
        plan = self._plan_train(index, attempt)
        return self._finish_train(plan, self._read_train(plan))

    def __getitems__(self, indices: Sequence[int]) -> list[dict]:
        """``[self[i] for i in indices]``, the same samples, as a DataLoader worker asks for a batch. A train
        batch is loaded step by step - every sample's draws, then every decode, then every crop and sample
        dict - so the per-sample Python runs warm, back to back, instead of cold after each decode
        (30-40 us less per 8-frame clip here). A sample whose data fails to read (``VideoDecodeError``) is
        loaded again through ``self[i]``, which substitutes or raises under ``bad_sample_policy``. A subclass
        that overrides how a sample loads (``__getitem__``, ``_load``, ``_load_train``) gets its own
        ``self[i]`` one by one."""
        cls = type(self)
        if not self.train or (cls.__getitem__, cls._load, cls._load_train) != self.loading_methods:
            return [self[i] for i in indices]
        for i in indices:
            self.check_index(i)
        keep_freed_memory_once()
        self._note_served(len(indices))
        plans: list[tuple | None] = []
        for i in indices:
            try:
                plans.append(self._plan_train(i, 0))
            except VideoDecodeError:
                plans.append(None)
        frames: list = []
        for plan in plans:
            try:
                frames.append(None if plan is None else self._read_train(plan))
            except VideoDecodeError:
                frames.append(None)
        return [
            self._substitute(i) if f is None else self._finish_train(plan, f)
            for i, plan, f in zip(indices, plans, frames, strict=True)
        ]

    def _substitute(self, index: int) -> dict:
        """Sample ``index`` again through the bad-sample policy (substitutes or raises), as ``self[index]``
        but not served twice."""
        return self.tracker.run(index, len(self), self._load, self._views, self.epoch)

    def _plan_train(self, index: int, attempt: int) -> tuple:
        """What train sample ``index`` decides before its decode: its row, source and frame indices and every
        draw of its random generator (the frame indices, the flip, then - unless ``train_spatial_transform``
        crops instead - the scale and the crop's row and column), as
        ``(row, source, idx, seed, flipped, bgr, short, position)``."""
        if (self.flip_on_device and self.train_transform is not None) or (
            self.resize_on_device
            and (self.train_transform is not None or self.train_spatial_transform is not None)
        ):  # set after construction: it would see unmirrored clips or uncropped regions
            raise ValueError(
                "train_transform/train_spatial_transform was set after the dataset was built with "
                "flip_on_device/resize_on_device on: pass it to the constructor (which then turns them off)"
            )
        row = self.split.rows[index]
        # vai's own draws come from a per-sample random.Random; torch's global RNG is seeded per sample
        # only where user transforms draw from it (three tensor calls saved per sample otherwise)
        seed = sample_seed(self.seed, self.epoch, index, attempt)
        rng = random.Random(seed)  # = self.sample_rng(index, attempt)
        source = self._source(row)
        idx = self.sample_frame_list(source.num_frames, 0, rng)
        u_flip = rng.random()  # drawn whether or not flips are on: the later draws stay the same
        flipped = bool(self.horizontal_flip) and u_flip < 0.5
        if self.train_spatial_transform is not None:  # it draws its own crop (from torch's seeded RNG)
            return row, source, idx, seed, flipped, False, None, None
        lo, hi = self.scale_jitter
        short = lo + int(rng.random() * (hi - lo + 1))
        # a clip to be flipped in the worker is decoded BGR where that is free, then mirrored and turned back
        # to RGB in one pass (hflip_bgr): the same pixels as flipping the RGB clip, about twice as fast
        bgr = (
            flipped and not self.flip_on_device and self.flow is None and getattr(source, "reads_bgr", False)
        )
        return row, source, idx, seed, flipped, bgr, short, (rng.random(), rng.random())

    def _read_train(self, plan: tuple):
        """The decoded frames of a train plan (:meth:`_plan_train`): at the scale drawn or above it (under
        twice it: ``exact=False``, the crop resizes its region) or, for ``train_spatial_transform``, at
        ``test_scale``."""
        _, source, idx, _, _, bgr, short, _ = plan
        if short is None:
            return source.read(idx, short_side=self.test_scale)
        # JPEG sources hand over the decoder's numpy array: a crop that is a view stays numpy until _sample
        # makes the one tensor (each tensor call costs microseconds between decodes)
        read = source.read_array if isinstance(source, JpegFrameSource) else source.read
        return read(idx, short, exact=False, bgr=True) if bgr else read(idx, short, exact=False)

    def _finish_train(self, plan: tuple, frames) -> dict:
        """The sample dict of a train plan from its decoded frames (crop, flip, user transforms)."""
        row, source, idx, seed, flipped, bgr, short, position = plan
        if self.train_transform is None and self.train_spatial_transform is None:
            clip = self._train_clip(frames, flipped, bgr, short, position)
        else:
            with SampleRNG(seed):
                clip = self._train_clip(frames, flipped, bgr, short, position)
        return self._sample(row, source, idx, clip, flipped, 0, 0)

    def _train_clip(
        self, frames, flipped: bool, bgr: bool, short: int | None, position: tuple[float, float] | None
    ) -> torch.Tensor | np.ndarray:
        """The augmented train clip of decoded ``frames`` (uint8 ``(T, C, H, W)``, or the uncopied
        ``(T, H, W, C)`` numpy crop of a JPEG source's frames that needs nothing more in the worker:
        :meth:`_sample` makes it a tensor); ``flipped``: mirrored here, or with ``flip_on_device`` on the
        device; ``short`` and ``position``: the plan's scale and crop position (``None`` with
        ``train_spatial_transform``)."""
        custom = self.train_transform is not None or self.train_spatial_transform is not None
        mirror_here = flipped and not self.flip_on_device
        if short is None:  # train_spatial_transform, e.g. TSN multi-scale crop, RandomResizedCrop
            clip = self.train_spatial_transform(to_tchw(frames))
        else:
            # decoders bring frames near `short` (under twice it); the remaining resize is fused with the crop,
            # or left to the device (resize_on_device) unless the region is too large to be worth copying
            # and sending
            h, w = frames.shape[1:3]
            c = self.crop_size
            if type(c) is int and min(h, w) == short and c <= short:
                # frames with the short side (stored at it, or decoded to it): the crop is a window of them
                # (scaled_crop_box's result, without its calls)
                box = (int(position[0] * (h - c + 1)), int(position[1] * (w - c + 1)), c, c)
            else:
                box = scaled_crop_box(h, w, short, c, position)
            defer = self.resize_on_device and min(h, w) <= DEVICE_RESIZE_MAX_SCALE * short
            if box is not None and (defer or box[2:] == pair(c)):
                y0, x0, sh, sw = box
                clip = frames[:, y0 : y0 + sh, x0 : x0 + sw]
                if not mirror_here and not custom and isinstance(clip, np.ndarray):
                    return clip
                clip = to_tchw(torch.as_tensor(clip))  # (numpy: the same memory)
            else:
                clip = scaled_random_crop(to_tchw(torch.as_tensor(frames)), short, self.crop_size, position)
        if mirror_here:
            clip = hflip_bgr(clip) if bgr else clip.flip(-1)
            if self.flow is not None:
                clip = invert_u(clip)
        if self.train_transform is not None:
            clip = self.train_transform(clip)
        return clip
