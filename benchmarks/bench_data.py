"""vai-data loading benchmark: clips/s per worker for each storage and backend, as a markdown table.

For TSN 8-segment and dense 32x2 training clips it times, on the same videos and frame indices:
  * vai      - ``VideoClipDataset.__getitem__`` (decode-time resize, crop, flip, normalise);
  * bare     - the decoder call alone at full resolution (the limit for "just decoding");
  * upstream - an upstream-PyVideoAI-style pipeline: decode at full resolution, resize every frame with
               PIL, crop, flip, normalise.
Ratios are from the same run. Makes its own videos in a temp dir. Usage:
    python benchmarks/bench_data.py [--quick] [--videos N] [--size HxW]
"""

from __future__ import annotations

import argparse
import os
import platform
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
    decode_jpeg,
    dense_indices,
    pack_split,
    sparse_indices,
    write_split_file,
)
from vai_data.synth import render_video, write_mp4

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def make_data(root: str, n_videos: int, n_frames: int, size: tuple[int, int]) -> dict[str, str]:
    """Videos (mp4), JPEG folders and packed stores (.vpk, LMDB) of the same synthetic content."""
    h, w = size
    vrows, frows = [], []
    for v in range(n_videos):
        frames = render_video(v % 8, n_frames, (h, w), np.random.default_rng([0, v]))
        write_mp4(os.path.join(root, f"v{v}.mp4"), frames, fps=30)
        os.makedirs(os.path.join(root, "frames", str(v)), exist_ok=True)
        for i, fr in enumerate(frames):
            Image.fromarray(fr).save(os.path.join(root, "frames", str(v), f"{i:05d}.jpg"), quality=90)
        vrows.append(SplitRow(f"v{v}.mp4", v, v % 8, 0, n_frames - 1, w, h))
        frows.append(SplitRow(f"frames/{v}/{{:05d}}.jpg", v, v % 8, 0, n_frames - 1))
    write_split_file(os.path.join(root, "video.csv"), vrows, "video")
    write_split_file(os.path.join(root, "frames.csv"), frows, "frames")
    packed = pack_split(os.path.join(root, "frames.csv"), root, os.path.join(root, "packed"))
    splits = {
        "video": os.path.join(root, "video.csv"),
        "frames": os.path.join(root, "frames.csv"),
        "packed": packed,
    }
    try:
        splits["lmdb"] = pack_split(
            os.path.join(root, "frames.csv"), root, os.path.join(root, "lmdbstore"), "lmdb"
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


def bare_and_upstream(kind: str, backend: str, root: str, rows: list[SplitRow]):
    """(bare(row, idx), upstream(row, idx, short, crop, g)) callables for one storage/backend."""
    if kind == "video" and backend == "decord":
        import decord

        def bare(row, idx):
            return (
                decord.VideoReader(os.path.join(root, row.path), num_threads=1)
                .get_batch(idx.tolist())
                .asnumpy()
            )

        def upstream(row, idx, short, crop, g):
            return _upstream_post([Image.fromarray(a) for a in bare(row, idx)], short, crop, g)

    elif kind == "video" and backend == "pyav":
        import av

        def bare(row, idx):
            wanted, last, got = set(idx.tolist()), int(idx.max()), {}
            with av.open(os.path.join(root, row.path)) as c:
                for i, fr in enumerate(c.decode(video=0)):
                    if i in wanted:
                        got[i] = fr.to_ndarray(format="rgb24")
                    if i >= last:
                        break
            return np.stack([got[i] for i in idx.tolist()])

        def upstream(row, idx, short, crop, g):
            return _upstream_post([Image.fromarray(a) for a in bare(row, idx)], short, crop, g)

    elif kind == "frames":

        def bare(row, idx):
            return np.stack(
                [decode_jpeg(open(os.path.join(root, row.path.format(i)), "rb").read()) for i in idx.tolist()]
            )

        def upstream(row, idx, short, crop, g):
            ims = [Image.open(os.path.join(root, row.path.format(i))).convert("RGB") for i in idx.tolist()]
            return _upstream_post(ims, short, crop, g)

    elif kind == "packed":

        def bare(row, idx):
            blobs = PackedFile(os.path.join(root, "packed", row.path)).read_jpeg_bytes(idx.tolist())
            return np.stack([decode_jpeg(b) for b in blobs])

        upstream = None
    else:
        return None, None
    return bare, upstream


def rate(fn, n_items: int, budget: float) -> float:
    """Calls per second of fn(i) over i = 0, 1, ... for about ``budget`` seconds (at least n_items calls)."""
    fn(0)  # warm-up (imports, page cache)
    t0, i = time.perf_counter(), 0
    while i < n_items or time.perf_counter() - t0 < budget:
        fn(i)
        i += 1
    return i / (time.perf_counter() - t0)


def measure(kind, backend, split_path, data_root, root, sampling, T, stride, short, crop, n_frames, budget):
    """(vai, bare, upstream) clips/s for one storage/backend and sampling; NaN where not applicable."""
    ds = VideoClipDataset(
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
    )
    n, rows = len(ds), ds.split.rows
    vai = rate(lambda i: ds[i % n], n, budget)
    bare, upstream = bare_and_upstream(kind, backend, root, rows)
    g = torch.Generator().manual_seed(0)

    def indices() -> torch.Tensor:
        if sampling == "sparse":
            return sparse_indices(n_frames, T, True, g)
        return dense_indices(n_frames, T, stride, True, generator=g)

    nan = float("nan")
    b = rate(lambda i: bare(rows[i % n], indices()), n, budget) if bare else nan
    u = rate(lambda i: upstream(rows[i % n], indices(), short, crop, g), n, budget) if upstream else nan
    return vai, b, u


def _num(v: float) -> str:
    return "-" if v != v else f"{v:.1f}"


def _ratio(a: float, b: float) -> str:
    return "-" if b != b else f"{a / b:.2f}x"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few small videos, short timing windows")
    ap.add_argument("--videos", type=int, default=None)
    ap.add_argument("--size", default=None, help="HxW of the generated videos")
    ap.add_argument("--budget", type=float, default=None, help="seconds per measurement")
    args = ap.parse_args()
    torch.set_num_threads(1)
    n_videos = args.videos or (6 if args.quick else 16)
    h, w = (int(v) for v in (args.size or ("270x480" if args.quick else "360x640")).split("x"))
    n_frames, budget = (80, 1.0) if args.quick else (150, 4.0)
    if args.budget is not None:
        budget = args.budget
    short, crop = (128, 112) if args.quick else (256, 224)
    with tempfile.TemporaryDirectory(prefix="vai-bench-") as root:
        t = time.perf_counter()
        splits = make_data(root, n_videos, n_frames, (h, w))
        gen_s = time.perf_counter() - t
        roots = {
            "video": root,
            "frames": root,
            "packed": os.path.join(root, "packed"),
            "lmdb": os.path.join(root, "lmdbstore", "frames.lmdb"),
        }
        configs = [("video", "decord"), ("video", "pyav"), ("frames", JPEG_BACKEND), ("packed", JPEG_BACKEND)]
        if "lmdb" in splits:
            configs.append(("lmdb", JPEG_BACKEND))
        names = {
            "video": "mp4 ({})",
            "frames": "JPEG folder ({})",
            "packed": "packed .vpk ({})",
            "lmdb": "packed LMDB ({})",
        }
        lines = [
            f"Videos: {n_videos} x {n_frames} frames at {w}x{h} (H.264, GOP 8); clips resized to short side "
            f"{short}, cropped {crop}; 1 process, 1 torch thread; JPEG decoder: {JPEG_BACKEND}; "
            f"{platform.machine()}, {os.cpu_count()} CPUs; data generation {gen_s:.0f} s.",
            "",
            "| clips | storage (backend) | vai clips/s | bare decode clips/s | vai / bare "
            "| upstream-style clips/s | vai / upstream | vai / mp4 (decord) |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for sampling, label, T, stride in (("sparse", "TSN 8 seg", 8, 1), ("dense", "dense 32x2", 32, 2)):
            mp4 = float("nan")
            for kind, backend in configs:
                vai, b, u = measure(
                    kind,
                    backend,
                    splits[kind],
                    roots[kind],
                    root,
                    sampling,
                    T,
                    stride,
                    short,
                    crop,
                    n_frames,
                    budget,
                )
                if (kind, backend) == ("video", "decord"):
                    mp4 = vai
                lines.append(
                    f"| {label} | {names[kind].format(backend)} | {vai:.1f} | {_num(b)} | {_ratio(vai, b)} "
                    f"| {_num(u)} | {_ratio(vai, u)} | {_ratio(vai, mp4)} |"
                )
        print("\n".join(lines))


if __name__ == "__main__":
    main()
