"""Why vai-data's video decoders decode at the stored size and resize with torch: each backend's own scaler
against decoding at the stored size followed by ``vai_data.video_stream.resize_frames``, on the same frames.

For TSN 8-segment clips (one random frame in each of 8 equal segments) of generated H.264 videos (GOP 8) it
times, per backend, the two ways of getting the frames at a short side:
  * scaler - the decoder resizes: decord ``VideoReader(width=, height=).get_batch``; torchcodec
             ``VideoDecoder(transforms=[Resize])``; PyAV converting each wanted frame with swscale to the size
             (``VideoReformatter.reformat(frame, "rgb24", width, height)``);
  * torch  - the same decoder call at the stored size, then one ``resize_frames`` of the clip (torchvision's
             antialiased bilinear uint8 kernel): what ``vai_data.read_frames`` does.
PyAV decodes every frame up to the last wanted one in both pipelines (only the conversion differs). The
pipelines are interleaved round by round with an untimed call first; the table gives medians over rounds and
the median of the per-round ratios, plus how far the two results' pixels are apart. One thread. Usage:
    python benchmarks/bench_video_resize.py [--quick] [--rounds R] [--clock wall|cpu]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from vai_data.decode import torchcodec_available
from vai_data.synth import render_video, write_mp4
from vai_data.video_stream import output_size, resize_frames


def _pyav(path: str, idx: list[int], size: tuple[int, int] | None) -> torch.Tensor:
    """The wanted frames of ``path`` decoded in order, converted to RGB (by swscale at ``size``, or stored)."""
    import av
    from av.video.reformatter import VideoReformatter

    wanted, last, got, ref = set(idx), max(idx), {}, VideoReformatter()
    kw = {} if size is None else {"width": size[0], "height": size[1]}
    with av.open(path) as c:
        c.streams.video[0].codec_context.thread_count = 1
        for i, frame in enumerate(c.decode(video=0)):
            if i in wanted:
                got[i] = ref.reformat(frame, format="rgb24", **kw).to_ndarray()
            if i >= last:
                break
    return torch.from_numpy(np.stack([got[i] for i in idx]))


def pipelines(backend: str, path: str, size: tuple[int, int]):
    """(scaler(idx), torch(idx)) for one backend and video."""
    w, h = size
    if backend == "decord":
        import decord
        from decord.bridge import to_torch

        def scaler(idx):
            return to_torch(decord.VideoReader(path, width=w, height=h, num_threads=1).get_batch(idx))

        def stored(idx):
            return to_torch(decord.VideoReader(path, num_threads=1).get_batch(idx))

    elif backend == "torchcodec":
        from torchcodec.decoders import VideoDecoder
        from torchcodec.transforms import Resize

        def scaler(idx):
            dec = VideoDecoder(path, dimension_order="NHWC", transforms=[Resize((h, w))])
            return dec.get_frames_at(indices=idx).data

        def stored(idx):
            return VideoDecoder(path, dimension_order="NHWC").get_frames_at(indices=idx).data

    else:

        def scaler(idx):
            return _pyav(path, idx, size)

        def stored(idx):
            return _pyav(path, idx, None)

    return scaler, lambda idx: resize_frames(stored(idx), w, h)


def _backends() -> list[str]:
    names = ["decord", "pyav"]
    try:
        from torchcodec.transforms import Resize  # noqa: F401  (the scaler being compared)
    except Exception:
        return names
    return names + ["torchcodec"] if torchcodec_available() else names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer sizes, videos and rounds")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (medians are reported)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = ap.parse_args()
    torch.set_num_threads(1)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    rounds = args.rounds or (5 if args.quick else 12)
    # (height, width, frames, short side)
    cases = [(360, 640, 150, 256), (270, 480, 80, 128)]
    if not args.quick:
        cases += [(360, 640, 150, 128), (720, 1280, 60, 256)]
    n_videos = 2 if args.quick else 3
    backends = _backends()
    rng = np.random.default_rng(0)
    print(
        f"TSN 8-segment clips of H.264 (GOP 8) videos, {n_videos} per size; one thread; {args.clock} clock; "
        f"medians of {rounds} interleaved rounds; {sys.platform}, {os.cpu_count()} CPUs\n"
    )
    print(
        "| video | short side | backend | scaler ms/clip | stored + torch ms/clip | scaler / torch | max / mean pixel diff |"
    )
    print("|---|---:|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as root:
        for h, w, n, short in cases:
            paths = []
            for v in range(n_videos):
                paths.append(os.path.join(root, f"{h}_{v}.mp4"))
                if not os.path.exists(paths[-1]):
                    write_mp4(paths[-1], render_video(v, n, (h, w), np.random.default_rng([1, v])), fps=30)
            size = output_size(w, h, short)
            fns = {b: [pipelines(b, p, size) for p in paths] for b in backends}
            times = {(b, k): [] for b in backends for k in (0, 1)}
            ratios = {b: [] for b in backends}
            for r in range(rounds):
                seg = n / 8
                clips = [sorted(int(seg * i + rng.integers(0, int(seg))) for i in range(8)) for _ in paths]
                order = backends[r % len(backends) :] + backends[: r % len(backends)]
                for b in order:
                    spent = []
                    for k in (0, 1) if r % 2 else (1, 0):
                        fns[b][0][k](clips[0])  # untimed first call of the turn
                        t0 = clock()
                        for pair, idx in zip(fns[b], clips, strict=True):
                            pair[k](idx)
                        spent.append((k, (clock() - t0) / len(paths)))
                    for k, t in spent:
                        times[(b, k)].append(t)
                    ratios[b].append(dict(spent)[0] / max(dict(spent)[1], 1e-9))
            for b in backends:
                a, t = (x.int() for x in (fns[b][0][0](clips[0]), fns[b][0][1](clips[0])))
                diff = (a - t).abs()
                print(
                    f"| {w}x{h} | {short} | {b} | {statistics.median(times[(b, 0)]) * 1e3:.1f} | "
                    f"{statistics.median(times[(b, 1)]) * 1e3:.1f} | {statistics.median(ratios[b]):.2f}x | "
                    f"{int(diff.max())} / {float(diff.float().mean()):.3f} |"
                )


if __name__ == "__main__":
    main()
