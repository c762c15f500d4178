"""Optical-flow clips as upstream PyVideoAI stores them: (u, v) frame pairs stacked into channels.

Three storage modes (``flow=`` of :class:`~vai_data.VideoClipDataset`):

* ``"RG"`` - one image per frame whose red and green channels are u and v (blue is ignored);
* ``"RR"`` - two greyscale images per frame, in the folders the ``{flow_direction}`` field of the frame
  pattern names (``("u", "v")`` or ``("x", "y")``); their first channel is u resp. v;
* ``"grey"`` - one greyscale image sequence with u and v interleaved (``u0, v0, u1, v1, ...``) as
  upstream's gulp loader reads it: frame ``i`` of the split's range is stored frames ``2i`` and ``2i+1``.

Each sampled index brings ``flow_neighbours`` consecutive frames; after normalisation the clip
``(2, T * n, H, W)`` becomes ``(2 * n, T, H, W)`` with channels ``u0, v0, u1, v1, ...`` as upstream.
A horizontal flip mirrors the pixels and negates the horizontal motion: ``u -> 255 - u`` on the uint8
flow (upstream's PIL backend inverts the u images of a flipped stack the same way).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import torch

from ..errors import VideoDecodeError
from ..frame_sources import FrameSource, index_list
from ..split_file import SplitRow

FLOW_MODES = ("RG", "RR", "grey")


def check_flow_mode(flow: str | None) -> str | None:
    """Canonical flow mode name (case-insensitive), or ``None``; a ValueError names the choices."""
    if flow is None:
        return None
    for mode in FLOW_MODES:
        if str(flow).lower() == mode.lower():
            return mode
    raise ValueError(f"flow={flow!r}; choose one of {list(FLOW_MODES)} or None for RGB clips")


class FlowSource(FrameSource):
    """A frame source returning uint8 ``(T, H, W, 2)`` (u, v) flow frames for one split row."""

    def __init__(
        self,
        mode: str,
        row: SplitRow,
        make: Callable[[SplitRow, str | None], object],
        folders: Sequence[str] = ("u", "v"),
    ):
        self.mode, self.start = mode, int(row.start or 0)
        if mode == "RR":
            self.parts = [make(row, folders[0]), make(row, folders[1])]
            self.num_frames = min(p.num_frames for p in self.parts)
        elif mode == "grey":
            if row.end is None:
                raise ValueError(f"{row.path}: 'grey' flow needs the split's start/end frame numbers")
            self.parts = [make(replace(row, start=2 * self.start, end=2 * int(row.end) + 1), None)]
            self.num_frames = max(self.parts[0].num_frames // 2, 1)
        else:
            self.parts = [make(row, None)]
            self.num_frames = self.parts[0].num_frames
        self.path = self.parts[0].path

    def read(
        self, indices: torch.Tensor | Sequence[int], short_side: int | None = None, exact: bool = True
    ) -> torch.Tensor:
        """(u, v) frames ``(T, H, W, 2)`` at 0-based ``indices`` (flow frame numbers: one per pair)."""
        if self.mode == "RG":
            return self.parts[0].read(indices, short_side, exact)[..., :2]
        if self.mode == "RR":
            u, v = (p.read(indices, short_side, exact)[..., 0] for p in self.parts)
            if u.shape != v.shape:
                raise VideoDecodeError(
                    self.path, f"u and v flow frames differ in size ({tuple(u.shape)} vs {tuple(v.shape)})"
                )
            return torch.stack([u, v], dim=-1)
        uv = [v for i in index_list(indices) for v in (2 * i, 2 * i + 1)]
        frames = self.parts[0].read(uv, short_side, exact)[..., 0]  # (2T, H, W): u0, v0, u1, v1, ...
        t2, h, w = frames.shape
        return frames.view(t2 // 2, 2, h, w).permute(0, 2, 3, 1)


def invert_u(clip: torch.Tensor) -> torch.Tensor:
    """Negate the horizontal motion of a flipped uint8 flow clip ``(T, 2, H, W)``: ``u -> 255 - u``."""
    out = clip.clone()
    out[:, 0] = 255 - out[:, 0]
    return out


def stack_neighbours(clip: torch.Tensor, num_segments: int, neighbours: int) -> torch.Tensor:
    """``(2, T * n, H, W)`` -> ``(2 * n, T, H, W)``, channels ``u0, v0, u1, v1, ...`` per segment."""
    c, tn, h, w = clip.shape
    if tn != num_segments * neighbours:
        raise ValueError(f"flow clip has {tn} frames; expected {num_segments} x {neighbours} neighbours")
    x = clip.view(c, num_segments, neighbours, h, w).permute(2, 0, 1, 3, 4)
    return x.reshape(neighbours * c, num_segments, h, w)


def check_flow_dataset(ds, mean, std, bgr: bool, greyscale: bool) -> None:
    """The options of flow dataset ``ds`` (a ``VideoClipDataset`` being built) that flow clips allow."""
    if ds.num_neighbours:
        raise ValueError("with flow=..., set flow_neighbours (frames per sample), not num_neighbours")
    if ds.flow_neighbours < 1:
        raise ValueError(f"flow_neighbours={ds.flow_neighbours} must be at least 1")
    if bgr or greyscale:
        raise ValueError("flow clips are (u, v): bgr and greyscale do not apply")
    if len(mean) not in (1, 2) or len(std) not in (1, 2):
        raise ValueError(
            f"flow clips have 2 channels (u, v): pass mean/std with 1 or 2 values (got {len(mean)} "
            f"and {len(std)}), e.g. mean=(0.5,), std=(0.226,)"
        )
    if ds.flow == "RR":
        if ds.storage != "frames":
            raise ValueError(f"flow='RR' reads u/v frame folders; storage is {ds.storage!r}")
        if ds.split.rows and "{flow_direction}" not in ds.split.rows[0].path:
            raise ValueError(
                f"{ds.split.path}: flow='RR' needs '{{flow_direction}}' in the frame pattern "
                f"(got {ds.split.rows[0].path!r}), e.g. 'vid/{{flow_direction}}/{{:05d}}.jpg'"
            )
    if ds.flow == "grey" and ds.storage == "video":
        raise ValueError("flow='grey' reads interleaved u/v frames (frames, gulp or packed storage)")
