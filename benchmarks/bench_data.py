"""vai-data loading benchmark: clips/s per worker for each storage and backend, as a markdown table.

For TSN 8-segment and dense 32x2 training clips it times, on the same videos and the same frame indices
(the ones the dataset samples for that item):
  * vai      - ``VideoClipDataset.__getitems__`` over batches of 8, as a DataLoader worker calls it (every
               sample's draws, then every decode, then every crop), with ``normalise_on_device=True`` (as
               the demo config; the engine normalises on the device, mirrors the clips drawn for a flip
               there, ``flip_on_device``, and resizes the crops there, ``resize_on_device``): per-sample
               draws, decode (videos at the stored size while its short side is under twice the one drawn,
               otherwise resized with torch after decoding; JPEG frames with DCT scaling), the random crop
               (a view of the decoded frames: of the crop when they have the short side, else of the source
               region the crop covers, left to the device to resize unless it is over 1.5x the crop's side,
               when the worker resizes it); a uint8 channels-last clip, resized, mirrored and normalised
               later on the training device;
  * vai one by one - ``ds[i]`` per clip instead (a DataLoader without batches, ``batch_size=None``);
  * vai + collate - vai plus the dataset's ``collate_fn`` over its batches (the copy of each clip into its
               batch, which every pipeline pays; here in this process, in a DataLoader worker into shared
               memory instead);
  * vai (float in worker) - the same with the resize, the flip (a clip about to be flipped decoded BGR
               where that is free, mirrored with ``hflip_bgr``) and the normalisation to float
               (C, T, H, W) in the worker;
  * bare     - the decoder calls vai makes, at the SAME sizes (decord ``VideoReader().get_batch`` and
               torchcodec ``VideoDecoder().get_frames_at`` at the stored size, resized with vai's
               ``resize_frames`` where vai resizes after decoding; torchcodec timed where it loads;
               ``vai_data.read_frames(backend="pyav", exact=False)``, vai's own PyAV decoder (it drops
               groups of frames without wanted ones and skips non-reference frames); file read +
               ``simplejpeg.decode_jpeg(min_width, min_height)`` per frame into one preallocated array;
               ``.vpk``/LMDB read + the same JPEG calls) returning uint8 frames - the limit for vai;
  * upstream - an upstream-PyVideoAI-style pipeline: decode at full resolution, resize every frame with
               PIL, crop, flip, normalise.
JPEG frames are stored twice: at the videos' resolution and at the training short side (as ``vai-data pack
--short-side`` and ``vai-data extract-frames --short-side`` write them), where no resize is left to do.
Every pipeline loads its items in batches of 8 and holds each batch until the next one loads, as a
DataLoader worker holds a batch's samples until its collate. The pipelines are interleaved round by round
(each round runs every pipeline over every video once) and the table reports medians over rounds; ratios
are medians of the per-round ratios. Makes its own videos in a temp dir. Usage:
    python benchmarks/bench_data.py [--quick] [--videos N] [--size HxW] [--rounds R] [--clock wall|cpu]
        [--storages video,frames,packed,lmdb]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image
from vai_data import (
    JPEG_BACKEND,
    PackedFile,
    SplitRow,
    VideoClipDataset,
    pack_split,
    read_frames,
    write_split_file,
)
from vai_data.frame_sources import resize_short_side_thwc
from vai_data.jpeg import dct_scale_dims, decode_jpeg, encode_jpeg
from vai_data.synth import render_video, write_mp4
from vai_data.video_stream import kept_size, resize_frames

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def make_data(root: str, n_videos: int, n_frames: int, size: tuple[int, int], short: int) -> dict[str, str]:
    """Videos (mp4), JPEG folders and packed stores (.vpk, LMDB) of the same synthetic content; the JPEG
    stores also at the training short side (``<kind>_s``), resized exactly as ``vai-data pack`` does."""
    h, w = size
    vrows, frows, srows = [], [], []
    for v in range(n_videos):
        frames = render_video(v % 8, n_frames, (h, w), np.random.default_rng([0, v]))
        write_mp4(os.path.join(root, f"v{v}.mp4"), frames, fps=30)
        small = resize_short_side_thwc(torch.from_numpy(frames), short).numpy()
        for folder, clip in (("frames", frames), ("frames_s", small)):
            os.makedirs(os.path.join(root, folder, str(v)), exist_ok=True)
            for i, fr in enumerate(clip):
                with open(os.path.join(root, folder, str(v), f"{i:05d}.jpg"), "wb") as f:
                    f.write(encode_jpeg(np.ascontiguousarray(fr), 90))
        vrows.append(SplitRow(f"v{v}.mp4", v, v % 8, 0, n_frames - 1, w, h))
        frows.append(SplitRow(f"frames/{v}/{{:05d}}.jpg", v, v % 8, 0, n_frames - 1))
        srows.append(SplitRow(f"frames_s/{v}/{{:05d}}.jpg", v, v % 8, 0, n_frames - 1))
    splits = {"video": os.path.join(root, "video.csv"), "frames": os.path.join(root, "frames.csv")}
    splits["frames_s"] = os.path.join(root, "frames_s.csv")
    write_split_file(splits["video"], vrows, "video")
    write_split_file(splits["frames"], frows, "frames")
    write_split_file(splits["frames_s"], srows, "frames")
    for suffix, short_side in (("", None), ("_s", short)):
        splits["packed" + suffix] = pack_split(
            splits["frames"], root, os.path.join(root, "packed" + suffix), short_side=short_side
        )
        try:
            splits["lmdb" + suffix] = pack_split(
                splits["frames"],
                root,
                os.path.join(root, "lmdbstore" + suffix),
                "lmdb",
                short_side=short_side,
            )
        except ImportError:
            pass
    return splits


def _upstream_post(frames: list[Image.Image], short: int, crop: int, g: torch.Generator) -> torch.Tensor:
    """Upstream-style: PIL resize of every full-resolution frame, then crop/flip/normalise."""
    out = []
    for im in frames:
        w, h = im.size
        nw, nh = (short, int(h * short / w)) if w < h else (int(w * short / h), short)
        out.append(np.asarray(im.resize((nw, nh), Image.BILINEAR)))
    x = torch.from_numpy(np.stack(out)).permute(3, 0, 1, 2).float() / 255.0
    top = int(torch.randint(x.shape[2] - crop + 1, (1,), generator=g))
    left = int(torch.randint(x.shape[3] - crop + 1, (1,), generator=g))
    x = x[:, :, top : top + crop, left : left + crop]
    if torch.rand(1, generator=g) < 0.5:
        x = x.flip(-1)
    return (x - torch.tensor(MEAN).view(3, 1, 1, 1)) / torch.tensor(STD).view(3, 1, 1, 1)


def _jpeg_clip_call(short: int):
    """The bare JPEG decoder calls vai makes for a clip: simplejpeg with the same DCT-domain
    min_width/min_height (a 1/2, 1/4 or 1/8 reduction, see vai_data.jpeg.dct_scale_dims), each frame
    decoded straight into one preallocated (T, H, W, 3) array; Pillow's draft mode + np.stack without
    simplejpeg."""
    if JPEG_BACKEND != "simplejpeg":
        return lambda blobs: np.stack([decode_jpeg(b, short) for b in blobs])
    import simplejpeg

    def call(blobs: list[bytes]) -> np.ndarray:
        # the calls vai's clip decoder makes: every frame's header, the reduction from the first frame's
        # size, and keyword arguments only when there is a reduction (vai_data.frame_sources)
        header, decode = simplejpeg.decode_jpeg_header, simplejpeg.decode_jpeg
        h, w, _, _ = header(blobs[0])
        dims = dct_scale_dims(w, h, short)
        out = np.empty((len(blobs), h, w, 3) if dims is None else (len(blobs), dims[1], dims[0], 3), np.uint8)
        kw = None if dims is None else {"min_width": dims[0], "min_height": dims[1]}
        for i, b in enumerate(blobs):
            if i:
                header(b)
            if kw is None:
                decode(b, colorspace="RGB", buffer=out[i])
            else:
                decode(b, colorspace="RGB", buffer=out[i], **kw)
        return out

    return call


def _as_vai_sizes(frames: torch.Tensor, short: int) -> torch.Tensor:
    """Decoded ``frames`` at the size vai's train datasets ask the decoders for (``exact=False``: the stored
    size while its short side is under twice ``short``), resized as vai resizes."""
    h, w = frames.shape[1:3]
    out_w, out_h = kept_size(w, h, short, exact=False)
    return frames if (out_w, out_h) == (w, h) else resize_frames(frames, out_w, out_h)


def bare_and_upstream(kind: str, backend: str, root: str, data_root: str, short: int):
    """(bare(row, idx), upstream(row, idx, crop, g) or None) for one storage/backend."""
    jpeg_clip = _jpeg_clip_call(short)
    kind = kind.removesuffix("_s")  # the same calls on the stores at the training short side
    if kind == "video" and backend == "decord":
        import decord
        from decord.bridge import to_torch

        def bare(row, idx):  # the call vai makes: at the stored size, then the resize vai makes (if any)
            vr = decord.VideoReader(os.path.join(root, row.path), num_threads=1)
            return _as_vai_sizes(to_torch(vr.get_batch(idx.tolist())), short)

        def upstream(row, idx, crop, g):
            vr = decord.VideoReader(os.path.join(root, row.path), num_threads=1)
            frames = vr.get_batch(idx.tolist()).asnumpy()
            return _upstream_post([Image.fromarray(a) for a in frames], short, crop, g)

    elif kind == "video" and backend == "torchcodec":
        from torchcodec.decoders import VideoDecoder

        def bare(row, idx):  # the call vai makes: at the stored size, then the resize vai makes (if any)
            dec = VideoDecoder(os.path.join(root, row.path), dimension_order="NHWC")
            return _as_vai_sizes(dec.get_frames_at(indices=idx.tolist()).data, short)

        def upstream(row, idx, crop, g):
            dec = VideoDecoder(os.path.join(root, row.path), dimension_order="NHWC")
            frames = dec.get_frames_at(indices=idx.tolist()).data.numpy()
            return _upstream_post([Image.fromarray(a) for a in frames], short, crop, g)

    elif kind == "video" and backend == "pyav":
        import av

        def bare(row, idx):  # vai's PyAV decoder itself (group dropping, NONREF skipping, one reformatter)
            return read_frames(os.path.join(root, row.path), idx, "pyav", short, exact=False)

        def upstream(row, idx, crop, g):  # decode every frame from the start at full resolution
            wanted, last, got = set(idx.tolist()), int(idx.max()), {}
            with av.open(os.path.join(root, row.path)) as c:
                c.streams.video[0].codec_context.thread_count = 1  # one thread, as vai and decord here
                for i, fr in enumerate(c.decode(video=0)):
                    if i in wanted:
                        got[i] = Image.fromarray(fr.to_ndarray(format="rgb24"))
                    if i >= last:
                        break
            return _upstream_post([got[i] for i in idx.tolist()], short, crop, g)

    elif kind == "frames":

        def _read(row, i):
            with open(os.path.join(root, row.path.format(i)), "rb") as f:
                return f.read()

        def bare(row, idx):
            return jpeg_clip([_read(row, i) for i in idx.tolist()])

        def upstream(row, idx, crop, g):
            ims = [Image.open(os.path.join(root, row.path.format(i))).convert("RGB") for i in idx.tolist()]
            return _upstream_post(ims, short, crop, g)

    elif kind == "packed":

        def bare(row, idx):
            return jpeg_clip(PackedFile(os.path.join(data_root, row.path)).read_jpeg_bytes(idx.tolist()))

        upstream = None
    elif kind == "lmdb":
        from vai_data.packed import open_lmdb

        env = open_lmdb(data_root)

        def bare(row, idx):
            with env.begin() as txn:
                blobs = [txn.get(f"{row.path}/{i:06d}".encode()) for i in idx.tolist()]
            return jpeg_clip(blobs)

        upstream = None
    else:
        raise ValueError(kind)
    return bare, upstream


def vai_indices(ds: VideoClipDataset, index: int) -> torch.Tensor:
    """The frame indices ``ds[index]`` reads (same seeding as the dataset, attempt 0)."""
    row = ds.split.rows[index]
    return ds.sample_indices(ds.make_source(row).num_frames, 0, ds.sample_rng(index))


def in_batches(load_batch, n_items: int, batch_size: int = 8):
    """fn(i) that queues item i and, every ``batch_size`` items (and at the last item), calls
    ``load_batch(queued items)`` and keeps what it returns until the next batch, as a DataLoader worker
    holds a batch's samples until its collate: every pipeline pays for holding a batch of clips."""
    pending: list[int] = []
    held: list = [None]

    def fn(i: int):
        if i == 0:  # a new pass over the items (or the warm-up's leftover): nothing queued from before
            pending.clear()
        pending.append(i)
        if len(pending) == batch_size or i == n_items - 1:
            held[0] = None  # the previous batch goes before this one loads
            held[0] = load_batch(list(pending))
            pending.clear()
        return None

    return fn


def per_item(fn):
    """A batch loader calling ``fn(i)`` for each item (a pipeline without a batch method)."""
    return lambda items: [fn(i) for i in items]


class _SameClipsOnPurpose(logging.Filter):
    """Every round reads the same clips on purpose (the bare decoder and upstream-style pipelines read the
    indices drawn once): the datasets' advice to call set_epoch is not for this run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "set_epoch" not in record.getMessage()


logging.getLogger("vai_data.datasets.split_dataset").addFilter(_SameClipsOnPurpose())


def build(kind, backend, split_path, data_root, root, sampling, T, stride, short, crop):
    """{pipeline name: fn(i)} for one storage/backend; fn(i) produces the clip of video i."""
    datasets = {
        name: VideoClipDataset(
            split_path,
            data_root,
            train=True,
            num_frames=T,
            sampling=sampling,
            sampling_rate=stride,
            backend=backend if kind == "video" else "decord",
            crop_size=crop,
            scale_jitter=(short, short),
            bad_sample_policy="raise",
            normalise_on_device=on_device,
        )
        for name, on_device in (("vai", True), ("vai_float", False))
    }
    ds, ds_float = datasets["vai"], datasets["vai_float"]
    rows = ds.split.rows
    idx = [vai_indices(ds, i) for i in range(len(rows))]
    bare, upstream = bare_and_upstream(kind, backend, root, data_root, short)
    g = torch.Generator().manual_seed(0)
    n = len(rows)
    fns = {
        "vai": in_batches(ds.__getitems__, n),
        "vai_one_by_one": in_batches(per_item(ds.__getitem__), n),
        "vai_collated": in_batches(lambda items: ds.collate_fn(ds.__getitems__(items)), n),
        "vai_float": in_batches(ds_float.__getitems__, n),
        "bare": in_batches(per_item(lambda i: bare(rows[i], idx[i])), n),
    }
    if upstream is not None:
        fns["upstream"] = in_batches(per_item(lambda i: upstream(rows[i], idx[i], crop, g)), n)
    return fns, len(rows)


def interleaved(
    pipelines: dict, n_items: int, rounds: int, clock=time.perf_counter
) -> dict[str, list[float]]:
    """clips/s per round for each pipeline; every round runs every pipeline over items 0..n-1 once, after
    one untimed call of the same pipeline (its steady state, as in a worker).
    ``clock`` is ``time.perf_counter`` (wall) or ``time.process_time`` (CPU seconds of this process)."""
    for fn, _ in pipelines.values():  # warm-up: imports, page cache, first-call allocations
        fn(0)
    rates: dict[str, list[float]] = {k: [] for k in pipelines}
    try:
        from tqdm import tqdm

        it = tqdm(range(rounds), desc="rounds", file=sys.stderr, leave=False)
    except ImportError:
        it = range(rounds)
    keys = list(pipelines)
    for r in it:
        order = keys[r % len(keys) :] + keys[: r % len(keys)]  # rotate so no pipeline is always first
        for k in order:
            fn, n = pipelines[k]
            # one untimed call first: the ~40 pipelines take turns, and each turn would otherwise start with
            # code and data the previous pipeline evicted, a cost a DataLoader worker running one pipeline
            # pays once, not every few clips (it weighs more on the pipelines with more Python per clip)
            fn(n - 1)
            t0 = clock()
            for i in range(n):
                fn(i)
            rates[k].append(n / max(clock() - t0, 1e-9))
    return rates


def _torchcodec_loads() -> bool:
    """torchcodec, where it loads with FFmpeg's shared libraries."""
    from vai_data.decode import torchcodec_available

    return torchcodec_available()


def _med(v) -> float:
    return statistics.median(v) if v else float("nan")


def _num(v: float) -> str:
    return "-" if v != v else f"{v:.1f}"


def _ratio(a: list[float] | None, b: list[float] | None) -> str:
    if not a or not b:
        return "-"
    return f"{statistics.median(x / y for x, y in zip(a, b, strict=True)):.2f}x"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few small videos, few rounds")
    ap.add_argument("--videos", type=int, default=None)
    ap.add_argument("--size", default=None, help="HxW of the generated videos")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (medians are reported)")
    ap.add_argument(
        "--storages",
        default="video,frames,packed,lmdb",
        help="comma-separated storages to time (video, frames, packed, lmdb); mp4 with decord is always "
        "timed, as the reference of the 'vai / mp4' column",
    )
    ap.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="wall",
        help="wall: clips per wall-clock second; cpu: clips per CPU second of this process (robust to "
        "other jobs on a shared machine; excludes I/O waits, so use it with data in the page cache)",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    n_videos = args.videos or (6 if args.quick else 16)
    h, w = (int(v) for v in (args.size or ("270x480" if args.quick else "360x640")).split("x"))
    n_frames, rounds = (80, 9) if args.quick else (150, 15)
    if args.rounds is not None:
        rounds = args.rounds
    short, crop = (128, 112) if args.quick else (256, 224)
    with tempfile.TemporaryDirectory(prefix="vai-bench-") as root:
        t = time.perf_counter()
        splits = make_data(root, n_videos, n_frames, (h, w), short)
        gen_s = time.perf_counter() - t
        roots = {"video": root, "frames": root, "frames_s": root}
        for suffix in ("", "_s"):
            roots["packed" + suffix] = os.path.join(root, "packed" + suffix)
            roots["lmdb" + suffix] = os.path.join(root, "lmdbstore" + suffix, "frames.lmdb")
        configs = [("video", "decord"), ("video", "pyav")] + (
            [("video", "torchcodec")] if _torchcodec_loads() else []
        )
        configs += [(k + s, JPEG_BACKEND) for s in ("", "_s") for k in ("frames", "packed", "lmdb")]
        wanted = set(args.storages.split(","))
        unknown = wanted - {"video", "frames", "packed", "lmdb"}
        if unknown:
            ap.error(f"--storages: unknown {sorted(unknown)}; choose from video, frames, packed, lmdb")
        configs = [
            c
            for c in configs
            if c[0] in splits and (c[0].removesuffix("_s") in wanted or c == ("video", "decord"))
        ]
        names = {
            "video": "mp4 ({})",
            "frames": "JPEG folder ({})",
            "packed": "packed .vpk ({})",
            "lmdb": "packed LMDB ({})",
        }
        names.update({k + "_s": v + f" at short side {short}" for k, v in list(names.items())})
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        lines = [
            f"Videos: {n_videos} x {n_frames} frames at {w}x{h} (H.264, GOP 8); training clips at short side {short}, "
            f"crop {crop}; 1 process, 1 torch thread; JPEG decoder: {JPEG_BACKEND}; {platform.machine()}, "
            f"{os.cpu_count()} CPUs (1-min load {load:.1f} at start); {args.clock} clock; medians of {rounds} "
            "interleaved rounds; "
            f"data generation {gen_s:.0f} s.",
            "",
            "| clips | storage (backend) | vai clips/s | bare decoder clips/s | vai / bare "
            "| upstream-style clips/s | vai / upstream | vai / mp4 (decord) "
            "| vai + collate clips/s | vai + collate / bare "
            "| vai, float in worker, clips/s | float in worker / bare | vai one by one / bare |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for sampling, label, T, stride in (("sparse", "TSN 8 seg", 8, 1), ("dense", "dense 32x2", 32, 2)):
            pipelines = {}
            for kind, backend in configs:
                fns, n = build(
                    kind, backend, splits[kind], roots[kind], root, sampling, T, stride, short, crop
                )
                for name, fn in fns.items():
                    pipelines[(kind, backend, name)] = (fn, n)
            clock = time.process_time if args.clock == "cpu" else time.perf_counter
            rates = interleaved(pipelines, n_videos, rounds, clock)
            mp4 = rates[("video", "decord", "vai")]
            for kind, backend in configs:
                vai = rates[(kind, backend, "vai")]
                vai_float = rates[(kind, backend, "vai_float")]
                vai_coll = rates[(kind, backend, "vai_collated")]
                vai_single = rates[(kind, backend, "vai_one_by_one")]
                bare = rates.get((kind, backend, "bare"))
                up = rates.get((kind, backend, "upstream"))
                lines.append(
                    f"| {label} | {names[kind].format(backend)} | {_med(vai):.1f} | {_num(_med(bare))} "
                    f"| {_ratio(vai, bare)} | {_num(_med(up))} | {_ratio(vai, up)} | {_ratio(vai, mp4)} "
                    f"| {_med(vai_coll):.1f} | {_ratio(vai_coll, bare)} "
                    f"| {_med(vai_float):.1f} | {_ratio(vai_float, bare)} | {_ratio(vai_single, bare)} |"
                )
        print("\n".join(lines))


if __name__ == "__main__":
    main()
