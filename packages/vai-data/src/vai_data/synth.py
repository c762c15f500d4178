"""A synthetic temporal dataset whose classes need motion to tell apart (the vai demo's data).

Every video shows one large bright shape on a dark cluttered background. The class is how the shape
changes over time (moves left/right/up/down, rotates clockwise/anticlockwise, grows/shrinks); colours,
shapes, sizes, start positions, angles and speeds are random, so no single frame reveals the class.
Generation is deterministic for a seed: video ``i`` depends only on ``(seed, i)``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
from dataclasses import asdict, dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from .arguments import nonnegative_int
from .pathio import check_folder_target
from .split_file import SplitRow, write_split_file

logger = logging.getLogger(__name__)

SYNTH_CLASSES: list[str] = [
    "moving_left",
    "moving_right",
    "moving_up",
    "moving_down",
    "rotating_clockwise",
    "rotating_anticlockwise",
    "growing",
    "shrinking",
]
# a horizontal flip swaps these classes: train with flip_label_map=SYNTH_FLIP_LABEL_MAP (or no flip)
SYNTH_FLIP_LABEL_MAP: dict[int, int] = {0: 1, 1: 0, 4: 5, 5: 4}
MARKER = ".vai_synth_complete.json"
_FORMATS = ("video", "frames", "both")
_SHAPES = ("triangle", "bar", "ell", "arrow")


@dataclass
class SyntheticDataset:
    """Where a generated synthetic dataset lives and what it contains."""

    root: str
    num_videos: int
    num_frames: int
    size: tuple[int, int]
    seed: int
    fmt: str
    classes: list[str] = field(default_factory=lambda: list(SYNTH_CLASSES))
    splits: dict[str, str] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["size"] = list(self.size)
        d["num_classes"] = self.num_classes
        return d


def _shape_polygon(kind: str) -> np.ndarray:
    """Unit-size polygon (radius ~1) of an asymmetric shape so rotation direction is visible."""
    if kind == "triangle":
        pts = [(1.0, 0.0), (-0.7, 0.75), (-0.7, -0.45)]
    elif kind == "bar":
        pts = [(1.0, 0.35), (-1.0, 0.35), (-1.0, -0.35), (0.6, -0.35), (1.0, -0.1)]
    elif kind == "ell":
        pts = [(-0.9, -0.9), (0.9, -0.9), (0.9, -0.35), (-0.35, -0.35), (-0.35, 0.9), (-0.9, 0.9)]
    else:  # arrow
        pts = [(1.0, 0.0), (0.1, 0.8), (0.1, 0.3), (-1.0, 0.3), (-1.0, -0.3), (0.1, -0.3), (0.1, -0.8)]
    return np.asarray(pts, dtype=np.float64)


def _bright_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    c = rng.integers(60, 256, size=3)
    c[rng.integers(0, 3)] = rng.integers(220, 256)
    return int(c[0]), int(c[1]), int(c[2])


def _background(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """Dark background with a few static low-contrast clutter blobs."""
    base = tuple(int(v) for v in rng.integers(0, 60, size=3))
    img = Image.new("RGB", (w, h), base)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(2, 6))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.04, 0.1) * min(h, w)
        col = tuple(int(v) for v in np.clip(np.asarray(base) + rng.integers(20, 90, size=3), 0, 255))
        if rng.random() < 0.5:
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=col)
        else:
            draw.rectangle([cx - r, cy - r * 0.6, cx + r, cy + r * 0.6], fill=col)
    return img


def render_video(label: int, num_frames: int, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Render one video of class ``label`` as uint8 ``(T, H, W, 3)``."""
    h, w = size
    m = min(h, w)
    bg = _background(rng, h, w)
    poly = _shape_polygon(_SHAPES[int(rng.integers(0, len(_SHAPES)))])
    colour = _bright_colour(rng)
    angle0 = rng.uniform(0, 2 * math.pi)
    name = SYNTH_CLASSES[label]
    t = np.linspace(0.0, 1.0, num_frames)
    radius = np.full(num_frames, rng.uniform(0.14, 0.3) * m)
    angle = np.full(num_frames, angle0)
    cx = np.full(num_frames, rng.uniform(0.2, 0.8) * w)
    cy = np.full(num_frames, rng.uniform(0.2, 0.8) * h)
    wrap_x = wrap_y = False
    if name.startswith("moving"):
        # the object wraps around the frame edge, so its position in any single frame is uniform for
        # every direction: only the displacement between frames tells left from right
        horizontal = name in ("moving_left", "moving_right")
        axis_len = w if horizontal else h
        sign = -1.0 if name in ("moving_left", "moving_up") else 1.0
        path = (rng.uniform(0, axis_len) + sign * rng.uniform(0.6, 0.9) * axis_len * t) % axis_len
        if horizontal:
            cx, wrap_x = path, True
        else:
            cy, wrap_y = path, True
    elif name.startswith("rotating"):
        total = rng.uniform(0.8, 1.2) * math.pi
        sign = 1 if name == "rotating_clockwise" else -1  # image y points down: +angle turns clockwise
        angle = angle0 + sign * total * t
    else:
        small, big = rng.uniform(0.1, 0.15) * m, rng.uniform(0.28, 0.34) * m
        radius = small + (big - small) * t
        if name == "shrinking":
            radius = radius[::-1]
    out = np.empty((num_frames, h, w, 3), dtype=np.uint8)
    for i in range(num_frames):
        img = bg.copy()
        draw = ImageDraw.Draw(img)
        c, s = math.cos(angle[i]), math.sin(angle[i])
        rot = poly @ np.array([[c, s], [-s, c]]) * radius[i]
        for dx in (-w, 0, w) if wrap_x else (0,):
            for dy in (-h, 0, h) if wrap_y else (0,):
                draw.polygon([(float(x + cx[i] + dx), float(y + cy[i] + dy)) for x, y in rot], fill=colour)
        out[i] = np.asarray(img)
    return out


def write_mp4(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: int = 12,
    container_format: str = "mp4",
    faststart: bool = False,
) -> None:
    """Encode uint8 ``(T, H, W, 3)`` frames as H.264 (yuv420p) with PyAV; H and W must be even."""
    import av

    path = os.fspath(path)  # (a pathlib.Path)
    tmp = path + ".part"
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(tmp, mode="w", format=container_format, options=options) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        # x264's macroblock tree made the bytes (and decoded pixels) differ from run to run: without it the
        # same frames always give the same file, so the synthetic dataset and the demo are reproducible
        stream.options = {
            "crf": "18",
            "preset": "veryfast",
            "threads": "1",
            "g": "8",
            "x264-params": "no-mbtree=1",
        }
        for arr in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    os.replace(tmp, path)


def _write_frames(folder: str, frames: np.ndarray, quality: int = 90) -> None:
    os.makedirs(folder, exist_ok=True)
    for i, arr in enumerate(frames):
        Image.fromarray(arr).save(os.path.join(folder, f"{i:05d}.jpg"), quality=quality)


def _stored_params(out_dir: str) -> dict | None:
    """The parameters of the complete dataset in ``out_dir`` (None: none, or half-written)."""
    try:
        with open(os.path.join(out_dir, MARKER)) as f:
            params = json.load(f).get("params")
    except (OSError, ValueError, AttributeError):
        return None
    return params if isinstance(params, dict) else None


@contextlib.contextmanager
def _generation_lock(out_dir: str):
    """Hold an exclusive lock on ``out_dir/.synth.lock`` (POSIX ``flock``): processes that generate the same
    dataset at once (every rank of a torchrun job on first use) take turns, and the later ones find it
    complete instead of deleting files the first is writing. Without ``fcntl`` (Windows) nothing is locked."""
    os.makedirs(out_dir, exist_ok=True)
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(os.path.join(out_dir, ".synth.lock"), "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX)
        except OSError as e:  # a file system without flock (e.g. Lustre mounted without -o flock)
            logger.warning("cannot lock %s (%s): generating without a lock", f.name, e)
            yield
            return
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def make_synthetic_dataset(
    out_dir: str | os.PathLike,
    num_videos: int = 600,
    num_frames: int = 16,
    size: tuple[int, int] = (64, 64),
    seed: int = 0,
    fmt: str = "video",
    val_fraction: float = 0.2,
    overwrite: bool = False,
    progress: bool = False,
) -> SyntheticDataset:
    """Generate (or reuse, when a complete one with the same parameters exists) the synthetic dataset.

    Layout: ``videos/<id>.mp4``, ``frames/<id>/{:05d}.jpg`` (0-based), ``splits/{train,val}.csv`` (video
    format), ``splits/{train,val}_frames.csv`` (frames format), ``classes.json``; paths in the CSVs are
    relative to ``out_dir``. A marker written last makes a half-written dataset get regenerated.
    Bad arguments (odd or small size, fewer than 2 videos or frames, ``val_fraction`` outside (0, 1), a
    negative seed, an ``out_dir`` that is a file or inside one) raise one line before anything is written.
    """
    out_dir = os.fspath(out_dir)
    if fmt not in _FORMATS:
        raise ValueError(f"unknown synthetic format {fmt!r}; choose one of {list(_FORMATS)}")
    h, w = int(size[0]), int(size[1])
    if h < 16 or w < 16 or h % 2 or w % 2:
        raise ValueError(
            f"synthetic size {h}x{w} must be even and at least 16x16 (H.264 yuv420p needs even sizes)"
        )
    if num_frames < 2:
        raise ValueError(f"num_frames={num_frames}: motion needs at least 2 frames")
    if num_videos < 2:
        raise ValueError(f"num_videos={num_videos} is too small; use at least 2")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction={val_fraction} must be in (0, 1)")
    seed = nonnegative_int("seed", seed, " (numpy's generators take seeds >= 0)")
    check_folder_target(out_dir, "out_dir")  # (a file there, or as a parent: one line, before writing)
    params = {
        "num_videos": num_videos,
        "num_frames": num_frames,
        "size": [h, w],
        "seed": seed,
        "fmt": fmt,
        "val_fraction": val_fraction,
        "version": 1,
    }
    splits_dir = os.path.join(out_dir, "splits")
    splits: dict[str, str] = {}
    if fmt in ("video", "both"):
        splits.update(train=os.path.join(splits_dir, "train.csv"), val=os.path.join(splits_dir, "val.csv"))
    if fmt in ("frames", "both"):
        splits.update(
            train_frames=os.path.join(splits_dir, "train_frames.csv"),
            val_frames=os.path.join(splits_dir, "val_frames.csv"),
        )
    info = SyntheticDataset(out_dir, num_videos, num_frames, (h, w), seed, fmt, splits=splits)
    with _generation_lock(out_dir):
        stored = None if overwrite else _stored_params(out_dir)
        if stored == params:
            logger.info("synthetic dataset already complete in %s", out_dir)
            return info
        if stored is not None:
            changed = ", ".join(
                f"{k} {stored.get(k)!r} -> {v!r}" for k, v in params.items() if stored.get(k) != v
            )
            logger.warning(
                "%s holds a synthetic dataset made with other parameters (%s): replacing it; give another "
                "directory to keep both",
                out_dir,
                changed,
            )
        _generate(out_dir, params, info, progress)
    return info


def _generate(out_dir: str, params: dict, info: SyntheticDataset, progress: bool) -> None:
    """Write the dataset ``info`` describes into ``out_dir`` (under the caller's generation lock)."""
    num_videos, num_frames, seed, fmt = info.num_videos, info.num_frames, info.seed, info.fmt
    h, w = info.size
    val_fraction, splits = params["val_fraction"], info.splits
    for sub in ("videos", "frames", "splits"):
        shutil.rmtree(os.path.join(out_dir, sub), ignore_errors=True)
    for stale in (MARKER, "classes.json"):
        if os.path.exists(os.path.join(out_dir, stale)):
            os.unlink(os.path.join(out_dir, stale))
    os.makedirs(out_dir, exist_ok=True)

    rng = np.random.default_rng(seed)
    n_cls = len(SYNTH_CLASSES)
    labels = np.arange(num_videos) % n_cls
    rng.shuffle(labels)
    # stratified split: order videos by their rank within their class, the first n_val go to val
    rank = np.zeros(num_videos, dtype=np.int64)
    for c in range(n_cls):
        idx = np.flatnonzero(labels == c)
        rank[idx] = np.arange(len(idx))
    n_val = min(max(1, int(round(num_videos * val_fraction))), num_videos - 1)
    order = np.lexsort((np.arange(num_videos), rank))
    is_val = np.zeros(num_videos, dtype=bool)
    is_val[order[:n_val]] = True
    if fmt in ("video", "both"):
        os.makedirs(os.path.join(out_dir, "videos"), exist_ok=True)
    rows_video: dict[bool, list[SplitRow]] = {False: [], True: []}
    rows_frames: dict[bool, list[SplitRow]] = {False: [], True: []}
    iterator = range(num_videos)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="synth", unit="video")
    for vid in iterator:
        label = int(labels[vid])
        frames = render_video(label, num_frames, (h, w), np.random.default_rng([seed, vid]))
        if fmt in ("video", "both"):
            rel = f"videos/{vid}.mp4"
            write_mp4(os.path.join(out_dir, rel), frames)
            rows_video[bool(is_val[vid])].append(SplitRow(rel, vid, label, 0, num_frames - 1, w, h))
        if fmt in ("frames", "both"):
            _write_frames(os.path.join(out_dir, "frames", str(vid)), frames)
            rows_frames[bool(is_val[vid])].append(
                SplitRow(f"frames/{vid}/{{:05d}}.jpg", vid, label, 0, num_frames - 1)
            )
    if fmt in ("video", "both"):
        write_split_file(splits["train"], rows_video[False], "video")
        write_split_file(splits["val"], rows_video[True], "video")
    if fmt in ("frames", "both"):
        write_split_file(splits["train_frames"], rows_frames[False], "frames")
        write_split_file(splits["val_frames"], rows_frames[True], "frames")
    with open(os.path.join(out_dir, "classes.json"), "w") as f:
        json.dump(SYNTH_CLASSES, f, indent=1)
    tmp = os.path.join(out_dir, MARKER + ".tmp")
    with open(tmp, "w") as f:
        json.dump({"params": params, "dataset": info.to_dict()}, f, indent=1)
    os.replace(tmp, os.path.join(out_dir, MARKER))
    logger.info("wrote %d synthetic videos (%d classes) to %s", num_videos, n_cls, out_dir)
